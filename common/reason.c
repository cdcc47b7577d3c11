#include "reason.h"

static const char *const reason_names[SESAME_REASON_COUNT] = {
	[SESAME_OK] = "valid",
	[SESAME_MALFORMED] = "malformed",
	[SESAME_UNKNOWN_KEY] = "unknown key",
	[SESAME_BAD_SIGNATURE] = "bad signature",
	[SESAME_EXPIRED] = "expired",
	[SESAME_NOT_YET_VALID] = "not yet valid",
	[SESAME_LIFETIME_TOO_LONG] = "lifetime above limit",
	[SESAME_USER_UNKNOWN] = "user unknown",
	[SESAME_WRONG_USER] = "wrong user",
	[SESAME_PASSWORD_CHANGED] = "password changed",
	[SESAME_WRONG_SERVICE] = "wrong service",
	[SESAME_WRONG_HOST] = "wrong host",
	[SESAME_USED_UP] = "used up",
	[SESAME_REVOKED] = "revoked",
	[SESAME_USER_NOT_ALLOWED] = "user not allowed",
	[SESAME_ACCOUNT_LOCKED] = "account locked",
	[SESAME_ACCOUNT_EXPIRED] = "account expired",
	[SESAME_STORE_UNAVAILABLE] = "store unavailable",
	[SESAME_KEY_UNAVAILABLE] = "key unavailable",
	[SESAME_SHADOW_UNAVAILABLE] = "shadow entry unavailable",
	[SESAME_SYSTEM_ERROR] = "system error",
	[SESAME_CLOCK_BEHIND] = "clock behind store",
};

const char *sesame_reason_name(enum sesame_reason r)
{
	if ((unsigned)r >= SESAME_REASON_COUNT || reason_names[r] == 0)
		return "unknown reason";
	return reason_names[r];
}

int sesame_reason_is_unavailable(enum sesame_reason r)
{
	return r == SESAME_STORE_UNAVAILABLE || r == SESAME_KEY_UNAVAILABLE ||
	       r == SESAME_SHADOW_UNAVAILABLE || r == SESAME_SYSTEM_ERROR ||
	       r == SESAME_CLOCK_BEHIND;
}
