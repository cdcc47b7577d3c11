/* common/ never prints: it reports through a sink its caller provides
 * (pam_syslog in the module, stderr in the CLI). */
#ifndef SESAME_LOG_H
#define SESAME_LOG_H

#include <stdarg.h>
#include <syslog.h>

struct sesame_log {
	void (*fn)(void *ctx, int priority, const char *fmt, va_list ap);
	void *ctx;
	int debug; /* LOG_DEBUG lines are dropped unless set */
};

#if defined(__GNUC__)
#define SESAME_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SESAME_PRINTF(a, b)
#endif

/* Does nothing when log or log->fn is NULL. */
void sesame_logf(const struct sesame_log *log, int priority, const char *fmt, ...)
	SESAME_PRINTF(3, 4);

/* One-line error description filled by functions that can fail for a
 * reason outside the token: "key file /etc/x: group or other can read it". */
struct sesame_err {
	char msg[320];
};

void sesame_err_set(struct sesame_err *err, const char *fmt, ...) SESAME_PRINTF(2, 3);

#endif
