/* The file store, read whole for a move to another backend: every
 * bucket's uses, revocations and ledger records by token, and the
 * per-user revocations. Read under each file's shared lock, one file at a
 * time; nothing is written. */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "store_file.h"
#include "store_fs.h"

static struct sesame_export_token *find_or_add(struct sesame_store_export *ex, size_t first,
					       size_t *cap, const uint8_t id[SESAME_ID_BYTES],
					       uint32_t uid, struct sesame_err *err)
{
	struct sesame_export_token *t;

	/* Only this bucket's tokens can share an id. */
	for (size_t i = first; i < ex->n_tokens; i++)
		if (ex->tokens[i].uid == uid && memcmp(ex->tokens[i].id, id, SESAME_ID_BYTES) == 0)
			return &ex->tokens[i];
	if (ex->n_tokens == *cap) {
		size_t more = *cap ? *cap * 2 : 64;
		t = realloc(ex->tokens, more * sizeof(*t));
		if (t == NULL) {
			sesame_err_set(err, "export: out of memory");
			return NULL;
		}
		ex->tokens = t;
		*cap = more;
	}
	t = &ex->tokens[ex->n_tokens++];
	memset(t, 0, sizeof(*t));
	memcpy(t->id, id, SESAME_ID_BYTES);
	t->uid = uid;
	t->h.revoked_at = -1;
	return t;
}

static int add_use(struct sesame_export_token *t, const struct store_file *sf,
		   const struct record *rec, struct sesame_err *err)
{
	struct sesame_ledger_use *u = realloc(t->h.uses, (t->h.n_uses + 1) * sizeof(*u));

	if (u == NULL) {
		sesame_err_set(err, "export: out of memory");
		return -1;
	}
	t->h.uses = u;
	u = &t->h.uses[t->h.n_uses++];
	if (sf->format == 2) {
		record_use_details(sf->data + rec->off, rec->len, u);
	} else { /* sesame 0.1: counted, no details */
		memset(u, 0, sizeof(*u));
		u->time = -1;
	}
	t->h.used++;
	return 0;
}

static int export_record(struct sesame_store_export *ex, size_t first, size_t *cap,
			 const struct store_file *sf, const struct record *rec,
			 struct sesame_err *err)
{
	struct sesame_export_token *t;

	if (rec->type != REC_USE && rec->type != REC_REVOKE &&
	    !(rec->type == REC_ISSUE && sf->format == 2))
		return 0;
	t = find_or_add(ex, first, cap, rec->id, rec->uid, err);
	if (t == NULL)
		return -1;
	/* Every record of a token holds its expiry (the issue record too). */
	if (rec->time > t->expires)
		t->expires = rec->time;
	if (rec->type == REC_USE)
		return add_use(t, sf, rec, err);
	if (rec->type == REC_REVOKE) {
		t->h.revoked = 1;
		t->h.revoked_at = rec->has_at ? rec->at : -1;
		return 0;
	}
	record_issue_details(sf->data + rec->off, rec->len, &t->h.issue);
	t->h.have_issue = 1;
	return 0;
}

static int export_buckets(struct store_fs *st, struct sesame_store_export *ex,
			  struct sesame_err *err)
{
	struct store_file sf;
	size_t cap = 0;
	int r = store_uses_dir(st, 0, err);

	if (r != 0)
		return r < 0 ? -1 : 0; /* no uses/: nothing recorded */
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS && r == 0; b++) {
		size_t first = ex->n_tokens;
		store_file_init(&sf, st, KIND_BUCKET, b);
		r = store_file_read(&sf, LOCK_SH, 0, err);
		for (size_t i = 0; r == 0 && i < sf.count; i++)
			r = export_record(ex, first, &cap, &sf, &sf.recs[i], err);
		if (r == 1)
			r = 0;
		store_file_release(&sf);
	}
	return r < 0 ? -1 : 0;
}

static int add_user(struct sesame_store_export *ex, uint32_t uid, int64_t before,
		    struct sesame_err *err)
{
	struct sesame_export_user *u;

	for (size_t i = 0; i < ex->n_users; i++) {
		if (ex->users[i].uid == uid) {
			if (before > ex->users[i].before)
				ex->users[i].before = before;
			return 0;
		}
	}
	u = realloc(ex->users, (ex->n_users + 1) * sizeof(*u));
	if (u == NULL) {
		sesame_err_set(err, "export: out of memory");
		return -1;
	}
	ex->users = u;
	ex->users[ex->n_users++] = (struct sesame_export_user){uid, before};
	return 0;
}

static int export_users(struct store_fs *st, struct sesame_store_export *ex,
			struct sesame_err *err)
{
	struct store_file sf;
	int r;

	store_file_init(&sf, st, KIND_USERS, 0);
	r = store_file_read(&sf, LOCK_SH, 0, err);
	for (size_t i = 0; r == 0 && i < sf.count; i++)
		if (!sf.recs[i].skip && sf.recs[i].type == REC_USER_REVOKE)
			r = add_user(ex, sf.recs[i].uid, sf.recs[i].time, err);
	store_file_release(&sf);
	return r < 0 ? -1 : 0;
}

int sesame_store_export_file(const char *state_dir, struct sesame_store_export *out,
			     struct sesame_err *err)
{
	struct store_fs st;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (store_fs_open(&st, state_dir, 0, err) != 0)
		return -1;
	if (export_buckets(&st, out, err) == 0 && export_users(&st, out, err) == 0)
		r = 0;
	store_fs_close(&st);
	if (r != 0)
		sesame_store_export_free(out);
	return r;
}

void sesame_store_export_free(struct sesame_store_export *ex)
{
	for (size_t i = 0; ex->tokens != NULL && i < ex->n_tokens; i++)
		sesame_history_clear(&ex->tokens[i].h);
	free(ex->tokens);
	free(ex->users);
	memset(ex, 0, sizeof(*ex));
}
