#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "report.h"
#include "sesame-build.h"
#if SESAME_HAVE_JOURNAL
#include "journal.h"
#endif

/* Longest user, service or host name we log; longer ones are cut. */
#define FIELD_MAX 128
/* The longest line: six fields, a reason and a detail, with their names. */
#define LINE_MAX_BYTES (8 * FIELD_MAX + sizeof(((struct sesame_err *)0)->msg))

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

/* What both lines name: the client's and the application's items,
 * sanitized as for the log line. */
struct who {
	char user[FIELD_MAX], service[FIELD_MAX], rhost[FIELD_MAX], id[FIELD_MAX];
	char ruser[FIELD_MAX], tty[FIELD_MAX];
};

static void who_fill(struct who *w, pam_handle_t *pamh, const char *user, const char *id_text)
{
	sanitize(w->user, sizeof(w->user), user, 0);
	sanitize(w->service, sizeof(w->service), pam_sesame_item(pamh, PAM_SERVICE), 0);
	sanitize(w->rhost, sizeof(w->rhost), pam_sesame_item(pamh, PAM_RHOST), 0);
	sanitize(w->id, sizeof(w->id), id_text, 0);
	sanitize(w->ruser, sizeof(w->ruser), pam_sesame_item(pamh, PAM_RUSER), 0);
	sanitize(w->tty, sizeof(w->tty), pam_sesame_item(pamh, PAM_TTY), 0);
}

#if SESAME_HAVE_JOURNAL
/* "-" is what the line shows for a value that is not known: the
 * journal leaves the field out, so that a match never hits it. */
static const char *known(const char *sanitized)
{
	return strcmp(sanitized, "-") == 0 ? NULL : sanitized;
}

/* The same attempt as fields in the journal (journal.h says why not
 * libsystemd). Only what the line holds, sanitized the same way. */
static void journal_send(int priority, const char *line, const struct who *w,
			 const char *event, const char *result, const char *reason,
			 const char *detail)
{
	struct pam_sesame_journal j;
	char prio[4];

	snprintf(prio, sizeof(prio), "%d", priority);
	pam_sesame_journal_init(&j);
	pam_sesame_journal_add(&j, "MESSAGE", line);
	pam_sesame_journal_add(&j, "PRIORITY", prio);
	pam_sesame_journal_add(&j, "SYSLOG_FACILITY", "10"); /* authpriv, like the line */
	pam_sesame_journal_add(&j, "SYSLOG_IDENTIFIER", "pam_sesame");
	pam_sesame_journal_add(&j, "SESAME_EVENT", event);
	pam_sesame_journal_add(&j, "SESAME_TOKEN_ID", known(w->id));
	pam_sesame_journal_add(&j, "SESAME_RESULT", result);
	pam_sesame_journal_add(&j, "SESAME_REASON", reason);
	pam_sesame_journal_add(&j, "SESAME_DETAIL", known(detail));
	pam_sesame_journal_add(&j, "SESAME_USER", known(w->user));
	pam_sesame_journal_add(&j, "SESAME_SERVICE", known(w->service));
	pam_sesame_journal_add(&j, "SESAME_RHOST", known(w->rhost));
	pam_sesame_journal_add(&j, "SESAME_RUSER", known(w->ruser));
	pam_sesame_journal_add(&j, "SESAME_TTY", known(w->tty));
	(void)pam_sesame_journal_send(&j, PAM_SESAME_JOURNAL_SOCKET);
}
#endif

/* The line to syslog, and its copy to the journal when built in. */
static void emit(pam_handle_t *pamh, int priority, const char *line, const struct who *w,
		 const char *event, const char *result, const char *reason, const char *detail)
{
	pam_syslog(pamh, priority, "%s", line);
#if SESAME_HAVE_JOURNAL
	journal_send(priority, line, w, event, result, reason, detail);
#else
	(void)w;
	(void)event;
	(void)result;
	(void)reason;
	(void)detail;
#endif
}

void pam_sesame_report(pam_handle_t *pamh, const char *user, const char *id_text,
		       const struct pam_sesame_outcome *o)
{
	char reason_s[FIELD_MAX], detail_s[sizeof(((struct sesame_err *)0)->msg)];
	char line[LINE_MAX_BYTES];
	int have_detail = o->detail != NULL && o->detail[0] != '\0';
	struct who w;

	who_fill(&w, pamh, user, id_text);
	sanitize(reason_s, sizeof(reason_s), o->reason, 1);
	sanitize(detail_s, sizeof(detail_s), o->detail, 1);
	snprintf(line, sizeof(line),
		 "sesame: user=%s service=%s rhost=%s id=%s result=%s reason=\"%s\"%s%s%s", w.user,
		 w.service, w.rhost, w.id, result_names[o->result], reason_s,
		 have_detail ? " detail=\"" : "", have_detail ? detail_s : "", have_detail ? "\"" : "");
	emit(pamh, result_priority(o->result), line, &w, "login", result_names[o->result],
	     reason_s, detail_s);
}

void pam_sesame_report_mail(pam_handle_t *pamh, const char *user, const char *id_text,
			    const char *outcome, const char *detail)
{
	char outcome_s[FIELD_MAX], detail_s[sizeof(((struct sesame_err *)0)->msg)];
	char line[LINE_MAX_BYTES];
	struct who w;

	who_fill(&w, pamh, user, id_text);
	sanitize(outcome_s, sizeof(outcome_s), outcome, 1);
	sanitize(detail_s, sizeof(detail_s), detail, 1);
	snprintf(line, sizeof(line),
		 "sesame: mail user=%s service=%s rhost=%s id=%s result=\"%s\" detail=\"%s\"", w.user,
		 w.service, w.rhost, w.id, outcome_s, detail_s);
	emit(pamh, strcmp(outcome, "failed") == 0 ? LOG_ERR : LOG_NOTICE, line, &w, "mail",
	     outcome_s, NULL, detail_s);
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
