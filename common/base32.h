/* Crockford base32: 0-9 A-Z without I L O U. Decoding is case-insensitive
 * and reads O as 0 and I, L as 1, so a token read aloud or retyped from
 * paper still decodes. */
#ifndef SESAME_BASE32_H
#define SESAME_BASE32_H

#include <stddef.h>
#include <stdint.h>

/* Encode n bytes (n*8 must be a multiple of 5) into out (n*8/5 chars +
 * NUL). */
void sesame_base32_encode(const uint8_t *in, size_t n, char *out);

/* Decode exactly len characters into len*5/8 bytes. Returns 0, or -1 on a
 * character outside the alphabet or non-zero padding bits. */
int sesame_base32_decode(const char *in, size_t len, uint8_t *out);

/* The character for a 5-bit value (its canonical spelling). */
char sesame_base32_char(int v);

/* Map one character to its 5-bit value, or -1. */
int sesame_base32_value(char c);

#endif
