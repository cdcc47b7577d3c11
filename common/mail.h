/* Building the login-link mail and handing it to sendmail. */
#ifndef SESAME_MAIL_H
#define SESAME_MAIL_H

#include <stdint.h>

#include "err.h"
#include "token.h"

/* A single addr-spec with no header injection: no CR/LF, no control
 * characters, no spaces, commas, angle brackets or quotes, one '@' with
 * non-empty local part and domain. Returns 1 when acceptable. */
int sesame_mail_address_ok(const char *addr);

struct sesame_mail {
	const char *from;    /* addr-spec */
	const char *to;      /* addr-spec */
	const char *user;    /* account name */
	const char *host;    /* host name the link logs into */
	const char *link;    /* link, or the token when there is no url */
	int64_t now;         /* Date: header */
	int64_t expires;     /* Unix seconds */
	unsigned uses;
};

/* From is mail_from, or root@local_host when mail_from is empty. */
#define SESAME_MAIL_FROM_SIZE 264
void sesame_mail_from(const char *mail_from, const char *local_host,
		      char from[SESAME_MAIL_FROM_SIZE]);

/* The mail for minted token t (its expiry and uses), to address to for
 * account user on host; link is the link, or the token's text when there
 * is no url. The strings are borrowed, not copied. */
void sesame_mail_fill(struct sesame_mail *m, const struct sesame_token *t, const char *from,
		      const char *to, const char *user, const char *host, const char *link,
		      int64_t now);

/* RFC 5322 message (From, To, Subject, Date, Message-ID, MIME-Version,
 * Content-Type text/plain; charset=UTF-8, Content-Transfer-Encoding 8bit)
 * with the link, its expiry, and a warning not to forward it. CRLF line
 * endings are left to sendmail: lines end in LF. Returns a malloc'd
 * string (the caller wipes it: it holds the token) or NULL with err. */
char *sesame_mail_compose(const struct sesame_mail *m, struct sesame_err *err);

/* Run the sendmail command (split on blanks, no shell) with the message
 * on stdin; wait at most timeout_sec, killing it after. 0 when it exited
 * 0, else -1 with err naming the command and how it failed. */
int sesame_mail_send(const char *command, const char *message, int timeout_sec,
		     struct sesame_err *err);

#endif
