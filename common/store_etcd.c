/* The etcd store: counting uses, revocations, per-user revocations, mail
 * limits and leases, each one transaction that a quorum commits before it
 * answers (layout: store_etcd.h; design: docs/fleet.md). Every failure is
 * SESAME_STORE_UNAVAILABLE with the endpoint and the reason in err. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "store_etcd.h"

static struct store_etcd *etcd_of(struct sesame_store *st)
{
	return st->impl;
}

int etcd_key(const struct store_etcd *e, char key[ETCD_KEY_MAX], struct sesame_err *err,
	     const char *fmt, ...)
{
	size_t n = strlen(e->prefix);
	va_list ap;
	int r;

	memcpy(key, e->prefix, n + 1);
	va_start(ap, fmt);
	r = vsnprintf(key + n, ETCD_KEY_MAX - n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= ETCD_KEY_MAX - n) {
		sesame_err_set(err, "store unavailable: etcd key too long");
		return -1;
	}
	return 0;
}

void etcd_token_key(char out[ETCD_TOKEN_KEY], const uint8_t id[SESAME_ID_BYTES], uint32_t uid)
{
	char hex[SESAME_ID_TEXT_SIZE];

	etcd_id_hex(hex, id);
	snprintf(out, ETCD_TOKEN_KEY, "%s-%08" PRIx32, hex, uid);
}

void etcd_fail(const struct store_etcd *e, struct sesame_err *err, const char *fmt, ...)
{
	char what[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sesame_err_set(err, "store unavailable: %s: %s", sesame_etcd_last_endpoint(e->s), what);
}

void etcd_denied_hint(struct store_etcd *e, const char *what, struct sesame_err *err)
{
	struct sesame_err why = *err;

	/* The message too: a refused put of a lease key is followed by the
	 * revocation of our lease, which is the client's last call then. */
	if (sesame_etcd_last_failure(e->s) != SESAME_ETCD_FAIL_DENIED &&
	    strstr(err->msg, "etcdserver: permission denied") == NULL)
		return;
	sesame_err_set(err, "%s: the etcd user of this host may not write them (only issuers "
		       "may: etcd_user and etcd_password_file of an issuer): %s", what, why.msg);
}

int64_t etcd_parse_before(const char *value, size_t len)
{
	int64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (value[i] - '0');
	}
	return v;
}

/* ---- leases ---- */

static const char *const lease_dirs[] = {"uses", "issued"};

static int parse_lease(const struct store_etcd *e, const struct sesame_etcd_kvs *kvs,
		       int64_t *lease, struct sesame_err *err)
{
	int64_t v = etcd_parse_before(kvs->kv[0].value, kvs->kv[0].value_len);

	if (v <= 0) {
		etcd_fail(e, err, "a lease key that does not hold a lease id");
		return -1;
	}
	*lease = v;
	return 0;
}

/* A lease of our own for the bucket, recorded unless someone was first. */
static int grant_lease(struct store_etcd *e, const char *key, int64_t ttl, int64_t *lease,
		       struct sesame_err *err)
{
	struct sesame_etcd_kvs existing;
	struct sesame_err ignored;
	char value[24];
	int64_t mine;
	int created = 0, r = -1;

	if (sesame_etcd_lease_grant(e->s, ttl, &mine, err) != 0)
		return -1;
	snprintf(value, sizeof(value), "%" PRId64, mine);
	if (sesame_etcd_put_if_absent(e->s, key, value, strlen(value), mine, &created, &existing,
				      err) != 0) {
		/* (a verifier asking for an issuer's lease key): ours goes now
		 * rather than at the end of its TTL */
		(void)sesame_etcd_lease_revoke(e->s, mine, &ignored);
		return -1;
	}
	if (created) {
		*lease = mine;
		return 0;
	}
	if (existing.n == 1)
		r = parse_lease(e, &existing, lease, err);
	else
		etcd_fail(e, err, "a lease key that came and went");
	sesame_etcd_kvs_free(&existing);
	/* Ours holds nothing; if revoking it fails it expires on its own. */
	(void)sesame_etcd_lease_revoke(e->s, mine, &ignored);
	return r;
}

static int64_t bucket_of(int64_t until)
{
	return (until / SESAME_ETCD_LEASE_BUCKET + 1) * SESAME_ETCD_LEASE_BUCKET;
}

int etcd_lease_forget(struct store_etcd *e, enum etcd_lease_kind kind, int64_t until,
		      int64_t lease, struct sesame_err *err)
{
	char key[ETCD_KEY_MAX], value[24];
	struct sesame_etcd_compare same = {.target = SESAME_ETCD_VALUE,
					   .result = SESAME_ETCD_EQUAL, .value = value};
	struct sesame_etcd_op drop = {.kind = SESAME_ETCD_OP_DELETE};
	struct sesame_etcd_txn txn = {&same, 1, &drop, 1, NULL, 0};
	struct sesame_etcd_txn_result res;

	snprintf(value, sizeof(value), "%" PRId64, lease);
	same.value_len = strlen(value);
	if (etcd_key(e, key, err, "leases/%s/%" PRId64, lease_dirs[kind], bucket_of(until)) != 0)
		return -1;
	same.key = key;
	drop.key = key;
	/* Only if it still names that lease: another host may have fixed it. */
	if (sesame_etcd_txn(e->s, &txn, &res, err) != 0)
		return -1;
	sesame_etcd_txn_result_free(&res);
	return 0;
}

static enum sesame_reason clock_ok(struct store_etcd *e, struct sesame_err *err);

int etcd_lease_for(struct store_etcd *e, enum etcd_lease_kind kind, int64_t until, int64_t now,
		   int64_t *lease, struct sesame_err *err)
{
	int64_t bucket = bucket_of(until);
	/* Counted from the grant by the cluster's clock: the margin covers a
	 * host clock up to the refused skew ahead of it. */
	int64_t ttl = bucket - now + e->skew_max + 60;
	struct sesame_etcd_kvs kvs;
	char key[ETCD_KEY_MAX];
	int r;

	if (ttl < 60)
		ttl = 60;
	if (etcd_key(e, key, err, "leases/%s/%" PRId64, lease_dirs[kind], bucket) != 0 ||
	    sesame_etcd_get(e->s, key, &kvs, err) != 0)
		return -1;
	/* The TTL and the record's expiry are read on this host's clock:
	 * a writer whose clock is far off (an issuer a day ahead would get
	 * a lease of a minute for a revocation) writes nothing. */
	if (clock_ok(e, err) != SESAME_OK) {
		sesame_etcd_kvs_free(&kvs);
		return -1;
	}
	if (kvs.n == 1)
		r = parse_lease(e, &kvs, lease, err);
	else
		r = grant_lease(e, key, ttl, lease, err);
	sesame_etcd_kvs_free(&kvs);
	return r;
}

/* ---- the clock ---- */

/* Records live until expiry plus the grace by the cluster's clock, and
 * a token's expiry is read on this host's: refuse when they disagree. */
static enum sesame_reason clock_ok(struct store_etcd *e, struct sesame_err *err)
{
	int64_t skew;

	if (sesame_etcd_clock_skew(e->s, &skew) != 0) {
		etcd_fail(e, err, "no answer with a Date header, so this host's clock cannot be "
			  "checked against the cluster's");
		return SESAME_STORE_UNAVAILABLE;
	}
	if (skew > e->skew_max) {
		sesame_err_set(err, "etcd store: %s: this host's clock is %" PRId64 " s behind "
			       "the cluster's (at most %" PRId64 " s allowed: etcd_clock_skew)",
			       sesame_etcd_last_endpoint(e->s), skew, e->skew_max);
		return SESAME_CLOCK_BEHIND;
	}
	if (skew < -e->skew_max) {
		etcd_fail(e, err, "this host's clock is %" PRId64 " s ahead of the cluster's (at "
			  "most %" PRId64 " s allowed: etcd_clock_skew)", -skew, e->skew_max);
		return SESAME_STORE_UNAVAILABLE;
	}
	return SESAME_OK;
}

/* ---- reading a token's state ---- */

static int64_t expiry_of(const struct sesame_token *t)
{
	return (int64_t)t->issued + (int64_t)t->lifetime;
}

struct token_keys {
	char uses[ETCD_KEY_MAX];
	char revoked[ETCD_KEY_MAX];
	char user[ETCD_KEY_MAX];
};

static int token_keys(const struct store_etcd *e, const struct sesame_token *t,
		      struct token_keys *k, struct sesame_err *err)
{
	char tk[ETCD_TOKEN_KEY];

	etcd_token_key(tk, t->id, t->uid);
	if (etcd_key(e, k->uses, err, "uses/%s", tk) != 0 ||
	    etcd_key(e, k->revoked, err, "revoked/%s", tk) != 0 ||
	    etcd_key(e, k->user, err, "revoked-users/%08" PRIx32, t->uid) != 0)
		return -1;
	return 0;
}

/* Does the revoked-users value (if any) end a token issued at `issued`?
 * 1 yes, 0 no, -1 a value that does not parse. */
static int user_revoked(const struct sesame_etcd_kvs *kvs, int64_t issued)
{
	int64_t before;

	if (kvs->n == 0)
		return 0;
	before = etcd_parse_before(kvs->kv[0].value, kvs->kv[0].value_len);
	if (before < 0)
		return -1;
	return issued <= before;
}

static enum sesame_reason malformed(const struct store_etcd *e, struct sesame_err *err,
				    const char *what)
{
	etcd_fail(e, err, "%s does not parse", what);
	return SESAME_STORE_UNAVAILABLE;
}

/* The three reads as one linearizable snapshot: revoked/K,
 * revoked-users/U, uses/K (its version is the count). */
static enum sesame_reason read_state(struct store_etcd *e, const struct sesame_token *t,
				     unsigned *used, struct sesame_err *err)
{
	struct token_keys k;
	struct sesame_etcd_op reads[3];
	struct sesame_etcd_txn txn = {NULL, 0, reads, 3, NULL, 0};
	struct sesame_etcd_txn_result res;
	enum sesame_reason reason = SESAME_STORE_UNAVAILABLE;
	int by_user;

	*used = 0;
	if (token_keys(e, t, &k, err) != 0)
		return SESAME_STORE_UNAVAILABLE;
	reads[0] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = k.revoked};
	reads[1] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = k.user};
	reads[2] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = k.uses};
	if (sesame_etcd_txn(e->s, &txn, &res, err) != 0)
		return SESAME_STORE_UNAVAILABLE;
	if (!res.succeeded || res.n != 3 || res.ops[0].kind != SESAME_ETCD_OP_RANGE ||
	    res.ops[1].kind != SESAME_ETCD_OP_RANGE || res.ops[2].kind != SESAME_ETCD_OP_RANGE) {
		reason = malformed(e, err, "a transaction answer");
		goto out;
	}
	if (res.ops[2].range.n == 1)
		*used = (unsigned)(res.ops[2].range.kv[0].version > UINT32_MAX
					   ? UINT32_MAX : res.ops[2].range.kv[0].version);
	by_user = user_revoked(&res.ops[1].range, t->issued);
	if (by_user < 0)
		reason = malformed(e, err, "a per-user revocation");
	else if (res.ops[0].range.n > 0 || by_user)
		reason = SESAME_REVOKED;
	else if (t->uses > 0 && *used >= t->uses)
		reason = SESAME_USED_UP;
	else
		reason = SESAME_OK;
out:
	sesame_etcd_txn_result_free(&res);
	return reason;
}

static enum sesame_reason etcd_status_op(struct sesame_store *st, const struct sesame_token *t,
					 int64_t now, unsigned *used, struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	unsigned count = 0;
	enum sesame_reason reason = read_state(e, t, &count, err), clock;

	if (used != NULL)
		*used = count;
	/* What redeem would say: an expired token is expired whatever the
	 * cluster answers (redeem asks it nothing); the count is then only
	 * what could be read. */
	if (now >= expiry_of(t))
		return SESAME_EXPIRED;
	if (reason == SESAME_STORE_UNAVAILABLE)
		return reason;
	clock = clock_ok(e, err);
	return clock != SESAME_OK ? clock : reason;
}

/* ---- counting a use ---- */

/* The transaction of one use (docs/fleet.md, "How uses are counted"):
 *
 *   compare version(revoked/K) == 0, USER, version(uses/K) < k
 *   then    put uses/K/NONCE (lease),
 *           txn: compare version(uses/K) == 0
 *                then put uses/K (lease)
 *                else put uses/K (keeps its lease),
 *           range uses/K
 *   else    range revoked/K, range uses/K, range revoked-users/U
 *
 * USER is version(revoked-users/U) == 0 when the account was never
 * revoked, else value(revoked-users/U) < ISSUED: etcd fails every value
 * compare on a missing key, so the first form is tried first and the
 * second only when the refusal's reads show a per-user revocation older
 * than the token. ISSUED is the token's issue time in the 20 digits the
 * revoked-users values use, so the byte order is the numeric order.
 *
 * The put of the use record is at the top of the success branch on
 * purpose: under a NOSPACE alarm etcd refuses a transaction only when its
 * top-level operations hold a put (etcd 3.4 costs nested ones at 0), and
 * a use counted under the alarm would be a login the alarm should stop. */
enum use_form { USE_USER_NEVER_REVOKED, USE_USER_REVOKED_BEFORE, USE_FORMS };

void etcd_counter_put_init(struct etcd_counter_put *c, const char *counter, const char *value,
			   int64_t lease)
{
	c->is_new = (struct sesame_etcd_compare){.key = counter, .target = SESAME_ETCD_VERSION,
						 .result = SESAME_ETCD_EQUAL, .number = 0};
	c->put_new = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = counter,
					     .value = value, .value_len = strlen(value),
					     .lease = lease};
	c->put_again = c->put_new;
	c->put_again.lease = 0;
	c->put_again.ignore_lease = 1;
	c->txn = (struct sesame_etcd_txn){&c->is_new, 1, &c->put_new, 1, &c->put_again, 1};
	c->op = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_TXN, .txn = &c->txn};
}

int etcd_counter_put_answer_ok(const struct sesame_etcd_op_result *r)
{
	return r->kind == SESAME_ETCD_OP_TXN && r->txn != NULL && r->txn->n == 1 &&
	       r->txn->ops[0].kind == SESAME_ETCD_OP_PUT;
}

struct use_txn {
	struct sesame_etcd_compare cmp[3];
	struct sesame_etcd_op ok[3], no[3];
	struct etcd_counter_put p;
	struct sesame_etcd_txn txn;
	char detail[ETCD_KEY_MAX];
	char issued[24];
};

static void build_use_txn(struct use_txn *u, const struct token_keys *k, unsigned uses,
			  int64_t issued, enum use_form form, const char *value, int64_t lease)
{
	snprintf(u->issued, sizeof(u->issued), "%020" PRId64, issued);
	etcd_counter_put_init(&u->p, k->uses, value, lease);
	u->cmp[0] = (struct sesame_etcd_compare){.key = k->revoked, .target = SESAME_ETCD_VERSION,
						 .result = SESAME_ETCD_EQUAL, .number = 0};
	if (form == USE_USER_NEVER_REVOKED)
		u->cmp[1] = (struct sesame_etcd_compare){.key = k->user,
							 .target = SESAME_ETCD_VERSION,
							 .result = SESAME_ETCD_EQUAL, .number = 0};
	else
		u->cmp[1] = (struct sesame_etcd_compare){.key = k->user,
							 .target = SESAME_ETCD_VALUE,
							 .result = SESAME_ETCD_LESS, .value = u->issued,
							 .value_len = strlen(u->issued)};
	u->cmp[2] = (struct sesame_etcd_compare){.key = k->uses, .target = SESAME_ETCD_VERSION,
						 .result = SESAME_ETCD_LESS, .number = uses};
	u->ok[0] = u->p.put_new;
	u->ok[0].key = u->detail;
	u->ok[1] = u->p.op;
	u->ok[2] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = k->uses};
	u->no[0] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = k->revoked};
	u->no[1] = u->ok[2];
	u->no[2] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = k->user};
	u->txn = (struct sesame_etcd_txn){u->cmp, 3, u->ok, 3, u->no, 3};
}

static int all_ranges(const struct sesame_etcd_txn_result *res)
{
	for (size_t i = 0; i < res->n; i++)
		if (res->ops[i].kind != SESAME_ETCD_OP_RANGE)
			return 0;
	return 1;
}

/* What the answer to build_use_txn says. A refusal whose only reason is
 * the per-user revocation's compare sets *next to the form that fits the
 * per-user revocation the refusal read, and says SESAME_OK. */
static enum sesame_reason read_use_answer(const struct store_etcd *e,
					  const struct sesame_etcd_txn_result *res,
					  const struct sesame_token *t, enum use_form form,
					  enum use_form *next, struct sesame_err *err)
{
	int by_user;

	*next = USE_FORMS;
	if (res->succeeded) {
		if (res->n != 3 || res->ops[0].kind != SESAME_ETCD_OP_PUT ||
		    !etcd_counter_put_answer_ok(&res->ops[1]) ||
		    res->ops[2].kind != SESAME_ETCD_OP_RANGE)
			return malformed(e, err, "a transaction answer");
		return SESAME_OK;
	}
	if (res->n != 3 || !all_ranges(res))
		return malformed(e, err, "a transaction answer");
	by_user = user_revoked(&res->ops[2].range, t->issued);
	if (by_user < 0)
		return malformed(e, err, "a per-user revocation");
	if (res->ops[0].range.n > 0 || by_user)
		return SESAME_REVOKED;
	if (res->ops[1].range.n == 1 && res->ops[1].range.kv[0].version >= t->uses)
		return SESAME_USED_UP;
	if ((res->ops[2].range.n > 0 ? USE_USER_REVOKED_BEFORE : USE_USER_NEVER_REVOKED) == form)
		return malformed(e, err, "a refused count without its reason");
	*next = form == USE_USER_NEVER_REVOKED ? USE_USER_REVOKED_BEFORE : USE_USER_NEVER_REVOKED;
	return SESAME_OK;
}

int etcd_use_key(const char *counter, int64_t time, char out[ETCD_KEY_MAX],
		 struct sesame_err *err)
{
	uint8_t rnd[8];
	int r;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		sesame_err_set(err, "store unavailable: no random bytes for a use record");
		return -1;
	}
	/* The time first: a token's uses list in the order they came. */
	r = snprintf(out, ETCD_KEY_MAX, "%s/%016" PRIx64 "-%02x%02x%02x%02x%02x%02x%02x%02x",
		     counter, (uint64_t)(time < 0 ? 0 : time), rnd[0], rnd[1], rnd[2], rnd[3],
		     rnd[4], rnd[5], rnd[6], rnd[7]);
	if (r < 0 || r >= ETCD_KEY_MAX) {
		sesame_err_set(err, "store unavailable: etcd key too long");
		return -1;
	}
	return 0;
}

/* A per-user revocation can appear, or go with its lease, between two
 * transactions: each refusal names the form to send next, a few times. */
#define USE_TRIES 3

/* One attempt at the use transaction with this lease. */
static enum sesame_reason try_count(struct store_etcd *e, const struct sesame_token *t,
				    const struct token_keys *k, const struct sesame_use *use,
				    int64_t now, int64_t lease, struct sesame_err *err)
{
	struct use_txn u;
	struct sesame_etcd_txn_result res;
	enum sesame_reason reason = SESAME_STORE_UNAVAILABLE;
	enum use_form form = USE_USER_NEVER_REVOKED, next = USE_FORMS;
	char *value = etcd_use_encode(use, now);

	if (value == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return SESAME_STORE_UNAVAILABLE;
	}
	if (etcd_use_key(k->uses, now, u.detail, err) != 0)
		goto out;
	for (int i = 0; i < USE_TRIES; i++, form = next) {
		build_use_txn(&u, k, t->uses, t->issued, form, value, lease);
		if (sesame_etcd_txn(e->s, &u.txn, &res, err) != 0) {
			reason = SESAME_STORE_UNAVAILABLE;
			goto out;
		}
		reason = read_use_answer(e, &res, t, form, &next, err);
		sesame_etcd_txn_result_free(&res);
		if (next == USE_FORMS)
			goto out;
	}
	etcd_fail(e, err, "the per-user revocation of this account kept changing (%d tries)",
		  USE_TRIES);
	reason = SESAME_STORE_UNAVAILABLE;
out:
	free(value);
	return reason;
}

/* etcd's answer to a put that names a lease that is gone. The whole
 * transaction is refused before anything is written. */
static int lease_gone(const struct sesame_err *err)
{
	return strstr(err->msg, "requested lease not found") != NULL;
}

static enum sesame_reason count_use(struct store_etcd *e, const struct sesame_token *t,
				    const struct sesame_use *use, int64_t now,
				    struct sesame_err *err)
{
	int64_t until = expiry_of(t) + SESAME_STORE_GRACE, lease;
	struct token_keys k;
	enum sesame_reason reason;

	if (token_keys(e, t, &k, err) != 0)
		return SESAME_STORE_UNAVAILABLE;
	/* Before writing: a host whose clock is off must not count a use
	 * (the lease's read is the first answer, and it checks the clock). */
	if (etcd_lease_for(e, ETCD_LEASE_USES, until, now, &lease, err) != 0) {
		struct sesame_err why = *err;

		/* Say "clock behind" when that is why; else the failure itself. */
		if (clock_ok(e, err) == SESAME_CLOCK_BEHIND)
			return SESAME_CLOCK_BEHIND;
		*err = why;
		return SESAME_STORE_UNAVAILABLE;
	}
	reason = try_count(e, t, &k, use, now, lease, err);
	/* A lease key naming a lease that is gone (revoked by hand, or
	 * written by a broken or hostile host): forget it, once, and take a
	 * fresh one, rather than refuse every first use of its hour. */
	if (reason == SESAME_STORE_UNAVAILABLE && lease_gone(err) &&
	    etcd_lease_forget(e, ETCD_LEASE_USES, until, lease, err) == 0 &&
	    etcd_lease_for(e, ETCD_LEASE_USES, until, now, &lease, err) == 0)
		reason = try_count(e, t, &k, use, now, lease, err);
	return reason;
}

/* Unlimited tokens write nothing; the cluster must still be able to
 * record a revocation (no NOSPACE alarm), or a token revoked meanwhile
 * could not be told from one that was not. */
static enum sesame_reason check_unlimited(struct store_etcd *e, const struct sesame_token *t,
					  struct sesame_err *err)
{
	struct sesame_etcd_status status;
	unsigned used;
	enum sesame_reason reason;

	if (sesame_etcd_status(e->s, &status, err) != 0)
		return SESAME_STORE_UNAVAILABLE;
	reason = clock_ok(e, err);
	if (reason != SESAME_OK)
		return reason;
	return read_state(e, t, &used, err);
}

static enum sesame_reason etcd_redeem(struct sesame_store *st, const struct sesame_token *t,
				      const struct sesame_use *use, int64_t now,
				      struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	enum sesame_reason reason;

	if (now >= expiry_of(t))
		return SESAME_EXPIRED;
	if (t->uses == 0)
		reason = check_unlimited(e, t, err);
	else
		reason = count_use(e, t, use, now, err);
	if (reason != SESAME_OK)
		return reason;
	/* The answer that counted may come from another member: checked again,
	 * and a use counted by a host with a wrong clock is not a login. */
	return clock_ok(e, err);
}

/* ---- revocations ---- */

static int etcd_revoke(struct sesame_store *st, const struct sesame_token *t, int64_t now,
		       struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	struct token_keys k;
	int64_t lease;
	char *value;
	int created = 0, r = -1;

	if (token_keys(e, t, &k, err) != 0 ||
	    etcd_lease_for(e, ETCD_LEASE_ISSUED, expiry_of(t) + SESAME_STORE_GRACE, now, &lease,
			   err) != 0)
		goto denied;
	value = etcd_revoked_encode(now, expiry_of(t));
	if (value == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	/* Revoking again changes nothing: the first time stays. */
	r = sesame_etcd_put_if_absent(e->s, k.revoked, value, strlen(value), lease, &created, NULL,
				      err);
	free(value);
	if (r == 0)
		return 0;
denied:
	etcd_denied_hint(e, "revocations", err);
	return -1;
}

/* revoked-users/UIDHEX = before, unless it already holds a later time:
 * only ever later, compare and put in one transaction. */
static int put_user_revocation(struct store_etcd *e, uint32_t uid, int64_t before,
			       int64_t lease, struct sesame_err *err)
{
	char key[ETCD_KEY_MAX], value[24];
	struct sesame_etcd_compare is_new, is_older;
	struct sesame_etcd_op put, later;
	struct sesame_etcd_txn older, txn;
	struct sesame_etcd_txn_result res;

	snprintf(value, sizeof(value), "%020" PRId64, before);
	if (etcd_key(e, key, err, "revoked-users/%08" PRIx32, uid) != 0)
		return -1;
	is_new = (struct sesame_etcd_compare){.key = key, .target = SESAME_ETCD_VERSION,
					      .result = SESAME_ETCD_EQUAL, .number = 0};
	is_older = (struct sesame_etcd_compare){.key = key, .target = SESAME_ETCD_VALUE,
						.result = SESAME_ETCD_LESS, .value = value,
						.value_len = strlen(value)};
	put = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = key, .value = value,
				      .value_len = strlen(value), .lease = lease};
	older = (struct sesame_etcd_txn){&is_older, 1, &put, 1, NULL, 0};
	later = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_TXN, .txn = &older};
	txn = (struct sesame_etcd_txn){&is_new, 1, &put, 1, &later, 1};
	if (sesame_etcd_txn(e->s, &txn, &res, err) != 0)
		return -1;
	sesame_etcd_txn_result_free(&res);
	return 0;
}

static int etcd_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			    struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	int64_t lease;

	if (etcd_lease_for(e, ETCD_LEASE_ISSUED, before + SESAME_MAX_LIFETIME + SESAME_STORE_GRACE,
			   before, &lease, err) != 0 ||
	    put_user_revocation(e, uid, before, lease, err) != 0) {
		etcd_denied_hint(e, "per-user revocations", err);
		return -1;
	}
	return 0;
}

/* A token's issue time is its issuer's clock, which may be up to
 * skew_max ahead of the cluster's: a cutoff at our own now would spare
 * what such an issuer minted in the last skew_max seconds (up to twice
 * that if we are behind). So the cutoff is the later of our clock and the
 * cluster's when its answer came (not `now`, taken before the config, the
 * account lookup, authentication and failover), one second more for the
 * Date header's whole seconds, plus skew_max, plus the budget of the put
 * that follows: an issuer may mint until the put commits. */
static int64_t user_cutoff(const struct store_etcd *e, int64_t now)
{
	int64_t at = now;

	if (sesame_etcd_answer_time(e->s, &at) != 0 || at < now)
		at = now;
	return at + 1 + e->skew_max + e->put_budget;
}

static int etcd_revoke_user_now(struct sesame_store *st, uint32_t uid, int64_t now,
				int64_t *before, struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	/* the latest cutoff a clock within the bound gives an answer that
	 * comes within the budget */
	int64_t latest = now + 2 * e->skew_max + 1 + 2 * e->put_budget, lease, skew = 0;

	if (etcd_lease_for(e, ETCD_LEASE_ISSUED,
			   latest + SESAME_MAX_LIFETIME + SESAME_STORE_GRACE, now, &lease, err) != 0)
		goto denied;
	/* etcd_lease_for checked the clock on an answer: the skew is known */
	if (sesame_etcd_clock_skew(e->s, &skew) != 0 || skew > e->skew_max ||
	    skew < -e->skew_max) {
		etcd_fail(e, err, "the cluster's clock is not known");
		return -1;
	}
	*before = user_cutoff(e, now);
	/* a slower start than the budget: a lease that lasts as long */
	if (*before > latest &&
	    etcd_lease_for(e, ETCD_LEASE_ISSUED,
			   *before + SESAME_MAX_LIFETIME + SESAME_STORE_GRACE, now, &lease, err) != 0)
		goto denied;
	if (put_user_revocation(e, uid, *before, lease, err) != 0)
		goto denied;
	return 0;
denied:
	etcd_denied_hint(e, "per-user revocations", err);
	return -1;
}

static int etcd_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				    struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	struct sesame_etcd_kvs kvs;
	char key[ETCD_KEY_MAX];
	int64_t v = -1;
	int r = 0;

	if (etcd_key(e, key, err, "revoked-users/%08" PRIx32, uid) != 0 ||
	    sesame_etcd_get(e->s, key, &kvs, err) != 0)
		return -1;
	if (kvs.n == 1) {
		v = etcd_parse_before(kvs.kv[0].value, kvs.kv[0].value_len);
		if (v < 0) {
			malformed(e, err, "a per-user revocation");
			r = -1;
		}
	}
	sesame_etcd_kvs_free(&kvs);
	if (before != NULL)
		*before = v;
	return r;
}

/* ---- the rest ---- */

static int etcd_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		   struct sesame_err *err)
{
	(void)st;
	(void)now;
	(void)err;
	memset(stats, 0, sizeof(*stats));
	return 0;
}

static void etcd_close(struct sesame_store *st)
{
	struct store_etcd *e = etcd_of(st);

	sesame_etcd_close(e->s);
	free(e->skipped);
	free(e);
}

static const struct sesame_store_ops etcd_ops = {
	.name = "etcd",
	.close = etcd_close,
	.redeem = etcd_redeem,
	.status = etcd_status_op,
	.revoke = etcd_revoke,
	.revoke_user = etcd_revoke_user,
	.revoke_user_now = etcd_revoke_user_now,
	.user_revoked_before = etcd_user_revoked_before,
	.mail_allow = store_etcd_mail_allow,
	.record_issue = store_etcd_record_issue,
	.list = store_etcd_list,
	.history = store_etcd_history,
	.skipped = store_etcd_skipped,
	.gc = etcd_gc,
};

int sesame_store_open_etcd_session(struct sesame_store *st, struct sesame_etcd *s,
				   struct sesame_err *err)
{
	struct store_etcd *e = calloc(1, sizeof(*e));

	st->ops = NULL;
	st->impl = NULL;
	if (e == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		sesame_etcd_close(s);
		return -1;
	}
	e->s = s;
	e->skew_max = SESAME_ETCD_DEFAULT_SKEW;
	e->put_budget = (SESAME_ETCD_DEFAULT_TIMEOUT_MS + 999) / 1000;
	snprintf(e->prefix, sizeof(e->prefix), "%s", sesame_etcd_prefix(s));
	st->ops = &etcd_ops;
	st->impl = e;
	return 0;
}

int sesame_store_open_etcd(struct sesame_store *st, const struct sesame_etcd_config *cfg,
			   const char *state_dir, struct sesame_err *err)
{
	struct sesame_etcd *s = NULL;

	st->ops = NULL;
	st->impl = NULL;
	if (sesame_etcd_config_validate(cfg, err) != 0 ||
	    sesame_etcd_open(&s, cfg, state_dir, err) != 0 ||
	    sesame_store_open_etcd_session(st, s, err) != 0)
		return -1;
	etcd_of(st)->skew_max = cfg->clock_skew;
	etcd_of(st)->put_budget = (cfg->timeout_ms + 999) / 1000;
	return 0;
}
