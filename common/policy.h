/* Who may log in with a token at all: root only with allow_root, and
 * only members of group when one is set. The module applies it when a
 * token comes back, sesame-mint before it mints, and the mail login
 * before it mails: one function, so the three can never disagree. */
#ifndef SESAME_POLICY_H
#define SESAME_POLICY_H

#include "account.h"
#include "config.h"

enum sesame_policy {
	SESAME_POLICY_OK,
	SESAME_POLICY_ROOT,         /* uid 0 without allow_root */
	SESAME_POLICY_NOT_IN_GROUP, /* group set, and not a member (or membership unknown) */
};

enum sesame_policy sesame_policy_check(const struct sesame_config *cfg,
				       const struct sesame_account *acct);

#endif
