/* etcd_* settings. Like the rest of the config, error messages name the
 * key and never echo the value: a password pasted in the wrong place
 * must not reach a log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_config.h"

#ifndef SESAME_ETCD_HELPER_PATH
#define SESAME_ETCD_HELPER_PATH "/usr/libexec/sesame/sesame-etcd"
#endif
#ifndef SESAME_ETCD_SOCKET_PATH
#define SESAME_ETCD_SOCKET_PATH "/run/sesame/etcd.sock"
#endif

static const char *const etcd_keys[] = {
	"etcd_endpoints", "etcd_cacert", "etcd_cert", "etcd_key", "etcd_user",
	"etcd_password_file", "etcd_prefix", "etcd_timeout", "etcd_clock_skew",
	"etcd_helper", "etcd_helper_socket", NULL,
};

void sesame_etcd_config_defaults(struct sesame_etcd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->prefix, sizeof(c->prefix), "%s", SESAME_ETCD_DEFAULT_PREFIX);
	snprintf(c->helper, sizeof(c->helper), "%s", SESAME_ETCD_HELPER_PATH);
	snprintf(c->helper_socket, sizeof(c->helper_socket), "%s", SESAME_ETCD_SOCKET_PATH);
	c->timeout_ms = SESAME_ETCD_DEFAULT_TIMEOUT_MS;
	c->clock_skew = SESAME_ETCD_DEFAULT_SKEW;
}

const char *const *sesame_etcd_config_keys(void)
{
	return etcd_keys;
}

int sesame_etcd_config_is_key(const char *key)
{
	for (size_t i = 0; etcd_keys[i] != NULL; i++)
		if (strcmp(etcd_keys[i], key) == 0)
			return 1;
	return 0;
}

static int in_set(const char *s, size_t n, const char *set)
{
	return strspn(s, set) >= n;
}

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"

/* "https://host[:port][/]": no user info (it would put a password in
 * every message that names the endpoint), no path, no query. */
static int endpoint_ok(const char *url, size_t len)
{
	const char *host = url + 8, *end = url + len, *colon;
	size_t hlen;

	if (len <= 8 || strncmp(url, "https://", 8) != 0)
		return 0;
	if (end[-1] == '/')
		end--;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (close == NULL || close == host + 1 ||
		    !in_set(host + 1, (size_t)(close - host - 1), "0123456789abcdefABCDEF:."))
			return 0;
		colon = close + 1 < end ? close + 1 : NULL;
		hlen = (size_t)(close + 1 - host);
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		hlen = (size_t)((colon ? colon : end) - host);
		if (hlen == 0 || !in_set(host, hlen, HOST_CHARS))
			return 0;
	}
	if (colon == NULL)
		return host + hlen == end;
	if (*colon != ':' || colon + 1 == end || end - colon > 6 ||
	    !in_set(colon + 1, (size_t)(end - colon - 1), "0123456789"))
		return 0;
	return atoi(colon + 1) > 0 && atoi(colon + 1) < 65536;
}

static int set_endpoints(struct sesame_etcd_config *c, const char *value, struct sesame_err *err)
{
	const char *p = value;
	size_t n = 0;

	while (*p != '\0') {
		size_t len;

		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t");
		if (n == SESAME_ETCD_MAX_ENDPOINTS || len >= SESAME_ETCD_URL_MAX ||
		    !endpoint_ok(p, len))
			goto bad;
		if (p[len - 1] == '/')
			len--;
		memcpy(c->endpoints[n], p, len);
		c->endpoints[n][len] = '\0';
		n++;
		p += len + (p[len] == '/');
	}
	if (n == 0)
		goto bad;
	c->n_endpoints = n;
	return 0;
bad:
	sesame_err_set(err, "etcd_endpoints: expected 1 to %d https://host:port URLs, separated "
		       "by commas or spaces, without a path or user info",
		       SESAME_ETCD_MAX_ENDPOINTS);
	return -1;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int set_file(char *dst, size_t size, const char *value, const char *key, int optional,
		    struct sesame_err *err)
{
	if ((optional && *value == '\0') ||
	    (value[0] == '/' && printable(value) && strstr(value, "/../") == NULL &&
	     strstr(value, "//") == NULL && strlen(value) < size)) {
		snprintf(dst, size, "%s", value);
		return 0;
	}
	sesame_err_set(err, "%s: expected an absolute path%s", key, optional ? " or nothing" : "");
	return -1;
}

/* "none" turns the daemon off: every session runs its own helper. */
static int set_socket(struct sesame_etcd_config *c, const char *value, struct sesame_err *err)
{
	if (strcmp(value, "none") == 0) {
		c->helper_socket[0] = '\0';
		return 0;
	}
	if (set_file(c->helper_socket, sizeof(c->helper_socket), value, "etcd_helper_socket", 0,
		     err) != 0) {
		sesame_err_set(err, "etcd_helper_socket: expected an absolute path shorter than "
			       "%d bytes, or none", SESAME_ETCD_SOCKET_MAX);
		return -1;
	}
	return 0;
}

static int set_user(struct sesame_etcd_config *c, const char *value, struct sesame_err *err)
{
	size_t n = strlen(value);

	if (n == 0 || n >= sizeof(c->user) ||
	    !in_set(value, n, HOST_CHARS "_@")) {
		sesame_err_set(err, "etcd_user: expected an etcd user name (letters, digits, "
			       "'.', '-', '_', '@')");
		return -1;
	}
	memcpy(c->user, value, n + 1);
	return 0;
}

/* "/sesame/", "/corp/sesame/": starts and ends with '/', one segment
 * at least, no empty or dot segments; the layout appends to it. */
static int set_prefix(struct sesame_etcd_config *c, const char *value, struct sesame_err *err)
{
	size_t n = strlen(value);

	if (n < 3 || n >= sizeof(c->prefix) || value[0] != '/' || value[n - 1] != '/' ||
	    !in_set(value, n, HOST_CHARS "_/") || strstr(value, "//") != NULL ||
	    strstr(value, "/./") != NULL || strstr(value, "/../") != NULL) {
		sesame_err_set(err, "etcd_prefix: expected a key prefix such as /sesame/ "
			       "(starts and ends with '/', letters, digits, '.', '-', '_')");
		return -1;
	}
	memcpy(c->prefix, value, n + 1);
	return 0;
}

/* "2s", "1500ms", "2" (seconds): one operation's whole budget. */
static int set_timeout(struct sesame_etcd_config *c, const char *value, struct sesame_err *err)
{
	char *end = NULL;
	long long v;

	if (*value >= '0' && *value <= '9') {
		v = strtoll(value, &end, 10);
		if (strcmp(end, "ms") == 0)
			;
		else if (*end == '\0' || strcmp(end, "s") == 0)
			v = v <= SESAME_ETCD_TIMEOUT_MAX_MS / 1000 ? v * 1000 : -1;
		else
			v = -1;
		if (v >= SESAME_ETCD_TIMEOUT_MIN_MS && v <= SESAME_ETCD_TIMEOUT_MAX_MS) {
			c->timeout_ms = v;
			return 0;
		}
	}
	sesame_err_set(err, "etcd_timeout: expected a duration from 100ms to 60s, such as 2s or "
		       "1500ms");
	return -1;
}

/* "300s", "5m", "300": the most a writer's clock may be off the cluster's. */
static int set_clock_skew(struct sesame_etcd_config *c, const char *value,
			  struct sesame_err *err)
{
	int64_t v;

	if (sesame_parse_duration(value, &v) == 0 && v >= SESAME_ETCD_SKEW_MIN &&
	    v <= SESAME_ETCD_SKEW_MAX_LIMIT) {
		c->clock_skew = v;
		return 0;
	}
	sesame_err_set(err, "etcd_clock_skew: expected a duration from 1s to 1h (well below the "
		       "store's 24 h grace), such as 5m or 45s");
	return -1;
}

int sesame_etcd_config_set(struct sesame_etcd_config *c, const char *key, const char *value,
			   struct sesame_err *err)
{
	int r;

	if (!sesame_etcd_config_is_key(key)) {
		sesame_err_set(err, "unknown key '%.64s'", key);
		return -1;
	}
	if (value == NULL)
		r = -1;
	else if (!strcmp(key, "etcd_endpoints"))
		r = set_endpoints(c, value, err);
	else if (!strcmp(key, "etcd_cacert"))
		r = set_file(c->cacert, sizeof(c->cacert), value, key, 0, err);
	else if (!strcmp(key, "etcd_cert"))
		r = set_file(c->cert, sizeof(c->cert), value, key, 1, err);
	else if (!strcmp(key, "etcd_key"))
		r = set_file(c->key, sizeof(c->key), value, key, 1, err);
	else if (!strcmp(key, "etcd_user"))
		r = set_user(c, value, err);
	else if (!strcmp(key, "etcd_password_file"))
		r = set_file(c->password_file, sizeof(c->password_file), value, key, 0, err);
	else if (!strcmp(key, "etcd_prefix"))
		r = set_prefix(c, value, err);
	else if (!strcmp(key, "etcd_timeout"))
		r = set_timeout(c, value, err);
	else if (!strcmp(key, "etcd_clock_skew"))
		r = set_clock_skew(c, value, err);
	else if (!strcmp(key, "etcd_helper"))
		r = set_file(c->helper, sizeof(c->helper), value, key, 0, err);
	else
		r = set_socket(c, value, err);
	return r == 0 ? 0 : -2;
}

int sesame_etcd_config_validate(const struct sesame_etcd_config *c, struct sesame_err *err)
{
	const char *missing = NULL;

	if (c->n_endpoints == 0)
		missing = "etcd_endpoints";
	else if (c->cacert[0] == '\0')
		missing = "etcd_cacert";
	else if (c->user[0] == '\0')
		missing = "etcd_user";
	else if (c->password_file[0] == '\0')
		missing = "etcd_password_file";
	else if (c->cert[0] != '\0' && c->key[0] == '\0')
		missing = "etcd_key";
	else if (c->key[0] != '\0' && c->cert[0] == '\0')
		missing = "etcd_cert";
	if (missing != NULL) {
		sesame_err_set(err, "store = etcd needs %s", missing);
		return -1;
	}
	return 0;
}

char *sesame_etcd_config_format(const struct sesame_etcd_config *c)
{
	char endpoints[SESAME_ETCD_MAX_ENDPOINTS * SESAME_ETCD_URL_MAX] = "";
	size_t used = 0;
	char *text = NULL;

	for (size_t i = 0; i < c->n_endpoints; i++)
		used += (size_t)snprintf(endpoints + used, sizeof(endpoints) - used, "%s%s",
					 i ? "," : "", c->endpoints[i]);
	if (asprintf(&text,
		     "etcd_endpoints=%s\netcd_cacert=%s\netcd_cert=%s\netcd_key=%s\n"
		     "etcd_user=%s\netcd_password_file=%s\netcd_prefix=%s\n"
		     "etcd_timeout=%lldms\netcd_clock_skew=%lld\netcd_helper=%s\n"
		     "etcd_helper_socket=%s\n",
		     endpoints, c->cacert, c->cert, c->key, c->user, c->password_file, c->prefix,
		     (long long)c->timeout_ms, (long long)c->clock_skew, c->helper,
		     c->helper_socket[0] ? c->helper_socket : "none") < 0)
		return NULL;
	return text;
}

int sesame_etcd_config_parse(struct sesame_etcd_config *c, const char *text,
			     struct sesame_err *err)
{
	char line[SESAME_ETCD_MAX_ENDPOINTS * SESAME_ETCD_URL_MAX + 32];

	sesame_etcd_config_defaults(c);
	while (*text != '\0') {
		size_t n = strcspn(text, "\n");
		char *eq;

		if (n >= sizeof(line)) {
			sesame_err_set(err, "etcd settings: line too long");
			return -1;
		}
		memcpy(line, text, n);
		line[n] = '\0';
		text += n + (text[n] == '\n');
		eq = strchr(line, '=');
		if (eq == NULL) {
			sesame_err_set(err, "etcd settings: expected key=value");
			return -1;
		}
		*eq = '\0';
		/* "" means "not set" for the optional files, and is the
		 * default for the others, which validate then refuses. */
		if (eq[1] == '\0' && sesame_etcd_config_is_key(line))
			continue;
		if (sesame_etcd_config_set(c, line, eq + 1, err) != 0)
			return -1;
	}
	return 0;
}
