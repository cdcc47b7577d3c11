/* Every row of the shadow-field table (common/shadow_state.c), each with
 * the forms the tools really write, plus expiry. */
#include <stdio.h>
#include <string.h>

#include "shadow_state.h"
#include "testutil.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z, day 20454 */
#define TODAY (NOW / 86400)

static const char hash[] = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7TNtzLxeGZ6XcSbfcmCmA7gq1VwyQ/g/";

static enum sesame_shadow_state state_of(const char *field, size_t *offset)
{
	size_t ignored;

	return sesame_shadow_classify(field, -1, NOW, offset ? offset : &ignored);
}

static void expect(const char *field, enum sesame_shadow_state want, size_t want_offset)
{
	size_t offset = 99;
	enum sesame_shadow_state got = state_of(field, &offset);

	if (got != want || offset != want_offset)
		fprintf(stderr, "field \"%s\": %s, offset %zu; expected %s, offset %zu\n", field,
			sesame_shadow_state_name(got), offset, sesame_shadow_state_name(want),
			want_offset);
	CHECK(got == want && offset == want_offset);
}

/* Every row of the table classifies its own example as its state. */
static void test_every_row_example(void)
{
	const struct sesame_shadow_form *f = sesame_shadow_forms();
	size_t rows = 0;

	for (; f->field != NULL; f++, rows++)
		CHECK_EQ_INT(state_of(f->example, NULL), f->state);
	CHECK_EQ_INT(state_of(f->example, NULL), f->state); /* the hash row */
	CHECK_EQ_INT(rows, 7);
}

static void test_row_empty(void) { expect("", SESAME_SHADOW_NO_PASSWORD, 0); }
static void test_row_bare_bang(void) { expect("!", SESAME_SHADOW_NO_PASSWORD, 0); }
static void test_row_double_bang(void) { expect("!!", SESAME_SHADOW_NO_PASSWORD, 0); }
static void test_row_star(void) { expect("*", SESAME_SHADOW_NO_PASSWORD, 0); }
static void test_row_bang_star(void) { expect("!*", SESAME_SHADOW_NO_PASSWORD, 0); }
static void test_row_x(void) { expect("x", SESAME_SHADOW_NO_PASSWORD, 0); }

/* usermod -L / passwd -l put one '!' in front; Red Hat's passwd -l two.
 * The tag binds to what follows, so unlocking restores the same hash. */
static void test_row_locked(void)
{
	char field[128];

	snprintf(field, sizeof(field), "!%s", hash);
	expect(field, SESAME_SHADOW_LOCKED, 1);
	snprintf(field, sizeof(field), "!!%s", hash);
	expect(field, SESAME_SHADOW_LOCKED, 2);
	expect("!!*", SESAME_SHADOW_NO_PASSWORD, 0); /* a lock on no password is none */
	expect("!x", SESAME_SHADOW_NO_PASSWORD, 0);
}

static void test_row_hash(void)
{
	expect(hash, SESAME_SHADOW_PASSWORD, 0);
	expect("$6$salt$abc", SESAME_SHADOW_PASSWORD, 0);
	expect("*LK*x", SESAME_SHADOW_PASSWORD, 0); /* not a Linux form: no special meaning */
}

/* sp_expire: -1 never; day N means expired from day N on (pam_unix);
 * usermod -e 1 (day 1) suspends any account. Expiry wins over the field. */
static void test_expiry(void)
{
	size_t offset;

	CHECK_EQ_INT(sesame_shadow_classify(hash, -1, NOW, &offset), SESAME_SHADOW_PASSWORD);
	CHECK_EQ_INT(sesame_shadow_classify(hash, 1, NOW, &offset), SESAME_SHADOW_EXPIRED);
	CHECK_EQ_INT(sesame_shadow_classify("!", 1, NOW, &offset), SESAME_SHADOW_EXPIRED);
	CHECK_EQ_INT(sesame_shadow_classify(hash, TODAY, NOW, &offset), SESAME_SHADOW_EXPIRED);
	CHECK_EQ_INT(sesame_shadow_classify(hash, TODAY + 1, NOW, &offset), SESAME_SHADOW_PASSWORD);
	CHECK(sesame_shadow_expired(TODAY, NOW));
	CHECK(!sesame_shadow_expired(TODAY + 1, NOW));
	CHECK(!sesame_shadow_expired(-1, NOW));
}

static void test_names(void)
{
	CHECK(strcmp(sesame_shadow_state_name(SESAME_SHADOW_LOCKED), "locked") == 0);
	CHECK(strcmp(sesame_shadow_state_name(SESAME_SHADOW_EXPIRED), "expired") == 0);
	CHECK(strcmp(sesame_shadow_state_name(SESAME_SHADOW_NO_PASSWORD), "no password") == 0);
}

int main(void)
{
	test_every_row_example();
	test_row_empty();
	test_row_bare_bang();
	test_row_double_bang();
	test_row_star();
	test_row_bang_star();
	test_row_x();
	test_row_locked();
	test_row_hash();
	test_expiry();
	test_names();
	return test_finish("shadow-state");
}
