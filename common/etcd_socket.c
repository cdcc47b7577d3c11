/* The caller's way to a running `sesame-etcd --serve`: one Unix
 * connection per store session, in place of starting a helper. Whoever
 * answers on that socket sees the settings and every request, so it is
 * trusted only when root put it there and root listens on it: the
 * directory and the socket are root's and writable by no one else (lstat,
 * before anything is sent), and the listener's SO_PEERCRED uid is 0. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "etcd_socket.h"
#include "etcd_wire.h"

/* 1 when path is there and root's, 0 when it is missing, -1 when it
 * belongs to someone else or others may write it (refused). */
static int root_owned(const char *path, mode_t type, const char *what, struct sesame_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		sesame_err_set(err, "store unavailable: etcd helper socket %s: %s", path,
			       strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IFMT) != type || st.st_uid != 0 || (st.st_mode & 022) != 0) {
		sesame_err_set(err, "store unavailable: etcd helper socket %s: the %s must be "
			       "root's and writable by no one else; not used", path, what);
		return -1;
	}
	return 1;
}

static int check_path(const char *path, struct sesame_err *err)
{
	char dir[SESAME_ETCD_SOCKET_MAX];
	int r;

	snprintf(dir, sizeof(dir), "%s", path);
	r = root_owned(dirname(dir), S_IFDIR, "directory", err);
	if (r <= 0)
		return r;
	return root_owned(path, S_IFSOCK, "socket", err);
}

/* A full backlog makes connect wait: SO_SNDTIMEO bounds that wait. */
static int connect_by(int fd, const char *path, int64_t deadline_ms)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int64_t left = deadline_ms - sesame_etcd_now_ms();
	struct timeval tv;
	int r;

	if (left < 1)
		left = 1;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	do
		r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	while (r != 0 && errno == EINTR);
	return r;
}

static int peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       len == sizeof(cred) && cred.uid == 0;
}

int sesame_etcd_socket_connect(const char *path, int64_t deadline_ms, int *out,
			       struct sesame_err *err)
{
	int fd = -1, r;

	*out = -1;
	if (path[0] == '\0' || strlen(path) >= SESAME_ETCD_SOCKET_MAX)
		return 0;
	r = check_path(path, err);
	if (r <= 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sesame_err_set(err, "store unavailable: etcd helper socket: %s", strerror(errno));
		return -1;
	}
	if (connect_by(fd, path, deadline_ms) != 0) {
		int e = errno;

		close(fd);
		/* Nothing listens (yet, or any more): the helper of our own. */
		if (e == ENOENT || e == ECONNREFUSED)
			return 0;
		sesame_err_set(err, "store unavailable: etcd helper socket %s: %s", path,
			       e == EAGAIN ? "every worker is busy" : strerror(e));
		return -1;
	}
	if (!peer_is_root(fd)) {
		close(fd);
		sesame_err_set(err, "store unavailable: etcd helper socket %s: not served by "
			       "root; not used", path);
		return -1;
	}
	*out = fd;
	return 1;
}
