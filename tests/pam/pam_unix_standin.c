/* A stand-in for pam_unix in tests, for the stack
 *   auth sufficient pam_unix.so
 *   auth sufficient pam_sesame.so use_first_pass
 * pam_unix cannot read nss_wrapper's fake shadow file as non-root, and
 * pam_wrapper's pam_matrix clears PAM_AUTHTOK after use, so neither shows
 * what pam_unix does here: prompt "Password: ", keep the reply as
 * PAM_AUTHTOK for the next module, and compare it with the user's
 * password. Passwords come from passdb=FILE, lines "user:password".
 * Test code only: never install. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define STANDIN_EXPORT __attribute__((visibility("default")))

static int password_matches(const char *passdb, const char *user, const char *password)
{
	char line[512];
	size_t ulen = strlen(user);
	int match = 0;
	FILE *f = fopen(passdb, "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, user, ulen) == 0 && line[ulen] == ':')
			match = strcmp(line + ulen + 1, password) == 0;
	}
	fclose(f);
	return match;
}

STANDIN_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *user = NULL, *passdb = NULL;
	const void *authtok = NULL;
	char *reply = NULL;
	int i, r;

	(void)flags;
	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], "passdb=", 7) == 0)
			passdb = argv[i] + 7;
	if (passdb == NULL || pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL)
		return PAM_SERVICE_ERR;
	if (pam_get_item(pamh, PAM_AUTHTOK, &authtok) != PAM_SUCCESS || authtok == NULL) {
		r = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &reply, "Password: ");
		if (r != PAM_SUCCESS || reply == NULL)
			return PAM_CONV_ERR;
		r = pam_set_item(pamh, PAM_AUTHTOK, reply);
		free(reply);
		if (r != PAM_SUCCESS)
			return r;
		if (pam_get_item(pamh, PAM_AUTHTOK, &authtok) != PAM_SUCCESS || authtok == NULL)
			return PAM_SYSTEM_ERR;
	}
	r = password_matches(passdb, user, authtok);
	return r < 0 ? PAM_AUTHINFO_UNAVAIL : r ? PAM_SUCCESS : PAM_AUTH_ERR;
}

STANDIN_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
