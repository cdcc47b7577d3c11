/* sesame-etcd: the process through which pam_sesame and sesame-mint
 * reach etcd, so that libcurl and the etcd credentials never enter
 * theirs. Two ways to run:
 *
 *   sesame-etcd             started by a caller (never by hand) with one
 *                           socket as stdin and stdout: it reads the
 *                           settings, answers each request frame, and
 *                           exits when its stdin closes;
 *   sesame-etcd --serve     long-lived, for root callers on a Unix socket
 *                           (daemon.c), keeping the TLS connection and
 *                           the auth token warm between logins.
 *
 * It holds the TLS connection, the password and the auth token. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"
#include "etcd_http.h"
#include "session.h"

#define SETTINGS_WAIT_MS 5000

static int usage(void)
{
	fputs("sesame-etcd: the etcd helper of pam_sesame and sesame-mint; not run by hand,\n"
	      "except as a service: sesame-etcd --serve [--socket PATH] [--workers N]\n"
	      "                         [--session-idle SECONDS]\n",
	      stderr);
	return 2;
}

/* The helper of one caller's store session, on stdin. */
static int run_for_caller(void)
{
	struct sesame_etcd_config cfg;
	struct sesame_etcd_transport t = {0};
	struct sesame_etcd_wire w;
	struct sesame_err err = {""};
	char state_dir[SESAME_ETCD_FILE_MAX], *settings;
	size_t len = 0;
	int usable, r;

	sesame_etcd_wire_init(&w, STDIN_FILENO);
	settings = sesame_helper_read_settings(&w, &len, sesame_etcd_now_ms() + SETTINGS_WAIT_MS);
	usable = sesame_helper_parse_settings(settings, &cfg, state_dir, sizeof(state_dir),
					      &err) == 0 &&
		 sesame_etcd_http_open(&cfg, state_dir, &t, &err) == 0;
	free(settings);
	r = sesame_helper_serve(&w, usable ? &t : NULL, &err, -1);
	if (usable)
		t.close(t.ctx);
	sesame_wipe(&w, sizeof(w));
	return r;
}

int main(int argc, char **argv)
{
	struct sesame_daemon_options opt;

	if (argc > 1 && sesame_daemon_parse(&opt, argc, argv) != 0)
		return usage();
	if (argc == 1 && isatty(STDIN_FILENO))
		return usage();
	/* The password, the client key and the token live here: no core
	 * file, and no ptrace by anyone who shares our uid. */
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	return argc == 1 ? run_for_caller() : sesame_daemon_run(&opt);
}
