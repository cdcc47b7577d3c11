/* Many authentications in one process, through real libpam and the built
 * pam_sesame.so, for valgrind memcheck and for a descriptor count.
 *
 *   auth_loop MODULE [ROUNDS]      (default 1000)
 *
 * Each round is one pam_start_confdir / pam_authenticate / pam_end with
 * one of five inputs, in turn: a fresh one-use token (success), its
 * replay (refused), an unlimited token (success), junk (refused) and a
 * token with one character changed (refused). Everything lives in a
 * scratch directory: key, config (bind_password = no, allow_root = yes),
 * store and the service file; the account is the effective user. Exits 0
 * when every round gave the expected code and the number of open file
 * descriptors at the end is what it was after the first rounds. Under
 * valgrind, --error-exitcode turns any memory error or leak into a
 * failure too. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "sec.h"
#include "testutil.h"

static struct sec_env env;
static char confdir[1200];

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (out == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF && msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		out[i].resp = strdup(data);
		if (out[i].resp == NULL) {
			for (int j = 0; j < i; j++)
				free(out[j].resp);
			free(out);
			return PAM_BUF_ERR;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

static int authenticate(const char *input)
{
	struct pam_conv pc = {conv, (void *)input};
	pam_handle_t *pamh = NULL;
	int rc = pam_start_confdir("sesame", env.acct.name, &pc, confdir, &pamh);

	if (rc != PAM_SUCCESS)
		return -1;
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	return rc;
}

static int write_service(const char *module)
{
	char conf[2600], service[4000];

	snprintf(conf, sizeof(conf), "%s/sesame.conf", env.dir);
	snprintf(service, sizeof(service),
		 "key_file = %s\nstate_dir = %s\nbind_password = no\nallow_root = yes\n",
		 env.key_file, env.state_dir);
	if (sec_write_file(conf, service, strlen(service), 0644) != 0)
		return -1;
	snprintf(confdir, sizeof(confdir), "%s/pam.d", env.dir);
	if (mkdir(confdir, 0755) != 0)
		return -1;
	snprintf(service, sizeof(service), "auth required %s conf=%s\n", module, conf);
	snprintf(conf, sizeof(conf), "%s/sesame", confdir);
	return sec_write_file(conf, service, strlen(service), 0644);
}

/* Round i's input and the code it must get. */
static int round_input(int i, char *input, size_t size, const char *unlimited, char *last_once)
{
	struct sesame_token t;

	switch (i % 5) {
	case 0:
		sec_mint(&env, 1, 900, &t, last_once);
		snprintf(input, size, "%s", last_once);
		return PAM_SUCCESS;
	case 1:
		snprintf(input, size, "%s", last_once); /* the replay */
		return PAM_AUTH_ERR;
	case 2:
		snprintf(input, size, "https://x.example/#sesame=%s", unlimited);
		return PAM_SUCCESS;
	case 3:
		snprintf(input, size, "not a token %d", i);
		return PAM_AUTH_ERR;
	default:
		snprintf(input, size, "%s", unlimited);
		input[30] = input[30] == 'A' ? 'B' : 'A';
		return PAM_AUTH_ERR;
	}
}

int main(int argc, char **argv)
{
	struct sesame_token t;
	char unlimited[SESAME_TOKEN_TEXT_SIZE], once[SESAME_TOKEN_TEXT_SIZE] = "", input[200];
	int rounds = argc > 2 ? atoi(argv[2]) : 1000, wrong = 0, fds_start = -1, fds_end;
	void *hold;

	if (argc < 2 || rounds < 10) {
		fprintf(stderr, "usage: %s MODULE [ROUNDS >= 10]\n", argv[0]);
		return 2;
	}
	if (sec_env_init(&env, "authloop") != 0 || write_service(argv[1]) != 0)
		return 77;
	/* Keep the module mapped between rounds (libpam dlcloses it at
	 * pam_end): fast under valgrind, and what a long-lived daemon sees. */
	hold = dlopen(argv[1], RTLD_NOW);
	sec_mint(&env, 0, 3600, &t, unlimited);
	for (int i = 0; i < rounds; i++) {
		int want = round_input(i, input, sizeof(input), unlimited, once);
		int rc = authenticate(input);
		if (rc != want && wrong++ < 10)
			fprintf(stderr, "round %d: rc=%d, expected %d\n", i, rc, want);
		if (i == 9)
			fds_start = open_fds();
	}
	fds_end = open_fds();
	printf("auth_loop: %d authentications, %d unexpected results, open descriptors %d after "
	       "10 rounds and %d at the end\n", rounds, wrong, fds_start, fds_end);
	if (hold != NULL)
		dlclose(hold);
	sec_env_free(&env);
	return wrong == 0 && fds_start == fds_end ? 0 : 1;
}
