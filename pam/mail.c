/* Delivery is synchronous, bounded by MAIL_TIMEOUT_SEC: the module runs in
 * multi-threaded greeters too, where forking a worker that keeps running
 * library code is unsafe. The cost is a timing difference between "sent"
 * and "nothing to send", documented in pam_sesame(8) and docs/security.md. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "mail.h"
#include "maillink.h"
#include "report.h"

#define MAIL_TIMEOUT_SEC 20

/* The rate limits count per source: the remote host, or for a local
 * service (su, login: NULL here) the real uid of whoever asks. sudo sets
 * PAM_RHOST to this host's own name: that is local too. */
static const char *remote_host(pam_handle_t *pamh, const char *host)
{
	const char *rhost = pam_sesame_item(pamh, PAM_RHOST);

	return rhost != NULL && strcmp(rhost, host) != 0 ? rhost : NULL;
}

void pam_sesame_mail_link(pam_handle_t *pamh, const struct pam_sesame_args *args,
			  const char *user)
{
	struct sesame_maillink ml = {0};
	char host[HOST_NAME_MAX + 1] = "";
	const char *service = pam_sesame_item(pamh, PAM_SERVICE);

	ml.outcome = SESAME_MAILLINK_FAILED;
	/* The mailed token is scoped to this service and host: without both,
	 * send nothing rather than an unscoped token. */
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		sesame_err_set(&ml.err, "no host name");
	else if (service == NULL || service[0] == '\0')
		sesame_err_set(&ml.err, "no PAM service name");
	else {
		ml.cfg = &args->cfg;
		ml.user = user;
		ml.service = service;
		ml.host = host;
		ml.rhost = remote_host(pamh, host);
		ml.ruid = (uint32_t)getuid();
		ml.now = (int64_t)time(NULL);
		ml.timeout_sec = MAIL_TIMEOUT_SEC;
		sesame_maillink_send(&ml);
	}
	pam_sesame_report_mail(pamh, user, ml.id_text[0] ? ml.id_text : NULL,
			       sesame_maillink_outcome_name(ml.outcome), ml.err.msg);
	(void)pam_info(pamh, "%s", PAM_SESAME_MAIL_NOTICE);
}
