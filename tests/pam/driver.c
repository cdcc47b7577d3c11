/* A PAM application for tests: runs pam_authenticate for one service and
 * prints the exact return code, so tests can tell PAM_AUTH_ERR from
 * PAM_AUTHINFO_UNAVAIL or PAM_SERVICE_ERR (pamtester cannot).
 *
 *   driver [-e] [-s] [-r RHOST] [-b FILE] [-u UID:GID] [-E NAME=VALUE] SERVICE USER|- [REPLY...]
 *
 * USER "-" starts without a user (a greeter before anyone is known).
 * Each prompt takes the next REPLY; a REPLY of "-" is all of stdin with
 * one trailing newline removed, so a reply can hold line breaks, control
 * characters or invalid UTF-8. Without REPLY arguments every prompt gets
 * stdin. A REPLY "@mail:FILE" is the last line of FILE holding a token or
 * link, read when its prompt comes. Prompts and messages are echoed to
 * stderr as "prompt: TEXT" and "message: TEXT".
 *   -e  print whether PAM_AUTHTOK is in the PAM environment afterwards
 *       (stack pam_get_items.so after the module under test)
 *   -s  also run pam_setcred(PAM_ESTABLISH_CRED) after a success
 *   -r  set PAM_RHOST
 *   -b  after pam_start, create FILE.ready.PID and wait until FILE
 *       exists: a start line for concurrent runs
 *   -u  run pam_authenticate as su or sudo started by UID would: real uid
 *       UID, effective and saved uid 0, gids and groups GID (needs root)
 *   -E  put NAME=VALUE in the environment first (repeatable)
 * Prints "rc=N TEXT user=NAME" and exits 0 on PAM_SUCCESS, 1 otherwise. */
#include <grp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct replies {
	char **argv;
	int count;
	int next;
	char *stdin_text;
};

static char *read_stdin(void)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	if (buf == NULL)
		return NULL;
	while ((n = read(STDIN_FILENO, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			char *bigger = realloc(buf, cap * 2);
			if (bigger == NULL) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return buf;
}

/* "@mail:FILE": the last line of FILE holding a sesame token or link, read
 * when the prompt comes (the mail the module just sent), trimmed. */
static char *reply_from_mail(const char *path)
{
	char line[4096], *found = NULL;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return strdup("");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "SSM1") == NULL)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		free(found);
		found = strdup(line + strspn(line, " \t"));
	}
	fclose(f);
	return found != NULL ? found : strdup("");
}

static char *next_reply(struct replies *r)
{
	const char *arg;

	if (r->count == 0)
		arg = "-";
	else if (r->next < r->count)
		arg = r->argv[r->next++];
	else
		return NULL;
	if (strncmp(arg, "@mail:", 6) == 0)
		return reply_from_mail(arg + 6);
	if (strcmp(arg, "-") != 0)
		return strdup(arg);
	if (r->stdin_text == NULL)
		r->stdin_text = read_stdin();
	return r->stdin_text != NULL ? strdup(r->stdin_text) : NULL;
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *out = calloc((size_t)n, sizeof(*out));
	int i;

	if (out == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		int style = msg[i]->msg_style;

		fprintf(stderr, "%s: %s\n",
			style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON ? "prompt"
										   : "message",
			msg[i]->msg);
		if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON)
			continue;
		out[i].resp = next_reply(data);
		if (out[i].resp == NULL)
			goto fail;
	}
	*resp = out;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(out[i].resp);
	free(out);
	return PAM_CONV_ERR;
}

static void wait_for(const char *path)
{
	struct timespec pause = { 0, 1000000 };
	char ready[4096];
	FILE *f;
	int i;

	snprintf(ready, sizeof(ready), "%s.ready.%ld", path, (long)getpid());
	f = fopen(ready, "w");
	if (f != NULL)
		fclose(f);
	for (i = 0; i < 60000 && access(path, F_OK) != 0; i++)
		nanosleep(&pause, NULL);
}

/* "UID:GID": the caller of a set-uid-root su, with its own groups. */
static int become_invoker(const char *arg)
{
	unsigned uid, gid;
	gid_t groups[1];

	if (sscanf(arg, "%u:%u", &uid, &gid) != 2)
		return -1;
	groups[0] = (gid_t)gid;
	if (setgroups(1, groups) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, 0, 0) != 0) {
		perror("driver: -u");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct replies replies = { 0 };
	struct pam_conv pc = { conv, &replies };
	pam_handle_t *pamh = NULL;
	const void *user = NULL;
	const char *rhost = NULL, *barrier = NULL, *invoker = NULL;
	int opt, show_authtok = 0, setcred = 0, rc;

	while ((opt = getopt(argc, argv, "esr:b:u:E:")) != -1) {
		if (opt == 'e')
			show_authtok = 1;
		else if (opt == 's')
			setcred = 1;
		else if (opt == 'r')
			rhost = optarg;
		else if (opt == 'b')
			barrier = optarg;
		else if (opt == 'u')
			invoker = optarg;
		else if (opt == 'E' && strchr(optarg, '=') != NULL)
			putenv(optarg);
		else
			return 2;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: %s [-e] [-s] [-r RHOST] [-b FILE] [-u UID:GID] [-E NAME=VALUE] "
			"SERVICE USER|- [REPLY...]\n", argv[0]);
		return 2;
	}
	replies.argv = argv + optind + 2;
	replies.count = argc - optind - 2;
	rc = pam_start(argv[optind], strcmp(argv[optind + 1], "-") == 0 ? NULL : argv[optind + 1],
		       &pc, &pamh);
	if (rc != PAM_SUCCESS) {
		printf("rc=%d pam_start: %s user=-\n", rc, pam_strerror(pamh, rc));
		return 1;
	}
	if (rhost != NULL)
		pam_set_item(pamh, PAM_RHOST, rhost);
	if (barrier != NULL)
		wait_for(barrier);
	if (invoker != NULL && become_invoker(invoker) != 0)
		return 2;
	rc = pam_authenticate(pamh, 0);
	if (pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS || user == NULL)
		user = "-";
	printf("rc=%d %s user=%s\n", rc, pam_strerror(pamh, rc), (const char *)user);
	if (show_authtok)
		printf("authtok=%s\n", pam_getenv(pamh, "PAM_AUTHTOK") != NULL ? "set" : "unset");
	if (setcred && rc == PAM_SUCCESS)
		printf("setcred=%d\n", pam_setcred(pamh, PAM_ESTABLISH_CRED));
	pam_end(pamh, rc);
	free(replies.stdin_text);
	/* Back to root, and dumpable again (changing ids cleared it), so that
	 * a sanitizer's leak check at exit can still inspect this process. */
	if (invoker != NULL && (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0 ||
				prctl(PR_SET_DUMPABLE, 1) != 0))
		perror("driver: back to root");
	return rc == PAM_SUCCESS ? 0 : 1;
}
