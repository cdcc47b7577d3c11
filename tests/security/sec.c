#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sec.h"
#include "store.h"
#include "testutil.h"
#include "util.h"

int sec_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, (mode_t)mode) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int find_account(struct sesame_account *acct)
{
	struct passwd *pw = getpwuid(geteuid());

	memset(acct, 0, sizeof(*acct));
	if (pw == NULL || strlen(pw->pw_name) >= sizeof(acct->name)) {
		fprintf(stderr, "security tests: the effective uid %u has no passwd entry\n",
			(unsigned)geteuid());
		return -1;
	}
	snprintf(acct->name, sizeof(acct->name), "%s", pw->pw_name);
	acct->uid = (uint32_t)pw->pw_uid;
	acct->gid = (uint32_t)pw->pw_gid;
	return 0;
}

int sec_env_init(struct sec_env *e, const char *tag)
{
	struct sesame_err err = {""};

	memset(e, 0, sizeof(*e));
	if (find_account(&e->acct) != 0)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "%s", test_tmpdir(tag));
	snprintf(e->key_file, sizeof(e->key_file), "%s/sesame.key", e->dir);
	snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
	if (sec_write_file(e->key_file, "1 " SEC_KEY_HEX "\n", 67, 0600) != 0 ||
	    mkdir(e->state_dir, 0700) != 0) {
		perror(e->dir);
		return -1;
	}
	sesame_config_defaults(&e->cfg);
	snprintf(e->cfg.key_file, sizeof(e->cfg.key_file), "%s", e->key_file);
	snprintf(e->cfg.state_dir, sizeof(e->cfg.state_dir), "%s", e->state_dir);
	e->cfg.bind_password = 0;
	e->cfg.allow_root = 1;
	e->now = (int64_t)time(NULL);
	if (sesame_keyring_load(&e->kr, e->key_file, &err) != 0) {
		fprintf(stderr, "security tests: %s\n", err.msg);
		return -1;
	}
	return 0;
}

void sec_env_free(struct sec_env *e)
{
	sesame_keyring_wipe(&e->kr);
	if (e->dir[0] != '\0')
		test_rmtree(e->dir);
	e->dir[0] = '\0';
}

void sec_mint(const struct sec_env *e, unsigned uses, int64_t lifetime, struct sesame_token *t,
	      char text[SESAME_TOKEN_TEXT_SIZE])
{
	struct sesame_mint_request req = {e->now, lifetime, uses, NULL, NULL, NULL};

	CHECK_EQ_INT(sesame_mint(sesame_keyring_signer(&e->kr), &e->acct, 0, &req, t), SESAME_OK);
	sesame_token_format(t, text);
}

enum sesame_reason sec_attempt(const struct sec_env *e, const char *input, size_t len,
			       int consume, char *err, size_t err_size)
{
	struct sesame_attempt a;
	enum sesame_reason r;

	sesame_attempt_init(&a, &e->cfg);
	a.ctx.service = SEC_SERVICE;
	a.ctx.host = SEC_HOST;
	a.ctx.now = e->now;
	a.consume = consume;
	r = sesame_attempt_run(&a, input, len);
	if (err != NULL)
		snprintf(err, err_size, "%s", a.err.msg);
	return r;
}

int sec_uses_recorded(const struct sec_env *e, const struct sesame_token *t)
{
	struct sesame_store st;
	struct sesame_err err = {""};
	unsigned used = 0;
	enum sesame_reason r = SESAME_STORE_UNAVAILABLE;

	if (sesame_store_open_file(&st, e->state_dir, 0, &err) == 0)
		r = sesame_store_status(&st, t, e->now, &used, &err);
	sesame_store_close(&st);
	if (r == SESAME_STORE_UNAVAILABLE) {
		fprintf(stderr, "store status: %s\n", err.msg);
		return -1;
	}
	return (int)used;
}

/* ---- snapshots ---- */

static char *snap;
static size_t snap_len, snap_cap;

static void snap_add(const char *line)
{
	size_t n = strlen(line);

	if (snap_len + n + 1 > snap_cap) {
		char *bigger = realloc(snap, snap_cap * 2 + n + 1);
		if (bigger == NULL)
			abort();
		snap = bigger;
		snap_cap = snap_cap * 2 + n + 1;
	}
	memcpy(snap + snap_len, line, n + 1);
	snap_len += n;
}

/* SHA-256 of a regular file, hex; "-" when it cannot be read. */
static void file_digest(const char *path, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[4096];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	snprintf(out, 65, "-");
	if (ctx != NULL && fd >= 0 && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			EVP_DigestUpdate(ctx, buf, (size_t)n);
		if (n == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
			for (unsigned i = 0; i < 32 && i < mdlen; i++)
				snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
}

static int snap_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	char line[8192], link[1024] = "", digest[65] = "-";
	ssize_t n;

	(void)ftw;
	if (flag == FTW_SL && (n = readlink(p, link, sizeof(link) - 1)) >= 0)
		link[n] = '\0';
	if (S_ISREG(sb->st_mode))
		file_digest(p, digest);
	snprintf(line, sizeof(line), "%s mode=%o uid=%u gid=%u size=%lld nlink=%lu sha256=%s%s%s\n",
		 p, (unsigned)sb->st_mode, (unsigned)sb->st_uid, (unsigned)sb->st_gid,
		 (long long)sb->st_size, (unsigned long)sb->st_nlink, digest, link[0] ? " -> " : "",
		 link);
	snap_add(line);
	return 0;
}

char *sec_snapshot(const char *dir)
{
	char *out;

	snap_len = 0;
	snap_cap = 4096;
	snap = malloc(snap_cap);
	if (snap == NULL)
		abort();
	snap[0] = '\0';
	if (nftw(dir, snap_one, 16, FTW_PHYS) != 0)
		snap_add("(missing)\n");
	out = snap;
	snap = NULL;
	return out;
}

void sec_check_unchanged(const char *before, const char *dir, const char *what)
{
	char *after = sec_snapshot(dir);

	CHECK(strcmp(before, after) == 0);
	if (strcmp(before, after) != 0)
		fprintf(stderr, "%s: the tree changed\nbefore:\n%safter:\n%s", what, before, after);
	free(after);
}

/* ---- the runner ---- */

static char skip_reason[512];
static int skip_is_bug;
static int n_ok, n_fail, n_skip;

void sec_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	skip_is_bug = 0;
}

void sec_known_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	skip_is_bug = 1;
}

void sec_property(const char *property, void (*fn)(void))
{
	int failures = test_failures;
	int checks = test_checks;

	skip_reason[0] = '\0';
	skip_is_bug = 0;
	fn();
	fflush(stderr);
	if (skip_is_bug) {
		/* Every bug these tests found is fixed: one showing again is a
		 * regression, and fails. */
		(void)checks;
		test_failures = failures + 1;
		printf("FAIL (regression): %s: %s\n", property, skip_reason);
		n_fail++;
	} else if (test_failures != failures) {
		printf("FAIL: %s\n", property);
		n_fail++;
	} else if (skip_reason[0] != '\0') {
		printf("SKIP: %s (%s)\n", property, skip_reason);
		n_skip++;
	} else {
		printf("ok: %s\n", property);
		n_ok++;
	}
	fflush(stdout);
}

int sec_finish(const char *suite)
{
	printf("%s: %d properties proved, %d failed, %d skipped (%d checks)\n", suite, n_ok,
	       n_fail, n_skip, test_checks);
	return test_finish(suite);
}
