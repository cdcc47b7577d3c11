/* The file store (store = file, the default): one backend of the store
 * interface (store.h), in state_dir, shared by the module and the CLI.
 * Private to common/store*.c; callers use store.h.
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
 * files are made by whoever prepares the store (store_fs_prepare: the
 * CLI when it opens the store to write, `sesame-mint --gc`, the package's
 * postinst through it), and gc never removes them. A store without them (made
 * by install -d or tmpfiles, or upgraded from 0.1 and not yet prepared)
 * works the same, only the first redemption in a bucket also creates the
 * file and syncs its directories. */
#ifndef SESAME_STORE_FS_H
#define SESAME_STORE_FS_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "store.h"
#include "reason.h"
#include "token.h"

#define SESAME_STORE_BUCKETS 4096
#define SESAME_STORE_VERSION 2

struct store_fs {
	int dirfd;
	int usesfd;
	uid_t owner; /* the effective uid: what every file must belong to */
	char path[1024];
};

/* Open state_dir; with create, make it (0700) when missing and prepare
 * it when its format file is missing. Refuses a symlink, a
 * non-directory, another owner or group/other access. */
int store_fs_open(struct store_fs *st, const char *state_dir, int create,
		      struct sesame_err *err);
void store_fs_close(struct store_fs *st);

/* Make what the one-write path needs: uses/ and every bucket file (with a
 * durable name), revoked-users, mail-sent, and the format file last. Idempotent;
 * files that exist are left alone. Returns 0 or -1. */
int store_fs_prepare(struct store_fs *st, struct sesame_err *err);

/* Record one use of t at `now`, durably, if it has uses left, is not
 * revoked and has not expired (checked again under the bucket's lock).
 * Tokens with uses == 0 are only checked (no write). Returns SESAME_OK,
 * SESAME_USED_UP, SESAME_REVOKED, SESAME_EXPIRED, SESAME_CLOCK_BEHIND
 * (now is more than SESAME_STORE_GRACE before the last gc) or
 * SESAME_STORE_UNAVAILABLE (err says why). */
enum sesame_reason store_fs_redeem(struct store_fs *st, const struct sesame_token *t,
				   const struct sesame_use *use, int64_t now,
				   struct sesame_err *err);

/* Without consuming: uses recorded so far, and the reason redeem would
 * give but SESAME_OK for a token with uses left. */
enum sesame_reason store_fs_status(struct store_fs *st, const struct sesame_token *t,
				       int64_t now, unsigned *used, struct sesame_err *err);

/* Revoke one token (kept until it expires, plus the grace). 0 or -1. */
int store_fs_revoke(struct store_fs *st, const struct sesame_token *t, int64_t now,
		    struct sesame_err *err);

/* Revoke every token of uid issued at or before `before`. Returns 0 or -1. */
int store_fs_revoke_user(struct store_fs *st, uint32_t uid, int64_t before,
			     struct sesame_err *err);

/* Latest "issued at or before" time for uid, or -1 when none. Returns 0
 * or -1 (store unavailable). */
int store_fs_user_revoked_before(struct store_fs *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err);

/* May one more login link be mailed to uid at `now` for a request from
 * `source` (SESAME_MAIL_SOURCE_LEN bytes naming where the request came from,
 * computed by the caller: a digest of the rhost, an IPv6 rhost by its /64,
 * or of the requesting uid for local services)? If so, records it durably
 * (uid, source, now) before returning 0. Returns 1 when rate limited
 * (either limit), -1 when the store is unavailable (err says why). The count
 * and the append happen under one exclusive lock, so concurrent requests
 * cannot all see room for one more. Records older than an hour are dropped
 * by gc. A record of sesame 0.1 has no source: it counts for every one. */
int store_fs_mail_allow(struct store_fs *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err);

/* Prepare the store, then drop the records that are dead at `now` (their
 * token expired more than SESAME_STORE_GRACE ago; mails older than an
 * hour) and rewrite format 1 files in format 2. Records `now` as the gc
 * time first, durably; refuses (SESAME_CLOCK_BEHIND's reason in err) when
 * now is more than the grace before the last gc. Returns 0 or -1. */
/* The ledger (store_fs_ledger.c): an issue record in the token's bucket,
 * and what the buckets say of one token or of all. */
int store_fs_record_issue(struct store_fs *st, const struct sesame_issue *is,
			  struct sesame_err *err);
int store_fs_history(struct store_fs *st, const uint8_t id[SESAME_ID_BYTES],
		     struct sesame_history *h, struct sesame_err *err);
int store_fs_list(struct store_fs *st, struct sesame_history **out, size_t *n,
		  struct sesame_err *err);

int store_fs_gc(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err);
/* The same gc of a store this process will not prepare (the one a
 * migration to etcd left behind): only its files that exist, and only
 * when uses/ does. */
int store_fs_gc_existing(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
			 struct sesame_err *err);

#endif
