/* base64 as etcd's gateway writes it (standard alphabet, padded). */
#ifndef SESAME_ETCD_B64_H
#define SESAME_ETCD_B64_H

#include <stddef.h>

/* A fresh NUL-terminated string, or NULL. */
char *sesame_etcd_b64_encode(const char *data, size_t len);

/* Strict: length a multiple of 4, '=' only at the end. A fresh buffer
 * with a NUL after *out_len bytes; 0 or -1. */
int sesame_etcd_b64_decode(const char *in, char **out, size_t *out_len);

#endif
