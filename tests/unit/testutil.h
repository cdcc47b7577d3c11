/* Minimal test harness: CHECK records a failure and carries on, so one
 * run reports every broken case; the exit code is the failure count. */
#ifndef SESAME_TESTUTIL_H
#define SESAME_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "token.h"

extern int test_failures;
extern int test_checks;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		test_checks++;                                                             \
		if (!(cond)) {                                                             \
			test_failures++;                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                          \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                    \
	do {                                                                                  \
		long long va_ = (long long)(a), vb_ = (long long)(b);                         \
		test_checks++;                                                                \
		if (va_ != vb_) {                                                             \
			test_failures++;                                                      \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,   \
				__LINE__, #a, #b, va_, vb_);                                  \
		}                                                                             \
	} while (0)

/* Make a fresh private directory under $TMPDIR (or /tmp); returns a static path. */
const char *test_tmpdir(const char *tag);

/* rm -rf a test directory. */
void test_rmtree(const char *path);

/* The store tests' token: uid TEST_UID, lifetime TEST_LIFETIME, key id 0,
 * no scope, a zero tag. Its id puts it in store bucket `bucket` (the id's
 * first 12 bits) and carries seq in its last 32 bits, so that tokens of
 * one bucket differ and sort by seq. */
#define TEST_UID 1000u
#define TEST_LIFETIME 900u
struct sesame_token test_token(unsigned bucket, uint32_t seq, uint32_t issued, uint8_t uses);

/* The number of descriptors this process has open, or -1. */
int test_count_fds(void);

/* Print "N passed, N failed" and return the exit code. */
int test_finish(const char *suite);

#endif
