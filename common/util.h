/* Small helpers used across common/, the module and the CLI. */
#ifndef SESAME_UTIL_H
#define SESAME_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"

/* Wipe a buffer in a way the compiler cannot drop. */
void sesame_wipe(void *p, size_t n);

/* Wipe and free a NUL-terminated string; NULL is fine. */
void sesame_free_str(char *s);

/* What a file holding secrets or state must look like. */
enum sesame_file_kind { SESAME_FILE_REGULAR, SESAME_FILE_DIRECTORY };

/* Check an open descriptor: right type, owned by the effective uid (or
 * root when allow_root_owner), and no access at all for group/other when
 * private (and, for a private regular file, exactly one hard link), else
 * no write access for group/other. `what` and `path` name
 * the file in the error: "key file /etc/security/sesame.key: ...". */
int sesame_check_fd(int fd, enum sesame_file_kind kind, int private_mode, int allow_root_owner,
		    const char *what, const char *path, struct sesame_err *err);

/* open(path, flags|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY) then sesame_check_fd.
 * Returns the fd, or -1 with err set. errno is preserved from open(). */
int sesame_open_checked(const char *path, int flags, enum sesame_file_kind kind, int private_mode,
			int allow_root_owner, const char *what, struct sesame_err *err);

/* Read a whole small file (at most max bytes) from fd into a fresh
 * NUL-terminated buffer. Returns 0 or -1 with err set. */
int sesame_read_fd(int fd, size_t max, char **out, size_t *len, const char *what,
		   const char *path, struct sesame_err *err);

/* Write data to path by temp file + fsync + rename + directory fsync.
 * The new file has the given mode and is created with O_EXCL. */
int sesame_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			const char *what, struct sesame_err *err);

/* Write data to a new file at path: created with O_EXCL (an existing file
 * is never replaced) and the given mode, then fsync of the file and of its
 * directory, so that the new name survives a crash. On failure the file
 * is removed. */
int sesame_write_new(const char *path, const void *data, size_t len, mode_t mode,
		     const char *what, struct sesame_err *err);

/* The value of one hex digit, either case, or -1. */
int sesame_hex_value(char c);

/* Parse a duration "90", "90s", "15m", "12h", "7d" into seconds.
 * Returns 0 or -1; rejects zero, negatives, overflow and junk. */
int sesame_parse_duration(const char *s, int64_t *out);

/* Format seconds as the largest exact unit: "15m", "7d", "90s". */
void sesame_format_duration(int64_t secs, char *buf, size_t n);

/* Parse "yes"/"no"/"true"/"false"/"1"/"0". Returns 0 or -1. */
int sesame_parse_bool(const char *s, int *out);

/* Parse a decimal unsigned integer in [min,max]. Returns 0 or -1. */
int sesame_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Before starting a child the caller will waitpid() for: waitpid() cannot
 * see a child that SIG_IGN or SA_NOCLDWAIT lets the kernel reap, so only
 * in those cases set the default disposition (as pam_unix does for its
 * helper); a caller's own handler is left alone. Returns 1 when it was
 * borrowed (restore *saved with sigaction afterwards), else 0. */
int sesame_borrow_sigchld(struct sigaction *saved);

/* For a child about to exec: the highest open descriptor + 1 (from
 * /proc/self/fd), else RLIMIT_NOFILE when it is at most 2^20; -1 when
 * neither bounds them. Computed in the parent before fork (neither is
 * async-signal-safe). */
long sesame_fd_limit(void);

/* In the child, between fork and exec (async-signal-safe): close every
 * descriptor above stderr but keep. close_range where the kernel has it
 * (5.9+), else sesame_close_fds_below. 0, or -1 (errno set) when some
 * may be left open: then do not exec (fail closed). */
int sesame_close_fds_except(int keep, long max_fd);

/* The fallback: close() each descriptor above stderr and below max_fd
 * but keep; -1 (EMFILE) when max_fd < 0, unbounded. */
int sesame_close_fds_below(int keep, long max_fd);

#endif
