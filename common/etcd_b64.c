/* base64 for the gateway's keys and values: OpenSSL's encoder, and a
 * strict decoder on top of it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "etcd_b64.h"

char *sesame_etcd_b64_encode(const char *data, size_t len)
{
	char *out;

	if (len > INT_MAX / 2)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	return out;
}

/* Strict: length a multiple of 4, '=' only at the end. */
int sesame_etcd_b64_decode(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in), pad = 0;
	char *buf;
	int got;

	if (n % 4 != 0 || n > INT_MAX)
		return -1;
	if (n > 0 && in[n - 1] == '=')
		pad++;
	if (n > 1 && in[n - 2] == '=')
		pad++;
	if (strcspn(in, "=") < n - pad)
		return -1;
	buf = malloc(n / 4 * 3 + 1);
	if (buf == NULL)
		return -1;
	got = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		return -1;
	}
	*out_len = (size_t)got - pad;
	buf[*out_len] = '\0';
	*out = buf;
	return 0;
}

