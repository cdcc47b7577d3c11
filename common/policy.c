#include "policy.h"

enum sesame_policy sesame_policy_check(const struct sesame_config *cfg,
				       const struct sesame_account *acct, int64_t now)
{
	enum sesame_reason usable;

	if (acct->uid == 0 && !cfg->allow_root)
		return SESAME_POLICY_ROOT;
	/* A membership that cannot be read (-1) refuses, like a "no". */
	if (cfg->group[0] != '\0' && sesame_account_in_group(acct, cfg->group) != 1)
		return SESAME_POLICY_NOT_IN_GROUP;
	usable = sesame_account_usable(acct, now);
	if (usable == SESAME_ACCOUNT_EXPIRED)
		return SESAME_POLICY_EXPIRED;
	return usable == SESAME_ACCOUNT_LOCKED ? SESAME_POLICY_LOCKED : SESAME_POLICY_OK;
}

enum sesame_reason sesame_policy_reason(enum sesame_policy p)
{
	switch (p) {
	case SESAME_POLICY_OK: return SESAME_OK;
	case SESAME_POLICY_EXPIRED: return SESAME_ACCOUNT_EXPIRED;
	case SESAME_POLICY_LOCKED: return SESAME_ACCOUNT_LOCKED;
	default: return SESAME_USER_NOT_ALLOWED;
	}
}
