/* The JSON of etcd's v3 gateway (/v3/kv/range, /v3/kv/txn, ...), built
 * and read with json-c: keys and values travel base64-encoded, 64-bit
 * numbers as decimal strings, enums by name. No I/O here, so that every
 * request and every answer, good or hostile, is unit-tested. */
#ifndef SESAME_ETCD_CODEC_H
#define SESAME_ETCD_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* Gateway paths etcd 3.4 serves (3.3 only had /v3beta/). */
#define SESAME_ETCD_PATH_RANGE "/v3/kv/range"
#define SESAME_ETCD_PATH_PUT "/v3/kv/put"
#define SESAME_ETCD_PATH_DELETE "/v3/kv/deleterange"
#define SESAME_ETCD_PATH_TXN "/v3/kv/txn"
#define SESAME_ETCD_PATH_LEASE_GRANT "/v3/lease/grant"
#define SESAME_ETCD_PATH_LEASE_REVOKE "/v3/lease/revoke"
#define SESAME_ETCD_PATH_AUTH "/v3/auth/authenticate"
#define SESAME_ETCD_PATH_STATUS "/v3/maintenance/status"

/* Largest answer we read: a range over every record of a big fleet. */
#define SESAME_ETCD_REPLY_MAX (16u << 20)

/* One key-value pair of a range answer. key and value are NUL-terminated
 * copies; both may also hold NULs (key_len and value_len count them).
 * etcd stores a key with a NUL byte, and whoever may write under a prefix
 * may write one there: a reader of a prefix range skips or refuses such a
 * key (sesame_etcd_kv_key_has_nul) rather than read it as a shorter one. */
struct sesame_etcd_kv {
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version; /* puts since the key was created: 1 after the first */
	int64_t lease;
};

struct sesame_etcd_kvs {
	size_t n;
	struct sesame_etcd_kv *kv;
	int64_t count; /* keys in the range, which may exceed n with a limit */
	int more;
};

void sesame_etcd_kvs_free(struct sesame_etcd_kvs *kvs);

static inline int sesame_etcd_kv_key_has_nul(const struct sesame_etcd_kv *kv)
{
	return strlen(kv->key) != kv->key_len;
}

enum sesame_etcd_target {
	SESAME_ETCD_VERSION,
	SESAME_ETCD_CREATE,
	SESAME_ETCD_MOD,
	SESAME_ETCD_VALUE,
	SESAME_ETCD_LEASE,
};

enum sesame_etcd_cmp {
	SESAME_ETCD_EQUAL,
	SESAME_ETCD_GREATER,
	SESAME_ETCD_LESS,
	SESAME_ETCD_NOT_EQUAL,
};

struct sesame_etcd_compare {
	const char *key;
	enum sesame_etcd_target target;
	enum sesame_etcd_cmp result;
	int64_t number;     /* for VERSION, CREATE, MOD, LEASE */
	const char *value;  /* for VALUE */
	size_t value_len;
};

enum sesame_etcd_op_kind {
	SESAME_ETCD_OP_RANGE,
	SESAME_ETCD_OP_PUT,
	SESAME_ETCD_OP_DELETE,
	SESAME_ETCD_OP_TXN,
};

struct sesame_etcd_txn;

/* One operation of a transaction, or a request on its own. */
struct sesame_etcd_op {
	enum sesame_etcd_op_kind kind;
	const char *key;
	int prefix;           /* RANGE, DELETE: every key starting with key */
	int64_t limit;        /* RANGE: at most this many, 0 = all */
	int keys_only;        /* RANGE: keys, versions and revisions, no values */
	int count_only;       /* RANGE: the count alone, no keys */
	const char *value;    /* PUT */
	size_t value_len;
	int64_t lease;        /* PUT: attach to this lease, 0 = none */
	int ignore_lease;     /* PUT: keep the key's current lease */
	const struct sesame_etcd_txn *txn; /* TXN: nested (etcd >= 3.3) */
};

struct sesame_etcd_txn {
	const struct sesame_etcd_compare *compare;
	size_t n_compare;
	const struct sesame_etcd_op *success;
	size_t n_success;
	const struct sesame_etcd_op *failure;
	size_t n_failure;
};

struct sesame_etcd_txn_result;

/* What one operation of a transaction answered, in request order. */
struct sesame_etcd_op_result {
	enum sesame_etcd_op_kind kind;
	struct sesame_etcd_kvs range;           /* RANGE */
	int64_t deleted;                        /* DELETE */
	struct sesame_etcd_txn_result *txn;     /* TXN */
};

struct sesame_etcd_txn_result {
	int succeeded;   /* the compares held: the success ops ran */
	int64_t revision;
	size_t n;
	struct sesame_etcd_op_result *ops;
};

void sesame_etcd_txn_result_free(struct sesame_etcd_txn_result *r);

/* The end of the range of every key starting with key ("/a/" -> "/a0"),
 * as etcd's clientv3.GetPrefixRangeEnd computes it. NULL on memory. */
char *sesame_etcd_prefix_end(const char *key);

/* Request bodies: a fresh string in *json, or -1 with err. */
int sesame_etcd_encode_op(const struct sesame_etcd_op *op, char **json, struct sesame_err *err);
int sesame_etcd_encode_txn(const struct sesame_etcd_txn *txn, char **json,
			   struct sesame_err *err);
int sesame_etcd_encode_lease_grant(int64_t ttl, char **json, struct sesame_err *err);
int sesame_etcd_encode_lease_revoke(int64_t id, char **json, struct sesame_err *err);
/* The password is in the result: the caller wipes it (sesame_free_str). */
int sesame_etcd_encode_auth(const char *user, const char *password, char **json,
			    struct sesame_err *err);

/* Answers. Every decoder checks the shape of what it reads: a missing
 * header, a field of the wrong type, bad base64 or a number that does
 * not fit are errors ("unparsable answer: ..."), never zeroes. */
int sesame_etcd_decode_range(const char *json, size_t len, struct sesame_etcd_kvs *out,
			     int64_t *revision, struct sesame_err *err);
int sesame_etcd_decode_put(const char *json, size_t len, int64_t *revision,
			   struct sesame_err *err);
int sesame_etcd_decode_delete(const char *json, size_t len, int64_t *deleted,
			      int64_t *revision, struct sesame_err *err);
int sesame_etcd_decode_txn(const char *json, size_t len, struct sesame_etcd_txn_result *out,
			   struct sesame_err *err);
int sesame_etcd_decode_lease_grant(const char *json, size_t len, int64_t *id, int64_t *ttl,
				   struct sesame_err *err);
/* The token is a fresh string; the caller wipes it. */
int sesame_etcd_decode_auth(const char *json, size_t len, char **token, struct sesame_err *err);

/* Alarms the cluster has raised, as a member's status reports them
 * (readable without admin rights, unlike /v3/maintenance/alarm). */
#define SESAME_ETCD_ALARM_NOSPACE 1
#define SESAME_ETCD_ALARM_CORRUPT 2

struct sesame_etcd_status {
	char version[32];
	uint64_t member_id;
	uint64_t leader;
	int64_t db_size;
	int64_t raft_term;
	int64_t revision;
	unsigned alarms; /* SESAME_ETCD_ALARM_*: from the answer's "errors" */
};
int sesame_etcd_decode_status(const char *json, size_t len, struct sesame_etcd_status *out,
			      struct sesame_err *err);


/* The gateway's error answer {"error": ..., "code": N}: the gRPC code
 * and the message (printable ASCII only, truncated to fit msg). 0 when
 * it is one, -1 when the body is not an error answer. */
int sesame_etcd_decode_error(const char *json, size_t len, int *code, char *msg, size_t msg_size);

/* The "exp" claim of a JWT auth token (how long a cached token lasts),
 * read without checking the signature: only a hint for when to renew.
 * 0, or -1 for a token that is not a JWT with an exp (a simple token). */
int sesame_etcd_jwt_expiry(const char *token, int64_t *exp);

#endif
