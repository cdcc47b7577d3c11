/* The wrappers behind fuzz_faults.h, linked into the fuzz copy of the
 * module with ld --wrap=NAME for each NAME below, so that only the
 * module's own calls (and common/'s, linked into it) pass through here:
 * libpam, OpenSSL, libFuzzer and the sanitizers allocate and read as
 * usual. A failing call returns what libc returns on failure, with an
 * errno the caller may meet in real life (ENOMEM, EIO, ENOSPC). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fuzz_faults.h"

__attribute__((visibility("default"))) struct fuzz_faults fuzz_faults;

/* Should this call fail? Sets errno when it should. */
static int fail(const char *what, int err)
{
	struct fuzz_faults *f = &fuzz_faults;

	if (f->fail_at == 0)
		return 0;
	f->calls++;
	if (f->calls < f->fail_at || (f->calls > f->fail_at && !f->persistent))
		return 0;
	if (f->injected++ == 0)
		f->first = what;
	errno = err;
	return 1;
}

/* The wrapped functions' real versions and their wrappers; each wrapper
 * is declared once here, for -Wmissing-prototypes. */
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_open64(const char *path, int flags, ...);
int __real_openat64(int dirfd, const char *path, int flags, ...);
int __real___open64_2(const char *path, int flags);
int __real___openat64_2(int dirfd, const char *path, int flags);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __real_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fdatasync(int fd);
int __real_fsync(int fd);
int __real_rename(const char *from, const char *to);
int __real_renameat(int fromfd, const char *from, int tofd, const char *to);
int __real_mkdirat(int dirfd, const char *path, mode_t mode);
int __real_flock(int fd, int op);
int __real_ftruncate64(int fd, off_t len);
int __real_fstat64(int fd, struct stat *st);
int __real_fstatat64(int dirfd, const char *path, struct stat *st, int flags);
DIR *__real_fdopendir(int fd);

void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_open64(const char *path, int flags, ...);
int __wrap_openat64(int dirfd, const char *path, int flags, ...);
int __wrap___open64_2(const char *path, int flags);
int __wrap___openat64_2(int dirfd, const char *path, int flags);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_fdatasync(int fd);
int __wrap_fsync(int fd);
int __wrap_rename(const char *from, const char *to);
int __wrap_renameat(int fromfd, const char *from, int tofd, const char *to);
int __wrap_mkdirat(int dirfd, const char *path, mode_t mode);
int __wrap_flock(int fd, int op);
int __wrap_ftruncate64(int fd, off_t len);
int __wrap_fstat64(int fd, struct stat *st);
int __wrap_fstatat64(int dirfd, const char *path, struct stat *st, int flags);
DIR *__wrap_fdopendir(int fd);

void *__wrap_malloc(size_t n)
{
	return fail("malloc", ENOMEM) ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail("realloc", ENOMEM) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail("strdup", ENOMEM) ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail("strndup", ENOMEM) ? NULL : __real_strndup(s, n);
}

/* open's third argument is there only with O_CREAT or O_TMPFILE. */
static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int __wrap_open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return fail("open", EIO) ? -1 : __real_open64(path, flags, mode);
}

int __wrap_openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return fail("openat", EIO) ? -1 : __real_openat64(dirfd, path, flags, mode);
}

int __wrap___open64_2(const char *path, int flags)
{
	return fail("open", EIO) ? -1 : __real___open64_2(path, flags);
}

int __wrap___openat64_2(int dirfd, const char *path, int flags)
{
	return fail("openat", EIO) ? -1 : __real___openat64_2(dirfd, path, flags);
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	return fail("read", EIO) ? -1 : __real_read(fd, buf, n);
}

ssize_t __wrap_pread64(int fd, void *buf, size_t n, off_t off)
{
	return fail("pread", EIO) ? -1 : __real_pread64(fd, buf, n, off);
}

ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return fail("pwrite", ENOSPC) ? -1 : __real_pwrite64(fd, buf, n, off);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	return fail("write", ENOSPC) ? -1 : __real_write(fd, buf, n);
}

int __wrap_fdatasync(int fd)
{
	return fail("fdatasync", EIO) ? -1 : __real_fdatasync(fd);
}

int __wrap_fsync(int fd)
{
	return fail("fsync", EIO) ? -1 : __real_fsync(fd);
}

int __wrap_rename(const char *from, const char *to)
{
	return fail("rename", EIO) ? -1 : __real_rename(from, to);
}

int __wrap_renameat(int fromfd, const char *from, int tofd, const char *to)
{
	return fail("renameat", EIO) ? -1 : __real_renameat(fromfd, from, tofd, to);
}

int __wrap_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return fail("mkdirat", ENOSPC) ? -1 : __real_mkdirat(dirfd, path, mode);
}

int __wrap_flock(int fd, int op)
{
	return fail("flock", EIO) ? -1 : __real_flock(fd, op);
}

int __wrap_ftruncate64(int fd, off_t len)
{
	return fail("ftruncate", EIO) ? -1 : __real_ftruncate64(fd, len);
}

int __wrap_fstat64(int fd, struct stat *st)
{
	return fail("fstat", EIO) ? -1 : __real_fstat64(fd, st);
}

int __wrap_fstatat64(int dirfd, const char *path, struct stat *st, int flags)
{
	return fail("fstatat", EIO) ? -1 : __real_fstatat64(dirfd, path, st, flags);
}

DIR *__wrap_fdopendir(int fd)
{
	return fail("fdopendir", ENOMEM) ? NULL : __real_fdopendir(fd);
}
