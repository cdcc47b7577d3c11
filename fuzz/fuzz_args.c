/* PAM module arguments: pam_sesame_args_parse() on any argument vector.
 *
 * The input is split on '\n' into arguments (libpam hands the module
 * NUL-terminated words). conf= values are mapped onto files prepared
 * here, chosen by their first byte, so the target reads nothing else on
 * the host: a good config, a missing one, a broken one, and a directory.
 *
 * Invariants: a refusal has a one-line reason, names the argument it
 * reports (pam_sesame_args.bad_arg) by its key and never echoes that
 * argument's value when it holds '$'; an accepted vector has a prompt
 * and not both first_pass flags, and key_file is not inside state_dir. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_ARGS 64

static char conf_args[4][4300];
static char default_conf[4300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char good[] = "key_file = /etc/security/sesame.key\n"
				   "state_dir = /var/lib/sesame\nmax_age = 15m\n";
	static const char bad[] = "max_age = soon\n";
	const char *dir = fuzz_scratch_dir("args");
	char path[4200];

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/good.conf", dir);
	fuzz_write_file(path, good, sizeof(good) - 1, 0644);
	snprintf(conf_args[0], sizeof(conf_args[0]), "conf=%s", path);
	snprintf(conf_args[1], sizeof(conf_args[1]), "conf=%s/missing.conf", dir);
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	fuzz_write_file(path, bad, sizeof(bad) - 1, 0644);
	snprintf(conf_args[2], sizeof(conf_args[2]), "conf=%s", path);
	snprintf(path, sizeof(path), "%s/dir.conf", dir);
	if (mkdir(path, 0755) != 0)
		abort();
	snprintf(conf_args[3], sizeof(conf_args[3]), "conf=%s", path);
	snprintf(default_conf, sizeof(default_conf), "%s/default-missing.conf", dir);
	return 0;
}

/* Split into at most MAX_ARGS words; conf=X becomes one of the prepared
 * files. Returns argc; the words point into buf. */
static int split_args(char *buf, const char **argv)
{
	int argc = 0;
	char *p = buf;

	while (p != NULL && argc < MAX_ARGS) {
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(p, "conf=", 5) == 0 && p[5] != '\0')
			argv[argc++] = conf_args[(unsigned char)p[5] % 4];
		else
			argv[argc++] = p;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return argc;
}

/* A refusal names one argument, args->bad_arg (or none), by its key (cut
 * at 63 bytes) and never by its value. Cut the key out of the message:
 * what is left holds no text of the input but the name of a prepared
 * config file, so a value holding '$' (no fixed text of a message has
 * one; a password hash pasted into the wrong argument does) found there
 * is an echo. Other arguments are not judged: the message is about this
 * one, and a likeness to another is a coincidence of text. */
static void check_refused(int argc, const char **argv, int bad_arg, const char *msg)
{
	char rest[sizeof(((struct sesame_err *)0)->msg) + 1];
	const char *arg, *eq;
	size_t klen;

	if (msg[0] == '\0' || strchr(msg, '\n') != NULL)
		fuzz_fail("argument refusal without a one-line reason", msg);
	if (bad_arg < -1 || bad_arg >= argc)
		fuzz_fail("argument refusal names an argument out of range", msg);
	if (bad_arg < 0)
		return;
	arg = argv[bad_arg];
	eq = strchr(arg, '=');
	klen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	klen = klen < 63 ? klen : 63;
	/* a conf= error may name the file instead of the key */
	if (klen > 0 && strncmp(arg, "conf=", 5) != 0 && !fuzz_contains(msg, strlen(msg), arg, klen))
		fuzz_fail("argument refusal does not name the argument at fault", msg);
	if (eq == NULL || strchr(eq + 1, '$') == NULL)
		return;
	fuzz_cut_named(msg, arg, klen, rest, sizeof(rest));
	if (strstr(rest, eq + 1) != NULL)
		fuzz_fail("argument error echoes a value", msg);
}

static void check_accepted(const struct pam_sesame_args *args)
{
	size_t n = strlen(args->cfg.state_dir);

	if (args->prompt == NULL || args->prompt[0] == '\0')
		fuzz_fail("accepted arguments without a prompt", NULL);
	if (args->try_first_pass && args->use_first_pass)
		fuzz_fail("accepted try_first_pass with use_first_pass", NULL);
	if (strncmp(args->cfg.key_file, args->cfg.state_dir, n) == 0 &&
	    (args->cfg.key_file[n] == '/' || args->cfg.key_file[n] == '\0'))
		fuzz_fail("accepted a key file inside the state directory", args->cfg.key_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *argv[MAX_ARGS];
	struct pam_sesame_args args;
	struct sesame_err err = {""};
	char *buf = malloc(size + 1);
	int argc;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argc = size == 0 ? 0 : split_args(buf, argv);
	if (pam_sesame_args_parse(&args, argc, argv, default_conf, &err) == 0)
		check_accepted(&args);
	else
		check_refused(argc, argv, args.bad_arg, err.msg);
	free(buf);
	return 0;
}
