/* The etcd store's ledger: issue records, and --list and --history read
 * in one transaction each. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_etcd.h"

static struct store_etcd *etcd_of(struct sesame_store *st)
{
	return st->impl;
}

/* ---- what a read skips ---- */

/* Verifying hosts may write uses/ and mailed/ (docs/fleet.md, "Key
 * layout and roles"): a record there that does not parse is skipped with
 * a line naming its key, not a failure of the whole view. */
#define ETCD_SKIPPED_MAX 100

static void skipped_reset(struct store_etcd *e)
{
	free(e->skipped);
	e->skipped = NULL;
	e->n_skipped = 0;
}

/* key_len bytes of key, which may hold NULs, after the prefix. */
static void skip_n(struct store_etcd *e, const char *key, size_t key_len, const char *why)
{
	size_t plen = strlen(e->prefix), len = e->skipped ? strlen(e->skipped) : 0, n = 0;
	char safe[ETCD_KEY_MAX], *more;
	int w;

	if (key_len >= plen && strncmp(key, e->prefix, plen) == 0) {
		key += plen;
		key_len -= plen;
	}
	/* a key is whatever its writer chose: printable ASCII only */
	for (; n < key_len && n < sizeof(safe) - 1; n++)
		safe[n] = key[n] > ' ' && key[n] < 0x7f ? key[n] : '?';
	safe[n] = '\0';
	if (e->n_skipped++ == ETCD_SKIPPED_MAX) {
		snprintf(safe, sizeof(safe), "...");
		why = "more records skipped, not named";
	} else if (e->n_skipped > ETCD_SKIPPED_MAX) {
		return;
	}
	w = snprintf(NULL, 0, "%s: %s\n", safe, why);
	more = w < 0 ? NULL : realloc(e->skipped, len + (size_t)w + 1);
	if (more == NULL)
		return; /* the view stays right; only the note of a skip is lost */
	e->skipped = more;
	snprintf(more + len, (size_t)w + 1, "%s: %s\n", safe, why);
}

static void skip(struct store_etcd *e, const char *key, const char *why)
{
	skip_n(e, key, strlen(key), why);
}

const char *store_etcd_skipped(struct sesame_store *st)
{
	struct store_etcd *e = etcd_of(st);

	return e->skipped != NULL ? e->skipped : "";
}

/* Where an issue record goes: ledger/ for sesame-mint's (issuers only may
 * write there), mailed/ for the links a host mailed (login by email: every
 * host may write there; docs/fleet.md, "Key layout and roles"). */
static int mailed(const struct sesame_issue *is)
{
	return strcmp(is->issuer, SESAME_ISSUER_MAIL) == 0;
}

int store_etcd_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			    struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	char key[ETCD_KEY_MAX], hex[SESAME_ID_TEXT_SIZE];
	char *value = NULL;
	int64_t lease;
	int by_mail = mailed(is), created = 0, r = -1;

	etcd_id_hex(hex, is->id);
	/* Leases count from now; the issue time is now or earlier (a
	 * migration), which can only make the lease longer. mailed/ keys get
	 * the leases of the keys every host writes. */
	if (etcd_key(e, key, err, "%s/%s", by_mail ? "mailed" : "ledger", hex) != 0 ||
	    etcd_lease_for(e, by_mail ? ETCD_LEASE_USES : ETCD_LEASE_ISSUED,
			   is->expires + SESAME_STORE_GRACE, is->issued, &lease, err) != 0)
		goto out;
	value = etcd_issue_encode(is);
	if (value == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		goto out;
	}
	if (sesame_etcd_put_if_absent(e->s, key, value, strlen(value), lease, &created, NULL,
				      err) != 0)
		goto out;
	if (!created) {
		sesame_err_set(err, "ledger: token id already recorded");
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		etcd_denied_hint(e, by_mail ? "records of mailed links" : "ledger records", err);
	free(value);
	return r;
}

/* Everything the ledger's views need, read in one transaction (one
 * revision): ledger/ and mailed/ (one key, or all), uses/, revoked/ and
 * revoked-users/ under `from`. */
enum { R_LEDGER, R_MAILED, R_USES, R_REVOKED, R_USERS, R_COUNT };

struct snapshot {
	struct sesame_etcd_txn_result res;
	const struct sesame_etcd_kvs *kvs[R_COUNT];
	size_t prefix_len;
	enum sesame_uses_read uses_read;
};

/* Keys with a NUL byte (etcd stores them): under uses/ and mailed/,
 * which verifying hosts write, dropped from the snapshot with a line
 * naming them; under the prefixes only issuers write, the view fails. */
static int drop_nul_keys(struct store_etcd *e, struct sesame_etcd_kvs *kvs, int skippable,
			 struct sesame_err *err)
{
	size_t kept = 0;

	for (size_t i = 0; i < kvs->n; i++) {
		struct sesame_etcd_kv *kv = &kvs->kv[i];
		if (!sesame_etcd_kv_key_has_nul(kv)) {
			kvs->kv[kept++] = *kv;
			continue;
		}
		if (!skippable) {
			etcd_fail(e, err, "a key with a NUL byte where only issuers write");
			return -1;
		}
		skip_n(e, kv->key, kv->key_len, "a key with a NUL byte (verifying hosts write "
		       "these): skipped");
		free(kv->key);
		if (kv->value != NULL)
			sesame_wipe(kv->value, kv->value_len);
		free(kv->value);
	}
	kvs->n = kept;
	return 0;
}

/* The reads as one transaction; uses/ as much as `uses` says. 0, -1, or
 * 1 when the answer failed as a protocol error (larger than the size
 * cap, or not parsable): worth asking again for less of uses/. */
static int read_snapshot(struct store_etcd *e, const char *ledger_key, const char *uses_from,
			 enum sesame_uses_read uses, struct snapshot *snap, struct sesame_err *err)
{
	char keys[R_COUNT][ETCD_KEY_MAX];
	struct sesame_etcd_op ops[R_COUNT];
	struct sesame_etcd_txn txn = {NULL, 0, ops, R_COUNT, NULL, 0};

	memset(snap, 0, sizeof(*snap));
	if (etcd_key(e, keys[R_LEDGER], err, "ledger/%s", ledger_key) != 0 ||
	    etcd_key(e, keys[R_MAILED], err, "mailed/%s", ledger_key) != 0 ||
	    etcd_key(e, keys[R_USES], err, "uses/%s", uses_from) != 0 ||
	    etcd_key(e, keys[R_REVOKED], err, "revoked/%s", uses_from) != 0 ||
	    etcd_key(e, keys[R_USERS], err, "revoked-users/") != 0)
		return -1;
	for (int i = 0; i < R_COUNT; i++)
		ops[i] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = keys[i],
						 .prefix = (i != R_LEDGER && i != R_MAILED) ||
							   *ledger_key == '\0'};
	ops[R_USES].keys_only = uses == SESAME_USES_COUNTS;
	ops[R_USES].count_only = uses == SESAME_USES_NONE;
	if (sesame_etcd_txn(e->s, &txn, &snap->res, err) != 0)
		return sesame_etcd_last_failure(e->s) == SESAME_ETCD_FAIL_PROTOCOL ? 1 : -1;
	if (!snap->res.succeeded || snap->res.n != R_COUNT) {
		sesame_etcd_txn_result_free(&snap->res);
		etcd_fail(e, err, "a transaction answer without the reads asked for");
		return -1;
	}
	for (int i = 0; i < R_COUNT; i++) {
		if (snap->res.ops[i].kind != SESAME_ETCD_OP_RANGE ||
		    drop_nul_keys(e, &snap->res.ops[i].range, i == R_USES || i == R_MAILED,
				  err) != 0) {
			if (snap->res.ops[i].kind != SESAME_ETCD_OP_RANGE)
				etcd_fail(e, err, "a transaction answer without the reads asked for");
			sesame_etcd_txn_result_free(&snap->res);
			return -1;
		}
		snap->kvs[i] = &snap->res.ops[i].range;
	}
	snap->prefix_len = strlen(e->prefix);
	snap->uses_read = uses;
	return 0;
}

/* read_snapshot, asking for less of uses/ (down to `least`) while the
 * answer fails as too large or unparsable: a verifying host may write
 * 16 MiB of records there, and the ledger's records, the revocations and
 * what could be read of the uses are still worth showing. */
static int read_snapshot_shrinking(struct store_etcd *e, const char *ledger_key,
				   const char *uses_from, enum sesame_uses_read least,
				   struct snapshot *snap, struct sesame_err *err)
{
	char where[ETCD_KEY_MAX], why[sizeof(err->msg) + 96];
	int r = -1;

	for (enum sesame_uses_read uses = SESAME_USES_ALL; uses <= least; uses++) {
		r = read_snapshot(e, ledger_key, uses_from, uses, snap, err);
		if (r != 1 || uses == least)
			break;
		snprintf(where, sizeof(where), "%suses/%s", e->prefix, uses_from);
		snprintf(why, sizeof(why), "%s (verifying hosts write these): read again %s", err->msg,
			 uses == SESAME_USES_ALL ? "without the use records"
						 : "without any use");
		skip(e, where, why);
	}
	return r == 0 ? 0 : -1;
}

/* The first key at or after `key` (kvs are in key order). */
static size_t lower_bound(const struct sesame_etcd_kvs *kvs, const char *key)
{
	size_t lo = 0, hi = kvs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(kvs->kv[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* "PREFIX" + dir + "IDHEX-": where a token's keys of one kind start. */
static void start_of(const struct store_etcd *e, const char *dir, const char *hex,
		     char out[ETCD_KEY_MAX])
{
	snprintf(out, ETCD_KEY_MAX, "%s%s%s-", e->prefix, dir, hex);
}

/* The uid of a key "...IDHEX-UIDHEX[/...]" after start, or -1. */
static int64_t uid_of(const char *key, size_t start)
{
	const char *p = key + start;
	unsigned v;

	if (strspn(p, "0123456789abcdef") != 8 || (p[8] != '\0' && p[8] != '/') ||
	    sscanf(p, "%8x", &v) != 1)
		return -1;
	return v;
}

static int add_use(struct store_etcd *e, struct sesame_history *h,
		   const struct sesame_etcd_kv *kv, struct sesame_err *err)
{
	struct sesame_ledger_use *more = realloc(h->uses, (h->n_uses + 1) * sizeof(*more));

	if (more == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	h->uses = more;
	if (etcd_use_decode(kv->value, kv->value_len, &h->uses[h->n_uses]) != 0)
		skip(e, kv->key, "a use record that does not parse (verifying hosts write "
		     "these): not shown");
	else
		h->n_uses++;
	return 0;
}

/* uid among the accounts this id's uses were counted under. */
static int add_use_uid(struct sesame_history *h, uint32_t uid, struct sesame_err *err)
{
	uint32_t *more;

	for (size_t i = 0; i < h->n_use_uids; i++)
		if (h->use_uids[i] == uid)
			return 0;
	more = realloc(h->use_uids, (h->n_use_uids + 1) * sizeof(*more));
	if (more == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	h->use_uids = more;
	h->use_uids[h->n_use_uids++] = uid;
	return 0;
}

static int by_revision(const void *a, const void *b)
{
	const struct sesame_etcd_kv *x = *(const struct sesame_etcd_kv *const *)a;
	const struct sesame_etcd_kv *y = *(const struct sesame_etcd_kv *const *)b;

	return (x->create_revision > y->create_revision) - (x->create_revision < y->create_revision);
}

/* The uses of token id (of uid when >= 0: the ledger names it), in the
 * order the cluster committed them (two in one second included). */
static int fill_uses(struct store_etcd *e, const struct snapshot *snap, const char *hex,
		     int64_t uid, struct sesame_history *h, struct sesame_err *err)
{
	const struct sesame_etcd_kvs *uses = snap->kvs[R_USES];
	const struct sesame_etcd_kv **records = NULL;
	char start[ETCD_KEY_MAX];
	size_t n, first, count = 0;
	int r = -1;

	h->uses_read = snap->uses_read;
	if (snap->uses_read == SESAME_USES_NONE)
		return 0;
	start_of(e, "uses/", hex, start);
	n = strlen(start);
	first = lower_bound(uses, start);
	for (size_t i = first; i < uses->n && strncmp(uses->kv[i].key, start, n) == 0; i++)
		count++;
	records = calloc(count ? count : 1, sizeof(*records));
	if (records == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	count = 0;
	for (size_t i = first; i < uses->n && strncmp(uses->kv[i].key, start, n) == 0; i++) {
		const struct sesame_etcd_kv *kv = &uses->kv[i];
		int64_t owner = uid_of(kv->key, n);
		if (owner < 0) {
			skip(e, kv->key, "not a use key (IDHEX-UIDHEX[/TIME-RANDOM])");
			continue;
		}
		if (uid >= 0 && owner != uid)
			continue;
		if (add_use_uid(h, (uint32_t)owner, err) != 0)
			goto out;
		if (kv->key[n + 8] == '\0')
			h->used += (unsigned)(kv->version > UINT32_MAX ? UINT32_MAX : kv->version);
		else if (snap->uses_read == SESAME_USES_ALL)
			records[count++] = kv;
	}
	qsort(records, count, sizeof(*records), by_revision);
	for (size_t i = 0; i < count; i++)
		if (add_use(e, h, records[i], err) != 0)
			goto out;
	r = 0;
out:
	free(records);
	return r;
}

static int fill_revoked(const struct store_etcd *e, const struct snapshot *snap,
			const char *hex, int64_t uid, struct sesame_history *h,
			struct sesame_err *err)
{
	const struct sesame_etcd_kvs *rev = snap->kvs[R_REVOKED];
	char start[ETCD_KEY_MAX];
	size_t n;

	start_of(e, "revoked/", hex, start);
	n = strlen(start);
	for (size_t i = lower_bound(rev, start); i < rev->n; i++) {
		const struct sesame_etcd_kv *kv = &rev->kv[i];
		int64_t owner;

		/* The prefix first: a shorter key must not be read past its end. */
		if (strncmp(kv->key, start, n) != 0)
			break;
		owner = uid_of(kv->key, n);
		if (owner < 0 || (uid >= 0 && owner != uid) || kv->key[n + 8] != '\0')
			continue;
		h->revoked = 1;
		if (etcd_revoked_decode(kv->value, kv->value_len, &h->revoked_at) != 0) {
			etcd_fail(e, err, "a revocation does not parse");
			return -1;
		}
	}
	return 0;
}

static int fill_user_revoked(const struct store_etcd *e, const struct snapshot *snap,
			     struct sesame_history *h, struct sesame_err *err)
{
	const struct sesame_etcd_kvs *users = snap->kvs[R_USERS];
	char key[ETCD_KEY_MAX];
	size_t i;
	int64_t before;

	snprintf(key, sizeof(key), "%srevoked-users/%08" PRIx32, e->prefix, h->issue.uid);
	i = lower_bound(users, key);
	if (i == users->n || strcmp(users->kv[i].key, key) != 0)
		return 0;
	before = etcd_parse_before(users->kv[i].value, users->kv[i].value_len);
	if (before < 0) {
		etcd_fail(e, err, "a per-user revocation does not parse");
		return -1;
	}
	h->user_revoked = h->issue.issued <= before;
	return 0;
}

/* Where a token's issue record was read from. */
enum issue_dir { FROM_LEDGER = R_LEDGER, FROM_MAILED = R_MAILED };

/* The issue record kv from dir into h->issue: 0, 1 when it is a mailed
 * link's that does not parse or names another issuer (skipped: every
 * host may write mailed/, so it cannot pass for sesame-mint's), -1 when
 * an issuer's record does not parse. */
static int read_issue(struct store_etcd *e, const struct sesame_etcd_kv *kv, enum issue_dir dir,
		      const uint8_t id[SESAME_ID_BYTES], struct sesame_history *h,
		      struct sesame_err *err)
{
	const char *why = NULL;

	if (etcd_issue_decode(kv->value, kv->value_len, &h->issue) != 0 ||
	    memcmp(h->issue.id, id, SESAME_ID_BYTES) != 0)
		why = "a record of a mailed link that does not parse (verifying hosts write "
		      "these): skipped";
	else if (dir == FROM_MAILED && strcmp(h->issue.issuer, SESAME_ISSUER_MAIL) != 0)
		why = "a record of a mailed link that names another issuer (verifying hosts "
		      "write these): skipped";
	if (why == NULL)
		return 0;
	memset(&h->issue, 0, sizeof(h->issue));
	if (dir == FROM_LEDGER) {
		etcd_fail(e, err, "a ledger record does not parse");
		return -1;
	}
	skip(e, kv->key, why);
	return 1;
}

/* One token's story: its issue record (kv, or NULL) and what the
 * snapshot holds for it. Only an issuer's record (ledger/) says whose
 * token it is; a mailed link's (mailed/) is a claim: its uses are read
 * under every uid. */
static int fill(struct store_etcd *e, const struct snapshot *snap,
		const struct sesame_etcd_kv *issue, enum issue_dir dir,
		const uint8_t id[SESAME_ID_BYTES], struct sesame_history *h,
		struct sesame_err *err)
{
	char hex[SESAME_ID_TEXT_SIZE];
	int64_t uid = -1;
	int r = 1;

	memset(h, 0, sizeof(*h));
	h->revoked_at = -1;
	etcd_id_hex(hex, id);
	if (issue != NULL && (r = read_issue(e, issue, dir, id, h, err)) < 0)
		return -1;
	if (r == 0) {
		h->have_issue = 1;
		h->issue_claimed = dir == FROM_MAILED;
		if (!h->issue_claimed)
			uid = h->issue.uid;
	}
	if (fill_uses(e, snap, hex, uid, h, err) != 0 ||
	    fill_revoked(e, snap, hex, uid, h, err) != 0 ||
	    (h->have_issue && fill_user_revoked(e, snap, h, err) != 0))
		return -1;
	return 0;
}

int store_etcd_history(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
		       struct sesame_history *h, struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	struct snapshot snap;
	char hex[SESAME_ID_TEXT_SIZE], from[SESAME_ID_TEXT_SIZE + 1];
	const struct sesame_etcd_kvs *ledger, *mailed;
	int r;

	etcd_id_hex(hex, id);
	snprintf(from, sizeof(from), "%s-", hex);
	skipped_reset(e);
	if (read_snapshot_shrinking(e, hex, from, SESAME_USES_NONE, &snap, err) != 0)
		return -1;
	ledger = snap.kvs[R_LEDGER];
	mailed = snap.kvs[R_MAILED];
	/* An issuer's record over one in mailed/ with the same id. */
	if (ledger->n == 1)
		r = fill(e, &snap, &ledger->kv[0], FROM_LEDGER, id, h, err);
	else
		r = fill(e, &snap, mailed->n == 1 ? &mailed->kv[0] : NULL, FROM_MAILED, id, h,
			 err);
	if (r != 0)
		sesame_history_clear(h);
	sesame_etcd_txn_result_free(&snap.res);
	return r;
}

/* Is the id IDHEX in ledger/ (the snapshot's ledger, in key order)? */
static int in_ledger(const struct store_etcd *e, const struct snapshot *snap, const char *hex)
{
	const struct sesame_etcd_kvs *ledger = snap->kvs[R_LEDGER];
	char key[ETCD_KEY_MAX];
	size_t i;

	snprintf(key, sizeof(key), "%sledger/%s", e->prefix, hex);
	i = lower_bound(ledger, key);
	return i < ledger->n && strcmp(ledger->kv[i].key, key) == 0;
}

/* The tokens of one directory of issue records, appended to list[*n..]. */
static int list_dir(struct store_etcd *e, const struct snapshot *snap, enum issue_dir dir,
		    struct sesame_history *list, size_t *n, struct sesame_err *err)
{
	const struct sesame_etcd_kvs *kvs = snap->kvs[dir];
	size_t plen = snap->prefix_len + strlen(dir == FROM_LEDGER ? "ledger/" : "mailed/");

	for (size_t i = 0; i < kvs->n; i++) {
		uint8_t id[SESAME_ID_BYTES];
		const char *key = kvs->kv[i].key;
		if (strlen(key) != plen + 2 * SESAME_ID_BYTES || etcd_hex_id(key + plen, id) != 0) {
			if (dir == FROM_LEDGER) {
				etcd_fail(e, err, "a ledger key that is not a token id");
				return -1;
			}
			skip(e, key, "not a token id (verifying hosts write mailed/): skipped");
			continue;
		}
		if (dir == FROM_MAILED && in_ledger(e, snap, key + plen))
			continue;
		if (fill(e, snap, &kvs->kv[i], dir, id, &list[*n], err) != 0) {
			sesame_history_clear(&list[*n]);
			return -1;
		}
		/* a mailed link's record that was skipped: nothing to list */
		if (!list[*n].have_issue)
			sesame_history_clear(&list[*n]);
		else
			(*n)++;
	}
	return 0;
}

int store_etcd_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		    struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	struct snapshot snap;
	size_t most;
	int r = -1;

	skipped_reset(e);
	/* the counts, not nothing: a fleet's list that showed every token
	 * unused would be worse than none */
	if (read_snapshot_shrinking(e, "", "", SESAME_USES_COUNTS, &snap, err) != 0)
		return -1;
	most = snap.kvs[R_LEDGER]->n + snap.kvs[R_MAILED]->n;
	*out = calloc(most ? most : 1, sizeof(**out));
	if (*out == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		goto out;
	}
	if (list_dir(e, &snap, FROM_LEDGER, *out, n, err) != 0 ||
	    list_dir(e, &snap, FROM_MAILED, *out, n, err) != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		sesame_history_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	sesame_etcd_txn_result_free(&snap.res);
	return r;
}
