/* The in-memory store: the store interface (store.h) kept in this
 * process's memory, gone at close. It exists so that the unit tests run
 * one set of contract tests against two backends, which keeps the
 * interface honest for the next one; it is not a backend `store` can name
 * (the module forgets everything at pam_end). Its rules are the file
 * store's: the same reasons in the same order, the same gc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "token.h"

#define MAIL_WINDOW 3600

enum mem_kind { MEM_USE, MEM_REVOKE, MEM_ISSUE };

struct mem_record {
	enum mem_kind kind;
	uint32_t uid;
	uint8_t id[SESAME_ID_BYTES];
	int64_t expires;
	int64_t at;
	struct sesame_ledger_use use; /* MEM_USE */
	struct sesame_issue issue;    /* MEM_ISSUE */
};

struct mem_user_revoke {
	uint32_t uid;
	int64_t before;
};

struct mem_mail {
	uint32_t uid;
	uint8_t source[SESAME_MAIL_SOURCE_LEN];
	int64_t time;
};

struct store_mem {
	struct mem_record *recs;
	size_t n_recs;
	struct mem_user_revoke *users;
	size_t n_users;
	struct mem_mail *mails;
	size_t n_mails;
	int64_t gc_time;
};

static struct store_mem *mem_of(struct sesame_store *st)
{
	return st->impl;
}

/* Append one element to an array of elements of `size` bytes. */
static void *push(void **arr, size_t *n, size_t size, struct sesame_err *err)
{
	uint8_t *more = realloc(*arr, (*n + 1) * size);

	if (more == NULL) {
		sesame_err_set(err, "memory store: out of memory");
		return NULL;
	}
	*arr = more;
	memset(more + *n * size, 0, size);
	return more + (*n)++ * size;
}

static int64_t expiry_of(const struct sesame_token *t)
{
	return (int64_t)t->issued + (int64_t)t->lifetime;
}

static int64_t latest_before(const struct store_mem *m, uint32_t uid)
{
	int64_t before = -1;

	for (size_t i = 0; i < m->n_users; i++)
		if (m->users[i].uid == uid && m->users[i].before > before)
			before = m->users[i].before;
	return before;
}

static void tally(const struct store_mem *m, const struct sesame_token *t, unsigned *used,
		  int *revoked)
{
	*used = 0;
	*revoked = 0;
	for (size_t i = 0; i < m->n_recs; i++) {
		const struct mem_record *r = &m->recs[i];
		if (r->uid != t->uid || memcmp(r->id, t->id, SESAME_ID_BYTES) != 0)
			continue;
		*used += r->kind == MEM_USE;
		*revoked |= r->kind == MEM_REVOKE;
	}
}

static enum sesame_reason check(struct store_mem *m, const struct sesame_token *t, int64_t now,
				unsigned *used, struct sesame_err *err)
{
	int64_t before = latest_before(m, t->uid);
	int revoked;

	tally(m, t, used, &revoked);
	if (now >= expiry_of(t))
		return SESAME_EXPIRED;
	if (sesame_store_clock_behind(now, m->gc_time)) {
		sesame_err_set(err, "memory store: the clock is more than the grace before the "
			       "last gc");
		return SESAME_CLOCK_BEHIND;
	}
	if (revoked || (before >= 0 && (int64_t)t->issued <= before))
		return SESAME_REVOKED;
	if (t->uses > 0 && *used >= t->uses)
		return SESAME_USED_UP;
	return SESAME_OK;
}

static struct mem_record *add_record(struct store_mem *m, enum mem_kind kind, uint32_t uid,
				     const uint8_t id[SESAME_ID_BYTES], int64_t expires,
				     int64_t at, struct sesame_err *err)
{
	struct mem_record *r = push((void **)&m->recs, &m->n_recs, sizeof(*r), err);

	if (r == NULL)
		return NULL;
	r->kind = kind;
	r->uid = uid;
	memcpy(r->id, id, SESAME_ID_BYTES);
	r->expires = expires;
	r->at = at;
	r->use.time = at;
	return r;
}

static void copy_text(char *dst, size_t size, const char *src)
{
	if (src != NULL)
		snprintf(dst, size, "%s", src);
}

static enum sesame_reason mem_redeem(struct sesame_store *st, const struct sesame_token *t,
				     const struct sesame_use *use, int64_t now,
				     struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);
	struct mem_record *r;
	unsigned used;
	enum sesame_reason reason = check(m, t, now, &used, err);

	if (reason != SESAME_OK || t->uses == 0)
		return reason;
	r = add_record(m, MEM_USE, t->uid, t->id, expiry_of(t), now, err);
	if (r == NULL)
		return SESAME_STORE_UNAVAILABLE;
	if (use != NULL) {
		copy_text(r->use.host, sizeof(r->use.host), use->host);
		copy_text(r->use.service, sizeof(r->use.service), use->service);
		copy_text(r->use.rhost, sizeof(r->use.rhost), use->rhost);
		copy_text(r->use.ruser, sizeof(r->use.ruser), use->ruser);
		copy_text(r->use.tty, sizeof(r->use.tty), use->tty);
	}
	return SESAME_OK;
}

static enum sesame_reason mem_status(struct sesame_store *st, const struct sesame_token *t,
				     int64_t now, unsigned *used, struct sesame_err *err)
{
	unsigned count;
	enum sesame_reason r = check(mem_of(st), t, now, &count, err);

	if (used != NULL)
		*used = count;
	return r;
}

static int mem_revoke(struct sesame_store *st, const struct sesame_token *t, int64_t now,
		      struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);
	unsigned used;
	int revoked;

	tally(m, t, &used, &revoked);
	if (revoked)
		return 0;
	return add_record(m, MEM_REVOKE, t->uid, t->id, expiry_of(t), now, err) ? 0 : -1;
}

static int mem_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			   struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);
	struct mem_user_revoke *u;

	if (latest_before(m, uid) >= before)
		return 0;
	u = push((void **)&m->users, &m->n_users, sizeof(*u), err);
	if (u == NULL)
		return -1;
	u->uid = uid;
	u->before = before;
	return 0;
}

static int mem_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				   struct sesame_err *err)
{
	(void)err;
	if (before != NULL)
		*before = latest_before(mem_of(st), uid);
	return 0;
}

static int mem_mail_allow(struct sesame_store *st, uint32_t uid,
			  const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			  const struct sesame_mail_limits *lim, struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);
	unsigned account = 0, from_source = 0;
	int64_t latest = INT64_MIN;
	struct mem_mail *mail;

	for (size_t i = 0; i < m->n_mails; i++) {
		const struct mem_mail *x = &m->mails[i];
		int recent = x->time > now - MAIL_WINDOW;
		if (x->uid != uid)
			continue;
		account += recent;
		if (memcmp(x->source, source, SESAME_MAIL_SOURCE_LEN) != 0)
			continue;
		from_source += recent;
		if (x->time > latest)
			latest = x->time;
	}
	if (account >= lim->per_account || from_source >= lim->per_source ||
	    (latest != INT64_MIN && now - latest < lim->interval))
		return 1;
	mail = push((void **)&m->mails, &m->n_mails, sizeof(*mail), err);
	if (mail == NULL)
		return -1;
	mail->uid = uid;
	memcpy(mail->source, source, SESAME_MAIL_SOURCE_LEN);
	mail->time = now;
	return 0;
}

static const struct mem_record *find_issue(const struct store_mem *m,
					   const uint8_t id[SESAME_ID_BYTES])
{
	for (size_t i = 0; i < m->n_recs; i++)
		if (m->recs[i].kind == MEM_ISSUE &&
		    memcmp(m->recs[i].id, id, SESAME_ID_BYTES) == 0)
			return &m->recs[i];
	return NULL;
}

static int mem_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			    struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);
	struct mem_record *r;

	if (find_issue(m, is->id) != NULL) {
		sesame_err_set(err, "ledger: token id already recorded");
		return -1;
	}
	r = add_record(m, MEM_ISSUE, is->uid, is->id, is->expires, is->issued, err);
	if (r == NULL)
		return -1;
	r->issue = *is;
	return 0;
}

static int fill(struct store_mem *m, const uint8_t id[SESAME_ID_BYTES],
		struct sesame_history *h, struct sesame_err *err)
{
	const struct mem_record *is = find_issue(m, id);
	int64_t before;

	if (is != NULL) {
		h->have_issue = 1;
		h->issue = is->issue;
	}
	for (size_t i = 0; i < m->n_recs; i++) {
		const struct mem_record *r = &m->recs[i];
		struct sesame_ledger_use *u;
		if (memcmp(r->id, id, SESAME_ID_BYTES) != 0 || (is && r->uid != is->uid))
			continue;
		if (r->kind == MEM_REVOKE) {
			h->revoked = 1;
			h->revoked_at = r->at;
		}
		if (r->kind != MEM_USE)
			continue;
		u = push((void **)&h->uses, &h->n_uses, sizeof(*u), err);
		if (u == NULL)
			return -1;
		*u = r->use;
		h->used++;
	}
	before = is != NULL ? latest_before(m, is->uid) : -1;
	h->user_revoked = before >= 0 && is->issue.issued <= before;
	return 0;
}

static int mem_history(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
		       struct sesame_history *h, struct sesame_err *err)
{
	return fill(mem_of(st), id, h, err);
}

static int mem_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		    struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);

	for (size_t i = 0; i < m->n_recs; i++) {
		struct sesame_history *h;
		if (m->recs[i].kind != MEM_ISSUE)
			continue;
		h = push((void **)out, n, sizeof(*h), err);
		if (h == NULL)
			return -1;
		h->revoked_at = -1;
		if (fill(m, m->recs[i].id, h, err) != 0)
			return -1;
	}
	return 0;
}

/* Keep the records not yet past expiry plus the grace period, as the file
 * store's gc does; returns how many went. */
static size_t drop_records(struct store_mem *m, int64_t now)
{
	size_t kept = 0, n = m->n_recs;

	for (size_t i = 0; i < n; i++)
		if (m->recs[i].expires > now - SESAME_STORE_GRACE)
			m->recs[kept++] = m->recs[i];
	m->n_recs = kept;
	return n - kept;
}

static size_t drop_users(struct store_mem *m, int64_t now)
{
	size_t kept = 0, n = m->n_users;

	for (size_t i = 0; i < n; i++)
		if (m->users[i].before > now - SESAME_STORE_GRACE - SESAME_MAX_LIFETIME)
			m->users[kept++] = m->users[i];
	m->n_users = kept;
	return n - kept;
}

static size_t drop_mails(struct store_mem *m, int64_t now)
{
	size_t kept = 0, n = m->n_mails;

	for (size_t i = 0; i < n; i++)
		if (m->mails[i].time > now - MAIL_WINDOW)
			m->mails[kept++] = m->mails[i];
	m->n_mails = kept;
	return n - kept;
}

static int mem_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		  struct sesame_err *err)
{
	struct store_mem *m = mem_of(st);

	memset(stats, 0, sizeof(*stats));
	if (sesame_store_clock_behind(now, m->gc_time)) {
		sesame_err_set(err, "memory store: clock behind the last gc");
		return -1;
	}
	if (now > m->gc_time)
		m->gc_time = now;
	stats->removed = drop_records(m, now) + drop_users(m, now) + drop_mails(m, now);
	stats->kept = m->n_recs + m->n_users + m->n_mails;
	return 0;
}

static void mem_close(struct sesame_store *st)
{
	struct store_mem *m = mem_of(st);

	free(m->recs);
	free(m->users);
	free(m->mails);
	free(m);
}

static const struct sesame_store_ops mem_ops = {
	.name = "memory",
	.close = mem_close,
	.redeem = mem_redeem,
	.status = mem_status,
	.revoke = mem_revoke,
	.revoke_user = mem_revoke_user,
	.user_revoked_before = mem_user_revoked_before,
	.mail_allow = mem_mail_allow,
	.record_issue = mem_record_issue,
	.list = mem_list,
	.history = mem_history,
	.gc = mem_gc,
};

int sesame_store_open_memory(struct sesame_store *st, struct sesame_err *err)
{
	struct store_mem *m = calloc(1, sizeof(*m));

	st->ops = NULL;
	st->impl = NULL;
	if (m == NULL) {
		sesame_err_set(err, "memory store: out of memory");
		return -1;
	}
	st->ops = &mem_ops;
	st->impl = m;
	return 0;
}
