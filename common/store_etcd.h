/* The etcd store (store = etcd): the store interface (store.h) on the
 * fleet's etcd cluster, through the client of etcd.h. Private to
 * common/store_etcd*.c; callers use store.h.
 *
 * Layout under etcd_prefix (docs/fleet.md, "Key layout and roles"); K is
 * a token's "IDHEX-UIDHEX" (12 + 8 hex digits: a token is its id and uid):
 *   uses/K               the use counter: its version is the number of uses,
 *                        its value the last use's details (JSON)
 *   uses/K/NONCE         one key per use with its details, for --history;
 *                        TIME-HEX16 for a login, TIME-import-HEX16 for a
 *                        use --migrate-store copied from a file store
 *   mail/UIDHEX          mails sent to an account in the last hour (JSON)
 *   mailed/IDHEX         a link a host mailed (login by email), its issue
 *                        record (JSON, issuer "mail"); every host writes
 *   leases/uses/T        the id of the lease that uses/, mail/ and mailed/
 *                        keys ending by time T get (hosts write these)
 *   revoked/K            a revoked token: {"at", "expires"}
 *   revoked-users/UIDHEX "every token of uid issued at or before" this
 *                        time, 20 decimal digits (compared as bytes)
 *   ledger/IDHEX         a token sesame-mint handed out (JSON)
 *   leases/issued/T      the lease of revoked/, revoked-users/, ledger/
 *                        keys ending by T (issuers only write these) */
#ifndef SESAME_STORE_ETCD_H
#define SESAME_STORE_ETCD_H

#include <stdint.h>

#include "etcd.h"
#include "store.h"

/* Leases are shared by every record ending in the same hour. */
#define SESAME_ETCD_LEASE_BUCKET ((int64_t)3600)
#define SESAME_ETCD_MAIL_WINDOW ((int64_t)3600)

#define ETCD_KEY_MAX (SESAME_ETCD_PREFIX_MAX + 96)
#define ETCD_TOKEN_KEY 22 /* "IDHEX-UIDHEX" and its NUL */

struct store_etcd {
	struct sesame_etcd *s;
	char prefix[SESAME_ETCD_PREFIX_MAX];
	/* etcd_clock_skew: a host whose clock differs from the cluster's by
	 * more refuses every redemption and every write (docs/fleet.md,
	 * "Clock skew"). */
	int64_t skew_max;
	/* etcd_timeout in whole seconds, rounded up: how long a write may
	 * take to commit (the --revoke-user cutoff covers it). */
	int64_t put_budget;
	/* What the last --list or --history skipped (store_etcd_ledger.c):
	 * "KEY: why" lines, NULL when nothing. */
	char *skipped;
	size_t n_skipped;
};

enum etcd_lease_kind { ETCD_LEASE_USES, ETCD_LEASE_ISSUED };

/* prefix + the text printf makes; -1 when it does not fit (err set). */
int etcd_key(const struct store_etcd *e, char key[ETCD_KEY_MAX], struct sesame_err *err,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The key of one use record of counter: COUNTER/TIME-RANDOM (time in
 * hex first, so that a token's uses list in order). 0 or -1. */
int etcd_use_key(const char *counter, int64_t time, char out[ETCD_KEY_MAX],
		 struct sesame_err *err);

/* The nested transaction that adds one use to a counter (its version):
 * a new counter gets lease, an existing one keeps its own. Points into
 * itself: init it where it stays. op is the transaction as an operation;
 * _answer_ok says whether that operation's answer has the right shape. */
struct etcd_counter_put {
	struct sesame_etcd_compare is_new;
	struct sesame_etcd_op put_new, put_again, op;
	struct sesame_etcd_txn txn;
};
void etcd_counter_put_init(struct etcd_counter_put *c, const char *counter, const char *value,
			   int64_t lease);
int etcd_counter_put_answer_ok(const struct sesame_etcd_op_result *r);

/* "IDHEX-UIDHEX" of a token. */
void etcd_token_key(char out[ETCD_TOKEN_KEY], const uint8_t id[SESAME_ID_BYTES], uint32_t uid);

/* The lease that records of this kind living until `until` get: read
 * from leases/KIND/BUCKET, or granted and recorded there when missing
 * (put-if-absent: two hosts racing keep one). 0 or -1. */
int etcd_lease_for(struct store_etcd *e, enum etcd_lease_kind kind, int64_t until, int64_t now,
		   int64_t *lease, struct sesame_err *err);

/* "store unavailable: ENDPOINT: " and what printf makes, into err: for
 * what an answer said (the endpoint of the last answer). */
void etcd_fail(const struct store_etcd *e, struct sesame_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Delete leases/KIND/BUCKET of until if it still names lease (a lease
 * that is gone: etcd refused a put with it). 0 or -1. */
int etcd_lease_forget(struct store_etcd *e, enum etcd_lease_kind kind, int64_t until,
		      int64_t lease, struct sesame_err *err);

/* Explain a failed write that etcd's RBAC refused. */
void etcd_denied_hint(struct store_etcd *e, const char *what, struct sesame_err *err);

/* The per-user revocation time stored in a value, or -1 when it does not
 * parse (the caller fails closed). */
int64_t etcd_parse_before(const char *value, size_t len);

/* A token id as 12 hex digits, and back (0 or -1). */
void etcd_id_hex(char out[SESAME_ID_TEXT_SIZE], const uint8_t id[SESAME_ID_BYTES]);
int etcd_hex_id(const char *s, uint8_t id[SESAME_ID_BYTES]);

/* store_etcd_json.c: JSON values: the details of a use, an issue record. _encode returns a
 * malloc'd string or NULL; _decode 0 or -1 (a value that does not
 * parse). */
char *etcd_use_encode(const struct sesame_use *use, int64_t now);
int etcd_use_decode(const char *value, size_t len, struct sesame_ledger_use *u);
char *etcd_issue_encode(const struct sesame_issue *is);
int etcd_issue_decode(const char *value, size_t len, struct sesame_issue *is);
char *etcd_revoked_encode(int64_t at, int64_t expires);
int etcd_revoked_decode(const char *value, size_t len, int64_t *at);

/* One mail sent, as mail/UIDHEX keeps the last hour's. */
struct etcd_mail_entry {
	uint8_t source[SESAME_MAIL_SOURCE_LEN];
	int64_t time;
};
#define ETCD_MAIL_ENTRIES_MAX 1000
/* At most ETCD_MAIL_ENTRIES_MAX entries into out. */
int etcd_mail_decode(const char *value, size_t len, struct etcd_mail_entry *out, size_t *n);
char *etcd_mail_encode(const struct etcd_mail_entry *m, size_t n);

/* store_etcd_mail.c */
int store_etcd_mail_allow(struct sesame_store *st, uint32_t uid,
			  const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			  const struct sesame_mail_limits *lim, struct sesame_err *err);

/* store_etcd_ledger.c */
int store_etcd_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			    struct sesame_err *err);
int store_etcd_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		    struct sesame_err *err);
int store_etcd_history(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
		       struct sesame_history *h, struct sesame_err *err);
const char *store_etcd_skipped(struct sesame_store *st);

#endif
