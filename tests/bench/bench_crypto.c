/* Token throughput of common/ on one core, without the store or any I/O.
 *
 *   bench-crypto MODE SECONDS
 *
 * MODE is one of
 *   tag          sesame_tag_ok: the one HMAC-SHA256 that decides validity
 *   check        sesame_check: key lookup, tag, times, policy
 *   parse-check  sesame_token_parse of the 60-character text, then check
 *   mint         sesame_mint (random id, password hint, check, tag) and
 *                sesame_token_format
 * Runs the operation until SECONDS of this thread's CPU time have passed
 * and prints "MODE ops_per_cpu_second=N".
 *
 *   bench-crypto compress SECONDS
 *
 * measures one SHA-256 compression (hashing 64 KiB buffers, 1025 blocks
 * each with the padding) and prints it with the compressions one tag check
 * needs and the ceiling they make: "compress ns_per_compression=X
 * compressions_per_tag=N tag_ceiling_per_second=Y".
 *
 *   bench-crypto tokens KEY_FILE USER COUNT LIFETIME
 *
 * prints COUNT one-time tokens for USER (password-bound, unscoped) signed
 * with the key file, for the PAM benchmarks: minting a thousand through
 * the CLI would take longer than using them. The inputs are the golden-vector
 * key and account of docs/token-format.md with a password-bound token, so
 * the tag covers a 60-byte shadow hash, as on a real host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "benchutil.h"
#include "verify.h"

#define NOW 1767225600
#define BATCH 256

static const char pw_hash[] =
	"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7TNtzLxeGZ6XcSbfcmCmA7gq1VwyQ/g/";

struct fixture {
	struct sesame_config cfg;
	struct sesame_keyring kr;
	struct sesame_account acct;
	struct sesame_mint_request req;
	struct sesame_context ctx;
	struct sesame_token token;
	char text[SESAME_TOKEN_TEXT_SIZE];
};

static int fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	sesame_config_defaults(&f->cfg);
	f->cfg.bind_password = 1;
	f->kr.n = 1;
	f->kr.keys[0].id = 1;
	for (int i = 0; i < SESAME_KEY_BYTES; i++)
		f->kr.keys[0].key[i] = (uint8_t)i;
	snprintf(f->acct.name, sizeof(f->acct.name), "alice");
	f->acct.uid = f->acct.gid = 1501;
	f->acct.pwhash = strdup(pw_hash);
	f->req = (struct sesame_mint_request){NOW, 900, 1, NULL, NULL, NULL};
	f->ctx = (struct sesame_context){"login", "host.example", NOW + 10};
	if (f->acct.pwhash == NULL ||
	    sesame_mint(&f->kr.keys[0], &f->acct, 1, &f->req, &f->token) != SESAME_OK)
		return -1;
	sesame_token_format(&f->token, f->text);
	return 0;
}

/* One operation; 0 when it gave the expected answer. */
static int run_once(struct fixture *f, const char *mode)
{
	struct sesame_token t;

	if (strcmp(mode, "tag") == 0)
		return sesame_tag_ok(&f->kr.keys[0], &f->token, &f->acct, 1, f->ctx.service,
				     f->ctx.host) == 1 ? 0 : -1;
	if (strcmp(mode, "check") == 0)
		return sesame_check(&f->cfg, &f->kr, &f->token, &f->acct, &f->ctx) == SESAME_OK
			       ? 0 : -1;
	if (strcmp(mode, "parse-check") == 0) {
		if (sesame_token_parse(f->text, SESAME_TOKEN_TEXT_LEN, f->cfg.param, &t) != 0)
			return -1;
		return sesame_check(&f->cfg, &f->kr, &t, &f->acct, &f->ctx) == SESAME_OK ? 0 : -1;
	}
	if (strcmp(mode, "mint") == 0) {
		if (sesame_mint(&f->kr.keys[0], &f->acct, 1, &f->req, &t) != SESAME_OK)
			return -1;
		sesame_token_format(&t, f->text);
		return 0;
	}
	return -2;
}

/* One SHA-256 compression in nanoseconds of CPU time. */
static double ns_per_compression(double seconds)
{
	static uint8_t buf[65536];
	const double blocks = sizeof(buf) / 64 + 1; /* the padding makes one more */
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len;
	unsigned long n = 0;
	double start = bench_cpu(), spent;

	do {
		if (EVP_Digest(buf, sizeof(buf), md, &md_len, EVP_sha256(), NULL) != 1)
			return -1;
		n++;
		spent = bench_cpu() - start;
	} while (spent < seconds);
	return spent * 1e9 / ((double)n * blocks);
}

/* Compressions in one tag check of the fixture. HMAC keys afresh with a
 * 32-byte key: one block for the inner pad; the message (as compute_tag
 * in common/verify.c lays it out: label, signed bytes, name and shadow
 * hash with their lengths, two absent scopes) with at least 9 bytes of
 * padding; then the outer pad's block and one block for the inner digest. */
static unsigned tag_compressions(void)
{
	size_t msg = strlen("sesame/v1/tag") + SESAME_SIGNED_BYTES + 1 + strlen("alice") + 2 +
		     strlen(pw_hash) + 2 + 2;

	return 1 + (unsigned)((msg + 9 + 63) / 64) + 2;
}

static int print_compress(double seconds)
{
	double ns = ns_per_compression(seconds);
	unsigned n = tag_compressions();

	if (ns <= 0)
		return 1;
	printf("compress ns_per_compression=%.2f compressions_per_tag=%u "
	       "tag_ceiling_per_second=%.0f\n", ns, n, 1e9 / (ns * n));
	return 0;
}

static int print_tokens(const char *key_file, const char *user, long count, long lifetime)
{
	struct sesame_keyring kr;
	struct sesame_account acct;
	struct sesame_err err = { "" };
	struct sesame_mint_request req = { (int64_t)time(NULL), lifetime, 1, NULL, NULL, NULL};
	struct sesame_token t;
	char text[SESAME_TOKEN_TEXT_SIZE];
	int r = 1;

	memset(&acct, 0, sizeof(acct));
	if (sesame_keyring_load(&kr, key_file, &err) != 0) {
		fprintf(stderr, "bench-crypto: %s\n", err.msg);
		return 1;
	}
	if (sesame_account_by_name(user, 1, &acct) != SESAME_OK) {
		fprintf(stderr, "bench-crypto: %s: no such account or no shadow entry\n", user);
		goto out;
	}
	for (long i = 0; i < count; i++) {
		if (sesame_mint(sesame_keyring_signer(&kr), &acct, 1, &req, &t) != SESAME_OK)
			goto out;
		sesame_token_format(&t, text);
		puts(text);
	}
	r = 0;
out:
	sesame_account_clear(&acct);
	sesame_keyring_wipe(&kr);
	return r;
}

int main(int argc, char **argv)
{
	struct fixture f;
	double seconds, start, spent;
	unsigned long ops = 0;
	int r;

	if (argc == 6 && strcmp(argv[1], "tokens") == 0)
		return print_tokens(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	if (argc != 3 || (seconds = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: %s tag|check|parse-check|mint|compress SECONDS\n"
				"       %s tokens KEY_FILE USER COUNT LIFETIME\n", argv[0], argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "compress") == 0)
		return print_compress(seconds);
	if (fixture_init(&f) != 0) {
		fprintf(stderr, "bench-crypto: cannot mint the fixture token\n");
		return 1;
	}
	r = run_once(&f, argv[1]);
	if (r != 0) {
		fprintf(stderr, "bench-crypto: %s: %s\n", argv[1],
			r == -2 ? "unknown mode" : "wrong answer");
		return r == -2 ? 2 : 1;
	}
	start = bench_cpu();
	do {
		for (int i = 0; i < BATCH; i++)
			if (run_once(&f, argv[1]) != 0) {
				fprintf(stderr, "bench-crypto: %s: wrong answer\n", argv[1]);
				return 1;
			}
		ops += BATCH;
		spent = bench_cpu() - start;
	} while (spent < seconds);
	printf("%s ops_per_cpu_second=%.0f\n", argv[1], (double)ops / spent);
	sesame_account_clear(&f.acct);
	sesame_keyring_wipe(&f.kr);
	return 0;
}
