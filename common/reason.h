/* Why a token was refused, or why an operation could not be done.
 * Every refusal has exactly one of these; its name is what logs and
 * `sesame-mint --inspect` print. */
#ifndef SESAME_REASON_H
#define SESAME_REASON_H

enum sesame_reason {
	SESAME_OK = 0,
	SESAME_MALFORMED,          /* not a sesame token or link */
	SESAME_UNKNOWN_KEY,        /* key id not in the key file */
	SESAME_BAD_SIGNATURE,      /* tag does not verify: forged or tampered */
	SESAME_EXPIRED,
	SESAME_NOT_YET_VALID,
	SESAME_LIFETIME_TOO_LONG,  /* lifetime above max_age_limit */
	SESAME_USER_UNKNOWN,       /* no account with the token's uid */
	SESAME_WRONG_USER,         /* token is for another account than PAM_USER */
	SESAME_PASSWORD_CHANGED,   /* account's shadow hash changed */
	SESAME_WRONG_SERVICE,
	SESAME_WRONG_HOST,
	SESAME_USED_UP,
	SESAME_REVOKED,
	SESAME_USER_NOT_ALLOWED,   /* root without allow_root, or not in group */
	SESAME_ACCOUNT_LOCKED,     /* '!' before the shadow hash (usermod -L) */
	SESAME_ACCOUNT_EXPIRED,    /* shadow sp_expire reached (usermod -e) */
	SESAME_STORE_UNAVAILABLE,
	SESAME_KEY_UNAVAILABLE,    /* key file missing or refused */
	SESAME_SHADOW_UNAVAILABLE, /* no shadow entry to bind to */
	SESAME_SYSTEM_ERROR,       /* out of memory, crypto library failure */
	SESAME_CLOCK_BEHIND,       /* the clock reads before the store's last gc, beyond its grace */
	SESAME_REASON_COUNT
};

/* Short lower-case name, e.g. "bad signature". Never NULL. */
const char *sesame_reason_name(enum sesame_reason r);

/* Reasons that say something is wrong with the host, not the token:
 * the module maps these to PAM_AUTHINFO_UNAVAIL. */
int sesame_reason_is_unavailable(enum sesame_reason r);

#endif
