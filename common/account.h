/* The local account a token is for, and what the tag binds to it. */
#ifndef SESAME_ACCOUNT_H
#define SESAME_ACCOUNT_H

#include <stdint.h>

#include "reason.h"

struct sesame_account {
	char name[256];
	uint32_t uid;
	uint32_t gid;
	char *pwhash; /* shadow hash (sp_pwdp), malloc'd; NULL when not bound */
};

/* Look the account up by name or uid (getpwnam/getpwuid); with
 * need_shadow, also read its shadow hash with getspnam(). Returns
 * SESAME_OK, SESAME_USER_UNKNOWN, SESAME_SHADOW_UNAVAILABLE (name and
 * uid filled, pwhash NULL) or SESAME_SYSTEM_ERROR (struct cleared). */
enum sesame_reason sesame_account_by_name(const char *name, int need_shadow,
					  struct sesame_account *acct);
enum sesame_reason sesame_account_by_uid(uint32_t uid, int need_shadow,
					 struct sesame_account *acct);

/* Is the account a member of group (primary or supplementary)?
 * Returns 1, 0, or -1 when the group does not exist. */
int sesame_account_in_group(const struct sesame_account *acct, const char *group);

/* Wipe the shadow hash and clear the struct. */
void sesame_account_clear(struct sesame_account *acct);

#endif
