/* Reading an account's shadow entry: what counts as "no entry" and what is
 * a failed lookup. getspnam_r is replaced here (the executable's definition
 * wins over libc's for the library linked into it), so every answer an NSS
 * module can give is tried on a real passwd entry, root's. */
#include <errno.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "testutil.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

enum shadow_answer { ANSWER_ENTRY, ANSWER_EXPIRED, ANSWER_NONE, ANSWER_ENOENT, ANSWER_EIO };

static enum shadow_answer answer;
static char entry_hash[] = "$y$j9T$salt$hashhashhashhashhashhashhashhashhash";

int getspnam_r(const char *name, struct spwd *sp, char *buf, size_t size, struct spwd **result)
{
	(void)buf;
	(void)size;
	*result = NULL;
	switch (answer) {
	case ANSWER_ENTRY:
	case ANSWER_EXPIRED:
		memset(sp, 0, sizeof(*sp));
		sp->sp_namp = (char *)name;
		sp->sp_pwdp = entry_hash;
		sp->sp_expire = answer == ANSWER_EXPIRED ? 1 : -1;
		*result = sp;
		return 0;
	case ANSWER_NONE:
		return 0;
	case ANSWER_ENOENT:
		return ENOENT;
	case ANSWER_EIO:
		break;
	}
	return EIO;
}

static enum sesame_reason look_up(enum shadow_answer a, int need_shadow, enum sesame_reason *usable)
{
	struct sesame_account acct;
	enum sesame_reason r;

	answer = a;
	r = sesame_account_by_name("root", need_shadow, &acct);
	*usable = r == SESAME_OK ? sesame_account_usable(&acct, NOW) : r;
	if (r == SESAME_OK)
		sesame_account_clear(&acct);
	return r;
}

static void expect(enum shadow_answer a, int need_shadow, enum sesame_reason want_lookup,
		   enum sesame_reason want_usable)
{
	enum sesame_reason usable;

	CHECK_EQ_INT(look_up(a, need_shadow, &usable), want_lookup);
	CHECK_EQ_INT(usable, want_usable);
}

/* With bind_password = no the hash is not needed, but a lock or an expiry
 * still applies: a lookup that failed must not read as "no entry", which
 * would skip both. */
static void test_failed_lookup_is_not_no_entry(void)
{
	expect(ANSWER_ENTRY, 0, SESAME_OK, SESAME_OK);
	expect(ANSWER_EXPIRED, 0, SESAME_OK, SESAME_ACCOUNT_EXPIRED);
	expect(ANSWER_NONE, 0, SESAME_OK, SESAME_OK);
	expect(ANSWER_ENOENT, 0, SESAME_OK, SESAME_OK);
	expect(ANSWER_EIO, 0, SESAME_SHADOW_UNAVAILABLE, SESAME_SHADOW_UNAVAILABLE);
	expect(ANSWER_ENTRY, 1, SESAME_OK, SESAME_OK);
	expect(ANSWER_NONE, 1, SESAME_SHADOW_UNAVAILABLE, SESAME_SHADOW_UNAVAILABLE);
	expect(ANSWER_EIO, 1, SESAME_SHADOW_UNAVAILABLE, SESAME_SHADOW_UNAVAILABLE);
}

int main(void)
{
	test_failed_lookup_is_not_no_entry();
	return test_finish("account");
}
