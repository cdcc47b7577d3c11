#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

/* Login-link mails one conversation may ask for. */
#define MAIL_ROUNDS 3

#include "input.h"
#include "maillink.h"
#include "token.h"
#include "util.h"

void pam_sesame_input_clear(struct pam_sesame_input *in)
{
	sesame_free_str(in->text);
	in->text = NULL;
	in->len = 0;
}

/* A copy of the earlier module's authtok when it looks like a token;
 * returns PAM_SUCCESS with in->text NULL when it does not. The item
 * itself is left alone: it belongs to the stack. */
static int take_authtok(pam_handle_t *pamh, const struct pam_sesame_args *args,
			struct pam_sesame_input *in)
{
	const void *item = NULL;
	size_t len;

	if (pam_get_item(pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS || item == NULL)
		return PAM_SUCCESS;
	len = strnlen(item, PAM_MAX_RESP_SIZE);
	if (len >= PAM_MAX_RESP_SIZE || !sesame_input_looks_like_token(item, len, args->cfg.param))
		return PAM_SUCCESS;
	in->text = strndup(item, len);
	if (in->text == NULL)
		return PAM_BUF_ERR;
	in->len = len;
	in->source = PAM_SESAME_SOURCE_AUTHTOK;
	return PAM_SUCCESS;
}

/* One PAM_PROMPT_ECHO_OFF question through the application's
 * conversation. The reply is ours from here on, also when the
 * conversation reports failure, so it is wiped on every path. */
static int converse(pam_handle_t *pamh, const char *prompt, char **reply)
{
	const struct pam_conv *conv = NULL;
	struct pam_message msg = { .msg_style = PAM_PROMPT_ECHO_OFF, .msg = prompt };
	const struct pam_message *msgs[1] = { &msg };
	struct pam_response *resp = NULL;
	int r;

	*reply = NULL;
	r = pam_get_item(pamh, PAM_CONV, (const void **)&conv);
	if (r != PAM_SUCCESS || conv == NULL || conv->conv == NULL)
		return PAM_CONV_ERR;
	r = conv->conv(1, msgs, &resp, conv->appdata_ptr);
	if (resp != NULL) {
		*reply = resp->resp;
		free(resp);
	}
	if (r != PAM_SUCCESS || *reply == NULL) {
		sesame_free_str(*reply);
		*reply = NULL;
		return PAM_CONV_ERR;
	}
	return PAM_SUCCESS;
}

static int blank(const char *s)
{
	return s[strspn(s, " \t\r\n")] == '\0';
}

/* Ask; with `mail` on and an account known, an empty reply mails a login
 * link and asks again, at most MAIL_ROUNDS times in one conversation. */
static int ask(pam_handle_t *pamh, const struct pam_sesame_args *args, const char *user,
	       char **reply)
{
	for (int round = 0;; round++) {
		if (converse(pamh, args->prompt, reply) != PAM_SUCCESS)
			return PAM_CONV_ERR;
		if (!args->cfg.mail || user == NULL || round == MAIL_ROUNDS || !blank(*reply))
			return PAM_SUCCESS;
		sesame_free_str(*reply);
		*reply = NULL;
		pam_sesame_mail_link(pamh, args, user);
	}
}

static int prompt_for_input(pam_handle_t *pamh, const struct pam_sesame_args *args,
			    const char *user, struct pam_sesame_input *in, const char **why)
{
	char *reply = NULL;
	size_t len;

	if (ask(pamh, args, user, &reply) != PAM_SUCCESS) {
		*why = "conversation failed";
		return PAM_CONV_ERR;
	}
	len = strnlen(reply, PAM_MAX_RESP_SIZE);
	if (len >= PAM_MAX_RESP_SIZE) {
		/* No token or link we accept is this long. */
		sesame_free_str(reply);
		*why = "malformed";
		return PAM_AUTH_ERR;
	}
	in->text = reply;
	in->len = len;
	in->source = PAM_SESAME_SOURCE_PROMPT;
	return PAM_SUCCESS;
}

int pam_sesame_input_get(pam_handle_t *pamh, const struct pam_sesame_args *args,
			 const char *user, struct pam_sesame_input *in, const char **why)
{
	int r;

	memset(in, 0, sizeof(*in));
	*why = NULL;
	if (args->use_first_pass || args->try_first_pass) {
		r = take_authtok(pamh, args, in);
		if (r != PAM_SUCCESS) {
			*why = "out of memory";
			return r;
		}
		if (in->text != NULL)
			return PAM_SUCCESS;
		if (args->use_first_pass) {
			*why = "authtok is not a sesame token";
			return PAM_AUTH_ERR;
		}
		in->authtok_skipped = 1;
	}
	return prompt_for_input(pamh, args, user, in, why);
}
