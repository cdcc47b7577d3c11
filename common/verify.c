/* Minting and checking. HMAC-SHA256 through OpenSSL 3's EVP_MAC.
 *
 * tag   = HMAC(K, "sesame/v1/tag"   || bytes[0..23) || name || pwhash
 *                 || service || host [|| group])[0..12)
 * check = HMAC(K, "sesame/v1/check" || bytes[0..21) || name)[0..2)
 * hint  = HMAC(K, "sesame/v2/hint/" LABEL || 0 || id || value)[0]
 *
 * The token id in the hint makes the hints of two tokens for the same
 * service, host or password unrelated, so a collection of tokens cannot
 * be grouped by them, nor show when a password changed. Tokens minted
 * before carry "sesame/v1/hint/" LABEL || 0 || value hints; the tag
 * covers the carried hint bytes whatever scheme made them, so those
 * tokens still verify, and the diagnosis accepts a hint under either.
 *
 * Each variable-length part is length-prefixed, so no two inputs can run
 * together. The tag alone decides validity. The check and the hints only
 * explain a failed tag: when the check verifies, the carried fields are
 * genuine, so a hint that no longer matches names what changed (the
 * password, the service, the host). They are keyed, so a token shows
 * nothing about the password hash or the scope to anyone without the key,
 * and a 16-bit check or 8-bit hint helps no forgery: the 96-bit tag still
 * has to be right. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "policy.h"
#include "util.h"
#include "verify.h"

#define SCOPE_MAX 255

struct part {
	const void *p;
	size_t n;
};

/* Every HMAC context is a copy of one template that already names its
 * digest (it holds no key). Fetching "HMAC" and then "SHA256" from the
 * provider on every call cost more than the hashing itself: the template
 * makes a tag check about 1.5 times faster (docs/performance.md). It is
 * made once per load of this code: once per process in the CLI, once per
 * pam_start in pam_sesame.so, which libpam dlcloses at pam_end. So it is
 * freed by an atexit handler, which glibc runs when a shared object is
 * unloaded, or at exit; at exit it runs before OPENSSL_cleanup, which
 * OpenSSL registered earlier, when the fetch below initialised it. */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_template_once = PTHREAD_ONCE_INIT;

static void hmac_template_free(void)
{
	EVP_MAC_CTX_free(hmac_template);
	hmac_template = NULL;
}

/* On failure the template stays NULL and every MAC fails: closed. */
static void hmac_template_make(void)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];

	EVP_MAC_free(mac); /* ctx holds its own reference */
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_MAC_CTX_set_params(ctx, params) != 1 ||
	    atexit(hmac_template_free) != 0) {
		EVP_MAC_CTX_free(ctx);
		return;
	}
	hmac_template = ctx;
}

/* HMAC-SHA256 over parts. Returns 1 on success, 0 on a library failure:
 * kept apart from any verdict so a crypto failure can never pass. */
static int hmac_parts(const uint8_t key[SESAME_KEY_BYTES], const struct part *parts, size_t n,
		      uint8_t out[32])
{
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	int ok = 0;

	if (pthread_once(&hmac_template_once, hmac_template_make) != 0 || hmac_template == NULL)
		goto out;
	ctx = EVP_MAC_CTX_dup(hmac_template);
	if (ctx == NULL || EVP_MAC_init(ctx, key, SESAME_KEY_BYTES, NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (parts[i].n > 0 && EVP_MAC_update(ctx, parts[i].p, parts[i].n) != 1)
			goto out;
	ok = EVP_MAC_final(ctx, out, &outlen, 32) == 1 && outlen == 32;
out:
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		sesame_wipe(out, 32);
	return ok;
}

enum hint_scheme { HINT_V1, HINT_V2 };

static int hint(const struct sesame_key *key, enum hint_scheme scheme, const char *label,
		const uint8_t id[SESAME_ID_BYTES], const char *value, uint8_t *out)
{
	static const char v1[] = "sesame/v1/hint/", v2[] = "sesame/v2/hint/";
	uint8_t mac[32];
	struct part parts[] = {
		{scheme == HINT_V2 ? v2 : v1, sizeof(v2) - 1},
		{label, strlen(label) + 1},
		{id, scheme == HINT_V2 ? SESAME_ID_BYTES : 0},
		{value, strlen(value)},
	};
	int ok = hmac_parts(key->key, parts, 4, mac);

	*out = mac[0];
	sesame_wipe(mac, sizeof(mac));
	return ok;
}

static int compute_check(const struct sesame_key *key, const uint8_t bytes[SESAME_TOKEN_BYTES],
			 const char *name, uint8_t out[SESAME_CHECK_BYTES])
{
	static const char label[] = "sesame/v1/check";
	uint8_t name_len = (uint8_t)strlen(name), mac[32];
	struct part parts[] = {
		{label, sizeof(label) - 1},
		{bytes, SESAME_CHECKED_BYTES},
		{&name_len, 1},
		{name, name_len},
	};
	int ok = hmac_parts(key->key, parts, 4, mac);

	memcpy(out, mac, SESAME_CHECK_BYTES);
	sesame_wipe(mac, sizeof(mac));
	return ok;
}

/* Length prefix for an optional part: 0xff..ff marks "absent", so an
 * absent scope and an empty string can never be confused. A value longer
 * than max is never cut to fit: 0, and the MAC is not computed. */
static int optional_len(const char *s, size_t max, uint8_t len_be[2], struct part *p)
{
	size_t n = s ? strlen(s) : 0;
	uint16_t v = s ? (uint16_t)n : 0xffff;

	if (n > max)
		return 0;
	len_be[0] = (uint8_t)(v >> 8);
	len_be[1] = (uint8_t)v;
	p->p = s;
	p->n = n;
	return 1;
}

/* A group scope is two more parts after the (then absent) host: a token
 * scoped to host "web" ends with 00 03 "web", one scoped to group "web"
 * with ff ff 00 03 "web", and an unscoped one with ff ff. So the tag
 * covers the scope's kind as well as its name, and a host and a group of
 * the same name are different scopes. Tokens that are not group-scoped
 * hash exactly what they always did. */
static int compute_tag(const struct sesame_key *key, const uint8_t bytes[SESAME_TOKEN_BYTES],
		       const char *name, const char *pwhash, const char *service,
		       const char *host, const char *group, uint8_t out[SESAME_TAG_BYTES])
{
	static const char label[] = "sesame/v1/tag";
	uint8_t name_len = (uint8_t)strlen(name), pw_len[2], svc_len[2], host_len[2], grp_len[2];
	uint8_t mac[32];
	struct part parts[12] = {
		{label, sizeof(label) - 1}, {bytes, SESAME_SIGNED_BYTES}, {&name_len, 1},
		{name, name_len},           {pw_len, 2},                   {NULL, 0},
		{svc_len, 2},               {NULL, 0},                     {host_len, 2},
		{NULL, 0},                  {grp_len, 2},                  {NULL, 0},
	};
	int ok = (host == NULL || group == NULL) &&
		 optional_len(pwhash, 0xfffe, pw_len, &parts[5]) &&
		 optional_len(service, SCOPE_MAX, svc_len, &parts[7]) &&
		 optional_len(host, SCOPE_MAX, host_len, &parts[9]) &&
		 optional_len(group, SCOPE_MAX, grp_len, &parts[11]) &&
		 hmac_parts(key->key, parts, group != NULL ? 12 : 10, mac);

	if (!ok)
		sesame_wipe(mac, sizeof(mac));
	memcpy(out, mac, SESAME_TAG_BYTES);
	sesame_wipe(mac, sizeof(mac));
	return ok;
}

int sesame_scope_name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 1;
	n = strlen(s);
	if (n == 0 || n > SCOPE_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* The password hash the tag binds to, or NULL when not bound. */
static const char *bound_hash(const struct sesame_account *acct, int bind_password)
{
	return bind_password ? acct->pwhash : NULL;
}

int sesame_binds_password(int bind_password, const struct sesame_account *acct,
			  enum sesame_scope_kind kind)
{
	if (kind == SESAME_SCOPE_GROUP || bind_password == SESAME_BIND_NO)
		return 0;
	if (bind_password == SESAME_BIND_YES)
		return 1;
	return acct->pwhash != NULL &&
	       (acct->shadow == SESAME_SHADOW_PASSWORD || acct->shadow == SESAME_SHADOW_LOCKED);
}

static int fill_hints(const struct sesame_key *key, const struct sesame_account *acct,
		      int bind_password, const struct sesame_mint_request *req,
		      struct sesame_token *t)
{
	int ok = 1;

	if (req->service != NULL)
		ok &= hint(key, HINT_V2, "service", t->id, req->service, &t->service_hint);
	if (req->host != NULL)
		ok &= hint(key, HINT_V2, "host", t->id, req->host, &t->host_hint);
	if (req->group != NULL)
		ok &= hint(key, HINT_V2, "group", t->id, req->group, &t->host_hint);
	if (bind_password)
		ok &= hint(key, HINT_V2, "password", t->id, acct->pwhash, &t->password_hint);
	return ok;
}

enum sesame_reason sesame_mint_with_id(const struct sesame_key *key,
				       const struct sesame_account *acct, int bind_password,
				       const struct sesame_mint_request *req,
				       const uint8_t id[SESAME_ID_BYTES], struct sesame_token *out)
{
	uint8_t bytes[SESAME_TOKEN_BYTES];
	enum sesame_reason r = SESAME_SYSTEM_ERROR;

	memset(out, 0, sizeof(*out));
	if (key == NULL)
		return SESAME_UNKNOWN_KEY; /* a key file of staged keys only signs nothing */
	if (req->group != NULL)
		bind_password = 0;
	if (req->lifetime > SESAME_MAX_LIFETIME)
		return SESAME_LIFETIME_TOO_LONG;
	if (key->id == 0 || key->id > SESAME_KEY_ID_MAX || req->lifetime <= 0 || req->uses > 255 ||
	    req->now < 0 || req->now > UINT32_MAX || !sesame_scope_name_ok(req->service) ||
	    !sesame_scope_name_ok(req->host) || (bind_password && acct->pwhash == NULL) ||
	    (req->group != NULL && (req->host != NULL || !sesame_group_name_ok(req->group))))
		return SESAME_MALFORMED;
	out->flags = (uint8_t)((req->service ? SESAME_FLAG_SERVICE : 0) |
			       (req->host || req->group ? SESAME_FLAG_HOST : 0));
	out->key_id = key->id;
	out->uid = acct->uid;
	out->issued = (uint32_t)req->now;
	out->lifetime = sesame_lifetime_representable(req->lifetime);
	out->uses = (uint8_t)req->uses;
	memcpy(out->id, id, SESAME_ID_BYTES);
	if (!fill_hints(key, acct, bind_password, req, out))
		goto out;
	sesame_token_to_bytes(out, bytes);
	if (!compute_check(key, bytes, acct->name, out->check))
		goto out;
	sesame_token_to_bytes(out, bytes);
	if (!compute_tag(key, bytes, acct->name, bound_hash(acct, bind_password), req->service,
			 req->host, req->group, out->tag))
		goto out;
	r = SESAME_OK;
out:
	sesame_wipe(bytes, sizeof(bytes));
	if (r != SESAME_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

enum sesame_reason sesame_mint(const struct sesame_key *key, const struct sesame_account *acct,
			       int bind_password, const struct sesame_mint_request *req,
			       struct sesame_token *out)
{
	uint8_t id[SESAME_ID_BYTES];
	enum sesame_reason r;

	if (RAND_bytes(id, sizeof(id)) != 1)
		return SESAME_SYSTEM_ERROR;
	r = sesame_mint_with_id(key, acct, bind_password, req, id, out);
	sesame_wipe(id, sizeof(id));
	return r;
}

/* The tag, with the token's host flag read as a host scope (group NULL)
 * or as that group's scope. */
static int scoped_tag_ok(const struct sesame_key *key, const struct sesame_token *t,
			 const struct sesame_account *acct, int bind_password,
			 const char *service, const char *host, const char *group)
{
	uint8_t bytes[SESAME_TOKEN_BYTES], want[SESAME_TAG_BYTES];
	int host_flag = (t->flags & SESAME_FLAG_HOST) != 0;
	int r = -1;

	if (bind_password && acct->pwhash == NULL)
		return -1;
	if (group != NULL && !host_flag)
		return 0;
	sesame_token_to_bytes(t, bytes);
	if (!compute_tag(key, bytes, acct->name, bound_hash(acct, bind_password),
			 (t->flags & SESAME_FLAG_SERVICE) ? service : NULL,
			 host_flag && group == NULL ? host : NULL, group, want))
		goto out;
	r = CRYPTO_memcmp(want, t->tag, SESAME_TAG_BYTES) == 0;
out:
	sesame_wipe(want, sizeof(want));
	sesame_wipe(bytes, sizeof(bytes));
	return r;
}

int sesame_tag_ok(const struct sesame_key *key, const struct sesame_token *t,
		  const struct sesame_account *acct, int bind_password, const char *service,
		  const char *host)
{
	return scoped_tag_ok(key, t, acct, bind_password, service, host, NULL);
}

/* 1 when the hint of value matches under either scheme, 0 when not, -1
 * on a crypto failure. Trying both only makes a chance match (which
 * names the wrong cause of a refusal) twice as likely: an 8-bit hint is
 * read only after the check has shown the carried fields genuine, and the
 * 96-bit tag alone decides validity. */
static int hint_matches(const struct sesame_key *key, const struct sesame_token *t,
			const char *label, const char *value, uint8_t carried)
{
	uint8_t v2 = 0, v1 = 0;

	if (value == NULL)
		return 0;
	if (!hint(key, HINT_V2, label, t->id, value, &v2) ||
	    !hint(key, HINT_V1, label, t->id, value, &v1))
		return -1;
	return v2 == carried || v1 == carried;
}

int sesame_scope_hint_matches(const struct sesame_key *key, const struct sesame_token *t,
			      const char *label, const char *value)
{
	if (strcmp(label, "service") == 0 && (t->flags & SESAME_FLAG_SERVICE))
		return hint_matches(key, t, label, value, t->service_hint);
	if (strcmp(label, "host") == 0 && (t->flags & SESAME_FLAG_HOST))
		return hint_matches(key, t, label, value, t->host_hint);
	return 0;
}

/* The tag failed: say why, trusting the hints only when the check shows
 * the carried fields are genuine. */
static enum sesame_reason diagnose(const struct sesame_key *key, const struct sesame_token *t,
				   const struct sesame_account *acct, int bind_password,
				   const struct sesame_context *ctx, const char *group)
{
	uint8_t bytes[SESAME_TOKEN_BYTES], check[SESAME_CHECK_BYTES];
	enum sesame_reason r = SESAME_SYSTEM_ERROR;
	int m;

	sesame_token_to_bytes(t, bytes);
	if (!compute_check(key, bytes, acct->name, check))
		goto out;
	r = SESAME_BAD_SIGNATURE;
	if (CRYPTO_memcmp(check, t->check, SESAME_CHECK_BYTES) != 0)
		goto out;
	m = (t->flags & SESAME_FLAG_SERVICE) ? hint_matches(key, t, "service", ctx->service,
							    t->service_hint) : 1;
	if (m != 1) {
		r = m < 0 ? SESAME_SYSTEM_ERROR : SESAME_WRONG_SERVICE;
		goto out;
	}
	if (!(t->flags & SESAME_FLAG_HOST))
		m = 1;
	else if (group != NULL)
		m = hint_matches(key, t, "group", group, t->host_hint);
	else
		m = hint_matches(key, t, "host", ctx->host, t->host_hint);
	if (m != 1) {
		r = m < 0 ? SESAME_SYSTEM_ERROR : SESAME_WRONG_HOST;
		goto out;
	}
	/* An unbound check (bind_password = no now) against a bound token,
	 * or the other way round, is also a changed binding. */
	m = bind_password ? hint_matches(key, t, "password", acct->pwhash, t->password_hint)
			  : t->password_hint == 0;
	if (m != 1)
		r = m < 0 ? SESAME_SYSTEM_ERROR : SESAME_PASSWORD_CHANGED;
out:
	sesame_wipe(bytes, sizeof(bytes));
	sesame_wipe(check, sizeof(check));
	return r;
}

static enum sesame_reason check_times(const struct sesame_config *cfg,
				      const struct sesame_token *t, int64_t now)
{
	if ((int64_t)t->issued > now + SESAME_CLOCK_SKEW)
		return SESAME_NOT_YET_VALID;
	if ((int64_t)t->lifetime > cfg->max_age_limit)
		return SESAME_LIFETIME_TOO_LONG;
	if (now >= (int64_t)t->issued + t->lifetime)
		return SESAME_EXPIRED;
	return SESAME_OK;
}

/* One way to read the token: a key and the scope it belongs to. */
struct candidate {
	const struct sesame_key *key;
	const char *group; /* NULL: this host's key, host scope or none */
};

/* The keys with the token's id that may have signed it: this host's own
 * and, for a host-flagged token, each of this host's groups'. */
static size_t candidates(const struct sesame_keyring *kr, const struct sesame_group_keys *gk,
			 const struct sesame_token *t, const char *host, struct candidate *out)
{
	const struct sesame_key *k = sesame_keyring_find(kr, t->key_id);
	size_t n = 0;

	/* No host scope without a usable host name (see sesame_check_scoped) */
	if (k != NULL && (!(t->flags & SESAME_FLAG_HOST) || sesame_scope_name_ok(host)))
		out[n++] = (struct candidate){k, NULL};
	for (size_t i = 0; gk != NULL && (t->flags & SESAME_FLAG_HOST) && i < gk->n; i++) {
		k = sesame_keyring_find(&gk->group[i].kr, t->key_id);
		if (k != NULL)
			out[n++] = (struct candidate){k, gk->group[i].name};
	}
	return n;
}

static void fill_match(struct sesame_match *m, const struct sesame_token *t,
		       const struct candidate *c, int bound)
{
	if (m == NULL)
		return;
	m->kind = c->group != NULL ? SESAME_SCOPE_GROUP
				   : (t->flags & SESAME_FLAG_HOST) ? SESAME_SCOPE_HOST
								   : SESAME_SCOPE_NONE;
	m->group = c->group;
	m->password_bound = bound;
	m->verified = 1;
}

/* Try each candidate's tag; on none, the first diagnosis that is more
 * than "bad signature" (the candidate whose check holds signed it). */
static enum sesame_reason match_tag(const struct sesame_config *cfg, const struct candidate *c,
				    size_t n, const struct sesame_token *t,
				    const struct sesame_account *acct,
				    const struct sesame_context *ctx, struct sesame_match *m)
{
	enum sesame_reason why = SESAME_BAD_SIGNATURE;

	for (size_t i = 0; i < n; i++) {
		int bind = sesame_binds_password(cfg->bind_password, acct,
						 c[i].group ? SESAME_SCOPE_GROUP : SESAME_SCOPE_HOST);
		int ok = scoped_tag_ok(c[i].key, t, acct, bind, ctx->service, ctx->host,
				       c[i].group);
		if (ok < 0)
			return SESAME_SYSTEM_ERROR;
		if (ok == 1) {
			fill_match(m, t, &c[i], bind);
			return SESAME_OK;
		}
	}
	for (size_t i = 0; i < n && why == SESAME_BAD_SIGNATURE; i++) {
		int bind = sesame_binds_password(cfg->bind_password, acct,
						 c[i].group ? SESAME_SCOPE_GROUP : SESAME_SCOPE_HOST);
		why = diagnose(c[i].key, t, acct, bind, ctx, c[i].group);
	}
	return why;
}

enum sesame_reason sesame_check_scoped(const struct sesame_config *cfg,
				       const struct sesame_keyring *kr,
				       const struct sesame_group_keys *gk,
				       const struct sesame_token *t,
				       const struct sesame_account *acct,
				       const struct sesame_context *ctx, struct sesame_match *m)
{
	struct candidate c[1 + SESAME_MAX_GROUPS];
	size_t n = candidates(kr, gk, t, ctx->host, c);
	int own_key = sesame_keyring_find(kr, t->key_id) != NULL;
	enum sesame_reason r;

	if (m != NULL)
		memset(m, 0, sizeof(*m));
	if (n == 0 && !own_key)
		return SESAME_UNKNOWN_KEY;
	if (acct->uid != t->uid)
		return SESAME_WRONG_USER;
	/* A scope is at most SCOPE_MAX bytes: a longer service or host name
	 * is not that scope, whatever its first SCOPE_MAX bytes say. It is
	 * left out of the candidates; the groups may still accept. */
	if ((t->flags & SESAME_FLAG_SERVICE) && !sesame_scope_name_ok(ctx->service))
		return SESAME_WRONG_SERVICE;
	if (n == 0)
		return SESAME_WRONG_HOST;
	if (cfg->bind_password == SESAME_BIND_YES && acct->pwhash == NULL)
		return SESAME_SHADOW_UNAVAILABLE;
	r = match_tag(cfg, c, n, t, acct, ctx, m);
	if (r != SESAME_OK)
		return r;
	r = check_times(cfg, t, ctx->now);
	if (r != SESAME_OK)
		return r;
	return sesame_policy_reason(sesame_policy_check(cfg, acct, ctx->now));
}

enum sesame_reason sesame_check(const struct sesame_config *cfg, const struct sesame_keyring *kr,
				const struct sesame_token *t, const struct sesame_account *acct,
				const struct sesame_context *ctx)
{
	return sesame_check_scoped(cfg, kr, NULL, t, acct, ctx, NULL);
}
