/* common/ never prints or logs: it returns a reason and a one-line
 * description, and the caller logs it (pam_syslog in the module, stderr
 * in the CLI). */
#ifndef SESAME_ERR_H
#define SESAME_ERR_H

#include <stdarg.h>

#if defined(__GNUC__)
#define SESAME_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SESAME_PRINTF(a, b)
#endif

/* One-line error description filled by functions that can fail for a
 * reason outside the token: "key file /etc/x: group or other can read it". */
struct sesame_err {
	char msg[320];
};

void sesame_err_set(struct sesame_err *err, const char *fmt, ...) SESAME_PRINTF(2, 3);

#endif
