/* pam_sesame: a pasted sesame token or link as a one-time credential.
 *
 * Each call stands alone: arguments and config are read afresh, nothing
 * is kept with pam_set_data, the input is wiped, and key material is
 * wiped by sesame_attempt_run before it returns. That keeps the module
 * safe in long-running processes (sshd's monitor, display managers). */
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "args.h"
#include "attempt.h"
#include "input.h"
#include "report.h"

/* The module is built with hidden visibility and a version script;
 * these two are its whole interface. */
#define PAM_SESAME_EXPORT __attribute__((visibility("default")))

/* Everything one pam_sm_authenticate call works with. */
struct call {
	pam_handle_t *pamh;
	struct pam_sesame_args args;
	struct pam_sesame_input input;
	struct sesame_attempt attempt;
	const char *user; /* the account asked for, or NULL (user_from_token) */
	int set_user;     /* user_from_token without PAM_USER: set it on success */
	char host[HOST_NAME_MAX + 1];
	struct sesame_err detail;
	struct pam_sesame_outcome outcome;
};

static void set_outcome(struct call *c, enum pam_sesame_result result, const char *reason)
{
	c->outcome.result = result;
	c->outcome.reason = reason;
	c->outcome.detail = c->detail.msg;
}

/* Arguments, then the config file they name. The SESAME_CONF environment
 * variable is deliberately NOT honoured here, unlike in the CLI: under su,
 * sudo and the like the environment belongs to the user being checked,
 * who could point the module at a config and key of their own. */
static int load_args(struct call *c, int argc, const char **argv)
{
	if (pam_sesame_args_parse(&c->args, argc, argv, SESAME_DEFAULT_CONF, &c->detail) != 0) {
		set_outcome(c, PAM_SESAME_RESULT_ERROR, "bad configuration");
		return -1;
	}
	return 0;
}

/* Without user_from_token the account comes first, as with pam_unix
 * (pam_get_user may ask for it). With it, the token names the account,
 * unless the application already fixed PAM_USER: then a token for anyone
 * else is refused as "wrong user". */
static int find_user(struct call *c, int *code)
{
	const char *user = NULL;
	int r;

	if (c->args.user_from_token) {
		user = pam_sesame_item(c->pamh, PAM_USER);
		c->set_user = user == NULL || *user == '\0';
		c->user = c->set_user ? NULL : user;
		return 0;
	}
	r = pam_get_user(c->pamh, &user, NULL);
	if (r == PAM_SUCCESS && user != NULL && *user != '\0') {
		c->user = user;
		return 0;
	}
	if (r == PAM_CONV_AGAIN) {
		*code = PAM_INCOMPLETE;
		set_outcome(c, PAM_SESAME_RESULT_ERROR, "conversation incomplete");
	} else if (r == PAM_SUCCESS) {
		*code = PAM_USER_UNKNOWN;
		set_outcome(c, PAM_SESAME_RESULT_REFUSED, "no user name");
	} else {
		*code = r;
		set_outcome(c, PAM_SESAME_RESULT_ERROR, "cannot get user name");
	}
	return -1;
}

static int read_input(struct call *c, int *code)
{
	const char *why = NULL;
	int r = pam_sesame_input_get(c->pamh, &c->args, c->user, &c->input, &why);

	if (c->input.authtok_skipped)
		pam_sesame_debug(c->pamh, c->args.debug, "authtok is not a sesame token: prompting");
	if (r == PAM_SUCCESS) {
		pam_sesame_debug(c->pamh, c->args.debug, "input from %s",
				 c->input.source == PAM_SESAME_SOURCE_AUTHTOK ? "PAM_AUTHTOK"
									      : "conversation");
		return 0;
	}
	*code = r;
	set_outcome(c, r == PAM_AUTH_ERR ? PAM_SESAME_RESULT_REFUSED : PAM_SESAME_RESULT_ERROR,
		    why != NULL ? why : "no input");
	return -1;
}

/* After the core said yes. With a user asked for, the core has matched
 * that account's uid against the token's (names are not compared here:
 * NSS may spell the name its own way, e.g. case-insensitive directories).
 * Without one, the token's account becomes PAM_USER. */
static enum sesame_reason accept_user(struct call *c)
{
	const char *account = c->attempt.account;

	if (c->user != NULL)
		return SESAME_OK;
	if (account[0] == '\0') {
		sesame_err_set(&c->detail, "no account name for a valid token");
		return SESAME_SYSTEM_ERROR;
	}
	if (!c->set_user || pam_set_item(c->pamh, PAM_USER, account) != PAM_SUCCESS) {
		sesame_err_set(&c->detail, "cannot set PAM_USER");
		return SESAME_SYSTEM_ERROR;
	}
	return SESAME_OK;
}

static void start_attempt(struct call *c)
{
	const char *service = pam_sesame_item(c->pamh, PAM_SERVICE);

	if (gethostname(c->host, sizeof(c->host) - 1) != 0)
		c->host[0] = '\0'; /* host-scoped tokens then fail: closed */
	c->host[sizeof(c->host) - 1] = '\0';
	sesame_attempt_init(&c->attempt, &c->args.cfg);
	c->attempt.user = c->user;
	/* Never NULL: to the core, a NULL service means "do not check". */
	c->attempt.ctx.service = service != NULL ? service : "";
	c->attempt.ctx.host = c->host;
	c->attempt.ctx.now = (int64_t)time(NULL);
	c->attempt.consume = 1;
	c->attempt.rhost = pam_sesame_item(c->pamh, PAM_RHOST);
	c->attempt.ruser = pam_sesame_item(c->pamh, PAM_RUSER);
	c->attempt.tty = pam_sesame_item(c->pamh, PAM_TTY);
}

/* The only place that returns PAM_SUCCESS. */
static int verdict(struct call *c)
{
	enum sesame_reason reason;

	start_attempt(c);
	reason = sesame_attempt_run(&c->attempt, c->input.text, c->input.len);
	/* A token typed at an earlier module's "Password:" is no password:
	 * later modules (keyring unlockers and the like) must not get it.
	 * libpam wipes the old value when the item is replaced. */
	if (c->input.source == PAM_SESAME_SOURCE_AUTHTOK)
		(void)pam_set_item(c->pamh, PAM_AUTHTOK, NULL);
	pam_sesame_input_clear(&c->input);
	pam_sesame_debug_token(c->pamh, c->args.debug, &c->attempt);
	if (reason == SESAME_OK)
		reason = accept_user(c);
	else if (sesame_reason_is_unavailable(reason))
		memcpy(&c->detail, &c->attempt.err, sizeof(c->detail));
	if (reason == SESAME_OK) {
		set_outcome(c, PAM_SESAME_RESULT_SUCCESS, sesame_reason_name(reason));
		return PAM_SUCCESS;
	}
	/* With the account taken from the token, a missing shadow entry is
	 * known before any tag could be checked (the tag binds to the hash):
	 * answering PAM_AUTHINFO_UNAVAIL would tell whoever types forged
	 * tokens at a greeter which uids exist without one. The log says it. */
	if (reason == SESAME_SHADOW_UNAVAILABLE && c->user == NULL) {
		set_outcome(c, PAM_SESAME_RESULT_REFUSED, sesame_reason_name(reason));
		return PAM_AUTH_ERR;
	}
	if (sesame_reason_is_unavailable(reason)) {
		set_outcome(c, PAM_SESAME_RESULT_UNAVAILABLE, sesame_reason_name(reason));
		return PAM_AUTHINFO_UNAVAIL;
	}
	set_outcome(c, PAM_SESAME_RESULT_REFUSED, sesame_reason_name(reason));
	/* PAM_USER_UNKNOWN only answers for a name the application gave. For
	 * a name taken from the token it would tell whoever types tokens at a
	 * greeter which uids exist: the log still says "user unknown". */
	if (reason == SESAME_USER_UNKNOWN && c->user != NULL)
		return PAM_USER_UNKNOWN;
	return PAM_AUTH_ERR;
}

static int authenticate(struct call *c, int argc, const char **argv)
{
	int r = PAM_SERVICE_ERR;

	if (load_args(c, argc, argv) != 0)
		goto out;
	r = PAM_AUTH_ERR;
	if (find_user(c, &r) != 0 || read_input(c, &r) != 0)
		goto out;
	r = verdict(c);
out:
	return r;
}

static const char *user_for_log(struct call *c)
{
	if (c->user != NULL)
		return c->user;
	if (c->attempt.account[0] != '\0')
		return c->attempt.account;
	return pam_sesame_item(c->pamh, PAM_USER);
}

PAM_SESAME_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
					  const char **argv)
{
	struct call c;
	int r;

	(void)flags;
	memset(&c, 0, sizeof(c));
	c.pamh = pamh;
	set_outcome(&c, PAM_SESAME_RESULT_ERROR, "internal error");
	r = authenticate(&c, argc, argv);
	pam_sesame_report(pamh, user_for_log(&c), c.attempt.have_token ? c.attempt.id_text : NULL,
			  &c.outcome);
	pam_sesame_input_clear(&c.input);
	return r;
}

/* Authentication only: a token establishes no credentials of its own.
 * libpam still calls setcred on every auth module of the stack after a
 * successful pam_authenticate; answering anything but PAM_SUCCESS would
 * fail pam_setcred for the whole stack (pam_unix answers the same). */
PAM_SESAME_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
