/* Links: what sesame-mint builds from a configured url, and what a mail
 * client does to it, must read back as the token.
 *
 * The input is a url. When the config parser accepts it as `url` (the
 * check sesame-mint makes) and sesame_link_build makes a link of it, that
 * link, and the link as mail and prose wrap it (<...>, quotes, a full
 * stop, a line break every 17 characters), must parse to the token. The
 * input is also parsed as a pasted link itself (no crash, no leak). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Golden vector 1 of docs/token-format.md. */
static const char token_text[] = "SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT";

/* Does the url already carry a `param=` pair where the parser looks: after
 * the query's '?', the fragment's '#', or a '&' or ';' after either? Then
 * the link holds two and must be refused, as the spec says. */
static int url_has_param(const char *url, const char *param)
{
	size_t plen = strlen(param);
	const char *q = strchr(url, '?'), *h = strchr(url, '#');
	const char *start;

	if (q != NULL && h != NULL && q > h)
		q = NULL; /* inside the fragment: no separator */
	start = q != NULL ? q : h;

	for (const char *p = start; p != NULL && *p != '\0'; p++) {
		int pair_start = p == q || p == h || *p == '&' || *p == ';';
		if (pair_start && strncmp(p + 1, param, plen) == 0 && p[1 + plen] == '=')
			return 1;
	}
	return 0;
}

static void expect_token(const char *what, const char *text, const struct sesame_token *want)
{
	struct sesame_token got;

	if (sesame_token_parse(text, strlen(text), "sesame", &got) != 0 ||
	    memcmp(&got, want, sizeof(got)) != 0)
		fuzz_fail(what, text);
}

/* The link with a line break and indent every 17 characters. */
static char *broken_across_lines(const char *link)
{
	size_t n = strlen(link);
	char *out = malloc(n + n / 17 * 3 + 1), *o = out;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && i % 17 == 0)
			o += sprintf(o, "\n  ");
		*o++ = link[i];
	}
	*o = '\0';
	return out;
}

static void check_built_link(const char *url, const struct sesame_token *want)
{
	struct sesame_config cfg;
	struct sesame_err err = {""};
	char *link, *wrapped, *broken;
	size_t n;

	sesame_config_defaults(&cfg);
	if (sesame_config_set(&cfg, "url", url, &err) != SESAME_CONFIG_OK || cfg.url[0] == '\0')
		return;
	link = sesame_link_build(cfg.url, cfg.param, token_text);
	if (link == NULL)
		return;
	if (url_has_param(cfg.url, cfg.param)) {
		struct sesame_token t;
		if (sesame_token_parse(link, strlen(link), cfg.param, &t) == 0)
			fuzz_fail("a link with two token parameters was accepted", link);
		free(link);
		return;
	}
	expect_token("built link does not read back", link, want);
	n = strlen(link) + 8;
	wrapped = malloc(n);
	if (wrapped == NULL)
		abort();
	snprintf(wrapped, n, "<%s>.", link);
	expect_token("<link>. does not read back", wrapped, want);
	snprintf(wrapped, n, "\"%s\",", link);
	expect_token("\"link\", does not read back", wrapped, want);
	broken = broken_across_lines(link);
	expect_token("link broken across lines does not read back", broken, want);
	free(broken);
	free(wrapped);
	free(link);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sesame_token want, t;
	char *url;

	if (sesame_token_parse(token_text, sizeof(token_text) - 1, "sesame", &want) != 0)
		abort();
	url = malloc(size + 1);
	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	check_built_link(url, &want);
	(void)sesame_token_parse((const char *)data, size, "sesame", &t);
	(void)sesame_token_parse((const char *)data, size, "x-y.z~_", &t);
	free(url);
	return 0;
}
