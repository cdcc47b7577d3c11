/* Token layout, text form and links. docs/token-format.md is the spec.
 *
 * Binary (35 bytes, big-endian):
 *   0      flags (bits 7-6) | key id (bits 5-0)
 *   1-4    uid
 *   5-8    issued, Unix seconds
 *   9-10   lifetime: bit 15 clear = seconds, set = minutes (15 bits)
 *   11     uses (0 = any number)
 *   12-17  token id (random)
 *   18-20  service, host, password hints
 *   21-22  check
 *   23-34  tag
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "token.h"
#include "util.h"

/* Longest input worth looking at: a link in a mail is far shorter, and
 * PAM replies stop at 512 bytes. */
#define INPUT_MAX 2048

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t lifetime_field(uint32_t secs)
{
	if (secs <= 0x7fff)
		return (uint16_t)secs;
	return (uint16_t)(0x8000u | (secs / 60));
}

static uint32_t lifetime_from_field(uint16_t f)
{
	if (f & 0x8000u)
		return (uint32_t)(f & 0x7fffu) * 60;
	return f;
}

uint32_t sesame_lifetime_representable(int64_t secs)
{
	if (secs <= 0 || secs > SESAME_MAX_LIFETIME)
		return 0;
	return lifetime_from_field(lifetime_field((uint32_t)secs));
}

void sesame_token_to_bytes(const struct sesame_token *t, uint8_t out[SESAME_TOKEN_BYTES])
{
	uint16_t life = lifetime_field(t->lifetime);

	out[0] = (uint8_t)(t->flags | (t->key_id & SESAME_KEY_ID_MASK));
	put32(out + 1, t->uid);
	put32(out + 5, t->issued);
	out[9] = (uint8_t)(life >> 8);
	out[10] = (uint8_t)life;
	out[11] = t->uses;
	memcpy(out + 12, t->id, SESAME_ID_BYTES);
	out[18] = t->service_hint;
	out[19] = t->host_hint;
	out[20] = t->password_hint;
	memcpy(out + 21, t->check, SESAME_CHECK_BYTES);
	memcpy(out + 23, t->tag, SESAME_TAG_BYTES);
}

int sesame_token_from_bytes(const uint8_t in[SESAME_TOKEN_BYTES], struct sesame_token *t)
{
	memset(t, 0, sizeof(*t));
	t->flags = in[0] & (uint8_t)~SESAME_KEY_ID_MASK;
	t->key_id = in[0] & SESAME_KEY_ID_MASK;
	t->uid = get32(in + 1);
	t->issued = get32(in + 5);
	t->lifetime = lifetime_from_field((uint16_t)(in[9] << 8 | in[10]));
	t->uses = in[11];
	memcpy(t->id, in + 12, SESAME_ID_BYTES);
	t->service_hint = in[18];
	t->host_hint = in[19];
	t->password_hint = in[20];
	memcpy(t->check, in + 21, SESAME_CHECK_BYTES);
	memcpy(t->tag, in + 23, SESAME_TAG_BYTES);
	if (t->key_id == 0 || t->lifetime == 0)
		return -1;
	/* One encoding per lifetime: 15 minutes is 900 seconds, never the
	 * minute form, or one token would have two spellings. */
	if (lifetime_field(t->lifetime) != (uint16_t)(in[9] << 8 | in[10]))
		return -1;
	return 0;
}

void sesame_token_format(const struct sesame_token *t, char out[SESAME_TOKEN_TEXT_SIZE])
{
	uint8_t raw[SESAME_TOKEN_BYTES];

	sesame_token_to_bytes(t, raw);
	memcpy(out, SESAME_TOKEN_PREFIX, SESAME_TOKEN_PREFIX_LEN);
	sesame_base32_encode(raw, sizeof(raw), out + SESAME_TOKEN_PREFIX_LEN);
}

void sesame_token_id_text(const struct sesame_token *t, char out[SESAME_ID_TEXT_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SESAME_ID_BYTES; i++) {
		out[2 * i] = hex[t->id[i] >> 4];
		out[2 * i + 1] = hex[t->id[i] & 15];
	}
	out[2 * SESAME_ID_BYTES] = '\0';
}

/* ---- reading what people paste ---- */

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Copy input without any ASCII whitespace: mail clients break long links
 * across lines and people space tokens out. */
static size_t copy_without_blanks(const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++)
		if (!is_blank((unsigned char)in[i]))
			out[o++] = in[i];
	out[o] = '\0';
	return o;
}

static int strip_prefix(char **s, size_t *n, const char *what)
{
	size_t w = strlen(what);

	if (*n >= w && memcmp(*s, what, w) == 0) {
		*s += w;
		*n -= w;
		return 1;
	}
	return 0;
}

static int strip_suffix(char *s, size_t *n, const char *what)
{
	size_t w = strlen(what);

	if (*n >= w && memcmp(s + *n - w, what, w) == 0) {
		*n -= w;
		return 1;
	}
	return 0;
}

/* Peel what wraps a link in mail and prose: <...>, quotes (ASCII and
 * typographic), brackets, and sentence punctuation after it. */
static void strip_wrapping(char **s, size_t *n)
{
	static const char *const leading[] = {"<", "\"", "'", "`", "(", "[", "\xe2\x80\x9c",
					      "\xe2\x80\x98", "\xc2\xab", NULL};
	static const char *const trailing[] = {">", "\"", "'", "`", ")", "]", ".", ",", ";", ":",
					       "!", "?", "\xe2\x80\x9d", "\xe2\x80\x99", "\xc2\xbb",
					       NULL};
	int changed = 1;

	while (changed && *n > 0) {
		changed = 0;
		for (size_t i = 0; leading[i] != NULL; i++)
			changed |= strip_prefix(s, n, leading[i]);
		for (size_t i = 0; trailing[i] != NULL; i++)
			changed |= strip_suffix(*s, n, trailing[i]);
	}
}

/* Percent-decode [s, s+n) into out (at most n bytes + NUL). '+' is a space
 * in a query. Returns the length, or -1 on a bad escape or a NUL. */
static long percent_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = sesame_hex_value(s[i + 1]);
			lo = sesame_hex_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	out[o] = '\0';
	return (long)o;
}

/* Find param=VALUE among the &- or ;-separated pairs of [s, s+n). Counts
 * every match in *count; writes the last value's span. */
static void find_param(const char *s, size_t n, const char *param, const char **val,
		       size_t *val_len, int *count)
{
	size_t plen = strlen(param);
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '&' && s[j] != ';')
			j++;
		if (j - i > plen && memcmp(s + i, param, plen) == 0 && s[i + plen] == '=') {
			*val = s + i + plen + 1;
			*val_len = j - i - plen - 1;
			(*count)++;
		}
		i = j + 1;
	}
}

/* The token text inside a link: exactly one `param` in the query and the
 * fragment together. Returns 0 and the span, or -1. */
static int link_value(const char *s, size_t n, const char *param, const char **val,
		      size_t *val_len)
{
	const char *q = memchr(s, '?', n);
	const char *h = memchr(s, '#', n);
	int count = 0;

	if (q != NULL && h != NULL && q > h)
		q = NULL; /* a '?' inside the fragment is part of the fragment */
	if (q != NULL)
		find_param(q + 1, (size_t)((h ? h : s + n) - q - 1), param, val, val_len, &count);
	if (h != NULL)
		find_param(h + 1, (size_t)(s + n - h - 1), param, val, val_len, &count);
	return count == 1 ? 0 : -1;
}

/* Decode a bare token: hyphens dropped, Crockford-normalised, prefix
 * checked. Returns 0 or -1. */
static int bare_token(const char *s, size_t n, struct sesame_token *t)
{
	char canon[SESAME_TOKEN_TEXT_SIZE];
	uint8_t raw[SESAME_TOKEN_BYTES];
	size_t o = 0;
	int r = -1;

	for (size_t i = 0; i < n; i++) {
		int v;
		if (s[i] == '-' || is_blank((unsigned char)s[i]))
			continue;
		v = sesame_base32_value(s[i]);
		if (v < 0 || o == SESAME_TOKEN_TEXT_LEN)
			goto out;
		canon[o++] = sesame_base32_char(v);
	}
	if (o != SESAME_TOKEN_TEXT_LEN ||
	    memcmp(canon, SESAME_TOKEN_PREFIX, SESAME_TOKEN_PREFIX_LEN) != 0)
		goto out;
	if (sesame_base32_decode(canon + SESAME_TOKEN_PREFIX_LEN,
				 SESAME_TOKEN_TEXT_LEN - SESAME_TOKEN_PREFIX_LEN, raw) != 0)
		goto out;
	r = sesame_token_from_bytes(raw, t);
out:
	sesame_wipe(canon, sizeof(canon));
	sesame_wipe(raw, sizeof(raw));
	return r;
}

static int looks_like_link(const char *s, size_t n)
{
	return memchr(s, '?', n) != NULL || memchr(s, '#', n) != NULL ||
	       memchr(s, '/', n) != NULL || memchr(s, '=', n) != NULL;
}

int sesame_token_parse(const char *input, size_t len, const char *param, struct sesame_token *t)
{
	char buf[INPUT_MAX + 1], value[INPUT_MAX + 1];
	char *s = buf;
	size_t n;
	const char *v = NULL;
	size_t vlen = 0;
	long dlen;
	int r = -1;

	memset(t, 0, sizeof(*t));
	if (input == NULL || param == NULL || *param == '\0' || len == 0 || len > INPUT_MAX ||
	    memchr(input, '\0', len) != NULL)
		return -1;
	n = copy_without_blanks(input, len, buf);
	strip_wrapping(&s, &n);
	if (!looks_like_link(s, n)) {
		r = bare_token(s, n, t);
		goto out;
	}
	if (link_value(s, n, param, &v, &vlen) != 0)
		goto out;
	dlen = percent_decode(v, vlen, value);
	if (dlen < 0)
		goto out;
	r = bare_token(value, (size_t)dlen, t);
out:
	sesame_wipe(buf, sizeof(buf));
	sesame_wipe(value, sizeof(value));
	if (r != 0)
		memset(t, 0, sizeof(*t));
	return r;
}

int sesame_input_looks_like_token(const char *input, size_t len, const char *param)
{
	struct sesame_token t;
	int ok = sesame_token_parse(input, len, param, &t) == 0;

	sesame_wipe(&t, sizeof(t));
	return ok;
}

/* What goes between url and "param=TOKEN": nothing after the fragment's
 * '#', after the query's own '?', or after a trailing '&' in the query;
 * else '&' inside a query, '?' to start one. */
static const char *link_separator(const char *url, size_t ulen)
{
	const char *q = strchr(url, '?');
	char last = url[ulen - 1];

	if (last == '#' || (q != NULL && q == url + ulen - 1) || (q != NULL && last == '&'))
		return "";
	return q != NULL ? "&" : "?";
}

char *sesame_link_build(const char *url, const char *param, const char *token_text)
{
	size_t ulen = strlen(url);
	size_t n = ulen + strlen(param) + strlen(token_text) + 3;
	const char *hash = strchr(url, '#');
	struct sesame_token in, out;
	char *link;

	if (ulen == 0 || (hash != NULL && hash[1] != '\0'))
		return NULL;
	link = malloc(n);
	if (link == NULL)
		return NULL;
	snprintf(link, n, "%s%s%s=%s", url, link_separator(url, ulen), param, token_text);
	/* Hand out no link that the module would not read back. */
	if (sesame_token_parse(token_text, strlen(token_text), param, &in) != 0 ||
	    sesame_token_parse(link, strlen(link), param, &out) != 0 ||
	    memcmp(&in, &out, sizeof(in)) != 0) {
		sesame_free_str(link);
		link = NULL;
	}
	sesame_wipe(&in, sizeof(in));
	sesame_wipe(&out, sizeof(out));
	return link;
}
