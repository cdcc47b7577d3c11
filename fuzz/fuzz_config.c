/* sesame.conf: sesame_config_load() on any file content.
 *
 * Invariants: a refusal says why in one line naming the file and never
 * echoes a value holding '$' (a password hash pasted in the wrong place);
 * an accepted file leaves a usable config (param not empty, paths
 * absolute, durations in range); loading is deterministic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(conf_path, sizeof(conf_path), "%s/sesame.conf", fuzz_scratch_dir("config"));
	return 0;
}

/* The line the error names ("path:N: ..."), or 0. */
static unsigned error_line(const char *msg)
{
	size_t plen = strlen(conf_path);

	if (strncmp(msg, conf_path, plen) != 0 || msg[plen] != ':')
		return 0;
	return (unsigned)strtoul(msg + plen + 1, NULL, 10);
}

/* [*s, *s + *n) without blanks at either end. */
static void trim_span(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

/* The line at fault, as the parser reads it: its key (named in the
 * message by design, at most 64 bytes of it) and its value (up to a '#'
 * after a blank). The message, with the file's name and the key cut out,
 * holds no text of the input: a value holding '$' (like a password hash)
 * found there is an echo. */
static void check_line(const char *line, size_t len, const char *msg)
{
	char rest[sizeof(((struct sesame_err *)0)->msg) + 1], value[8192];
	const char *eq = memchr(line, '=', len), *key = line, *v;
	size_t klen, vlen;

	if (eq == NULL)
		return;
	v = eq + 1;
	vlen = len - (size_t)(v - line);
	for (size_t i = 1; i < vlen; i++)
		if (v[i] == '#' && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			vlen = i;
	klen = (size_t)(eq - line);
	trim_span(&key, &klen);
	trim_span(&v, &vlen);
	if (vlen == 0 || vlen >= sizeof(value) || memchr(v, '$', vlen) == NULL)
		return;
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	fuzz_cut_named(msg + strlen(conf_path), key, klen < 64 ? klen : 64, rest, sizeof(rest));
	if (strstr(rest, value) != NULL)
		fuzz_fail("config error echoes a value", msg);
}

static void check_no_dollar_value(const uint8_t *data, size_t size, const char *msg)
{
	unsigned want = error_line(msg), lineno = 0;
	size_t i = 0;

	while (i < size && want > 0) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size;

		if (++lineno == want) {
			check_line((const char *)data + i, end - i, msg);
			return;
		}
		i = end + 1;
	}
}

static void check_accepted(const struct sesame_config *cfg)
{
	if (cfg->param[0] == '\0' || cfg->key_file[0] != '/' || cfg->state_dir[0] != '/')
		fuzz_fail("accepted config has an empty param or a relative path", NULL);
	if (cfg->max_age <= 0 || cfg->max_age > SESAME_MAX_LIFETIME || cfg->max_age_limit <= 0 ||
	    cfg->max_age_limit > SESAME_MAX_LIFETIME)
		fuzz_fail("accepted config has a duration out of range", NULL);
	if (cfg->url[0] != '\0' && strncmp(cfg->url, "http", 4) != 0)
		fuzz_fail("accepted config has a url that is not http(s)", cfg->url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sesame_config cfg, again;
	struct sesame_err err = {""}, err2 = {""};
	int r, r2;

	fuzz_write_file(conf_path, data, size, 0644);
	sesame_config_defaults(&cfg);
	r = sesame_config_load(&cfg, conf_path, 1, &err);
	if (r != 0) {
		if (err.msg[0] == '\0' || strstr(err.msg, conf_path) == NULL || strchr(err.msg, '\n'))
			fuzz_fail("config refusal without a one-line reason naming the file", err.msg);
		check_no_dollar_value(data, size, err.msg);
	} else {
		check_accepted(&cfg);
		(void)sesame_config_validate(&cfg, &err);
	}
	sesame_config_defaults(&again);
	r2 = sesame_config_load(&again, conf_path, 1, &err2);
	if (r != r2 || (r == 0 && memcmp(&cfg, &again, sizeof(cfg)) != 0))
		fuzz_fail("loading the same file twice gave different results", NULL);
	return 0;
}
