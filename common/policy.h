/* Who may log in with a token at all: root only with allow_root, only
 * members of group when one is set, and only while the account's shadow
 * entry is neither expired nor locked. The module applies it when a
 * token comes back (after the tag), sesame-mint before it mints, and the
 * mail login before it mails: one function, so the three can never
 * disagree. */
#ifndef SESAME_POLICY_H
#define SESAME_POLICY_H

#include "account.h"
#include "config.h"

enum sesame_policy {
	SESAME_POLICY_OK,
	SESAME_POLICY_ROOT,         /* uid 0 without allow_root */
	SESAME_POLICY_NOT_IN_GROUP, /* group set, and not a member (or membership unknown) */
	SESAME_POLICY_EXPIRED,      /* shadow sp_expire reached at now (usermod -e) */
	SESAME_POLICY_LOCKED,       /* shadow hash locked (usermod -L): tokens suspended */
};

enum sesame_policy sesame_policy_check(const struct sesame_config *cfg,
				       const struct sesame_account *acct, int64_t now);

/* The refusal reason for a policy answer: SESAME_OK, user not allowed,
 * account expired or account locked. */
enum sesame_reason sesame_policy_reason(enum sesame_policy p);

#endif
