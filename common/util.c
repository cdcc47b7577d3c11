#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util.h"

void sesame_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void sesame_free_str(char *s)
{
	if (s == NULL)
		return;
	sesame_wipe(s, strlen(s));
	free(s);
}

int sesame_check_fd(int fd, enum sesame_file_kind kind, int private_mode, int allow_root_owner,
		    const char *what, const char *path, struct sesame_err *err)
{
	struct stat st;
	mode_t forbidden = private_mode ? (S_IRWXG | S_IRWXO) : (S_IWGRP | S_IWOTH);

	if (fstat(fd, &st) != 0) {
		sesame_err_set(err, "%s %s: cannot stat: %s", what, path, strerror(errno));
		return -1;
	}
	if (kind == SESAME_FILE_REGULAR && !S_ISREG(st.st_mode)) {
		sesame_err_set(err, "%s %s: not a regular file", what, path);
		return -1;
	}
	if (kind == SESAME_FILE_DIRECTORY && !S_ISDIR(st.st_mode)) {
		sesame_err_set(err, "%s %s: not a directory", what, path);
		return -1;
	}
	if (st.st_uid != geteuid() && !(allow_root_owner && st.st_uid == 0)) {
		sesame_err_set(err, "%s %s: owned by uid %u, expected %u", what, path,
			       (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	/* A second name would let whoever made it read or change the secret
	 * or state through a path we never check. */
	if (private_mode && kind == SESAME_FILE_REGULAR && st.st_nlink != 1) {
		sesame_err_set(err, "%s %s: has %lu hard links, expected 1", what, path,
			       (unsigned long)st.st_nlink);
		return -1;
	}
	if (st.st_mode & forbidden) {
		sesame_err_set(err, "%s %s: mode %04o gives group or other %s access", what, path,
			       (unsigned)(st.st_mode & 07777), private_mode ? "any" : "write");
		return -1;
	}
	return 0;
}

int sesame_open_checked(const char *path, int flags, enum sesame_file_kind kind, int private_mode,
			int allow_root_owner, const char *what, struct sesame_err *err)
{
	int fd;
	int saved;

	/* O_NONBLOCK: a FIFO planted where a file belongs must not hang a
	 * login; it has no effect on regular files and directories. */
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		saved = errno;
		if (saved == ELOOP)
			sesame_err_set(err, "%s %s: is a symbolic link", what, path);
		else
			sesame_err_set(err, "%s %s: %s", what, path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (sesame_check_fd(fd, kind, private_mode, allow_root_owner, what, path, err) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int sesame_read_fd(int fd, size_t max, char **out, size_t *len, const char *what,
		   const char *path, struct sesame_err *err)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	if (buf == NULL) {
		sesame_err_set(err, "%s %s: out of memory", what, path);
		return -1;
	}
	for (;;) {
		if (used == cap) {
			char *bigger;
			if (cap >= max)
				goto too_big;
			bigger = malloc(cap * 2 + 1);
			if (bigger == NULL)
				goto nomem;
			memcpy(bigger, buf, used);
			sesame_wipe(buf, used);
			free(buf);
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sesame_err_set(err, "%s %s: read: %s", what, path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max)
		goto too_big;
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
too_big:
	sesame_err_set(err, "%s %s: larger than %zu bytes", what, path, max);
	goto fail;
nomem:
	sesame_err_set(err, "%s %s: out of memory", what, path);
fail:
	sesame_wipe(buf, used);
	free(buf);
	return -1;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Directory part of path, for the fsync that makes a rename durable. */
static void dir_of(const char *path, char *dir, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, n, ".");
	else if (slash == path)
		snprintf(dir, n, "/");
	else
		snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* fsync the directory holding path: what makes a new name durable. */
static int sync_dir_of(const char *path, const char *what, struct sesame_err *err)
{
	char dir[PATH_MAX];
	int dfd, r = -1;

	dir_of(path, dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && fsync(dfd) == 0)
		r = 0;
	else
		sesame_err_set(err, "%s %s: cannot sync directory %s: %s", what, path, dir,
			       strerror(errno));
	if (dfd >= 0)
		close(dfd);
	return r;
}

int sesame_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			const char *what, struct sesame_err *err)
{
	char tmp[PATH_MAX];
	int fd = -1, r = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		sesame_err_set(err, "%s %s: path too long", what, path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		sesame_err_set(err, "%s %s: cannot create %s: %s", what, path, tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		sesame_err_set(err, "%s %s: cannot write %s: %s", what, path, tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		sesame_err_set(err, "%s %s: cannot rename: %s", what, path, strerror(errno));
		goto out;
	}
	r = sync_dir_of(path, what, err);
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		unlink(tmp); /* harmless when already renamed: tmp no longer exists */
	return r;
}

int sesame_write_new(const char *path, const void *data, size_t len, mode_t mode,
		     const char *what, struct sesame_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int r = -1;

	if (fd < 0) {
		sesame_err_set(err, "%s %s: cannot create: %s", what, path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		sesame_err_set(err, "%s %s: cannot write: %s", what, path, strerror(errno));
		goto out;
	}
	r = sync_dir_of(path, what, err);
out:
	close(fd);
	if (r != 0)
		unlink(path); /* we created it (O_EXCL): a half-made file must not stay */
	return r;
}

int sesame_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sesame_parse_duration(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v;
	int64_t mult = 1;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > INT64_MAX / mult || v * mult > (int64_t)100 * 365 * 86400)
		return -1;
	*out = (int64_t)v * mult;
	return 0;
}

void sesame_format_duration(int64_t secs, char *buf, size_t n)
{
	if (secs > 0 && secs % 86400 == 0)
		snprintf(buf, n, "%" PRId64 "d", secs / 86400);
	else if (secs > 0 && secs % 3600 == 0)
		snprintf(buf, n, "%" PRId64 "h", secs / 3600);
	else if (secs > 0 && secs % 60 == 0)
		snprintf(buf, n, "%" PRId64 "m", secs / 60);
	else
		snprintf(buf, n, "%" PRId64 "s", secs);
}

int sesame_parse_bool(const char *s, int *out)
{
	if (s == NULL)
		return -1;
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	return -1;
}

int sesame_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int sesame_borrow_sigchld(struct sigaction *saved)
{
	struct sigaction dfl;

	if (sigaction(SIGCHLD, NULL, saved) != 0)
		return 0;
	if (saved->sa_handler != SIG_IGN && !(saved->sa_flags & SA_NOCLDWAIT))
		return 0;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	return sigaction(SIGCHLD, &dfl, NULL) == 0;
}

/* Past this many, a close() each in the child is too slow: fail instead. */
#define FD_WALK_MAX (1L << 20)

/* The highest open descriptor + 1, from /proc/self/fd; -1 unreadable. */
static long highest_open_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long top = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (e->d_name[0] != '.' && *end == '\0' && fd > top)
			top = fd;
	}
	closedir(d);
	return top + 1;
}

long sesame_fd_limit(void)
{
	long top = highest_open_fd();
	struct rlimit rl;

	if (top > 0)
		return top;
	/* No /proc: descriptors opened before a lowered limit could lie
	 * above it, but nothing better is known. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur <= (rlim_t)FD_WALK_MAX)
		return (long)rl.rlim_cur;
	return -1;
}

int sesame_close_fds_below(int keep, long max_fd)
{
	if (max_fd < 0) {
		errno = EMFILE;
		return -1;
	}
	for (long fd = STDERR_FILENO + 1; fd < max_fd; fd++)
		if (fd != keep)
			close((int)fd);
	return 0;
}

int sesame_close_fds_except(int keep, long max_fd)
{
	int r = 0;

	if (keep > STDERR_FILENO)
		r = close_range(STDERR_FILENO + 1, (unsigned)keep - 1, 0);
	if (r == 0)
		r = close_range(keep > STDERR_FILENO ? (unsigned)keep + 1 : STDERR_FILENO + 1,
				~0U, 0);
	return r == 0 ? 0 : sesame_close_fds_below(keep, max_fd);
}
