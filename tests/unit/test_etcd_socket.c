/* The way to `sesame-etcd --serve` (common/etcd_socket.c): when a caller
 * falls back to a helper of its own, when it refuses the socket, and what
 * it connects to; the etcd_helper_socket key; and the descriptor closing
 * both children do before exec (sesame_close_fds_except). The daemon
 * itself runs against a cluster in tests/fleet/daemon.bats. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd_config.h"
#include "etcd_socket.h"
#include "etcd_wire.h"
#include "testutil.h"

static int connect_to(const char *path, int *fd, struct sesame_err *err)
{
	memset(err, 0, sizeof(*err));
	return sesame_etcd_socket_connect(path, sesame_etcd_now_ms() + 1000, fd, err);
}

/* A socket at path; listening or only bound (nobody accepts). */
static int make_socket(const char *path, int listening)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(path, 0600) != 0 || (listening && listen(fd, 4) != 0)) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void test_no_daemon(void)
{
	struct sesame_err err;
	int fd = 7;

	/* none, nothing there: the caller starts its own helper */
	CHECK_EQ_INT(connect_to("", &fd, &err), 0);
	CHECK_EQ_INT(fd, -1);
	CHECK_EQ_INT(connect_to("/nonexistent-sesame/etcd.sock", &fd, &err), 0);
	/* a "directory" that is something else: refused, not skipped */
	CHECK_EQ_INT(connect_to("/dev/null/etcd.sock", &fd, &err), -1);
}

static void test_refused(const char *dir)
{
	char sock[256];
	struct sesame_err err;
	int fd, listener;

	snprintf(sock, sizeof(sock), "%s/etcd.sock", dir);
	listener = make_socket(sock, 1);
	/* a directory others may write: refused, whoever we are */
	chmod(dir, 0777);
	CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
	CHECK(strstr(err.msg, "store unavailable: etcd helper socket") != NULL);
	CHECK(strstr(err.msg, "the directory must be root's and writable by no one else") != NULL);
	chmod(dir, 0700);
	if (geteuid() != 0) {
		/* our own directory is not root's */
		CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
		close(listener);
		return;
	}
	chmod(sock, 0666);
	CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
	CHECK(strstr(err.msg, "the socket must be root's") != NULL);
	chmod(sock, 0620);
	CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
	chmod(sock, 0600);
	CHECK(chown(sock, 65534, 0) == 0);
	CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
	CHECK(chown(sock, 0, 0) == 0);
	/* root's alone, root listening: connected, close-on-exec */
	CHECK_EQ_INT(connect_to(sock, &fd, &err), 1);
	CHECK(fd > STDERR_FILENO && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	close(fd);
	close(listener);
	unlink(sock);
	/* bound but nobody listening (a daemon that is gone): fall back */
	listener = make_socket(sock, 0);
	CHECK_EQ_INT(connect_to(sock, &fd, &err), 0);
	close(listener);
	unlink(sock);
	/* not a socket at all */
	close(open(sock, O_WRONLY | O_CREAT | O_EXCL, 0600));
	CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
	unlink(sock);
}

/* A listener that is not root: refused after connecting. */
static void test_peer_not_root(const char *dir)
{
	char sock[256];
	struct sesame_err err;
	int ready[2], fd = -1, status;
	pid_t pid;

	if (geteuid() != 0)
		return;
	snprintf(sock, sizeof(sock), "%s/peer.sock", dir);
	CHECK(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		/* bind as root (the path stays root's), listen as nobody:
		 * SO_PEERCRED names who called listen */
		int l = make_socket(sock, 0);

		if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0 ||
		    listen(l, 4) != 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	CHECK(read(ready[0], &status, 1) == 1);
	close(ready[0]);
	CHECK_EQ_INT(connect_to(sock, &fd, &err), -1);
	CHECK(strstr(err.msg, "not served by root") != NULL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	unlink(sock);
}

static void test_config_key(void)
{
	struct sesame_etcd_config c, back;
	struct sesame_err err;
	char *text, longpath[200];

	sesame_etcd_config_defaults(&c);
	CHECK(strcmp(c.helper_socket, "/run/sesame/etcd.sock") == 0);
	CHECK_EQ_INT(sesame_etcd_config_set(&c, "etcd_helper_socket", "relative.sock", &err), -2);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	CHECK_EQ_INT(sesame_etcd_config_set(&c, "etcd_helper_socket", longpath, &err), -2);
	CHECK(strcmp(c.helper_socket, "/run/sesame/etcd.sock") == 0);
	CHECK_EQ_INT(sesame_etcd_config_set(&c, "etcd_helper_socket", "none", &err), 0);
	CHECK(c.helper_socket[0] == '\0');
	/* "none" reaches the helper as none, not as the default */
	text = sesame_etcd_config_format(&c);
	CHECK(text != NULL && sesame_etcd_config_parse(&back, text, &err) == 0);
	CHECK(back.helper_socket[0] == '\0');
	free(text);
	CHECK_EQ_INT(sesame_etcd_config_set(&c, "etcd_helper_socket", "/run/x/etcd.sock", &err), 0);
	CHECK(strcmp(c.helper_socket, "/run/x/etcd.sock") == 0);
}

/* In a child: keep 0-2 and keep, close the rest, on either path. */
static void test_close_fds(void)
{
	int status, fds[4];
	pid_t pid;

	for (int i = 0; i < 4; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	pid = fork();
	if (pid == 0) {
		int bad = 0;

		sesame_close_fds_except(fds[1], sesame_fd_limit());
		for (int i = 0; i < 4; i++)
			bad |= (fcntl(fds[i], F_GETFD) >= 0) != (i == 1);
		bad |= fcntl(STDERR_FILENO, F_GETFD) < 0;
		_exit(bad);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(sesame_fd_limit() > fds[3]);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

/* Without close_range (kernels before 5.9), the fallback: a descriptor
 * above RLIMIT_NOFILE (opened before the limit was lowered; the bound
 * used to be that limit, at most 65536) is closed too, since the bound
 * is the highest open one; an unbounded one refuses (no exec). */
static void test_close_fds_fallback(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int bad = 0, low = open("/dev/null", O_RDONLY), keep = dup(low), high;
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY)
			_exit(2);
		rl.rlim_cur = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
		high = (int)rl.rlim_cur - 1;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || dup2(low, high) != high)
			_exit(3);
		rl.rlim_cur = 64;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(4);
		bad |= sesame_fd_limit() <= high;
		bad |= sesame_close_fds_below(keep, -1) != -1 || errno != EMFILE;
		bad |= sesame_close_fds_below(keep, sesame_fd_limit()) != 0;
		bad |= fcntl(high, F_GETFD) >= 0 || fcntl(low, F_GETFD) >= 0;
		bad |= fcntl(keep, F_GETFD) < 0 || fcntl(STDERR_FILENO, F_GETFD) < 0;
		_exit(bad);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

int main(void)
{
	const char *dir = test_tmpdir("etcd-socket");

	test_no_daemon();
	test_refused(dir);
	test_peer_not_root(dir);
	test_config_key();
	test_close_fds();
	test_close_fds_fallback();
	test_rmtree(dir);
	return test_finish("etcd-socket");
}
