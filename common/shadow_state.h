/* What an /etc/shadow entry says about an account: a password, no
 * password (token-only, system or directory accounts), locked, or
 * expired. One table (shadow_state.c) decides it, for local and directory
 * accounts alike. */
#ifndef SESAME_SHADOW_STATE_H
#define SESAME_SHADOW_STATE_H

#include <stddef.h>
#include <stdint.h>

enum sesame_shadow_state {
	SESAME_SHADOW_UNREAD = 0,  /* no entry read (bind_password = no and none found) */
	SESAME_SHADOW_PASSWORD,    /* a password hash: usable */
	SESAME_SHADOW_NO_PASSWORD, /* "", "!", "!!", "*", "!*", "x": usable (token only) */
	SESAME_SHADOW_LOCKED,      /* '!' in front of a hash: usermod -L, passwd -l */
	SESAME_SHADOW_EXPIRED,     /* sp_expire reached: usermod -e */
};

/* One row of the table: a password field of this form means this state.
 * `field` is matched whole, except in the lock row, where it stands for
 * "one or more '!' then anything not matched by a whole-field row". */
struct sesame_shadow_form {
	const char *field;
	enum sesame_shadow_state state;
	const char *meaning;
	const char *example; /* a field of this form, for tests and docs */
};

/* The table, ending with a row whose field is NULL (a hash: PASSWORD). */
const struct sesame_shadow_form *sesame_shadow_forms(void);

/* Classify a shadow entry: its password field (sp_pwdp) and its
 * expiry (sp_expire, days since 1970, -1 for none) at `now` (Unix
 * seconds). An expiry in the past wins over everything else, as in
 * pam_unix (day `sp_expire` itself is already expired). *bind_offset
 * gets how many leading bytes of the field are a lock, not the hash:
 * the tag binds to the rest, so a lock suspends tokens and unlocking
 * (usermod -U) brings them back, while a new password ends them. */
enum sesame_shadow_state sesame_shadow_classify(const char *field, long expire_days, int64_t now,
						size_t *bind_offset);

/* Has an account expiring on day expire_days (-1: never) expired at now? */
int sesame_shadow_expired(long expire_days, int64_t now);

/* "password", "no password", "locked", "expired", "unread". */
const char *sesame_shadow_state_name(enum sesame_shadow_state s);

#endif
