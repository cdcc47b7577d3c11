/* The store's durable writes, counted: a redemption costs one fdatasync
 * and no fsync in every state a store is in (fresh, after gc, upgraded
 * from 0.1 and gc'd), and only a store nobody prepared pays the directory
 * syncs, once per bucket. And a gc that cannot sync a directory leaves the
 * buckets it renamed unavailable until a sync succeeds, also after gc has
 * exited. fsync and fdatasync are wrapped at link time
 * (-Wl,--wrap=fsync,--wrap=fdatasync) to count them and to fail directory
 * syncs on demand. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

#define UID TEST_UID
#define ISSUED 1000000u
#define LIFETIME TEST_LIFETIME
#define NOW ((int64_t)ISSUED + 1)
#define GRACE SESAME_STORE_GRACE

int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);

static int n_fsync, n_fdatasync;
static ino_t fail_dir_sync; /* fail fsync of the directory with this inode */
static char root[1024], state[1100];

int __wrap_fsync(int fd)
{
	struct stat sb;

	n_fsync++;
	if (fail_dir_sync != 0 && fstat(fd, &sb) == 0 && sb.st_ino == fail_dir_sync) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
	n_fdatasync++;
	return __real_fdatasync(fd);
}

/* Redeem t at now and check the syncs it cost. */
static void redeem_costs(struct sesame_store *st, const struct sesame_token *t, int64_t now,
			 int fsyncs, int fdatasyncs, const char *state_name)
{
	struct sesame_err err = { "" };
	enum sesame_reason r;

	n_fsync = 0;
	n_fdatasync = 0;
	r = sesame_store_redeem(st, t, NULL, now, &err);
	CHECK_EQ_INT(r, SESAME_OK);
	if (r != SESAME_OK)
		fprintf(stderr, "%s: %s\n", state_name, err.msg);
	if (n_fsync != fsyncs || n_fdatasync != fdatasyncs)
		fprintf(stderr, "%s: %d fsync, %d fdatasync; expected %d, %d\n", state_name,
			n_fsync, n_fdatasync, fsyncs, fdatasyncs);
	CHECK_EQ_INT(n_fsync, fsyncs);
	CHECK_EQ_INT(n_fdatasync, fdatasyncs);
}

static void open_at(struct sesame_store *st, const char *name, int create)
{
	struct sesame_err err = { "" };

	snprintf(state, sizeof(state), "%s/%s", root, name);
	CHECK_EQ_INT(sesame_store_open_file(st, state, create, &err), 0);
}

static void gc_at(struct sesame_store *st, int64_t now)
{
	struct sesame_err err = { "" };

	CHECK_EQ_INT(sesame_store_gc(st, now, NULL, &err), 0);
	if (err.msg[0] != '\0')
		fprintf(stderr, "gc: %s\n", err.msg);
}

/* A store made by sesame_store_open_file(create), as the CLI makes it: every
 * redemption is one fdatasync, from the first one on, and still after gc
 * emptied buckets (truncated) or kept some records (renamed). */
static void test_one_write_prepared(void)
{
	struct sesame_store st;
	const int64_t later = (int64_t)ISSUED + LIFETIME + GRACE;

	open_at(&st, "prepared", 1);
	for (unsigned b = 0; b < 64; b++) {
		struct sesame_token t = test_token(b * 61, 1, ISSUED, 1);
		redeem_costs(&st, &t, NOW, 0, 1, "fresh store");
	}
	{ /* a live record beside the dead ones in bucket 0: gc renames it */
		struct sesame_token t = test_token(0, 2, (uint32_t)later - 10, 1);
		redeem_costs(&st, &t, later - 5, 0, 1, "fresh store");
	}
	gc_at(&st, later);
	for (unsigned b = 0; b < 64; b++) {
		struct sesame_token t = test_token(b * 61, 3, (uint32_t)later, 1);
		redeem_costs(&st, &t, later + 1, 0, 1, "after gc");
	}
	sesame_store_close(&st);
}

/* A store made by install -d, opened as the module opens it: correct,
 * only the first redemption in a bucket also syncs the two directories
 * holding the new file. The next gc prepares it. */
static void test_unprepared(void)
{
	struct sesame_store st;

	snprintf(state, sizeof(state), "%s/install-d", root);
	CHECK_EQ_INT(mkdir(state, 0700), 0);
	open_at(&st, "install-d", 0);
	{
		struct sesame_token t = test_token(0x123, 1, ISSUED, 1);
		struct sesame_token u = test_token(0x124, 1, ISSUED, 1);
		struct sesame_token v = test_token(0x123, 2, ISSUED, 1);
		/* makes uses/ (a state_dir sync) and the bucket (two more) */
		redeem_costs(&st, &t, NOW, 3, 1, "unprepared store, first redemption");
		redeem_costs(&st, &u, NOW, 2, 1, "unprepared store, new bucket");
		redeem_costs(&st, &v, NOW, 0, 1, "unprepared store, same bucket");
	}
	gc_at(&st, NOW);
	{
		struct sesame_token t = test_token(0x456, 1, ISSUED, 1);
		redeem_costs(&st, &t, NOW, 0, 1, "unprepared store after gc");
	}
	sesame_store_close(&st);
}

/* gc renames a bucket, its directory sync fails, gc exits. The bucket is
 * unavailable to redemptions until a directory sync succeeds (done by the
 * next redemption itself once the disk is back); others are unaffected. */
static void test_gc_failed_dir_sync(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	const int64_t later = (int64_t)ISSUED + LIFETIME + GRACE;
	struct sesame_token dead = test_token(0x0aa, 1, ISSUED, 1);
	struct sesame_token live = test_token(0x0aa, 2, (uint32_t)later, 1);
	struct sesame_token next = test_token(0x0aa, 3, (uint32_t)later, 1);
	struct sesame_token elsewhere = test_token(0x0bb, 1, (uint32_t)later, 1);
	char uses[1200];
	struct stat sb;
	int status = 0;
	pid_t pid;

	open_at(&st, "gc-dir-sync", 1);
	snprintf(uses, sizeof(uses), "%s/uses", state);
	CHECK_EQ_INT(stat(uses, &sb), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &dead, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, NULL, later, &err), SESAME_OK);
	pid = fork();
	if (pid == 0) {
		fail_dir_sync = sb.st_ino;
		err.msg[0] = '\0';
		if (sesame_store_gc(&st, later + 1, NULL, &err) != -1 ||
		    strstr(err.msg, "cannot sync") == NULL)
			_exit(1);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	fail_dir_sync = sb.st_ino; /* the disk still fails: no success may rest on that rename */
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &next, NULL, later + 2, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "cannot sync") != NULL);
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, NULL, later + 2, &err), SESAME_USED_UP);
	fail_dir_sync = 0;
	redeem_costs(&st, &elsewhere, later + 2, 0, 1, "another bucket");
	redeem_costs(&st, &next, later + 2, 2, 1, "after the failed sync");
	CHECK_EQ_INT(sesame_store_redeem(&st, &next, NULL, later + 2, &err), SESAME_USED_UP);
	{
		struct sesame_token again = test_token(0x0aa, 4, (uint32_t)later, 1);
		redeem_costs(&st, &again, later + 2, 0, 1, "once synced");
	}
	sesame_store_close(&st);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s", test_tmpdir("store-sync"));
	test_one_write_prepared();
	test_unprepared();
	test_gc_failed_dir_sync();
	test_rmtree(root);
	return test_finish("store-sync");
}
