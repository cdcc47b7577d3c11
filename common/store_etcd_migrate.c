/* Moving a host from store = file to store = etcd: what the file store
 * exported (store_fs_export.c) written into etcd so that it keeps its
 * meaning: a used-up token stays used up, a revoked one revoked, a partly
 * used one keeps its remaining uses.
 *
 * Every use the file store recorded is added to etcd's count exactly once,
 * however often the migration runs: each gets a use record whose key is
 * made from the file record (uses/K/TIME-import-DIGEST), and the
 * transaction that adds one to the count also creates that key, only if
 * it is absent. Uses counted by etcd itself (logins on any host) have
 * random record keys and are never taken for imported ones, so after any
 * number of runs the count is the file's uses plus etcd's own.
 *
 * Order, for a run that fails half way: per-user revocations, then
 * revocations, then ledger records (issuers only: a verifier's
 * credentials fail here, before any count moved), then uses. A re-run
 * writes only what is still missing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store_etcd.h"

#define IMPORT_DIGEST_HEX 16

static int digest_text(EVP_MD_CTX *md, const char *s)
{
	/* with its NUL: "ab","c" and "a","bc" differ */
	return EVP_DigestUpdate(md, s, strlen(s) + 1);
}

/* The key of the use record of the file store's index-th use of the token
 * whose counter is `counter`: from what the file recorded, so that every
 * run finds the same key. A use recorded without details (sesame 0.1)
 * says nothing of where it was made: `source`, the host whose file store
 * this is, tells two such stores apart. */
static int import_key(const char *counter, unsigned index, const struct sesame_ledger_use *u,
		      const char *source, char out[ETCD_KEY_MAX], struct sesame_err *err)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	char text[24], hex[IMPORT_DIGEST_HEX + 1];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok, r;

	snprintf(text, sizeof(text), "%u %" PRId64, index, u->time);
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     digest_text(md, counter) == 1 && digest_text(md, text) == 1 &&
	     digest_text(md, u->host) == 1 && digest_text(md, u->service) == 1 &&
	     digest_text(md, u->rhost) == 1 && digest_text(md, u->ruser) == 1 &&
	     digest_text(md, u->tty) == 1 &&
	     digest_text(md, u->host[0] == '\0' ? source : "") == 1 &&
	     EVP_DigestFinal_ex(md, sum, NULL) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		sesame_err_set(err, "migrate: SHA-256 failed");
		return -1;
	}
	for (int i = 0; i < IMPORT_DIGEST_HEX / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	/* "import" is not hex: etcd's own records are TIME-HEX16. */
	r = snprintf(out, ETCD_KEY_MAX, "%s/%016" PRIx64 "-import-%s", counter,
		     (uint64_t)(u->time < 0 ? 0 : u->time), hex);
	if (r < 0 || r >= ETCD_KEY_MAX) {
		sesame_err_set(err, "migrate: etcd key too long");
		return -1;
	}
	return 0;
}

/* One imported use, if its record is not there yet:
 *
 *   compare version(RECORD) == 0
 *   then    put RECORD (lease), txn: add one to uses/K (etcd_counter_put)
 *
 * The record's put is at the top, as a login's is, so that the NOSPACE
 * alarm refuses it. *added is 1 when this run added it, 0 when it was
 * there. 0 or -1. */
static int import_one_use(struct store_etcd *e, const char *counter, const char *record,
			  const struct sesame_ledger_use *u, int64_t lease, int *added,
			  struct sesame_err *err)
{
	const struct sesame_use use = {u->host, u->service, u->rhost, u->ruser, u->tty};
	struct sesame_etcd_compare absent = {.key = record, .target = SESAME_ETCD_VERSION,
					     .result = SESAME_ETCD_EQUAL, .number = 0};
	struct etcd_counter_put count;
	struct sesame_etcd_op ok[2];
	struct sesame_etcd_txn txn = {&absent, 1, ok, 2, NULL, 0};
	struct sesame_etcd_txn_result res;
	char *value = etcd_use_encode(&use, u->time);
	int r = -1;

	if (value == NULL) {
		sesame_err_set(err, "migrate: out of memory");
		return -1;
	}
	etcd_counter_put_init(&count, counter, value, lease);
	ok[0] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = record, .value = value,
					.value_len = strlen(value), .lease = lease};
	ok[1] = count.op;
	if (sesame_etcd_txn(e->s, &txn, &res, err) != 0)
		goto out;
	if (res.succeeded && (res.n != 2 || res.ops[0].kind != SESAME_ETCD_OP_PUT ||
			      !etcd_counter_put_answer_ok(&res.ops[1])))
		etcd_fail(e, err, "a transaction answer does not parse");
	else
		r = 0;
	*added = res.succeeded;
	sesame_etcd_txn_result_free(&res);
out:
	free(value);
	return r;
}

static int import_uses(struct store_etcd *e, const struct sesame_export_token *t,
		       const char *source, int64_t now, struct sesame_import_stats *stats,
		       struct sesame_err *err)
{
	char tk[ETCD_TOKEN_KEY], counter[ETCD_KEY_MAX], record[ETCD_KEY_MAX];
	int64_t lease;

	if (t->h.n_uses == 0)
		return 0;
	etcd_token_key(tk, t->id, t->uid);
	if (etcd_key(e, counter, err, "uses/%s", tk) != 0 ||
	    etcd_lease_for(e, ETCD_LEASE_USES, t->expires + SESAME_STORE_GRACE, now, &lease,
			   err) != 0)
		return -1;
	for (size_t i = 0; i < t->h.n_uses; i++) {
		int added = 0;

		if (import_key(counter, (unsigned)i, &t->h.uses[i], source, record, err) != 0 ||
		    import_one_use(e, counter, record, &t->h.uses[i], lease, &added, err) != 0)
			return -1;
		if (added)
			stats->uses++;
		else
			stats->uses_there++;
	}
	return 0;
}

static int import_revoked(struct store_etcd *e, const struct sesame_export_token *t,
			  int64_t now, struct sesame_import_stats *stats, struct sesame_err *err)
{
	char tk[ETCD_TOKEN_KEY], key[ETCD_KEY_MAX], *value;
	int64_t lease;
	int created = 0, r;

	if (!t->h.revoked)
		return 0;
	etcd_token_key(tk, t->id, t->uid);
	if (etcd_key(e, key, err, "revoked/%s", tk) != 0 ||
	    etcd_lease_for(e, ETCD_LEASE_ISSUED, t->expires + SESAME_STORE_GRACE, now, &lease,
			   err) != 0)
		return -1;
	value = etcd_revoked_encode(t->h.revoked_at >= 0 ? t->h.revoked_at : now, t->expires);
	if (value == NULL) {
		sesame_err_set(err, "migrate: out of memory");
		return -1;
	}
	r = sesame_etcd_put_if_absent(e->s, key, value, strlen(value), lease, &created, NULL, err);
	free(value);
	stats->revoked += r == 0 && created;
	return r;
}

static int import_issue(struct sesame_store *st, const struct sesame_export_token *t,
			struct sesame_import_stats *stats, struct sesame_err *err)
{
	struct sesame_err why;

	if (!t->h.have_issue || t->h.issue.uid != t->uid)
		return 0;
	if (sesame_store_record_issue(st, &t->h.issue, &why) == 0) {
		stats->ledger++;
		return 0;
	}
	if (strstr(why.msg, "already recorded") != NULL)
		return 0;
	*err = why;
	return -1;
}

static int import_users(struct sesame_store *st, const struct sesame_store_export *ex,
			int64_t now, struct sesame_import_stats *stats, struct sesame_err *err)
{
	for (size_t i = 0; i < ex->n_users; i++) {
		const struct sesame_export_user *u = &ex->users[i];
		if (u->before <= now - SESAME_STORE_GRACE - SESAME_MAX_LIFETIME)
			continue; /* every token it ended is dead */
		/* only ever moved later: a second run changes nothing */
		if (sesame_store_revoke_user(st, u->uid, u->before, err) != 0)
			return -1;
		stats->users++;
	}
	return 0;
}

static int alive(const struct sesame_export_token *t, int64_t now)
{
	return t->expires > now - SESAME_STORE_GRACE;
}

/* The tokens in three passes, so that a run that fails leaves nothing
 * more usable than before: every revocation before any count moves. */
static int import_tokens(struct sesame_store *st, const struct sesame_store_export *ex,
			 const char *source, int64_t now, struct sesame_import_stats *stats,
			 struct sesame_err *err)
{
	struct store_etcd *e = st->impl;

	for (size_t i = 0; i < ex->n_tokens; i++)
		if (alive(&ex->tokens[i], now) && import_revoked(e, &ex->tokens[i], now, stats, err) != 0)
			goto denied;
	for (size_t i = 0; i < ex->n_tokens; i++)
		if (alive(&ex->tokens[i], now) && import_issue(st, &ex->tokens[i], stats, err) != 0)
			goto denied;
	for (size_t i = 0; i < ex->n_tokens; i++) {
		if (!alive(&ex->tokens[i], now)) {
			stats->expired++;
			continue;
		}
		stats->tokens++;
		if (import_uses(e, &ex->tokens[i], source, now, stats, err) != 0)
			return -1;
	}
	return 0;
denied:
	etcd_denied_hint(e, "revocations and ledger records", err);
	return -1;
}

int sesame_store_import_etcd(struct sesame_store *st, const struct sesame_store_export *ex,
			     const char *source, int64_t now, struct sesame_import_stats *stats,
			     struct sesame_err *err)
{
	memset(stats, 0, sizeof(*stats));
	if (st == NULL || st->ops == NULL || strcmp(st->ops->name, "etcd") != 0) {
		sesame_err_set(err, "migrate: the target store is not store = etcd");
		return -1;
	}
	/* Per-user revocations first: they end tokens wholesale. */
	if (import_users(st, ex, now, stats, err) != 0 ||
	    import_tokens(st, ex, source, now, stats, err) != 0)
		return -1;
	return 0;
}
