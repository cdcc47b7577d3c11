/* The etcd store's settings: endpoints, TLS files, RBAC credentials,
 * key prefix and the time budget of one operation. Parsed here, key by
 * key, so that the config file's key table can hand these keys over. */
#ifndef SESAME_ETCD_CONFIG_H
#define SESAME_ETCD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SESAME_ETCD_MAX_ENDPOINTS 8
#define SESAME_ETCD_URL_MAX 256
#define SESAME_ETCD_FILE_MAX 1024
#define SESAME_ETCD_USER_MAX 128
#define SESAME_ETCD_PREFIX_MAX 128
#define SESAME_ETCD_DEFAULT_PREFIX "/sesame/"
#define SESAME_ETCD_DEFAULT_TIMEOUT_MS 2000
#define SESAME_ETCD_TIMEOUT_MIN_MS 100
#define SESAME_ETCD_TIMEOUT_MAX_MS 60000
/* How far a host's clock may be from the cluster's (etcd_clock_skew).
 * The most is an hour, well below the store's 24 h grace: a host far
 * behind would take expired tokens for live ones. */
#define SESAME_ETCD_DEFAULT_SKEW 300
#define SESAME_ETCD_SKEW_MIN 1
#define SESAME_ETCD_SKEW_MAX_LIMIT 3600

/* sizeof(sockaddr_un.sun_path): a longer path cannot be connected to. */
#define SESAME_ETCD_SOCKET_MAX 108

struct sesame_etcd_config {
	size_t n_endpoints;
	char endpoints[SESAME_ETCD_MAX_ENDPOINTS][SESAME_ETCD_URL_MAX]; /* "https://host:port" */
	char cacert[SESAME_ETCD_FILE_MAX];        /* CA that signed the members' certificates */
	char cert[SESAME_ETCD_FILE_MAX];          /* client certificate, "" = none */
	char key[SESAME_ETCD_FILE_MAX];           /* its private key: root, 0600 */
	char user[SESAME_ETCD_USER_MAX];          /* etcd RBAC user */
	char password_file[SESAME_ETCD_FILE_MAX]; /* root, 0600: the user's password */
	char prefix[SESAME_ETCD_PREFIX_MAX];      /* every key lives under it */
	int64_t timeout_ms;                       /* budget of one whole operation */
	int64_t clock_skew;                       /* seconds a host may be off the cluster */
	char helper[SESAME_ETCD_FILE_MAX];        /* the sesame-etcd executable */
	char helper_socket[SESAME_ETCD_SOCKET_MAX]; /* sesame-etcd --serve, "" = none */
};

void sesame_etcd_config_defaults(struct sesame_etcd_config *c);

/* NULL-terminated list of the etcd_* keys, for the config table and docs. */
const char *const *sesame_etcd_config_keys(void);
int sesame_etcd_config_is_key(const char *key);

/* Set one key. Returns 0, -1 for a key that is not an etcd key, -2 for a
 * bad value (err names the key and what it expects, never the value). */
int sesame_etcd_config_set(struct sesame_etcd_config *c, const char *key, const char *value,
			   struct sesame_err *err);

/* Checks across keys for store = etcd: at least one endpoint, a CA, a
 * user with a password file, a certificate with its key. 0 or -1. */
int sesame_etcd_config_validate(const struct sesame_etcd_config *c, struct sesame_err *err);

/* "key=value\n" lines that sesame_etcd_config_set reads back: how the
 * settings reach the helper. Returns a malloc'd string or NULL. */
char *sesame_etcd_config_format(const struct sesame_etcd_config *c);

/* Parse what sesame_etcd_config_format wrote, over defaults. 0 or -1. */
int sesame_etcd_config_parse(struct sesame_etcd_config *c, const char *text,
			     struct sesame_err *err);

#endif
