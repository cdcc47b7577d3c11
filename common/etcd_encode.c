/* Gateway request bodies, built with json-c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "etcd_b64.h"
#include "etcd_codec.h"

#define NESTING_MAX 4

static int add_b64(json_object *o, const char *name, const char *data, size_t len)
{
	char *enc = sesame_etcd_b64_encode(data, len);
	json_object *s;

	if (enc == NULL)
		return -1;
	s = json_object_new_string(enc);
	free(enc);
	return s == NULL || json_object_object_add(o, name, s) != 0 ? -1 : 0;
}

static int add_int(json_object *o, const char *name, int64_t v)
{
	char num[24];
	json_object *s;

	snprintf(num, sizeof(num), "%" PRId64, v);
	s = json_object_new_string(num);
	return s == NULL || json_object_object_add(o, name, s) != 0 ? -1 : 0;
}

static int add_range_end(json_object *o, const char *key)
{
	char *end = sesame_etcd_prefix_end(key);
	int r;

	if (end == NULL)
		return -1;
	/* "" stands for the single byte 0: everything from key on. */
	r = add_b64(o, "range_end", end, end[0] == '\0' ? 1 : strlen(end));
	free(end);
	return r;
}

static json_object *op_body(const struct sesame_etcd_op *op, int depth);

static json_object *compare_body(const struct sesame_etcd_compare *c)
{
	static const char *const targets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
	static const char *const fields[] = {"version", "create_revision", "mod_revision",
					     "value", "lease"};
	static const char *const results[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
	json_object *o = json_object_new_object();
	int bad;

	if (o == NULL || (unsigned)c->target > SESAME_ETCD_LEASE ||
	    (unsigned)c->result > SESAME_ETCD_NOT_EQUAL || c->key == NULL)
		goto fail;
	bad = add_b64(o, "key", c->key, strlen(c->key)) != 0 ||
	      json_object_object_add(o, "target", json_object_new_string(targets[c->target])) ||
	      json_object_object_add(o, "result", json_object_new_string(results[c->result]));
	if (!bad && c->target == SESAME_ETCD_VALUE)
		bad = add_b64(o, fields[c->target], c->value ? c->value : "", c->value_len);
	else if (!bad)
		bad = add_int(o, fields[c->target], c->number);
	if (!bad)
		return o;
fail:
	json_object_put(o);
	return NULL;
}

static int add_array(json_object *o, const char *name, size_t n, const void *items, int is_op,
		     int depth)
{
	json_object *a = json_object_new_array();

	if (a == NULL || json_object_object_add(o, name, a) != 0) {
		json_object_put(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *item =
			is_op ? op_body((const struct sesame_etcd_op *)items + i, depth)
			      : compare_body((const struct sesame_etcd_compare *)items + i);
		if (item == NULL || json_object_array_add(a, item) != 0) {
			json_object_put(item);
			return -1;
		}
	}
	return 0;
}

static json_object *txn_body(const struct sesame_etcd_txn *t, int depth)
{
	json_object *o = json_object_new_object();

	if (o == NULL || depth > NESTING_MAX ||
	    add_array(o, "compare", t->n_compare, t->compare, 0, depth) != 0 ||
	    add_array(o, "success", t->n_success, t->success, 1, depth + 1) != 0 ||
	    add_array(o, "failure", t->n_failure, t->failure, 1, depth + 1) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A request on its own: {"key": ..., ...}. */
static json_object *request_body(const struct sesame_etcd_op *op, int depth)
{
	json_object *o;
	int bad = 0;

	if (op->kind == SESAME_ETCD_OP_TXN)
		return op->txn ? txn_body(op->txn, depth) : NULL;
	o = json_object_new_object();
	if (o == NULL || op->key == NULL || add_b64(o, "key", op->key, strlen(op->key)) != 0)
		goto fail;
	if (op->kind != SESAME_ETCD_OP_PUT && op->prefix)
		bad |= add_range_end(o, op->key);
	if (op->kind == SESAME_ETCD_OP_RANGE && op->limit > 0)
		bad |= add_int(o, "limit", op->limit);
	if (op->kind == SESAME_ETCD_OP_RANGE && op->keys_only)
		bad |= json_object_object_add(o, "keys_only", json_object_new_boolean(1)) != 0;
	if (op->kind == SESAME_ETCD_OP_RANGE && op->count_only)
		bad |= json_object_object_add(o, "count_only", json_object_new_boolean(1)) != 0;
	if (op->kind == SESAME_ETCD_OP_PUT) {
		bad |= add_b64(o, "value", op->value ? op->value : "", op->value_len);
		if (op->lease != 0)
			bad |= add_int(o, "lease", op->lease);
		if (op->ignore_lease)
			bad |= json_object_object_add(o, "ignore_lease",
						      json_object_new_boolean(1)) != 0;
	}
	if (!bad)
		return o;
fail:
	json_object_put(o);
	return NULL;
}

/* The same inside a transaction: {"request_put": {...}}. */
static json_object *op_body(const struct sesame_etcd_op *op, int depth)
{
	static const char *const names[] = {"request_range", "request_put",
					    "request_delete_range", "request_txn"};
	json_object *o, *inner;

	if ((unsigned)op->kind > SESAME_ETCD_OP_TXN)
		return NULL;
	inner = request_body(op, depth);
	o = json_object_new_object();
	if (inner == NULL || o == NULL || json_object_object_add(o, names[op->kind], inner) != 0) {
		json_object_put(inner);
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int finish(json_object *o, char **json, const char *what, struct sesame_err *err)
{
	const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE)
			     : NULL;

	*json = text ? strdup(text) : NULL;
	if (o != NULL) {
		/* json-c keeps its own copy of the text: wipe it (passwords). */
		if (text != NULL)
			sesame_wipe((char *)text, strlen(text));
		json_object_put(o);
	}
	if (*json == NULL) {
		sesame_err_set(err, "cannot build the %s request (bad argument or out of memory)",
			       what);
		return -1;
	}
	return 0;
}

int sesame_etcd_encode_op(const struct sesame_etcd_op *op, char **json, struct sesame_err *err)
{
	return finish(request_body(op, 0), json, "etcd", err);
}

int sesame_etcd_encode_txn(const struct sesame_etcd_txn *txn, char **json,
			   struct sesame_err *err)
{
	return finish(txn_body(txn, 0), json, "transaction", err);
}

int sesame_etcd_encode_lease_grant(int64_t ttl, char **json, struct sesame_err *err)
{
	json_object *o = ttl > 0 ? json_object_new_object() : NULL;

	if (o != NULL && add_int(o, "TTL", ttl) != 0) {
		json_object_put(o);
		o = NULL;
	}
	return finish(o, json, "lease grant", err);
}

int sesame_etcd_encode_lease_revoke(int64_t id, char **json, struct sesame_err *err)
{
	json_object *o = id != 0 ? json_object_new_object() : NULL;

	if (o != NULL && add_int(o, "ID", id) != 0) {
		json_object_put(o);
		o = NULL;
	}
	return finish(o, json, "lease revoke", err);
}

int sesame_etcd_encode_auth(const char *user, const char *password, char **json,
			    struct sesame_err *err)
{
	json_object *o = json_object_new_object();
	json_object *pw = json_object_new_string(password);
	int r;

	/* One more reference to the password's string object, so that its
	 * buffer can be wiped after the text is made and before it is freed. */
	if (o != NULL && pw != NULL &&
	    (json_object_object_add(o, "name", json_object_new_string(user)) != 0 ||
	     json_object_object_add(o, "password", json_object_get(pw)) != 0)) {
		json_object_put(o);
		o = NULL;
	}
	r = finish(o, json, "authenticate", err);
	if (pw != NULL) {
		sesame_wipe((char *)json_object_get_string(pw), strlen(password));
		json_object_put(pw);
	}
	return r;
}

char *sesame_etcd_prefix_end(const char *key)
{
	size_t n = strlen(key);
	char *end = strdup(key);

	if (end == NULL)
		return NULL;
	while (n > 0) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			return end;
		}
		n--;
	}
	/* All 0xff (or empty): "\0" means "to the end of the key space". */
	end[0] = '\0';
	return end;
}

