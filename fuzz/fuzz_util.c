#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"

static char scratch[4096];

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_scratch(void)
{
	if (scratch[0] != '\0')
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* FUZZ_SCRATCH names a directory that is this run's alone (fuzz/run.sh
 * mounts a private tmpfs for it): the scratch path is then the same in
 * every run, so paths that reach messages and comparisons cannot make two
 * runs of one seed differ. Elsewhere, a fresh mkdtemp under $TMPDIR. */
static int make_scratch(const char *tag)
{
	const char *fixed = getenv("FUZZ_SCRATCH");
	const char *base = getenv("TMPDIR");

	if (fixed != NULL && *fixed != '\0') {
		snprintf(scratch, sizeof(scratch), "%s/%s", fixed, tag);
		return mkdir(scratch, 0700);
	}
	snprintf(scratch, sizeof(scratch), "%s/sesame-fuzz-%s-XXXXXX",
		 base != NULL && *base != '\0' ? base : "/tmp", tag);
	return mkdtemp(scratch) != NULL ? 0 : -1;
}

const char *fuzz_scratch_dir(const char *tag)
{
	if (scratch[0] != '\0')
		return scratch;
	if (make_scratch(tag) != 0) {
		perror(scratch);
		abort();
	}
	atexit(remove_scratch);
	return scratch;
}

void fuzz_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 || fchmod(fd, mode) != 0) {
		perror(path);
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

int fuzz_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return nlen > 0 && memmem(hay, hlen, needle, nlen) != NULL;
}

void fuzz_cut_named(const char *msg, const char *named, size_t nlen, char *out, size_t out_size)
{
	const char *at = NULL, *p = msg;

	while (nlen > 0 && (p = memmem(p, strlen(p), named, nlen)) != NULL)
		at = p++;
	if (at == NULL)
		snprintf(out, out_size, "%s", msg);
	else
		snprintf(out, out_size, "%.*s\n%s", (int)(at - msg), msg, at + nlen);
}

size_t fuzz_longest_hex_run(const char *s)
{
	size_t best = 0, run = 0;

	for (; *s != '\0'; s++) {
		run = isxdigit((unsigned char)*s) ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

void fuzz_fail(const char *why, const char *detail)
{
	fprintf(stderr, "fuzz invariant broken: %s\n%s%s", why, detail ? detail : "",
		detail ? "\n" : "");
	abort();
}
