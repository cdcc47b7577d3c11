/* The local account a token is for, and what the tag binds to it. */
#ifndef SESAME_ACCOUNT_H
#define SESAME_ACCOUNT_H

#include <stdint.h>

#include "reason.h"
#include "shadow_state.h"

struct sesame_account {
	char name[256];
	uint32_t uid;
	uint32_t gid;
	/* The shadow hash (sp_pwdp) without a lock's leading '!'s, malloc'd;
	 * NULL when no entry was read. */
	char *pwhash;
	enum sesame_shadow_state shadow; /* of the password field; UNREAD: not checked */
	long expire_days;                /* sp_expire: -1 never (valid unless UNREAD) */
};

/* Look the account up by name or uid (getpwnam_r/getpwuid_r) and read
 * its shadow entry (getspnam_r) for its state and hash. With
 * need_shadow, a missing entry is an error. Returns SESAME_OK,
 * SESAME_USER_UNKNOWN, SESAME_SHADOW_UNAVAILABLE (name and uid filled,
 * pwhash NULL) or SESAME_SYSTEM_ERROR (struct cleared). */
enum sesame_reason sesame_account_by_name(const char *name, int need_shadow,
					  struct sesame_account *acct);
enum sesame_reason sesame_account_by_uid(uint32_t uid, int need_shadow,
					 struct sesame_account *acct);

/* Is the account a member of group (primary or supplementary)?
 * Returns 1, 0, or -1 when the group does not exist. */
int sesame_account_in_group(const struct sesame_account *acct, const char *group);

/* SESAME_OK, or SESAME_ACCOUNT_LOCKED / SESAME_ACCOUNT_EXPIRED as its
 * shadow entry says at `now` (nothing is refused when it was not read). */
enum sesame_reason sesame_account_usable(const struct sesame_account *acct, int64_t now);

/* Wipe the shadow hash and clear the struct. */
void sesame_account_clear(struct sesame_account *acct);

#endif
