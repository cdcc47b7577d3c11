#include "policy.h"

enum sesame_policy sesame_policy_check(const struct sesame_config *cfg,
				       const struct sesame_account *acct)
{
	if (acct->uid == 0 && !cfg->allow_root)
		return SESAME_POLICY_ROOT;
	/* A membership that cannot be read (-1) refuses, like a "no". */
	if (cfg->group[0] != '\0' && sesame_account_in_group(acct, cfg->group) != 1)
		return SESAME_POLICY_NOT_IN_GROUP;
	return SESAME_POLICY_OK;
}
