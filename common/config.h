/* sesame.conf and PAM module arguments: one parser for both. */
#ifndef SESAME_CONFIG_H
#define SESAME_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "etcd_config.h"

#define SESAME_DEFAULT_CONF "/etc/security/sesame.conf"
#define SESAME_DEFAULT_KEY_FILE "/etc/security/sesame.key"
#define SESAME_DEFAULT_KEY_DIR "/etc/security/sesame.keys.d"
#define SESAME_DEFAULT_STATE_DIR "/var/lib/sesame"
#define SESAME_DEFAULT_SENDMAIL "/usr/sbin/sendmail -t -oi"

#define SESAME_PATH_MAX 1024
#define SESAME_URL_MAX 1024
#define SESAME_COMMAND_MAX 1024
#define SESAME_PARAM_MAX 64
#define SESAME_NAME_MAX 256

struct sesame_config {
	char key_file[SESAME_PATH_MAX];
	char state_dir[SESAME_PATH_MAX];
	char store[16];        /* the store's backend: "file" or "etcd" */
	struct sesame_etcd_config etcd; /* the etcd_* keys, for store = etcd */
	int64_t max_age;       /* lifetime of new tokens, seconds */
	int64_t max_age_limit; /* longest lifetime accepted, seconds */
	int bind_password;            /* SESAME_BIND_* */
	char key_dir[SESAME_PATH_MAX];  /* group keys (and other hosts' keys, on issuers) */
	char host_groups[SESAME_NAME_MAX]; /* "web, eu-west": this host's groups, "" none */
	char url[SESAME_URL_MAX];     /* "" = none */
	char param[SESAME_PARAM_MAX];
	int allow_root;
	char group[SESAME_NAME_MAX];  /* "" = everyone */
	char sendmail[SESAME_COMMAND_MAX];
	char mail_from[SESAME_NAME_MAX]; /* "" = root@<host name> */
	/* The key file is copied to other hosts: a limited-use token that is
	 * not host-scoped gets its uses once per host (sesame-mint warns). */
	int key_shared;
	/* pam_sesame's login by email: an empty reply at the prompt mails a link */
	int mail;
	char mail_to[SESAME_PATH_MAX];   /* "%u@domain" template, or a map file path */
	int64_t mail_max_age;            /* lifetime of mailed tokens */
	/* Rate limits per (account, source): the source is the remote host
	 * (an IPv6 address by its /64) or, for local services, the uid asking. */
	int64_t mail_interval;           /* at most one mail per interval */
	unsigned mail_per_hour;          /* and at most this many per hour */
	unsigned mail_account_per_hour;  /* and per account, all sources, per hour */
};

/* bind_password: yes binds every host-scoped or unscoped token to the
 * account's shadow hash and refuses accounts without a shadow entry; auto
 * binds to the hash when there is a usable one and to name and uid when
 * not (directory accounts); no never binds. Group-scoped tokens always
 * bind to name and uid (verify.h). */
enum { SESAME_BIND_NO = 0, SESAME_BIND_YES = 1, SESAME_BIND_AUTO = 2 };

void sesame_config_defaults(struct sesame_config *cfg);

enum sesame_config_result {
	SESAME_CONFIG_OK = 0,
	SESAME_CONFIG_UNKNOWN_KEY = -1,
	SESAME_CONFIG_BAD_VALUE = -2,
};

/* Set one key. On failure err says what is wrong with the value (never
 * the value itself, which could be a secret typed in the wrong place). */
enum sesame_config_result sesame_config_set(struct sesame_config *cfg, const char *key,
					    const char *value, struct sesame_err *err);

/* Is key one of the config file's keys? */
int sesame_config_is_key(const char *key);

/* Read a config file over cfg. A missing file is fine when !must_exist
 * (the default path); anything else wrong is an error naming file:line.
 * The file must not be writable by group/other and must be owned by
 * root or the effective uid. Returns 0 or -1. */
int sesame_config_load(struct sesame_config *cfg, const char *path, int must_exist,
		       struct sesame_err *err);

/* Checks across keys (key_file outside state_dir; with mail on,
 * mail_max_age within max_age_limit; with store = etcd, the etcd_* keys
 * it needs). Returns 0 or -1. */
int sesame_config_validate(const struct sesame_config *cfg, struct sesame_err *err);

/* Split "key=value" in place-free fashion: copies key into keybuf,
 * returns pointer to the value inside arg, or NULL when there is no '='. */
const char *sesame_split_arg(const char *arg, char *keybuf, size_t keybuf_size);

#endif
