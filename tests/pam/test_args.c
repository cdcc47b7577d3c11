/* pam/args.c: module arguments over the config file, failing closed. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "../unit/testutil.h"

static const char *dir;
static char conf[512], missing[512];

static int parse(struct pam_sesame_args *a, struct sesame_err *err, int argc, const char **argv)
{
	memset(err, 0, sizeof(*err));
	return pam_sesame_args_parse(a, argc, argv, missing, err);
}

static void test_defaults(void)
{
	struct pam_sesame_args a;
	struct sesame_err err;
	struct sesame_config def;

	sesame_config_defaults(&def);
	CHECK_EQ_INT(parse(&a, &err, 0, NULL), 0);
	CHECK(strcmp(a.prompt, PAM_SESAME_DEFAULT_PROMPT) == 0);
	CHECK(!a.debug && !a.try_first_pass && !a.use_first_pass && !a.user_from_token);
	CHECK(strcmp(a.cfg.key_file, def.key_file) == 0);
	CHECK_EQ_INT(a.cfg.allow_root, 0);
}

static void test_flags_and_keys(void)
{
	const char *argv[] = { "debug", "try_first_pass", "user_from_token",
			       "prompt=Scan your badge:", "allow_root=yes", "group=staff" };
	struct pam_sesame_args a;
	struct sesame_err err;

	CHECK_EQ_INT(parse(&a, &err, 6, argv), 0);
	CHECK(a.debug && a.try_first_pass && a.user_from_token && !a.use_first_pass);
	CHECK(strcmp(a.prompt, "Scan your badge:") == 0);
	CHECK_EQ_INT(a.cfg.allow_root, 1);
	CHECK(strcmp(a.cfg.group, "staff") == 0);
}

/* conf= is read first wherever it stands; key=value wins over the file. */
static void test_conf_then_overrides(void)
{
	const char *argv[] = { "group=wheel", NULL, "use_first_pass" };
	char confarg[600];
	struct pam_sesame_args a;
	struct sesame_err err;

	snprintf(confarg, sizeof(confarg), "conf=%s", conf);
	argv[1] = confarg;
	CHECK_EQ_INT(parse(&a, &err, 3, argv), 0);
	CHECK(strcmp(a.cfg.group, "wheel") == 0);
	CHECK(strcmp(a.cfg.param, "st") == 0);
	CHECK(a.use_first_pass);
}

static void expect_error(const char *arg1, const char *arg2, const char *named,
			 const char *never)
{
	const char *argv[] = { arg1, arg2 };
	struct pam_sesame_args a;
	struct sesame_err err;

	CHECK_EQ_INT(parse(&a, &err, arg2 != NULL ? 2 : 1, argv), -1);
	CHECK(strstr(err.msg, named) != NULL);
	if (never != NULL)
		CHECK(strstr(err.msg, never) == NULL);
	if (strstr(err.msg, named) == NULL || (never != NULL && strstr(err.msg, never) != NULL))
		fprintf(stderr, "  args '%s' '%s': message '%s'\n", arg1, arg2 ? arg2 : "", err.msg);
}

static void test_errors(void)
{
	char missing_conf[600];

	snprintf(missing_conf, sizeof(missing_conf), "conf=%s", missing);
	expect_error("bogus", NULL, "bogus", NULL);
	expect_error("bogus=Secret1", NULL, "bogus", "Secret1");
	expect_error("max_age=Secret2", NULL, "max_age", "Secret2");
	expect_error("allow_root=Secret3", NULL, "allow_root", "Secret3");
	expect_error("debug=1", NULL, "debug", NULL);
	expect_error("allow_root", NULL, "allow_root", NULL);
	expect_error("try_first_pass", "use_first_pass", "exclude", NULL);
	expect_error("prompt=", NULL, "prompt", NULL);
	expect_error("conf=", NULL, "conf", NULL);
	expect_error(missing_conf, NULL, missing, NULL);
	expect_error("conf=/a", "conf=/b", "conf", NULL);
}

/* The refusal says which argument it names, so a caller (and the fuzz
 * harness) can tell that argument's value from the rest of the vector. */
static void expect_bad_arg(int argc, const char **argv, int want)
{
	struct pam_sesame_args a;
	struct sesame_err err;

	CHECK_EQ_INT(parse(&a, &err, argc, argv), -1);
	CHECK_EQ_INT(a.bad_arg, want);
}

static void test_error_names_its_argument(void)
{
	/* the fuzzer's case: a flag-like word first, a value repeating it later */
	const char *flag_then_value[] = { "\377/$/sas", "debug", "group= \377/$/sas" };
	const char *bad_value[] = { "debug", "group=staff", "max_age=soon" };
	const char *two_confs[] = { "conf=/a", "debug", "conf=/b" };
	const char *exclusive[] = { "try_first_pass", "use_first_pass" };
	const char *missing_conf[] = { "debug", NULL };
	char missing_arg[600];

	snprintf(missing_arg, sizeof(missing_arg), "conf=%s", missing);
	missing_conf[1] = missing_arg;
	expect_bad_arg(3, flag_then_value, 0);
	expect_bad_arg(3, bad_value, 2);
	expect_bad_arg(3, two_confs, 2);
	expect_bad_arg(2, missing_conf, 1);
	expect_bad_arg(2, exclusive, -1);
}

static void test_null_argument(void)
{
	const char *argv[] = { "debug", NULL };
	struct pam_sesame_args a;
	struct sesame_err err;

	CHECK_EQ_INT(parse(&a, &err, 2, argv), -1);
	CHECK_EQ_INT(parse(&a, &err, 1, NULL), -1);
}

int main(void)
{
	FILE *f;

	dir = test_tmpdir("pam-args");
	snprintf(conf, sizeof(conf), "%s/sesame.conf", dir);
	snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		return 2;
	fprintf(f, "# test\ngroup = staff\nparam = st\n");
	fclose(f);
	test_defaults();
	test_flags_and_keys();
	test_conf_then_overrides();
	test_errors();
	test_error_names_its_argument();
	test_null_argument();
	test_rmtree(dir);
	return test_finish("pam-args");
}
