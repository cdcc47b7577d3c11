/* Helpers shared by the fuzz targets: a private scratch directory that
 * goes away at exit, small file writers, and the "no secret in a message"
 * checks the targets assert. */
#ifndef SESAME_FUZZ_UTIL_H
#define SESAME_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* $FUZZ_SCRATCH/tag when FUZZ_SCRATCH is set (a fixed path, private to
 * the run), else mkdtemp under $TMPDIR (or /tmp); removed with everything
 * in it at exit. Aborts on failure: a fuzz target without its files is
 * useless. */
const char *fuzz_scratch_dir(const char *tag);

/* Write data to path (created or truncated) with the given mode. Aborts
 * on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* Is needle (nlen bytes) inside hay (hlen bytes)? */
int fuzz_contains(const char *hay, size_t hlen, const char *needle, size_t nlen);

/* msg with the last occurrence of named (nlen bytes; none when nlen is 0
 * or it is not there) cut out and a line break in its place, into out
 * (out_size bytes, cut short if need be). A message names some things by
 * design (an argument's key, a file); cut out, they cannot be mistaken for
 * an echo of a value or for key material. No one-line message and no
 * value the targets look for holds a line break, so none spans the cut. */
void fuzz_cut_named(const char *msg, const char *named, size_t nlen, char *out, size_t out_size);

/* Longest run of hexadecimal digits in s: a message holding a key would
 * show one of 64. */
size_t fuzz_longest_hex_run(const char *s);

/* Print why and abort, so libFuzzer saves the input as a crash. */
void fuzz_fail(const char *why, const char *detail) __attribute__((noreturn));

#endif
