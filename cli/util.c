#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "util.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sesame-mint: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_load_config(const struct cli_options *o, struct sesame_config *cfg)
{
	const char *path = o->config;
	struct sesame_err err = {{0}};
	int must_exist = 1;

	if (path == NULL)
		path = getenv("SESAME_CONF");
	if (path == NULL || *path == '\0') {
		path = SESAME_DEFAULT_CONF;
		must_exist = 0;
	}
	sesame_config_defaults(cfg);
	if (sesame_config_load(cfg, path, must_exist, &err) != 0 ||
	    sesame_config_validate(cfg, &err) != 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	return 0;
}

void cli_hostname(char *buf, size_t n)
{
	if (gethostname(buf, n) != 0)
		snprintf(buf, n, "localhost");
	buf[n - 1] = '\0';
}

void cli_time_local(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, n, "@%lld", (long long)t);
}

void cli_time_iso(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "@%lld", (long long)t);
}

int cli_print_json(json_object *obj)
{
	const char *s = json_object_to_json_string_ext(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = s != NULL && printf("%s\n", s) >= 0 ? 0 : -1;

	json_object_put(obj);
	return r;
}

long cli_read_input(const char *arg, char *buf, size_t size)
{
	size_t n = 0;

	if (strcmp(arg, "-") != 0) {
		n = strlen(arg);
		if (n >= size)
			return -1;
		memcpy(buf, arg, n + 1);
		return (long)n;
	}
	while (n < size - 1) {
		ssize_t got = read(STDIN_FILENO, buf + n, size - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	if (n == size - 1) {
		char extra;
		if (read(STDIN_FILENO, &extra, 1) > 0)
			return -1; /* longer than any token or link: refuse, don't cut */
	}
	return (long)n;
}
