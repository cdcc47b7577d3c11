/* The store's operations: redeem and status, revocations, mail limits.
 * Each is a short sequence on locked files (store_file.c). */
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store_fs.h"
#include "store_file.h"

/* How long a mail record counts for the per-hour limits. */
#define MAIL_WINDOW 3600

/* The one place records are built. */
static struct record make_record(enum record_type type, uint32_t uid,
				 const uint8_t id[SESAME_ID_BYTES], int64_t time)
{
	struct record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = (uint8_t)type;
	rec.uid = uid;
	if (id != NULL)
		memcpy(rec.id, id, SESAME_ID_BYTES);
	rec.time = time;
	return rec;
}

static int64_t token_expiry(const struct sesame_token *t)
{
	return (int64_t)t->issued + (int64_t)t->lifetime;
}

/* What a loaded bucket says about t: uses recorded, and revoked or not. */
static void bucket_tally(const struct store_file *sf, const struct sesame_token *t,
			 unsigned *used, int *revoked)
{
	*used = 0;
	*revoked = 0;
	for (size_t i = 0; i < sf->count; i++) {
		const struct record *rec = &sf->recs[i];
		if (rec->skip || rec->uid != t->uid ||
		    memcmp(rec->id, t->id, SESAME_ID_BYTES) != 0)
			continue;
		if (rec->type == REC_USE)
			(*used)++;
		else
			*revoked = 1;
	}
}

/* Latest "issued at or before" time in a loaded revoked-users, or -1. */
static int64_t latest_before(const struct store_file *sf, uint32_t uid)
{
	int64_t before = -1;

	for (size_t i = 0; i < sf->count; i++) {
		const struct record *rec = &sf->recs[i];
		if (!rec->skip && rec->uid == uid && rec->time > before)
			before = rec->time;
	}
	return before;
}

/* revoked-users, read under LOCK_SH: the user's revocation time and the
 * last gc's. A missing file has neither. */
static int read_users(struct store_fs *st, uint32_t uid, int64_t *before, int64_t *gc_time,
		      struct sesame_err *err)
{
	struct store_file sf;
	int r;

	*before = -1;
	*gc_time = 0;
	store_file_init(&sf, st, KIND_USERS, 0);
	r = store_file_read(&sf, LOCK_SH, 0, err);
	if (r == 0) {
		*before = latest_before(&sf, uid);
		*gc_time = sf.hdr.gc_time;
	}
	store_file_release(&sf);
	return r < 0 ? -1 : 0;
}

/* The bucket of t, opened, locked (lock_op) and loaded in sf, which the
 * caller releases. Returns 0, 1 when there is none (only without create),
 * -1. */
static int open_bucket(struct store_fs *st, const struct sesame_token *t, int lock_op,
		       int create, struct store_file *sf, struct sesame_err *err)
{
	int r = store_uses_dir(st, create, err);

	if (r != 0)
		return r;
	store_file_init(sf, st, KIND_BUCKET, store_bucket_of(t->id));
	return store_file_read(sf, lock_op, create, err);
}

/* Look t up: its bucket first, left locked (lock_op) and loaded in sf;
 * then, under that lock, the expiry, revoked-users and the gc time (so a
 * gc that ran while we waited for the lock is seen). Fills used. */
static enum sesame_reason token_check(struct store_fs *st, const struct sesame_token *t,
				      int64_t now, int lock_op, int create,
				      struct store_file *sf, unsigned *used,
				      struct sesame_err *err)
{
	int64_t before, gc_time;
	int revoked = 0;

	*used = 0;
	store_file_none(sf);
	if (!store_is_open(st, err) || t == NULL)
		return SESAME_STORE_UNAVAILABLE;
	switch (open_bucket(st, t, lock_op, create, sf, err)) {
	case 0: bucket_tally(sf, t, used, &revoked); break;
	case 1: break; /* nothing recorded yet */
	default: return SESAME_STORE_UNAVAILABLE;
	}
	if (now >= token_expiry(t))
		return SESAME_EXPIRED;
	if (read_users(st, t->uid, &before, &gc_time, err) != 0)
		return SESAME_STORE_UNAVAILABLE;
	if (sesame_store_clock_behind(now, gc_time)) {
		sesame_err_set(err, "store %s: the clock reads %" PRId64 ", more than %" PRId64
			       " s before the last gc (%" PRId64 "): set the clock right",
			       st->path, now, SESAME_STORE_GRACE, gc_time);
		return SESAME_CLOCK_BEHIND;
	}
	if (revoked || (before >= 0 && (int64_t)t->issued <= before))
		return SESAME_REVOKED;
	if (t->uses > 0 && *used >= t->uses)
		return SESAME_USED_UP;
	return SESAME_OK;
}

enum sesame_reason store_fs_redeem(struct store_fs *st, const struct sesame_token *t,
				   const struct sesame_use *use, int64_t now,
				   struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	unsigned used;
	int limited = t != NULL && t->uses > 0;
	enum sesame_reason r;

	/* Unlimited tokens write nothing: a shared lock for the revocations. */
	r = token_check(st, t, now, limited ? LOCK_EX : LOCK_SH, limited, &sf, &used, err);
	if (r == SESAME_OK && limited) {
		rec = make_record(REC_USE, t->uid, t->id, token_expiry(t));
		rec.has_at = 1; /* where and when, in the same single write */
		rec.at = now;
		rec.use = use;
		if (store_file_append(&sf, &rec, err) != 0)
			r = SESAME_STORE_UNAVAILABLE;
	} else if (sf.fd >= 0 && sf.created && sf.format == 0 && sf.size == 0) {
		/* A refusal leaves the store as it found it: the file we made
		 * is still empty under our lock, so nobody recorded anything in
		 * it (anyone waiting for it sees the name gone and starts over). */
		(void)unlinkat(sf.dirfd, sf.name, 0);
	}
	store_file_release(&sf);
	return r;
}

enum sesame_reason store_fs_status(struct store_fs *st, const struct sesame_token *t,
				       int64_t now, unsigned *used, struct sesame_err *err)
{
	struct store_file sf;
	unsigned count = 0;
	enum sesame_reason r;

	r = token_check(st, t, now, LOCK_SH, 0, &sf, &count, err);
	store_file_release(&sf);
	if (used != NULL)
		*used = count;
	return r;
}

int store_fs_revoke(struct store_fs *st, const struct sesame_token *t, int64_t now,
		    struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	unsigned used;
	int revoked, r = -1;

	store_file_none(&sf);
	if (!store_is_open(st, err) || t == NULL)
		goto out;
	if (open_bucket(st, t, LOCK_EX, 1, &sf, err) != 0)
		goto out;
	bucket_tally(&sf, t, &used, &revoked);
	if (revoked) { /* already: keep the bucket from growing */
		r = 0;
		goto out;
	}
	rec = make_record(REC_REVOKE, t->uid, t->id, token_expiry(t));
	rec.has_at = 1;
	rec.at = now;
	r = store_file_append(&sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}

int store_fs_revoke_user(struct store_fs *st, uint32_t uid, int64_t before,
			     struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	int r = -1;

	store_file_none(&sf);
	if (!store_is_open(st, err))
		goto out;
	if (before < 0) {
		sesame_err_set(err, "revoke user %u: negative time %" PRId64, (unsigned)uid,
			       before);
		goto out;
	}
	store_file_init(&sf, st, KIND_USERS, 0);
	if (store_file_read(&sf, LOCK_EX, 1, err) != 0)
		goto out;
	if (latest_before(&sf, uid) >= before) { /* already covered: keep the file small */
		r = 0;
		goto out;
	}
	rec = make_record(REC_USER_REVOKE, uid, NULL, before);
	r = store_file_append(&sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}

int store_fs_user_revoked_before(struct store_fs *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err)
{
	int64_t found = -1, gc_time;
	int r = -1;

	if (store_is_open(st, err))
		r = read_users(st, uid, &found, &gc_time, err);
	if (before != NULL)
		*before = found;
	return r;
}

struct mail_tally {
	unsigned account_recent; /* this account, any source, within the hour */
	unsigned source_recent;  /* this account and source, within the hour */
	int64_t source_latest;   /* this account and source, latest */
};

/* A record of sesame 0.1 has no source: it counts as from every source. */
static struct mail_tally mail_tally(const struct store_file *sf, uint32_t uid,
				    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now)
{
	struct mail_tally mt = { 0, 0, INT64_MIN };

	for (size_t i = 0; i < sf->count; i++) {
		const struct record *rec = &sf->recs[i];
		int recent = rec->time > now - MAIL_WINDOW;
		int same_source = !rec->has_source ||
			memcmp(rec->source, source, SESAME_MAIL_SOURCE_LEN) == 0;
		if (rec->skip || rec->uid != uid)
			continue;
		mt.account_recent += recent;
		if (!same_source)
			continue;
		mt.source_recent += recent;
		if (rec->time > mt.source_latest)
			mt.source_latest = rec->time;
	}
	return mt;
}

int store_fs_mail_allow(struct store_fs *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err)
{
	struct store_file sf;
	struct mail_tally mt;
	struct record rec;
	int r = -1;

	store_file_none(&sf);
	if (!store_is_open(st, err) || source == NULL || lim == NULL)
		goto out;
	store_file_init(&sf, st, KIND_MAIL, 0);
	/* Held from the count to the append: a flood of requests for one
	 * account cannot all see room for one more mail. */
	if (store_file_read(&sf, LOCK_EX, 1, err) != 0)
		goto out;
	mt = mail_tally(&sf, uid, source, now);
	if (mt.account_recent >= lim->per_account || mt.source_recent >= lim->per_source ||
	    (mt.source_latest != INT64_MIN && now - mt.source_latest < lim->interval)) {
		r = 1;
		goto out;
	}
	rec = make_record(REC_MAIL, uid, NULL, now);
	rec.has_source = 1;
	memcpy(rec.source, source, SESAME_MAIL_SOURCE_LEN);
	r = store_file_append(&sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}
