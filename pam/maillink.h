/* Login by email: what pam_sesame does when the user presses Enter at the
 * prompt with the `mail` option on. Whatever happens, the person at the
 * prompt is told the same thing; the outcome is for the log only. */
#ifndef SESAME_MAILLINK_H
#define SESAME_MAILLINK_H

#include <stdint.h>

#include <security/pam_modules.h>

#include "args.h"
#include "config.h"
#include "err.h"
#include "store.h"
#include "token.h"

/* What the person at the prompt reads, whether or not a mail went out:
 * the prompt must not tell who exists or who has an address. */
#define PAM_SESAME_MAIL_NOTICE \
	"If this account has a mail address, a login link is on its way. Paste it here."

enum sesame_maillink_outcome {
	SESAME_MAILLINK_SENT,
	SESAME_MAILLINK_NO_ADDRESS,   /* unknown account, or no address for it */
	SESAME_MAILLINK_NOT_ALLOWED,  /* root without allow_root, or not in group */
	SESAME_MAILLINK_RATE_LIMITED,
	SESAME_MAILLINK_LOCKED,       /* shadow entry locked (usermod -L) */
	SESAME_MAILLINK_EXPIRED,      /* shadow entry expired (usermod -e) */
	SESAME_MAILLINK_USER_REVOKED, /* --revoke-user's cutoff is not past yet */
	SESAME_MAILLINK_FAILED,       /* store, key, shadow, mint or sendmail: see err */
};

struct sesame_maillink {
	/* in */
	const struct sesame_config *cfg;
	const char *user;
	const char *service; /* the token is scoped to this service ... */
	const char *host;    /* ... and this host */
	const char *rhost;   /* PAM_RHOST, or NULL for a local service ... */
	uint32_t ruid;       /* ... where the real uid of the caller is the source */
	int64_t now;
	int timeout_sec;     /* for sendmail */
	/* out */
	enum sesame_maillink_outcome outcome;
	char id_text[SESAME_ID_TEXT_SIZE]; /* the mailed token's id, when minted */
	struct sesame_err err;
};

/* Name of an outcome for logs: "sent", "no address", ... */
const char *sesame_maillink_outcome_name(enum sesame_maillink_outcome o);

/* Find the address, refuse locked and expired accounts, apply the rate
 * limits per (account, source) (recorded in the store before anything is
 * sent), mint a one-use token scoped to service and host with
 * lifetime mail_max_age, and send it. Sets ml->outcome. */
void sesame_maillink_send(struct sesame_maillink *ml);

/* Where a request comes from, for the rate limits: rhost (an IPv6
 * address by its /64), or ruid when rhost is NULL or empty. Returns 0, or
 * -1 on a crypto library failure. */
int sesame_maillink_source(const char *rhost, uint32_t ruid,
			   uint8_t out[SESAME_MAIL_SOURCE_LEN]);

/* The address for user from mail_to (template or map file), into out.
 * Returns 1 found, 0 none, -1 error (err says why). */
int sesame_maillink_address(const char *mail_to, const char *user, char *out, size_t n,
			    struct sesame_err *err);

/* Mail user a one-use link for this service and host (rate limits,
 * delivery with a timeout), log what happened, and show the notice. */
void pam_sesame_mail_link(pam_handle_t *pamh, const struct pam_sesame_args *args,
			  const char *user);

#endif
