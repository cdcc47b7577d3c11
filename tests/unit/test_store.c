/* The one-time-use store: counting, revocation, concurrency, gc, faults. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

#define UID 1000u
#define ISSUED 1000000u
#define LIFETIME 900u
#define EXPIRES ((int64_t)ISSUED + LIFETIME)
#define CHILD_BASE 100 /* exit code of a child = CHILD_BASE + reason */

static char root[1024];  /* this run's temporary directory */
static char state[1100]; /* the current test's state_dir */

/* A token whose id falls in `bucket` (0..4095), told apart by seq. */
static struct sesame_token tok(unsigned bucket, uint32_t seq, uint8_t uses)
{
	struct sesame_token t;

	memset(&t, 0, sizeof(t));
	t.uid = UID;
	t.issued = ISSUED;
	t.lifetime = LIFETIME;
	t.uses = uses;
	t.id[0] = (uint8_t)(bucket >> 4);
	t.id[1] = (uint8_t)((bucket & 0xf) << 4 | (seq >> 24 & 0xf));
	t.id[2] = (uint8_t)(seq >> 16);
	t.id[3] = (uint8_t)(seq >> 8);
	t.id[4] = (uint8_t)seq;
	t.id[5] = 0x5a;
	return t;
}

/* A fresh state_dir path for one test; the directory is not made. */
static const char *fresh_state(const char *name)
{
	snprintf(state, sizeof(state), "%s/%s", root, name);
	return state;
}

static void open_fresh(struct sesame_store *st, const char *name)
{
	struct sesame_err err = { "" };

	CHECK_EQ_INT(sesame_store_open(st, fresh_state(name), 1, &err), 0);
	if (err.msg[0] != '\0')
		fprintf(stderr, "open %s: %s\n", name, err.msg);
}

static char *bucket_path(char *buf, size_t n, unsigned bucket)
{
	snprintf(buf, n, "%s/uses/%03x", state, bucket);
	return buf;
}

static long long file_size(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* The on-disk record as store.c documents it, to plant records directly. */
static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static void encode(uint8_t out[32], uint8_t type, const uint8_t *id, uint32_t uid, int64_t time)
{
	uint32_t sum;

	memset(out, 0, 32);
	out[0] = type;
	if (id != NULL)
		memcpy(out + 1, id, 6);
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(uid >> (8 * i));
	for (int i = 0; i < 8; i++)
		out[16 + i] = (uint8_t)((uint64_t)time >> (8 * i));
	sum = fnv1a32(out, 28);
	for (int i = 0; i < 4; i++)
		out[28 + i] = (uint8_t)(sum >> (8 * i));
}

static void append_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(write(fd, data, len), (long long)len);
	close(fd);
}

/* --- snapshot of a tree, to show a refused operation changed nothing --- */

static char snap_buf[1 << 16];
static size_t snap_len;

static int snap_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	char link[256] = "";
	uint32_t sum = 0;
	(void)ftw;

	if (flag == FTW_SL && readlink(p, link, sizeof(link) - 1) < 0)
		link[0] = '\0';
	if (S_ISREG(sb->st_mode)) {
		char buf[4096];
		ssize_t n;
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		sum = 2166136261u;
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			sum = fnv1a32((uint8_t *)buf, (size_t)n) ^ (sum * 31);
		if (fd >= 0)
			close(fd);
	}
	snap_len += (size_t)snprintf(snap_buf + snap_len, sizeof(snap_buf) - snap_len,
				     "%s %o %lld %08x %s\n", p, (unsigned)sb->st_mode,
				     (long long)sb->st_size, (unsigned)sum, link);
	return snap_len >= sizeof(snap_buf) - 1;
}

static char *snapshot(const char *dir)
{
	snap_len = 0;
	snap_buf[0] = '\0';
	nftw(dir, snap_one, 16, FTW_PHYS);
	return strdup(snap_buf);
}

static void check_unchanged(const char *before, const char *dir)
{
	char *after = snapshot(dir);

	CHECK(after != NULL && strcmp(before, after) == 0);
	if (after != NULL && strcmp(before, after) != 0)
		fprintf(stderr, "before:\n%safter:\n%s", before, after);
	free(after);
}

/* Every operation on t is refused as "store unavailable", with a reason. */
static void check_unavailable(struct sesame_store *st, const struct sesame_token *t,
			      const char *expect_in_msg)
{
	struct sesame_err err = { "" };
	unsigned used = 99;

	CHECK_EQ_INT(sesame_store_redeem(st, t, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(err.msg[0] != '\0');
	if (expect_in_msg != NULL && strstr(err.msg, expect_in_msg) == NULL) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, expect_in_msg);
		CHECK(0);
	}
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_status(st, t, &used, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(err.msg[0] != '\0');
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_revoke(st, t, &err), -1);
	CHECK(err.msg[0] != '\0');
}

/* --- counting and revocation --- */

static void test_counting(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token one = tok(0x001, 1, 1), three = tok(0x001, 2, 3), any = tok(0x002, 3, 0);
	struct sesame_token other_uid = one;
	char path[1200];
	unsigned used = 99;

	open_fresh(&st, "counting");
	CHECK_EQ_INT(sesame_store_status(&st, &one, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_status(&st, &one, &used, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_status(&st, &one, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 1);

	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &three, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &three, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_status(&st, &three, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 3);
	/* a used-up redemption writes nothing */
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x001)), 4 * 32);

	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &any, &err), SESAME_OK);
	CHECK(!exists(bucket_path(path, sizeof(path), 0x002)));

	/* identity is (id, uid) */
	other_uid.uid = UID + 1;
	CHECK_EQ_INT(sesame_store_redeem(&st, &other_uid, &err), SESAME_OK);
	sesame_store_close(&st);
	sesame_store_close(&st); /* twice is fine */
}

static void test_revoke(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = tok(0x010, 1, 1), b = tok(0x010, 2, 2), any = tok(0x011, 3, 0);
	char path[1200];
	unsigned used;

	open_fresh(&st, "revoke");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &a, &err), 0);
	/* revoked takes precedence over used up */
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_status(&st, &a, &used, &err), SESAME_REVOKED);
	CHECK_EQ_INT(used, 1);
	CHECK_EQ_INT(sesame_store_revoke(&st, &b, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke(&st, &b, &err), 0);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x010)), 3 * 32);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &any, &err), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, &err), SESAME_REVOKED);
	sesame_store_close(&st);
}

static void test_revoke_user(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token at = tok(0x020, 1, 1), after = tok(0x020, 2, 1), any = tok(0x021, 3, 0);
	struct sesame_token other = tok(0x020, 4, 1);
	char path[1200];
	int64_t before = 0;

	after.issued = ISSUED + 1;
	other.uid = UID + 7;
	open_fresh(&st, "revoke-user");
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID, &before, &err), 0);
	CHECK_EQ_INT(before, -1);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, ISSUED, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, 500, &err), 0); /* older: no effect */
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, ISSUED, &err), 0);
	snprintf(path, sizeof(path), "%s/revoked-users", state);
	CHECK_EQ_INT(file_size(path), 32);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, -5, &err), -1);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID, &before, &err), 0);
	CHECK_EQ_INT(before, ISSUED);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID + 7, &before, &err), 0);
	CHECK_EQ_INT(before, -1);
	CHECK_EQ_INT(sesame_store_redeem(&st, &at, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &after, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &other, &err), SESAME_OK);
	sesame_store_close(&st);
}

/* --- concurrency --- */

/* n children redeem t at the same moment; returns how many got SESAME_OK,
 * or -1 when one answered anything but OK or USED_UP. */
static int race_redeem(const struct sesame_token *t, int n)
{
	int gate[2], ok = 0, odd = 0;

	if (pipe(gate) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct sesame_store st;
			struct sesame_err err = { "" };
			char c;
			int r = SESAME_STORE_UNAVAILABLE;
			close(gate[1]);
			if (sesame_store_open(&st, state, 0, &err) == 0 &&
			    read(gate[0], &c, 1) == 0)
				r = (int)sesame_store_redeem(&st, t, &err);
			if (err.msg[0] != '\0')
				fprintf(stderr, "child: %s\n", err.msg);
			_exit(CHILD_BASE + r);
		}
		if (pid < 0)
			odd++;
	}
	close(gate[0]);
	close(gate[1]); /* everyone reads EOF at once: go */
	for (int status; wait(&status) > 0;) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (code == CHILD_BASE + SESAME_OK)
			ok++;
		else if (code != CHILD_BASE + SESAME_USED_UP)
			odd++;
	}
	return odd ? -1 : ok;
}

static void test_concurrency(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token one = tok(0x030, 1, 1), five = tok(0x030, 2, 5);
	unsigned used = 0;

	open_fresh(&st, "race");
	CHECK_EQ_INT(race_redeem(&one, 32), 1);
	CHECK_EQ_INT(race_redeem(&five, 32), 5);
	CHECK_EQ_INT(sesame_store_status(&st, &five, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 5);
	sesame_store_close(&st);
}

/* --- gc --- */

static void test_gc(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;
	struct sesame_token live = tok(0x040, 1, 1), dead = tok(0x040, 2, 2);
	struct sesame_token gone = tok(0x041, 3, 1), revoked = tok(0x040, 4, 1);
	char path[1200];
	int64_t before;

	dead.issued = 100;
	dead.lifetime = 100;
	gone.issued = 100;
	gone.lifetime = 100;
	open_fresh(&st, "gc");
	CHECK_EQ_INT(sesame_store_gc(&st, 10, &gs, &err), 0); /* no uses/ yet */
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &dead, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &dead, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &gone, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &revoked, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID + 1, 1000, &err), 0);

	CHECK_EQ_INT(sesame_store_gc(&st, 150, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 0);
	CHECK_EQ_INT(gs.kept, 6);
	CHECK_EQ_INT(gs.files_rewritten, 0);

	CHECK_EQ_INT(sesame_store_gc(&st, 200, &gs, &err), 0); /* expires <= now goes */
	CHECK_EQ_INT(gs.removed, 3);
	CHECK_EQ_INT(gs.kept, 3);
	CHECK_EQ_INT(gs.files_rewritten, 2);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x040)), 2 * 32);
	CHECK(!exists(bucket_path(path, sizeof(path), 0x041)));
	snprintf(path, sizeof(path), "%s/uses/040.tmp", state);
	CHECK(!exists(path));
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &revoked, &err), SESAME_REVOKED);

	/* a user revocation lasts as long as a token issued before it can */
	CHECK_EQ_INT(sesame_store_gc(&st, 1000 + SESAME_MAX_LIFETIME - 1, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 2);
	CHECK_EQ_INT(gs.kept, 1);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID + 1, &before, &err), 0);
	CHECK_EQ_INT(before, 1000);
	CHECK_EQ_INT(sesame_store_gc(&st, 1000 + SESAME_MAX_LIFETIME, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 1);
	CHECK_EQ_INT(gs.kept, 0);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID + 1, &before, &err), 0);
	CHECK_EQ_INT(before, -1);
	snprintf(path, sizeof(path), "%s/revoked-users", state);
	CHECK(!exists(path));
	CHECK(!exists(bucket_path(path, sizeof(path), 0x040)));
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES, NULL, &err), 0);
	sesame_store_close(&st);
}

/* One process of test_gc_race: the gc loop (keep putting an expired record
 * in the bucket and gc it away) or a redeemer of live. Writes what it saw
 * to `report`: {successes, unavailable, other failures}. */
static void gc_race_child(int is_gc, const struct sesame_token *live, int gate, int report)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	int seen[3] = { 0, 0, 0 };
	char c;

	if (sesame_store_open(&st, state, 0, &err) != 0 || read(gate, &c, 1) != 0)
		seen[2]++;
	for (uint32_t n = 0; n < 60 && seen[2] == 0; n++) {
		struct sesame_token dead = tok(0x050, 100 + n, 1);
		enum sesame_reason r;
		dead.issued = 10;
		dead.lifetime = 10;
		if (is_gc) {
			if (sesame_store_redeem(&st, &dead, &err) != SESAME_OK ||
			    sesame_store_gc(&st, 1000, NULL, &err) != 0)
				seen[1]++;
			continue;
		}
		r = sesame_store_redeem(&st, live, &err);
		if (r == SESAME_OK)
			seen[0]++;
		else if (r == SESAME_STORE_UNAVAILABLE)
			seen[1]++; /* gc kept replacing the file: allowed, bounded */
		else if (r != SESAME_USED_UP)
			seen[2]++;
	}
	if (write(report, seen, sizeof(seen)) != (ssize_t)sizeof(seen))
		_exit(1);
	_exit(0);
}

/* Redeemers of a 3-use token while another process keeps making gc
 * rewrite the same bucket: no use may be lost to the replacement, and
 * none invented. */
static void test_gc_race(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	const struct sesame_token live = tok(0x050, 1, 3);
	int gate[2], report[2], total[3] = { 0, 0, 0 }, seen[3];
	unsigned used = 0;

	open_fresh(&st, "gc-race");
	sesame_store_close(&st);
	if (pipe(gate) != 0 || pipe(report) != 0)
		return;
	for (int i = 0; i < 9; i++) {
		if (fork() == 0) {
			close(gate[1]);
			close(report[0]);
			gc_race_child(i == 0, &live, gate[0], report[1]);
		}
	}
	close(gate[0]);
	close(report[1]);
	close(gate[1]);
	while (read(report[0], seen, sizeof(seen)) == (ssize_t)sizeof(seen)) {
		for (int k = 0; k < 3; k++)
			total[k] += seen[k];
	}
	close(report[0]);
	while (wait(NULL) > 0)
		;
	CHECK_EQ_INT(total[2], 0);
	CHECK(total[0] >= 1 && total[0] <= 3);
	CHECK_EQ_INT(sesame_store_open(&st, state, 0, &err), 0);
	CHECK_EQ_INT(sesame_store_status(&st, &live, &used, &err), total[0] == 3 ? SESAME_USED_UP
									       : SESAME_OK);
	CHECK_EQ_INT(used, total[0]);
	if (total[1] > 0)
		printf("store: gc race: %d redemptions gave up after repeated replacement\n",
		       total[1]);
	sesame_store_close(&st);
}

/* --- torn writes and scale --- */

static void test_torn_tail(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = tok(0x0cd, 1, 1), b = tok(0x0cd, 2, 1);
	uint8_t partial[32];
	char path[1200];
	unsigned used;

	open_fresh(&st, "torn");
	bucket_path(path, sizeof(path), 0x0cd);
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, &err), SESAME_OK);
	encode(partial, 1, b.id, UID, EXPIRES); /* half of b's use: a crash mid-append */
	append_bytes(path, partial, 13);
	CHECK_EQ_INT(file_size(path), 32 + 13);
	CHECK_EQ_INT(sesame_store_status(&st, &a, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_status(&st, &b, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, &err), SESAME_OK);
	CHECK_EQ_INT(file_size(path), 64);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, &err), SESAME_USED_UP);
	sesame_store_close(&st);
}

/* A write cut short (here by RLIMIT_FSIZE, as ENOSPC would) is taken
 * back: the file keeps its size, the use is not counted, and the redeemer
 * is told the store is unavailable. */
static void test_short_write(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = tok(0x0d0, 1, 1), b = tok(0x0d0, 2, 1);
	char path[1200];
	unsigned used = 9;
	int status = 0;
	pid_t pid;

	open_fresh(&st, "short");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, &err), SESAME_OK);
	pid = fork();
	if (pid == 0) {
		struct rlimit lim = { 32 + 10, 32 + 10 };
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
			_exit(1);
		_exit(CHILD_BASE + (int)sesame_store_redeem(&st, &b, &err));
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), CHILD_BASE + SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x0d0)), 32);
	CHECK_EQ_INT(sesame_store_status(&st, &b, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, &err), SESAME_OK);
	sesame_store_close(&st);
}

/* 20,384 records planted straight into the buckets: 32 in each of 512
 * (creating files is slow on some disks), 4,000 in one more; expired ones
 * only in every 32nd, to keep gc's syncs few. */
static void test_scale(void)
{
	static uint8_t recs[4000 * 32];
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;
	char path[1200];
	unsigned used;

	open_fresh(&st, "scale");
	snprintf(path, sizeof(path), "%s/uses", state);
	CHECK_EQ_INT(mkdir(path, 0700), 0);
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b += 8) {
		uint8_t some[32 * 32];
		for (uint32_t i = 0; i < 32; i++) {
			struct sesame_token t = tok(b, i, 1);
			encode(some + i * 32, 1, t.id, UID, i < 2 && b % 256 == 0 ? 100 : EXPIRES);
		}
		append_bytes(bucket_path(path, sizeof(path), b), some, sizeof(some));
	}
	for (uint32_t i = 0; i < 4000; i++) {
		struct sesame_token t = tok(0x777, 1000 + i, 2);
		encode(recs + i * 32, 1, t.id, UID, EXPIRES);
	}
	append_bytes(bucket_path(path, sizeof(path), 0x777), recs, sizeof(recs));
	for (uint32_t i = 0; i < 200; i++) {
		struct sesame_token t = tok(0x777, 1000 + i * 19, 2);
		CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_OK);
		CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_USED_UP);
	}
	{
		struct sesame_token t = tok(0x128, 3, 1), fresh = tok(0x128, 99, 1);
		CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_USED_UP);
		CHECK_EQ_INT(sesame_store_redeem(&st, &fresh, &err), SESAME_OK);
	}
	CHECK_EQ_INT(sesame_store_gc(&st, 100, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 2 * 16);
	CHECK_EQ_INT(gs.kept, 32 * 512 - 2 * 16 + 4000 + 200 + 1);
	CHECK_EQ_INT(gs.files_rewritten, 16);
	{
		struct sesame_token t = tok(0x777, 1000 + 19, 2);
		CHECK_EQ_INT(sesame_store_status(&st, &t, &used, &err), SESAME_USED_UP);
		CHECK_EQ_INT(used, 2);
	}
	sesame_store_close(&st);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* 100,000 operations in one process (as in a long-running daemon), a
 * third of them failing in various ways, keep no descriptors; ASan's leak
 * check covers memory. */
static void test_no_growth(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token bad[3] = { tok(0x000, 1, 1), tok(0x001, 1, 1), tok(0x002, 1, 1) };
	char path[1200];
	unsigned used;
	int fds, fd;

	open_fresh(&st, "growth");
	for (int k = 0; k < 3; k++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &bad[k], &err), SESAME_OK);
	fds = count_fds(); /* with uses/ open */
	CHECK_EQ_INT(unlink(bucket_path(path, sizeof(path), 0x000)), 0);
	CHECK_EQ_INT(symlink("/nonexistent", path), 0);
	CHECK_EQ_INT(chmod(bucket_path(path, sizeof(path), 0x001), 0640), 0);
	fd = open(bucket_path(path, sizeof(path), 0x002), O_WRONLY | O_CLOEXEC);
	CHECK_EQ_INT(pwrite(fd, "\xff", 1, 0), 1);
	close(fd);
	for (uint32_t i = 0; i < 33334; i++) {
		struct sesame_token t = tok(0x100 + i % 64, i, 0);
		(void)sesame_store_redeem(&st, &t, &err);
		(void)sesame_store_status(&st, &t, &used, &err);
		if (sesame_store_redeem(&st, &bad[i % 3], &err) != SESAME_STORE_UNAVAILABLE)
			CHECK(0);
	}
	CHECK_EQ_INT(count_fds(), fds);
	sesame_store_close(&st);
	CHECK_EQ_INT(count_fds(), fds - 2);
}

/* --- faults: each fails closed, with a reason, and changes nothing --- */

static void test_open_faults(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	const struct sesame_token t = tok(0x0ff, 1, 1);
	char link[1200], target[1200], *snap;
	struct stat sb;

	fresh_state("missing");
	CHECK_EQ_INT(sesame_store_open(&st, state, 0, &err), -1);
	CHECK(strstr(err.msg, "No such file or directory") != NULL);
	CHECK(strstr(err.msg, state) != NULL);
	CHECK(!exists(state));
	sesame_store_close(&st); /* safe after a failed open */
	snprintf(target, sizeof(target), "%s/missing-parent/state", root);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open(&st, target, 1, &err), -1);
	CHECK(err.msg[0] != '\0');

	/* a handle notices its directory going loose or away after open */
	open_fresh(&st, "later");
	CHECK(lstat(state, &sb) == 0 && (sb.st_mode & 07777) == 0700);
	CHECK_EQ_INT(chmod(state, 0750), 0);
	check_unavailable(&st, &t, "mode 0750");
	CHECK_EQ_INT(chmod(state, 0700), 0);
	CHECK_EQ_INT(rmdir(state), 0);
	check_unavailable(&st, &t, "removed");
	sesame_store_close(&st);

	fresh_state("loose");
	CHECK_EQ_INT(mkdir(state, 0700), 0);
	CHECK_EQ_INT(chmod(state, 0755), 0);
	snap = snapshot(root);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open(&st, state, 1, &err), -1);
	CHECK(strstr(err.msg, "mode 0755") != NULL);
	check_unchanged(snap, root);
	free(snap);

	snprintf(target, sizeof(target), "%s/real", root);
	snprintf(link, sizeof(link), "%s/link", root);
	CHECK_EQ_INT(mkdir(target, 0700), 0);
	CHECK_EQ_INT(symlink(target, link), 0);
	snap = snapshot(root);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open(&st, link, 1, &err), -1);
	CHECK(strstr(err.msg, "symbolic link") != NULL);
	strcat(link, "/"); /* a trailing slash must not follow it either */
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open(&st, link, 0, &err), -1);
	CHECK(err.msg[0] != '\0');
	check_unchanged(snap, root);
	free(snap);
}

static void test_file_faults(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t = tok(0x0ab, 1, 1), u = tok(0x0ab, 2, 1);
	char path[1200], target[1200], *snap;

	/* a symlink planted as a bucket, to a file and dangling */
	open_fresh(&st, "bucket-symlink");
	snprintf(target, sizeof(target), "%s/bucket-symlink-target", root);
	append_bytes(target, "precious", 8);
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, &err), SESAME_OK);
	CHECK_EQ_INT(unlink(bucket_path(path, sizeof(path), 0x0ab)), 0);
	CHECK_EQ_INT(symlink(target, path), 0);
	snap = snapshot(root);
	check_unavailable(&st, &t, "symbolic link");
	CHECK_EQ_INT(sesame_store_gc(&st, 0, NULL, &err), -1);
	check_unchanged(snap, root);
	free(snap);
	CHECK_EQ_INT(unlink(target), 0);
	snap = snapshot(root);
	check_unavailable(&st, &t, "symbolic link");
	check_unchanged(snap, root);
	free(snap);
	sesame_store_close(&st);

	/* a bucket others can read */
	open_fresh(&st, "bucket-mode");
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, &err), SESAME_OK);
	CHECK_EQ_INT(chmod(bucket_path(path, sizeof(path), 0x0ab), 0644), 0);
	snap = snapshot(state);
	check_unavailable(&st, &t, "mode 0644");
	CHECK_EQ_INT(sesame_store_gc(&st, 0, NULL, &err), -1);
	check_unchanged(snap, state);
	free(snap);
	sesame_store_close(&st);

	/* a regular file where uses/ belongs */
	open_fresh(&st, "uses-file");
	snprintf(path, sizeof(path), "%s/uses", state);
	append_bytes(path, "x", 1);
	snap = snapshot(state);
	check_unavailable(&st, &t, "uses");
	t.uses = 0;
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_STORE_UNAVAILABLE);
	t.uses = 1;
	CHECK_EQ_INT(sesame_store_gc(&st, 0, NULL, &err), -1);
	check_unchanged(snap, state);
	free(snap);
	sesame_store_close(&st);

	/* closed store */
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(err.msg[0] != '\0');
}

static void test_corrupt(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = tok(0x0ef, 1, 1), b = tok(0x0ef, 2, 1), c = tok(0x0ef, 3, 1);
	struct sesame_token d = tok(0x0ef, 4, 1);
	const struct sesame_token elsewhere = tok(0x100, 1, 1);
	uint8_t rec[32];
	char path[1200], *snap;
	int fd;

	open_fresh(&st, "corrupt");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &c, &err), SESAME_OK);
	fd = open(bucket_path(path, sizeof(path), 0x0ef), O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pwrite(fd, "\x7f", 1, 32 + 10), 1); /* b's uid, checksum now wrong */
	snap = snapshot(state);
	check_unavailable(&st, &d, "corrupt record at offset 32");
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES, NULL, &err), -1);
	CHECK(strstr(err.msg, "corrupt record at offset 32") != NULL);
	check_unchanged(snap, state);
	free(snap);

	/* a well-formed checksum does not make an unknown type acceptable */
	encode(rec, 9, b.id, UID, EXPIRES);
	CHECK_EQ_INT(pwrite(fd, rec, 32, 32), 32);
	check_unavailable(&st, &d, "corrupt record at offset 32");
	encode(rec, 3, b.id, UID, EXPIRES); /* a user revocation has no place here */
	CHECK_EQ_INT(pwrite(fd, rec, 32, 32), 32);
	check_unavailable(&st, &d, "corrupt record at offset 32");
	encode(rec, 1, b.id, UID, EXPIRES);
	CHECK_EQ_INT(pwrite(fd, rec, 32, 32), 32);
	CHECK_EQ_INT(sesame_store_redeem(&st, &d, &err), SESAME_OK);
	close(fd);

	/* revoked-users is checked on every redemption */
	snprintf(path, sizeof(path), "%s/revoked-users", state);
	encode(rec, 1, a.id, UID, EXPIRES);
	append_bytes(path, rec, sizeof(rec));
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &elsewhere, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "revoked-users: corrupt record at offset 0") != NULL);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, 5, &err), -1);
	check_unchanged(snap, state);
	free(snap);
	sesame_store_close(&st);
}

/* Write refused by permissions. Runs as the store's owner without
 * privileges, so that the permissions mean something. */
static void readonly_cases(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t = tok(0x0aa, 1, 1), u = tok(0x0bb, 1, 1), any = tok(0x0cc, 1, 0);
	char path[1200], *snap;
	unsigned used;

	CHECK_EQ_INT(sesame_store_open(&st, state, 0, &err), 0);
	CHECK_EQ_INT(chmod(state, 0500), 0); /* uses/ cannot be made */
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	CHECK_EQ_INT(sesame_store_status(&st, &t, &used, &err), SESAME_OK); /* reading is fine */
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, &err), SESAME_OK);
	check_unchanged(snap, state);
	free(snap);
	CHECK_EQ_INT(chmod(state, 0700), 0);

	CHECK_EQ_INT(sesame_store_redeem(&st, &u, &err), SESAME_OK);
	snprintf(path, sizeof(path), "%s/uses", state);
	CHECK_EQ_INT(chmod(path, 0500), 0); /* no new bucket */
	CHECK_EQ_INT(chmod(bucket_path(path, sizeof(path), 0x0bb), 0400), 0);
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	u.id[5] ^= 1; /* same bucket, which is read-only now */
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	check_unchanged(snap, state);
	free(snap);
	snprintf(path, sizeof(path), "%s/uses", state);
	CHECK_EQ_INT(chmod(path, 0700), 0);
	sesame_store_close(&st);
}

static int chown_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return lchown(p, 65534, 65534);
}

static void test_readonly(void)
{
	struct sesame_store st;
	pid_t pid;
	int status = 0, failures_before = test_failures;

	open_fresh(&st, "readonly");
	sesame_store_close(&st);
	if (geteuid() != 0) {
		readonly_cases();
		return;
	}
	/* root ignores permissions: run the cases as an unprivileged owner */
	printf("store: running the read-only cases as uid 65534 (running as root)\n");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (nftw(state, chown_one, 16, FTW_PHYS) != 0 || chmod(root, 0711) != 0 ||
		    setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(254);
		if (getuid() == 0 || geteuid() == 0)
			_exit(253);
		readonly_cases();
		_exit(test_failures - failures_before > 250 ? 250 : test_failures - failures_before);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
	chmod(root, 0700);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s", test_tmpdir("store"));
	test_counting();
	test_revoke();
	test_revoke_user();
	test_concurrency();
	test_gc();
	test_gc_race();
	test_torn_tail();
	test_short_write();
	test_scale();
	test_no_growth();
	test_open_faults();
	test_file_faults();
	test_corrupt();
	test_readonly();
	test_rmtree(root);
	return test_finish("store");
}
