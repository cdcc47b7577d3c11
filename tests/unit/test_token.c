/* Token text form, input tolerance and links. */
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "testutil.h"
#include "token.h"

/* Golden vector 1 of docs/token-format.md. */
static const char v1[] = "SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT";

static int parses(const char *input)
{
	struct sesame_token t;
	char back[SESAME_TOKEN_TEXT_SIZE];

	if (sesame_token_parse(input, strlen(input), "sesame", &t) != 0)
		return 0;
	sesame_token_format(&t, back);
	return strcmp(back, v1) == 0;
}

static void test_base32(void)
{
	uint8_t in[5] = {0xff, 0x00, 0x10, 0x80, 0x01}, out[5];
	char text[9];

	sesame_base32_encode(in, 5, text);
	CHECK_EQ_INT(strlen(text), 8);
	CHECK(sesame_base32_decode(text, 8, out) == 0 && memcmp(in, out, 5) == 0);
	CHECK_EQ_INT(sesame_base32_value('o'), 0);
	CHECK_EQ_INT(sesame_base32_value('O'), 0);
	CHECK_EQ_INT(sesame_base32_value('i'), 1);
	CHECK_EQ_INT(sesame_base32_value('L'), 1);
	CHECK_EQ_INT(sesame_base32_value('u'), -1);
	CHECK_EQ_INT(sesame_base32_value('-'), -1);
	/* non-zero padding bits: each value has exactly one spelling */
	CHECK(sesame_base32_decode("01", 2, out) != 0);
}

static void test_fields(void)
{
	struct sesame_token t;
	uint8_t raw[SESAME_TOKEN_BYTES];

	CHECK(sesame_token_parse(v1, strlen(v1), "sesame", &t) == 0);
	CHECK_EQ_INT(t.key_id, 1);
	CHECK_EQ_INT(t.flags, 0);
	CHECK_EQ_INT(t.uid, 1501);
	CHECK_EQ_INT(t.issued, 1767225600);
	CHECK_EQ_INT(t.lifetime, 900);
	CHECK_EQ_INT(t.uses, 1);
	sesame_token_to_bytes(&t, raw);
	raw[0] &= 0xc0; /* key id 0 is never valid */
	CHECK(sesame_token_from_bytes(raw, &t) != 0);
	CHECK_EQ_INT(strlen(v1), SESAME_TOKEN_TEXT_LEN);
}

static void test_lifetime_encoding(void)
{
	CHECK_EQ_INT(sesame_lifetime_representable(1), 1);
	CHECK_EQ_INT(sesame_lifetime_representable(32767), 32767);
	CHECK_EQ_INT(sesame_lifetime_representable(32768), 32760); /* whole minutes */
	CHECK_EQ_INT(sesame_lifetime_representable(7 * 86400), 7 * 86400);
	CHECK_EQ_INT(sesame_lifetime_representable(SESAME_MAX_LIFETIME), SESAME_MAX_LIFETIME);
	CHECK_EQ_INT(sesame_lifetime_representable(SESAME_MAX_LIFETIME + 60), 0);
	CHECK_EQ_INT(sesame_lifetime_representable(0), 0);
}

static void test_tolerance(void)
{
	CHECK(parses(v1));
	CHECK(parses("  SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT \r\n"));
	CHECK(parses("ssm1040001exd5avj003gg0t38n3mjjtc000f5xk9j2qtds8t1x1ckyvnwbt"));
	CHECK(parses("SSM1-0400-01EX-D5AV-J003-GG0T-38N3-MJJT-C000-F5XK-9J2Q-TDS8-T1X1-CKYV-NWBT"));
	CHECK(parses("SSM1 0400 01EX D5AV J003 GG0T 38N3 MJJT C000 F5XK 9J2Q TDS8 T1X1 CKYV NWBT"));
	CHECK(parses("SSMI04OOOIEXD5AVJOO3GGOT38N3MJJTCOOOF5XK9J2QTDS8TIXICKYVNWBT"));
	CHECK(parses("<SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT>"));
	CHECK(parses("\"SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT\""));
	CHECK(parses("'SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT'."));
	/* wrong prefix, wrong length, outside the alphabet */
	CHECK(!parses("XSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses("SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWB"));
	CHECK(!parses("SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBTT"));
	CHECK(!parses("SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBU"));
	CHECK(!parses("SSM2040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses(""));
	CHECK(!parses("   \n"));
	CHECK(!parses("correct horse battery staple"));
}

static void test_links(void)
{
	CHECK(parses("https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(parses("https://h.example/s/?a=1&sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT&b=2"));
	CHECK(parses("https://h.example/s/#sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(parses("<https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT>"));
	CHECK(parses(" < https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT > "));
	CHECK(parses("\"https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT\"."));
	CHECK(parses("(https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT)."));
	CHECK(parses("https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJT\r\nC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(parses("https://h.example/s/?sesame=%53SM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(parses("https://h.example/s/?sesame=SSM1-0400-01EX-D5AV-J003-GG0T-38N3-MJJT-C000-F5XK-9J2Q-TDS8-T1X1-CKYV-NWBT"));
	CHECK(parses("\xe2\x80\x9chttps://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT\xe2\x80\x9d"));
	/* none, two, bad escapes, NUL, nested link */
	CHECK(!parses("https://h.example/s/?other=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses("https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT#sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses("https://h.example/s/?sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT&sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses("https://h.example/s/?sesame=%5"));
	CHECK(!parses("https://h.example/s/?sesame=SSM1%00040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses("https://h.example/?sesame=https%3A%2F%2Fh.example%2F%3Fsesame%3DSSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
	CHECK(!parses("https://h.example/s/?sesame="));
	CHECK(!parses("sesame=SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT"));
}

static void test_nul_and_length(void)
{
	char big[3000];
	struct sesame_token t;
	char with_nul[61];

	memset(big, 'A', sizeof(big));
	CHECK(sesame_token_parse(big, sizeof(big), "sesame", &t) != 0);
	memcpy(with_nul, v1, 60);
	with_nul[10] = '\0';
	CHECK(sesame_token_parse(with_nul, 60, "sesame", &t) != 0);
	CHECK(sesame_input_looks_like_token(v1, strlen(v1), "sesame"));
	CHECK(!sesame_input_looks_like_token("hunter2", 7, "sesame"));
}

/* The link built from url, with golden vector 1, or "" when refused. */
static int link_is(const char *url, const char *param, const char *want_prefix)
{
	char want[300];
	char *l = sesame_link_build(url, param, v1);
	int ok;

	if (want_prefix == NULL) {
		ok = l == NULL;
	} else {
		snprintf(want, sizeof(want), "%s%s", want_prefix, v1);
		ok = l != NULL && strcmp(l, want) == 0;
	}
	if (!ok)
		fprintf(stderr, "  url %s: got %s\n", url, l ? l : "(refused)");
	free(l);
	return ok;
}

static void test_link_build(void)
{
	char *l;

	CHECK(link_is("https://h.example/login", "sesame", "https://h.example/login?sesame="));
	CHECK(link_is("https://h.example/login?lang=en", "sesame",
		      "https://h.example/login?lang=en&sesame="));
	CHECK(link_is("https://h.example/s/#", "sesame", "https://h.example/s/#sesame="));
	CHECK(link_is("https://h.example/s/?", "t", "https://h.example/s/?t="));
	CHECK(link_is("https://h.example/?a=1&", "sesame", "https://h.example/?a=1&sesame="));
	CHECK(link_is("https://h.example/?a=1#", "sesame", "https://h.example/?a=1#sesame="));
	/* a '?' or '&' that the parser would not take for a separator */
	CHECK(link_is("https://h.example/?next=/app?", "sesame",
		      "https://h.example/?next=/app?&sesame="));
	CHECK(link_is("https://h.example/a&", "sesame", "https://h.example/a&?sesame="));
	/* refused: a fragment already there, or the param already in the url */
	CHECK(link_is("https://h.example/s/#frag", "sesame", NULL));
	CHECK(link_is("https://h.example/?sesame=x", "sesame", NULL));
	CHECK(link_is("https://h.example/", "sesame", "https://h.example/?sesame="));
	/* not a token: no link */
	l = sesame_link_build("https://h.example/", "sesame", "TOK");
	CHECK(l == NULL);
	free(l);
}

static void test_one_lifetime_encoding(void)
{
	struct sesame_token t;
	uint8_t raw[SESAME_TOKEN_BYTES];

	CHECK(sesame_token_parse(v1, strlen(v1), "sesame", &t) == 0);
	sesame_token_to_bytes(&t, raw);
	CHECK_EQ_INT(raw[9] << 8 | raw[10], 900);
	raw[9] = 0x80; /* 15 minutes: the same lifetime, spelled the other way */
	raw[10] = 15;
	CHECK(sesame_token_from_bytes(raw, &t) != 0);
	raw[10] = 0x87; /* 135 minutes is above 32767 s: only the minute form */
	raw[9] = 0x80;
	CHECK(sesame_token_from_bytes(raw, &t) != 0); /* 135 min = 8100 s fits seconds */
	raw[9] = 0x82;  /* 0x0287 minutes = 647 min = 38820 s: minute form only */
	raw[10] = 0x87;
	CHECK(sesame_token_from_bytes(raw, &t) == 0 && t.lifetime == 38820);
}

static void test_id_text(void)
{
	struct sesame_token t;
	char id[SESAME_ID_TEXT_SIZE];

	CHECK(sesame_token_parse(v1, strlen(v1), "sesame", &t) == 0);
	sesame_token_id_text(&t, id);
	CHECK(strcmp(id, "a1a2a3a4a5a6") == 0);
}

int main(void)
{
	test_base32();
	test_fields();
	test_lifetime_encoding();
	test_tolerance();
	test_links();
	test_nul_and_length();
	test_link_build();
	test_one_lifetime_encoding();
	test_id_text();
	return test_finish("token");
}
