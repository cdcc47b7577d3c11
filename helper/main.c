/* sesame-etcd: run by pam_sesame and sesame-mint (never by hand) with
 * one socket as stdin and stdout. It reads the etcd settings, then
 * answers each request frame with the member's answer or a failure,
 * until its stdin closes. It holds the TLS connection, the password and
 * the auth token, so that the caller's process never does. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "etcd_http.h"
#include "etcd_wire.h"

#define SETTINGS_WAIT_MS 5000

static int send_failure(enum sesame_etcd_failure f, const char *msg)
{
	char head[16];
	int n = snprintf(head, sizeof(head), "%d\n", (int)f);

	return sesame_etcd_wire_send(STDOUT_FILENO, 'E', head, (size_t)n, msg, strlen(msg), -1);
}

static int send_reply(const struct sesame_etcd_reply *r)
{
	char head[SESAME_ETCD_URL_MAX + 64];
	int n = snprintf(head, sizeof(head), "%lld %lld %s\n", (long long)r->server_time,
			 (long long)r->local_time, r->endpoint);

	return sesame_etcd_wire_send(STDOUT_FILENO, 'R', head, (size_t)n, r->body, r->len, -1);
}

/* "C" frame: "STATE_DIR\nkey=value\n...". */
static int read_settings(struct sesame_etcd_wire *w, struct sesame_etcd_config *cfg,
			 char *state_dir, size_t n, struct sesame_err *err)
{
	char tag = 0, *payload = NULL, *nl;
	size_t len = 0;
	int r = -1;

	if (sesame_etcd_wire_recv(w, &tag, &payload, &len, 64 * 1024,
				  sesame_etcd_now_ms() + SETTINGS_WAIT_MS) != 0 || tag != 'C' ||
	    (nl = strchr(payload, '\n')) == NULL || (size_t)(nl - payload) >= n) {
		sesame_err_set(err, "store unavailable: the etcd helper got no settings");
		goto out;
	}
	*nl = '\0';
	snprintf(state_dir, n, "%s", payload);
	if (state_dir[0] != '/') {
		sesame_err_set(err, "store unavailable: the etcd helper got no state directory");
		goto out;
	}
	if (sesame_etcd_config_parse(cfg, nl + 1, err) != 0)
		goto out;
	r = 0;
out:
	free(payload);
	return r;
}

/* "Q" frame: "PATH\nBODY". Only the gateway calls the client makes. */
static int split_request(char *payload, const char **path, const char **body, size_t *len,
			 size_t plen)
{
	static const char *const allowed[] = {
		SESAME_ETCD_PATH_RANGE, SESAME_ETCD_PATH_PUT, SESAME_ETCD_PATH_DELETE,
		SESAME_ETCD_PATH_TXN, SESAME_ETCD_PATH_LEASE_GRANT, SESAME_ETCD_PATH_LEASE_REVOKE,
		SESAME_ETCD_PATH_STATUS, NULL,
	};
	char *nl = memchr(payload, '\n', plen);

	if (nl == NULL)
		return -1;
	*nl = '\0';
	*path = payload;
	*body = nl + 1;
	*len = plen - (size_t)(nl + 1 - payload);
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(payload, allowed[i]) == 0)
			return 0;
	return -1;
}

static int serve(struct sesame_etcd_wire *w, struct sesame_etcd_transport *t, int usable,
		 const struct sesame_err *open_err)
{
	for (;;) {
		struct sesame_etcd_reply reply = {0};
		enum sesame_etcd_failure failure = SESAME_ETCD_FAIL_LOCAL;
		struct sesame_err err = {""};
		const char *path, *body;
		char tag = 0, *payload = NULL;
		size_t plen = 0, blen = 0;
		int sent;

		if (sesame_etcd_wire_recv(w, &tag, &payload, &plen, SESAME_ETCD_WIRE_MAX, -1) != 0)
			return errno == ENODATA ? 0 : 1;
		if (!usable)
			sent = send_failure(SESAME_ETCD_FAIL_LOCAL, open_err->msg);
		else if (tag != 'Q' || split_request(payload, &path, &body, &blen, plen) != 0)
			sent = send_failure(SESAME_ETCD_FAIL_LOCAL,
					    "store unavailable: the etcd helper got a request it "
					    "does not make");
		else if (t->call(t->ctx, path, body, blen, &reply, &failure, &err) == 0)
			sent = send_reply(&reply);
		else
			sent = send_failure(failure, err.msg);
		sesame_etcd_reply_free(&reply);
		sesame_wipe(payload, plen);
		free(payload);
		if (sent != 0)
			return 1;
	}
}

int main(int argc, char **argv)
{
	struct sesame_etcd_config cfg;
	struct sesame_etcd_transport t = {0};
	struct sesame_etcd_wire w;
	struct sesame_err err = {""};
	char state_dir[SESAME_ETCD_FILE_MAX];
	int usable, r;

	(void)argv;
	if (argc != 1 || isatty(STDIN_FILENO)) {
		fputs("sesame-etcd: the etcd helper of pam_sesame and sesame-mint; not run by "
		      "hand\n", stderr);
		return 2;
	}
	/* The password, the client key and the token live here: no core
	 * file, and no ptrace by anyone who shares our uid. */
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	sesame_etcd_wire_init(&w, STDIN_FILENO);
	usable = read_settings(&w, &cfg, state_dir, sizeof(state_dir), &err) == 0 &&
		 sesame_etcd_http_open(&cfg, state_dir, &t, &err) == 0;
	r = serve(&w, &t, usable, &err);
	if (usable)
		t.close(t.ctx);
	sesame_wipe(&w, sizeof(w));
	return r;
}
