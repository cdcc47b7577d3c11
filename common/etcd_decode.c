/* Gateway answers, read with json-c. The gateway (grpc-gateway, proto
 * field names) leaves out zero values: a missing "count", "version" or
 * "succeeded" is 0 or false, as protobuf says. A missing "header" or a
 * field of the wrong type is not: that answer is refused. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "etcd_b64.h"
#include "etcd_codec.h"

#define NESTING_MAX 4

static json_object *parse(const char *json, size_t len, struct sesame_err *err)
{
	json_tokener *tok;
	json_object *o = NULL;

	if (len > SESAME_ETCD_REPLY_MAX || len > INT_MAX) {
		sesame_err_set(err, "unparsable answer: larger than %u bytes", SESAME_ETCD_REPLY_MAX);
		return NULL;
	}
	tok = json_tokener_new_ex(32);
	if (tok != NULL) {
		o = json_tokener_parse_ex(tok, json, (int)len);
		/* Trailing bytes after the object are refused too. */
		if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
				  json_tokener_get_parse_end(tok) != len)) {
			json_object_put(o);
			o = NULL;
		}
		json_tokener_free(tok);
	}
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		sesame_err_set(err, "unparsable answer: not a JSON object");
		return NULL;
	}
	return o;
}

/* A 64-bit field: a decimal string (the gateway's way) or a JSON
 * integer; absent is 0. */
static int get_int(json_object *o, const char *name, int64_t *out, struct sesame_err *err)
{
	json_object *v;
	const char *s;
	char *end = NULL;
	long long n;

	*out = 0;
	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		*out = json_object_get_int64(v);
		if (errno == 0)
			return 0;
	} else if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno == 0 && end != s && *end == '\0' && (*s == '-' || (*s >= '0' && *s <= '9'))) {
			*out = n;
			return 0;
		}
	}
	sesame_err_set(err, "unparsable answer: \"%s\" is not a 64-bit number", name);
	return -1;
}

/* Member and cluster ids are uint64 (and do exceed INT64_MAX). */
static int get_uint(json_object *o, const char *name, uint64_t *out, struct sesame_err *err)
{
	json_object *v;
	const char *s;
	char *end = NULL;

	*out = 0;
	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		errno = 0;
		*out = strtoull(s, &end, 10);
		if (errno == 0 && end != s && *end == '\0' && *s >= '0' && *s <= '9')
			return 0;
	}
	sesame_err_set(err, "unparsable answer: \"%s\" is not an unsigned 64-bit number", name);
	return -1;
}

static int get_bool(json_object *o, const char *name, int *out, struct sesame_err *err)
{
	json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		sesame_err_set(err, "unparsable answer: \"%s\" is not a boolean", name);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

/* Absent: NULL with 0; present but not of the type: -1. */
static int get_typed(json_object *o, const char *name, json_type type, json_object **out,
		     struct sesame_err *err)
{
	*out = NULL;
	if (!json_object_object_get_ex(o, name, out))
		return 0;
	if (json_object_is_type(*out, type))
		return 0;
	sesame_err_set(err, "unparsable answer: \"%s\" has the wrong type", name);
	return -1;
}

static int get_b64(json_object *o, const char *name, char **out, size_t *len,
		   struct sesame_err *err)
{
	json_object *v;

	if (get_typed(o, name, json_type_string, &v, err) != 0)
		return -1;
	if (sesame_etcd_b64_decode(v ? json_object_get_string(v) : "", out, len) == 0)
		return 0;
	sesame_err_set(err, "unparsable answer: \"%s\" is not base64", name);
	return -1;
}

/* Every answer carries a header with the revision it reflects. */
static int get_header(json_object *o, int64_t *revision, struct sesame_err *err)
{
	json_object *h;

	if (get_typed(o, "header", json_type_object, &h, err) != 0)
		return -1;
	if (h == NULL) {
		sesame_err_set(err, "unparsable answer: no header");
		return -1;
	}
	return get_int(h, "revision", revision, err);
}

static int decode_kv(json_object *o, struct sesame_etcd_kv *kv, struct sesame_err *err)
{
	if (!json_object_is_type(o, json_type_object)) {
		sesame_err_set(err, "unparsable answer: a key-value is not an object");
		return -1;
	}
	if (get_b64(o, "key", &kv->key, &kv->key_len, err) != 0)
		return -1;
	if (get_b64(o, "value", &kv->value, &kv->value_len, err) != 0)
		return -1;
	/* A key with a NUL byte is kept (key_len says so): etcd stores one
	 * wherever its writer may write, and one record a verifying host
	 * wrote must not fail a whole range; its reader decides. */
	if (kv->key_len == 0) {
		sesame_err_set(err, "unparsable answer: an empty key");
		return -1;
	}
	return get_int(o, "create_revision", &kv->create_revision, err) ||
			       get_int(o, "mod_revision", &kv->mod_revision, err) ||
			       get_int(o, "version", &kv->version, err) ||
			       get_int(o, "lease", &kv->lease, err)
		       ? -1
		       : 0;
}

void sesame_etcd_kvs_free(struct sesame_etcd_kvs *kvs)
{
	for (size_t i = 0; kvs->kv != NULL && i < kvs->n; i++) {
		free(kvs->kv[i].key);
		if (kvs->kv[i].value != NULL)
			sesame_wipe(kvs->kv[i].value, kvs->kv[i].value_len);
		free(kvs->kv[i].value);
	}
	free(kvs->kv);
	memset(kvs, 0, sizeof(*kvs));
}

static int decode_kvs(json_object *o, struct sesame_etcd_kvs *out, struct sesame_err *err)
{
	json_object *a;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (get_typed(o, "kvs", json_type_array, &a, err) != 0 ||
	    get_int(o, "count", &out->count, err) != 0 || get_bool(o, "more", &out->more, err) != 0)
		return -1;
	n = a ? json_object_array_length(a) : 0;
	if (n > 0 && (out->kv = calloc(n, sizeof(*out->kv))) == NULL) {
		sesame_err_set(err, "out of memory reading %zu keys", n);
		return -1;
	}
	for (out->n = 0; out->n < n; out->n++) {
		if (decode_kv(json_object_array_get_idx(a, out->n), &out->kv[out->n], err) != 0) {
			out->n++; /* free the half-read one too */
			sesame_etcd_kvs_free(out);
			return -1;
		}
	}
	return 0;
}

int sesame_etcd_decode_range(const char *json, size_t len, struct sesame_etcd_kvs *out,
			     int64_t *revision, struct sesame_err *err)
{
	json_object *o = parse(json, len, err);
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (o != NULL && get_header(o, revision, err) == 0)
		r = decode_kvs(o, out, err);
	json_object_put(o);
	return r;
}

int sesame_etcd_decode_put(const char *json, size_t len, int64_t *revision,
			   struct sesame_err *err)
{
	json_object *o = parse(json, len, err);
	int r = o != NULL ? get_header(o, revision, err) : -1;

	json_object_put(o);
	return r;
}

int sesame_etcd_decode_delete(const char *json, size_t len, int64_t *deleted,
			      int64_t *revision, struct sesame_err *err)
{
	json_object *o = parse(json, len, err);
	int r = -1;

	if (o != NULL && get_header(o, revision, err) == 0)
		r = get_int(o, "deleted", deleted, err);
	json_object_put(o);
	return r;
}

static int decode_txn_body(json_object *o, struct sesame_etcd_txn_result *out, int depth,
			   struct sesame_err *err);

/* {"response_range": {...}} and its siblings. */
static int decode_op_result(json_object *o, struct sesame_etcd_op_result *r, int depth,
			    struct sesame_err *err)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) != 1) {
		sesame_err_set(err, "unparsable answer: a transaction response is not one object");
		return -1;
	}
	if (json_object_object_get_ex(o, "response_range", &v) &&
	    json_object_is_type(v, json_type_object)) {
		r->kind = SESAME_ETCD_OP_RANGE;
		return decode_kvs(v, &r->range, err);
	}
	if (json_object_object_get_ex(o, "response_put", &v) &&
	    json_object_is_type(v, json_type_object)) {
		r->kind = SESAME_ETCD_OP_PUT;
		return 0;
	}
	if (json_object_object_get_ex(o, "response_delete_range", &v) &&
	    json_object_is_type(v, json_type_object)) {
		r->kind = SESAME_ETCD_OP_DELETE;
		return get_int(v, "deleted", &r->deleted, err);
	}
	if (json_object_object_get_ex(o, "response_txn", &v) &&
	    json_object_is_type(v, json_type_object) && depth < NESTING_MAX) {
		r->kind = SESAME_ETCD_OP_TXN;
		r->txn = calloc(1, sizeof(*r->txn));
		if (r->txn == NULL) {
			sesame_err_set(err, "out of memory");
			return -1;
		}
		return decode_txn_body(v, r->txn, depth + 1, err);
	}
	sesame_err_set(err, "unparsable answer: unknown transaction response");
	return -1;
}

void sesame_etcd_txn_result_free(struct sesame_etcd_txn_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->ops != NULL && i < r->n; i++) {
		sesame_etcd_kvs_free(&r->ops[i].range);
		sesame_etcd_txn_result_free(r->ops[i].txn);
		free(r->ops[i].txn);
	}
	free(r->ops);
	memset(r, 0, sizeof(*r));
}

static int decode_txn_body(json_object *o, struct sesame_etcd_txn_result *out, int depth,
			   struct sesame_err *err)
{
	json_object *a;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (get_bool(o, "succeeded", &out->succeeded, err) != 0 ||
	    get_typed(o, "responses", json_type_array, &a, err) != 0)
		return -1;
	n = a ? json_object_array_length(a) : 0;
	if (n > 0 && (out->ops = calloc(n, sizeof(*out->ops))) == NULL) {
		sesame_err_set(err, "out of memory");
		return -1;
	}
	for (out->n = 0; out->n < n; out->n++) {
		if (decode_op_result(json_object_array_get_idx(a, out->n), &out->ops[out->n], depth,
				     err) != 0) {
			out->n++;
			sesame_etcd_txn_result_free(out);
			return -1;
		}
	}
	return 0;
}

int sesame_etcd_decode_txn(const char *json, size_t len, struct sesame_etcd_txn_result *out,
			   struct sesame_err *err)
{
	json_object *o = parse(json, len, err);
	int64_t revision = 0;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (o != NULL && get_header(o, &revision, err) == 0 &&
	    decode_txn_body(o, out, 0, err) == 0) {
		out->revision = revision;
		r = 0;
	}
	json_object_put(o);
	return r;
}

int sesame_etcd_decode_lease_grant(const char *json, size_t len, int64_t *id, int64_t *ttl,
				   struct sesame_err *err)
{
	json_object *o = parse(json, len, err);
	int64_t revision;
	int r = -1;

	if (o != NULL && get_header(o, &revision, err) == 0 && get_int(o, "ID", id, err) == 0 &&
	    get_int(o, "TTL", ttl, err) == 0) {
		r = 0;
		if (*id == 0 || *ttl <= 0) {
			sesame_err_set(err, "unparsable answer: lease without an ID or a TTL");
			r = -1;
		}
	}
	json_object_put(o);
	return r;
}

static int token_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 4096 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			 "._-+/=") == n;
}

int sesame_etcd_decode_auth(const char *json, size_t len, char **token, struct sesame_err *err)
{
	json_object *o = parse(json, len, err);
	json_object *v = NULL;
	int64_t revision;
	int r = -1;

	*token = NULL;
	if (o != NULL && get_header(o, &revision, err) == 0 &&
	    get_typed(o, "token", json_type_string, &v, err) == 0) {
		if (v != NULL && token_ok(json_object_get_string(v))) {
			*token = strdup(json_object_get_string(v));
			r = *token ? 0 : -1;
		}
		if (r != 0)
			sesame_err_set(err, "unparsable answer: no usable auth token");
	}
	if (v != NULL)
		sesame_wipe((char *)json_object_get_string(v), strlen(json_object_get_string(v)));
	json_object_put(o);
	return r;
}

/* "errors": ["memberID:123 alarm:NOSPACE ", ...] (etcd >= 3.4). */
static int status_alarms(json_object *o, unsigned *alarms, struct sesame_err *err)
{
	json_object *a;

	*alarms = 0;
	if (get_typed(o, "errors", json_type_array, &a, err) != 0)
		return -1;
	for (size_t i = 0; a != NULL && i < json_object_array_length(a); i++) {
		const char *e = json_object_get_string(json_object_array_get_idx(a, i));

		if (e != NULL && strstr(e, "alarm:NOSPACE") != NULL)
			*alarms |= SESAME_ETCD_ALARM_NOSPACE;
		else if (e != NULL && strstr(e, "alarm:CORRUPT") != NULL)
			*alarms |= SESAME_ETCD_ALARM_CORRUPT;
	}
	return 0;
}

int sesame_etcd_decode_status(const char *json, size_t len, struct sesame_etcd_status *out,
			      struct sesame_err *err)
{
	json_object *o = parse(json, len, err), *h = NULL, *v = NULL;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (o != NULL && get_header(o, &out->revision, err) == 0 &&
	    get_typed(o, "header", json_type_object, &h, err) == 0 &&
	    get_uint(h, "member_id", &out->member_id, err) == 0 &&
	    get_uint(o, "leader", &out->leader, err) == 0 &&
	    get_int(o, "dbSize", &out->db_size, err) == 0 &&
	    get_int(o, "raftTerm", &out->raft_term, err) == 0 &&
	    get_typed(o, "version", json_type_string, &v, err) == 0 &&
	    status_alarms(o, &out->alarms, err) == 0) {
		snprintf(out->version, sizeof(out->version), "%s",
			 v ? json_object_get_string(v) : "");
		r = 0;
	}
	json_object_put(o);
	return r;
}

int sesame_etcd_decode_error(const char *json, size_t len, int *code, char *msg, size_t msg_size)
{
	struct sesame_err ignored;
	json_object *o = parse(json, len, &ignored), *e = NULL;
	int64_t c = 0;
	size_t k = 0;
	int r = -1;

	if (o != NULL && get_typed(o, "error", json_type_string, &e, &ignored) == 0 && e != NULL &&
	    get_int(o, "code", &c, &ignored) == 0 && c >= 0 && c < 100) {
		const char *s = json_object_get_string(e);

		for (; s[k] != '\0' && k + 1 < msg_size; k++)
			msg[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
		if (msg_size > 0)
			msg[k] = '\0';
		*code = (int)c;
		r = 0;
	}
	json_object_put(o);
	return r;
}

int sesame_etcd_jwt_expiry(const char *token, int64_t *exp)
{
	const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	char b64[2048], *payload = NULL;
	size_t n, len = 0;
	json_object *o = NULL;
	struct sesame_err ignored;
	int r = -1;

	if (dot2 == NULL || (n = (size_t)(dot2 - dot1 - 1)) == 0 || n + 4 >= sizeof(b64))
		return -1;
	/* base64url without padding to plain base64 with padding. */
	for (size_t i = 0; i < n; i++)
		b64[i] = dot1[1 + i] == '-' ? '+' : dot1[1 + i] == '_' ? '/' : dot1[1 + i];
	while (n % 4 != 0)
		b64[n++] = '=';
	b64[n] = '\0';
	if (sesame_etcd_b64_decode(b64, &payload, &len) == 0 && (o = parse(payload, len, &ignored)) != NULL &&
	    get_int(o, "exp", exp, &ignored) == 0 && *exp > 0)
		r = 0;
	json_object_put(o);
	free(payload);
	return r;
}
