/* The one-time-use store: counting, revocation, concurrency, gc, faults. */
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
#include "store_fs.h"
#include "testutil.h"

#define UID TEST_UID
#define ISSUED 1000000u
#define LIFETIME TEST_LIFETIME
#define EXPIRES ((int64_t)ISSUED + LIFETIME)
#define NOW ((int64_t)ISSUED + 1)
#define GRACE SESAME_STORE_GRACE
#define HDR 32 /* a format 2 file header */
#define REC 38 /* a use or revoke record: its core and when (field 2) */
#define USER_REC 28 /* a user revocation: no fields */
#define CHILD_BASE 100 /* exit code of a child = CHILD_BASE + reason */

static char root[1024];  /* this run's temporary directory */
static char state[1100]; /* the current test's state_dir */

/* A token whose id falls in `bucket` (0..4095), told apart by seq. */
/* A fresh state_dir path for one test; the directory is not made. */
static const char *fresh_state(const char *name)
{
	snprintf(state, sizeof(state), "%s/%s", root, name);
	return state;
}

static void open_fresh(struct sesame_store *st, const char *name)
{
	struct sesame_err err = { "" };

	CHECK_EQ_INT(sesame_store_open_file(st, fresh_state(name), 1, &err), 0);
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

/* A record of sesame 0.1 (format 1): 32 bytes. */
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

/* A format 2 record as the store writes a use or a revocation
 * (store_format.h): the core, then when it happened (field 2, at NOW). */
static void encode2(uint8_t out[REC], uint8_t type, const uint8_t *id, uint32_t uid, int64_t time)
{
	uint32_t sum;

	memset(out, 0, REC);
	out[0] = REC;
	out[2] = type;
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(uid >> (8 * i));
	if (id != NULL)
		memcpy(out + 8, id, 6);
	for (int i = 0; i < 8; i++)
		out[16 + i] = (uint8_t)((uint64_t)time >> (8 * i));
	out[24] = 2;
	out[25] = 8;
	for (int i = 0; i < 8; i++)
		out[26 + i] = (uint8_t)((uint64_t)NOW >> (8 * i));
	sum = fnv1a32(out, REC - 4);
	for (int i = 0; i < 4; i++)
		out[REC - 4 + i] = (uint8_t)(sum >> (8 * i));
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

static char snap_buf[1 << 20]; /* 4096 bucket files */
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

#define check_unchanged(before, dir) check_unchanged_at(before, dir, __LINE__)
static void check_unchanged_at(const char *before, const char *dir, int line)
{
	char *after = snapshot(dir);

	CHECK(after != NULL && strcmp(before, after) == 0);
	if (after != NULL && strcmp(before, after) != 0)
		fprintf(stderr, "line %d: before:\n%safter:\n%s", line, before, after);
	free(after);
}

/* Every operation on t is refused as "store unavailable", with a reason. */
static void check_unavailable(struct sesame_store *st, const struct sesame_token *t,
			      const char *expect_in_msg)
{
	struct sesame_err err = { "" };
	unsigned used = 99;

	CHECK_EQ_INT(sesame_store_redeem(st, t, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(err.msg[0] != '\0');
	if (expect_in_msg != NULL && strstr(err.msg, expect_in_msg) == NULL) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, expect_in_msg);
		CHECK(0);
	}
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_status(st, t, NOW, &used, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(err.msg[0] != '\0');
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_revoke(st, t, NOW, &err), -1);
	CHECK(err.msg[0] != '\0');
}

/* --- counting and revocation --- */

static void test_counting(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token one = test_token(0x001, 1, ISSUED, 1);
	struct sesame_token three = test_token(0x001, 2, ISSUED, 3);
	struct sesame_token any = test_token(0x002, 3, ISSUED, 0);
	struct sesame_token other_uid = one;
	char path[1200];
	unsigned used = 99;

	open_fresh(&st, "counting");
	CHECK_EQ_INT(sesame_store_status(&st, &one, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_status(&st, &one, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &one, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_status(&st, &one, NOW, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 1);

	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &three, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &three, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_status(&st, &three, NOW, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 3);
	/* a used-up redemption writes nothing */
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x001)), HDR + 4 * REC);

	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x002)), HDR); /* no write */

	/* identity is (id, uid) */
	other_uid.uid = UID + 1;
	CHECK_EQ_INT(sesame_store_redeem(&st, &other_uid, NULL, NOW, &err), SESAME_OK);
	sesame_store_close(&st);
	sesame_store_close(&st); /* twice is fine */
}

static void test_revoke(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = test_token(0x010, 1, ISSUED, 1);
	struct sesame_token b = test_token(0x010, 2, ISSUED, 2);
	struct sesame_token any = test_token(0x011, 3, ISSUED, 0);
	char path[1200];
	unsigned used;

	open_fresh(&st, "revoke");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &a, NOW, &err), 0);
	/* revoked takes precedence over used up */
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_status(&st, &a, NOW, &used, &err), SESAME_REVOKED);
	CHECK_EQ_INT(used, 1);
	CHECK_EQ_INT(sesame_store_revoke(&st, &b, NOW, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke(&st, &b, NOW, &err), 0);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x010)), HDR + 3 * REC);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &any, NOW, &err), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, NOW, &err), SESAME_REVOKED);
	sesame_store_close(&st);
}

static void test_revoke_user(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token at = test_token(0x020, 1, ISSUED, 1);
	struct sesame_token after = test_token(0x020, 2, ISSUED, 1);
	struct sesame_token any = test_token(0x021, 3, ISSUED, 0);
	struct sesame_token other = test_token(0x020, 4, ISSUED, 1);
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
	CHECK_EQ_INT(file_size(path), HDR + USER_REC);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID, -5, &err), -1);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID, &before, &err), 0);
	CHECK_EQ_INT(before, ISSUED);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID + 7, &before, &err), 0);
	CHECK_EQ_INT(before, -1);
	CHECK_EQ_INT(sesame_store_redeem(&st, &at, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &after, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &other, NULL, NOW, &err), SESAME_OK);
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
			if (sesame_store_open_file(&st, state, 0, &err) == 0 &&
			    read(gate[0], &c, 1) == 0)
				r = (int)sesame_store_redeem(&st, t, NULL, NOW, &err);
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
	struct sesame_token one = test_token(0x030, 1, ISSUED, 1);
	struct sesame_token five = test_token(0x030, 2, ISSUED, 5);
	unsigned used = 0;

	open_fresh(&st, "race");
	CHECK_EQ_INT(race_redeem(&one, 32), 1);
	CHECK_EQ_INT(race_redeem(&five, 32), 5);
	CHECK_EQ_INT(sesame_store_status(&st, &five, NOW, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 5);
	sesame_store_close(&st);
}

/* --- gc --- */

static void test_gc(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;
	struct sesame_token live = test_token(0x040, 1, ISSUED, 1);
	struct sesame_token dead = test_token(0x040, 2, ISSUED, 2);
	struct sesame_token gone = test_token(0x041, 3, ISSUED, 1);
	struct sesame_token revoked = test_token(0x040, 4, ISSUED, 1);
	const int64_t user_until = 1000 + SESAME_MAX_LIFETIME + GRACE;
	char path[1200];
	int64_t before;

	dead.issued = 100;
	dead.lifetime = 100;
	gone.issued = 100;
	gone.lifetime = 100;
	live.lifetime = (uint32_t)(user_until + 10 - ISSUED);
	open_fresh(&st, "gc");
	CHECK_EQ_INT(sesame_store_gc(&st, 10, &gs, &err), 0); /* nothing yet */
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &dead, NULL, 150, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &dead, NULL, 150, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &gone, NULL, 150, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_revoke(&st, &revoked, NOW, &err), 0);
	CHECK_EQ_INT(sesame_store_revoke_user(&st, UID + 1, 1000, &err), 0);

	CHECK_EQ_INT(sesame_store_gc(&st, 150, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 0);
	CHECK_EQ_INT(gs.kept, 6);
	CHECK_EQ_INT(gs.files_rewritten, 0);

	/* records outlive their token by the grace period */
	CHECK_EQ_INT(sesame_store_gc(&st, 200 + GRACE - 1, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 0);
	CHECK_EQ_INT(sesame_store_gc(&st, 200 + GRACE, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 3);
	CHECK_EQ_INT(gs.kept, 3);
	CHECK_EQ_INT(gs.files_rewritten, 2);
	/* every bucket file stays, for the one-write path */
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x040)), HDR + 2 * REC);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x041)), HDR);
	snprintf(path, sizeof(path), "%s/uses/040.tmp", state);
	CHECK(!exists(path));
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &revoked, NULL, NOW, &err), SESAME_REVOKED);

	/* a user revocation lasts as long as a token issued before it can,
	 * plus the grace */
	CHECK_EQ_INT(sesame_store_gc(&st, user_until - 1, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 1); /* revoked's record */
	CHECK_EQ_INT(gs.kept, 2);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID + 1, &before, &err), 0);
	CHECK_EQ_INT(before, 1000);
	CHECK_EQ_INT(sesame_store_gc(&st, user_until, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 1);
	CHECK_EQ_INT(gs.kept, 1);
	CHECK_EQ_INT(sesame_store_user_revoked_before(&st, UID + 1, &before, &err), 0);
	CHECK_EQ_INT(before, -1);
	snprintf(path, sizeof(path), "%s/revoked-users", state);
	CHECK_EQ_INT(file_size(path), HDR);
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, NULL, user_until, &err), SESAME_USED_UP);
	sesame_store_close(&st);
}

/* Under store = etcd, gc of the file store a migration left in state_dir:
 * the same drops as under store = file; nothing made where no file store
 * is. */
static void test_gc_file_left(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs = {9, 9, 9};
	struct sesame_token dead = test_token(0x042, 1, ISSUED, 1);
	struct sesame_token live = test_token(0x042, 2, ISSUED, 1);
	const char *none = fresh_state("left-none");
	char path[1200];
	FILE *token;

	dead.issued = 100;
	dead.lifetime = 100;
	live.lifetime = 10 * GRACE;
	/* a state_dir under etcd: only the helper's cached auth token */
	CHECK_EQ_INT(mkdir(none, 0700), 0);
	snprintf(path, sizeof(path), "%s/etcd-token", none);
	token = fopen(path, "w");
	CHECK(token != NULL);
	if (token != NULL)
		fclose(token);
	CHECK_EQ_INT(sesame_store_gc_file_left(none, 200 + GRACE, &gs, &err), 1);
	CHECK_EQ_INT(gs.kept + gs.removed + gs.files_rewritten, 0);
	snprintf(path, sizeof(path), "%s/format", none);
	CHECK(!exists(path));
	/* a stray format file is not a file store: nothing made around it */
	token = fopen(path, "w");
	CHECK(token != NULL);
	if (token != NULL)
		fclose(token);
	CHECK_EQ_INT(sesame_store_gc_file_left(none, 200 + GRACE, &gs, &err), 1);
	snprintf(path, sizeof(path), "%s/uses", none);
	CHECK(!exists(path));
	snprintf(path, sizeof(path), "%s/revoked-users", none);
	CHECK(!exists(path));

	open_fresh(&st, "left");
	CHECK_EQ_INT(sesame_store_redeem(&st, &dead, NULL, 150, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &live, NULL, NOW, &err), SESAME_OK);
	sesame_store_close(&st);
	/* files that are gone stay gone: gc of the leftover does not prepare */
	snprintf(path, sizeof(path), "%s/mail-sent", state);
	CHECK_EQ_INT(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/uses/fff", state);
	CHECK_EQ_INT(unlink(path), 0);
	CHECK_EQ_INT(sesame_store_gc_file_left(state, 200 + GRACE, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 1);
	CHECK_EQ_INT(gs.kept, 1);
	CHECK(!exists(path));
	snprintf(path, sizeof(path), "%s/mail-sent", state);
	CHECK(!exists(path));
	/* the clock rule of the file store's gc holds too */
	CHECK_EQ_INT(sesame_store_gc_file_left(state, 100, &gs, &err), -1);
	CHECK(strstr(err.msg, "before the last gc") != NULL);
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

	if (sesame_store_open_file(&st, state, 0, &err) != 0 || read(gate, &c, 1) != 0)
		seen[2]++;
	for (uint32_t n = 0; n < 60 && seen[2] == 0; n++) {
		struct sesame_token dead = test_token(0x050, 100 + n, ISSUED, 1);
		enum sesame_reason r;
		dead.issued = 10;
		dead.lifetime = 10;
		if (is_gc) {
			if (sesame_store_revoke(&st, &dead, NOW, &err) != 0 ||
			    sesame_store_gc(&st, 20 + GRACE, NULL, &err) != 0)
				seen[1]++;
			continue;
		}
		r = sesame_store_redeem(&st, live, NULL, NOW, &err);
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
	const struct sesame_token live = test_token(0x050, 1, ISSUED, 3);
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
	CHECK_EQ_INT(sesame_store_open_file(&st, state, 0, &err), 0);
	CHECK_EQ_INT(sesame_store_status(&st, &live, NOW, &used, &err), total[0] == 3 ? SESAME_USED_UP
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
	struct sesame_token a = test_token(0x0cd, 1, ISSUED, 1);
	struct sesame_token b = test_token(0x0cd, 2, ISSUED, 1);
	uint8_t partial[REC];
	char path[1200];
	unsigned used;

	open_fresh(&st, "torn");
	bucket_path(path, sizeof(path), 0x0cd);
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_OK);
	encode2(partial, 1, b.id, UID, EXPIRES); /* half of b's use: a crash mid-append */
	append_bytes(path, partial, 13);
	CHECK_EQ_INT(file_size(path), HDR + REC + 13);
	CHECK_EQ_INT(sesame_store_status(&st, &a, NOW, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_status(&st, &b, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(file_size(path), HDR + 2 * REC);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_USED_UP);
	sesame_store_close(&st);
}

/* A damaged length that runs past the end of the file is not a torn
 * tail when the bytes there are a complete record: read as torn, the
 * record and every one after it would vanish at the next append, and a
 * used-up token would work again. Both for a record in the middle and for
 * the last one. */
static void test_damaged_length(void)
{
	struct sesame_store st;
	struct sesame_token a = test_token(0x0ce, 1, ISSUED, 1);
	struct sesame_token b = test_token(0x0ce, 2, ISSUED, 1);
	struct sesame_token c = test_token(0x0ce, 3, ISSUED, 1);
	struct sesame_err err = { "" };
	char path[1200], *snap;
	int fd;

	open_fresh(&st, "damaged-length");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_OK);
	fd = open(bucket_path(path, sizeof(path), 0x0ce), O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pwrite(fd, "\x01", 1, HDR + 1), 1); /* a's length + 256 */
	snap = snapshot(state);
	check_unavailable(&st, &b, "corrupt record at offset 32");
	check_unavailable(&st, &c, "corrupt record at offset 32");
	check_unchanged(snap, state);
	free(snap);
	CHECK_EQ_INT(pwrite(fd, "\x00", 1, HDR + 1), 1);
	CHECK_EQ_INT(pwrite(fd, "\x01", 1, HDR + REC + 1), 1); /* b, the last record */
	snap = snapshot(state);
	check_unavailable(&st, &b, "corrupt record at offset 70");
	check_unchanged(snap, state);
	free(snap);
	close(fd);
	sesame_store_close(&st);
}

/* A write cut short (here by RLIMIT_FSIZE, as ENOSPC would) is taken
 * back: the file keeps its size, the use is not counted, and the redeemer
 * is told the store is unavailable. */
static void test_short_write(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = test_token(0x0d0, 1, ISSUED, 1);
	struct sesame_token b = test_token(0x0d0, 2, ISSUED, 1);
	char path[1200];
	unsigned used = 9;
	int status = 0;
	pid_t pid;

	open_fresh(&st, "short");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_OK);
	pid = fork();
	if (pid == 0) {
		struct rlimit lim = { HDR + REC + 10, HDR + REC + 10 };
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
			_exit(1);
		_exit(CHILD_BASE + (int)sesame_store_redeem(&st, &b, NULL, NOW, &err));
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), CHILD_BASE + SESAME_STORE_UNAVAILABLE);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x0d0)), HDR + REC);
	CHECK_EQ_INT(sesame_store_status(&st, &b, NOW, &used, &err), SESAME_OK);
	CHECK_EQ_INT(used, 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_OK);
	sesame_store_close(&st);
}

/* 20,384 records planted straight into the buckets: 32 in each of 512
 * (creating files is slow on some disks), 4,000 in one more; expired ones
 * only in every 32nd, to keep gc's syncs few. */
static void test_scale(void)
{
	static uint8_t recs[4000 * REC];
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;
	char path[1200];
	unsigned used;

	open_fresh(&st, "scale");
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b += 8) {
		uint8_t some[32 * REC];
		for (uint32_t i = 0; i < 32; i++) {
			struct sesame_token t = test_token(b, i, ISSUED, 1);
			encode2(some + i * REC, 1, t.id, UID, i < 2 && b % 256 == 0 ? 100 : EXPIRES);
		}
		append_bytes(bucket_path(path, sizeof(path), b), some, sizeof(some));
	}
	for (uint32_t i = 0; i < 4000; i++) {
		struct sesame_token t = test_token(0x777, 1000 + i, ISSUED, 2);
		encode2(recs + i * REC, 1, t.id, UID, EXPIRES);
	}
	append_bytes(bucket_path(path, sizeof(path), 0x777), recs, sizeof(recs));
	for (uint32_t i = 0; i < 200; i++) {
		struct sesame_token t = test_token(0x777, 1000 + i * 19, ISSUED, 2);
		CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_OK);
		CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_USED_UP);
	}
	{
		struct sesame_token t = test_token(0x128, 3, ISSUED, 1);
		struct sesame_token fresh = test_token(0x128, 99, ISSUED, 1);
		CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_USED_UP);
		CHECK_EQ_INT(sesame_store_redeem(&st, &fresh, NULL, NOW, &err), SESAME_OK);
	}
	CHECK_EQ_INT(sesame_store_gc(&st, 100 + GRACE, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 2 * 16);
	CHECK_EQ_INT(gs.kept, 32 * 512 - 2 * 16 + 4000 + 200 + 1);
	CHECK_EQ_INT(gs.files_rewritten, 16);
	{
		struct sesame_token t = test_token(0x777, 1000 + 19, ISSUED, 2);
		CHECK_EQ_INT(sesame_store_status(&st, &t, NOW, &used, &err), SESAME_USED_UP);
		CHECK_EQ_INT(used, 2);
	}
	sesame_store_close(&st);
}

/* 100,000 operations in one process (as in a long-running daemon), a
 * third of them failing in various ways, keep no descriptors; ASan's leak
 * check covers memory. */
static void test_no_growth(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token bad[3] = { test_token(0x000, 1, ISSUED, 1), test_token(0x001, 1, ISSUED, 1),
				       test_token(0x002, 1, ISSUED, 1) };
	char path[1200];
	unsigned used;
	int fds, fd;

	open_fresh(&st, "growth");
	for (int k = 0; k < 3; k++)
		CHECK_EQ_INT(sesame_store_redeem(&st, &bad[k], NULL, NOW, &err), SESAME_OK);
	fds = test_count_fds(); /* with uses/ open */
	CHECK_EQ_INT(unlink(bucket_path(path, sizeof(path), 0x000)), 0);
	CHECK_EQ_INT(symlink("/nonexistent", path), 0);
	CHECK_EQ_INT(chmod(bucket_path(path, sizeof(path), 0x001), 0640), 0);
	fd = open(bucket_path(path, sizeof(path), 0x002), O_WRONLY | O_CLOEXEC);
	CHECK_EQ_INT(pwrite(fd, "\xff", 1, 0), 1);
	close(fd);
	for (uint32_t i = 0; i < 33334; i++) {
		struct sesame_token t = test_token(0x100 + i % 64, i, ISSUED, 0);
		(void)sesame_store_redeem(&st, &t, NULL, NOW, &err);
		(void)sesame_store_status(&st, &t, NOW, &used, &err);
		if (sesame_store_redeem(&st, &bad[i % 3], NULL, NOW, &err) != SESAME_STORE_UNAVAILABLE)
			CHECK(0);
	}
	CHECK_EQ_INT(test_count_fds(), fds);
	sesame_store_close(&st);
	CHECK_EQ_INT(test_count_fds(), fds - 2);
}

/* --- faults: each fails closed, with a reason, and changes nothing --- */

static void test_open_faults(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	const struct sesame_token t = test_token(0x0ff, 1, ISSUED, 1);
	char link[1200], target[1200], *snap;
	struct stat sb;

	fresh_state("missing");
	CHECK_EQ_INT(sesame_store_open_file(&st, state, 0, &err), -1);
	CHECK(strstr(err.msg, "No such file or directory") != NULL);
	CHECK(strstr(err.msg, state) != NULL);
	CHECK(!exists(state));
	sesame_store_close(&st); /* safe after a failed open */
	snprintf(target, sizeof(target), "%s/missing-parent/state", root);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open_file(&st, target, 1, &err), -1);
	CHECK(err.msg[0] != '\0');

	/* a handle notices its directory going loose or away after open */
	open_fresh(&st, "later");
	CHECK(lstat(state, &sb) == 0 && (sb.st_mode & 07777) == 0700);
	CHECK_EQ_INT(chmod(state, 0750), 0);
	check_unavailable(&st, &t, "mode 0750");
	CHECK_EQ_INT(chmod(state, 0700), 0);
	test_rmtree(state);
	check_unavailable(&st, &t, "removed");
	sesame_store_close(&st);

	fresh_state("loose");
	CHECK_EQ_INT(mkdir(state, 0700), 0);
	CHECK_EQ_INT(chmod(state, 0755), 0);
	snap = snapshot(root);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open_file(&st, state, 1, &err), -1);
	CHECK(strstr(err.msg, "mode 0755") != NULL);
	check_unchanged(snap, root);
	free(snap);

	snprintf(target, sizeof(target), "%s/real", root);
	snprintf(link, sizeof(link), "%s/link", root);
	CHECK_EQ_INT(mkdir(target, 0700), 0);
	CHECK_EQ_INT(symlink(target, link), 0);
	snap = snapshot(root);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open_file(&st, link, 1, &err), -1);
	CHECK(strstr(err.msg, "symbolic link") != NULL);
	strcat(link, "/"); /* a trailing slash must not follow it either */
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_open_file(&st, link, 0, &err), -1);
	CHECK(err.msg[0] != '\0');
	check_unchanged(snap, root);
	free(snap);
}

static void test_file_faults(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token t = test_token(0x0ab, 1, ISSUED, 1);
	struct sesame_token u = test_token(0x0ab, 2, ISSUED, 1);
	char path[1200], target[1200], *snap;

	/* a symlink planted as a bucket, to a file and dangling */
	open_fresh(&st, "bucket-symlink");
	snprintf(target, sizeof(target), "%s/bucket-symlink-target", root);
	append_bytes(target, "precious", 8);
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, NOW, &err), SESAME_OK);
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
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, NOW, &err), SESAME_OK);
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
	test_rmtree(path);
	append_bytes(path, "x", 1);
	snap = snapshot(state);
	check_unavailable(&st, &t, "uses");
	t.uses = 0;
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	t.uses = 1;
	CHECK_EQ_INT(sesame_store_gc(&st, 0, NULL, &err), -1);
	check_unchanged(snap, state);
	free(snap);
	sesame_store_close(&st);

	/* closed store */
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(err.msg[0] != '\0');
}

static void test_corrupt(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_token a = test_token(0x0ef, 1, ISSUED, 1);
	struct sesame_token b = test_token(0x0ef, 2, ISSUED, 1);
	struct sesame_token c = test_token(0x0ef, 3, ISSUED, 1);
	struct sesame_token d = test_token(0x0ef, 4, ISSUED, 1);
	const struct sesame_token elsewhere = test_token(0x100, 1, ISSUED, 1);
	uint8_t rec[REC];
	char path[1200], *snap;
	int fd;

	open_fresh(&st, "corrupt");
	CHECK_EQ_INT(sesame_store_redeem(&st, &a, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &b, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &c, NULL, NOW, &err), SESAME_OK);
	fd = open(bucket_path(path, sizeof(path), 0x0ef), O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pwrite(fd, "\x7f", 1, HDR + REC + 10), 1); /* b's id, checksum now wrong */
	snap = snapshot(state);
	check_unavailable(&st, &d, "corrupt record at offset 70");
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES, NULL, &err), -1);
	CHECK(strstr(err.msg, "corrupt record at offset 70") != NULL);
	check_unchanged(snap, state);
	free(snap);

	/* a well-formed checksum does not make an unknown type acceptable */
	encode2(rec, 9, b.id, UID, EXPIRES);
	CHECK_EQ_INT(pwrite(fd, rec, REC, HDR + REC), REC);
	check_unavailable(&st, &d, "corrupt record at offset 70");
	encode2(rec, 3, b.id, UID, EXPIRES); /* a user revocation has no place here */
	CHECK_EQ_INT(pwrite(fd, rec, REC, HDR + REC), REC);
	check_unavailable(&st, &d, "corrupt record at offset 70");
	rec[0] = 2; /* a length below any record's */
	CHECK_EQ_INT(pwrite(fd, rec, REC, HDR + REC), REC);
	check_unavailable(&st, &d, "corrupt record at offset 70");
	encode2(rec, 1, b.id, UID, EXPIRES);
	CHECK_EQ_INT(pwrite(fd, rec, REC, HDR + REC), REC);
	CHECK_EQ_INT(sesame_store_redeem(&st, &d, NULL, NOW, &err), SESAME_OK);
	close(fd);

	/* revoked-users is checked on every redemption */
	snprintf(path, sizeof(path), "%s/revoked-users", state);
	encode2(rec, 1, a.id, UID, EXPIRES);
	append_bytes(path, rec, sizeof(rec));
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &elsewhere, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "revoked-users: corrupt record at offset 32") != NULL);
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
	struct sesame_token t = test_token(0x0aa, 1, ISSUED, 1);
	struct sesame_token u = test_token(0x0bb, 1, ISSUED, 1);
	struct sesame_token any = test_token(0x0cc, 1, ISSUED, 0);
	char path[1200], uses[1200], *snap;
	unsigned used;

	CHECK_EQ_INT(sesame_store_open_file(&st, state, 0, &err), 0);
	snprintf(uses, sizeof(uses), "%s/uses", state);
	CHECK_EQ_INT(chmod(bucket_path(path, sizeof(path), 0x0aa), 0400), 0);
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	CHECK_EQ_INT(sesame_store_status(&st, &t, NOW, &used, &err), SESAME_OK); /* reading is fine */
	CHECK_EQ_INT(sesame_store_redeem(&st, &any, NULL, NOW, &err), SESAME_OK);
	check_unchanged(snap, state);
	free(snap);
	CHECK_EQ_INT(chmod(bucket_path(path, sizeof(path), 0x0aa), 0600), 0);

	/* a bucket file missing (a store nobody prepared) cannot be made */
	CHECK_EQ_INT(unlink(bucket_path(path, sizeof(path), 0x0bb)), 0);
	CHECK_EQ_INT(chmod(uses, 0500), 0);
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, NOW, &err), SESAME_STORE_UNAVAILABLE);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	CHECK_EQ_INT(sesame_store_status(&st, &u, NOW, &used, &err), SESAME_OK);
	check_unchanged(snap, state);
	free(snap);
	CHECK_EQ_INT(chmod(uses, 0700), 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, NOW, &err), SESAME_OK); /* made now */
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, NOW, &err), SESAME_USED_UP);
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

/* --- grace period and a clock stepped back --- */

/* Used up, gc at the expiry, then a clock one second before the expiry:
 * the use must still count (records outlive expiry by the grace). After
 * gc drops the record, a clock further back than the grace is refused,
 * with its reason and without a write. */
static void test_clock_step(void)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;
	struct sesame_token t = test_token(0x061, 1, ISSUED, 1);
	struct sesame_token u = test_token(0x061, 2, ISSUED, 1);
	char path[1200], *snap;
	unsigned used;

	open_fresh(&st, "clock");
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_OK);
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 0);
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, EXPIRES - 1, &err), SESAME_USED_UP);
	/* the expiry is checked again by the store, under the bucket's lock */
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, EXPIRES, &err), SESAME_EXPIRED);
	CHECK_EQ_INT(file_size(bucket_path(path, sizeof(path), 0x061)), HDR + REC);

	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES + GRACE, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 1);
	snap = snapshot(state);
	err.msg[0] = '\0';
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, EXPIRES - 1, &err), SESAME_CLOCK_BEHIND);
	CHECK(strstr(err.msg, "before the last gc") != NULL);
	CHECK_EQ_INT(sesame_store_status(&st, &u, EXPIRES - 1, &used, &err), SESAME_CLOCK_BEHIND);
	CHECK_EQ_INT(sesame_store_redeem(&st, &u, NULL, NOW, &err), SESAME_CLOCK_BEHIND);
	/* a gc with the clock behind refuses too, rather than move its time back */
	CHECK_EQ_INT(sesame_store_gc(&st, EXPIRES - 1, &gs, &err), -1);
	CHECK(strstr(err.msg, "clock behind") != NULL);
	check_unchanged(snap, state);
	free(snap);
	/* within the grace the store answers */
	t.lifetime += 2 * GRACE;
	CHECK_EQ_INT(sesame_store_redeem(&st, &t, NULL, EXPIRES + 1, &err), SESAME_OK);
	sesame_store_close(&st);
}

/* --- upgrade from sesame 0.1 (format 1) --- */

static void plant_v1(const char *name, uint8_t type, const struct sesame_token *t, uint32_t uid,
		     int64_t time)
{
	char path[1200];
	uint8_t rec[32];

	snprintf(path, sizeof(path), "%s/%s", state, name);
	encode(rec, type, t != NULL ? t->id : NULL, uid, time);
	append_bytes(path, rec, sizeof(rec));
}

static int has_header(const char *path)
{
	char magic[4] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, magic, sizeof(magic)) : -1;

	if (fd >= 0)
		close(fd);
	return n == 4 && memcmp(magic, "SSMS", 4) == 0;
}

/* A store as 0.1 left it: uses/ with format 1 buckets, revoked-users and
 * mail-sent, no format file. What it recorded keeps its meaning through
 * the first append to each file, gc, and after. */
static void test_upgrade(void)
{
	static const uint8_t source[SESAME_MAIL_SOURCE_LEN] = "rhost-a";
	struct sesame_mail_limits lim = { 60, 5, 5 };
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;
	struct sesame_token used1 = test_token(0x0a1, 1, ISSUED, 1);
	struct sesame_token rev = test_token(0x0a1, 2, ISSUED, 3);
	struct sesame_token dead = test_token(0x0a1, 3, ISSUED, 1);
	struct sesame_token fresh = test_token(0x0a1, 4, ISSUED, 1);
	struct sesame_token used2 = test_token(0x0a2, 1, ISSUED, 2);
	struct sesame_token banned = test_token(0x0a3, 1, ISSUED, 1);
	char path[1200];
	unsigned used;

	banned.uid = UID + 2;
	fresh_state("upgrade");
	CHECK_EQ_INT(mkdir(state, 0700), 0);
	snprintf(path, sizeof(path), "%s/uses", state);
	CHECK_EQ_INT(mkdir(path, 0700), 0);
	plant_v1("uses/0a1", 1, &used1, UID, EXPIRES);
	plant_v1("uses/0a1", 2, &rev, UID, EXPIRES);
	plant_v1("uses/0a1", 1, &dead, UID, 100);
	plant_v1("uses/0a2", 1, &used2, UID, EXPIRES);
	plant_v1("uses/0a2", 1, &used2, UID, EXPIRES);
	plant_v1("revoked-users", 3, NULL, UID + 2, ISSUED);
	plant_v1("mail-sent", 4, NULL, UID, NOW - 10);

	/* as the module opens it: no creation, no preparation */
	CHECK_EQ_INT(sesame_store_open_file(&st, state, 0, &err), 0);
	CHECK_EQ_INT(sesame_store_status(&st, &used1, NOW, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &rev, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &banned, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &used2, NULL, NOW, &err), SESAME_USED_UP);
	/* a 0.1 mail record has no source: it holds back every source */
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, source, NOW, &lim, &err), 1);
	/* the first append to a format 1 file rewrites it in format 2 */
	CHECK_EQ_INT(sesame_store_redeem(&st, &fresh, NULL, NOW, &err), SESAME_OK);
	CHECK(has_header(bucket_path(path, sizeof(path), 0x0a1)));
	CHECK(!has_header(bucket_path(path, sizeof(path), 0x0a2)));
	CHECK_EQ_INT(sesame_store_redeem(&st, &used1, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_redeem(&st, &fresh, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_revoke(&st, &used2, NOW, &err), 0);

	/* gc in between: format 2 everywhere, the dead record gone */
	CHECK_EQ_INT(sesame_store_gc(&st, NOW, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 1);
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b++) {
		if (!has_header(bucket_path(path, sizeof(path), b)))
			fprintf(stderr, "no header: %s\n", path);
		CHECK(has_header(path));
	}
	snprintf(path, sizeof(path), "%s/revoked-users", state);
	CHECK(has_header(path));
	snprintf(path, sizeof(path), "%s/mail-sent", state);
	CHECK(has_header(path));
	snprintf(path, sizeof(path), "%s/format", state);
	CHECK(exists(path));
	CHECK_EQ_INT(sesame_store_status(&st, &used1, NOW, &used, &err), SESAME_USED_UP);
	CHECK_EQ_INT(used, 1);
	CHECK_EQ_INT(sesame_store_redeem(&st, &rev, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_redeem(&st, &banned, NULL, NOW, &err), SESAME_REVOKED);
	CHECK_EQ_INT(sesame_store_status(&st, &used2, NOW, &used, &err), SESAME_REVOKED);
	CHECK_EQ_INT(used, 2);
	CHECK_EQ_INT(sesame_store_redeem(&st, &fresh, NULL, NOW, &err), SESAME_USED_UP);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, source, NOW, &lim, &err), 1);
	CHECK_EQ_INT(sesame_store_mail_allow(&st, UID, source, NOW + 60, &lim, &err), 0);
	sesame_store_close(&st);
}

/* --- login-link mail limits --- */

static int mail_at(struct sesame_store *st, uint32_t uid, const char *src, int64_t now,
		   const struct sesame_mail_limits *lim)
{
	uint8_t source[SESAME_MAIL_SOURCE_LEN] = { 0 };
	struct sesame_err err = { "" };

	memcpy(source, src, strlen(src) < sizeof(source) ? strlen(src) : sizeof(source));
	return sesame_store_mail_allow(st, uid, source, now, lim, &err);
}

/* n children ask for a mail at the same moment; how many were allowed. */
static int race_mail(const struct sesame_mail_limits *lim, int n)
{
	int gate[2], allowed = 0;

	if (pipe(gate) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			struct sesame_store st;
			struct sesame_err err = { "" };
			char c;
			int r = -1;
			close(gate[1]);
			if (sesame_store_open_file(&st, state, 0, &err) == 0 && read(gate[0], &c, 1) == 0)
				r = mail_at(&st, UID + 5, "flood", 5000, lim);
			_exit(r == 0 ? 0 : 1);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int status; wait(&status) > 0;)
		allowed += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return allowed;
}

static void test_mail_limits(void)
{
	const struct sesame_mail_limits lim = { 60, 3, 5 };
	struct sesame_store st;
	struct sesame_err err = { "" };
	struct sesame_gc_stats gs;

	open_fresh(&st, "mail");
	CHECK_EQ_INT(mail_at(&st, UID, "a", 0, &lim), 0);
	CHECK_EQ_INT(mail_at(&st, UID, "a", 30, &lim), 1);  /* interval, per source */
	CHECK_EQ_INT(mail_at(&st, UID, "b", 30, &lim), 0);  /* another source is not held */
	CHECK_EQ_INT(mail_at(&st, UID, "a", 60, &lim), 0);
	CHECK_EQ_INT(mail_at(&st, UID, "a", 120, &lim), 0);
	CHECK_EQ_INT(mail_at(&st, UID, "a", 180, &lim), 1); /* 3 an hour from a */
	CHECK_EQ_INT(mail_at(&st, UID, "c", 181, &lim), 0); /* 5 for the account */
	CHECK_EQ_INT(mail_at(&st, UID, "d", 182, &lim), 1); /* the account's cap */
	CHECK_EQ_INT(mail_at(&st, UID + 1, "a", 183, &lim), 0);
	CHECK_EQ_INT(mail_at(&st, UID, "d", 3600, &lim), 0); /* the first left the hour */
	CHECK_EQ_INT(mail_at(&st, UID, "a", 3661, &lim), 0);
	/* gc drops what is older than an hour */
	CHECK_EQ_INT(sesame_store_gc(&st, 3600 + 121, &gs, &err), 0);
	CHECK_EQ_INT(gs.removed, 4);
	CHECK_EQ_INT(gs.kept, 4);
	CHECK_EQ_INT(mail_at(&st, UID, "a", 3722, &lim), 0);
	/* one exclusive lock from count to append: one of 16 at once */
	{
		const struct sesame_mail_limits one = { 60, 1, 5 };
		CHECK_EQ_INT(race_mail(&one, 16), 1);
	}
	sesame_store_close(&st);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s", test_tmpdir("store"));
	test_counting();
	test_revoke();
	test_revoke_user();
	test_concurrency();
	test_gc();
	test_gc_file_left();
	test_gc_race();
	test_torn_tail();
	test_damaged_length();
	test_short_write();
	test_scale();
	test_no_growth();
	test_open_faults();
	test_file_faults();
	test_corrupt();
	test_readonly();
	test_clock_step();
	test_upgrade();
	test_mail_limits();
	test_rmtree(root);
	return test_finish("store");
}
