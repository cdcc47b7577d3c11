#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

#define SETTINGS_MAX (64 * 1024)

static int64_t deadline_after(int64_t ms)
{
	return ms < 0 ? -1 : sesame_etcd_now_ms() + ms;
}

int sesame_helper_send_failure(int fd, enum sesame_etcd_failure f, const char *msg,
			       int64_t deadline_ms)
{
	char head[16];
	int n = snprintf(head, sizeof(head), "%d\n", (int)f);

	return sesame_etcd_wire_send(fd, 'E', head, (size_t)n, msg, strlen(msg), deadline_ms);
}

static int send_reply(int fd, const struct sesame_etcd_reply *r, int64_t deadline_ms)
{
	char head[SESAME_ETCD_URL_MAX + 64];
	int n = snprintf(head, sizeof(head), "%lld %lld %s\n", (long long)r->server_time,
			 (long long)r->local_time, r->endpoint);

	return sesame_etcd_wire_send(fd, 'R', head, (size_t)n, r->body, r->len, deadline_ms);
}

char *sesame_helper_read_settings(struct sesame_etcd_wire *w, size_t *len, int64_t deadline_ms)
{
	char tag = 0, *payload = NULL;

	*len = 0;
	if (sesame_etcd_wire_recv(w, &tag, &payload, len, SETTINGS_MAX, deadline_ms) != 0)
		return NULL;
	if (tag != 'C') {
		free(payload);
		return NULL;
	}
	return payload;
}

int sesame_helper_parse_settings(const char *payload, struct sesame_etcd_config *cfg,
				 char *state_dir, size_t n, struct sesame_err *err)
{
	const char *nl = payload != NULL ? strchr(payload, '\n') : NULL;

	if (nl == NULL || (size_t)(nl - payload) >= n) {
		sesame_err_set(err, "store unavailable: the etcd helper got no settings");
		return -1;
	}
	memcpy(state_dir, payload, (size_t)(nl - payload));
	state_dir[nl - payload] = '\0';
	if (state_dir[0] != '/') {
		sesame_err_set(err, "store unavailable: the etcd helper got no state directory");
		return -1;
	}
	return sesame_etcd_config_parse(cfg, nl + 1, err);
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

/* A caller that gave up (its deadline passed while the request waited in
 * a busy daemon's queue) has shut its end: do not count a use for a
 * login already reported as "store unavailable". */
static int caller_left(int fd)
{
	struct pollfd p = {fd, POLLRDHUP, 0};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static int answer(int fd, char tag, char *payload, size_t plen, struct sesame_etcd_transport *t,
		  const struct sesame_err *open_err, int64_t idle_ms)
{
	struct sesame_etcd_reply reply = {0};
	enum sesame_etcd_failure failure = SESAME_ETCD_FAIL_LOCAL;
	struct sesame_err err = {""};
	const char *path, *body;
	size_t blen = 0;
	int sent;

	if (t == NULL) {
		sent = sesame_helper_send_failure(fd, SESAME_ETCD_FAIL_LOCAL, open_err->msg,
						  deadline_after(idle_ms));
	} else if (tag != 'Q' || split_request(payload, &path, &body, &blen, plen) != 0) {
		sent = sesame_helper_send_failure(fd, SESAME_ETCD_FAIL_LOCAL,
						  "store unavailable: the etcd helper got a "
						  "request it does not make",
						  deadline_after(idle_ms));
	} else if (caller_left(fd)) {
		sent = -1;
	} else if (t->call(t->ctx, path, body, blen, &reply, &failure, &err) == 0) {
		/* The call had its own budget: the sending gets a fresh one. */
		sent = send_reply(fd, &reply, deadline_after(idle_ms));
	} else {
		sent = sesame_helper_send_failure(fd, failure, err.msg, deadline_after(idle_ms));
	}
	sesame_etcd_reply_free(&reply);
	return sent;
}

int sesame_helper_serve(struct sesame_etcd_wire *w, struct sesame_etcd_transport *t,
			const struct sesame_err *open_err, int64_t idle_ms)
{
	for (;;) {
		char tag = 0, *payload = NULL;
		size_t plen = 0;
		int sent;

		if (sesame_etcd_wire_recv(w, &tag, &payload, &plen, SESAME_ETCD_WIRE_MAX,
					  deadline_after(idle_ms)) != 0)
			return errno == ENODATA ? 0 : 1;
		sent = answer(w->fd, tag, payload, plen, t, open_err, idle_ms);
		sesame_wipe(payload, plen);
		free(payload);
		if (sent != 0)
			return 1;
	}
}
