/* A preload shim for the etcd-daemon suite: the first
 * SESAME_TEST_FAIL_FORKS calls of fork() in the process fail with EAGAIN
 * (as when the host is out of processes), the later ones fork. Shows that
 * `sesame-etcd --serve` fills a worker slot whose fork failed. Test-only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

pid_t fork(void)
{
	static long to_fail = -1;
	pid_t (*real_fork)(void) = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
	const char *n;

	if (to_fail < 0) {
		n = getenv("SESAME_TEST_FAIL_FORKS");
		to_fail = n != NULL ? strtol(n, NULL, 10) : 0;
	}
	if (to_fail > 0 || real_fork == NULL) {
		to_fail--;
		errno = EAGAIN;
		return -1;
	}
	return real_fork();
}
