/* Host keys: a file of one or more 256-bit HMAC keys with ids.
 * The last key in the file signs new tokens; every key verifies. */
#ifndef SESAME_KEYS_H
#define SESAME_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SESAME_KEY_BYTES 32
#define SESAME_MAX_KEYS 32

struct sesame_key {
	uint8_t id; /* 1..63: six bits of a token's first byte */
	uint8_t key[SESAME_KEY_BYTES];
};

struct sesame_keyring {
	size_t n;
	struct sesame_key keys[SESAME_MAX_KEYS]; /* keys[n-1] signs */
};

/* Load and check the key file: regular file, not a symlink, owned by the
 * effective uid, no group/other access, well-formed. Returns 0, or -1
 * with a one-line reason naming the file. The keyring is wiped on error. */
int sesame_keyring_load(struct sesame_keyring *kr, const char *path, struct sesame_err *err);

/* NULL when no key has that id. */
const struct sesame_key *sesame_keyring_find(const struct sesame_keyring *kr, uint8_t id);
const struct sesame_key *sesame_keyring_signer(const struct sesame_keyring *kr);

/* Create a new key file holding one fresh key (O_CREAT|O_EXCL, 0600). */
int sesame_keyring_create(const char *path, uint8_t *new_id, struct sesame_err *err);

/* Add a fresh key to an existing file, which then signs; older keys keep
 * verifying. Rewrites the file by temp file + fsync + rename. */
int sesame_keyring_rotate(const char *path, uint8_t *new_id, struct sesame_err *err);

void sesame_keyring_wipe(struct sesame_keyring *kr);

#endif
