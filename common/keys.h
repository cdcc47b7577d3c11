/* Key files: one or more 256-bit HMAC keys with ids. The last key not
 * marked "verify" signs new tokens; every key verifies. A host's own key
 * file (key_file) and each group's file in key_dir have the same form and
 * each its own id namespace (docs/fleet.md). */
#ifndef SESAME_KEYS_H
#define SESAME_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SESAME_KEY_BYTES 32
#define SESAME_MAX_KEYS 32

struct sesame_key {
	uint8_t id; /* 1..63: six bits of a token's first byte */
	uint8_t verify_only; /* "ID HEX verify": staged for rotation, never signs */
	uint8_t key[SESAME_KEY_BYTES];
};

struct sesame_keyring {
	size_t n;
	struct sesame_key keys[SESAME_MAX_KEYS]; /* the last signing key signs */
};

/* Load and check the key file: regular file, not a symlink, owned by the
 * effective uid, no group/other access, well-formed. Returns 0, or -1
 * with a one-line reason naming the file. The keyring is wiped on error. */
int sesame_keyring_load(struct sesame_keyring *kr, const char *path, struct sesame_err *err);

/* NULL when no key has that id. */
const struct sesame_key *sesame_keyring_find(const struct sesame_keyring *kr, uint8_t id);
/* The last key not marked verify-only; NULL when every key is. */
const struct sesame_key *sesame_keyring_signer(const struct sesame_keyring *kr);

/* Create a new key file holding one fresh key (O_CREAT|O_EXCL, 0600). */
int sesame_keyring_create(const char *path, uint8_t *new_id, struct sesame_err *err);

/* Add a fresh key to an existing file, which then signs; older keys keep
 * verifying. Rewrites the file by temp file + fsync + rename. */
int sesame_keyring_rotate(const char *path, uint8_t *new_id, struct sesame_err *err);

/* Rotation across a fleet, in two steps. Stage: add a fresh key marked
 * "verify" (it verifies, never signs), to be copied to every host first.
 * Promote: the newest staged key loses its mark and moves last, so it
 * signs from now on. Both rewrite the file like rotate. */
int sesame_keyring_stage(const char *path, uint8_t *new_id, struct sesame_err *err);
int sesame_keyring_promote(const char *path, uint8_t *id, struct sesame_err *err);

void sesame_keyring_wipe(struct sesame_keyring *kr);

#endif
