#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "report.h"

/* Longest user, service or host name we log; longer ones are cut. */
#define FIELD_MAX 128

static const char *const result_names[] = {
	[PAM_SESAME_RESULT_SUCCESS] = "success",
	[PAM_SESAME_RESULT_REFUSED] = "refused",
	[PAM_SESAME_RESULT_UNAVAILABLE] = "unavailable",
	[PAM_SESAME_RESULT_ERROR] = "error",
};

/* User names and rhost come from the client: keep them to one printable
 * word so that nobody can forge log lines or fields. In quoted fields
 * spaces are fine but quotes are not. */
static void sanitize(char *out, size_t size, const char *in, int quoted)
{
	size_t i = 0;

	if (in == NULL || *in == '\0')
		in = "-";
	for (; *in != '\0' && i + 1 < size; in++) {
		unsigned char c = (unsigned char)*in;
		int ok = c > 0x20 && c < 0x7f && c != '"' && c != '\\';

		out[i++] = (ok || (quoted && c == ' ')) ? (char)c : '?';
	}
	out[i] = '\0';
}

const char *pam_sesame_item(pam_handle_t *pamh, int type)
{
	const void *item = NULL;

	if (pam_get_item(pamh, type, &item) != PAM_SUCCESS)
		return NULL;
	return item;
}

static int result_priority(enum pam_sesame_result result)
{
	switch (result) {
	case PAM_SESAME_RESULT_SUCCESS:
		return LOG_INFO;
	case PAM_SESAME_RESULT_REFUSED:
		return LOG_NOTICE;
	default:
		return LOG_ERR;
	}
}

void pam_sesame_report(pam_handle_t *pamh, const char *user, const char *id_text,
		       const struct pam_sesame_outcome *o)
{
	char user_s[FIELD_MAX], service_s[FIELD_MAX], rhost_s[FIELD_MAX];
	char id_s[FIELD_MAX], reason_s[FIELD_MAX], detail_s[sizeof(((struct sesame_err *)0)->msg)];

	sanitize(user_s, sizeof(user_s), user, 0);
	sanitize(service_s, sizeof(service_s), pam_sesame_item(pamh, PAM_SERVICE), 0);
	sanitize(rhost_s, sizeof(rhost_s), pam_sesame_item(pamh, PAM_RHOST), 0);
	sanitize(id_s, sizeof(id_s), id_text, 0);
	sanitize(reason_s, sizeof(reason_s), o->reason, 1);
	if (o->detail == NULL || o->detail[0] == '\0') {
		pam_syslog(pamh, result_priority(o->result),
			   "sesame: user=%s service=%s rhost=%s id=%s result=%s reason=\"%s\"",
			   user_s, service_s, rhost_s, id_s, result_names[o->result], reason_s);
		return;
	}
	sanitize(detail_s, sizeof(detail_s), o->detail, 1);
	pam_syslog(pamh, result_priority(o->result),
		   "sesame: user=%s service=%s rhost=%s id=%s result=%s reason=\"%s\" detail=\"%s\"",
		   user_s, service_s, rhost_s, id_s, result_names[o->result], reason_s, detail_s);
}

void pam_sesame_report_mail(pam_handle_t *pamh, const char *user, const char *id_text,
			    const char *outcome, const char *detail)
{
	char user_s[FIELD_MAX], service_s[FIELD_MAX], rhost_s[FIELD_MAX], id_s[FIELD_MAX];
	char outcome_s[FIELD_MAX], detail_s[sizeof(((struct sesame_err *)0)->msg)];

	sanitize(user_s, sizeof(user_s), user, 0);
	sanitize(service_s, sizeof(service_s), pam_sesame_item(pamh, PAM_SERVICE), 0);
	sanitize(rhost_s, sizeof(rhost_s), pam_sesame_item(pamh, PAM_RHOST), 0);
	sanitize(id_s, sizeof(id_s), id_text, 0);
	sanitize(outcome_s, sizeof(outcome_s), outcome, 1);
	sanitize(detail_s, sizeof(detail_s), detail, 1);
	pam_syslog(pamh, strcmp(outcome, "failed") == 0 ? LOG_ERR : LOG_NOTICE,
		   "sesame: mail user=%s service=%s rhost=%s id=%s result=\"%s\" detail=\"%s\"",
		   user_s, service_s, rhost_s, id_s, outcome_s, detail_s);
}

void pam_sesame_debug(pam_handle_t *pamh, int debug, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pam_syslog(pamh, LOG_DEBUG, "sesame: %s", line);
}

void pam_sesame_debug_token(pam_handle_t *pamh, int debug, const struct sesame_attempt *a)
{
	char account_s[FIELD_MAX];

	if (!debug || !a->have_token)
		return;
	sanitize(account_s, sizeof(account_s), a->account, 0);
	pam_sesame_debug(pamh, debug,
			 "token id=%s key=%u uid=%u account=%s issued=%u lifetime=%u uses=%u "
			 "flags=0x%02x",
			 a->id_text, (unsigned)a->token.key_id, (unsigned)a->token.uid, account_s,
			 (unsigned)a->token.issued, (unsigned)a->token.lifetime,
			 (unsigned)a->token.uses, (unsigned)a->token.flags);
}
