/* Login by email at the prompt (the `mail` option). */
#ifndef PAM_SESAME_MAIL_H
#define PAM_SESAME_MAIL_H

#include <security/pam_modules.h>

#include "args.h"

/* What the person at the prompt reads, whether or not a mail went out:
 * the prompt must not tell who exists or who has an address. */
#define PAM_SESAME_MAIL_NOTICE \
	"If this account has a mail address, a login link is on its way. Paste it here."

/* Mail user a one-use link for this service and host (rate limits,
 * delivery with a timeout), log what happened, and show the notice. */
void pam_sesame_mail_link(pam_handle_t *pamh, const struct pam_sesame_args *args,
			  const char *user);

#endif
