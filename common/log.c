#include <stdio.h>

#include "log.h"

void sesame_logf(const struct sesame_log *log, int priority, const char *fmt, ...)
{
	va_list ap;

	if (log == NULL || log->fn == NULL)
		return;
	if (priority == LOG_DEBUG && !log->debug)
		return;
	va_start(ap, fmt);
	log->fn(log->ctx, priority, fmt, ap);
	va_end(ap);
}

void sesame_err_set(struct sesame_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}
