/* The caller's side of the sesame-etcd helper: the PAM module and the
 * CLI talk to etcd through another process, so that libcurl, its TLS and
 * resolver threads and the etcd credentials never enter sshd's or a
 * greeter's process (docs/fleet.md). That process is the long-lived
 * `sesame-etcd --serve` when its socket is there (etcd_socket.c: a warm
 * TLS connection and auth token), else a child of ours, as pam_unix runs
 * unix_chkpwd. The child gets root's ids when we are root, an empty environment, one
 * socket as stdin and stdout, /dev/null as stderr, and nothing else; it
 * is killed when an answer is late, and reaped when the session ends. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "etcd_socket.h"
#include "etcd_wire.h"

/* The helper's own budget is the operation's; this is for starting it
 * and for its answer to travel back. */
#define HELPER_SLACK_MS 500

struct helper {
	pid_t pid;
	int fd;
	int broken;          /* a late or garbled answer: no further calls */
	int borrowed_sigchld;
	struct sigaction old_sigchld;
	int64_t timeout_ms;
	struct sesame_etcd_wire wire;
};

/* In the child, between fork and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(const char *path, int sock, int report, long max_fd)
{
	char *const argv[] = {(char *)"sesame-etcd", NULL};
	char *const envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	struct sigaction dfl;
	sigset_t none;
	int null_fd, e;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Under su or sudo the real uid is the user's: with it the user could
	 * signal (stop) the helper. A root caller's child is root through and
	 * through; anyone else's keeps its ids. */
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0))
		goto fail;
	if (dup2(sock, STDIN_FILENO) < 0 || dup2(sock, STDOUT_FILENO) < 0 ||
	    (null_fd = open("/dev/null", O_WRONLY)) < 0 || dup2(null_fd, STDERR_FILENO) < 0)
		goto fail;
	if (sesame_close_fds_except(report, max_fd) != 0)
		goto fail;
	execve(path, argv, envp);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0) {
		/* nobody left to tell */
	}
	_exit(127);
}

/* 0 once exec succeeded (the report pipe closed on exec), else -1. */
static int await_exec(int report, const char *path, struct sesame_err *err)
{
	ssize_t n;
	int e = 0;

	do
		n = read(report, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	sesame_err_set(err, "store unavailable: cannot run the etcd helper %s: %s", path,
		       n == (ssize_t)sizeof(e) ? strerror(e) : "it failed to start");
	return -1;
}

static void reap(struct helper *h)
{
	int64_t deadline = sesame_etcd_now_ms() + 200;
	struct timespec nap = {0, 2 * 1000000};
	int status;
	pid_t got;

	if (h->pid <= 0)
		return;
	for (;;) {
		got = waitpid(h->pid, &status, WNOHANG);
		if (got == h->pid || (got < 0 && errno != EINTR))
			break;
		if (got == 0 && sesame_etcd_now_ms() >= deadline) {
			kill(h->pid, SIGKILL);
			while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		nanosleep(&nap, NULL);
	}
	h->pid = -1;
}

static void helper_close(void *ctx)
{
	struct helper *h = ctx;

	if (h == NULL)
		return;
	if (h->fd >= 0) {
		/* EOF on its stdin: the helper exits on its own. */
		shutdown(h->fd, SHUT_RDWR);
		close(h->fd);
	}
	if (h->broken && h->pid > 0)
		kill(h->pid, SIGKILL);
	reap(h);
	if (h->borrowed_sigchld)
		sigaction(SIGCHLD, &h->old_sigchld, NULL);
	sesame_wipe(h->wire.buf, sizeof(h->wire.buf));
	free(h);
}

/* A caller may run with 0-2 closed: then our descriptors land there, and
 * the child's dup2 onto 0-2 would clobber them (or, onto itself, keep
 * close-on-exec). Move them above. */
static int above_stdio(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] <= STDERR_FILENO) {
			int high = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
			close(fds[i]);
			fds[i] = high;
		}
	}
	return fds[0] < 0 || fds[1] < 0 ? -1 : 0;
}

static int spawn(struct helper *h, const char *path, struct sesame_err *err)
{
	int sv[2] = {-1, -1}, report[2] = {-1, -1}, r = -1;
	long max_fd = sesame_fd_limit();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(report, O_CLOEXEC) != 0 || above_stdio(sv) != 0 || above_stdio(report) != 0) {
		sesame_err_set(err, "store unavailable: etcd helper: %s", strerror(errno));
		goto out;
	}
	h->pid = fork();
	if (h->pid < 0) {
		sesame_err_set(err, "store unavailable: etcd helper: fork: %s", strerror(errno));
		goto out;
	}
	if (h->pid == 0)
		child_exec(path, sv[1], report[1], max_fd);
	close(report[1]);
	report[1] = -1;
	h->fd = sv[0];
	sv[0] = -1;
	sesame_etcd_wire_init(&h->wire, h->fd);
	r = await_exec(report[0], path, err);
out:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (report[i] >= 0)
			close(report[i]);
	}
	return r;
}

/* "R": "SERVER_TIME LOCAL_TIME ENDPOINT\nBODY". */
static int read_answer(char *payload, size_t len, struct sesame_etcd_reply *reply)
{
	char *nl = memchr(payload, '\n', len);
	long long server, local;
	int used = 0;

	if (nl == NULL)
		return -1;
	*nl = '\0';
	if (sscanf(payload, "%lld %lld %n", &server, &local, &used) != 2 || used == 0 ||
	    strlen(payload + used) >= sizeof(reply->endpoint))
		return -1;
	snprintf(reply->endpoint, sizeof(reply->endpoint), "%s", payload + used);
	reply->server_time = server;
	reply->local_time = local;
	reply->len = len - (size_t)(nl + 1 - payload);
	reply->body = malloc(reply->len + 1);
	if (reply->body == NULL)
		return -1;
	memcpy(reply->body, nl + 1, reply->len);
	reply->body[reply->len] = '\0';
	return 0;
}

/* "E": "FAILURE\nMESSAGE"; the helper already wrote "store unavailable: ...". */
static void read_failure(const char *payload, enum sesame_etcd_failure *failure,
			 struct sesame_err *err)
{
	const char *nl = strchr(payload, '\n');
	int f = atoi(payload);

	*failure = f > SESAME_ETCD_FAIL_NONE && f <= SESAME_ETCD_FAIL_LOCAL
			   ? (enum sesame_etcd_failure)f
			   : SESAME_ETCD_FAIL_PROTOCOL;
	sesame_err_set(err, "%.300s", nl ? nl + 1 : "store unavailable: the etcd helper failed");
}

static int helper_call(void *ctx, const char *path, const char *body, size_t len,
		       struct sesame_etcd_reply *reply, enum sesame_etcd_failure *failure,
		       struct sesame_err *err)
{
	struct helper *h = ctx;
	int64_t deadline = sesame_etcd_now_ms() + h->timeout_ms + HELPER_SLACK_MS;
	char tag = 0, *payload = NULL, head[128];
	size_t plen = 0;
	int r = -1, n;

	memset(reply, 0, sizeof(*reply));
	*failure = SESAME_ETCD_FAIL_LOCAL;
	if (h->broken) {
		sesame_err_set(err, "store unavailable: the etcd helper was stopped after a "
			       "failed call");
		return -1;
	}
	n = snprintf(head, sizeof(head), "%s\n", path);
	if (n >= (int)sizeof(head) ||
	    sesame_etcd_wire_send(h->fd, 'Q', head, (size_t)n, body, len, deadline) != 0 ||
	    sesame_etcd_wire_recv(&h->wire, &tag, &payload, &plen, SESAME_ETCD_WIRE_MAX,
				  deadline) != 0) {
		h->broken = 1;
		*failure = errno == ETIMEDOUT ? SESAME_ETCD_FAIL_TIMEOUT : SESAME_ETCD_FAIL_LOCAL;
		sesame_err_set(err, "store unavailable: the etcd helper %s",
			       errno == ETIMEDOUT ? "did not answer in time"
						  : "stopped or answered out of turn");
		return -1;
	}
	if (tag == 'R' && read_answer(payload, plen, reply) == 0) {
		r = 0;
	} else if (tag == 'E') {
		read_failure(payload, failure, err);
	} else {
		h->broken = 1;
		sesame_etcd_reply_free(reply);
		sesame_err_set(err, "store unavailable: the etcd helper answered out of turn");
	}
	sesame_wipe(payload, plen);
	free(payload);
	return r;
}

/* "C": "STATE_DIR\n" then the settings as key=value lines. */
static int send_settings(struct helper *h, const struct sesame_etcd_config *cfg,
			 const char *state_dir, struct sesame_err *err)
{
	char *settings = sesame_etcd_config_format(cfg), head[SESAME_ETCD_FILE_MAX + 2];
	int n = snprintf(head, sizeof(head), "%s\n", state_dir), r = -1;

	if (settings != NULL && n < (int)sizeof(head) &&
	    sesame_etcd_wire_send(h->fd, 'C', head, (size_t)n, settings, strlen(settings),
				  sesame_etcd_now_ms() + h->timeout_ms) == 0)
		r = 0;
	else
		sesame_err_set(err, "store unavailable: cannot hand the settings to the etcd "
			       "helper");
	free(settings);
	return r;
}

/* The daemon when it is there; when it is not (no socket, nobody
 * listening) a helper of our own. Once connected, there is no second
 * try: every later failure is "store unavailable". */
static int connect_or_spawn(struct helper *h, const struct sesame_etcd_config *cfg,
			    struct sesame_err *err)
{
	int r = sesame_etcd_socket_connect(cfg->helper_socket,
					   sesame_etcd_now_ms() + h->timeout_ms, &h->fd, err);

	if (r < 0)
		return -1;
	if (r > 0) {
		sesame_etcd_wire_init(&h->wire, h->fd);
		return 0;
	}
	h->borrowed_sigchld = sesame_borrow_sigchld(&h->old_sigchld);
	return spawn(h, cfg->helper, err);
}

int sesame_etcd_open(struct sesame_etcd **out, const struct sesame_etcd_config *cfg,
		     const char *state_dir, struct sesame_err *err)
{
	struct sesame_etcd_transport t = {helper_call, helper_close, NULL};
	struct helper *h;

	*out = NULL;
	if (sesame_etcd_config_validate(cfg, err) != 0)
		return -1;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	h->fd = -1;
	h->pid = -1;
	h->timeout_ms = cfg->timeout_ms;
	if (connect_or_spawn(h, cfg, err) != 0 || send_settings(h, cfg, state_dir, err) != 0) {
		h->broken = 1;
		helper_close(h);
		return -1;
	}
	t.ctx = h;
	return sesame_etcd_open_transport(out, &t, cfg->prefix, err);
}
