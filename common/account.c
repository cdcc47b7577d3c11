/* Accounts through NSS, with the reentrant *_r calls only: the module
 * lives in long-running, multi-threaded daemons, where getpwnam() or
 * getspnam() would hand every thread the same static buffer. (Tests under
 * nss_wrapper, which does not wrap getspnam_r, preload a small shim:
 * tests/e2e/getspnam_r_shim.c.) */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "util.h"

#define NSS_BUF_START 1024
#define NSS_BUF_MAX (1024 * 1024)

static enum sesame_reason copy_passwd(const struct passwd *pw, struct sesame_account *acct)
{
	if (strlen(pw->pw_name) >= sizeof(acct->name))
		return SESAME_USER_UNKNOWN;
	memcpy(acct->name, pw->pw_name, strlen(pw->pw_name) + 1);
	acct->uid = (uint32_t)pw->pw_uid;
	acct->gid = (uint32_t)pw->pw_gid;
	return SESAME_OK;
}

/* A reentrant NSS call: fills the query's answer from buf, returns 0 or
 * an errno value (ERANGE: buf too small). */
typedef int (*nss_call_fn)(void *query, char *buf, size_t size);

/* Run call with a buffer that doubles while the answer is ERANGE, up to
 * NSS_BUF_MAX. Returns the buffer the answer points into, its size in
 * *size (the caller wipes and frees it), or NULL when out of memory. A
 * buffer too small may already hold part of a shadow hash: it is wiped
 * before it goes, so the next one is a fresh malloc, not a realloc. */
static char *nss_lookup(nss_call_fn call, void *query, size_t *size)
{
	char *buf = NULL;

	for (*size = NSS_BUF_START;; *size *= 2) {
		buf = malloc(*size);
		if (buf == NULL)
			return NULL;
		if (call(query, buf, *size) != ERANGE || *size >= NSS_BUF_MAX)
			return buf;
		sesame_wipe(buf, *size);
		free(buf);
	}
}

static void nss_free(char *buf, size_t size)
{
	sesame_wipe(buf, buf != NULL ? size : 0);
	free(buf);
}

struct passwd_query {
	const char *name; /* by name when not NULL, else by uid */
	uint32_t uid;
	struct passwd pw, *found;
};

static int passwd_call(void *query, char *buf, size_t size)
{
	struct passwd_query *q = query;

	return q->name ? getpwnam_r(q->name, &q->pw, buf, size, &q->found)
		       : getpwuid_r((uid_t)q->uid, &q->pw, buf, size, &q->found);
}

struct group_query {
	const char *name;
	struct group gr, *found;
};

static int group_call(void *query, char *buf, size_t size)
{
	struct group_query *q = query;

	return getgrnam_r(q->name, &q->gr, buf, size, &q->found);
}

struct shadow_query {
	const char *name;
	struct spwd sp, *found;
	int error;
};

static int shadow_call(void *query, char *buf, size_t size)
{
	struct shadow_query *q = query;

	q->error = getspnam_r(q->name, &q->sp, buf, size, &q->found);
	return q->error;
}

/* The hash the tag binds to is the field without a lock's '!'s
 * (shadow_state.h). Without need_shadow, an account with no shadow entry
 * is no error: its state is then unread and not checked. A lookup that
 * failed (EIO, EACCES, a directory offline) is not "no entry": it could
 * hide a lock or an expiry, so it is refused either way. */
static enum sesame_reason read_shadow(struct sesame_account *acct, int need_shadow)
{
	struct shadow_query q = {acct->name, {0}, NULL, 0};
	enum sesame_reason r = SESAME_SYSTEM_ERROR;
	size_t size = 0, lock = 0;
	char *buf = nss_lookup(shadow_call, &q, &size);

	if (buf == NULL)
		goto out;
	r = SESAME_SHADOW_UNAVAILABLE;
	if (q.error != 0 && q.error != ENOENT)
		goto out;
	if (q.found == NULL || q.found->sp_pwdp == NULL) {
		r = need_shadow ? SESAME_SHADOW_UNAVAILABLE : SESAME_OK;
		goto out;
	}
	acct->shadow = sesame_shadow_classify(q.found->sp_pwdp, -1, 0, &lock);
	acct->expire_days = q.found->sp_expire;
	acct->pwhash = strdup(q.found->sp_pwdp + lock);
	r = acct->pwhash != NULL ? SESAME_OK : SESAME_SYSTEM_ERROR;
out:
	nss_free(buf, size);
	sesame_wipe(&q, sizeof(q));
	return r;
}

/* by_name when name != NULL, else by uid. */
static enum sesame_reason lookup(const char *name, uint32_t uid, int need_shadow,
				 struct sesame_account *acct)
{
	struct passwd_query q = {name, uid, {0}, NULL};
	enum sesame_reason r = SESAME_SYSTEM_ERROR;
	size_t size = 0;
	char *buf;

	memset(acct, 0, sizeof(*acct));
	buf = nss_lookup(passwd_call, &q, &size);
	if (buf == NULL)
		goto out;
	if (q.found == NULL) {
		r = SESAME_USER_UNKNOWN;
		goto out;
	}
	r = copy_passwd(q.found, acct);
	if (r == SESAME_OK)
		r = read_shadow(acct, need_shadow);
out:
	nss_free(buf, size);
	/* Without its shadow entry the account is still known by name: keep
	 * that for logs and --inspect, with no hash. */
	if (r != SESAME_OK && r != SESAME_SHADOW_UNAVAILABLE)
		sesame_account_clear(acct);
	return r;
}

enum sesame_reason sesame_account_by_name(const char *name, int need_shadow,
					  struct sesame_account *acct)
{
	if (name == NULL || *name == '\0') {
		memset(acct, 0, sizeof(*acct));
		return SESAME_USER_UNKNOWN;
	}
	return lookup(name, 0, need_shadow, acct);
}

enum sesame_reason sesame_account_by_uid(uint32_t uid, int need_shadow,
					 struct sesame_account *acct)
{
	return lookup(NULL, uid, need_shadow, acct);
}

static int member_of(const struct group *gr, const struct sesame_account *acct)
{
	if ((uint32_t)gr->gr_gid == acct->gid)
		return 1;
	for (char **m = gr->gr_mem; m != NULL && *m != NULL; m++)
		if (strcmp(*m, acct->name) == 0)
			return 1;
	return 0;
}

int sesame_account_in_group(const struct sesame_account *acct, const char *group)
{
	struct group_query q = {group, {0}, NULL};
	size_t size = 0;
	char *buf = nss_lookup(group_call, &q, &size);
	int r = -1;

	if (buf != NULL && q.found != NULL)
		r = member_of(q.found, acct);
	nss_free(buf, size);
	return r;
}

enum sesame_reason sesame_account_usable(const struct sesame_account *acct, int64_t now)
{
	if (acct->shadow == SESAME_SHADOW_UNREAD)
		return SESAME_OK;
	if (sesame_shadow_expired(acct->expire_days, now))
		return SESAME_ACCOUNT_EXPIRED;
	return acct->shadow == SESAME_SHADOW_LOCKED ? SESAME_ACCOUNT_LOCKED : SESAME_OK;
}

void sesame_account_clear(struct sesame_account *acct)
{
	sesame_free_str(acct->pwhash);
	memset(acct, 0, sizeof(*acct));
}
