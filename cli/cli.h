/* sesame-mint internals shared by its files. */
#ifndef SESAME_CLI_H
#define SESAME_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "token.h"

/* Exit codes: what a script can rely on. */
#define EXIT_OK 0
#define EXIT_REJECTED 1 /* token invalid, or minting refused by policy */
#define EXIT_ERROR 2    /* usage, configuration or system error */

enum qr_format { QR_NONE, QR_UTF8, QR_PNG, QR_SVG };

struct cli_options {
	const char *config;   /* -c, or NULL */
	int keygen, rotate, stage, promote, gc, json, link, list, all;
	const char *group;    /* --group, with --keygen */
	const char *inspect, *revoke, *revoke_user, *history;
	const char *migrate_store; /* the state_dir of the file store to copy */
	const char *source;        /* --source: the host whose file store that is */
	const char *note;     /* -m, kept in the ledger */
	const char *lifetime; /* -t */
	const char *uses;     /* -n */
	const char *service;  /* -s */
	const char *host;     /* -H */
	const char *url;      /* --url */
	enum qr_format qr;
	const char *output;   /* -o */
	const char *mail;     /* --mail */
	const char *user;     /* the USER operand */
};

/* "sesame-mint: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The config in force: -c FILE, else $SESAME_CONF, else the default. */
int cli_load_config(const struct cli_options *o, struct sesame_config *cfg);

/* Local host name, for host scope and mail. */
void cli_hostname(char *buf, size_t n);

/* "2026-11-21 23:59:00 CET" and "2026-11-21T22:59:00Z". */
void cli_time_local(int64_t t, char *buf, size_t n);
void cli_time_iso(int64_t t, char *buf, size_t n);

/* Read the TOKEN|LINK|- operand into buf (stdin for "-"). Returns length or -1. */
long cli_read_input(const char *arg, char *buf, size_t size);

/* What was minted, for the ledger's record (cli/ledger.c). */
struct cli_issued {
	const struct sesame_token *token;
	const char *account;
	const char *service, *host; /* scope, or NULL; host names a group with group */
	int group;                  /* -H named a host group */
	int link;                   /* handed out as a link */
};

/* Record the token in the ledger, durably, before it is handed out.
 * 0, or -1 after saying why. */
int cli_record_issue(const struct cli_options *o, const struct sesame_config *cfg,
		     const struct cli_issued *what);

/* Why a -m note is refused (NULL: fine): one line, no control
 * characters, UTF-8, at most SESAME_NOTE_MAX bytes. */
const char *cli_note_problem(const char *note);

/* A token id as --list prints it: 12 hex digits. 0 or -1. */
int cli_parse_id(const char *s, uint8_t id[SESAME_ID_BYTES]);

/* The token id an ID|TOKEN|LINK|- operand names; *by_id when given as an
 * id. 0 or -1. */
int cli_operand_id(const char *arg, const struct sesame_config *cfg, uint8_t id[SESAME_ID_BYTES],
		   int *by_id);

/* Print one JSON value on stdout (json-c; "/" not escaped, so links come
 * out as they are) and free it. 0 or -1. */
struct json_object;
int cli_print_json(struct json_object *obj);

int cli_list(const struct cli_options *o);
int cli_history(const struct cli_options *o);
int cli_revoke_id(const struct sesame_config *cfg, const uint8_t id[SESAME_ID_BYTES]);

int cli_keygen(const struct cli_options *o);
int cli_mint(const struct cli_options *o);
int cli_inspect(const struct cli_options *o);
int cli_revoke(const struct cli_options *o);
int cli_revoke_user(const struct cli_options *o);
int cli_gc(const struct cli_options *o);
int cli_migrate_store(const struct cli_options *o);

#endif
