/* `sesame-etcd --serve`: a parent that owns the listening socket (passed
 * by systemd, or made here: directory 0700, socket 0600, both root's),
 * and a few pre-forked workers that accept on it (worker.c). The parent
 * does nothing but keep every worker slot filled (a worker that died, a
 * fork that failed) and, on SIGTERM or SIGINT,
 * stop them all and exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "etcd_wire.h"
#include "util.h"
#include "worker.h"

#ifndef SESAME_ETCD_SOCKET_PATH
#define SESAME_ETCD_SOCKET_PATH "/run/sesame/etcd.sock"
#endif
/* sd_listen_fds(3): the first passed descriptor. */
#define LISTEN_FDS_START 3
/* A worker that dies sooner than this after its start, or a fork that
 * failed, is started again this long after. */
#define RESTART_PAUSE_MS 1000
#define STOP_WAIT_MS 5000

int sesame_daemon_parse(struct sesame_daemon_options *opt, int argc, char **argv)
{
	unsigned long n;

	memset(opt, 0, sizeof(*opt));
	snprintf(opt->socket, sizeof(opt->socket), "%s", SESAME_ETCD_SOCKET_PATH);
	opt->workers = SESAME_DAEMON_WORKERS_DEFAULT;
	opt->idle_sec = SESAME_DAEMON_IDLE_DEFAULT;
	if (argc < 2 || strcmp(argv[1], "--serve") != 0)
		return -1;
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--socket") == 0) {
			if (argv[i + 1][0] != '/' || strlen(argv[i + 1]) >= sizeof(opt->socket))
				return -1;
			snprintf(opt->socket, sizeof(opt->socket), "%s", argv[i + 1]);
		} else if (strcmp(argv[i], "--workers") == 0) {
			if (sesame_parse_uint(argv[i + 1], 1, SESAME_DAEMON_WORKERS_MAX, &n) != 0)
				return -1;
			opt->workers = (int)n;
		} else if (strcmp(argv[i], "--session-idle") == 0) {
			if (sesame_parse_uint(argv[i + 1], 1, SESAME_DAEMON_IDLE_MAX, &n) != 0)
				return -1;
			opt->idle_sec = (int)n;
		} else {
			return -1;
		}
	}
	return 0;
}

/* systemd's socket (sesame-etcd.socket), when it passed exactly one. */
static int passed_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;
	int fd = -1;

	if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid() &&
	    strcmp(fds, "1") == 0 && fstat(LISTEN_FDS_START, &st) == 0 && S_ISSOCK(st.st_mode))
		fd = LISTEN_FDS_START;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	return fd;
}

/* The directory: made 0700, or there already, root's and writable by no
 * one else (callers check the same before they trust the socket). */
static int check_directory(const char *path)
{
	char dir[SESAME_ETCD_SOCKET_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "sesame-etcd: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		fprintf(stderr, "sesame-etcd: %s must be a directory of root's that no one else "
			"may write\n", dir);
		return -1;
	}
	return 0;
}

/* A socket left by a daemon that is gone: nobody answers on it. */
static int remove_stale(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int probe, r;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "sesame-etcd: %s exists and is no socket\n", path);
		return -1;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -1;
	r = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
	close(probe);
	if (r == 0) {
		fprintf(stderr, "sesame-etcd: another daemon serves %s\n", path);
		return -1;
	}
	return unlink(path);
}

static int make_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, r;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (check_directory(path) != 0 || remove_stale(path, &addr) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r != 0 || chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "sesame-etcd: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct pool {
	int listen_fd;
	int n;
	int64_t idle_ms;
	pid_t pid[SESAME_DAEMON_WORKERS_MAX]; /* <= 0: the slot is empty */
	int64_t started_ms[SESAME_DAEMON_WORKERS_MAX];
	int64_t due_ms[SESAME_DAEMON_WORKERS_MAX]; /* an empty slot's next start */
	sigset_t caught; /* blocked in the parent, default again in a worker */
};

static void start_worker(struct pool *p, int i, int64_t now)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &p->caught, NULL);
		/* exit, not _exit: a worker is a process of its own (and
		 * LeakSanitizer checks it at exit) */
		exit(sesame_worker_run(p->listen_fd, p->idle_ms));
	}
	p->pid[i] = pid;
	p->started_ms[i] = now;
	if (pid < 0) {
		/* Out of processes or memory: the supervisor tries again
		 * (a socket with no worker would hold every caller until
		 * its deadline, with no fallback). */
		fprintf(stderr, "sesame-etcd: fork: %s; trying again in %d ms\n", strerror(errno),
			RESTART_PAUSE_MS);
		p->due_ms[i] = now + RESTART_PAUSE_MS;
	}
}

/* Start each empty slot that is due. 1 when a slot stays empty. */
static int fill_slots(struct pool *p)
{
	int64_t now = sesame_etcd_now_ms();
	int empty = 0;

	for (int i = 0; i < p->n; i++) {
		if (p->pid[i] <= 0 && now >= p->due_ms[i])
			start_worker(p, i, now);
		empty |= p->pid[i] <= 0;
	}
	return empty;
}

/* Reap whoever died. A worker that dies sooner than RESTART_PAUSE_MS
 * after its start is restarted only after that: one that dies at once
 * does not make the parent spin, and the parent never sleeps (SIGTERM
 * is handled at once). */
static void reap_dead(struct pool *p)
{
	int64_t now = sesame_etcd_now_ms();
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < p->n; i++) {
			if (p->pid[i] != pid)
				continue;
			fprintf(stderr, "sesame-etcd: worker %ld %s %d; starting another\n",
				(long)pid, WIFSIGNALED(status) ? "killed by signal" : "exited with",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			p->pid[i] = -1;
			p->due_ms[i] = p->started_ms[i] + RESTART_PAUSE_MS;
			if (p->due_ms[i] < now)
				p->due_ms[i] = now;
		}
	}
}

static void stop_all(struct pool *p)
{
	int64_t deadline = sesame_etcd_now_ms() + STOP_WAIT_MS;
	int left = 0;

	for (int i = 0; i < p->n; i++)
		if (p->pid[i] > 0 && kill(p->pid[i], SIGTERM) == 0)
			left++;
	while (left > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			left--;
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		if (sesame_etcd_now_ms() >= deadline) {
			for (int i = 0; i < p->n; i++)
				if (p->pid[i] > 0)
					kill(p->pid[i], SIGKILL);
			while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
				;
			break;
		}
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
	}
}

/* Wait for a signal; while a slot is empty, wake at least every
 * RESTART_PAUSE_MS to fill it (a fork that failed sends no SIGCHLD). */
static int supervise(struct pool *p)
{
	const struct timespec tick = {RESTART_PAUSE_MS / 1000, (RESTART_PAUSE_MS % 1000) * 1000000L};
	siginfo_t info;

	for (;;) {
		int empty = fill_slots(p);
		int sig = empty ? sigtimedwait(&p->caught, &info, &tick)
				: sigwaitinfo(&p->caught, &info);

		if (sig == SIGCHLD)
			reap_dead(p);
		else if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	stop_all(p);
	return 0;
}

int sesame_daemon_run(const struct sesame_daemon_options *opt)
{
	struct pool *p = calloc(1, sizeof(*p));
	int made = 0, r = 1;

	if (p == NULL)
		return 1;
	p->listen_fd = -1;
	if (geteuid() != 0) {
		fputs("sesame-etcd: --serve runs as root (it checks that its callers are)\n", stderr);
		goto out;
	}
	sigemptyset(&p->caught);
	sigaddset(&p->caught, SIGCHLD);
	sigaddset(&p->caught, SIGTERM);
	sigaddset(&p->caught, SIGINT);
	sigprocmask(SIG_BLOCK, &p->caught, NULL);
	p->listen_fd = passed_socket();
	if (p->listen_fd < 0) {
		p->listen_fd = make_socket(opt->socket);
		made = p->listen_fd >= 0;
	}
	/* Workers wait in ppoll and accept without blocking: one gets each
	 * connection, the others go back to waiting. */
	if (p->listen_fd < 0 ||
	    fcntl(p->listen_fd, F_SETFL, fcntl(p->listen_fd, F_GETFL) | O_NONBLOCK) != 0)
		goto out;
	p->n = opt->workers;
	p->idle_ms = (int64_t)opt->idle_sec * 1000;
	fprintf(stderr, "sesame-etcd: serving on %s with %d workers\n",
		made ? opt->socket : "the socket systemd passed", p->n);
	r = supervise(p);
	if (made)
		unlink(opt->socket);
out:
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	free(p);
	return r;
}
