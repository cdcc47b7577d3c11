/* Where the pasted token comes from: the conversation, or the PAM_AUTHTOK
 * an earlier module (pam_unix at "Password:") collected. What arrives may
 * well be a password, so it is never logged, never kept, and wiped. */
#ifndef PAM_SESAME_INPUT_H
#define PAM_SESAME_INPUT_H

#include <stddef.h>

#include <security/pam_modules.h>

#include "args.h"

enum pam_sesame_source {
	PAM_SESAME_SOURCE_NONE,
	PAM_SESAME_SOURCE_AUTHTOK,
	PAM_SESAME_SOURCE_PROMPT,
};

struct pam_sesame_input {
	char *text; /* malloc'd, NUL-terminated; wiped by pam_sesame_input_clear */
	size_t len;
	enum pam_sesame_source source;
	int authtok_skipped; /* try_first_pass found an authtok that is no token */
};

/* Get the input per the first_pass flags; user (or NULL when not known
 * yet) is who an empty reply mails a login link to, with `mail` on.
 * Returns PAM_SUCCESS with
 * in->text set, or a PAM error with *why a short reason safe to log:
 * PAM_AUTH_ERR (use_first_pass without a token, or a reply too long to be
 * one), PAM_CONV_ERR, PAM_BUF_ERR. */
int pam_sesame_input_get(pam_handle_t *pamh, const struct pam_sesame_args *args,
			 const char *user, struct pam_sesame_input *in, const char **why);

/* Wipe and free the input; safe to call twice. */
void pam_sesame_input_clear(struct pam_sesame_input *in);

#endif
