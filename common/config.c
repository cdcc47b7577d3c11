/* sesame.conf: "key = value" lines, "#" comments on their own line or
 * after blank space. The same
 * sesame_config_set() reads PAM module arguments, so the file and the
 * arguments can never disagree on what a key means. Error messages name
 * the key, never the value: a confused admin may paste a token there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mail.h"
#include "token.h"
#include "util.h"

#define CONFIG_FILE_MAX (64 * 1024)

void sesame_config_defaults(struct sesame_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->key_file, sizeof(cfg->key_file), "%s", SESAME_DEFAULT_KEY_FILE);
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", SESAME_DEFAULT_STATE_DIR);
	cfg->max_age = 15 * 60;
	cfg->max_age_limit = 7 * 86400;
	cfg->bind_password = 1;
	snprintf(cfg->param, sizeof(cfg->param), "sesame");
	snprintf(cfg->sendmail, sizeof(cfg->sendmail), "%s", SESAME_DEFAULT_SENDMAIL);
	cfg->mail_max_age = 10 * 60;
	cfg->mail_interval = 60;
	cfg->mail_per_hour = 5;
	cfg->mail_account_per_hour = 20;
}

static int printable_ascii(const char *s, int allow_space)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 + !allow_space || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int set_string(char *dst, size_t size, const char *value, const char *key,
		      struct sesame_err *err)
{
	if (strlen(value) >= size) {
		sesame_err_set(err, "%s: value longer than %zu bytes", key, size - 1);
		return -1;
	}
	snprintf(dst, size, "%s", value);
	return 0;
}

/* One spelling per path ("/a//b", "/a/./b", "/a/../b" and a trailing '/'
 * refused), so that comparing paths (key_file outside state_dir) means
 * something. */
static int plain_path(const char *p)
{
	size_t n = strlen(p);

	return strstr(p, "//") == NULL && strstr(p, "/./") == NULL &&
	       strstr(p, "/../") == NULL && (n < 2 || p[n - 1] != '/') &&
	       (n < 2 || strcmp(p + n - 2, "/.") != 0) && (n < 3 || strcmp(p + n - 3, "/..") != 0);
}

static int set_path(char *dst, size_t size, const char *value, const char *key,
		    struct sesame_err *err)
{
	if (value[0] != '/' || !printable_ascii(value, 0) || !plain_path(value)) {
		sesame_err_set(err, "%s: expected an absolute path, without '//', '.' or '..' "
			       "parts or a trailing '/'", key);
		return -1;
	}
	return set_string(dst, size, value, key, err);
}

static int set_duration(int64_t *dst, const char *value, const char *key, struct sesame_err *err)
{
	int64_t secs;

	if (sesame_parse_duration(value, &secs) != 0 || secs > SESAME_MAX_LIFETIME) {
		sesame_err_set(err, "%s: expected a duration such as 90s, 15m, 12h or 7d, "
			       "at most 22d", key);
		return -1;
	}
	*dst = secs;
	return 0;
}

static int set_bool(int *dst, const char *value, const char *key, struct sesame_err *err)
{
	if (sesame_parse_bool(value, dst) != 0) {
		sesame_err_set(err, "%s: expected yes or no", key);
		return -1;
	}
	return 0;
}

/* http(s) URL of printable ASCII, with '#' allowed only as the last
 * character (it selects the fragment form of links). */
static int set_url(char *dst, size_t size, const char *value, struct sesame_err *err)
{
	const char *hash = strchr(value, '#');

	if (*value == '\0') {
		dst[0] = '\0';
		return 0;
	}
	if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
	    !printable_ascii(value, 0) || strpbrk(value, "\"'<>\\`") != NULL ||
	    (hash != NULL && hash[1] != '\0')) {
		sesame_err_set(err, "url: expected an http:// or https:// URL, with '#' only "
			       "as its last character");
		return -1;
	}
	return set_string(dst, size, value, "url", err);
}

static int set_param(char *dst, size_t size, const char *value, struct sesame_err *err)
{
	size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789_.~-");

	if (n == 0 || value[n] != '\0') {
		sesame_err_set(err, "param: expected letters, digits, '_', '.', '~' or '-'");
		return -1;
	}
	return set_string(dst, size, value, "param", err);
}

static int set_group(char *dst, size_t size, const char *value, struct sesame_err *err)
{
	if (!printable_ascii(value, 0) || strchr(value, ':') != NULL) {
		sesame_err_set(err, "group: expected a group name");
		return -1;
	}
	return set_string(dst, size, value, "group", err);
}

static int set_sendmail(char *dst, size_t size, const char *value, struct sesame_err *err)
{
	if (value[0] != '/' || !printable_ascii(value, 1)) {
		sesame_err_set(err, "sendmail: expected a command starting with an absolute path");
		return -1;
	}
	return set_string(dst, size, value, "sendmail", err);
}

static int set_mail_from(char *dst, size_t size, const char *value, struct sesame_err *err)
{
	if (*value != '\0' && !sesame_mail_address_ok(value)) {
		sesame_err_set(err, "mail_from: expected a plain address such as "
			       "sesame@host.example");
		return -1;
	}
	return set_string(dst, size, value, "mail_from", err);
}

/* An absolute path names a map file ("user address" lines); anything
 * else is a template whose %u becomes the user name (%% is a '%'). */
static int set_mail_to(char *dst, size_t size, const char *value, struct sesame_err *err)
{
	int has_user = 0;

	if (*value == '\0') {
		dst[0] = '\0';
		return 0;
	}
	if (value[0] == '/')
		return set_path(dst, size, value, "mail_to", err);
	for (const char *p = value; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] != 'u' && p[1] != '%')
			goto bad;
		has_user |= p[1] == 'u';
		p++;
	}
	if (has_user && printable_ascii(value, 0) && strchr(value, '@') != NULL)
		return set_string(dst, size, value, "mail_to", err);
bad:
	sesame_err_set(err, "mail_to: expected a template such as %%u@example.org, or the "
		       "absolute path of a map file");
	return -1;
}

static int set_interval(int64_t *dst, const char *value, struct sesame_err *err)
{
	int64_t secs;

	if (sesame_parse_duration(value, &secs) != 0 || secs > 3600) {
		sesame_err_set(err, "mail_interval: expected a duration up to 1h");
		return -1;
	}
	*dst = secs;
	return 0;
}

static int set_per_hour(unsigned *dst, const char *value, const char *key,
			struct sesame_err *err)
{
	unsigned long n;

	if (sesame_parse_uint(value, 1, 1000, &n) != 0) {
		sesame_err_set(err, "%s: expected a number from 1 to 1000", key);
		return -1;
	}
	*dst = (unsigned)n;
	return 0;
}

static const char *const config_keys[] = {
	"key_file", "state_dir", "max_age", "max_age_limit", "bind_password", "url",
	"param", "allow_root", "group", "sendmail", "mail_from", "key_shared", "mail", "mail_to",
	"mail_max_age", "mail_interval", "mail_per_hour", "mail_account_per_hour", NULL,
};

const char *const *sesame_config_keys(void)
{
	return config_keys;
}

int sesame_config_is_key(const char *key)
{
	for (size_t i = 0; config_keys[i] != NULL; i++)
		if (strcmp(config_keys[i], key) == 0)
			return 1;
	return 0;
}

static int set_known(struct sesame_config *cfg, const char *key, const char *value,
		     struct sesame_err *err)
{
	if (!strcmp(key, "key_file"))
		return set_path(cfg->key_file, sizeof(cfg->key_file), value, key, err);
	if (!strcmp(key, "state_dir"))
		return set_path(cfg->state_dir, sizeof(cfg->state_dir), value, key, err);
	if (!strcmp(key, "max_age"))
		return set_duration(&cfg->max_age, value, key, err);
	if (!strcmp(key, "max_age_limit"))
		return set_duration(&cfg->max_age_limit, value, key, err);
	if (!strcmp(key, "bind_password"))
		return set_bool(&cfg->bind_password, value, key, err);
	if (!strcmp(key, "url"))
		return set_url(cfg->url, sizeof(cfg->url), value, err);
	if (!strcmp(key, "param"))
		return set_param(cfg->param, sizeof(cfg->param), value, err);
	if (!strcmp(key, "allow_root"))
		return set_bool(&cfg->allow_root, value, key, err);
	if (!strcmp(key, "group"))
		return set_group(cfg->group, sizeof(cfg->group), value, err);
	if (!strcmp(key, "sendmail"))
		return set_sendmail(cfg->sendmail, sizeof(cfg->sendmail), value, err);
	if (!strcmp(key, "mail_from"))
		return set_mail_from(cfg->mail_from, sizeof(cfg->mail_from), value, err);
	if (!strcmp(key, "key_shared"))
		return set_bool(&cfg->key_shared, value, key, err);
	if (!strcmp(key, "mail"))
		return set_bool(&cfg->mail, value, key, err);
	if (!strcmp(key, "mail_to"))
		return set_mail_to(cfg->mail_to, sizeof(cfg->mail_to), value, err);
	if (!strcmp(key, "mail_max_age"))
		return set_duration(&cfg->mail_max_age, value, key, err);
	if (!strcmp(key, "mail_interval"))
		return set_interval(&cfg->mail_interval, value, err);
	if (!strcmp(key, "mail_account_per_hour"))
		return set_per_hour(&cfg->mail_account_per_hour, value, key, err);
	return set_per_hour(&cfg->mail_per_hour, value, key, err);
}

enum sesame_config_result sesame_config_set(struct sesame_config *cfg, const char *key,
					    const char *value, struct sesame_err *err)
{
	if (!sesame_config_is_key(key)) {
		sesame_err_set(err, "unknown key '%.64s'", key);
		return SESAME_CONFIG_UNKNOWN_KEY;
	}
	if (value == NULL || set_known(cfg, key, value, err) != 0)
		return SESAME_CONFIG_BAD_VALUE;
	return SESAME_CONFIG_OK;
}

const char *sesame_split_arg(const char *arg, char *keybuf, size_t keybuf_size)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || (size_t)(eq - arg) >= keybuf_size)
		return NULL;
	memcpy(keybuf, arg, (size_t)(eq - arg));
	keybuf[eq - arg] = '\0';
	return eq + 1;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line of the file, already NUL-terminated. */
static int config_line(struct sesame_config *cfg, char *line, const char *path, unsigned lineno,
		       struct sesame_err *err)
{
	struct sesame_err why;
	char *eq, *key, *value;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	/* "key = value   # comment": a '#' after blank space starts a comment.
	 * A '#' right after other text stays (url = https://host/path/#). */
	for (char *p = line; *p; p++) {
		if (*p == '#' && p > line && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			line = trim(line);
			break;
		}
	}
	eq = strchr(line, '=');
	if (eq == NULL) {
		sesame_err_set(err, "%s:%u: expected \"key = value\"", path, lineno);
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (sesame_config_set(cfg, key, value, &why) != SESAME_CONFIG_OK) {
		sesame_err_set(err, "%s:%u: %s", path, lineno, why.msg);
		return -1;
	}
	return 0;
}

static int config_text(struct sesame_config *cfg, char *text, const char *path,
		       struct sesame_err *err)
{
	unsigned lineno = 0;
	char *line = text;

	while (line != NULL && *line != '\0') {
		char *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		if (config_line(cfg, line, path, lineno, err) != 0)
			return -1;
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int sesame_config_load(struct sesame_config *cfg, const char *path, int must_exist,
		       struct sesame_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int fd, r = -1;

	fd = sesame_open_checked(path, O_RDONLY, SESAME_FILE_REGULAR, 0, 1, "config file", err);
	if (fd < 0)
		return (errno == ENOENT && !must_exist) ? 0 : -1;
	if (sesame_read_fd(fd, CONFIG_FILE_MAX, &text, &len, "config file", path, err) != 0)
		goto out;
	if (memchr(text, '\0', len) != NULL) {
		sesame_err_set(err, "config file %s: contains a NUL byte", path);
		goto out;
	}
	r = config_text(cfg, text, path, err);
out:
	close(fd);
	if (text != NULL) {
		sesame_wipe(text, len);
		free(text);
	}
	return r;
}

int sesame_config_validate(const struct sesame_config *cfg, struct sesame_err *err)
{
	/* max_age above max_age_limit is not an error here: the module never
	 * mints, and a module argument lowering the limit must not break it.
	 * sesame-mint refuses such a lifetime when it mints. */
	size_t n = strlen(cfg->state_dir);

	/* Only with mail on: a module that does not mail must not fail over
	 * a default it never uses. */
	if (cfg->mail && cfg->mail_max_age > cfg->max_age_limit) {
		sesame_err_set(err, "mail_max_age is longer than max_age_limit: mailed "
			       "tokens would be refused");
		return -1;
	}

	if (strcmp(cfg->key_file, cfg->state_dir) == 0 ||
	    (strncmp(cfg->key_file, cfg->state_dir, n) == 0 && cfg->key_file[n] == '/')) {
		sesame_err_set(err, "key_file must not be inside state_dir");
		return -1;
	}
	return 0;
}
