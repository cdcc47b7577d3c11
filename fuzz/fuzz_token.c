/* Token text: sesame_token_parse() on anything, as pasted at a prompt.
 *
 * Invariants beyond "no crash, no sanitizer report, no leak":
 * - parse and sesame_input_looks_like_token agree;
 * - an accepted token has a key id in 1..63 and a non-zero lifetime;
 * - its canonical text parses back to the same token, under any param;
 * - the 35 bytes round-trip: to_bytes(from_bytes(b)) == b for every b
 *   from_bytes accepts (a lifetime has one encoding: from_bytes refuses
 *   the minute form of a lifetime that fits in seconds). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bytes_round_trip(const uint8_t *data, size_t size)
{
	struct sesame_token t, back;
	uint8_t out[SESAME_TOKEN_BYTES];

	if (size < SESAME_TOKEN_BYTES || sesame_token_from_bytes(data, &t) != 0)
		return;
	sesame_token_to_bytes(&t, out);
	if (sesame_token_from_bytes(out, &back) != 0 || memcmp(&t, &back, sizeof(t)) != 0)
		fuzz_fail("from_bytes(to_bytes(t)) != t", NULL);
	if (memcmp(out, data, SESAME_TOKEN_BYTES) != 0)
		fuzz_fail("to_bytes(from_bytes(b)) != b", NULL);
}

static void check_canonical(const struct sesame_token *t)
{
	static const char *const params[] = {"sesame", "t", "x-y.z~_", NULL};
	char text[SESAME_TOKEN_TEXT_SIZE];
	struct sesame_token back;

	if (t->key_id == 0 || t->key_id > SESAME_KEY_ID_MAX || t->lifetime == 0)
		fuzz_fail("accepted a token with key id 0 or lifetime 0", NULL);
	sesame_token_format(t, text);
	if (strlen(text) != SESAME_TOKEN_TEXT_LEN)
		fuzz_fail("canonical text is not 60 characters", text);
	for (size_t i = 0; params[i] != NULL; i++) {
		if (sesame_token_parse(text, SESAME_TOKEN_TEXT_LEN, params[i], &back) != 0 ||
		    memcmp(t, &back, sizeof(back)) != 0)
			fuzz_fail("canonical text does not read back", text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct sesame_token t, other;
	int ok = sesame_token_parse(in, size, "sesame", &t) == 0;

	if (ok != sesame_input_looks_like_token(in, size, "sesame"))
		fuzz_fail("parse and looks_like_token disagree", NULL);
	if (ok)
		check_canonical(&t);
	/* Another parameter name: a different link reading, never a crash. */
	if (sesame_token_parse(in, size, "t", &other) == 0)
		check_canonical(&other);
	check_bytes_round_trip(data, size);
	return 0;
}
