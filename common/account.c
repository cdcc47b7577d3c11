/* Accounts through NSS. passwd and group use the reentrant *_r calls (the
 * module lives in long-running daemons); the shadow entry uses getspnam()
 * because that is the call nss_wrapper can stand in for in tests (it does
 * not wrap getspnam_r). */
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

static enum sesame_reason read_shadow(struct sesame_account *acct)
{
	struct spwd *sp = getspnam(acct->name);

	if (sp == NULL || sp->sp_pwdp == NULL)
		return SESAME_SHADOW_UNAVAILABLE;
	/* libc's (or an NSS module's cached) copy is not ours to wipe: doing
	 * so breaks later lookups in the same process. Our copy is wiped by
	 * sesame_account_clear(). */
	acct->pwhash = strdup(sp->sp_pwdp);
	return acct->pwhash != NULL ? SESAME_OK : SESAME_SYSTEM_ERROR;
}

/* A reentrant NSS call: fills the query's answer from buf, returns 0 or
 * an errno value (ERANGE: buf too small). */
typedef int (*nss_call_fn)(void *query, char *buf, size_t size);

/* Run call with a buffer that doubles while the answer is ERANGE, up to
 * NSS_BUF_MAX. Returns the buffer the answer points into (the caller
 * frees it), or NULL when out of memory. */
static char *nss_lookup(nss_call_fn call, void *query)
{
	size_t size = NSS_BUF_START;
	char *buf = NULL;

	for (;;) {
		char *bigger = realloc(buf, size);
		if (bigger == NULL) {
			free(buf);
			return NULL;
		}
		buf = bigger;
		if (call(query, buf, size) != ERANGE || size >= NSS_BUF_MAX)
			return buf;
		size *= 2;
	}
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

/* by_name when name != NULL, else by uid. */
static enum sesame_reason lookup(const char *name, uint32_t uid, int need_shadow,
				 struct sesame_account *acct)
{
	struct passwd_query q = {name, uid, {0}, NULL};
	enum sesame_reason r = SESAME_SYSTEM_ERROR;
	char *buf;

	memset(acct, 0, sizeof(*acct));
	buf = nss_lookup(passwd_call, &q);
	if (buf == NULL)
		goto out;
	if (q.found == NULL) {
		r = SESAME_USER_UNKNOWN;
		goto out;
	}
	r = copy_passwd(q.found, acct);
	if (r == SESAME_OK && need_shadow)
		r = read_shadow(acct);
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
	struct group_query q = {group, {0}, NULL};
	char *buf = nss_lookup(group_call, &q);
	int r = -1;

	if (buf != NULL && q.found != NULL)
		r = member_of(q.found, acct);
	free(buf);
	return r;
}

void sesame_account_clear(struct sesame_account *acct)
{
	sesame_free_str(acct->pwhash);
	memset(acct, 0, sizeof(*acct));
}
