/* The etcd store's ledger (issue records, list, history) and the JSON of
 * its values, written and read with json-c. Values written by verifying
 * hosts (uses, mail) are read as untrusted: bounded, cleaned texts. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "store_etcd.h"

/* ---- JSON values ---- */

static char *to_string(json_object *o)
{
	char *s = NULL;

	if (o != NULL) {
		const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		s = text != NULL ? strdup(text) : NULL;
	}
	json_object_put(o);
	return s;
}

/* Add fields; any failure makes the whole object NULL (freed). */
static json_object *add_int(json_object *o, const char *name, int64_t v)
{
	if (o != NULL && json_object_object_add(o, name, json_object_new_int64(v)) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *add_text(json_object *o, const char *name, const char *v)
{
	if (o != NULL &&
	    json_object_object_add(o, name, json_object_new_string(v != NULL ? v : "")) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *parse(const char *value, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;

	if (tok == NULL || len > SESAME_ETCD_REPLY_MAX)
		goto out;
	o = json_tokener_parse_ex(tok, value, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
			  json_tokener_get_parse_end(tok) != len ||
			  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
out:
	if (tok != NULL)
		json_tokener_free(tok);
	return o;
}

static int get_int(json_object *o, const char *name, int64_t *v)
{
	json_object *f;

	if (!json_object_object_get_ex(o, name, &f) || !json_object_is_type(f, json_type_int))
		return -1;
	*v = json_object_get_int64(f);
	return 0;
}

/* A text field, cut and cleaned into dst (an absent one is ""). */
static int get_text(json_object *o, const char *name, char *dst, size_t size)
{
	json_object *f;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, name, &f))
		return 0;
	if (!json_object_is_type(f, json_type_string))
		return -1;
	sesame_ledger_text_copy(dst, size, json_object_get_string(f));
	return 0;
}

/* The text fields of a value, by their place in the struct. */
struct text_field {
	const char *name;
	size_t offset;
	size_t size;
};

#define TEXT(type, f) {#f, offsetof(type, f), sizeof(((type *)0)->f)}

static const struct text_field use_texts[] = {
	TEXT(struct sesame_ledger_use, host), TEXT(struct sesame_ledger_use, service),
	TEXT(struct sesame_ledger_use, rhost), TEXT(struct sesame_ledger_use, ruser),
	TEXT(struct sesame_ledger_use, tty),
};

static const struct text_field issue_texts[] = {
	TEXT(struct sesame_issue, account), TEXT(struct sesame_issue, scope),
	TEXT(struct sesame_issue, host), TEXT(struct sesame_issue, channel),
	TEXT(struct sesame_issue, issuer), TEXT(struct sesame_issue, claimed),
	TEXT(struct sesame_issue, rhost), TEXT(struct sesame_issue, note),
};

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

static json_object *add_texts(json_object *o, const void *from, const struct text_field *f,
			      size_t n)
{
	for (size_t i = 0; i < n; i++)
		o = add_text(o, f[i].name, (const char *)from + f[i].offset);
	return o;
}

static int get_texts(json_object *o, void *to, const struct text_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (get_text(o, f[i].name, (char *)to + f[i].offset, f[i].size) != 0)
			return -1;
	return 0;
}

char *etcd_use_encode(const struct sesame_use *use, int64_t now)
{
	struct sesame_ledger_use u;

	/* Cut and cleaned as the ledger keeps them: anyone sets PAM_RHOST. */
	memset(&u, 0, sizeof(u));
	if (use != NULL) {
		sesame_ledger_text_copy(u.host, sizeof(u.host), use->host);
		sesame_ledger_text_copy(u.service, sizeof(u.service), use->service);
		sesame_ledger_text_copy(u.rhost, sizeof(u.rhost), use->rhost);
		sesame_ledger_text_copy(u.ruser, sizeof(u.ruser), use->ruser);
		sesame_ledger_text_copy(u.tty, sizeof(u.tty), use->tty);
	}
	return to_string(add_texts(add_int(json_object_new_object(), "time", now), &u, use_texts,
				   N_FIELDS(use_texts)));
}

int etcd_use_decode(const char *value, size_t len, struct sesame_ledger_use *u)
{
	json_object *o = parse(value, len);
	int r = -1;

	memset(u, 0, sizeof(*u));
	if (o != NULL && get_int(o, "time", &u->time) == 0 &&
	    get_texts(o, u, use_texts, N_FIELDS(use_texts)) == 0)
		r = 0;
	json_object_put(o);
	return r;
}

char *etcd_revoked_encode(int64_t at, int64_t expires)
{
	return to_string(add_int(add_int(json_object_new_object(), "at", at), "expires", expires));
}

int etcd_revoked_decode(const char *value, size_t len, int64_t *at)
{
	json_object *o = parse(value, len);
	int r = o != NULL && get_int(o, "at", at) == 0 ? 0 : -1;

	json_object_put(o);
	return r;
}

static void id_hex(char out[SESAME_ID_TEXT_SIZE], const uint8_t id[SESAME_ID_BYTES])
{
	for (size_t i = 0; i < SESAME_ID_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static int hex_id(const char *s, uint8_t id[SESAME_ID_BYTES])
{
	for (size_t i = 0; i < SESAME_ID_BYTES; i++) {
		unsigned v;
		if (strspn(s + 2 * i, "0123456789abcdef") < 2 || sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = (uint8_t)v;
	}
	return 0;
}

char *etcd_issue_encode(const struct sesame_issue *is)
{
	char hex[SESAME_ID_TEXT_SIZE];
	json_object *o;

	id_hex(hex, is->id);
	o = add_text(json_object_new_object(), "id", hex);
	o = add_int(o, "uid", is->uid);
	o = add_int(o, "issued", is->issued);
	o = add_int(o, "expires", is->expires);
	o = add_int(o, "uses", is->uses);
	o = add_int(o, "key_id", is->key_id);
	return to_string(add_texts(o, is, issue_texts, N_FIELDS(issue_texts)));
}

static int issue_numbers(json_object *o, struct sesame_issue *is)
{
	int64_t uid, uses, key_id;
	char hex[SESAME_ID_TEXT_SIZE];

	if (get_text(o, "id", hex, sizeof(hex)) != 0 || strlen(hex) != 2 * SESAME_ID_BYTES ||
	    hex_id(hex, is->id) != 0 || get_int(o, "uid", &uid) != 0 ||
	    get_int(o, "issued", &is->issued) != 0 || get_int(o, "expires", &is->expires) != 0 ||
	    get_int(o, "uses", &uses) != 0 || get_int(o, "key_id", &key_id) != 0 ||
	    uid < 0 || uid > UINT32_MAX || uses < 0 || uses > 255 || key_id < 0 || key_id > 255)
		return -1;
	is->uid = (uint32_t)uid;
	is->uses = (unsigned)uses;
	is->key_id = (unsigned)key_id;
	return 0;
}

int etcd_issue_decode(const char *value, size_t len, struct sesame_issue *is)
{
	json_object *o = parse(value, len);
	int r = -1;

	memset(is, 0, sizeof(*is));
	if (o != NULL && issue_numbers(o, is) == 0 &&
	    get_texts(o, is, issue_texts, N_FIELDS(issue_texts)) == 0)
		r = 0;
	json_object_put(o);
	return r;
}

char *etcd_mail_encode(const struct etcd_mail_entry *m, size_t n)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	char hex[2 * SESAME_MAIL_SOURCE_LEN + 1];

	if (o == NULL || list == NULL || json_object_object_add(o, "mails", list) != 0) {
		json_object_put(list);
		json_object_put(o);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *one;
		for (size_t j = 0; j < SESAME_MAIL_SOURCE_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", m[i].source[j]);
		one = add_int(add_text(json_object_new_object(), "source", hex), "time", m[i].time);
		if (one == NULL || json_object_array_add(list, one) != 0) {
			json_object_put(one);
			json_object_put(o);
			return NULL;
		}
	}
	return to_string(o);
}

static int mail_entry(json_object *one, struct etcd_mail_entry *m)
{
	char hex[2 * SESAME_MAIL_SOURCE_LEN + 2];

	if (!json_object_is_type(one, json_type_object) ||
	    get_text(one, "source", hex, sizeof(hex)) != 0 ||
	    strlen(hex) != 2 * SESAME_MAIL_SOURCE_LEN ||
	    strspn(hex, "0123456789abcdef") != 2 * SESAME_MAIL_SOURCE_LEN ||
	    get_int(one, "time", &m->time) != 0)
		return -1;
	for (size_t j = 0; j < SESAME_MAIL_SOURCE_LEN; j++) {
		unsigned v;
		if (sscanf(hex + 2 * j, "%2x", &v) != 1)
			return -1;
		m->source[j] = (uint8_t)v;
	}
	return 0;
}

int etcd_mail_decode(const char *value, size_t len, struct etcd_mail_entry *out, size_t *n)
{
	json_object *o = parse(value, len), *list;
	size_t count;
	int r = -1;

	*n = 0;
	if (o == NULL || !json_object_object_get_ex(o, "mails", &list) ||
	    !json_object_is_type(list, json_type_array))
		goto out;
	count = json_object_array_length(list);
	/* The newest are at the end; keep at most the array's room. */
	for (size_t i = count > ETCD_MAIL_ENTRIES_MAX ? count - ETCD_MAIL_ENTRIES_MAX : 0;
	     i < count; i++)
		if (mail_entry(json_object_array_get_idx(list, i), &out[(*n)++]) != 0)
			goto out;
	r = 0;
out:
	json_object_put(o);
	return r;
}

/* ---- the ledger ---- */

static struct store_etcd *etcd_of(struct sesame_store *st)
{
	return st->impl;
}

int store_etcd_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			    struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	char key[ETCD_KEY_MAX], hex[SESAME_ID_TEXT_SIZE];
	char *value = NULL;
	int64_t lease;
	int created = 0, r = -1;

	id_hex(hex, is->id);
	/* Leases count from now; the issue time is now or earlier (a
	 * migration), which can only make the lease longer. */
	if (etcd_key(e, key, err, "ledger/%s", hex) != 0 ||
	    etcd_lease_for(e, ETCD_LEASE_ISSUED, is->expires + SESAME_STORE_GRACE, is->issued,
			   &lease, err) != 0)
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
		etcd_denied_hint(e, "ledger records", err);
	free(value);
	return r;
}

/* Everything the ledger's views need, read in one transaction (one
 * revision): ledger/, uses/, revoked/ and revoked-users/ under `from`. */
enum { R_LEDGER, R_USES, R_REVOKED, R_USERS, R_COUNT };

struct snapshot {
	struct sesame_etcd_txn_result res;
	const struct sesame_etcd_kvs *kvs[R_COUNT];
	size_t prefix_len;
};

static int read_snapshot(struct store_etcd *e, const char *ledger_key, const char *uses_from,
			 struct snapshot *snap, struct sesame_err *err)
{
	char keys[R_COUNT][ETCD_KEY_MAX];
	struct sesame_etcd_op ops[R_COUNT];
	struct sesame_etcd_txn txn = {NULL, 0, ops, R_COUNT, NULL, 0};

	memset(snap, 0, sizeof(*snap));
	if (etcd_key(e, keys[R_LEDGER], err, "ledger/%s", ledger_key) != 0 ||
	    etcd_key(e, keys[R_USES], err, "uses/%s", uses_from) != 0 ||
	    etcd_key(e, keys[R_REVOKED], err, "revoked/%s", uses_from) != 0 ||
	    etcd_key(e, keys[R_USERS], err, "revoked-users/") != 0)
		return -1;
	for (int i = 0; i < R_COUNT; i++)
		ops[i] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = keys[i],
						 .prefix = i != R_LEDGER || *ledger_key == '\0'};
	if (sesame_etcd_txn(e->s, &txn, &snap->res, err) != 0)
		return -1;
	if (!snap->res.succeeded || snap->res.n != R_COUNT) {
		sesame_etcd_txn_result_free(&snap->res);
		etcd_fail(e, err, "a transaction answer without the "
			       "reads asked for");
		return -1;
	}
	for (int i = 0; i < R_COUNT; i++) {
		if (snap->res.ops[i].kind != SESAME_ETCD_OP_RANGE) {
			sesame_etcd_txn_result_free(&snap->res);
			etcd_fail(e, err, "a transaction answer "
				       "without the reads asked for");
			return -1;
		}
		snap->kvs[i] = &snap->res.ops[i].range;
	}
	snap->prefix_len = strlen(e->prefix);
	return 0;
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

static int add_use(const struct store_etcd *e, struct sesame_history *h,
		   const struct sesame_etcd_kv *kv, struct sesame_err *err)
{
	struct sesame_ledger_use *more = realloc(h->uses, (h->n_uses + 1) * sizeof(*more));

	if (more == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	h->uses = more;
	if (etcd_use_decode(kv->value, kv->value_len, &h->uses[h->n_uses]) != 0) {
		etcd_fail(e, err, "a use record does not parse");
		return -1;
	}
	h->n_uses++;
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
static int fill_uses(const struct store_etcd *e, const struct snapshot *snap, const char *hex,
		     int64_t uid, struct sesame_history *h, struct sesame_err *err)
{
	const struct sesame_etcd_kvs *uses = snap->kvs[R_USES];
	const struct sesame_etcd_kv **records = NULL;
	char start[ETCD_KEY_MAX];
	size_t n, first, count = 0;
	int r = -1;

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
		if (owner < 0 || (uid >= 0 && owner != uid))
			continue;
		if (kv->key[n + 8] == '\0')
			h->used += (unsigned)(kv->version > UINT32_MAX ? UINT32_MAX : kv->version);
		else
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
		int64_t owner = uid_of(kv->key, n);
		if (strncmp(kv->key, start, n) != 0)
			break;
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
		etcd_fail(e, err, "a per-user revocation does not "
			       "parse");
		return -1;
	}
	h->user_revoked = h->issue.issued <= before;
	return 0;
}

/* One token's story: its issue record (kv, or NULL) and what the
 * snapshot holds for it. */
static int fill(const struct store_etcd *e, const struct snapshot *snap,
		const struct sesame_etcd_kv *issue, const uint8_t id[SESAME_ID_BYTES],
		struct sesame_history *h, struct sesame_err *err)
{
	char hex[SESAME_ID_TEXT_SIZE];
	int64_t uid = -1;

	memset(h, 0, sizeof(*h));
	h->revoked_at = -1;
	id_hex(hex, id);
	if (issue != NULL) {
		if (etcd_issue_decode(issue->value, issue->value_len, &h->issue) != 0 ||
		    memcmp(h->issue.id, id, SESAME_ID_BYTES) != 0) {
			etcd_fail(e, err, "a ledger record does not "
				       "parse");
			return -1;
		}
		h->have_issue = 1;
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
	const struct sesame_etcd_kvs *ledger;
	int r;

	id_hex(hex, id);
	snprintf(from, sizeof(from), "%s-", hex);
	if (read_snapshot(e, hex, from, &snap, err) != 0)
		return -1;
	ledger = snap.kvs[R_LEDGER];
	r = fill(e, &snap, ledger->n == 1 ? &ledger->kv[0] : NULL, id, h, err);
	if (r != 0)
		sesame_history_clear(h);
	sesame_etcd_txn_result_free(&snap.res);
	return r;
}

int store_etcd_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		    struct sesame_err *err)
{
	struct store_etcd *e = etcd_of(st);
	const struct sesame_etcd_kvs *ledger;
	struct snapshot snap;
	size_t plen;
	int r = -1;

	if (read_snapshot(e, "", "", &snap, err) != 0)
		return -1;
	ledger = snap.kvs[R_LEDGER];
	plen = snap.prefix_len + strlen("ledger/");
	*out = calloc(ledger->n ? ledger->n : 1, sizeof(**out));
	if (*out == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		goto out;
	}
	for (size_t i = 0; i < ledger->n; i++) {
		uint8_t id[SESAME_ID_BYTES];
		const char *key = ledger->kv[i].key;
		if (strlen(key) != plen + 2 * SESAME_ID_BYTES || hex_id(key + plen, id) != 0) {
			etcd_fail(e, err, "a ledger key that is not a "
				       "token id");
			goto out;
		}
		if (fill(e, &snap, &ledger->kv[i], id, &(*out)[*n], err) != 0) {
			sesame_history_clear(&(*out)[*n]);
			goto out;
		}
		(*n)++;
	}
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
