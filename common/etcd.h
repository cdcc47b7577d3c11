/* A client for etcd's v3 API, for the fleet store. One session per
 * store open: the calls go through a transport, which in the PAM module
 * and the CLI is the sesame-etcd helper process (etcd_helper.c; why: see
 * docs/fleet.md) and in tests and benchmarks may be libcurl in-process
 * (sesame-etcd-http). Every call either returns what a quorum of the
 * cluster committed or answered, or fails with "store unavailable" and a
 * reason naming the endpoint: never a guess, never a secret. */
#ifndef SESAME_ETCD_H
#define SESAME_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "etcd_codec.h"
#include "etcd_config.h"

/* Why a call failed; all of them mean "store unavailable" to a login. */
enum sesame_etcd_failure {
	SESAME_ETCD_FAIL_NONE = 0,
	SESAME_ETCD_FAIL_UNREACHABLE, /* no endpoint answered (refused, reset) */
	SESAME_ETCD_FAIL_TIMEOUT,     /* the operation's time budget ran out */
	SESAME_ETCD_FAIL_TLS,         /* a certificate did not verify, handshake failed */
	SESAME_ETCD_FAIL_AUTH,        /* wrong user or password, unusable token */
	SESAME_ETCD_FAIL_DENIED,      /* RBAC: this user may not do that */
	SESAME_ETCD_FAIL_NOSPACE,     /* the cluster's space quota alarm is raised */
	SESAME_ETCD_FAIL_PROTOCOL,    /* an answer that does not parse, an etcd error */
	SESAME_ETCD_FAIL_LOCAL,       /* our side: settings, files, helper, memory */
};

const char *sesame_etcd_failure_name(enum sesame_etcd_failure f);

/* One answer with HTTP status 200, as the transport got it. */
struct sesame_etcd_reply {
	char *body;
	size_t len;
	char endpoint[SESAME_ETCD_URL_MAX]; /* who answered */
	int64_t server_time;                /* its Date header, Unix seconds; 0 = none */
	int64_t local_time;                 /* our clock when the answer came */
};

void sesame_etcd_reply_free(struct sesame_etcd_reply *r);

/* POST body to path ("/v3/kv/txn") with authentication, endpoint
 * failover and the session's time budget. 0 with *reply, or -1 with
 * *failure and err ("store unavailable: https://h:2379: reason"). */
struct sesame_etcd_transport {
	int (*call)(void *ctx, const char *path, const char *body, size_t len,
		    struct sesame_etcd_reply *reply, enum sesame_etcd_failure *failure,
		    struct sesame_err *err);
	void (*close)(void *ctx);
	void *ctx;
};

struct sesame_etcd;

/* Start the helper (cfg->helper) and hand it the settings; state_dir
 * holds the cached auth token. Nothing is contacted yet. 0 or -1. */
int sesame_etcd_open(struct sesame_etcd **out, const struct sesame_etcd_config *cfg,
		     const char *state_dir, struct sesame_err *err);

/* A session over a transport the caller made (takes it over). */
int sesame_etcd_open_transport(struct sesame_etcd **out, const struct sesame_etcd_transport *t,
			       const char *prefix, struct sesame_err *err);

/* Ends the helper: no process, descriptor or memory outlives this. */
void sesame_etcd_close(struct sesame_etcd *s);

/* Why the last call failed. */
enum sesame_etcd_failure sesame_etcd_last_failure(const struct sesame_etcd *s);

/* The endpoint of the last answer ("https://h:2379"), or "etcd" before
 * any: for messages about what an answer said. */
const char *sesame_etcd_last_endpoint(const struct sesame_etcd *s);

/* The key prefix of the fleet ("/sesame/"). */
const char *sesame_etcd_prefix(const struct sesame_etcd *s);

/* The cluster's clock minus ours, in seconds, from the Date header of
 * the last answer (so +-1 s). 0, or -1 when no answer has come yet. A
 * caller refuses when |skew| nears its grace period: records of uses
 * live until expiry plus grace by the cluster's clock (leases). */
int sesame_etcd_clock_skew(const struct sesame_etcd *s, int64_t *skew);

/* The later of our clock and the cluster's (Date, whole seconds) when the
 * last answer with a Date came: a "now" that the time spent before that
 * answer (loading, looking up, authenticating, failing over) has not made
 * stale. 0, or -1 when no such answer has come yet. */
int sesame_etcd_answer_time(const struct sesame_etcd *s, int64_t *t);

/* ---- primitives ---- */

/* One key: out->n is 0 or 1 (free with sesame_etcd_kvs_free). */
int sesame_etcd_get(struct sesame_etcd *s, const char *key, struct sesame_etcd_kvs *out,
		    struct sesame_err *err);

/* Every key starting with prefix, in key order, at most limit (0 = all). */
int sesame_etcd_range_prefix(struct sesame_etcd *s, const char *prefix, int64_t limit,
			     struct sesame_etcd_kvs *out, struct sesame_err *err);

/* Put unconditionally; lease 0 = no lease. */
int sesame_etcd_put(struct sesame_etcd *s, const char *key, const char *value, size_t len,
		    int64_t lease, struct sesame_err *err);

/* Put only when the key does not exist. *created says which happened;
 * when it existed, existing (if not NULL) gets it. */
int sesame_etcd_put_if_absent(struct sesame_etcd *s, const char *key, const char *value,
			      size_t len, int64_t lease, int *created,
			      struct sesame_etcd_kvs *existing, struct sesame_err *err);

/* Delete key (or every key under it with prefix); *deleted counts them. */
int sesame_etcd_delete(struct sesame_etcd *s, const char *key, int prefix, int64_t *deleted,
		       struct sesame_err *err);

/* What counting a use found. */
struct sesame_etcd_use {
	int counted;       /* 1: this use is committed by a quorum */
	int64_t count;     /* uses recorded, this one included when counted */
	int blocked_by;    /* index into absent[] of a key that exists, or -1 */
};

/* Compare-and-increment in one transaction: count a use of key when no
 * key of absent[] exists (revocations) and fewer than limit uses are
 * recorded. The count is the key's etcd version (puts since creation),
 * so each use rewrites key with value (the use's details). A new key
 * gets lease (0 = none); later uses keep the key's lease. With a lease
 * the put is inside a nested transaction, which etcd 3.4 applies under
 * a raised NOSPACE alarm (it costs only top-level puts): the store counts
 * its uses with a transaction of its own for that (store_etcd.c). */
int sesame_etcd_count_use(struct sesame_etcd *s, const char *key, const char *value,
			  size_t len, int64_t limit, int64_t lease, const char *const *absent,
			  size_t n_absent, struct sesame_etcd_use *use, struct sesame_err *err);

/* Any transaction; free result with sesame_etcd_txn_result_free. */
int sesame_etcd_txn(struct sesame_etcd *s, const struct sesame_etcd_txn *txn,
		    struct sesame_etcd_txn_result *result, struct sesame_err *err);

/* A lease of ttl seconds: keys put with it go when it expires. */
int sesame_etcd_lease_grant(struct sesame_etcd *s, int64_t ttl, int64_t *id,
			    struct sesame_err *err);
int sesame_etcd_lease_revoke(struct sesame_etcd *s, int64_t id, struct sesame_err *err);

/* The answering member's status and the cluster's alarms: a raised
 * NOSPACE alarm makes this fail with SESAME_ETCD_FAIL_NOSPACE. */
int sesame_etcd_status(struct sesame_etcd *s, struct sesame_etcd_status *st,
		       struct sesame_err *err);

#endif
