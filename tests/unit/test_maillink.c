/* Login by email: address resolution and the store's rate limits. The
 * clock is a parameter, so the hour window is tested without waiting. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
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

static const uint8_t source_a[SESAME_MAIL_SOURCE_LEN] = {'a'};
static const uint8_t source_b[SESAME_MAIL_SOURCE_LEN] = {'b'};

static int allow_from(const char *state, uint32_t uid, const uint8_t *source, int64_t now,
		      int64_t interval, unsigned per_source, unsigned per_account)
{
	const struct sesame_mail_limits lim = {interval, per_source, per_account};
	struct sesame_store st;
	struct sesame_err err;
	int r = -1;

	if (sesame_store_open_file(&st, state, 0, &err) == 0)
		r = sesame_store_mail_allow(&st, uid, source, now, &lim, &err);
	sesame_store_close(&st);
	return r;
}

static int allow(const char *state, uint32_t uid, int64_t now, int64_t interval, unsigned per_hour)
{
	return allow_from(state, uid, source_a, now, interval, per_hour, 1000);
}

/* One source using up its own limits leaves another source's alone; the
 * per-account cap still holds over all sources. */
static void test_rate_limits_per_source(void)
{
	char state[1100];
	uint8_t src[SESAME_MAIL_SOURCE_LEN];

	snprintf(state, sizeof(state), "%s/state3", dir);
	CHECK(mkdir(state, 0700) == 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(allow_from(state, 1501, source_a, NOW + 60 * i, 60, 5, 8), 0);
	CHECK_EQ_INT(allow_from(state, 1501, source_a, NOW + 300, 60, 5, 8), 1);
	CHECK_EQ_INT(allow_from(state, 1501, source_b, NOW + 300, 60, 5, 8), 0);
	CHECK_EQ_INT(allow_from(state, 1501, source_b, NOW + 330, 60, 5, 8), 1); /* interval */
	CHECK_EQ_INT(allow_from(state, 1501, source_b, NOW + 360, 60, 5, 8), 0);
	CHECK_EQ_INT(allow_from(state, 1501, source_b, NOW + 420, 60, 5, 8), 0);
	/* 8 for the account in the hour: a third source gets nothing */
	memset(src, 'c', sizeof(src));
	CHECK_EQ_INT(allow_from(state, 1501, src, NOW + 480, 60, 5, 8), 1);
	CHECK_EQ_INT(allow_from(state, 1502, src, NOW + 480, 60, 5, 8), 0);
}

static void source_of(const char *rhost, uint32_t ruid, uint8_t out[SESAME_MAIL_SOURCE_LEN])
{
	CHECK_EQ_INT(sesame_maillink_source(rhost, ruid, out), 0);
}

static int same_source(const char *rhost1, uint32_t uid1, const char *rhost2, uint32_t uid2)
{
	uint8_t a[SESAME_MAIL_SOURCE_LEN], b[SESAME_MAIL_SOURCE_LEN];

	source_of(rhost1, uid1, a);
	source_of(rhost2, uid2, b);
	return memcmp(a, b, sizeof(a)) == 0;
}

static void test_sources(void)
{
	/* an IPv6 address counts by its /64 */
	CHECK(same_source("2001:db8:1:2::1", 0, "2001:db8:1:2:ffff::9", 0));
	CHECK(same_source("2001:db8:1:2::1", 0, "2001:db8:1:2::1%eth0", 0));
	CHECK(!same_source("2001:db8:1:2::1", 0, "2001:db8:1:3::1", 0));
	/* IPv4, as such or mapped, by the whole address */
	CHECK(same_source("192.0.2.1", 0, "::ffff:192.0.2.1", 0));
	CHECK(!same_source("192.0.2.1", 0, "192.0.2.2", 0));
	CHECK(!same_source("host1.example", 0, "host2.example", 0));
	/* local services: the uid asking, whatever PAM_RHOST is not */
	CHECK(same_source(NULL, 1502, "", 1502));
	CHECK(!same_source(NULL, 1502, NULL, 1501));
	CHECK(!same_source(NULL, 0, "0", 7)); /* a uid never reads as a host */
	CHECK(same_source("192.0.2.1", 1, "192.0.2.1", 2)); /* remote: the uid is sshd's */
}

/* The map is read with strtok_r: lookups in several threads at once each
 * find their own user (strtok's one static cursor would mix them up). */
struct map_thread {
	const char *map;
	const char *user, *want;
	int wrong;
};

static void *map_lookups(void *arg)
{
	struct map_thread *mt = arg;
	struct sesame_err err;
	char out[256];

	for (int i = 0; i < 2000; i++) {
		if (sesame_maillink_address(mt->map, mt->user, out, sizeof(out), &err) != 1 ||
		    strcmp(out, mt->want) != 0)
			mt->wrong++;
	}
	return NULL;
}

static void test_map_threads(void)
{
	static const char *const users[] = {"u0", "u1", "u2", "u3"};
	static const char *const addrs[] = {"u0@a.example", "u1@a.example", "u2@a.example",
					    "u3@a.example"};
	struct map_thread mt[4];
	pthread_t th[4];
	char map[1100], text[8192] = "";
	int wrong = 0;

	/* A long map, so that each lookup spends its time in the tokenizer. */
	for (int i = 0; i < 150; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "x%d x%d@b.example\n", i, i);
	for (int i = 0; i < 4; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s %s\n", users[i],
			 addrs[i]);
	write_map(text, 0600, map, sizeof(map));
	for (int i = 0; i < 4; i++) {
		mt[i] = (struct map_thread){map, users[i], addrs[i], 0};
		CHECK(pthread_create(&th[i], NULL, map_lookups, &mt[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		wrong += mt[i].wrong;
	}
	CHECK_EQ_INT(wrong, 0);
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
	CHECK(sesame_store_open_file(&st, state, 0, &err) == 0);
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

/* A case-insensitive directory, as sssd or winbind can be: "ALICE" is the
 * account alice. Interposed for this test program only; every other name
 * goes to libc. */
int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size,
	       struct passwd **result)
{
	int (*next)(const char *, struct passwd *, char *, size_t, struct passwd **) =
		(int (*)(const char *, struct passwd *, char *, size_t, struct passwd **))dlsym(
			RTLD_NEXT, "getpwnam_r");

	if (strcmp(name, "ALICE") != 0)
		return next != NULL ? next(name, pw, buf, size, result) : ENOENT;
	if (size < 32)
		return ERANGE;
	memset(pw, 0, sizeof(*pw));
	snprintf(buf, size, "alice");
	pw->pw_name = buf;
	pw->pw_uid = 1501;
	pw->pw_gid = 1501;
	*result = pw;
	return 0;
}

/* A mail setup in dir: the key file name.key, state_dir NAME-state, mail
 * appended to NAME.mbox (its path into mbox). */
static void mail_setup(struct sesame_config *cfg, const char *name, char *mbox, size_t size)
{
	sesame_config_defaults(cfg);
	snprintf(cfg->key_file, sizeof(cfg->key_file), "%.900s/name.key", dir);
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%.900s/%.20s-state", dir, name);
	snprintf(mbox, size, "%.900s/%.20s.mbox", dir, name);
	snprintf(cfg->sendmail, sizeof(cfg->sendmail), "/usr/bin/tee -a %.900s", mbox);
	snprintf(cfg->mail_to, sizeof(cfg->mail_to), "%%u@mail.example");
	cfg->bind_password = 0;
	CHECK(mkdir(cfg->state_dir, 0700) == 0);
}

/* A login-by-mail request for "ALICE" (the interposed alice) at now. */
static void request_as_alice(struct sesame_maillink *ml, const struct sesame_config *cfg,
			     int64_t now)
{
	memset(ml, 0, sizeof(*ml));
	ml->cfg = cfg;
	ml->user = "ALICE";
	ml->service = "login";
	ml->host = "host.example";
	ml->now = now;
	ml->timeout_sec = 10;
}

/* The mail names the account as NSS spells it, not as typed at the prompt. */
static void test_mail_names_the_account(void)
{
	struct sesame_config cfg;
	struct sesame_maillink ml;
	char path[1100], mbox[1100], text[8192] = "";
	FILE *f;
	size_t n;

	mail_setup(&cfg, "name", mbox, sizeof(mbox));
	snprintf(path, sizeof(path), "%s", cfg.key_file);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fprintf(f, "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
	fclose(f);
	chmod(path, 0600);
	request_as_alice(&ml, &cfg, NOW);
	sesame_maillink_send(&ml);
	CHECK_EQ_INT(ml.outcome, SESAME_MAILLINK_SENT);
	f = fopen(mbox, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	CHECK(strstr(text, "To: ALICE@mail.example") == NULL);
	CHECK(strstr(text, "for the account alice on host.example") != NULL);
	CHECK(strstr(text, "ALICE") == NULL);
}

/* An account whose tokens --revoke-user ended until after now: a link
 * minted now would be born revoked, so nothing is mailed, and the
 * refusal uses up no mail limit (the next request, once the cutoff has
 * passed, is mailed despite a one-hour interval). */
static void test_mail_user_revoked(void)
{
	struct sesame_config cfg;
	struct sesame_maillink ml;
	struct sesame_store st;
	struct sesame_err err = { "" };
	char mbox[1100];
	struct stat sb;

	/* the key test_mail_names_the_account wrote */
	mail_setup(&cfg, "revoked", mbox, sizeof(mbox));
	cfg.mail_interval = 3600;
	CHECK_EQ_INT(sesame_store_open_file(&st, cfg.state_dir, 1, &err), 0);
	/* ALICE is uid 1501, through the interposed getpwnam_r */
	CHECK_EQ_INT(sesame_store_revoke_user(&st, 1501, NOW + 5, &err), 0);
	sesame_store_close(&st);
	request_as_alice(&ml, &cfg, NOW);
	sesame_maillink_send(&ml);
	CHECK_EQ_INT(ml.outcome, SESAME_MAILLINK_USER_REVOKED);
	CHECK(strstr(ml.err.msg, "--revoke-user") != NULL);
	CHECK(stat(mbox, &sb) != 0);
	ml.now = NOW + 6;
	sesame_maillink_send(&ml);
	CHECK_EQ_INT(ml.outcome, SESAME_MAILLINK_SENT);
	CHECK(stat(mbox, &sb) == 0 && sb.st_size > 0);
}

static void test_outcome_names(void)
{
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_SENT), "sent") == 0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_RATE_LIMITED), "rate limited") ==
	      0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_FAILED), "failed") == 0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_LOCKED), "account locked") == 0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_USER_REVOKED),
		     "account revoked") == 0);
	CHECK(strcmp(sesame_maillink_outcome_name(SESAME_MAILLINK_EXPIRED), "account expired") ==
	      0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s", test_tmpdir("maillink"));
	test_address();
	test_rate_limits();
	test_rate_limits_per_source();
	test_sources();
	test_map_threads();
	test_concurrent();
	test_mail_names_the_account();
	test_outcome_names();
	test_mail_user_revoked();
	test_rmtree(dir);
	return test_finish("maillink");
}
