/* gc: drop the records nobody needs any more, rewrite sesame 0.1 files in
 * format 2, and keep every bucket file in place for the one-write path.
 *
 * Order matters for a clock stepped back. gc first records when it ran,
 * durably, in revoked-users' header, and only then drops records. A
 * redemption reads that time under its bucket's lock, so it cannot miss
 * a drop: a record goes only once its token expired GRACE seconds before
 * gc ran, and a redemption whose clock reads more than GRACE before that
 * is refused (SESAME_CLOCK_BEHIND) instead of finding nothing.
 *
 * A file with nothing left is truncated to its header in place (a
 * truncation lost in a crash only brings dead records back); a file with
 * some records left is replaced by rename (store_file_replace), marked
 * NAME_UNSYNCED until its directory is synced once at the end. If that
 * sync fails, the flags stay on disk: every bucket gc renamed stays
 * unavailable to a redemption until someone syncs the directory. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "store_fs.h"
#include "store_file.h"

#define MAIL_WINDOW 3600

/* Does a record outlive `now`? A use or revocation until its token
 * expired GRACE ago; a user revocation until no token issued at or before
 * its time can still be live, plus GRACE; a mail for an hour. */
static int record_live(const struct record *rec, int64_t now)
{
	int64_t margin = SESAME_STORE_GRACE;

	if (rec->type == REC_MAIL)
		return rec->time > now - MAIL_WINDOW;
	if (rec->type == REC_USER_REVOKE)
		margin += SESAME_MAX_LIFETIME;
	if (now < INT64_MIN + margin)
		return 1;
	return rec->time > now - margin;
}

/* Mark the live records; returns how many. */
static size_t mark_live(const struct store_file *sf, int64_t now, uint8_t *keep)
{
	size_t kept = 0;

	for (size_t i = 0; i < sf->count; i++) {
		keep[i] = (uint8_t)record_live(&sf->recs[i], now);
		kept += keep[i];
	}
	return kept;
}

/* Drop what is dead in one locked, loaded file. *renamed is set when the
 * file now needs its directory synced (replaced, or already unsynced). */
static int compact(struct store_file *sf, int64_t now, struct sesame_gc_stats *stats,
		   int *renamed, struct sesame_err *err)
{
	uint8_t *keep = malloc(sf->count + 1);
	size_t kept;
	int r = -1;

	if (keep == NULL) {
		sesame_err_set(err, "store file %s: out of memory", sf->path);
		return -1;
	}
	kept = mark_live(sf, now, keep);
	stats->kept += kept;
	stats->removed += sf->count - kept;
	*renamed = sf->format == 2 && (sf->hdr.flags & HEADER_UNSYNCED);
	if (sf->format == 2 && kept == sf->count) {
		r = 0;
	} else if (sf->format == 2 && kept == 0) {
		r = store_file_truncate(sf, err);
		stats->files_rewritten++;
	} else {
		r = store_file_replace(sf, &sf->hdr, keep, err);
		*renamed = 1;
		stats->files_rewritten++;
	}
	free(keep);
	return r;
}

static int gc_one(struct store_file *sf, int64_t now, struct sesame_gc_stats *stats,
		  int *renamed, struct sesame_err *err)
{
	int r = store_file_read(sf, LOCK_EX, 0, err);

	*renamed = 0;
	if (r == 0)
		r = compact(sf, now, stats, renamed, err);
	store_file_release(sf);
	return r < 0 ? -1 : 0;
}

/* Clear the flag of a file whose directory was just synced. */
static int mark_one(struct store_file *sf, struct sesame_err *err)
{
	int r = store_file_read(sf, LOCK_EX, 0, err);

	if (r == 0)
		r = store_file_mark_synced(sf, err);
	store_file_release(sf);
	return r < 0 ? -1 : 0;
}

/* Record the gc time durably and drop dead user revocations, in one
 * rename: nothing else is dropped unless this succeeded. */
static int gc_users(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err)
{
	struct store_file sf;
	struct store_header h;
	uint8_t *keep = NULL;
	size_t kept;
	int r = -1;

	store_file_init(&sf, st, KIND_USERS, 0);
	if (store_file_read(&sf, LOCK_EX, 1, err) != 0)
		goto out;
	h = sf.hdr;
	if (sesame_store_clock_behind(now, h.gc_time)) {
		sesame_err_set(err, "store %s: clock behind: the clock reads %" PRId64
			       ", more than %" PRId64 " s before the last gc (%" PRId64 ")",
			       st->path, now, SESAME_STORE_GRACE, h.gc_time);
		goto out;
	}
	if (now > h.gc_time)
		h.gc_time = now;
	keep = malloc(sf.count + 1);
	if (keep == NULL) {
		sesame_err_set(err, "store file %s: out of memory", sf.path);
		goto out;
	}
	kept = mark_live(&sf, now, keep);
	stats->kept += kept;
	stats->removed += sf.count - kept;
	stats->files_rewritten += kept < sf.count;
	if (store_file_replace(&sf, &h, keep, err) != 0 ||
	    store_sync_dir(st->dirfd, "state directory", st->path, err) != 0 ||
	    store_file_mark_synced(&sf, err) != 0)
		goto out;
	r = 0;
out:
	free(keep);
	store_file_release(&sf);
	return r;
}

static int gc_buckets(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
		      struct sesame_err *err)
{
	uint8_t *renamed = calloc(SESAME_STORE_BUCKETS, 1);
	struct store_file sf;
	int any = 0, one, r = -1;

	if (renamed == NULL) {
		sesame_err_set(err, "store %s: out of memory", st->path);
		return -1;
	}
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b++) {
		store_file_init(&sf, st, KIND_BUCKET, b);
		if (gc_one(&sf, now, stats, &one, err) != 0)
			goto out;
		renamed[b] = (uint8_t)one;
		any |= one;
	}
	if (any && store_sync_dir(st->usesfd, "store directory", st->path, err) != 0)
		goto out; /* the flags stay: those buckets wait for a sync */
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b++) {
		store_file_init(&sf, st, KIND_BUCKET, b);
		if (renamed[b] && mark_one(&sf, err) != 0)
			goto out;
	}
	r = 0;
out:
	free(renamed);
	return r;
}

static int gc_mail(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
		   struct sesame_err *err)
{
	struct store_file sf;
	int renamed;

	store_file_init(&sf, st, KIND_MAIL, 0);
	if (gc_one(&sf, now, stats, &renamed, err) != 0)
		return -1;
	if (!renamed)
		return 0;
	if (store_sync_dir(st->dirfd, "state directory", st->path, err) != 0)
		return -1;
	store_file_init(&sf, st, KIND_MAIL, 0);
	return mark_one(&sf, err);
}

/* Read every file once before changing anything, so that a damaged store
 * fails gc with its reason and no change. */
static int check_all(struct store_fs *st, struct sesame_err *err)
{
	struct store_file sf;
	int r = 0;

	for (unsigned b = 0; b < STORE_FILES && r == 0; b++) {
		store_file_init(&sf, st, store_kind_of(b), b);
		r = store_file_read(&sf, LOCK_SH, 0, err) < 0 ? -1 : 0;
		store_file_release(&sf);
	}
	return r;
}

/* gc of the files that exist (a missing bucket or mail-sent is skipped);
 * revoked-users is made if missing, as it records when gc ran. */
static int gc_files(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err)
{
	if (check_all(st, err) != 0 || gc_users(st, now, stats, err) != 0 ||
	    gc_buckets(st, now, stats, err) != 0)
		return -1;
	return gc_mail(st, now, stats, err);
}

int store_fs_gc(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err)
{
	struct sesame_gc_stats local = { 0, 0, 0 };
	int r = -1;

	if (store_is_open(st, err) && store_fs_prepare(st, err) == 0 &&
	    gc_files(st, now, &local, err) == 0)
		r = 0;
	if (stats != NULL)
		*stats = local;
	return r;
}

int store_fs_gc_existing(struct store_fs *st, int64_t now, struct sesame_gc_stats *stats,
			 struct sesame_err *err)
{
	struct sesame_gc_stats local = { 0, 0, 0 };
	int r = -1;

	if (!store_is_open(st, err))
		goto out;
	r = store_uses_dir(st, 0, err);
	if (r > 0)
		sesame_err_set(err, "store %s: no uses/ directory", st->path);
	if (r != 0 || gc_files(st, now, &local, err) != 0) {
		r = -1;
		goto out;
	}
	r = 0;
out:
	if (stats != NULL)
		*stats = local;
	return r;
}
