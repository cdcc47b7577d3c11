/* The one-time-use store in state_dir, shared by the module and the CLI.
 *
 * Layout: state_dir (0700, owned by the effective uid) holds
 *   uses/XYZ       4096 bucket files (XYZ = 3 hex digits of the token id),
 *                  fixed 32-byte records: one per use or revocation;
 *   revoked-users  fixed 32-byte records: uid, "issued at or before" time;
 *   mail-sent      fixed 32-byte records: uid, time a login link was mailed.
 * A redemption locks its bucket (flock), counts the records for its token,
 * appends one use and fdatasyncs it before reporting success. */
#ifndef SESAME_STORE_H
#define SESAME_STORE_H

#include <stdint.h>

#include "err.h"
#include "reason.h"
#include "token.h"

#define SESAME_STORE_BUCKETS 4096
#define SESAME_STORE_RECORD 32

struct sesame_store {
	int dirfd;
	int usesfd;
	char path[1024];
};

/* Open state_dir; with create, make it (0700) when missing. Refuses a
 * symlink, a non-directory, another owner or group/other access. */
int sesame_store_open(struct sesame_store *st, const char *state_dir, int create,
		      struct sesame_err *err);
void sesame_store_close(struct sesame_store *st);

/* Record one use of t, durably, if it has uses left and is not revoked.
 * Tokens with uses == 0 are only checked for revocation (no write).
 * Returns SESAME_OK, SESAME_USED_UP, SESAME_REVOKED or
 * SESAME_STORE_UNAVAILABLE (err says why). */
enum sesame_reason sesame_store_redeem(struct sesame_store *st, const struct sesame_token *t,
				       struct sesame_err *err);

/* Without consuming: uses recorded so far, and SESAME_OK / SESAME_REVOKED
 * / SESAME_USED_UP / SESAME_STORE_UNAVAILABLE. */
enum sesame_reason sesame_store_status(struct sesame_store *st, const struct sesame_token *t,
				       unsigned *used, struct sesame_err *err);

/* Revoke one token (kept until it expires). Returns 0 or -1. */
int sesame_store_revoke(struct sesame_store *st, const struct sesame_token *t,
			struct sesame_err *err);

/* Revoke every token of uid issued at or before `before`. Returns 0 or -1. */
int sesame_store_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			     struct sesame_err *err);

/* Latest "issued at or before" time for uid, or -1 when none. Returns 0
 * or -1 (store unavailable). */
int sesame_store_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err);

#define SESAME_MAIL_SOURCE_LEN 8

struct sesame_mail_limits {
	int64_t interval;     /* at most one mail per (account, source) per interval seconds */
	unsigned per_source;  /* at most this many per (account, source) in the last hour */
	unsigned per_account; /* at most this many per account in the last hour, all sources */
};

/* May one more login link be mailed to uid at `now` for a request from
 * `source` (SESAME_MAIL_SOURCE_LEN bytes naming where the request came from,
 * computed by the caller: a digest of the rhost, an IPv6 rhost by its /64,
 * or of the requesting uid for local services)? If so, records it durably
 * (uid, source, now) before returning 0. Returns 1 when rate limited
 * (either limit), -1 when the store is unavailable (err says why). The count
 * and the append happen under one exclusive lock, so concurrent requests
 * cannot all see room for one more. Records older than an hour are dropped
 * by gc. */
int sesame_store_mail_allow(struct sesame_store *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err);

struct sesame_gc_stats {
	uint64_t kept;
	uint64_t removed;
	uint64_t files_rewritten;
};

/* Drop records of tokens expired at `now`. Returns 0 or -1. */
int sesame_store_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err);

#endif
