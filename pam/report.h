/* What the module tells syslog (authpriv, through pam_syslog): exactly one
 * line per attempt, plus LOG_DEBUG detail with `debug`. Only public
 * things go out: names, the token's public id and fields, reasons.
 * Never the token text, the reply or the authtok. */
#ifndef PAM_SESAME_REPORT_H
#define PAM_SESAME_REPORT_H

#include <security/pam_modules.h>

#include "attempt.h"

enum pam_sesame_result {
	PAM_SESAME_RESULT_SUCCESS,     /* LOG_INFO */
	PAM_SESAME_RESULT_REFUSED,     /* LOG_NOTICE: the token, the input or the user */
	PAM_SESAME_RESULT_UNAVAILABLE, /* LOG_ERR: key, store, shadow entry, system */
	PAM_SESAME_RESULT_ERROR,       /* LOG_ERR: configuration, conversation */
};

struct pam_sesame_outcome {
	enum pam_sesame_result result;
	const char *reason; /* short, e.g. "used up" */
	const char *detail; /* one line naming the file or argument at fault, or NULL */
};

/* A string item (PAM_USER, PAM_SERVICE, PAM_RHOST...), or NULL. */
const char *pam_sesame_item(pam_handle_t *pamh, int type);

/* The one line: user, service, rhost, token id, result and reason. user
 * and id may be NULL (not known). */
void pam_sesame_report(pam_handle_t *pamh, const char *user, const char *id_text,
		       const struct pam_sesame_outcome *o);

/* The line for a login-link mail request: user, service, rhost, the
 * mailed token's id, and what happened ("sent", "no address", ...). */
void pam_sesame_report_mail(pam_handle_t *pamh, const char *user, const char *id_text,
			    const char *outcome, const char *detail);

/* LOG_DEBUG lines, sent only when debug is set. */
void pam_sesame_debug(pam_handle_t *pamh, int debug, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The decoded token's public fields (debug only). */
void pam_sesame_debug_token(pam_handle_t *pamh, int debug, const struct sesame_attempt *a);

#endif
