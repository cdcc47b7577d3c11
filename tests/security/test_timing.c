/* Timing: the tag check takes as long whether 0 or 11 of the 12 tag
 * bytes are right.
 *
 * The argument is the code (docs/security.md): verify.c computes the
 * whole expected tag and compares it with CRYPTO_memcmp, which reads all
 * 12 bytes whatever they hold. The first property checks that claim in
 * the source; the second measures it. The measurement compares the
 * fastest batch of each kind, the one least disturbed by whatever else the
 * machine runs (a median moved by 2x under a load of 15 on 2 cores), and
 * asserts a loose bound (within 1.5x): an HMAC costs about a microsecond
 * and a 12-byte compare a few nanoseconds, so a tight bound would measure
 * the machine's noise, not sesame. meson runs it alone (is_parallel). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sec.h"
#include "testutil.h"
#include "verify.h"

#define BATCHES 201
#define PER_BATCH 200

static const char *verify_c; /* path to common/verify.c, from argv */

static void every_comparison_in_verify_c_is_constant_time(void)
{
	char line[1024];
	unsigned n = 0, lineno = 0;
	FILE *f;

	if (verify_c == NULL || (f = fopen(verify_c, "re")) == NULL) {
		sec_skip("common/verify.c not given or not readable");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		for (char *p = strstr(line, "memcmp("); p != NULL; p = strstr(p + 1, "memcmp(")) {
			int constant_time = p - line >= 7 && strncmp(p - 7, "CRYPTO_", 7) == 0;
			CHECK(constant_time);
			if (!constant_time)
				fprintf(stderr, "%s:%u: memcmp that is not CRYPTO_memcmp\n", verify_c,
					lineno);
			n += constant_time;
		}
	}
	fclose(f);
	CHECK(n >= 2); /* the tag and the check */
	printf("  %u comparisons in verify.c, all CRYPTO_memcmp\n", n);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double batch(const struct sesame_key *key, const struct sesame_token *t,
		    const struct sesame_account *acct, int *sink)
{
	double start = now_ns();

	for (int i = 0; i < PER_BATCH; i++)
		*sink += sesame_tag_ok(key, t, acct, 0, NULL, NULL);
	return (now_ns() - start) / PER_BATCH;
}

static void tag_check_time_does_not_depend_on_matching_bytes(void)
{
	struct sec_env env;
	struct sesame_token good, first_wrong, last_wrong;
	char text[SESAME_TOKEN_TEXT_SIZE];
	const struct sesame_key *key;
	static double t0[BATCHES], t11[BATCHES];
	double m0, m11, ratio;
	int sink = 0;

	if (sec_env_init(&env, "timing") != 0)
		return;
	sec_mint(&env, 1, 900, &good, text);
	key = sesame_keyring_signer(&env.kr);
	first_wrong = good; /* no byte right before the difference */
	first_wrong.tag[0] ^= 0x01;
	last_wrong = good; /* 11 bytes right, the last one wrong */
	last_wrong.tag[SESAME_TAG_BYTES - 1] ^= 0x01;
	CHECK_EQ_INT(sesame_tag_ok(key, &good, &env.acct, 0, NULL, NULL), 1);
	CHECK_EQ_INT(sesame_tag_ok(key, &first_wrong, &env.acct, 0, NULL, NULL), 0);
	CHECK_EQ_INT(sesame_tag_ok(key, &last_wrong, &env.acct, 0, NULL, NULL), 0);
	for (int b = 0; b < BATCHES; b++) { /* interleaved: drift hits both alike */
		t0[b] = batch(key, &first_wrong, &env.acct, &sink);
		t11[b] = batch(key, &last_wrong, &env.acct, &sink);
	}
	qsort(t0, BATCHES, sizeof(double), cmp_double);
	qsort(t11, BATCHES, sizeof(double), cmp_double);
	m0 = t0[0];
	m11 = t11[0];
	ratio = m11 / m0;
	printf("  fastest batch of sesame_tag_ok over %d x %d calls: 0 bytes right %.0f ns, "
	       "11 bytes right %.0f ns per call (ratio %.3f)\n", BATCHES, PER_BATCH, m0, m11, ratio);
	CHECK(sink == 0);
	CHECK(ratio > 1 / 1.5 && ratio < 1.5);
	sec_env_free(&env);
}

int main(int argc, char **argv)
{
	verify_c = argc > 1 ? argv[1] : NULL;
	sec_property("every MAC comparison in verify.c is CRYPTO_memcmp (constant time)",
		     every_comparison_in_verify_c_is_constant_time);
	sec_property("the tag check takes as long with 0 as with 11 of 12 tag bytes right",
		     tag_check_time_does_not_depend_on_matching_bytes);
	return sec_finish("security-timing");
}
