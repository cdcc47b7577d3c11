/* sesame.conf: "key = value" lines, "#" comments on their own line or
 * after blank space. The same
 * sesame_config_set() reads PAM module arguments, so the file and the
 * arguments can never disagree on what a key means. Error messages name
 * the key, never the value: a confused admin may paste a token there. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mail.h"
#include "scope.h"
#include "store.h"
#include "token.h"
#include "util.h"

#define CONFIG_FILE_MAX (64 * 1024)

/* ---- what a value of each kind must look like ----
 * A check returns NULL when the value is fine, else what was expected
 * ("expected <that>" follows the key's name in the error). */

static int printable_ascii(const char *s, int allow_space)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 + !allow_space || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
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

static const char *check_path(const char *value)
{
	if (value[0] != '/' || !printable_ascii(value, 0) || !plain_path(value))
		return "an absolute path, without '//', '.' or '..' parts or a trailing '/'";
	return NULL;
}

/* http(s) URL of printable ASCII, with '#' allowed only as the last
 * character (it selects the fragment form of links). "" = no url. */
static const char *check_url(const char *value)
{
	const char *hash = strchr(value, '#');

	if (*value == '\0')
		return NULL;
	if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
	    !printable_ascii(value, 0) || strpbrk(value, "\"'<>\\`") != NULL ||
	    (hash != NULL && hash[1] != '\0'))
		return "an http:// or https:// URL, with '#' only as its last character";
	return NULL;
}

static const char *check_param(const char *value)
{
	size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789_.~-");

	if (n == 0 || value[n] != '\0')
		return "letters, digits, '_', '.', '~' or '-'";
	return NULL;
}

/* "" = everyone. */
static const char *check_group(const char *value)
{
	if (!printable_ascii(value, 0) || strchr(value, ':') != NULL)
		return "a group name";
	return NULL;
}

static const char *check_sendmail(const char *value)
{
	if (value[0] != '/' || !printable_ascii(value, 1))
		return "a command starting with an absolute path";
	return NULL;
}

/* "" = root@<host name>. */
static const char *check_mail_from(const char *value)
{
	if (*value != '\0' && !sesame_mail_address_ok(value))
		return "a plain address such as sesame@host.example";
	return NULL;
}

/* An absolute path names a map file ("user address" lines); anything
 * else is a template whose %u becomes the user name (%% is a '%'). */
static const char *check_mail_to(const char *value)
{
	int has_user = 0;

	if (*value == '\0')
		return NULL;
	if (value[0] == '/')
		return check_path(value);
	for (const char *p = value; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] != 'u' && p[1] != '%')
			goto bad;
		has_user |= p[1] == 'u';
		p++;
	}
	if (has_user && printable_ascii(value, 0) && strchr(value, '@') != NULL)
		return NULL;
bad:
	return "a template such as %u@example.org, or the absolute path of a map file";
}

/* Only a backend this build has: a misspelt or future name fails closed
 * rather than fall back to another store. */
static const char *check_store(const char *value)
{
	return sesame_store_backend_known(value) ? NULL : "file or etcd";
}

static const char *check_host_groups(const char *value)
{
	char names[SESAME_MAX_GROUPS][SESAME_GROUP_NAME_SIZE];
	size_t n = 0;

	if (sesame_groups_parse(value, names, &n) != 0)
		return "a comma-separated list of at most 8 group names (letters, digits, '.', "
		       "'_', '-'; up to 63 characters each)";
	return NULL;
}

/* ---- the keys ---- */

enum key_kind { KEY_STRING, KEY_DURATION, KEY_BOOL, KEY_BIND, KEY_UINT, KEY_ETCD };

struct config_key {
	const char *name;
	const char *default_value; /* read through the same checks as a config file */
	enum key_kind kind;
	size_t offset;             /* of the field in struct sesame_config */
	size_t size;               /* KEY_STRING: of the field */
	const char *(*check)(const char *value); /* KEY_STRING */
	unsigned long min;         /* KEY_UINT */
	int64_t max;               /* KEY_DURATION, KEY_UINT */
	const char *expected;      /* KEY_DURATION, KEY_BOOL, KEY_UINT: for the error */
};

/* The field's offset, refused at compile time unless it has the type the
 * kind writes. */
#define FIELD(f, type)                                                   \
	.offset = offsetof(struct sesame_config, f) +                    \
		  0 * sizeof(_Generic(((struct sesame_config *)0)->f, type : 1))
#define STRING(f, fn) \
	.kind = KEY_STRING, FIELD(f, char *), .size = sizeof(((struct sesame_config *)0)->f), \
	.check = fn
#define DURATION(f, most, what) .kind = KEY_DURATION, FIELD(f, int64_t), .max = most, .expected = what
#define BOOL(f) .kind = KEY_BOOL, FIELD(f, int), .expected = "yes or no"
#define BIND(f) .kind = KEY_BIND, FIELD(f, int), .expected = "yes, no or auto"
#define UINT(f, least, most, what) \
	.kind = KEY_UINT, FIELD(f, unsigned), .min = least, .max = most, .expected = what
/* The etcd_* keys: etcd_config.c parses them and keeps their defaults
 * (sesame_etcd_config_defaults); NULL default: nothing to set here. */
#define ETCD .kind = KEY_ETCD, .offset = offsetof(struct sesame_config, etcd)

#define LIFETIME_EXPECTED "a duration such as 90s, 15m, 12h or 7d, at most 22d"

/* Every key of sesame.conf and of the module's arguments: the parser, the
 * defaults and tests/docs/check-docs.sh (which reads the .name fields)
 * all come from here, so a new key is one row (and its field). */
static const struct config_key config_keys[] = {
	{.name = "key_file", .default_value = SESAME_DEFAULT_KEY_FILE, STRING(key_file, check_path)},
	{.name = "state_dir", .default_value = SESAME_DEFAULT_STATE_DIR,
	 STRING(state_dir, check_path)},
	{.name = "store", .default_value = "file", STRING(store, check_store)},
	{.name = "max_age", .default_value = "15m",
	 DURATION(max_age, SESAME_MAX_LIFETIME, LIFETIME_EXPECTED)},
	{.name = "max_age_limit", .default_value = "7d",
	 DURATION(max_age_limit, SESAME_MAX_LIFETIME, LIFETIME_EXPECTED)},
	{.name = "bind_password", .default_value = "yes", BIND(bind_password)},
	{.name = "key_dir", .default_value = SESAME_DEFAULT_KEY_DIR, STRING(key_dir, check_path)},
	{.name = "host_groups", .default_value = "", STRING(host_groups, check_host_groups)},
	{.name = "url", .default_value = "", STRING(url, check_url)},
	{.name = "param", .default_value = "sesame", STRING(param, check_param)},
	{.name = "allow_root", .default_value = "no", BOOL(allow_root)},
	{.name = "group", .default_value = "", STRING(group, check_group)},
	{.name = "sendmail", .default_value = SESAME_DEFAULT_SENDMAIL,
	 STRING(sendmail, check_sendmail)},
	{.name = "mail_from", .default_value = "", STRING(mail_from, check_mail_from)},
	{.name = "key_shared", .default_value = "no", BOOL(key_shared)},
	{.name = "mail", .default_value = "no", BOOL(mail)},
	{.name = "mail_to", .default_value = "", STRING(mail_to, check_mail_to)},
	{.name = "mail_max_age", .default_value = "10m",
	 DURATION(mail_max_age, SESAME_MAX_LIFETIME, LIFETIME_EXPECTED)},
	{.name = "mail_interval", .default_value = "60s",
	 DURATION(mail_interval, 3600, "a duration up to 1h")},
	{.name = "mail_per_hour", .default_value = "5",
	 UINT(mail_per_hour, 1, 1000, "a number from 1 to 1000")},
	{.name = "mail_account_per_hour", .default_value = "20",
	 UINT(mail_account_per_hour, 1, 1000, "a number from 1 to 1000")},
	{.name = "etcd_endpoints", ETCD},
	{.name = "etcd_cacert", ETCD},
	{.name = "etcd_cert", ETCD},
	{.name = "etcd_key", ETCD},
	{.name = "etcd_user", ETCD},
	{.name = "etcd_password_file", ETCD},
	{.name = "etcd_prefix", ETCD},
	{.name = "etcd_timeout", ETCD},
	{.name = "etcd_clock_skew", ETCD},
	{.name = "etcd_helper", ETCD},
	{.name = "etcd_helper_socket", ETCD},
};

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const struct config_key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

int sesame_config_is_key(const char *key)
{
	return find_key(key) != NULL;
}

static int set_string(char *dst, const struct config_key *k, const char *value,
		      struct sesame_err *err)
{
	const char *expected = k->check(value);

	if (expected != NULL) {
		sesame_err_set(err, "%s: expected %s", k->name, expected);
		return -1;
	}
	if (strlen(value) >= k->size) {
		sesame_err_set(err, "%s: value longer than %zu bytes", k->name, k->size - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* Parse value as k says; 0, or -1 with dst untouched. */
static int parse_number(const struct config_key *k, const char *value, int64_t *out)
{
	unsigned long n;
	int b;

	switch (k->kind) {
	case KEY_DURATION:
		return sesame_parse_duration(value, out) != 0 || *out > k->max ? -1 : 0;
	case KEY_BOOL:
		if (sesame_parse_bool(value, &b) != 0)
			return -1;
		*out = b;
		return 0;
	case KEY_BIND:
		if (strcmp(value, "auto") == 0) {
			*out = SESAME_BIND_AUTO;
			return 0;
		}
		if (sesame_parse_bool(value, &b) != 0)
			return -1;
		*out = b ? SESAME_BIND_YES : SESAME_BIND_NO;
		return 0;
	case KEY_UINT:
		if (sesame_parse_uint(value, k->min, (unsigned long)k->max, &n) != 0)
			return -1;
		*out = (int64_t)n;
		return 0;
	case KEY_STRING:
	case KEY_ETCD:
		break;
	}
	return -1;
}

static int set_key(struct sesame_config *cfg, const struct config_key *k, const char *value,
		   struct sesame_err *err)
{
	char *field = (char *)cfg + k->offset;
	int64_t n;

	if (k->kind == KEY_STRING)
		return set_string(field, k, value, err);
	if (k->kind == KEY_ETCD)
		return sesame_etcd_config_set(&cfg->etcd, k->name, value, err) == 0 ? 0 : -1;
	if (parse_number(k, value, &n) != 0) {
		sesame_err_set(err, "%s: expected %s", k->name, k->expected);
		return -1;
	}
	if (k->kind == KEY_DURATION)
		*(int64_t *)(void *)field = n;
	else if (k->kind == KEY_BOOL || k->kind == KEY_BIND)
		*(int *)(void *)field = (int)n;
	else
		*(unsigned *)(void *)field = (unsigned)n;
	return 0;
}

void sesame_config_defaults(struct sesame_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* A default the checks refuse would leave its field zero: the unit
	 * tests compare every default with its documented value. */
	for (size_t i = 0; i < N_KEYS; i++)
		if (config_keys[i].default_value != NULL)
			(void)set_key(cfg, &config_keys[i], config_keys[i].default_value, NULL);
	sesame_etcd_config_defaults(&cfg->etcd);
}

enum sesame_config_result sesame_config_set(struct sesame_config *cfg, const char *key,
					    const char *value, struct sesame_err *err)
{
	const struct config_key *k = find_key(key);

	if (k == NULL) {
		sesame_err_set(err, "unknown key '%.64s'", key);
		return SESAME_CONFIG_UNKNOWN_KEY;
	}
	if (value == NULL || set_key(cfg, k, value, err) != 0)
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
	if (strcmp(cfg->key_dir, cfg->state_dir) == 0 ||
	    (strncmp(cfg->key_dir, cfg->state_dir, n) == 0 && cfg->key_dir[n] == '/')) {
		sesame_err_set(err, "key_dir must not be inside state_dir");
		return -1;
	}
	if (strcmp(cfg->store, "etcd") == 0)
		return sesame_etcd_config_validate(&cfg->etcd, err);
	return 0;
}
