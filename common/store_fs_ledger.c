/* The file store's ledger: a token's issue record lives in its bucket
 * beside its uses and revocation (store_format.h, type 128), so one
 * bucket read tells a token's whole story and gc drops them together. */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "store_fs.h"
#include "store_file.h"

/* The bucket of id, locked and loaded: 0, 1 when there is none (only
 * without create), -1. */
static int open_id_bucket(struct store_fs *st, const uint8_t id[SESAME_ID_BYTES], int lock_op,
			  int create, struct store_file *sf, struct sesame_err *err)
{
	int r;

	store_file_none(sf);
	if (!store_is_open(st, err))
		return -1;
	r = store_uses_dir(st, create, err);
	if (r != 0)
		return r;
	store_file_init(sf, st, KIND_BUCKET, store_bucket_of(id));
	return store_file_read(sf, lock_op, create, err);
}

static int has_issue(const struct store_file *sf, const uint8_t id[SESAME_ID_BYTES])
{
	for (size_t i = 0; i < sf->count; i++)
		if (sf->recs[i].type == REC_ISSUE &&
		    memcmp(sf->recs[i].id, id, SESAME_ID_BYTES) == 0)
			return 1;
	return 0;
}

int store_fs_record_issue(struct store_fs *st, const struct sesame_issue *is,
			  struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	int r = -1;

	if (open_id_bucket(st, is->id, LOCK_EX, 1, &sf, err) != 0)
		goto out;
	if (has_issue(&sf, is->id)) {
		sesame_err_set(err, "ledger: token id already recorded");
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = REC_ISSUE;
	rec.uid = is->uid;
	memcpy(rec.id, is->id, SESAME_ID_BYTES);
	rec.time = is->expires;
	rec.issue = is;
	r = store_file_append(&sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}

static int add_use(struct sesame_history *h, const struct store_file *sf,
		   const struct record *rec, struct sesame_err *err)
{
	struct sesame_ledger_use *u;

	h->used++;
	if (sf->format != 2)
		return 0; /* sesame 0.1: counted, no details */
	u = realloc(h->uses, (h->n_uses + 1) * sizeof(*u));
	if (u == NULL) {
		sesame_err_set(err, "ledger: out of memory");
		return -1;
	}
	h->uses = u;
	record_use_details(sf->data + rec->off, rec->len, &h->uses[h->n_uses++]);
	return 0;
}

/* What a loaded bucket says of id (of uid's token when the ledger has
 * it: ids are random, two accounts' may meet). */
static int fill(const struct store_file *sf, const uint8_t id[SESAME_ID_BYTES],
		struct sesame_history *h, struct sesame_err *err)
{
	for (size_t i = 0; i < sf->count; i++) {
		const struct record *rec = &sf->recs[i];
		if (rec->type == REC_ISSUE && memcmp(rec->id, id, SESAME_ID_BYTES) == 0 &&
		    sf->format == 2) {
			record_issue_details(sf->data + rec->off, rec->len, &h->issue);
			h->have_issue = 1;
		}
	}
	for (size_t i = 0; i < sf->count; i++) {
		const struct record *rec = &sf->recs[i];
		if (memcmp(rec->id, id, SESAME_ID_BYTES) != 0 ||
		    (h->have_issue && rec->uid != h->issue.uid))
			continue;
		if (rec->type == REC_USE && add_use(h, sf, rec, err) != 0)
			return -1;
		if (rec->type == REC_REVOKE) {
			h->revoked = 1;
			h->revoked_at = rec->has_at ? rec->at : -1;
		}
	}
	return 0;
}

static int user_revoked(struct store_fs *st, struct sesame_history *h, struct sesame_err *err)
{
	int64_t before = -1;

	if (!h->have_issue)
		return 0;
	if (store_fs_user_revoked_before(st, h->issue.uid, &before, err) != 0)
		return -1;
	h->user_revoked = before >= 0 && h->issue.issued <= before;
	return 0;
}

int store_fs_history(struct store_fs *st, const uint8_t id[SESAME_ID_BYTES],
		     struct sesame_history *h, struct sesame_err *err)
{
	struct store_file sf;
	int r = open_id_bucket(st, id, LOCK_SH, 0, &sf, err);

	if (r == 0)
		r = fill(&sf, id, h, err);
	store_file_release(&sf);
	if (r < 0)
		return -1;
	return user_revoked(st, h, err);
}

static int grow(struct sesame_history **out, size_t n, size_t *cap, struct sesame_err *err)
{
	struct sesame_history *more;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 16;
	more = realloc(*out, *cap * sizeof(**out));
	if (more == NULL) {
		sesame_err_set(err, "ledger: out of memory");
		return -1;
	}
	*out = more;
	return 0;
}

/* Every issue record of one loaded bucket, appended to out. */
static int list_bucket(struct store_fs *st, const struct store_file *sf,
		       struct sesame_history **out, size_t *n, size_t *cap,
		       struct sesame_err *err)
{
	for (size_t i = 0; i < sf->count; i++) {
		struct sesame_history *h;
		if (sf->recs[i].type != REC_ISSUE || sf->format != 2)
			continue;
		if (grow(out, *n, cap, err) != 0)
			return -1;
		h = &(*out)[(*n)++];
		memset(h, 0, sizeof(*h));
		h->revoked_at = -1;
		if (fill(sf, sf->recs[i].id, h, err) != 0 || user_revoked(st, h, err) != 0)
			return -1;
	}
	return 0;
}

int store_fs_list(struct store_fs *st, struct sesame_history **out, size_t *n,
		  struct sesame_err *err)
{
	struct store_file sf;
	size_t cap = 0;
	int r;

	r = store_is_open(st, err) ? store_uses_dir(st, 0, err) : -1;
	if (r != 0)
		return r < 0 ? -1 : 0; /* no uses/: nothing recorded yet */
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS && r == 0; b++) {
		store_file_init(&sf, st, KIND_BUCKET, b);
		r = store_file_read(&sf, LOCK_SH, 0, err);
		if (r == 0)
			r = list_bucket(st, &sf, out, n, &cap, err);
		else if (r == 1)
			r = 0;
		store_file_release(&sf);
	}
	return r < 0 ? -1 : 0;
}
