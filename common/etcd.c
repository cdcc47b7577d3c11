/* The etcd session and its primitives: requests built by the codec, sent
 * through the session's transport, answers read by the codec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"

struct sesame_etcd {
	struct sesame_etcd_transport t;
	enum sesame_etcd_failure failure;
	int have_skew;
	int64_t skew;
	int64_t answer_time; /* the later of both clocks at the last answer */
	char prefix[SESAME_ETCD_PREFIX_MAX];
	char endpoint[SESAME_ETCD_URL_MAX]; /* who answered last */
};

const char *sesame_etcd_failure_name(enum sesame_etcd_failure f)
{
	static const char *const names[] = {
		"none", "unreachable", "timeout", "tls", "auth", "denied", "nospace",
		"protocol", "local",
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

void sesame_etcd_reply_free(struct sesame_etcd_reply *r)
{
	if (r->body != NULL)
		sesame_wipe(r->body, r->len);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int sesame_etcd_open_transport(struct sesame_etcd **out, const struct sesame_etcd_transport *t,
			       const char *prefix, struct sesame_err *err)
{
	struct sesame_etcd *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		if (t->close != NULL)
			t->close(t->ctx);
		return -1;
	}
	s->t = *t;
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	*out = s;
	return 0;
}

void sesame_etcd_close(struct sesame_etcd *s)
{
	if (s == NULL)
		return;
	if (s->t.close != NULL)
		s->t.close(s->t.ctx);
	free(s);
}

enum sesame_etcd_failure sesame_etcd_last_failure(const struct sesame_etcd *s)
{
	return s->failure;
}

const char *sesame_etcd_prefix(const struct sesame_etcd *s)
{
	return s->prefix;
}

const char *sesame_etcd_last_endpoint(const struct sesame_etcd *s)
{
	return s->endpoint[0] != '\0' ? s->endpoint : "etcd";
}

int sesame_etcd_clock_skew(const struct sesame_etcd *s, int64_t *skew)
{
	if (!s->have_skew)
		return -1;
	*skew = s->skew;
	return 0;
}

int sesame_etcd_answer_time(const struct sesame_etcd *s, int64_t *t)
{
	if (!s->have_skew)
		return -1;
	*t = s->answer_time;
	return 0;
}

/* Send a request the codec built (json is wiped and freed here). */
static int call(struct sesame_etcd *s, const char *path, char *json,
		struct sesame_etcd_reply *reply, struct sesame_err *err)
{
	int r;

	memset(reply, 0, sizeof(*reply));
	if (json == NULL) {
		s->failure = SESAME_ETCD_FAIL_LOCAL;
		return -1;
	}
	s->failure = SESAME_ETCD_FAIL_NONE;
	r = s->t.call(s->t.ctx, path, json, strlen(json), reply, &s->failure, err);
	sesame_free_str(json);
	if (r != 0) {
		if (s->failure == SESAME_ETCD_FAIL_NONE)
			s->failure = SESAME_ETCD_FAIL_LOCAL;
		return -1;
	}
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", reply->endpoint);
	if (reply->server_time > 0) {
		s->skew = reply->server_time - reply->local_time;
		s->have_skew = 1;
		s->answer_time = reply->server_time > reply->local_time ? reply->server_time
									: reply->local_time;
	}
	return 0;
}

/* An answer that came but does not parse: a protocol failure, named. */
static int unparsable(struct sesame_etcd *s, const struct sesame_etcd_reply *reply,
		      struct sesame_err *err)
{
	struct sesame_err why = *err;

	s->failure = SESAME_ETCD_FAIL_PROTOCOL;
	sesame_err_set(err, "store unavailable: %s: %s", reply->endpoint, why.msg);
	return -1;
}

static int encode_failed(struct sesame_etcd *s)
{
	s->failure = SESAME_ETCD_FAIL_LOCAL;
	return -1;
}

/* Each answer's decoder, in one shape: (body, length, out, err). */
typedef int (*decoder)(const char *json, size_t len, void *out, struct sesame_err *err);

struct revision_and {
	int64_t revision;
	void *out;
};

static int read_txn(const char *json, size_t len, void *out, struct sesame_err *err)
{
	return sesame_etcd_decode_txn(json, len, out, err);
}

static int read_range(const char *json, size_t len, void *out, struct sesame_err *err)
{
	struct revision_and *r = out;

	return sesame_etcd_decode_range(json, len, r->out, &r->revision, err);
}

static int read_put(const char *json, size_t len, void *out, struct sesame_err *err)
{
	return sesame_etcd_decode_put(json, len, out, err);
}

static int read_delete(const char *json, size_t len, void *out, struct sesame_err *err)
{
	struct revision_and *r = out;

	return sesame_etcd_decode_delete(json, len, r->out, &r->revision, err);
}

static int read_lease(const char *json, size_t len, void *out, struct sesame_err *err)
{
	struct revision_and *r = out; /* revision holds the granted TTL here */

	return sesame_etcd_decode_lease_grant(json, len, r->out, &r->revision, err);
}

static int read_status(const char *json, size_t len, void *out, struct sesame_err *err)
{
	return sesame_etcd_decode_status(json, len, out, err);
}

/* Encode (done by the caller: json, or NULL when that failed), send,
 * decode. 0, or -1 with the failure recorded in s. */
static int request(struct sesame_etcd *s, const char *path, int encoded, char *json,
		   decoder decode, void *out, struct sesame_etcd_reply *keep,
		   struct sesame_err *err)
{
	struct sesame_etcd_reply reply;
	int r = -1;

	if (encoded != 0)
		return encode_failed(s);
	if (call(s, path, json, &reply, err) != 0)
		return -1;
	if (decode(reply.body, reply.len, out, err) != 0)
		unparsable(s, &reply, err);
	else
		r = 0;
	if (keep != NULL)
		snprintf(keep->endpoint, sizeof(keep->endpoint), "%s", reply.endpoint);
	sesame_etcd_reply_free(&reply);
	return r;
}

int sesame_etcd_txn(struct sesame_etcd *s, const struct sesame_etcd_txn *txn,
		    struct sesame_etcd_txn_result *result, struct sesame_err *err)
{
	char *json = NULL;
	int encoded = sesame_etcd_encode_txn(txn, &json, err);

	memset(result, 0, sizeof(*result));
	return request(s, SESAME_ETCD_PATH_TXN, encoded, json, read_txn, result, NULL, err);
}

static int range(struct sesame_etcd *s, const struct sesame_etcd_op *op,
		 struct sesame_etcd_kvs *out, struct sesame_err *err)
{
	struct revision_and r = {0, out};
	char *json = NULL;
	int encoded = sesame_etcd_encode_op(op, &json, err);

	memset(out, 0, sizeof(*out));
	return request(s, SESAME_ETCD_PATH_RANGE, encoded, json, read_range, &r, NULL, err);
}

int sesame_etcd_get(struct sesame_etcd *s, const char *key, struct sesame_etcd_kvs *out,
		    struct sesame_err *err)
{
	struct sesame_etcd_op op = {.kind = SESAME_ETCD_OP_RANGE, .key = key};

	return range(s, &op, out, err);
}

int sesame_etcd_range_prefix(struct sesame_etcd *s, const char *prefix, int64_t limit,
			     struct sesame_etcd_kvs *out, struct sesame_err *err)
{
	struct sesame_etcd_op op = {
		.kind = SESAME_ETCD_OP_RANGE, .key = prefix, .prefix = 1, .limit = limit};

	return range(s, &op, out, err);
}

int sesame_etcd_put(struct sesame_etcd *s, const char *key, const char *value, size_t len,
		    int64_t lease, struct sesame_err *err)
{
	struct sesame_etcd_op op = {.kind = SESAME_ETCD_OP_PUT, .key = key, .value = value,
				    .value_len = len, .lease = lease};
	int64_t revision;
	char *json = NULL;
	int encoded = sesame_etcd_encode_op(&op, &json, err);

	return request(s, SESAME_ETCD_PATH_PUT, encoded, json, read_put, &revision, NULL, err);
}

int sesame_etcd_delete(struct sesame_etcd *s, const char *key, int prefix, int64_t *deleted,
		       struct sesame_err *err)
{
	struct sesame_etcd_op op = {.kind = SESAME_ETCD_OP_DELETE, .key = key, .prefix = prefix};
	struct revision_and r = {0, deleted};
	char *json = NULL;
	int encoded = sesame_etcd_encode_op(&op, &json, err);

	return request(s, SESAME_ETCD_PATH_DELETE, encoded, json, read_delete, &r, NULL, err);
}

/* The answer must have the shape the request asked for. */
static int expect_ranges(struct sesame_etcd *s, const struct sesame_etcd_txn_result *res,
			 size_t first, size_t n, struct sesame_err *err)
{
	if (res->n < first + n)
		goto bad;
	for (size_t i = first; i < first + n; i++)
		if (res->ops[i].kind != SESAME_ETCD_OP_RANGE)
			goto bad;
	return 0;
bad:
	s->failure = SESAME_ETCD_FAIL_PROTOCOL;
	sesame_err_set(err, "store unavailable: a transaction answer without the reads asked for");
	return -1;
}

int sesame_etcd_put_if_absent(struct sesame_etcd *s, const char *key, const char *value,
			      size_t len, int64_t lease, int *created,
			      struct sesame_etcd_kvs *existing, struct sesame_err *err)
{
	struct sesame_etcd_compare cmp = {.key = key, .target = SESAME_ETCD_VERSION,
					  .result = SESAME_ETCD_EQUAL, .number = 0};
	struct sesame_etcd_op put = {.kind = SESAME_ETCD_OP_PUT, .key = key, .value = value,
				     .value_len = len, .lease = lease};
	struct sesame_etcd_op get = {.kind = SESAME_ETCD_OP_RANGE, .key = key};
	struct sesame_etcd_txn txn = {&cmp, 1, &put, 1, &get, 1};
	struct sesame_etcd_txn_result res;
	int r = -1;

	if (existing != NULL)
		memset(existing, 0, sizeof(*existing));
	if (sesame_etcd_txn(s, &txn, &res, err) != 0)
		return -1;
	*created = res.succeeded;
	if (!res.succeeded && expect_ranges(s, &res, 0, 1, err) != 0)
		goto out;
	if (!res.succeeded && existing != NULL) {
		*existing = res.ops[0].range;
		memset(&res.ops[0].range, 0, sizeof(res.ops[0].range));
	}
	r = 0;
out:
	sesame_etcd_txn_result_free(&res);
	return r;
}

#define ABSENT_MAX 8

/* The success branch: put the use. A key that exists keeps its lease
 * (ignore_lease); a new one gets the caller's. etcd refuses
 * ignore_lease on a missing key, hence the nested transaction. */
static void use_ops(struct sesame_etcd_op *put_new, struct sesame_etcd_op *put_again,
		    struct sesame_etcd_compare *is_new, struct sesame_etcd_txn *nested,
		    struct sesame_etcd_op *success, const char *key, const char *value, size_t len,
		    int64_t lease)
{
	*is_new = (struct sesame_etcd_compare){.key = key, .target = SESAME_ETCD_VERSION,
					       .result = SESAME_ETCD_EQUAL, .number = 0};
	*put_new = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = key, .value = value,
					   .value_len = len, .lease = lease};
	*put_again = *put_new;
	put_again->lease = 0;
	put_again->ignore_lease = 1;
	*nested = (struct sesame_etcd_txn){is_new, 1, put_new, 1, put_again, 1};
	if (lease != 0)
		*success = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_TXN, .txn = nested};
	else
		*success = *put_new;
}

static void read_use(const struct sesame_etcd_txn_result *res, size_t n_absent,
		     struct sesame_etcd_use *use)
{
	/* Reads come last: absent[0..n), then the use key. */
	const struct sesame_etcd_kvs *counter = &res->ops[res->n - 1].range;

	use->counted = res->succeeded;
	use->count = counter->n == 1 ? counter->kv[0].version : 0;
	use->blocked_by = -1;
	for (size_t i = 0; !res->succeeded && i < n_absent; i++) {
		if (res->ops[res->n - 1 - n_absent + i].range.n > 0) {
			use->blocked_by = (int)i;
			break;
		}
	}
}

int sesame_etcd_count_use(struct sesame_etcd *s, const char *key, const char *value,
			  size_t len, int64_t limit, int64_t lease, const char *const *absent,
			  size_t n_absent, struct sesame_etcd_use *use, struct sesame_err *err)
{
	struct sesame_etcd_compare cmp[ABSENT_MAX + 1], is_new;
	struct sesame_etcd_op put_new, put_again, ok[ABSENT_MAX + 2], no[ABSENT_MAX + 1];
	struct sesame_etcd_txn nested, txn;
	struct sesame_etcd_txn_result res;
	size_t i;
	int r = -1;

	memset(use, 0, sizeof(*use));
	if (n_absent > ABSENT_MAX || limit <= 0) {
		sesame_err_set(err, "store unavailable: count_use: a limit below 1 or more than "
			       "%d keys to check", ABSENT_MAX);
		return encode_failed(s);
	}
	for (i = 0; i < n_absent; i++) {
		cmp[i] = (struct sesame_etcd_compare){.key = absent[i], .target = SESAME_ETCD_VERSION,
						      .result = SESAME_ETCD_EQUAL, .number = 0};
		no[i] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = absent[i]};
	}
	cmp[n_absent] = (struct sesame_etcd_compare){.key = key, .target = SESAME_ETCD_VERSION,
						     .result = SESAME_ETCD_LESS, .number = limit};
	no[n_absent] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_RANGE, .key = key};
	use_ops(&put_new, &put_again, &is_new, &nested, &ok[0], key, value, len, lease);
	ok[1] = no[n_absent];
	txn = (struct sesame_etcd_txn){cmp, n_absent + 1, ok, 2, no, n_absent + 1};
	if (sesame_etcd_txn(s, &txn, &res, err) != 0)
		return -1;
	if (expect_ranges(s, &res, res.succeeded ? 1 : 0, res.succeeded ? 1 : n_absent + 1,
			  err) == 0) {
		read_use(&res, res.succeeded ? 0 : n_absent, use);
		r = 0;
	}
	sesame_etcd_txn_result_free(&res);
	return r;
}

int sesame_etcd_lease_grant(struct sesame_etcd *s, int64_t ttl, int64_t *id,
			    struct sesame_err *err)
{
	struct revision_and r = {0, id};
	char *json = NULL;
	int encoded = sesame_etcd_encode_lease_grant(ttl, &json, err);

	return request(s, SESAME_ETCD_PATH_LEASE_GRANT, encoded, json, read_lease, &r, NULL, err);
}

int sesame_etcd_lease_revoke(struct sesame_etcd *s, int64_t id, struct sesame_err *err)
{
	int64_t revision;
	char *json = NULL;
	int encoded = sesame_etcd_encode_lease_revoke(id, &json, err);

	return request(s, SESAME_ETCD_PATH_LEASE_REVOKE, encoded, json, read_put, &revision, NULL,
		       err);
}

int sesame_etcd_status(struct sesame_etcd *s, struct sesame_etcd_status *st,
		       struct sesame_err *err)
{
	struct sesame_etcd_reply who;
	char *json = strdup("{}");

	memset(&who, 0, sizeof(who));
	if (json == NULL)
		sesame_err_set(err, "store unavailable: out of memory");
	if (request(s, SESAME_ETCD_PATH_STATUS, json == NULL ? -1 : 0, json, read_status, st, &who,
		    err) != 0)
		return -1;
	if (st->alarms & SESAME_ETCD_ALARM_NOSPACE) {
		s->failure = SESAME_ETCD_FAIL_NOSPACE;
		sesame_err_set(err, "store unavailable: %s: the cluster's space quota alarm "
			       "(NOSPACE) is raised", who.endpoint);
		return -1;
	}
	if (st->alarms & SESAME_ETCD_ALARM_CORRUPT) {
		s->failure = SESAME_ETCD_FAIL_PROTOCOL;
		sesame_err_set(err, "store unavailable: %s: the cluster's CORRUPT alarm is raised",
			       who.endpoint);
		return -1;
	}
	return 0;
}
