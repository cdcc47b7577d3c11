/* pam_sesame's module arguments: the config file (conf=), module-only
 * flags, and every sesame.conf key as key=value, which overrides the
 * file. The config keys go through the same parser as sesame.conf and
 * the CLI (common/config.c), so a key means the same thing everywhere. */
#ifndef PAM_SESAME_ARGS_H
#define PAM_SESAME_ARGS_H

#include "config.h"
#include "err.h"

#define PAM_SESAME_DEFAULT_PROMPT "Sesame token or link: "

struct pam_sesame_args {
	struct sesame_config cfg;
	int debug;
	int try_first_pass;
	int use_first_pass;
	int user_from_token;
	const char *prompt; /* points into argv or at the default: not copied */
	/* After a refusal: the index in argv of the argument the error names
	 * (conf= for an error in its file), or -1 when it names none (a
	 * combination of arguments, or the default config file). */
	int bad_arg;
};

/* Parse argv (as PAM passes it: "[a b]" brackets already removed by
 * libpam). conf_default is the file read when there is no conf=; it may
 * be missing. Returns 0, or -1 with err naming the argument at fault
 * (its key, never its value: a password typed into the wrong field of a
 * config tool should not end up in a log) and args->bad_arg its index. */
int pam_sesame_args_parse(struct pam_sesame_args *args, int argc, const char **argv,
			  const char *conf_default, struct sesame_err *err);

#endif
