/* The store interface (store.h): choosing a backend and calling it. The
 * backends are store_fs*.c (files in state_dir), store_etcd*.c (the fleet's
 * etcd cluster) and store_mem.c. */
#include <stdlib.h>
#include <string.h>

#include "store.h"

int sesame_store_backend_known(const char *name)
{
	return name != NULL && (strcmp(name, "file") == 0 || strcmp(name, "etcd") == 0);
}

int sesame_store_open(struct sesame_store *st, const struct sesame_config *cfg, int create,
		      struct sesame_err *err)
{
	st->ops = NULL;
	st->impl = NULL;
	if (cfg == NULL || !sesame_store_backend_known(cfg->store)) {
		sesame_err_set(err, "store: unknown backend \"%.16s\"", cfg ? cfg->store : "");
		return -1;
	}
	if (strcmp(cfg->store, "etcd") == 0)
		return sesame_store_open_etcd(st, &cfg->etcd, cfg->state_dir, err);
	return sesame_store_open_file(st, cfg->state_dir, create, err);
}

void sesame_store_close(struct sesame_store *st)
{
	if (st == NULL || st->ops == NULL)
		return;
	st->ops->close(st);
	st->ops = NULL;
	st->impl = NULL;
}

/* Every call on a closed store is "store unavailable", never a crash. */
static int is_open(const struct sesame_store *st, struct sesame_err *err)
{
	if (st != NULL && st->ops != NULL)
		return 1;
	sesame_err_set(err, "store: not open");
	return 0;
}

enum sesame_reason sesame_store_redeem(struct sesame_store *st, const struct sesame_token *t,
				       const struct sesame_use *use, int64_t now,
				       struct sesame_err *err)
{
	if (!is_open(st, err) || t == NULL)
		return SESAME_STORE_UNAVAILABLE;
	return st->ops->redeem(st, t, use, now, err);
}

enum sesame_reason sesame_store_status(struct sesame_store *st, const struct sesame_token *t,
				       int64_t now, unsigned *used, struct sesame_err *err)
{
	if (used != NULL)
		*used = 0;
	if (!is_open(st, err) || t == NULL)
		return SESAME_STORE_UNAVAILABLE;
	return st->ops->status(st, t, now, used, err);
}

int sesame_store_revoke(struct sesame_store *st, const struct sesame_token *t, int64_t now,
			struct sesame_err *err)
{
	if (!is_open(st, err) || t == NULL)
		return -1;
	return st->ops->revoke(st, t, now, err);
}

int sesame_store_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			     struct sesame_err *err)
{
	if (!is_open(st, err))
		return -1;
	if (before < 0) {
		sesame_err_set(err, "revoke user %u: negative time", (unsigned)uid);
		return -1;
	}
	return st->ops->revoke_user(st, uid, before, err);
}

int sesame_store_revoke_user_now(struct sesame_store *st, uint32_t uid, int64_t now,
				 int64_t *before, struct sesame_err *err)
{
	*before = now;
	if (!is_open(st, err))
		return -1;
	if (st->ops->revoke_user_now == NULL)
		return sesame_store_revoke_user(st, uid, now, err);
	if (now < 0) {
		sesame_err_set(err, "revoke user %u: negative time", (unsigned)uid);
		return -1;
	}
	return st->ops->revoke_user_now(st, uid, now, before, err);
}

const char *sesame_store_skipped(struct sesame_store *st)
{
	if (st == NULL || st->ops == NULL || st->ops->skipped == NULL)
		return "";
	return st->ops->skipped(st);
}

int sesame_store_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err)
{
	if (before != NULL)
		*before = -1;
	if (!is_open(st, err))
		return -1;
	return st->ops->user_revoked_before(st, uid, before, err);
}

int sesame_store_mail_allow(struct sesame_store *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err)
{
	if (!is_open(st, err) || source == NULL || lim == NULL)
		return -1;
	return st->ops->mail_allow(st, uid, source, now, lim, err);
}

/* Bytes in the UTF-8 sequence at s (1..4), or 0 when it is not one or
 * is a control character (a note or an address must not forge lines in a
 * listing, and JSON output must stay UTF-8). */
static size_t text_char(const unsigned char *s)
{
	size_t more;

	if (*s < 0x20 || *s == 0x7f)
		return 0;
	if (*s < 0x80)
		return 1;
	more = (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 : (*s & 0xf8) == 0xf0 ? 3 : 0;
	if (more == 0 || *s == 0xc0 || *s == 0xc1 || *s > 0xf4)
		return 0;
	for (size_t i = 1; i <= more; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return more + 1;
}

int sesame_ledger_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n = text_char(p);
		if (n == 0)
			return 0;
		p += n;
	}
	return 1;
}

void sesame_ledger_text_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *p = (const unsigned char *)(src != NULL ? src : "");
	size_t out = 0;

	while (*p != '\0' && out + 1 < size) {
		size_t n = text_char(p);
		if (n == 0 || out + n + 1 > size) {
			dst[out++] = '?';
			p++;
			continue;
		}
		memcpy(dst + out, p, n);
		out += n;
		p += n;
	}
	dst[out] = '\0';
}

/* A ledger text: NUL-terminated within its field, a clean text. */
static int text_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size && sesame_ledger_text_ok(s);
}

static int issue_ok(const struct sesame_issue *is, struct sesame_err *err)
{
	const struct { const char *name; const char *s; size_t size; } texts[] = {
		{ "account", is->account, sizeof(is->account) },
		{ "scope", is->scope, sizeof(is->scope) },
		{ "host", is->host, sizeof(is->host) },
		{ "channel", is->channel, sizeof(is->channel) },
		{ "issuer", is->issuer, sizeof(is->issuer) },
		{ "claimed", is->claimed, sizeof(is->claimed) },
		{ "rhost", is->rhost, sizeof(is->rhost) },
		{ "note", is->note, sizeof(is->note) },
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (!text_ok(texts[i].s, texts[i].size)) {
			sesame_err_set(err, "ledger: %s is too long, or not one line of UTF-8 text",
				       texts[i].name);
			return 0;
		}
	}
	if (is->expires < is->issued) {
		sesame_err_set(err, "ledger: expires before it is issued");
		return 0;
	}
	return 1;
}

void sesame_issue_init(struct sesame_issue *is, const struct sesame_token *t)
{
	memset(is, 0, sizeof(*is));
	memcpy(is->id, t->id, SESAME_ID_BYTES);
	is->uid = t->uid;
	is->issued = t->issued;
	is->expires = (int64_t)t->issued + t->lifetime;
	is->uses = t->uses;
	is->key_id = t->key_id;
}

int sesame_store_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			      struct sesame_err *err)
{
	if (!is_open(st, err) || is == NULL || !issue_ok(is, err))
		return -1;
	return st->ops->record_issue(st, is, err);
}

static int newest_first(const void *a, const void *b)
{
	const struct sesame_history *x = a, *y = b;

	if (x->issue.issued != y->issue.issued)
		return x->issue.issued < y->issue.issued ? 1 : -1;
	return memcmp(x->issue.id, y->issue.id, SESAME_ID_BYTES);
}

int sesame_store_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		      struct sesame_err *err)
{
	*out = NULL;
	*n = 0;
	if (!is_open(st, err) || st->ops->list(st, out, n, err) != 0)
		return -1;
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), newest_first);
	return 0;
}

int sesame_store_history(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
			 struct sesame_history *h, struct sesame_err *err)
{
	memset(h, 0, sizeof(*h));
	h->revoked_at = -1;
	if (!is_open(st, err) || id == NULL)
		return -1;
	return st->ops->history(st, id, h, err);
}

void sesame_history_clear(struct sesame_history *h)
{
	if (h == NULL)
		return;
	free(h->uses);
	free(h->use_uids);
	memset(h, 0, sizeof(*h));
	h->revoked_at = -1;
}

void sesame_history_free(struct sesame_history *hs, size_t n)
{
	for (size_t i = 0; hs != NULL && i < n; i++)
		sesame_history_clear(&hs[i]);
	free(hs);
}

int sesame_store_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err)
{
	struct sesame_gc_stats ignored;

	if (!is_open(st, err))
		return -1;
	return st->ops->gc(st, now, stats != NULL ? stats : &ignored, err);
}
