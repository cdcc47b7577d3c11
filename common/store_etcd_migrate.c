/* Moving a host from store = file to store = etcd: what the file store
 * exported (store_fs_export.c) written into etcd so that it keeps its
 * meaning: a used-up token stays used up, a revoked one revoked, a partly
 * used one keeps its remaining uses. Run again, it changes nothing; it
 * never lowers a count etcd already has (uses there are real logins). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_etcd.h"

/* One use more: compare version(uses/K) == v, put the counter (a new key
 * gets the lease, an existing one keeps its own) and a use record. 0
 * written, 1 the count moved meanwhile, -1. */
static int add_one_use(struct store_etcd *e, const char *key, int64_t v,
		       const struct sesame_ledger_use *u, int64_t lease, struct sesame_err *err)
{
	const struct sesame_use use = {u->host, u->service, u->rhost, u->ruser, u->tty};
	struct sesame_etcd_compare same = {.key = key, .target = SESAME_ETCD_VERSION,
					   .result = SESAME_ETCD_EQUAL, .number = v};
	struct sesame_etcd_op puts[2];
	struct sesame_etcd_txn txn = {&same, 1, puts, 2, NULL, 0};
	struct sesame_etcd_txn_result res;
	char detail[ETCD_KEY_MAX], *value = etcd_use_encode(&use, u->time);
	int r = -1;

	if (value == NULL) {
		sesame_err_set(err, "migrate: out of memory");
		goto out;
	}
	if (etcd_use_key(key, u->time, detail, err) != 0)
		goto out;
	puts[0] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = key, .value = value,
					  .value_len = strlen(value), .lease = v == 0 ? lease : 0,
					  .ignore_lease = v != 0};
	puts[1] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = detail,
					  .value = value, .value_len = strlen(value),
					  .lease = lease};
	if (sesame_etcd_txn(e->s, &txn, &res, err) != 0)
		goto out;
	r = res.succeeded ? 0 : 1;
	sesame_etcd_txn_result_free(&res);
out:
	free(value);
	return r;
}

static int current_count(struct store_etcd *e, const char *key, int64_t *v,
			 struct sesame_err *err)
{
	struct sesame_etcd_kvs kvs;

	if (sesame_etcd_get(e->s, key, &kvs, err) != 0)
		return -1;
	*v = kvs.n == 1 ? kvs.kv[0].version : 0;
	sesame_etcd_kvs_free(&kvs);
	return 0;
}

/* Raise uses/K to the file's count, one put per use (a key's version
 * is its count), the file's details with each. */
static int import_uses(struct store_etcd *e, const struct sesame_export_token *t, int64_t now,
		       struct sesame_import_stats *stats, struct sesame_err *err)
{
	char tk[ETCD_TOKEN_KEY], key[ETCD_KEY_MAX];
	int64_t v = 0, lease;
	int tries = 0;

	if (t->h.used == 0)
		return 0;
	etcd_token_key(tk, t->id, t->uid);
	if (etcd_key(e, key, err, "uses/%s", tk) != 0 ||
	    etcd_lease_for(e, ETCD_LEASE_USES, t->expires + SESAME_STORE_GRACE, now, &lease,
			   err) != 0 ||
	    current_count(e, key, &v, err) != 0)
		return -1;
	if (v > (int64_t)t->h.used)
		stats->kept_higher++;
	while (v < (int64_t)t->h.used) {
		int r = add_one_use(e, key, v, &t->h.uses[v], lease, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			stats->uses++;
			v++;
		} else if (++tries > 16 || current_count(e, key, &v, err) != 0) {
			if (tries > 16)
				sesame_err_set(err, "migrate: the count of a token kept changing");
			return -1;
		}
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

static int import_token(struct sesame_store *st, const struct sesame_export_token *t,
			int64_t now, struct sesame_import_stats *stats, struct sesame_err *err)
{
	struct store_etcd *e = st->impl;

	if (t->expires <= now - SESAME_STORE_GRACE) {
		stats->expired++;
		return 0;
	}
	stats->tokens++;
	/* The revocation first: a token half-copied is refused, not reusable. */
	if (import_revoked(e, t, now, stats, err) != 0 || import_uses(e, t, now, stats, err) != 0 ||
	    import_issue(st, t, stats, err) != 0) {
		etcd_denied_hint(e, "revocations and ledger records", err);
		return -1;
	}
	return 0;
}

int sesame_store_import_etcd(struct sesame_store *st, const struct sesame_store_export *ex,
			     int64_t now, struct sesame_import_stats *stats,
			     struct sesame_err *err)
{
	memset(stats, 0, sizeof(*stats));
	if (st == NULL || st->ops == NULL || strcmp(st->ops->name, "etcd") != 0) {
		sesame_err_set(err, "migrate: the target store is not store = etcd");
		return -1;
	}
	/* Per-user revocations before tokens: they end tokens wholesale. */
	for (size_t i = 0; i < ex->n_users; i++) {
		const struct sesame_export_user *u = &ex->users[i];
		if (u->before <= now - SESAME_STORE_GRACE - SESAME_MAX_LIFETIME)
			continue; /* every token it ended is dead */
		if (sesame_store_revoke_user(st, u->uid, u->before, err) != 0)
			return -1;
		stats->users++;
	}
	for (size_t i = 0; i < ex->n_tokens; i++)
		if (import_token(st, &ex->tokens[i], now, stats, err) != 0)
			return -1;
	return 0;
}
