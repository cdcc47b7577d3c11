/* Login by email: address resolution and the store's rate limits. The
 * clock is a parameter, so the hour window is tested without waiting. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "maillink.h"
#include "store.h"
#include "testutil.h"

#define NOW 1767225600

static char dir[1024];

static void write_map(const char *text, mode_t mode, char *path, size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/map", dir);
	unlink(path);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void test_address(void)
{
	char out[256], map[1100], link[1200];
	struct sesame_err err;

	CHECK_EQ_INT(sesame_maillink_address("%u@example.org", "alice", out, sizeof(out), &err), 1);
	CHECK(strcmp(out, "alice@example.org") == 0);
	CHECK_EQ_INT(sesame_maillink_address("%u+100%%@example.org", "bob", out, sizeof(out), &err),
		     1);
	CHECK(strcmp(out, "bob+100%@example.org") == 0);
	CHECK_EQ_INT(sesame_maillink_address("", "alice", out, sizeof(out), &err), 0);
	/* a user name that would make a bad address sends nothing */
	CHECK_EQ_INT(sesame_maillink_address("%u@example.org", "a b", out, sizeof(out), &err), 0);
	write_map("# user address\nalice  alice@mail.example \nbob\tbob@mail.example\n", 0600, map,
		  sizeof(map));
	CHECK_EQ_INT(sesame_maillink_address(map, "alice", out, sizeof(out), &err), 1);
	CHECK(strcmp(out, "alice@mail.example") == 0);
	CHECK_EQ_INT(sesame_maillink_address(map, "bob", out, sizeof(out), &err), 1);
	CHECK(strcmp(out, "bob@mail.example") == 0);
	CHECK_EQ_INT(sesame_maillink_address(map, "carol", out, sizeof(out), &err), 0);
	CHECK_EQ_INT(sesame_maillink_address(map, "alic", out, sizeof(out), &err), 0);
	write_map("alice alice@mail.example\nBcc: x@y\n", 0600, map, sizeof(map));
	CHECK_EQ_INT(sesame_maillink_address(map, "Bcc:", out, sizeof(out), &err), 1);
	write_map("alice alice@mail.example\n", 0640, map, sizeof(map));
	CHECK_EQ_INT(sesame_maillink_address(map, "alice", out, sizeof(out), &err), -1);
	CHECK(strstr(err.msg, "mail map") && strstr(err.msg, "group or other"));
	snprintf(link, sizeof(link), "%s/link", dir);
	chmod(map, 0600);
	CHECK(symlink(map, link) == 0);
	CHECK_EQ_INT(sesame_maillink_address(link, "alice", out, sizeof(out), &err), -1);
	CHECK(strstr(err.msg, "symbolic link") != NULL);
}

static int allow(const char *state, uint32_t uid, int64_t now, int64_t interval, unsigned per_hour)
{
	static const uint8_t source[SESAME_MAIL_SOURCE_LEN];
	struct sesame_mail_limits lim = { interval, per_hour, per_hour };
	struct sesame_store st;
	struct sesame_err err;
	int r = -1;

	if (sesame_store_open(&st, state, 0, &err) == 0)
		r = sesame_store_mail_allow(&st, uid, source, now, &lim, &err);
	sesame_store_close(&st);
	return r;
}

static void test_rate_limits(void)
{
	char state[1100];
	struct sesame_store st;
	struct sesame_gc_stats stats;
	struct sesame_err err;

	snprintf(state, sizeof(state), "%s/state", dir);
	CHECK(mkdir(state, 0700) == 0);
	CHECK_EQ_INT(allow(state, 1501, NOW, 60, 3), 0);
	CHECK_EQ_INT(allow(state, 1501, NOW + 59, 60, 3), 1);  /* interval */
	CHECK_EQ_INT(allow(state, 1502, NOW + 59, 60, 3), 0);  /* per account */
	CHECK_EQ_INT(allow(state, 1501, NOW + 60, 60, 3), 0);
	CHECK_EQ_INT(allow(state, 1501, NOW + 120, 60, 3), 0);
	CHECK_EQ_INT(allow(state, 1501, NOW + 180, 60, 3), 1);  /* 3 in the last hour */
	CHECK_EQ_INT(allow(state, 1501, NOW + 3600, 60, 3), 0); /* the first left the hour */
	/* gc keeps an hour of mail records and drops the rest */
	CHECK(sesame_store_open(&st, state, 0, &err) == 0);
	CHECK(sesame_store_gc(&st, NOW + 3600 + 90, &stats, &err) == 0);
	CHECK_EQ_INT(stats.removed, 3);
	CHECK_EQ_INT(stats.kept, 2);
	sesame_store_close(&st);
	CHECK_EQ_INT(allow(state, 1501, NOW + 3600 + 90, 60, 2), 1); /* 2 still in the hour */
}

/* 20 processes asking at once: exactly one mail goes out. */
static void test_concurrent(void)
{
	char state[1100];
	int allowed = 0, pipefd[2];

	snprintf(state, sizeof(state), "%s/state2", dir);
	CHECK(mkdir(state, 0700) == 0);
	CHECK(pipe(pipefd) == 0);
	for (int i = 0; i < 20; i++) {
		if (fork() == 0) {
			char c = allow(state, 1501, NOW, 60, 5) == 0 ? 'y' : 'n';
			(void)!write(pipefd[1], &c, 1);
			_exit(0);
		}
	}
	close(pipefd[1]);
	for (int i = 0; i < 20; i++) {
		char c = 0;
		if (read(pipefd[0], &c, 1) == 1 && c == 'y')
			allowed++;
		wait(NULL);
	}
	close(pipefd[0]);
	CHECK_EQ_INT(allowed, 1);
}

static void test_outcome_names(void)
{
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_SENT), "sent") == 0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_RATE_LIMITED), "rate limited") ==
	      0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_FAILED), "failed") == 0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s", test_tmpdir("maillink"));
	test_address();
	test_rate_limits();
	test_concurrent();
	test_outcome_names();
	test_rmtree(dir);
	return test_finish("maillink");
}
