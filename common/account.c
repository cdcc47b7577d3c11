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

/* The shadow entry of name into sp (strings in *buf): 0, ENOENT when
 * there is none, or another errno. */
static int find_shadow(const char *name, struct spwd *sp, char **buf, size_t *size)
{
	struct spwd *found = NULL;
	int e;

	/* malloc, not realloc: a buffer too small may already hold part of
	 * the hash, and is wiped before it goes. */
	for (*size = NSS_BUF_START;; *size *= 2) {
		sesame_wipe(*buf, *buf != NULL ? *size / 2 : 0);
		free(*buf);
		*buf = malloc(*size);
		if (*buf == NULL)
			return ENOMEM;
		e = getspnam_r(name, sp, *buf, *size, &found);
		if (e != ERANGE || *size >= NSS_BUF_MAX)
			break;
	}
	if (e == 0 && found == NULL)
		e = ENOENT;
	return e == 0 && sp->sp_pwdp == NULL ? ENOENT : e;
}

/* The hash the tag binds to is the field without a lock's '!'s
 * (shadow_state.h). Without need_shadow, a missing or unreadable entry is no
 * error: the account's state is then unread and not checked. */
static enum sesame_reason read_shadow(struct sesame_account *acct, int need_shadow)
{
	struct spwd sp;
	char *buf = NULL;
	size_t size = 0, lock = 0;
	enum sesame_reason r = need_shadow ? SESAME_SHADOW_UNAVAILABLE : SESAME_OK;
	int e = find_shadow(acct->name, &sp, &buf, &size);

	if (e == ENOMEM)
		r = SESAME_SYSTEM_ERROR;
	if (e != 0)
		goto out;
	acct->shadow = sesame_shadow_classify(sp.sp_pwdp, -1, 0, &lock);
	acct->expire_days = sp.sp_expire;
	acct->pwhash = strdup(sp.sp_pwdp + lock);
	r = acct->pwhash != NULL ? SESAME_OK : SESAME_SYSTEM_ERROR;
out:
	if (buf != NULL) {
		sesame_wipe(buf, size);
		free(buf);
	}
	sesame_wipe(&sp, sizeof(sp));
	return r;
}

/* by_name when name != NULL, else by uid. */
static enum sesame_reason lookup(const char *name, uint32_t uid, int need_shadow,
				 struct sesame_account *acct)
{
	struct passwd pw, *found = NULL;
	size_t size = NSS_BUF_START;
	char *buf = NULL;
	enum sesame_reason r = SESAME_SYSTEM_ERROR;
	int e;

	memset(acct, 0, sizeof(*acct));
	for (;;) {
		char *bigger = realloc(buf, size);
		if (bigger == NULL)
			goto out;
		buf = bigger;
		e = name ? getpwnam_r(name, &pw, buf, size, &found)
			 : getpwuid_r((uid_t)uid, &pw, buf, size, &found);
		if (e != ERANGE || size >= NSS_BUF_MAX)
			break;
		size *= 2;
	}
	if (found == NULL) {
		r = SESAME_USER_UNKNOWN;
		goto out;
	}
	r = copy_passwd(found, acct);
	if (r == SESAME_OK)
		r = read_shadow(acct, need_shadow);
out:
	free(buf);
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
	struct group gr, *found = NULL;
	size_t size = NSS_BUF_START;
	char *buf = NULL;
	int r = -1, e;

	for (;;) {
		char *bigger = realloc(buf, size);
		if (bigger == NULL)
			goto out;
		buf = bigger;
		e = getgrnam_r(group, &gr, buf, size, &found);
		if (e != ERANGE || size >= NSS_BUF_MAX)
			break;
		size *= 2;
	}
	if (found != NULL)
		r = member_of(found, acct);
out:
	free(buf);
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
