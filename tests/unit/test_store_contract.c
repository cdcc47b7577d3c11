/* The store interface's contract (store.h), run against every backend the
 * library has: the file store, the in-memory store, and the etcd store
 * when SESAME_TEST_ETCD_CONF names a cluster's settings (tests/fleet starts
 * one and sets it; SESAME_TEST_ETCD_ROOT_CONF's credentials empty the
 * prefix before each part). A backend that passes these can stand in for
 * the file store without callers knowing.
 *
 * What the etcd store does differently, by design: records expire through
 * leases on the cluster's clock, not by gc at a `now` the caller gives, so
 * the parts that step gc through time run on the other backends only (the
 * etcd store's clock rule has unit tests of its own, test_store_etcd.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "etcd.h"
#include "store.h"
#include "testutil.h"

#define UID 1000u
#define ISSUED 1000000
#define LIFETIME 900
#define EXPIRES ((int64_t)ISSUED + LIFETIME)
#define NOW ((int64_t)ISSUED + 1)
#define GRACE SESAME_STORE_GRACE

typedef int opener(struct sesame_store *st, const char *name);

static const char *root;

static int open_file(struct sesame_store *st, const char *name)
{
	struct sesame_err err = { "" };
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	return sesame_store_open_file(st, path, 1, &err);
}

static int open_memory(struct sesame_store *st, const char *name)
{
	struct sesame_err err = { "" };

	(void)name;
	return sesame_store_open_memory(st, &err);
}

/* A cluster's settings file (etcd_* lines, tests/fleet/cluster.sh). */
static int etcd_settings(struct sesame_config *cfg, const char *conf)
{
	struct sesame_err err = { "" };
	const char *helper = getenv("SESAME_ETCD_HELPER");
	size_t n = strlen(conf);

	sesame_config_defaults(cfg);
	if (sesame_config_load(cfg, conf, 1, &err) != 0) {
		fprintf(stderr, "%s: %s\n", conf, err.msg);
		return -1;
	}
	snprintf(cfg->store, sizeof(cfg->store), "etcd");
	/* DIR/NAME.conf keeps its token cache in DIR/state-NAME */
	if (n > 5 && strcmp(conf + n - 5, ".conf") == 0) {
		const char *slash = strrchr(conf, '/');
		size_t dir = slash ? (size_t)(slash - conf) + 1 : 0;
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%.*sstate-%.*s", (int)dir, conf,
			 (int)(n - 5 - dir), conf + dir);
	}
	if (helper != NULL)
		snprintf(cfg->etcd.helper, sizeof(cfg->etcd.helper), "%s", helper);
	return 0;
}

/* Empty the prefix with root's credentials: each part starts afresh. */
static int etcd_wipe(void)
{
	struct sesame_config cfg;
	struct sesame_etcd *s = NULL;
	struct sesame_err err = { "" };
	int64_t deleted = 0;
	int r = -1;

	if (etcd_settings(&cfg, getenv("SESAME_TEST_ETCD_ROOT_CONF")) != 0)
		return -1;
	if (sesame_etcd_open(&s, &cfg.etcd, cfg.state_dir, &err) == 0 &&
	    sesame_etcd_delete(s, cfg.etcd.prefix, 1, &deleted, &err) == 0)
		r = 0;
	else
		fprintf(stderr, "emptying the etcd prefix: %s\n", err.msg);
	sesame_etcd_close(s);
	return r;
}

static int open_etcd(struct sesame_store *st, const char *name)
{
	struct sesame_config cfg;
	struct sesame_err err = { "" };

	(void)name;
	if (etcd_wipe() != 0 || etcd_settings(&cfg, getenv("SESAME_TEST_ETCD_CONF")) != 0)
		return -1;
	if (sesame_store_open(st, &cfg, 1, &err) != 0) {
		fprintf(stderr, "open the etcd store: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static struct sesame_token tok(uint8_t n, uint8_t uses)
{
	struct sesame_token t;

	memset(&t, 0, sizeof(t));
	t.uid = UID;
	t.issued = ISSUED;
	t.lifetime = LIFETIME;
	t.uses = uses;
	t.id[0] = n;
	t.id[1] = 0x42;
	t.id[5] = n;
	return t;
}

static struct sesame_issue issue_of(const struct sesame_token *t, const char *note)
{
	struct sesame_issue is;

	sesame_issue_init(&is, t);
	is.key_id = 3;
	snprintf(is.account, sizeof(is.account), "alice");
	snprintf(is.scope, sizeof(is.scope), "any");
	snprintf(is.host, sizeof(is.host), "h1.example");
	snprintf(is.channel, sizeof(is.channel), "printed");
	snprintf(is.issuer, sizeof(is.issuer), "uid 1001 (bob)");
	snprintf(is.claimed, sizeof(is.claimed), "carol");
	snprintf(is.note, sizeof(is.note), "%s", note);
	return is;
}

static void counting(opener *open_store)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token one = tok(1, 1), two = tok(2, 2), any = tok(3, 0), other = tok(1, 1);
	unsigned used = 9;

	CHECK_EQ_INT(open_store(&st, "counting"), 0);
	CHECK_EQ_INT(sesame_store_status(&st, &one, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &two, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_status(&st, &two, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 1);
	CHECK_EQ_INT(sesame_store_redeem(&st, &two, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &two, NULL, NOW, &err), SESAME_USED_UP);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_status(&st, &any, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0); /* unlimited tokens are not counted */
	other.uid = UID + 1;   /* a token is its (id, uid) */
	CHECK_EQ_INT(sesame_store_redeem(&st, &other, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, NULL, EXPIRES, &err), SESAME_EXPIRED);
	sesame_store_close(&st);
	sesame_store_close(&st);
	/* a closed store is unavailable, never a success */
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(sesame_store_revoke(&st, &one, NOW, &err), -1);
}

static void revocations(opener *open_store)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = tok(1, 1), b = tok(2, 0), later = tok(3, 1);
	int64_t before = 0;
	unsigned used = 0;

	later.issued = ISSUED + 10;
	CHECK_EQ_INT(open_store(&st, "revocations"), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &a, NOW, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke(&st, &a, NOW, &err), 0);
	CHECK_EQ_INT(sesame_store_status(&st, &a, NOW, &used, &err), SESAME_REVOKED);
	CHECK_EQ_INT(used, 1);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID, &before, &err), 0);
	CHECK_EQ_INT(before, -1);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, ISSUED, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, 5, &err), 0); /* older: no effect */
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, -1, &err), -1);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID, &before, &err), 0);
	CHECK_EQ_INT(before, ISSUED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &later, NULL, NOW + 10, &err), SESAME_OK);
	sesame_store_close(&st);
}

static void mail_limits(opener *open_store)
{
	const struct sesame_mail_limits lim = { 60, 2, 3 };
	const uint8_t here[SESAME_MAIL_SOURCE_LEN] = "here....", there[SESAME_MAIL_SOURCE_LEN] =
		"there...", far[SESAME_MAIL_SOURCE_LEN] = "far.....";
	struct sesame_store st;
	struct sesame_err err = { "" };

	CHECK_EQ_INT(open_store(&st, "mail"), 0);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, here, NOW, &lim, &err), 0);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, here, NOW + 59, &lim, &err), 1);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, here, NOW + 60, &lim, &err), 0);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, here, NOW + 120, &lim, &err), 1);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, there, NOW + 120, &lim, &err), 0);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, far, NOW + 120, &lim, &err), 1);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID + 1, far, NOW + 120, &lim, &err), 0);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, far, NOW + 3600 + 1, &lim, &err), 0);
	sesame_store_close(&st);
}

static void ledger(opener *open_store, int gc_drops)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token old = tok(1, 2), young = tok(2, 1), stranger = tok(9, 1);
	const struct sesame_use use = { "h2.example", "sshd", "203.0.113.9", "bob", "pts/3" };
	struct sesame_issue is = issue_of(&old, "ticket \"42\" \\ caf\xc3\xa9");
	struct sesame_history h, *all = NULL;
	size_t n = 0;

	young.issued = ISSUED + 5;
	CHECK_EQ_INT(open_store(&st, "ledger"), 0);
	CHECK_EQ_INT(sesame_store_record_issue(&st, &is, &err), 0);
	CHECK_EQ_INT(sesame_store_record_issue(&st, &is, &err), -1); /* an id is recorded once */
	CHECK(strstr(err.msg, "already") != NULL);
	is = issue_of(&young, "line\nforged");
	CHECK_EQ_INT(sesame_store_record_issue(&st, &is, &err), -1);
	CHECK(strstr(err.msg, "note") != NULL);
	is = issue_of(&young, "");
	snprintf(is.channel, sizeof(is.channel), "mail to alice@example.org");
	CHECK_EQ_INT(sesame_store_record_issue(&st, &is, &err), 0);

	CHECK_EQ_INT(sesame_store_redeem(&st, &old, &use, NOW + 7, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &stranger, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &young, NOW + 8, &err), 0);

	CHECK_EQ_INT(sesame_store_history(&st, old.id, &h, &err), 0);
	CHECK_EQ_INT(h.have_issue, 1);
	CHECK(strcmp(h.issue.note, "ticket \"42\" \\ caf\xc3\xa9") == 0);
	CHECK(strcmp(h.issue.account, "alice") == 0 && strcmp(h.issue.claimed, "carol") == 0);
	CHECK(strcmp(h.issue.issuer, "uid 1001 (bob)") == 0 && h.issue.key_id == 3);
	CHECK_EQ_INT(h.issue.uses, 2);
	CHECK_EQ_INT(h.issue.issued, ISSUED);
	CHECK_EQ_INT(h.issue.expires, EXPIRES);
	CHECK_EQ_INT(h.used, 1);
	CHECK_EQ_INT(h.n_uses, 1);
	if (h.n_uses == 1) {
		CHECK_EQ_INT(h.uses[0].time, NOW + 7);
		CHECK(strcmp(h.uses[0].host, "h2.example") == 0);
		CHECK(strcmp(h.uses[0].service, "sshd") == 0);
		CHECK(strcmp(h.uses[0].rhost, "203.0.113.9") == 0);
		CHECK(strcmp(h.uses[0].ruser, "bob") == 0);
		CHECK(strcmp(h.uses[0].tty, "pts/3") == 0);
	}
	CHECK_EQ_INT(h.revoked, 0);
	sesame_history_clear(&h);

	/* a token the ledger does not hold: its uses, no issue record */
	CHECK_EQ_INT(sesame_store_history(&st, stranger.id, &h, &err), 0);
	CHECK_EQ_INT(h.have_issue, 0);
	CHECK_EQ_INT(h.used, 1);
	sesame_history_clear(&h);

	CHECK_EQ_INT(sesame_store_list(&st, &all, &n, &err), 0);
	CHECK_EQ_INT(n, 2);
	if (n == 2) { /* newest first */
		CHECK_EQ_INT(all[0].issue.id[0], 2);
		CHECK_EQ_INT(all[0].revoked, 1);
		CHECK_EQ_INT(all[0].revoked_at, NOW + 8);
		CHECK(strcmp(all[0].issue.channel, "mail to alice@example.org") == 0);
		CHECK_EQ_INT(all[1].issue.id[0], 1);
		CHECK_EQ_INT(all[1].used, 1);
	}
	sesame_history_free(all, n);

	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, ISSUED, &err), 0);
	CHECK_EQ_INT(sesame_store_history(&st, old.id, &h, &err), 0);
	CHECK_EQ_INT(h.user_revoked, 1);
	sesame_history_clear(&h);
	CHECK_EQ_INT(sesame_store_history(&st, young.id, &h, &err), 0);
	CHECK_EQ_INT(h.user_revoked, 0); /* issued after the user revocation */
	sesame_history_clear(&h);
	if (!gc_drops) {
		sesame_store_close(&st);
		return;
	}

	/* gc keeps the ledger until the expiry plus the grace, then drops it
	 * with its uses */
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES + GRACE - 1, NULL, &err), 0);
	CHECK_EQ_INT(sesame_store_list(&st, &all, &n, &err), 0);
	CHECK_EQ_INT(n, 2);
	sesame_history_free(all, n);
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES + GRACE, NULL, &err), 0);
	CHECK_EQ_INT(sesame_store_list(&st, &all, &n, &err), 0);
	CHECK_EQ_INT(n, 1); /* the younger token expires 5 s later */
	sesame_history_free(all, n);
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES + 5 + GRACE, NULL, &err), 0);
	CHECK_EQ_INT(sesame_store_list(&st, &all, &n, &err), 0);
	CHECK_EQ_INT(n, 0);
	sesame_history_free(all, n);
	CHECK_EQ_INT(sesame_store_history(&st, old.id, &h, &err), 0);
	CHECK_EQ_INT(h.have_issue + (int)h.used, 0);
	sesame_history_clear(&h);
	sesame_store_close(&st);
}

static void clock_behind(opener *open_store)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t = tok(4, 1);

	t.lifetime = 7 * 86400;
	CHECK_EQ_INT(open_store(&st, "clock"), 0);
	CHECK_EQ_INT(sesame_store_gc(&st, NOW + 2 * GRACE, NULL, &err), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW + GRACE - 1, &err),
		     SESAME_CLOCK_BEHIND);
	CHECK_EQ_INT(sesame_store_gc(&st, NOW, NULL, &err), -1);
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW + GRACE, &err), SESAME_OK);
	sesame_store_close(&st);
}

static void backend_choice(void)
{
	struct sesame_config cfg;
	struct sesame_store st;
	struct sesame_err err = { "" };

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/chosen", root);
	snprintf(cfg.store, sizeof(cfg.store), "memory"); /* tests only: not a config value */
	CHECK_EQ_INT(sesame_store_open(&st, &cfg, 1, &err), -1);
	CHECK(strstr(err.msg, "unknown backend") != NULL);
	CHECK(st.ops == NULL);
	snprintf(cfg.store, sizeof(cfg.store), "file");
	CHECK_EQ_INT(sesame_store_open(&st, &cfg, 1, &err), 0);
	CHECK(st.ops != NULL && strcmp(st.ops->name, "file") == 0);
	sesame_store_close(&st);
	CHECK(sesame_store_backend_known("file"));
	CHECK(sesame_store_backend_known("etcd"));
	CHECK(!sesame_store_backend_known("etc"));
	CHECK(!sesame_store_backend_known(""));
}

int main(void)
{
	static const struct {
		const char *name;
		opener *open_store;
		int gc_drops; /* gc at a given `now` drops records (not etcd: leases) */
	} backends[] = {
		{ "file", open_file, 1 },
		{ "memory", open_memory, 1 },
		{ "etcd", open_etcd, 0 },
	};

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (backends[i].open_store == open_etcd && getenv("SESAME_TEST_ETCD_CONF") == NULL)
			continue;
		root = test_tmpdir(backends[i].name);
		fprintf(stderr, "backend %s\n", backends[i].name);
		counting(backends[i].open_store);
		revocations(backends[i].open_store);
		mail_limits(backends[i].open_store);
		ledger(backends[i].open_store, backends[i].gc_drops);
		if (backends[i].gc_drops)
			clock_behind(backends[i].open_store);
		test_rmtree(root);
	}
	root = test_tmpdir("choice");
	backend_choice();
	test_rmtree(root);
	return test_finish("store-contract");
}
