/* The key file: sesame_keyring_load() on any content (mode 0600, ours).
 *
 * Invariants: an accepted file holds 1..32 keys with distinct ids in
 * 1..63; a refused one leaves the keyring wiped and an error that never
 * shows key material (no run of 16 or more hex digits). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "keys.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char key_path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(key_path, sizeof(key_path), "%s/sesame.key", fuzz_scratch_dir("keyfile"));
	return 0;
}

static void check_accepted(const struct sesame_keyring *kr)
{
	if (kr->n == 0 || kr->n > SESAME_MAX_KEYS)
		fuzz_fail("accepted key file with no key or too many", NULL);
	for (size_t i = 0; i < kr->n; i++) {
		if (kr->keys[i].id == 0 || kr->keys[i].id > SESAME_KEY_ID_MAX)
			fuzz_fail("accepted a key id outside 1..63", NULL);
		for (size_t j = 0; j < i; j++)
			if (kr->keys[i].id == kr->keys[j].id)
				fuzz_fail("accepted a key id twice", NULL);
		if (sesame_keyring_find(kr, kr->keys[i].id) != &kr->keys[i])
			fuzz_fail("keyring_find does not find an accepted key", NULL);
	}
	{
		const struct sesame_key *want = NULL;
		for (size_t i = 0; i < kr->n; i++)
			if (!kr->keys[i].verify_only)
				want = &kr->keys[i];
		if (sesame_keyring_signer(kr) != want)
			fuzz_fail("the signer is not the last key without \"verify\"", NULL);
	}
}

static void check_refused(const struct sesame_keyring *kr, const char *msg)
{
	static const struct sesame_keyring zero;
	char rest[sizeof(((struct sesame_err *)0)->msg) + 1];

	if (memcmp(kr, &zero, sizeof(zero)) != 0)
		fuzz_fail("a refused key file left key material in the keyring", NULL);
	if (msg[0] == '\0' || strchr(msg, '\n') != NULL)
		fuzz_fail("key file refusal without a one-line reason", msg);
	/* the file's name is there by design: a long hex run in it (a
	 * checkout named by a commit hash) is not key material */
	fuzz_cut_named(msg, key_path, strlen(key_path), rest, sizeof(rest));
	if (fuzz_longest_hex_run(rest) >= 16)
		fuzz_fail("key file error shows key material", msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sesame_keyring kr;
	struct sesame_err err = {""};

	fuzz_write_file(key_path, data, size, 0600);
	if (sesame_keyring_load(&kr, key_path, &err) == 0)
		check_accepted(&kr);
	else
		check_refused(&kr, err.msg);
	sesame_keyring_wipe(&kr);
	return 0;
}
