/* store-storm: N processes at once through the etcd store (each its own
 * store, its own helper, as N hosts would be), released together through
 * a pipe, for tests/fleet/store.bats.
 *
 *   store-storm CONF redeem N USES      one token with USES uses, N redeemers
 *   store-storm CONF mail N PER_SOURCE  N mail requests, one account, one source
 *
 * CONF is a cluster credential's settings (tests/fleet/cluster.sh), its
 * token cache DIR/state-NAME. Prints "ok A refused R unavailable U". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "store.h"

static struct sesame_config cfg;

static int settings(const char *conf)
{
	struct sesame_err err = { "" };
	const char *slash = strrchr(conf, '/');
	size_t n = strlen(conf), dir = slash ? (size_t)(slash - conf) + 1 : 0;

	sesame_config_defaults(&cfg);
	if (n < 6 || strcmp(conf + n - 5, ".conf") != 0 ||
	    sesame_config_load(&cfg, conf, 1, &err) != 0) {
		fprintf(stderr, "%s: %s\n", conf, err.msg[0] ? err.msg : "expected DIR/NAME.conf");
		return -1;
	}
	snprintf(cfg.store, sizeof(cfg.store), "etcd");
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%.*sstate-%.*s", (int)dir, conf,
		 (int)(n - 5 - dir), conf + dir);
	if (getenv("SESAME_ETCD_HELPER") != NULL)
		snprintf(cfg.etcd.helper, sizeof(cfg.etcd.helper), "%s",
			 getenv("SESAME_ETCD_HELPER"));
	return 0;
}

/* One request: 0 done, 1 refused (used up, rate limited), 3 unavailable. */
static int one(const char *what, unsigned param, uint8_t tag)
{
	const uint8_t source[SESAME_MAIL_SOURCE_LEN] = "storm...";
	struct sesame_mail_limits lim = {0, param, 1000};
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t;
	int64_t now = (int64_t)time(NULL);
	int r = 3;

	if (sesame_store_open(&st, &cfg, 0, &err) != 0)
		goto out;
	if (strcmp(what, "redeem") == 0) {
		memset(&t, 0, sizeof(t));
		t.uid = 4242;
		t.issued = (uint32_t)now;
		t.lifetime = 900;
		t.uses = (uint8_t)param;
		memset(t.id, tag, sizeof(t.id));
		switch (sesame_store_redeem(&st, &t, NULL, now, &err)) {
		case SESAME_OK: r = 0; break;
		case SESAME_USED_UP: r = 1; break;
		default: r = 3; break;
		}
	} else {
		r = sesame_store_mail_allow(&st, 4242, source, now, &lim, &err);
		r = r < 0 ? 3 : r;
	}
out:
	if (r == 3)
		fprintf(stderr, "%s\n", err.msg);
	sesame_store_close(&st);
	return r;
}

int main(int argc, char **argv)
{
	int go[2], n, counts[4] = {0, 0, 0, 0};
	uint8_t tag;
	char c;

	if (argc != 5 || settings(argv[1]) != 0 || pipe(go) != 0 ||
	    (strcmp(argv[2], "redeem") != 0 && strcmp(argv[2], "mail") != 0)) {
		fprintf(stderr, "usage: store-storm CONF redeem|mail N USES|PER_SOURCE\n");
		return 2;
	}
	n = atoi(argv[3]);
	tag = (uint8_t)((time(NULL) + getpid()) & 0xff);
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			_exit(one(argv[2], (unsigned)atoi(argv[4]), tag));
		}
	}
	close(go[0]);
	close(go[1]); /* EOF releases them all */
	for (int i = 0; i < n; i++) {
		int status;
		if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) <= 3)
			counts[WEXITSTATUS(status)]++;
	}
	printf("ok %d refused %d unavailable %d\n", counts[0], counts[1], counts[3]);
	return 0;
}
