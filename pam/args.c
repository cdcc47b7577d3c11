#include <string.h>

#include "args.h"

/* Longest argument key we look at; every real key is far shorter, so a
 * key cut at this length can never match one. */
#define ARG_KEY_MAX 64

/* Flags that only the module knows; they take no value. */
static int *module_flag(struct pam_sesame_args *args, const char *name)
{
	if (strcmp(name, "debug") == 0)
		return &args->debug;
	if (strcmp(name, "try_first_pass") == 0)
		return &args->try_first_pass;
	if (strcmp(name, "use_first_pass") == 0)
		return &args->use_first_pass;
	if (strcmp(name, "user_from_token") == 0)
		return &args->user_from_token;
	/* `mail` alone is short for mail=yes (login by email, see mail.c). */
	if (strcmp(name, "mail") == 0)
		return &args->cfg.mail;
	return NULL;
}

/* The one conf= argument, if any, and its index in *at. It is read before
 * every other argument so that key=value arguments override the file
 * whatever their order. On error *at is the argument at fault. */
static int find_conf(int argc, const char **argv, const char **conf, int *at,
		     struct sesame_err *err)
{
	char key[ARG_KEY_MAX];
	const char *value;
	int i;

	*conf = NULL;
	*at = -1;
	for (i = 0; i < argc; i++) {
		value = sesame_split_arg(argv[i], key, sizeof(key));
		if (value == NULL || strcmp(key, "conf") != 0)
			continue;
		*at = i;
		if (*conf != NULL) {
			sesame_err_set(err, "argument conf given more than once");
			return -1;
		}
		if (*value == '\0') {
			sesame_err_set(err, "argument conf: empty file name");
			return -1;
		}
		*conf = value;
	}
	return 0;
}

/* The config parser's message already starts "key: ..." as a rule;
 * name the key ourselves when it does not. */
static void report_bad_value(const char *key, const struct sesame_err *why,
			     struct sesame_err *err)
{
	size_t klen = strlen(key);

	if (strncmp(why->msg, key, klen) == 0 && why->msg[klen] == ':')
		sesame_err_set(err, "argument %s", why->msg);
	else
		sesame_err_set(err, "argument %s: %s", key, why->msg[0] ? why->msg : "bad value");
}

/* An argument with '=': prompt, conf (already handled) or a config key. */
static int apply_key_value(struct pam_sesame_args *args, const char *key, const char *value,
			   struct sesame_err *err)
{
	struct sesame_err why = { { 0 } };
	enum sesame_config_result res;

	if (strcmp(key, "conf") == 0)
		return 0;
	if (strcmp(key, "prompt") == 0) {
		args->prompt = value;
		return 0;
	}
	if (module_flag(args, key) != NULL) {
		sesame_err_set(err, "argument %s takes no value", key);
		return -1;
	}
	res = sesame_config_set(&args->cfg, key, value, &why);
	if (res == SESAME_CONFIG_UNKNOWN_KEY) {
		sesame_err_set(err, "unknown argument %s", key);
		return -1;
	}
	if (res != SESAME_CONFIG_OK) {
		report_bad_value(key, &why, err);
		return -1;
	}
	return 0;
}

/* Length of an argument's key: up to '=', at most ARG_KEY_MAX - 1. */
static size_t key_length(const char *arg)
{
	size_t n = strcspn(arg, "=");

	return n < ARG_KEY_MAX ? n : ARG_KEY_MAX - 1;
}

static int apply_arg(struct pam_sesame_args *args, const char *arg, struct sesame_err *err)
{
	char key[ARG_KEY_MAX];
	const char *value = sesame_split_arg(arg, key, sizeof(key));
	int *flag;

	if (value != NULL)
		return apply_key_value(args, key, value, err);
	flag = module_flag(args, arg);
	if (flag != NULL) {
		*flag = 1;
		return 0;
	}
	if (sesame_config_is_key(arg))
		sesame_err_set(err, "argument %s needs a value (%s=...)", arg, arg);
	else /* the key only: a key too long to split still has its value after '=' */
		sesame_err_set(err, "unknown argument %.*s", (int)key_length(arg), arg);
	return -1;
}

static int check_combination(const struct pam_sesame_args *args, struct sesame_err *err)
{
	if (args->try_first_pass && args->use_first_pass) {
		sesame_err_set(err, "arguments try_first_pass and use_first_pass exclude each other");
		return -1;
	}
	if (args->prompt[0] == '\0') {
		sesame_err_set(err, "argument prompt: empty");
		return -1;
	}
	return sesame_config_validate(&args->cfg, err);
}

int pam_sesame_args_parse(struct pam_sesame_args *args, int argc, const char **argv,
			  const char *conf_default, struct sesame_err *err)
{
	const char *conf = NULL;
	int i;

	memset(args, 0, sizeof(*args));
	args->bad_arg = -1;
	args->prompt = PAM_SESAME_DEFAULT_PROMPT;
	sesame_config_defaults(&args->cfg);
	if (argc < 0 || (argc > 0 && argv == NULL)) {
		sesame_err_set(err, "no argument vector");
		return -1;
	}
	for (i = 0; i < argc; i++) {
		if (argv[i] == NULL) {
			sesame_err_set(err, "argument %d is missing", i + 1);
			args->bad_arg = i;
			return -1;
		}
	}
	if (find_conf(argc, argv, &conf, &args->bad_arg, err) != 0)
		return -1;
	if (sesame_config_load(&args->cfg, conf != NULL ? conf : conf_default, conf != NULL,
			       err) != 0)
		return -1;
	for (i = 0; i < argc; i++) {
		args->bad_arg = i;
		if (apply_arg(args, argv[i], err) != 0)
			return -1;
	}
	args->bad_arg = -1;
	return check_combination(args, err);
}
