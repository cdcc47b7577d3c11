/* The etcd auth token, cached in state_dir/etcd-token (root, 0600) so
 * that logins do not pay etcd's password check (bcrypt plus a raft round,
 * ~60 ms) each time. The file holds "sesame-etcd-token 1", the user, the
 * Unix time until which the token may be used, and the token. */
#ifndef SESAME_TOKEN_CACHE_H
#define SESAME_TOKEN_CACHE_H

#include <stdint.h>

#include "util.h"

#define SESAME_ETCD_TOKEN_FILE "etcd-token"

/* 1 with *token (wipe it) and *until when a usable token for user is
 * cached at now;
 * 0 when none is (missing, expired, another user's, unreadable format);
 * -1 with err when the file exists but is not private (refused). */
int sesame_token_cache_load(const char *state_dir, const char *user, int64_t now, char **token,
			    int64_t *until, struct sesame_err *err);

/* Replace the cached token (temp file, fsync, rename). 0 or -1. */
int sesame_token_cache_store(const char *state_dir, const char *user, const char *token,
			     int64_t until, struct sesame_err *err);

/* Forget it (an answer said it is no longer valid). */
void sesame_token_cache_drop(const char *state_dir);

#endif
