/* Shared set-up for the security tests: a scratch key file,
 * config and store, tokens minted for the effective user, redemptions
 * through sesame_attempt_run (the module's core), snapshots of a tree,
 * and a runner that names each test by the property it proves.
 *
 * The account is the effective user, looked up by uid in the local
 * passwd file (no network NSS), with bind_password = no (no shadow entry
 * needed) and allow_root = yes (CI runs as root). */
#ifndef SESAME_SEC_H
#define SESAME_SEC_H

#include <stddef.h>
#include <stdint.h>

#include "attempt.h"
#include "config.h"
#include "keys.h"
#include "token.h"
#include "verify.h"

/* A fixed key, so failures reproduce. Its hex must never show in a
 * message or a log line. */
#define SEC_KEY_HEX "9f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define SEC_SERVICE "login"
#define SEC_HOST "testhost.example"

struct sec_env {
	char dir[900];        /* scratch root */
	char key_file[1000];
	char state_dir[1000];
	struct sesame_config cfg;
	struct sesame_keyring kr;
	struct sesame_account acct; /* the effective user, no password hash */
	int64_t now;
};

/* Make the scratch directory, key file (0600) and store (0700). Returns
 * 0, or -1 (message printed) when the effective user has no passwd entry. */
int sec_env_init(struct sec_env *e, const char *tag);
void sec_env_free(struct sec_env *e);

/* Mint for the effective user: uses (0 = any), lifetime in seconds. */
void sec_mint(const struct sec_env *e, unsigned uses, int64_t lifetime, struct sesame_token *t,
	      char text[SESAME_TOKEN_TEXT_SIZE]);

/* One attempt as the module makes it (consume = 1 records a use). err,
 * when not NULL, receives the attempt's detail message. */
enum sesame_reason sec_attempt(const struct sec_env *e, const char *input, size_t len,
			       int consume, char *err, size_t err_size);

/* Uses recorded for t, or -1 when the store cannot say. */
int sec_uses_recorded(const struct sec_env *e, const struct sesame_token *t);

/* Text snapshot of a tree (path, type and mode, owner, size, checksum,
 * link target), malloc'd. */
char *sec_snapshot(const char *dir);

/* CHECK that dir still matches the snapshot taken before; prints both. */
void sec_check_unchanged(const char *before, const char *dir, const char *what);

/* Write a whole file (created or truncated, mode set). 0 or -1. */
int sec_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* ---- the runner ---- */

/* Run fn as the test named by `property`; prints "ok", "FAIL" or "SKIP"
 * with the property. */
void sec_property(const char *property, void (*fn)(void));

/* Inside a property: stop here and report it skipped, with the reason.
 * Callers return right after. */
void sec_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A bug these tests once found, showing again: the property fails as a
 * regression, with this description of what the bug was. */
void sec_known_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the summary and return the exit code. */
int sec_finish(const char *suite);

#endif
