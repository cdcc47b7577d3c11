/* Tampering: no edit of a valid token's text or bytes gets through.
 *
 * Each candidate goes through what the module does after reading the
 * reply: sesame_token_parse, then sesame_check against an account whose
 * uid is the (possibly altered) uid of the candidate, with 32 keys (ids
 * 1..32) loaded, so that an altered uid or key id is caught by the tag
 * itself and not merely by a failed lookup. In-process: about 25,000
 * candidates in well under a second. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "config.h"
#include "sec.h"
#include "testutil.h"
#include "token.h"
#include "verify.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define ALPHABET "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

static struct sesame_keyring ring;
static struct sesame_config cfg;
static struct sesame_account alice;
static struct sesame_token good;
static char good_text[SESAME_TOKEN_TEXT_SIZE];
static const struct sesame_context ctx = {"sshd", "kiosk1", T0 + 10};

static void setup(void)
{
	static const uint8_t id[SESAME_ID_BYTES] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};
	struct sesame_mint_request req = {T0, 900, 1, "sshd", "kiosk1", NULL};

	memset(&ring, 0, sizeof(ring));
	for (unsigned k = 0; k < SESAME_MAX_KEYS; k++) {
		ring.keys[k].id = (uint8_t)(k + 1);
		for (unsigned b = 0; b < SESAME_KEY_BYTES; b++)
			ring.keys[k].key[b] = (uint8_t)(k * 37 + b);
	}
	ring.n = SESAME_MAX_KEYS;
	sesame_config_defaults(&cfg);
	memset(&alice, 0, sizeof(alice));
	snprintf(alice.name, sizeof(alice.name), "alice");
	alice.uid = 1501;
	alice.gid = 1501;
	alice.pwhash = strdup("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7TNtzLxeGZ6XcSbfcmCmA7gq1VwyQ/g/");
	/* Signed by key 1 of 32; bound to the password, scoped to a service
	 * and a host, one use: every field carries something. */
	CHECK_EQ_INT(sesame_mint_with_id(&ring.keys[0], &alice, 1, &req, id, &good), SESAME_OK);
	sesame_token_format(&good, good_text);
}

/* The verdict the module's core gives a candidate text. */
static enum sesame_reason verdict(const char *text, size_t len)
{
	struct sesame_token t;
	struct sesame_account acct = alice;

	if (sesame_token_parse(text, len, cfg.param, &t) != 0)
		return SESAME_MALFORMED;
	acct.uid = t.uid; /* as if an account had that uid: the tag must say no */
	return sesame_check(&cfg, &ring, &t, &acct, &ctx);
}

static int refused(const char *text, size_t len)
{
	return verdict(text, len) != SESAME_OK;
}

static void report(const char *what, const char *text, size_t len)
{
	fprintf(stderr, "%s accepted: \"", what);
	for (size_t i = 0; i < len; i++)
		fputc(isprint((unsigned char)text[i]) ? text[i] : '?', stderr);
	fprintf(stderr, "\"\n");
}

static void expect_refused(const char *what, const char *text, size_t len)
{
	int ok = refused(text, len);

	CHECK(ok);
	if (!ok)
		report(what, text, len);
}

static void the_token_itself_is_valid(void)
{
	CHECK_EQ_INT(verdict(good_text, SESAME_TOKEN_TEXT_LEN), SESAME_OK);
}

/* Does byte c read as the same digit as the canonical character orig
 * (case, and Crockford's O = 0, I = L = 1)? Those are the same token. */
static int reads_the_same(char orig, int c)
{
	if (toupper(c) == orig)
		return 1;
	if (orig == '0')
		return c == 'o' || c == 'O';
	if (orig == '1')
		return strchr("iIlL", c) != NULL && c != 0;
	return 0;
}

static void every_substitution_is_refused(void)
{
	char text[SESAME_TOKEN_TEXT_LEN];
	unsigned tried = 0, same = 0;

	for (size_t pos = 0; pos < SESAME_TOKEN_TEXT_LEN; pos++) {
		for (int c = 0; c < 256; c++) {
			if (c == good_text[pos])
				continue;
			memcpy(text, good_text, sizeof(text));
			text[pos] = (char)c;
			tried++;
			if (reads_the_same(good_text[pos], c)) {
				same++;
				CHECK_EQ_INT(verdict(text, sizeof(text)), SESAME_OK);
			} else {
				expect_refused("substitution", text, sizeof(text));
			}
		}
	}
	printf("  %u substitutions (all 255 other byte values at each of 60 positions); "
	       "%u read as the same digit (case, O/0, I/L/1) and are the same token\n",
	       tried, same);
}

static void every_deletion_is_refused(void)
{
	char text[SESAME_TOKEN_TEXT_LEN];

	for (size_t pos = 0; pos < SESAME_TOKEN_TEXT_LEN; pos++) {
		memcpy(text, good_text, pos);
		memcpy(text + pos, good_text + pos + 1, SESAME_TOKEN_TEXT_LEN - pos - 1);
		expect_refused("deletion", text, SESAME_TOKEN_TEXT_LEN - 1);
	}
}

static void every_truncation_is_refused(void)
{
	for (size_t n = 0; n < SESAME_TOKEN_TEXT_LEN; n++) {
		expect_refused("prefix", good_text, n);
		expect_refused("suffix", good_text + SESAME_TOKEN_TEXT_LEN - n, n);
	}
}

static void every_insertion_is_refused(void)
{
	static const char extra[] = ALPHABET "U";
	char text[SESAME_TOKEN_TEXT_LEN + 1];

	for (size_t pos = 0; pos <= SESAME_TOKEN_TEXT_LEN; pos++) {
		for (size_t k = 0; k < sizeof(extra) - 1; k++) {
			memcpy(text, good_text, pos);
			text[pos] = extra[k];
			memcpy(text + pos + 1, good_text + pos, SESAME_TOKEN_TEXT_LEN - pos);
			expect_refused("insertion", text, sizeof(text));
		}
	}
}

static void every_transposition_is_refused(void)
{
	char text[SESAME_TOKEN_TEXT_LEN];

	for (size_t pos = 0; pos + 1 < SESAME_TOKEN_TEXT_LEN; pos++) {
		if (good_text[pos] == good_text[pos + 1])
			continue;
		memcpy(text, good_text, sizeof(text));
		text[pos] = good_text[pos + 1];
		text[pos + 1] = good_text[pos];
		expect_refused("transposition", text, sizeof(text));
	}
}

/* The bytes are re-encoded as they are (not through the struct, which
 * would normalise them), so every flip reaches the parser. */
static void every_bit_flip_is_refused(void)
{
	uint8_t bytes[SESAME_TOKEN_BYTES];
	char text[SESAME_TOKEN_TEXT_SIZE];
	unsigned malformed = 0, bad_signature = 0, other = 0;

	for (size_t bit = 0; bit < 8 * SESAME_TOKEN_BYTES; bit++) {
		enum sesame_reason r;
		sesame_token_to_bytes(&good, bytes);
		bytes[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		memcpy(text, SESAME_TOKEN_PREFIX, SESAME_TOKEN_PREFIX_LEN);
		sesame_base32_encode(bytes, sizeof(bytes), text + SESAME_TOKEN_PREFIX_LEN);
		r = verdict(text, SESAME_TOKEN_TEXT_LEN);
		CHECK(r != SESAME_OK);
		if (r == SESAME_OK)
			fprintf(stderr, "bit %zu flipped: accepted\n", bit);
		if (bit / 8 >= 23) /* inside the tag: the tag decides */
			CHECK_EQ_INT(r, SESAME_BAD_SIGNATURE);
		malformed += r == SESAME_MALFORMED;
		bad_signature += r == SESAME_BAD_SIGNATURE;
		other += r != SESAME_MALFORMED && r != SESAME_BAD_SIGNATURE;
	}
	printf("  280 bit flips: %u malformed (key id or lifetime 0), %u bad signature, "
	       "%u other refusals\n", malformed, bad_signature, other);
}

static void every_substitution_inside_a_link_is_refused(void)
{
	static const char base[] = "https://login.example.org/sesame/#sesame=";
	char link[sizeof(base) + SESAME_TOKEN_TEXT_LEN];
	size_t off = sizeof(base) - 1;

	for (size_t pos = 0; pos < SESAME_TOKEN_TEXT_LEN; pos++) {
		for (size_t k = 0; k < sizeof(ALPHABET) - 1; k++) {
			if (ALPHABET[k] == good_text[pos])
				continue;
			snprintf(link, sizeof(link), "%s%s", base, good_text);
			link[off + pos] = ALPHABET[k];
			expect_refused("link substitution", link, strlen(link));
		}
	}
	snprintf(link, sizeof(link), "%s%s", base, good_text);
	CHECK_EQ_INT(verdict(link, strlen(link)), SESAME_OK);
}

static void a_token_signed_by_another_key_with_the_same_id_is_refused(void)
{
	struct sesame_key forger = ring.keys[0];
	struct sesame_token forged;
	struct sesame_mint_request req = {T0, 900, 1, "sshd", "kiosk1", NULL};
	char text[SESAME_TOKEN_TEXT_SIZE];

	forger.key[7] ^= 1;
	CHECK_EQ_INT(sesame_mint_with_id(&forger, &alice, 1, &req, good.id, &forged), SESAME_OK);
	sesame_token_format(&forged, text);
	CHECK_EQ_INT(verdict(text, SESAME_TOKEN_TEXT_LEN), SESAME_BAD_SIGNATURE);
}

/* Lifetimes below 32768 s that are whole minutes could be written two
 * ways (seconds, and minutes with bit 15 set), and the tag covers the
 * bytes as re-encoded from the decoded struct: the minute form once
 * verified too, a second text for the same token. sesame_token_from_bytes
 * now refuses it; accepted again, it is reported as a regression. */
static void a_token_has_one_encoding_of_its_lifetime(void)
{
	uint8_t bytes[SESAME_TOKEN_BYTES];
	char text[SESAME_TOKEN_TEXT_SIZE];
	unsigned minutes = good.lifetime / 60;

	sesame_token_to_bytes(&good, bytes);
	CHECK(good.lifetime % 60 == 0 && bytes[9] < 0x80);
	bytes[9] = (uint8_t)(0x80 | minutes >> 8);
	bytes[10] = (uint8_t)minutes;
	memcpy(text, SESAME_TOKEN_PREFIX, SESAME_TOKEN_PREFIX_LEN);
	sesame_base32_encode(bytes, sizeof(bytes), text + SESAME_TOKEN_PREFIX_LEN);
	if (verdict(text, SESAME_TOKEN_TEXT_LEN) == SESAME_OK) {
		sec_known_bug("lifetime 900 s re-encoded as 15 minutes (bytes 9-10 0x0384 -> 0x800f): "
			      "%s is accepted as the same token as %s; expected malformed "
			      "(token.c sesame_token_from_bytes should refuse a minute-form "
			      "lifetime that fits in seconds)", text, good_text);
		return;
	}
	CHECK(1);
}

/* sesame_link_build once appended "param=TOKEN" straight after a url
 * ending in '?' or '&' even when the parser did not take that character
 * for a separator ("?next=/app?", "/a&"), so sesame-mint --link handed
 * out dead links. Every link built from an accepted url reads back now;
 * one that does not is reported as a regression. */
static void every_link_built_from_an_accepted_url_reads_back(void)
{
	static const char *const urls[] = {
		"https://x.example/login", "https://x.example/?", "https://x.example/?a=1&",
		"https://x.example/#", "https://x.example/?a=1#",
		"https://x.example/?next=/app?", "https://x.example/a&", NULL,
	};
	char failed[1024] = "";
	size_t n = 0;

	for (size_t i = 0; urls[i] != NULL; i++) {
		struct sesame_config c;
		struct sesame_err err = {""};
		struct sesame_token back;
		char *link;
		sesame_config_defaults(&c);
		CHECK_EQ_INT(sesame_config_set(&c, "url", urls[i], &err), SESAME_CONFIG_OK);
		link = sesame_link_build(c.url, c.param, good_text);
		CHECK(link != NULL);
		if (link != NULL && (sesame_token_parse(link, strlen(link), c.param, &back) != 0 ||
				     memcmp(&back, &good, sizeof(back)) != 0))
			n += (size_t)snprintf(failed + n, sizeof(failed) - n, " url \"%s\" -> \"%s\";",
					      urls[i], link);
		free(link);
	}
	if (n > 0)
		sec_known_bug("links that do not read back (expected: the token, or the url "
			      "refused by the config check):%s", failed);
}

int main(void)
{
	setup();
	sec_property("the untouched token is valid (control)", the_token_itself_is_valid);
	sec_property("every single-character substitution of a valid token is refused",
		     every_substitution_is_refused);
	sec_property("every single-character deletion of a valid token is refused",
		     every_deletion_is_refused);
	sec_property("every truncation of a valid token (prefix or suffix) is refused",
		     every_truncation_is_refused);
	sec_property("every single-character insertion into a valid token is refused",
		     every_insertion_is_refused);
	sec_property("every transposition of two adjacent characters is refused",
		     every_transposition_is_refused);
	sec_property("every bit flip of the decoded bytes is refused",
		     every_bit_flip_is_refused);
	sec_property("every substitution of a token inside a link is refused",
		     every_substitution_inside_a_link_is_refused);
	sec_property("a token signed by another key with the same id is refused",
		     a_token_signed_by_another_key_with_the_same_id_is_refused);
	sec_property("a token has exactly one encoding of its lifetime",
		     a_token_has_one_encoding_of_its_lifetime);
	sec_property("every link built from an accepted url reads back as its token",
		     every_link_built_from_an_accepted_url_reads_back);
	sesame_account_clear(&alice);
	sesame_keyring_wipe(&ring);
	return sec_finish("security-tamper");
}
