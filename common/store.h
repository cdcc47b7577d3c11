/* The one-time-use store in state_dir, shared by the module and the CLI.
 *
 * Layout (format 2): state_dir (0700, owned by the effective uid) holds
 *   format         "sesame-store 2": the layout's version, written once
 *                  every bucket file exists (the store is prepared);
 *   uses/XYZ       4096 bucket files (XYZ = 3 hex digits of the token id):
 *                  uses and revocations of tokens;
 *   revoked-users  "every token of uid issued at or before T", and in its
 *                  header when gc last ran;
 *   mail-sent      one record per login link mailed, for the rate limits.
 * Every file is a header and variable-length records (store_format.h).
 * Files of sesame 0.1 (format 1: no header, 32-byte records) are read as
 * they are and rewritten in format 2 by the first append or gc.
 *
 * A redemption locks its bucket (flock), counts the records for its token,
 * appends one use and fdatasyncs it before reporting success: one durable
 * write, because the bucket file already exists with a durable name. The
 * files are made by whoever prepares the store (sesame_store_prepare: the
 * CLI when it opens the store to write, `sesame-mint --gc`, the package's
 * postinst through it), and gc never removes them. A store without them (made
 * by install -d or tmpfiles, or upgraded from 0.1 and not yet prepared)
 * works the same, only the first redemption in a bucket also creates the
 * file and syncs its directories. */
#ifndef SESAME_STORE_H
#define SESAME_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "reason.h"
#include "token.h"

#define SESAME_STORE_BUCKETS 4096
#define SESAME_STORE_VERSION 2
/* Records outlive what they describe by this long, so that a clock
 * stepped back by up to a day (a host booting with a wrong RTC before NTP,
 * a time zone mistaken for UTC) still finds them. A clock further behind
 * than this, compared with when gc last ran, refuses every redemption
 * (SESAME_CLOCK_BEHIND) rather than miss a dropped record. */
#define SESAME_STORE_GRACE ((int64_t)24 * 3600)
#define SESAME_MAIL_SOURCE_LEN 8

struct sesame_store {
	int dirfd;
	int usesfd;
	uid_t owner; /* the effective uid: what every file must belong to */
	char path[1024];
};

/* Open state_dir; with create, make it (0700) when missing and prepare
 * it when its format file is missing. Refuses a symlink, a
 * non-directory, another owner or group/other access. */
int sesame_store_open(struct sesame_store *st, const char *state_dir, int create,
		      struct sesame_err *err);
void sesame_store_close(struct sesame_store *st);

/* Make what the one-write path needs: uses/ and every bucket file (with a
 * durable name), revoked-users, mail-sent, and the format file last. Idempotent;
 * files that exist are left alone. Returns 0 or -1. */
int sesame_store_prepare(struct sesame_store *st, struct sesame_err *err);

/* Record one use of t at `now`, durably, if it has uses left, is not
 * revoked and has not expired (checked again under the bucket's lock).
 * Tokens with uses == 0 are only checked (no write). Returns SESAME_OK,
 * SESAME_USED_UP, SESAME_REVOKED, SESAME_EXPIRED, SESAME_CLOCK_BEHIND
 * (now is more than SESAME_STORE_GRACE before the last gc) or
 * SESAME_STORE_UNAVAILABLE (err says why). */
enum sesame_reason sesame_store_redeem(struct sesame_store *st, const struct sesame_token *t,
				       int64_t now, struct sesame_err *err);

/* Without consuming: uses recorded so far, and the reason redeem would
 * give but SESAME_OK for a token with uses left. */
enum sesame_reason sesame_store_status(struct sesame_store *st, const struct sesame_token *t,
				       int64_t now, unsigned *used, struct sesame_err *err);

/* Revoke one token (kept until it expires, plus the grace). 0 or -1. */
int sesame_store_revoke(struct sesame_store *st, const struct sesame_token *t,
			struct sesame_err *err);

/* Revoke every token of uid issued at or before `before`. Returns 0 or -1. */
int sesame_store_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			     struct sesame_err *err);

/* Latest "issued at or before" time for uid, or -1 when none. Returns 0
 * or -1 (store unavailable). */
int sesame_store_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err);

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
 * by gc. A record of sesame 0.1 has no source: it counts for every one. */
int sesame_store_mail_allow(struct sesame_store *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err);

struct sesame_gc_stats {
	uint64_t kept;
	uint64_t removed;
	uint64_t files_rewritten;
};

/* Prepare the store, then drop the records that are dead at `now` (their
 * token expired more than SESAME_STORE_GRACE ago; mails older than an
 * hour) and rewrite format 1 files in format 2. Records `now` as the gc
 * time first, durably; refuses (SESAME_CLOCK_BEHIND's reason in err) when
 * now is more than the grace before the last gc. Returns 0 or -1. */
int sesame_store_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err);

#endif
