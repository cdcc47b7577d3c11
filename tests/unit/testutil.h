/* Minimal test harness: CHECK records a failure and carries on, so one
 * run reports every broken case; the exit code is the failure count. */
#ifndef SESAME_TESTUTIL_H
#define SESAME_TESTUTIL_H

#include <stdio.h>

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

/* Print "N passed, N failed" and return the exit code. */
int test_finish(const char *suite);

#endif
