/* The shadow password field, as shadow-utils, Debian, Red Hat and nslcd
 * write it (shadow(5), passwd(1), usermod(8), useradd(8)). */
#include <string.h>

#include "shadow_state.h"

#define SECONDS_PER_DAY 86400

/* Whole-field forms first; the lock row is tried only when none of them
 * matched, so "!" and "!*" stay "no password". */
static const struct sesame_shadow_form forms[] = {
	{"", SESAME_SHADOW_NO_PASSWORD, "empty: no password", ""},
	{"!", SESAME_SHADOW_NO_PASSWORD,
	 "bare '!': Debian useradd without a password (a token-only account)", "!"},
	{"!!", SESAME_SHADOW_NO_PASSWORD, "bare '!!': Red Hat useradd without a password", "!!"},
	{"*", SESAME_SHADOW_NO_PASSWORD, "'*': a system account, no password", "*"},
	{"!*", SESAME_SHADOW_NO_PASSWORD, "'!*': a system account, no password", "!*"},
	{"x", SESAME_SHADOW_NO_PASSWORD, "'x': a directory account as nslcd shows it", "x"},
	{"!", SESAME_SHADOW_LOCKED,
	 "'!' before a hash: locked by usermod -L or passwd -l (usermod -U restores it)",
	 "!$y$j9T$salt$hash"},
	{NULL, SESAME_SHADOW_PASSWORD, "a password hash", "$y$j9T$salt$hash"},
};

#define LOCK_ROW 6

const struct sesame_shadow_form *sesame_shadow_forms(void)
{
	return forms;
}

/* The whole-field row that s is, or -1. */
static int whole_field_row(const char *s)
{
	for (int i = 0; i < LOCK_ROW; i++)
		if (strcmp(s, forms[i].field) == 0)
			return i;
	return -1;
}

/* "!!*" is as password-less as "*": only '!'s before something that is
 * not itself a no-password form are a lock. */
static enum sesame_shadow_state field_state(const char *field, size_t *bind_offset)
{
	size_t bangs = strspn(field, "!");
	int row = whole_field_row(field);

	*bind_offset = 0;
	if (row < 0)
		row = whole_field_row(field + bangs);
	if (row >= 0)
		return forms[row].state;
	*bind_offset = bangs;
	return bangs > 0 ? SESAME_SHADOW_LOCKED : SESAME_SHADOW_PASSWORD;
}

int sesame_shadow_expired(long expire_days, int64_t now)
{
	return expire_days >= 0 && now / SECONDS_PER_DAY >= (int64_t)expire_days;
}

enum sesame_shadow_state sesame_shadow_classify(const char *field, long expire_days, int64_t now,
						size_t *bind_offset)
{
	enum sesame_shadow_state s = field_state(field != NULL ? field : "", bind_offset);

	if (sesame_shadow_expired(expire_days, now))
		return SESAME_SHADOW_EXPIRED;
	return s;
}

const char *sesame_shadow_state_name(enum sesame_shadow_state s)
{
	switch (s) {
	case SESAME_SHADOW_PASSWORD: return "password";
	case SESAME_SHADOW_NO_PASSWORD: return "no password";
	case SESAME_SHADOW_LOCKED: return "locked";
	case SESAME_SHADOW_EXPIRED: return "expired";
	default: return "unread";
	}
}
