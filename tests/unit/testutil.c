#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

struct sesame_token test_token(unsigned bucket, uint32_t seq, uint32_t issued, uint8_t uses)
{
	struct sesame_token t;

	memset(&t, 0, sizeof(t));
	t.uid = TEST_UID;
	t.issued = issued;
	t.lifetime = TEST_LIFETIME;
	t.uses = uses;
	t.id[0] = (uint8_t)(bucket >> 4);
	t.id[1] = (uint8_t)((bucket & 0xf) << 4);
	t.id[2] = (uint8_t)(seq >> 24);
	t.id[3] = (uint8_t)(seq >> 16);
	t.id[4] = (uint8_t)(seq >> 8);
	t.id[5] = (uint8_t)seq;
	return t;
}

int test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own descriptor */
}

int test_failures;
int test_checks;

const char *test_tmpdir(const char *tag)
{
	static char path[4096];
	const char *base = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/sesame-%s-XXXXXX", base ? base : "/tmp", tag);
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int test_finish(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, test_checks - test_failures, test_failures);
	return test_failures == 0 ? 0 : 1;
}
