/* The sesame token: binary layout, text form, and links.
 * docs/token-format.md is the specification; keep the two in step. */
#ifndef SESAME_TOKEN_H
#define SESAME_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define SESAME_TOKEN_PREFIX "SSM1"
#define SESAME_TOKEN_PREFIX_LEN 4
#define SESAME_TOKEN_BYTES 35
#define SESAME_TAG_BYTES 12
#define SESAME_CHECK_BYTES 2
#define SESAME_ID_BYTES 6
/* prefix + 56 base32 characters */
#define SESAME_TOKEN_TEXT_LEN 60
#define SESAME_TOKEN_TEXT_SIZE (SESAME_TOKEN_TEXT_LEN + 1)
/* 12 lower-case hex digits */
#define SESAME_ID_TEXT_SIZE (2 * SESAME_ID_BYTES + 1)

/* Byte 0: two flag bits above a 6-bit key id. */
#define SESAME_FLAG_SERVICE 0x80u
#define SESAME_FLAG_HOST 0x40u
#define SESAME_KEY_ID_MASK 0x3fu
#define SESAME_KEY_ID_MAX 63

/* Longest lifetime the format can carry: 32767 minutes. */
#define SESAME_MAX_LIFETIME ((int64_t)32767 * 60)

/* Bytes covered by the check (everything before it) and by the tag. */
#define SESAME_CHECKED_BYTES 21
#define SESAME_SIGNED_BYTES 23

/* A decoded token. All fields are public (the token is not encrypted);
 * only the key makes it valid. */
struct sesame_token {
	uint8_t flags;     /* SESAME_FLAG_* */
	uint8_t key_id;    /* 1..63 */
	uint32_t uid;
	uint32_t issued;   /* Unix seconds */
	uint32_t lifetime; /* seconds */
	uint8_t uses;      /* 0 = any number within the lifetime */
	uint8_t id[SESAME_ID_BYTES];
	uint8_t service_hint;  /* keyed hints: say why a tag fails, see verify.c */
	uint8_t host_hint;
	uint8_t password_hint;
	uint8_t check[SESAME_CHECK_BYTES];
	uint8_t tag[SESAME_TAG_BYTES];
};

/* Serialise / parse the 35 binary bytes. from_bytes fails (returns -1)
 * on key id 0 or a lifetime field of zero. */
void sesame_token_to_bytes(const struct sesame_token *t, uint8_t out[SESAME_TOKEN_BYTES]);
int sesame_token_from_bytes(const uint8_t in[SESAME_TOKEN_BYTES], struct sesame_token *t);

/* Lifetime as carried: seconds up to 32767, else whole minutes.
 * Returns the lifetime the token will actually carry (rounded down to
 * a minute above 32767 s), or 0 when secs is out of range. */
uint32_t sesame_lifetime_representable(int64_t secs);

/* Canonical text: prefix + Crockford base32, upper case. */
void sesame_token_format(const struct sesame_token *t, char out[SESAME_TOKEN_TEXT_SIZE]);

/* Read what a person pasted: a token or a link carrying one under `param`,
 * with whatever mail clients and people wrap around it (whitespace, line
 * breaks, <...>, quotes, hyphens and spaces for readability, trailing
 * punctuation). Writes the decoded token. Returns 0, or -1 when the input
 * is malformed (it never says more: the input may be a password). */
int sesame_token_parse(const char *input, size_t len, const char *param, struct sesame_token *t);

/* Does the input look like a sesame token or link at all? Used to tell
 * a token typed at "Password:" from a password without logging either. */
int sesame_input_looks_like_token(const char *input, size_t len, const char *param);

/* The token's public id, lower-case hex. Safe to log. */
void sesame_token_id_text(const struct sesame_token *t, char out[SESAME_ID_TEXT_SIZE]);

/* Build `url` + param=TOKEN: as a query parameter ('?' or '&'), or as a
 * fragment "#param=TOKEN" when url ends with '#'. Returns a malloc'd
 * string, or NULL: out of memory, url already has a fragment, or the link
 * would not read back as this token (e.g. another `param` already in it). */
char *sesame_link_build(const char *url, const char *param, const char *token_text);

#endif
