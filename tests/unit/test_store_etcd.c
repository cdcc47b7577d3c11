/* The etcd store (common/store_etcd*.c) over a scripted transport: the
 * clock-skew rule, answers that do not parse, the NOSPACE alarm, RBAC
 * refusals, and how each answer of the use transaction is read. Every
 * failure must be "store unavailable" (or the clock's refusal), never a
 * success. And what --migrate-store reads of a file store.
 * tests/fleet/store.bats runs the store on a real cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "etcd.h"
#include "etcd_b64.h"
#include "store.h"
#include "store_etcd.h"
#include "testutil.h"

#define ETCD_KEY_MAX_TEST 200

/* base64 of "x" and of "7" (a lease id) */
#define KEY_X "eA=="
#define LEASE_7 "Nw=="

#define RANGE_LEASE                                                                  \
	"{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"" KEY_X "\",\"value\":\"" \
	LEASE_7 "\",\"version\":\"1\"}],\"count\":\"1\"}"
#define RANGE_EMPTY "{\"header\":{\"revision\":\"5\"}}"
/* the use record's put at the top, the counter's in the nested txn */
#define TXN_COUNTED                                                                       \
	"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_put\":{}},"             \
	"{\"response_txn\":{\"header\":{},\"succeeded\":true,\"responses\":"                  \
	"[{\"response_put\":{}}]}},"                                                           \
	"{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X "\",\"version\":\"1\"}],"           \
	"\"count\":\"1\"}}]}"
#define TXN_USED_UP                                                                     \
	"{\"header\":{},\"responses\":[{\"response_range\":{}},{\"response_range\":{\"kvs\":" \
	"[{\"key\":\"" KEY_X "\",\"version\":\"1\"}],\"count\":\"1\"}},{\"response_range\":{}}]}"
#define TXN_REVOKED                                                                     \
	"{\"header\":{},\"responses\":[{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X       \
	"\",\"version\":\"1\"}],\"count\":\"1\"}},{\"response_range\":{}},"                   \
	"{\"response_range\":{}}]}"
/* refused: the account revoked at 9999999999, after the token was issued */
#define TXN_USER_REVOKED                                                                 \
	"{\"header\":{},\"responses\":[{\"response_range\":{}},{\"response_range\":{}},"   \
	"{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X "\",\"value\":\""                \
	"MDAwMDAwMDAwMDk5OTk5OTk5OTk=\",\"version\":\"1\"}],\"count\":\"1\"}}]}"
/* refused: only because the account was revoked, at 1, before the token */
#define TXN_USER_REVOKED_BEFORE                                                          \
	"{\"header\":{},\"responses\":[{\"response_range\":{}},{\"response_range\":{}},"   \
	"{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X "\",\"value\":\""                \
	"MDAwMDAwMDAwMDAwMDAwMDAwMDE=\",\"version\":\"1\"}],\"count\":\"1\"}}]}"
/* refused with nothing in the way: what a per-user revocation that went
 * (its lease) between two transactions looks like */
#define TXN_REFUSED_CLEAN                                                                \
	"{\"header\":{},\"responses\":[{\"response_range\":{}},{\"response_range\":{}},"   \
	"{\"response_range\":{}}]}"
/* the reads of a token's state: nothing revoked, nothing counted */
#define TXN_READ_CLEAN                                                                   \
	"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_range\":{}},"         \
	"{\"response_range\":{}},{\"response_range\":{}}]}"
#define STATUS_OK                                                                         \
	"{\"header\":{\"member_id\":\"1\",\"revision\":\"5\"},\"version\":\"3.4.23\","        \
	"\"dbSize\":\"1\",\"leader\":\"1\",\"raftTerm\":\"2\"}"
#define STATUS_NOSPACE                                                                    \
	"{\"header\":{\"member_id\":\"1\",\"revision\":\"5\"},\"version\":\"3.4.23\","        \
	"\"dbSize\":\"1\",\"leader\":\"1\",\"raftTerm\":\"2\","                               \
	"\"errors\":[\"memberID:1 alarm:NOSPACE \"]}"

/* Answers by path; a failure for one path; the skew of the fake Date. */
struct fake {
	const char *range, *txn, *status;
	const char *fail_path;
	enum sesame_etcd_failure fail_kind;
	const char *fail_msg;
	int fail_times; /* fail this many calls to fail_path, 0 = every one */
	int failed;
	int64_t skew;  /* the cluster's clock minus ours */
	int no_date;   /* no Date header at all */
	int n_txn;     /* transactions sent */
	int n_grant;
	/* when set: the answers to the transactions in turn, the last one
	 * repeated */
	const char *const *script;
	int n_script;
	int keep_bodies; /* keep the first bodies sent (free_bodies) */
	char *bodies[4];
};

static void free_bodies(struct fake *f)
{
	for (size_t i = 0; i < sizeof(f->bodies) / sizeof(f->bodies[0]); i++) {
		free(f->bodies[i]);
		f->bodies[i] = NULL;
	}
}

static int fake_call(void *ctx, const char *path, const char *body, size_t len,
		     struct sesame_etcd_reply *reply, enum sesame_etcd_failure *failure,
		     struct sesame_err *err)
{
	struct fake *f = ctx;
	const char *answer = NULL;
	int64_t now = (int64_t)time(NULL);

	if (strcmp(path, "/v3/kv/txn") == 0) {
		if (f->keep_bodies && f->n_txn < (int)(sizeof(f->bodies) / sizeof(f->bodies[0])))
			f->bodies[f->n_txn] = strndup(body, len);
		f->n_txn++;
	}
	if (strcmp(path, "/v3/lease/grant") == 0)
		f->n_grant++;
	if (f->fail_path != NULL && strcmp(path, f->fail_path) == 0 &&
	    (f->fail_times == 0 || f->failed < f->fail_times)) {
		f->failed++;
		*failure = f->fail_kind;
		sesame_err_set(err, "store unavailable: https://fake:2379: %s", f->fail_msg);
		return -1;
	}
	if (strcmp(path, "/v3/kv/range") == 0)
		answer = f->range;
	else if (strcmp(path, "/v3/kv/txn") == 0 && f->script != NULL)
		answer = f->script[f->n_txn <= f->n_script ? f->n_txn - 1 : f->n_script - 1];
	else if (strcmp(path, "/v3/kv/txn") == 0)
		answer = f->txn;
	else if (strcmp(path, "/v3/maintenance/status") == 0)
		answer = f->status;
	if (answer == NULL) {
		*failure = SESAME_ETCD_FAIL_PROTOCOL;
		sesame_err_set(err, "store unavailable: https://fake:2379: unexpected %s", path);
		return -1;
	}
	reply->body = strdup(answer);
	reply->len = strlen(answer);
	snprintf(reply->endpoint, sizeof(reply->endpoint), "https://fake:2379");
	reply->local_time = now;
	reply->server_time = f->no_date ? 0 : now + f->skew;
	return 0;
}

static struct fake fake_default(void)
{
	struct fake f;

	memset(&f, 0, sizeof(f));
	f.range = RANGE_LEASE;
	f.txn = TXN_COUNTED;
	f.status = STATUS_OK;
	return f;
}

static void open_fake(struct sesame_store *st, struct fake *f)
{
	struct sesame_etcd_transport t = {fake_call, NULL, f};
	struct sesame_etcd *s = NULL;
	struct sesame_err err = { "" };

	CHECK_EQ_INT(sesame_etcd_open_transport(&s, &t, "/sesame/", &err), 0);
	CHECK_EQ_INT(sesame_store_open_etcd_session(st, s, &err), 0);
}

static struct sesame_token tok(unsigned uses)
{
	struct sesame_token t;

	memset(&t, 0, sizeof(t));
	t.uid = 1000;
	t.issued = (uint32_t)time(NULL) - 10;
	t.lifetime = 900;
	t.uses = (uint8_t)uses;
	t.id[0] = 0xab;
	return t;
}

static enum sesame_reason redeem_with(struct fake *f, unsigned uses, struct sesame_err *err)
{
	struct sesame_store st;
	struct sesame_token t = tok(uses);
	enum sesame_reason r;

	open_fake(&st, f);
	r = sesame_store_redeem(&st, &t, NULL, (int64_t)time(NULL), err);
	sesame_store_close(&st);
	return r;
}

/* The host's clock against the Date of the cluster's answers: a host
 * behind by more than the bound refuses (clock behind) before it writes;
 * one ahead is "store unavailable"; no Date header at all fails closed. */
static void test_clock_skew(void)
{
	struct sesame_err err = { "" };
	struct fake f = fake_default();

	f.skew = 250; /* within the bound */
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_OK);
	CHECK_EQ_INT(f.n_txn, 1);

	f = fake_default();
	f.skew = 400;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_CLOCK_BEHIND);
	CHECK(strstr(err.msg, "behind the cluster") != NULL);
	CHECK_EQ_INT(f.n_txn, 0); /* refused before counting */

	f = fake_default();
	f.skew = -400;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "ahead of the cluster") != NULL);
	CHECK(strstr(err.msg, "https://fake:2379") != NULL);
	CHECK_EQ_INT(f.n_txn, 0);

	f = fake_default();
	f.skew = 400; /* unlimited tokens too */
	CHECK_EQ_INT(redeem_with(&f, 0, &err), SESAME_CLOCK_BEHIND);

	f = fake_default();
	f.no_date = 1;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "Date header") != NULL);
	CHECK_EQ_INT(f.n_txn, 0);
}

/* Issuers' writes: a writer whose clock is off by more than the bound
 * writes nothing (its lease TTL and the record's expiry come from it). */
static void test_clock_skew_writes(void)
{
	const int64_t skews[] = {400, -400};

	for (size_t i = 0; i < sizeof(skews) / sizeof(skews[0]); i++) {
		struct sesame_store st;
		struct sesame_err err = { "" };
		struct sesame_token t = tok(1);
		struct fake f = fake_default();

		f.skew = skews[i];
		open_fake(&st, &f);
		CHECK_EQ_INT(sesame_store_revoke(&st, &t, (int64_t)time(NULL), &err), -1);
		CHECK(strstr(err.msg, "the cluster's (at most") != NULL);
		CHECK_EQ_INT(sesame_store_revoke_user(&st, 1000, (int64_t)time(NULL), &err), -1);
		CHECK(strstr(err.msg, "the cluster's (at most") != NULL);
		CHECK_EQ_INT(f.n_txn, 0);
		CHECK_EQ_INT(f.n_grant, 0);
		sesame_store_close(&st);
	}
}

/* The refusal of a use transaction that read the account revoked until
 * `before` (revoked-users/U's value in the third range). malloc'd. */
static char *txn_user_revoked_at(int64_t before)
{
	char digits[24], *b64, *answer = NULL;

	snprintf(digits, sizeof(digits), "%020lld", (long long)before);
	b64 = sesame_etcd_b64_encode(digits, strlen(digits));
	if (b64 == NULL ||
	    asprintf(&answer, "{\"header\":{},\"responses\":[{\"response_range\":{}},"
		     "{\"response_range\":{}},{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X
		     "\",\"value\":\"%s\",\"version\":\"1\"}],\"count\":\"1\"}}]}", b64) < 0)
		answer = NULL;
	free(b64);
	return answer;
}

/* --revoke-user on a host on the cluster's clock ends the token that an
 * issuer 200 s ahead (within the bound, so it may write) minted just
 * before: the token carries the issuer's clock, now + 200, and a cutoff
 * at the revoker's now would spare it. And a revoker 200 s behind the
 * cluster cuts from the cluster's clock. */
static void test_revoke_user_cutoff(void)
{
	const int64_t revoker_skews[] = {0, 200};

	for (size_t i = 0; i < sizeof(revoker_skews) / sizeof(revoker_skews[0]); i++) {
		struct sesame_store st;
		struct sesame_err err = { "" };
		struct sesame_token minted = tok(1);
		struct fake f = fake_default();
		int64_t now = (int64_t)time(NULL), before = -1;
		const char *script[2] = {NULL, TXN_COUNTED};
		char digits[24], *b64, *refusal;

		f.skew = revoker_skews[i];
		f.keep_bodies = 1;
		open_fake(&st, &f);
		CHECK_EQ_INT(sesame_store_revoke_user_now(&st, 1000, now, &before, &err), 0);
		sesame_store_close(&st);
		CHECK(before >= now + revoker_skews[i] + 300);
		/* what was written is that cutoff */
		snprintf(digits, sizeof(digits), "%020lld", (long long)before);
		b64 = sesame_etcd_b64_encode(digits, strlen(digits));
		CHECK(b64 != NULL && f.bodies[0] != NULL && strstr(f.bodies[0], b64) != NULL);
		free(b64);
		free_bodies(&f);

		/* a verifier reads that revocation; the token is the issuer's */
		minted.issued = (uint32_t)(now + revoker_skews[i] + 200);
		refusal = txn_user_revoked_at(before);
		CHECK(refusal != NULL);
		script[0] = refusal;
		f = fake_default();
		f.script = script;
		f.n_script = 2;
		open_fake(&st, &f);
		CHECK_EQ_INT(sesame_store_redeem(&st, &minted, NULL, now, &err), SESAME_REVOKED);
		CHECK_EQ_INT(f.n_txn, 1);
		sesame_store_close(&st);
		free(refusal);
	}
}

/* A `now` taken long before the cluster answers (a slow account lookup,
 * a helper to start, a failover): the cutoff counts from the clocks at
 * the answer, plus the bound, plus etcd_timeout (2 s by default, rounded
 * up) for the put to commit, not from the stale now. */
static void test_revoke_user_cutoff_stale_now(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct fake f = fake_default();
	int64_t stale = (int64_t)time(NULL) - 100, before = -1;

	open_fake(&st, &f);
	CHECK_EQ_INT(sesame_store_revoke_user_now(&st, 1000, stale, &before, &err), 0);
	sesame_store_close(&st);
	CHECK(before >= (int64_t)time(NULL) + 300 + 1 + 2);
	CHECK(before <= (int64_t)time(NULL) + 300 + 1 + 2 + 1);
}

/* ---- the ledger's views: records verifying hosts write ---- */

/* A kv of a range answer, key (key_len bytes, NULs and all) and value
 * in base64, appended to buf. */
static void add_kv_n(char *buf, size_t size, const char *key, size_t key_len, const char *value,
		     int version, int revision)
{
	char *k = sesame_etcd_b64_encode(key, key_len);
	char *v = sesame_etcd_b64_encode(value, strlen(value));
	size_t len = strlen(buf);

	CHECK(k != NULL && v != NULL);
	snprintf(buf + len, size - len,
		 "%s{\"key\":\"%s\",\"value\":\"%s\",\"version\":\"%d\","
		 "\"create_revision\":\"%d\",\"mod_revision\":\"%d\"}",
		 buf[len - 1] == '[' ? "" : ",", k ? k : "", v ? v : "", version, revision,
		 revision);
	free(k);
	free(v);
}

static void add_kv(char *buf, size_t size, const char *key, const char *value, int version,
		   int revision)
{
	add_kv_n(buf, size, key, strlen(key), value, version, revision);
}

/* A store whose ledger read (one transaction of five ranges: ledger/,
 * mailed/, uses/, revoked/, revoked-users/) finds these kvs of ledger/,
 * mailed/ and uses/ (each "[" and what add_kv added), nothing revoked.
 * The answer is the caller's to free. */
static char *open_snapshot(struct sesame_store *st, struct fake *f, const char *ledger,
			   const char *mailed, const char *uses)
{
	char *answer = NULL;

	*f = fake_default();
	if (asprintf(&answer, "{\"header\":{},\"succeeded\":true,\"responses\":["
		     "{\"response_range\":{\"kvs\":[%s]}},{\"response_range\":{\"kvs\":[%s]}},"
		     "{\"response_range\":{\"kvs\":[%s]}},{\"response_range\":{}},"
		     "{\"response_range\":{}}]}", ledger + 1, mailed + 1, uses + 1) < 0)
		answer = NULL;
	CHECK(answer != NULL);
	f->txn = answer;
	open_fake(st, f);
	return answer;
}

/* An issue record of token t (issuer: "uid 0 (root)" or "mail"). */
static char *issue_of(const struct sesame_token *t, const char *issuer)
{
	struct sesame_issue is;

	sesame_issue_init(&is, t);
	snprintf(is.account, sizeof(is.account), "alice");
	snprintf(is.issuer, sizeof(is.issuer), "%s", issuer);
	return etcd_issue_encode(&is);
}

#define TOKEN_HEX "ab0000000000"
#define USES_OF(uid) "/sesame/uses/" TOKEN_HEX "-" uid

/* A use record that does not parse (any verifying host can write one):
 * --history and --list skip it, naming its key, and show the rest;
 * so do they a mailed/ key or record that does not parse. An issuer's
 * ledger record that does not parse still fails the view. */
static void test_history_skips_malformed(void)
{
	struct sesame_token t = tok(3);
	struct sesame_use where = {"h1", "sshd", "203.0.113.9", "bob", "pts/1"};
	char ledger[2048] = "[", mailed[2048] = "[", uses[4096] = "[";
	char *issue = issue_of(&t, "uid 0 (root)"), *use = etcd_use_encode(&where, 1000);
	struct sesame_store st;
	struct sesame_history h;
	struct sesame_history *list = NULL;
	struct sesame_err err = { "" };
	struct fake f;
	char *answer;
	size_t n = 0;

	add_kv(ledger, sizeof(ledger), "/sesame/ledger/" TOKEN_HEX, issue, 1, 10);
	add_kv(mailed, sizeof(mailed), "/sesame/mailed/not-an-id\x1b[2J", "{}", 1, 11);
	add_kv(mailed, sizeof(mailed), "/sesame/mailed/cd0000000000", "{not json", 1, 12);
	add_kv(uses, sizeof(uses), USES_OF("000003e8"), use, 2, 13);
	add_kv(uses, sizeof(uses), USES_OF("000003e8") "/0001-aa", use, 1, 13);
	add_kv(uses, sizeof(uses), USES_OF("000003e8") "/0002-bb", "garbage", 1, 14);
	add_kv(uses, sizeof(uses), "/sesame/uses/" TOKEN_HEX "-xyz", "x", 1, 15);
	answer = open_snapshot(&st, &f, ledger, mailed, uses);
	CHECK_EQ_INT(sesame_store_history(&st, t.id, &h, &err), 0);
	CHECK_EQ_INT(h.have_issue, 1);
	CHECK_EQ_INT(h.used, 2);
	CHECK_EQ_INT(h.n_uses, 1);
	CHECK(strstr(sesame_store_skipped(&st),
		     "uses/" TOKEN_HEX "-000003e8/0002-bb: a use record that does not parse") !=
	      NULL);
	CHECK(strstr(sesame_store_skipped(&st), "uses/" TOKEN_HEX "-xyz: not a use key") != NULL);
	sesame_history_clear(&h);

	CHECK_EQ_INT(sesame_store_list(&st, &list, &n, &err), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(n == 1 && list[0].used == 2 && list[0].n_uses == 1);
	/* the key as its writer chose it, printable only */
	CHECK(strstr(sesame_store_skipped(&st), "mailed/not-an-id?[2J: not a token id") != NULL);
	CHECK(strstr(sesame_store_skipped(&st), "mailed/cd0000000000: a record of a mailed "
		     "link that does not parse") != NULL);
	CHECK(strstr(sesame_store_skipped(&st), "0002-bb") != NULL);
	sesame_history_free(list, n);
	sesame_store_close(&st);
	free(answer);

	/* an issuer's record that does not parse: the view fails */
	strcpy(ledger, "[");
	add_kv(ledger, sizeof(ledger), "/sesame/ledger/" TOKEN_HEX, "{not json", 1, 10);
	answer = open_snapshot(&st, &f, ledger, mailed, uses);
	CHECK_EQ_INT(sesame_store_history(&st, t.id, &h, &err), -1);
	CHECK(strstr(err.msg, "ledger record does not parse") != NULL);
	sesame_store_close(&st);
	free(answer);
	free(issue);
	free(use);
}

/* --list, whose ledger should hold one token: 0 with that token's story
 * in *one (the caller clears it), -1 when the list fails, -2 when it
 * lists another number of tokens. */
static int list_one(struct sesame_store *st, struct sesame_history *one)
{
	struct sesame_history *list = NULL;
	struct sesame_err err = { "" };
	size_t n = 0;
	int r = sesame_store_list(st, &list, &n, &err);

	memset(one, 0, sizeof(*one));
	if (r == 0 && n == 1) {
		*one = list[0];
		memset(&list[0], 0, sizeof(list[0]));
	} else if (r == 0) {
		r = -2;
	}
	sesame_history_free(list, n);
	return r;
}

/* A key with a NUL byte under uses/ or mailed/: etcd 3.4 stores one (a
 * put through the gateway), and a verifying host may write there. The
 * views skip it, naming it, and show the issuer's token; --revoke ID
 * (history) still finds the ledger record. The same key under ledger/,
 * which only issuers write, fails the view. */
static void test_history_skips_nul_keys(void)
{
	static const char nul_use[] = USES_OF("000003e8") "/x\0y";
	static const char nul_mailed[] = "/sesame/mailed/" TOKEN_HEX "\0";
	static const char nul_ledger[] = "/sesame/ledger/" TOKEN_HEX "\0";
	struct sesame_token t = tok(3);
	char ledger[2048] = "[", mailed[2048] = "[", uses[2048] = "[";
	char *issue = issue_of(&t, "uid 0 (root)"), *answer;
	struct sesame_store st;
	struct sesame_history h;
	struct sesame_err err = { "" };
	struct fake f;

	add_kv(ledger, sizeof(ledger), "/sesame/ledger/" TOKEN_HEX, issue, 1, 10);
	add_kv_n(mailed, sizeof(mailed), nul_mailed, sizeof(nul_mailed) - 1, "{}", 1, 11);
	add_kv(uses, sizeof(uses), USES_OF("000003e8"), "", 1, 12);
	add_kv_n(uses, sizeof(uses), nul_use, sizeof(nul_use) - 1, "{}", 1, 13);
	answer = open_snapshot(&st, &f, ledger, mailed, uses);
	CHECK_EQ_INT(sesame_store_history(&st, t.id, &h, &err), 0);
	CHECK_EQ_INT(h.have_issue, 1);
	CHECK_EQ_INT(h.issue_claimed, 0);
	CHECK_EQ_INT(h.used, 1);
	CHECK(strstr(sesame_store_skipped(&st), "uses/" TOKEN_HEX "-000003e8/x?y: a key with a "
		     "NUL byte") != NULL);
	CHECK(strstr(sesame_store_skipped(&st), "mailed/" TOKEN_HEX "?: a key with a NUL") !=
	      NULL);
	sesame_history_clear(&h);
	CHECK_EQ_INT(list_one(&st, &h), 0);
	CHECK(h.used == 1 && !h.issue_claimed);
	sesame_history_clear(&h);
	sesame_store_close(&st);
	free(answer);

	strcpy(ledger, "[");
	add_kv_n(ledger, sizeof(ledger), nul_ledger, sizeof(nul_ledger) - 1, issue, 1, 10);
	answer = open_snapshot(&st, &f, ledger, "[", "[");
	CHECK_EQ_INT(sesame_store_history(&st, t.id, &h, &err), -1);
	CHECK(strstr(err.msg, "a key with a NUL byte where only issuers write") != NULL);
	sesame_store_close(&st);
	free(answer);
	free(issue);
}

/* More than 16 MiB under uses/ID- (verifying hosts may write that much)
 * fails the gateway's answer as too large: --history asks again without
 * the use records, then without any use, and still shows the issuer's
 * record and revocations, saying what it could not read; --list asks
 * again for keys and counts only, and fails when even that is too large. */
static void test_history_uses_too_large(void)
{
	struct sesame_token t = tok(3);
	char ledger[2048] = "[", uses[1024] = "[";
	char *issue = issue_of(&t, "uid 0 (root)"), *answer;
	struct sesame_history h;
	struct sesame_store st;
	struct fake f;
	struct sesame_err err = { "" };

	add_kv(ledger, sizeof(ledger), "/sesame/ledger/" TOKEN_HEX, issue, 1, 10);
	add_kv(uses, sizeof(uses), USES_OF("000003e8"), "", 2, 12);
	for (int fails = 1; fails <= 2; fails++) {
		answer = open_snapshot(&st, &f, ledger, "[", uses);
		f.fail_path = "/v3/kv/txn";
		f.fail_kind = SESAME_ETCD_FAIL_PROTOCOL;
		f.fail_msg = "answer too large";
		f.fail_times = fails;
		f.keep_bodies = 1;
		CHECK_EQ_INT(sesame_store_history(&st, t.id, &h, &err), 0);
		CHECK_EQ_INT(h.have_issue, 1);
		CHECK_EQ_INT(h.uses_read, fails == 1 ? SESAME_USES_COUNTS : SESAME_USES_NONE);
		CHECK_EQ_INT(h.used, fails == 1 ? 2 : 0);
		CHECK(strstr(sesame_store_skipped(&st), "uses/" TOKEN_HEX "-: store unavailable: "
			     "https://fake:2379: answer too large") != NULL);
		CHECK(f.bodies[fails] != NULL &&
		      strstr(f.bodies[fails], fails == 1 ? "\"keys_only\"" : "\"count_only\"") !=
			      NULL);
		CHECK(f.bodies[0] != NULL && strstr(f.bodies[0], "_only") == NULL);
		sesame_history_clear(&h);
		free_bodies(&f);
		f.failed = 0;
		CHECK_EQ_INT(list_one(&st, &h), fails == 1 ? 0 : -1);
		CHECK(fails == 2 || (h.used == 2 && h.uses_read == SESAME_USES_COUNTS));
		sesame_history_clear(&h);
		free_bodies(&f);
		sesame_store_close(&st);
		free(answer);
	}
	free(issue);
}

/* A mailed link's record (mailed/, any verifying host writes it) that
 * names uid 2000 while the token's uses were counted under 1000: the
 * record is a claim; the uses are read under every uid and their uids
 * given, for --revoke ID to revoke. */
static void test_history_mailed_claim(void)
{
	struct sesame_token t = tok(1);
	char mailed[2048] = "[", uses[2048] = "[", *issue, *answer;
	struct sesame_store st;
	struct sesame_history h;
	struct sesame_err err = { "" };
	struct fake f;

	t.uid = 2000;
	issue = issue_of(&t, SESAME_ISSUER_MAIL);
	add_kv(mailed, sizeof(mailed), "/sesame/mailed/" TOKEN_HEX, issue, 1, 10);
	add_kv(uses, sizeof(uses), USES_OF("000003e8"), "{}", 1, 11);
	answer = open_snapshot(&st, &f, "[", mailed, uses);
	CHECK_EQ_INT(sesame_store_history(&st, t.id, &h, &err), 0);
	CHECK_EQ_INT(h.have_issue, 1);
	CHECK_EQ_INT(h.issue_claimed, 1);
	CHECK_EQ_INT(h.issue.uid, 2000);
	CHECK_EQ_INT(h.used, 1);
	CHECK_EQ_INT(h.n_use_uids, 1);
	CHECK(h.n_use_uids == 1 && h.use_uids[0] == 1000);
	sesame_history_clear(&h);
	sesame_store_close(&st);
	free(answer);
	free(issue);
}

/* What the use transaction's answer says. */
static void test_answers(void)
{
	struct sesame_err err = { "" };
	struct fake f = fake_default();

	f.txn = TXN_USED_UP;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_USED_UP);
	f.txn = TXN_REVOKED;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_REVOKED);
	f.txn = TXN_USER_REVOKED;
	f.n_txn = 0;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_REVOKED);
	CHECK_EQ_INT(f.n_txn, 1); /* the refusal's reads said why: no second form */
	/* a lease key that is missing: granted here (no grant answer in the
	 * script: the failure is "store unavailable", never a success) */
	f = fake_default();
	f.range = RANGE_EMPTY;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(f.n_grant, 1);
	CHECK_EQ_INT(f.n_txn, 0);
}

/* What the use transaction's request holds (json-c's plain form). */
#define TOP_PUT "\"success\":[{\"request_put\":"
#define VALUE_COMPARE "\"target\":\"VALUE\""

/* Did the i-th transaction sent hold text? */
static int sent(const struct fake *f, int i, const char *text)
{
	return f->bodies[i] != NULL && strstr(f->bodies[i], text) != NULL;
}

/* The use transaction puts the use record at its top level: etcd refuses
 * such a transaction under the NOSPACE alarm (nested puts it does not
 * cost). One transaction when the account was never revoked. */
static void test_use_txn_shape(void)
{
	struct sesame_err err = { "" };
	struct fake f = fake_default();

	f.keep_bodies = 1;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_OK);
	CHECK_EQ_INT(f.n_txn, 1);
	CHECK(sent(&f, 0, TOP_PUT));
	CHECK(!sent(&f, 0, VALUE_COMPARE));
	free_bodies(&f);
}

/* A per-user revocation older than the token: a second transaction that
 * compares its value, with the same top-level put; refusals that do not
 * settle are "store unavailable", never a success. */
static void test_user_revoked_before(void)
{
	static const char *const older_then_counted[] = {TXN_USER_REVOKED_BEFORE, TXN_COUNTED};
	static const char *const older_then_revoked[] = {TXN_USER_REVOKED_BEFORE,
							 TXN_USER_REVOKED};
	static const char *const older_twice[] = {TXN_USER_REVOKED_BEFORE};
	static const char *const refused_clean[] = {TXN_REFUSED_CLEAN};
	static const char *const flapping[] = {TXN_USER_REVOKED_BEFORE, TXN_REFUSED_CLEAN,
					       TXN_USER_REVOKED_BEFORE, TXN_COUNTED};
	struct sesame_err err = { "" };
	struct fake f = fake_default();

	f.script = older_then_counted;
	f.n_script = 2;
	f.keep_bodies = 1;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_OK);
	CHECK_EQ_INT(f.n_txn, 2);
	CHECK(sent(&f, 1, VALUE_COMPARE));
	CHECK(sent(&f, 1, TOP_PUT));
	free_bodies(&f);

	f = fake_default();
	f.script = older_then_revoked; /* revoked again in between */
	f.n_script = 2;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_REVOKED);
	CHECK_EQ_INT(f.n_txn, 2);
	free_bodies(&f);

	f = fake_default();
	f.script = older_twice; /* the value compare refused with no reason read */
	f.n_script = 1;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "without its reason") != NULL);
	CHECK_EQ_INT(f.n_txn, 2);
	free_bodies(&f);

	f = fake_default();
	f.script = refused_clean;
	f.n_script = 1;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(f.n_txn, 1);
	free_bodies(&f);

	f = fake_default();
	f.script = flapping; /* the revocation comes and goes: a bounded number of tries */
	f.n_script = 4;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "kept changing") != NULL);
	CHECK_EQ_INT(f.n_txn, 3);
	free_bodies(&f);
}

/* Answers that do not parse, or parse into the wrong shape. */
static void test_unparsable(void)
{
	static const char *const bad[] = {
		"",
		"{",
		"{}",                                        /* no header */
		"{\"header\":{},\"succeeded\":true}",        /* no responses */
		"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_range\":{}}]}",
		"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		"{\"response_range\":{}}]}",                 /* no nested transaction */
		"{\"header\":{},\"responses\":[{\"response_range\":{}},{\"response_range\":{}},"
		"{\"response_range\":{}}]}",                 /* refused without a reason */
		"{\"header\":{},\"responses\":[{\"response_range\":{}},{\"response_range\":{}},"
		"{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X "\",\"value\":\"eHl6\"}]}}]}",
		/* a per-user revocation "xyz" */
		"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_txn\":{\"header\":{},"
		"\"succeeded\":true,\"responses\":[]}},{\"response_range\":{}}]}",
		/* counted, but the nested transaction put nothing */
		"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_put\":{}},"
		"{\"response_txn\":{\"header\":{},\"responses\":[]}},{\"response_range\":{}}]}",
	};
	struct sesame_err err = { "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake f = fake_default();
		f.txn = bad[i];
		CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
		CHECK(strstr(err.msg, "store unavailable: https://fake:2379") != NULL);
	}
	/* a lease key that holds no lease id */
	struct fake f = fake_default();
	f.range = "{\"header\":{},\"kvs\":[{\"key\":\"" KEY_X "\",\"value\":\"eHl6\"}]}";
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "lease") != NULL);
}

/* NOSPACE: the count's write fails; an unlimited token (no write) is
 * refused too while the alarm is raised: revocations cannot be written. */
static void test_nospace(void)
{
	struct sesame_err err = { "" };
	struct fake f = fake_default();

	f.fail_path = "/v3/kv/txn";
	f.fail_kind = SESAME_ETCD_FAIL_NOSPACE;
	f.fail_msg = "etcdserver: mvcc: database space exceeded";
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "database space exceeded") != NULL);

	f = fake_default();
	f.status = STATUS_NOSPACE;
	CHECK_EQ_INT(redeem_with(&f, 0, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "NOSPACE") != NULL);
	CHECK_EQ_INT(f.n_txn, 0);
	f = fake_default();
	f.txn = TXN_READ_CLEAN;
	CHECK_EQ_INT(redeem_with(&f, 0, &err), SESAME_OK);
}

/* A verifier's credentials: writing a revocation is refused by RBAC, and
 * the message says whose credentials it takes. */
static void test_denied(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t = tok(1);
	struct fake f = fake_default();

	f.fail_path = "/v3/kv/txn";
	f.fail_kind = SESAME_ETCD_FAIL_DENIED;
	f.fail_msg = "etcdserver: permission denied";
	open_fake(&st, &f);
	CHECK_EQ_INT(sesame_store_revoke(&st, &t, (int64_t)time(NULL), &err), -1);
	CHECK(strstr(err.msg, "only issuers may") != NULL);
	CHECK(strstr(err.msg, "permission denied") != NULL);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, 1000, (int64_t)time(NULL), &err), -1);
	CHECK(strstr(err.msg, "only issuers may") != NULL);
	/* a login with the same failure: unavailable, never a success */
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, (int64_t)time(NULL), &err),
		     SESAME_STORE_UNAVAILABLE);
	sesame_store_close(&st);
}

/* Every other failure of the transport: store unavailable. */
static void test_transport_failures(void)
{
	static const enum sesame_etcd_failure kinds[] = {
		SESAME_ETCD_FAIL_UNREACHABLE, SESAME_ETCD_FAIL_TIMEOUT, SESAME_ETCD_FAIL_TLS,
		SESAME_ETCD_FAIL_AUTH, SESAME_ETCD_FAIL_PROTOCOL, SESAME_ETCD_FAIL_LOCAL,
	};
	struct sesame_err err = { "" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		for (int path = 0; path < 2; path++) {
			struct fake f = fake_default();
			f.fail_path = path ? "/v3/kv/txn" : "/v3/kv/range";
			f.fail_kind = kinds[i];
			f.fail_msg = "failed";
			CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
			CHECK(strstr(err.msg, "https://fake:2379") != NULL);
		}
	}
}

/* A lease key naming a lease that is gone: etcd refuses the put, the
 * store forgets the key (only if it still names that lease) and counts
 * with a fresh lease, once; a second refusal is "store unavailable". */
static void test_lease_gone(void)
{
	struct sesame_err err = { "" };
	struct fake f = fake_default();

	f.fail_path = "/v3/kv/txn";
	f.fail_kind = SESAME_ETCD_FAIL_PROTOCOL;
	f.fail_msg = "etcdserver: requested lease not found";
	f.fail_times = 1;
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_OK);
	CHECK_EQ_INT(f.n_txn, 3); /* the count, the forgetting, the count again */

	f = fake_default();
	f.fail_path = "/v3/kv/txn";
	f.fail_kind = SESAME_ETCD_FAIL_PROTOCOL;
	f.fail_msg = "etcdserver: requested lease not found";
	CHECK_EQ_INT(redeem_with(&f, 1, &err), SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(f.n_txn, 2); /* the forgetting failed too: no third try */
}

/* status (--inspect) gives what redeem would: an expired token is
 * "expired" even when the cluster cannot be reached. */
static void test_status(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t = tok(2);
	struct fake f = fake_default();
	unsigned used = 9;

	f.txn = "{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_range\":{}},"
		"{\"response_range\":{}},{\"response_range\":{\"kvs\":[{\"key\":\"" KEY_X
		"\",\"version\":\"1\"}],\"count\":\"1\"}}]}";
	open_fake(&st, &f);
	CHECK_EQ_INT(sesame_store_status(&st, &t, (int64_t)time(NULL), &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 1);
	CHECK_EQ_INT(sesame_store_status(&st, &t, (int64_t)t.issued + t.lifetime, &used, &err),
		     SESAME_EXPIRED);
	f.fail_path = "/v3/kv/txn";
	f.fail_kind = SESAME_ETCD_FAIL_TIMEOUT;
	f.fail_msg = "Timeout was reached";
	CHECK_EQ_INT(sesame_store_status(&st, &t, (int64_t)time(NULL), &used, &err),
		     SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(sesame_store_status(&st, &t, (int64_t)t.issued + t.lifetime, &used, &err),
		     SESAME_EXPIRED);
	sesame_store_close(&st);
}

/* gc has nothing to do: leases expire the records. */
static void test_gc(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats stats = {1, 1, 1};
	struct fake f = fake_default();

	open_fake(&st, &f);
	CHECK_EQ_INT(sesame_store_gc(&st, (int64_t)time(NULL), &stats, &err), 0);
	CHECK_EQ_INT(stats.removed + stats.kept + stats.files_rewritten, 0);
	CHECK_EQ_INT(f.n_txn, 0);
	sesame_store_close(&st);
}

/* What --migrate-store reads of a file store: every token with its
 * count, use details, revocation and ledger record; per-user revocations
 * (the latest per uid); nothing of unlimited tokens (never written). */
static void test_export_file(void)
{
	const char *dir = test_tmpdir("export");
	const struct sesame_use use = {"h1", "sshd", "203.0.113.9", "bob", "pts/1"};
	struct sesame_store st;
	struct sesame_store_export ex;
	struct sesame_err err = { "" };
	struct sesame_token used = tok(3), revoked = tok(2), any = tok(0);
	struct sesame_issue is;
	char state[1200];
	int64_t now = (int64_t)time(NULL);
	int seen = 0;

	snprintf(state, sizeof(state), "%s/state", dir);
	revoked.id[1] = 1;
	any.id[1] = 2;
	CHECK_EQ_INT(sesame_store_open_file(&st, state, 1, &err), 0);
	sesame_issue_init(&is, &used);
	snprintf(is.note, sizeof(is.note), "moved");
	CHECK_EQ_INT(sesame_store_record_issue(&st, &is, &err), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &used, &use, now, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &used, NULL, now + 1, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &revoked, now, &err), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, now, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, 1234, 50, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, 1234, 70, &err), 0);
	sesame_store_close(&st);

	CHECK_EQ_INT(sesame_store_export_file(state, &ex, &err), 0);
	CHECK_EQ_INT(ex.n_tokens, 2);
	for (size_t i = 0; i < ex.n_tokens; i++) {
		const struct sesame_export_token *t = &ex.tokens[i];
		CHECK_EQ_INT(t->uid, 1000);
		CHECK_EQ_INT(t->expires, (int64_t)used.issued + used.lifetime);
		if (memcmp(t->id, used.id, SESAME_ID_BYTES) == 0) {
			seen |= 1;
			CHECK_EQ_INT(t->h.used, 2);
			CHECK_EQ_INT(t->h.n_uses, 2);
			CHECK_EQ_INT(t->h.have_issue, 1);
			CHECK(strcmp(t->h.issue.note, "moved") == 0);
			CHECK(t->h.n_uses == 2 && strcmp(t->h.uses[0].rhost, "203.0.113.9") == 0);
			CHECK(t->h.n_uses == 2 && t->h.uses[1].time == now + 1);
			CHECK_EQ_INT(t->h.revoked, 0);
		} else if (memcmp(t->id, revoked.id, SESAME_ID_BYTES) == 0) {
			seen |= 2;
			CHECK_EQ_INT(t->h.revoked, 1);
			CHECK_EQ_INT(t->h.revoked_at, now);
			CHECK_EQ_INT(t->h.used, 0);
		}
	}
	CHECK_EQ_INT(seen, 3);
	CHECK_EQ_INT(ex.n_users, 1);
	CHECK(ex.n_users == 1 && ex.users[0].uid == 1234 && ex.users[0].before == 70);
	sesame_store_export_free(&ex);
	/* a directory that is not a store: an error, nothing read */
	snprintf(state, sizeof(state), "%s/missing", dir);
	CHECK_EQ_INT(sesame_store_export_file(state, &ex, &err), -1);
	CHECK_EQ_INT(ex.n_tokens, 0);
	test_rmtree(dir);
}


/* ---- --migrate-store: every file use imported exactly once ---- */

/* answers to an import's transaction: added, or its record was there */
#define TXN_IMPORTED                                                                      \
	"{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_put\":{}},"             \
	"{\"response_txn\":{\"header\":{},\"succeeded\":true,\"responses\":"                  \
	"[{\"response_put\":{}}]}}]}"
#define TXN_THERE "{\"header\":{}}"

/* The key at a path of names and indexes ("compare", "0", "key") of a
 * body sent, decoded; NULL when there is none. */
static char *body_key(const char *body, const char *const *path, size_t n)
{
	json_object *root = json_tokener_parse(body), *o = root;
	char *key = NULL;
	size_t len;

	for (size_t i = 0; o != NULL && i < n; i++) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(path[i]));
		else if (!json_object_object_get_ex(o, path[i], &o))
			o = NULL;
	}
	if (o == NULL || !json_object_is_type(o, json_type_string) ||
	    sesame_etcd_b64_decode(json_object_get_string(o), &key, &len) != 0)
		key = NULL;
	json_object_put(root);
	return key;
}

static const char *const CMP_KEY[] = {"compare", "0", "key"};
static const char *const CMP_SECOND[] = {"compare", "1"};
static const char *const TOP_PUT_KEY[] = {"success", "0", "request_put", "key"};
static const char *const COUNTER_PUT_KEY[] = {"success", "1", "request_txn", "success", "0",
					       "request_put", "key"};

/* The shape of an import's transaction i: absent(RECORD) -> put RECORD at
 * the top, one more on the counter inside; no compare on the counter (an
 * imported use adds to whatever etcd counted). The record's key into
 * record. */
static void check_import_txn(const struct fake *f, int i, char record[ETCD_KEY_MAX_TEST])
{
	const char *counter = "/sesame/uses/ab0000000000-000003e8";
	char *cmp = body_key(f->bodies[i], CMP_KEY, 3);
	char *put = body_key(f->bodies[i], TOP_PUT_KEY, 4);
	char *count = body_key(f->bodies[i], COUNTER_PUT_KEY, 7);
	json_object *root = json_tokener_parse(f->bodies[i]), *second = root;

	CHECK(cmp != NULL && put != NULL && strcmp(cmp, put) == 0);
	CHECK(cmp != NULL && strncmp(cmp, counter, strlen(counter)) == 0 &&
	      cmp[strlen(counter)] == '/' && strstr(cmp, "-import-") != NULL);
	CHECK(count != NULL && strcmp(count, counter) == 0);
	for (size_t k = 0; second != NULL && k < 2; k++)
		if (!json_object_is_type(second, json_type_array))
			second = json_object_object_get_ex(second, CMP_SECOND[k], &second) ? second
											   : NULL;
		else
			second = json_object_array_get_idx(second, 1);
	CHECK(second == NULL);
	snprintf(record, ETCD_KEY_MAX_TEST, "%s", cmp != NULL ? cmp : "");
	json_object_put(root);
	free(cmp);
	free(put);
	free(count);
}

/* One token of uid 1000 with three uses in the file store: two with
 * details in one second (told apart by their place), one of sesame 0.1
 * (no details); revoked when asked. */
static void export_one(struct sesame_store_export *ex, struct sesame_export_token *t,
		       struct sesame_ledger_use uses[3], int revoked)
{
	int64_t now = (int64_t)time(NULL);

	memset(ex, 0, sizeof(*ex));
	memset(t, 0, sizeof(*t));
	memset(uses, 0, 3 * sizeof(*uses));
	t->id[0] = 0xab;
	t->uid = 1000;
	t->expires = now + 900;
	for (int i = 0; i < 2; i++) {
		uses[i].time = now - 60;
		snprintf(uses[i].host, sizeof(uses[i].host), "filehost");
		snprintf(uses[i].service, sizeof(uses[i].service), "sshd");
	}
	uses[2].time = -1;
	t->h.uses = uses;
	t->h.n_uses = 3;
	t->h.used = 3;
	t->h.revoked = revoked;
	t->h.revoked_at = revoked ? now : -1;
	ex->tokens = t;
	ex->n_tokens = 1;
}

static void import_run(struct fake *f, const struct sesame_store_export *ex, const char *source,
		       int expect, struct sesame_import_stats *stats)
{
	struct sesame_store st;
	struct sesame_err err = { "" };

	open_fake(&st, f);
	CHECK_EQ_INT(sesame_store_import_etcd(&st, ex, source, (int64_t)time(NULL), stats, &err),
		     expect);
	if (expect != 0)
		CHECK(strstr(err.msg, "store unavailable") != NULL ||
		      strstr(err.msg, "may not write") != NULL);
	sesame_store_close(&st);
}

/* A run of the three uses of export_one against transaction answers in
 * turn; the records each transaction asked for into keys. */
static void import_scripted(struct fake *f, const char *const *script, int n,
			    const struct sesame_store_export *ex, struct sesame_import_stats *stats,
			    char keys[3][ETCD_KEY_MAX_TEST])
{
	*f = fake_default();
	f->script = script;
	f->n_script = n;
	f->keep_bodies = 1;
	import_run(f, ex, "filehost", 0, stats);
	for (int i = 0; i < 3; i++)
		check_import_txn(f, i, keys[i]);
	free_bodies(f);
}

/* A run whose every transaction fails this way: -1. */
static void import_failing(struct fake *f, enum sesame_etcd_failure kind, const char *msg,
			   const struct sesame_store_export *ex, struct sesame_import_stats *stats)
{
	*f = fake_default();
	f->fail_path = "/v3/kv/txn";
	f->fail_kind = kind;
	f->fail_msg = msg;
	import_run(f, ex, "filehost", -1, stats);
}

static void test_import_uses(void)
{
	static const char *const first[] = {TXN_IMPORTED, TXN_IMPORTED, TXN_THERE};
	static const char *const again[] = {TXN_THERE};
	struct sesame_store_export ex;
	struct sesame_export_token t;
	struct sesame_ledger_use uses[3];
	struct sesame_import_stats stats;
	struct fake f = fake_default();
	char keys[2][3][ETCD_KEY_MAX_TEST], other[ETCD_KEY_MAX_TEST];

	export_one(&ex, &t, uses, 0);
	/* a first run: two added, one some other run added meanwhile */
	import_scripted(&f, first, 3, &ex, &stats, keys[0]);
	CHECK_EQ_INT(f.n_txn, 3);
	CHECK_EQ_INT(stats.uses, 2);
	CHECK_EQ_INT(stats.uses_there, 1);
	CHECK_EQ_INT(stats.tokens, 1);
	/* every use its own record, even two alike in one second */
	CHECK(strcmp(keys[0][0], keys[0][1]) != 0 && strcmp(keys[0][1], keys[0][2]) != 0 &&
	      strcmp(keys[0][0], keys[0][2]) != 0);

	/* run again: the same records asked for, nothing added */
	import_scripted(&f, again, 1, &ex, &stats, keys[1]);
	CHECK_EQ_INT(stats.uses, 0);
	CHECK_EQ_INT(stats.uses_there, 3);
	for (int i = 0; i < 3; i++)
		CHECK(strcmp(keys[0][i], keys[1][i]) == 0);

	/* another host's file store: a use without details is its own */
	f = fake_default();
	f.keep_bodies = 1;
	f.txn = TXN_IMPORTED;
	import_run(&f, &ex, "otherhost", 0, &stats);
	CHECK_EQ_INT(stats.uses, 3);
	check_import_txn(&f, 0, other);
	CHECK(strcmp(other, keys[0][0]) == 0);
	check_import_txn(&f, 2, other);
	CHECK(strcmp(other, keys[0][2]) != 0);
	free_bodies(&f);

	/* an answer that does not parse, a timeout: -1, store unavailable */
	f = fake_default();
	f.txn = "{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_put\":{}}]}";
	import_run(&f, &ex, "filehost", -1, &stats);
	CHECK_EQ_INT(f.n_txn, 1);
	import_failing(&f, SESAME_ETCD_FAIL_TIMEOUT, "Timeout was reached", &ex, &stats);
	CHECK_EQ_INT(stats.uses, 0);
}

/* A revoked token: its revocation goes before any count moves, so a
 * verifier's credentials (refused) move no count. */
static void test_import_order(void)
{
	struct sesame_store_export ex;
	struct sesame_export_token t;
	struct sesame_ledger_use uses[3];
	struct sesame_import_stats stats;
	struct fake f = fake_default();
	char *first;

	export_one(&ex, &t, uses, 1);
	f.keep_bodies = 1;
	f.txn = TXN_IMPORTED; /* also "created" for the revocation's put-if-absent */
	import_run(&f, &ex, "filehost", 0, &stats);
	CHECK_EQ_INT(f.n_txn, 4);
	CHECK_EQ_INT(stats.revoked, 1);
	CHECK_EQ_INT(stats.uses, 3);
	first = body_key(f.bodies[0], CMP_KEY, 3);
	CHECK(first != NULL && strcmp(first, "/sesame/revoked/ab0000000000-000003e8") == 0);
	free(first);
	free_bodies(&f);

	import_failing(&f, SESAME_ETCD_FAIL_DENIED, "etcdserver: permission denied", &ex, &stats);
	CHECK_EQ_INT(f.n_txn, 1);
	CHECK_EQ_INT(stats.uses, 0);
}

int main(void)
{
	test_clock_skew();
	test_clock_skew_writes();
	test_revoke_user_cutoff();
	test_revoke_user_cutoff_stale_now();
	test_history_skips_malformed();
	test_history_mailed_claim();
	test_history_skips_nul_keys();
	test_history_uses_too_large();
	test_answers();
	test_use_txn_shape();
	test_user_revoked_before();
	test_unparsable();
	test_nospace();
	test_denied();
	test_transport_failures();
	test_gc();
	test_status();
	test_lease_gone();
	test_export_file();
	test_import_uses();
	test_import_order();
	return test_finish("store-etcd");
}
