/* The store interface: everything the module, the CLI and the tests ask of
 * the store, whatever keeps it. A backend (the file store in state_dir,
 * store_fs.h; the in-memory store of the tests, store_mem.c; a fleet store
 * next) fills a struct sesame_store_ops; callers see only these functions.
 *
 * Every operation takes the clock (`now`) from its caller; none reads it.
 * Every operation that writes makes its write durable before it returns
 * success. Errors are reasons in err, never printed; nothing secret is kept:
 * a token is known by its public id, uid and expiry, never its tag.
 *
 * The ledger is the store's record of tokens handed out (sesame_issue) and
 * of where each counted use came from (sesame_use). It holds personal data
 * (accounts, addresses, rhosts, notes) and nothing that logs anyone in; a
 * backend keeps it only until the token's expiry plus SESAME_STORE_GRACE. */
#ifndef SESAME_STORE_H
#define SESAME_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "reason.h"
#include "token.h"

/* Records outlive what they describe by this long, so that a clock
 * stepped back by up to a day (a host booting with a wrong RTC before NTP,
 * a time zone mistaken for UTC) still finds them. A clock further behind
 * than this, compared with when gc last ran, refuses every redemption
 * (SESAME_CLOCK_BEHIND) rather than miss a dropped record. */
#define SESAME_STORE_GRACE ((int64_t)24 * 3600)

/* Is now so far before the last gc (gc_time) that a record gc dropped
 * could matter? Every backend refuses then (SESAME_CLOCK_BEHIND). */
static inline int sesame_store_clock_behind(int64_t now, int64_t gc_time)
{
	return now <= INT64_MAX - SESAME_STORE_GRACE && gc_time > now + SESAME_STORE_GRACE;
}
#define SESAME_MAIL_SOURCE_LEN 8

/* Bounds of the ledger's text fields, with their NUL. */
#define SESAME_LEDGER_NAME 64  /* account, host, service, ruser, tty, issuer */
#define SESAME_LEDGER_LONG 128 /* rhost, scope, how it left ("mail to ADDRESS") */
#define SESAME_NOTE_MAX 200    /* -m NOTE, bytes, without the NUL */

struct sesame_store_ops;

/* An open store. Closed (ops NULL) after sesame_store_close or a failed
 * open, and closing it again is a no-op. */
struct sesame_store {
	const struct sesame_store_ops *ops;
	void *impl;
};

/* Where a use came from, as the application set it: any field NULL or ""
 * when unset. Stored bounded (longer values are cut, not refused: a login
 * is not refused for a long rhost). */
struct sesame_use {
	const char *host; /* this host's name */
	const char *service;
	const char *rhost;
	const char *ruser;
	const char *tty;
};

/* One token handed out, as the ledger records it before the token leaves. */
/* The issuer of a link the module mailed (login by email). */
#define SESAME_ISSUER_MAIL "mail"

struct sesame_issue {
	uint8_t id[SESAME_ID_BYTES];
	uint32_t uid;
	int64_t issued;
	int64_t expires;
	unsigned uses;   /* allowed; 0: unlimited */
	unsigned key_id;
	char account[SESAME_LEDGER_NAME];
	char scope[SESAME_LEDGER_LONG];   /* "any", or the service/host it is bound to */
	char host[SESAME_LEDGER_NAME];    /* minted on */
	char channel[SESAME_LEDGER_LONG]; /* "printed", "link", "qr", "mail to ADDRESS" */
	char issuer[SESAME_LEDGER_NAME];  /* "uid 1000 (alice)" from the login uid, or
					     SESAME_ISSUER_MAIL */
	char claimed[SESAME_LEDGER_NAME]; /* SUDO_USER, as claimed; "" when unset */
	char rhost[SESAME_LEDGER_LONG];   /* the requesting rhost of a mailed link */
	char note[SESAME_NOTE_MAX + 1];
};

struct sesame_ledger_use {
	int64_t time;
	char host[SESAME_LEDGER_NAME];
	char service[SESAME_LEDGER_NAME];
	char rhost[SESAME_LEDGER_LONG];
	char ruser[SESAME_LEDGER_NAME];
	char tty[SESAME_LEDGER_NAME];
};

/* What the store knows of one token id. */
/* How much of a token's uses a ledger view could read. */
enum sesame_uses_read {
	SESAME_USES_ALL = 0,  /* counts, accounts and every use record */
	SESAME_USES_COUNTS,   /* used and use_uids, no use records */
	SESAME_USES_NONE,     /* nothing: used and use_uids are unknown */
};

struct sesame_history {
	int have_issue; /* 0: minted elsewhere or before the ledger */
	struct sesame_issue issue;
	unsigned used;  /* uses counted (each in uses[] when recorded with details) */
	struct sesame_ledger_use *uses;
	size_t n_uses;
	int revoked;         /* this token, by --revoke */
	int64_t revoked_at;  /* when, or -1 when not recorded */
	int user_revoked;    /* every token of its account, by --revoke-user */
	/* The issue record is one every verifying host may write (etcd: a
	 * mailed link's, under mailed/): its uid and times are a claim, not
	 * an issuer's word, and uses are read under every uid. */
	int issue_claimed;
	uint32_t *use_uids;  /* the accounts this id's uses were counted under */
	size_t n_use_uids;
	/* Less than ALL when the store could not read them all (etcd: the
	 * answer under uses/, which verifying hosts write, passed the size
	 * cap or did not parse); sesame_store_skipped says why. */
	enum sesame_uses_read uses_read;
};

struct sesame_mail_limits {
	int64_t interval;     /* at most one mail per (account, source) per interval seconds */
	unsigned per_source;  /* at most this many per (account, source) in the last hour */
	unsigned per_account; /* at most this many per account in the last hour, all sources */
};

struct sesame_gc_stats {
	uint64_t kept;
	uint64_t removed;
	uint64_t files_rewritten;
};

/* What a backend implements; see the functions below for the contract. */
struct sesame_store_ops {
	const char *name;
	void (*close)(struct sesame_store *st);
	enum sesame_reason (*redeem)(struct sesame_store *st, const struct sesame_token *t,
				     const struct sesame_use *use, int64_t now,
				     struct sesame_err *err);
	enum sesame_reason (*status)(struct sesame_store *st, const struct sesame_token *t,
				     int64_t now, unsigned *used, struct sesame_err *err);
	int (*revoke)(struct sesame_store *st, const struct sesame_token *t, int64_t now,
		      struct sesame_err *err);
	int (*revoke_user)(struct sesame_store *st, uint32_t uid, int64_t before,
			   struct sesame_err *err);
	/* NULL for a store whose writers share one clock: the cutoff is now. */
	int (*revoke_user_now)(struct sesame_store *st, uint32_t uid, int64_t now,
			       int64_t *before, struct sesame_err *err);
	int (*user_revoked_before)(struct sesame_store *st, uint32_t uid, int64_t *before,
				   struct sesame_err *err);
	int (*mail_allow)(struct sesame_store *st, uint32_t uid,
			  const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			  const struct sesame_mail_limits *lim, struct sesame_err *err);
	int (*record_issue)(struct sesame_store *st, const struct sesame_issue *is,
			    struct sesame_err *err);
	int (*list)(struct sesame_store *st, struct sesame_history **out, size_t *n,
		    struct sesame_err *err);
	int (*history)(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
		       struct sesame_history *h, struct sesame_err *err);
	int (*gc)(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		  struct sesame_err *err);
	/* NULL for a store whose records are all written by trusted hands. */
	const char *(*skipped)(struct sesame_store *st);
};

/* The backends `store` may name, and whether name is one. */
int sesame_store_backend_known(const char *name);

/* Open the store cfg->store names (cfg->state_dir for "file"). With
 * create, a backend may make what it needs (the CLI); without, the module
 * only uses what exists. 0, or -1 with err set (st is closed). */
int sesame_store_open(struct sesame_store *st, const struct sesame_config *cfg, int create,
		      struct sesame_err *err);

/* The backends, opened directly (tests, tools that name a state dir). */
int sesame_store_open_file(struct sesame_store *st, const char *state_dir, int create,
			   struct sesame_err *err);
/* The fleet's etcd store (store = etcd): cfg's settings, state_dir for the
 * helper's cached auth token. Nothing is contacted until the first call. */
int sesame_store_open_etcd(struct sesame_store *st, const struct sesame_etcd_config *cfg,
			   const char *state_dir, struct sesame_err *err);
/* The etcd store over a session the caller opened (sesame_etcd_open_transport:
 * tests, tools); takes it over, closed with the store (or here on failure). */
struct sesame_etcd;
int sesame_store_open_etcd_session(struct sesame_store *st, struct sesame_etcd *s,
				   struct sesame_err *err);
/* A store in this process's memory, for the contract tests: gone at close. */
int sesame_store_open_memory(struct sesame_store *st, struct sesame_err *err);

void sesame_store_close(struct sesame_store *st);

/* Record one use of t at `now` (with where it came from, use may be NULL),
 * durably and in one write, if it has uses left, is not revoked and has
 * not expired. Tokens with uses == 0 are only checked (no write). Returns
 * SESAME_OK, SESAME_USED_UP, SESAME_REVOKED, SESAME_EXPIRED,
 * SESAME_CLOCK_BEHIND (now is more than SESAME_STORE_GRACE before the last
 * gc) or SESAME_STORE_UNAVAILABLE (err says why). Refusals write nothing. */
enum sesame_reason sesame_store_redeem(struct sesame_store *st, const struct sesame_token *t,
				       const struct sesame_use *use, int64_t now,
				       struct sesame_err *err);

/* Without consuming: uses recorded so far, and the reason redeem would
 * give but SESAME_OK for a token with uses left. */
enum sesame_reason sesame_store_status(struct sesame_store *st, const struct sesame_token *t,
				       int64_t now, unsigned *used, struct sesame_err *err);

/* Revoke one token at `now` (kept until it expires, plus the grace).
 * Revoking it again changes nothing. 0 or -1. */
int sesame_store_revoke(struct sesame_store *st, const struct sesame_token *t, int64_t now,
			struct sesame_err *err);

/* Revoke every token of uid issued at or before `before`. 0 or -1. */
int sesame_store_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			     struct sesame_err *err);

/* Revoke every token of uid that any issuer of this store minted until
 * now (--revoke-user); *before gets the cutoff used. Tokens carry their
 * issuer's clock: the file store (one host) cuts at now, the fleet's etcd
 * store at the later of now and the cluster's clock plus etcd_clock_skew,
 * since an issuer's clock may be that far ahead of the cluster's. Minting
 * for uid is refused until the cutoff has passed. 0 or -1. */
int sesame_store_revoke_user_now(struct sesame_store *st, uint32_t uid, int64_t now,
				 int64_t *before, struct sesame_err *err);

/* What the last sesame_store_list or sesame_store_history skipped rather
 * than fail for: records that verifying hosts may write (etcd: uses/,
 * mailed/) and that do not parse, one "KEY: why" a line, "" when none.
 * Valid until the next call on st. */
const char *sesame_store_skipped(struct sesame_store *st);

/* Latest "issued at or before" time for uid, or -1 when none. 0 or -1. */
int sesame_store_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err);

/* May one more login link be mailed to uid at `now` for a request from
 * `source` (SESAME_MAIL_SOURCE_LEN bytes naming where the request came from,
 * computed by the caller)? If so, records it durably before returning 0.
 * Returns 1 when rate limited, -1 when the store is unavailable. The count
 * and the record are one atomic step: concurrent requests cannot all see
 * room for one more. Records older than an hour are dropped by gc. */
int sesame_store_mail_allow(struct sesame_store *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err);

/* An issue record of t: id, uid, times, uses and key id; the texts empty. */
void sesame_issue_init(struct sesame_issue *is, const struct sesame_token *t);

/* Record a token handed out, durably, before it is printed, mailed or
 * drawn. Refuses (-1, err says which) a text field that is not
 * sesame_ledger_text_ok, an issued time after the expiry or an id already recorded.
 * 0 or -1. */
int sesame_store_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			      struct sesame_err *err);

/* Every token the ledger holds (gc has not dropped), newest issued first,
 * with its uses and revocations. *out is freed with sesame_history_free. */
int sesame_store_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		      struct sesame_err *err);

/* One token's story by id. A token the ledger does not hold gives
 * have_issue 0 with whatever uses and revocation the store counted.
 * Free with sesame_history_clear. 0 or -1. */
int sesame_store_history(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
			 struct sesame_history *h, struct sesame_err *err);

/* Ledger texts: one line of UTF-8 without control characters. _copy cuts
 * src to size and replaces what is not such text by '?' (for values
 * anyone can set: SUDO_USER, PAM_RHOST). */
int sesame_ledger_text_ok(const char *s);
void sesame_ledger_text_copy(char *dst, size_t size, const char *src);

void sesame_history_clear(struct sesame_history *h);
void sesame_history_free(struct sesame_history *hs, size_t n);

/* Drop the records that are dead at `now` (their token expired more than
 * SESAME_STORE_GRACE ago, ledger records and their uses included; mails
 * older than an hour). Refuses (SESAME_CLOCK_BEHIND's reason in err) when
 * now is more than the grace before the last gc. 0 or -1. */
int sesame_store_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err);

/* ---- moving a host from store = file to store = etcd ---- */

/* After the move: gc of the file store left in state_dir (under another
 * backend), as sesame_store_gc would do it under store = file. 1 when
 * state_dir holds no file store (nothing done), 0 (stats set), or -1.
 * SESAME_STORE_FILE_NAMES: what such a store is made of. */
int sesame_store_gc_file_left(const char *state_dir, int64_t now,
			      struct sesame_gc_stats *stats, struct sesame_err *err);
#define SESAME_STORE_FILE_NAMES "uses/, revoked-users, mail-sent, format"

/* What a file store holds of one token: its (id, uid), its expiry, and
 * its story (issue record if any, uses with their details, revocation). */
struct sesame_export_token {
	uint8_t id[SESAME_ID_BYTES];
	uint32_t uid;
	int64_t expires;
	struct sesame_history h;
};

struct sesame_export_user {
	uint32_t uid;
	int64_t before; /* every token issued at or before this is revoked */
};

struct sesame_store_export {
	struct sesame_export_token *tokens;
	size_t n_tokens;
	struct sesame_export_user *users;
	size_t n_users;
};

/* Read every use, revocation, ledger record and per-user revocation of
 * the file store in state_dir (under its shared locks; nothing written).
 * Free with sesame_store_export_free. 0 or -1. */
int sesame_store_export_file(const char *state_dir, struct sesame_store_export *out,
			     struct sesame_err *err);
void sesame_store_export_free(struct sesame_store_export *ex);

struct sesame_import_stats {
	uint64_t tokens;      /* tokens still alive at `now` */
	uint64_t expired;     /* left out: expired more than the grace ago */
	uint64_t uses;        /* uses added to the store's counts */
	uint64_t uses_there;  /* uses an earlier run added: not added again */
	uint64_t revoked;     /* revocations written (not there yet) */
	uint64_t ledger;      /* ledger records written (not there yet) */
	uint64_t users;       /* per-user revocations written or raised */
};

/* Copy an export into an etcd store (its ops name "etcd"), with an
 * issuer's credentials. Idempotent: every use of the export is added to
 * its token's count exactly once however often this runs, beside the uses
 * etcd counted itself (a record per imported use, made from the file's
 * record; source, the name of the host whose store this is, tells apart
 * uses recorded without details); a revocation or ledger record already
 * there is kept; a per-user revocation only ever moves later. Revocations
 * are written before any count moves. 0 or -1 (what was written stays;
 * running again adds only what is missing). */
int sesame_store_import_etcd(struct sesame_store *st, const struct sesame_store_export *ex,
			     const char *source, int64_t now, struct sesame_import_stats *stats,
			     struct sesame_err *err);

#endif
