/* Minting, checking and every rejection reason, with golden vectors from
 * the committed test key (bytes 00..1f, id 1) at a fixed clock. The clock
 * is a parameter: no time is faked. */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attempt.h"
#include "store.h"
#include "testutil.h"
#include "verify.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const char pw_hash[] = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7TNtzLxeGZ6XcSbfcmCmA7gq1VwyQ/g/";
static const uint8_t vector_id[SESAME_ID_BYTES] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};

struct vector {
	int bind;
	int64_t lifetime;
	unsigned uses;
	const char *service, *host;
	const char *text, *hex;
};

/* docs/token-format.md, "Golden vectors": keep both in step. Hints mix
 * in the token id ("sesame/v2/hint/"). */
static const struct vector vectors[] = {
	{1, 900, 1, NULL, NULL, "SSM1040001EXD5AVJ003GG0T38N3MJJTC00074EP9QY464A6VJ3C3NSQPXTN",
	 "01000005dd6955b900038401a1a2a3a4a5a60000391d64dfc431146dc86c1d737b7755"},
	{1, 86400, 0, "sshd", "kiosk1", "SSM1R40001EXD5AVJ045M00A38N3MJJTCKSA77VM4818JDXMD446NE39PDNA",
	 "c1000005dd6955b90085a000a1a2a3a4a5a64f2a39f7422028937b469086ab869b36aa"},
	{0, 30, 5, NULL, NULL, "SSM1040001EXD5AVJ0003R2T38N3MJJTC00003VST18GC61MHHSBRBA4J3S8",
	 "01000005dd6955b900001e05a1a2a3a4a5a6000000f79d0510618348c72bc2d4490f28"},
};

/* The same two tokens as minted before hints mixed in the token id
 * ("sesame/v1/hint/"): still valid, and still diagnosed. */
static const struct vector legacy_vectors[] = {
	{1, 900, 1, NULL, NULL, "SSM1040001EXD5AVJ003GG0T38N3MJJTC000F5XK9J2QTDS8T1X1CKYVNWBT",
	 "01000005dd6955b900038401a1a2a3a4a5a60000797b34c857d3728d07a164fdbaf17a"},
	{1, 86400, 0, "sshd", "kiosk1", "SSM1R40001EXD5AVJ045M00A38N3MJJTD6T9F58MCTQGHY70QE43AAC8ZY8B",
	 "c1000005dd6955b90085a000a1a2a3a4a5a69b497951466af08f8e0bb88352988ff90b"},
};

static void test_key(struct sesame_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
	kr->n = 1;
	kr->keys[0].id = 1;
	for (int i = 0; i < SESAME_KEY_BYTES; i++)
		kr->keys[0].key[i] = (uint8_t)i;
}

static void alice(struct sesame_account *a, const char *hash)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "alice");
	a->uid = 1501;
	a->gid = 1501;
	a->pwhash = hash ? strdup(hash) : NULL;
}

static void test_golden_vectors(void)
{
	struct sesame_keyring kr;
	struct sesame_account a;

	test_key(&kr);
	alice(&a, pw_hash);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		struct sesame_mint_request req = {NOW, v->lifetime, v->uses, v->service, v->host, NULL};
		struct sesame_token t;
		char text[SESAME_TOKEN_TEXT_SIZE], hex[2 * SESAME_TOKEN_BYTES + 1];
		uint8_t raw[SESAME_TOKEN_BYTES];

		CHECK_EQ_INT(sesame_mint_with_id(&kr.keys[0], &a, v->bind, &req, vector_id, &t),
			     SESAME_OK);
		sesame_token_format(&t, text);
		sesame_token_to_bytes(&t, raw);
		for (size_t k = 0; k < SESAME_TOKEN_BYTES; k++)
			snprintf(hex + 2 * k, 3, "%02x", raw[k]);
		CHECK(strcmp(text, v->text) == 0);
		CHECK(strcmp(hex, v->hex) == 0);
		if (strcmp(text, v->text) != 0)
			fprintf(stderr, "vector %zu: got %s %s\n", i + 1, text, hex);
	}
	sesame_account_clear(&a);
}

static struct sesame_config config(int bind)
{
	struct sesame_config cfg;

	sesame_config_defaults(&cfg);
	cfg.bind_password = bind;
	return cfg;
}

/* Check a token text as a module on service/host at `now` would. */
static enum sesame_reason check_text(const char *text, const struct sesame_config *cfg,
				     const struct sesame_account *a, const char *service,
				     const char *host, int64_t now)
{
	struct sesame_keyring kr;
	struct sesame_token t;
	struct sesame_context ctx = {service, host, now};

	test_key(&kr);
	if (sesame_token_parse(text, SESAME_TOKEN_TEXT_LEN, "sesame", &t) != 0)
		return SESAME_MALFORMED;
	return sesame_check(cfg, &kr, &t, a, &ctx);
}

/* The same for vector i. */
static enum sesame_reason check_vector(size_t i, const struct sesame_config *cfg,
				       const struct sesame_account *a, const char *service,
				       const char *host, int64_t now)
{
	return check_text(vectors[i].text, cfg, a, service, host, now);
}

/* Two tokens of one account, service, host and password, differing only
 * in their ids, carry unrelated hints; tokens minted with the old hints
 * still verify and are still told apart by reason. */
static void test_hints_per_token(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_keyring kr;
	struct sesame_account a;
	struct sesame_mint_request req = {NOW, 900, 1, "sshd", "kiosk1", NULL};
	int same_service = 0, same_host = 0, same_password = 0;
	uint8_t id[SESAME_ID_BYTES] = {0};

	test_key(&kr);
	alice(&a, pw_hash);
	for (int i = 0; i < 64; i++) {
		struct sesame_token t1, t2;

		id[0] = (uint8_t)i;
		CHECK_EQ_INT(sesame_mint_with_id(&kr.keys[0], &a, 1, &req, id, &t1), SESAME_OK);
		id[0] = (uint8_t)(i + 64);
		CHECK_EQ_INT(sesame_mint_with_id(&kr.keys[0], &a, 1, &req, id, &t2), SESAME_OK);
		same_service += t1.service_hint == t2.service_hint;
		same_host += t1.host_hint == t2.host_hint;
		same_password += t1.password_hint == t2.password_hint;
	}
	/* Without the id, all 64 pairs would match; with it, about 1 in 256. */
	CHECK(same_service < 8 && same_host < 8 && same_password < 8);
	CHECK_EQ_INT(check_text(legacy_vectors[0].text, &cfg, &a, "login", "h", NOW), SESAME_OK);
	CHECK_EQ_INT(check_text(legacy_vectors[1].text, &cfg, &a, "sshd", "kiosk1", NOW), SESAME_OK);
	CHECK_EQ_INT(check_text(legacy_vectors[1].text, &cfg, &a, "login", "kiosk1", NOW),
		     SESAME_WRONG_SERVICE);
	CHECK_EQ_INT(check_text(legacy_vectors[1].text, &cfg, &a, "sshd", "kiosk2", NOW),
		     SESAME_WRONG_HOST);
	sesame_account_clear(&a);
	alice(&a, "$y$j9T$another$hash");
	CHECK_EQ_INT(check_text(legacy_vectors[0].text, &cfg, &a, "login", "h", NOW),
		     SESAME_PASSWORD_CHANGED);
	sesame_account_clear(&a);
}

/* A scope is at most 255 bytes: a longer service or host name is not the
 * scope its first 255 bytes spell (it used to be cut before hashing).
 * The token id is fixed: a wrong service or host is named by an 8-bit
 * hint, which a random id would let collide once in about 128 runs. */
static void test_long_scope_names(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_keyring kr;
	struct sesame_account a;
	struct sesame_token t;
	char name[300];
	struct sesame_mint_request req = {NOW, 900, 1, name, name, NULL};
	struct sesame_context ctx = {name, name, NOW};

	test_key(&kr);
	alice(&a, pw_hash);
	memset(name, 'a', 255);
	name[255] = '\0';
	CHECK_EQ_INT(sesame_mint_with_id(&kr.keys[0], &a, 1, &req, vector_id, &t), SESAME_OK);
	CHECK_EQ_INT(sesame_check(&cfg, &kr, &t, &a, &ctx), SESAME_OK);
	snprintf(name + 255, sizeof(name) - 255, "b");
	CHECK_EQ_INT(sesame_check(&cfg, &kr, &t, &a, &ctx), SESAME_WRONG_SERVICE);
	ctx.service = "aaa";
	req.service = NULL;
	CHECK_EQ_INT(sesame_mint_with_id(&kr.keys[0], &a, 1, &req, vector_id, &t), SESAME_MALFORMED);
	name[255] = '\0';
	CHECK_EQ_INT(sesame_mint_with_id(&kr.keys[0], &a, 1, &req, vector_id, &t), SESAME_OK);
	snprintf(name + 255, sizeof(name) - 255, "b");
	CHECK_EQ_INT(sesame_check(&cfg, &kr, &t, &a, &ctx), SESAME_WRONG_HOST);
	sesame_account_clear(&a);
}

/* A locked or expired shadow entry refuses a genuine token, with its own
 * reason, only after the tag (a forger learns nothing of the account). */
static void test_account_state(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_account a;

	alice(&a, pw_hash);
	a.shadow = SESAME_SHADOW_PASSWORD;
	a.expire_days = -1;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_OK);
	a.shadow = SESAME_SHADOW_LOCKED;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_ACCOUNT_LOCKED);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW + 900), SESAME_EXPIRED);
	a.shadow = SESAME_SHADOW_NO_PASSWORD;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_OK);
	a.expire_days = NOW / 86400; /* expires today: already expired */
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_ACCOUNT_EXPIRED);
	a.expire_days = NOW / 86400 + 1;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_OK);
	a.expire_days = 1;
	a.shadow = SESAME_SHADOW_LOCKED;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_ACCOUNT_EXPIRED);
	sesame_account_clear(&a);
	/* a forged token for a locked account: bad signature, not "locked" */
	alice(&a, "$y$j9T$another$hash");
	a.shadow = SESAME_SHADOW_LOCKED;
	a.expire_days = -1;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_PASSWORD_CHANGED);
	sesame_account_clear(&a);
}

static void test_valid_and_times(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_account a;

	alice(&a, pw_hash);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_OK);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW + 899), SESAME_OK);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW + 900), SESAME_EXPIRED);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW - SESAME_CLOCK_SKEW), SESAME_OK);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW - SESAME_CLOCK_SKEW - 1),
		     SESAME_NOT_YET_VALID);
	cfg.max_age_limit = 899;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_LIFETIME_TOO_LONG);
	sesame_account_clear(&a);
}

static void test_password_binding(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_account a;
	char locked[sizeof(pw_hash) + 1];

	alice(&a, "$y$j9T$othersalt$otherhash");
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_PASSWORD_CHANGED);
	sesame_account_clear(&a);
	snprintf(locked, sizeof(locked), "!%s", pw_hash);
	alice(&a, locked);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_PASSWORD_CHANGED);
	sesame_account_clear(&a);
	alice(&a, NULL);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_SHADOW_UNAVAILABLE);
	/* bind_password switched off: bound tokens die, reported as a changed binding */
	cfg = config(0);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_PASSWORD_CHANGED);
	CHECK_EQ_INT(check_vector(2, &cfg, &a, "login", "h", NOW), SESAME_OK);
	sesame_account_clear(&a);
	/* the same uid under another name (account re-created) */
	alice(&a, pw_hash);
	snprintf(a.name, sizeof(a.name), "mallory");
	cfg = config(1);
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_BAD_SIGNATURE);
	a.uid = 1502;
	CHECK_EQ_INT(check_vector(0, &cfg, &a, "login", "h", NOW), SESAME_WRONG_USER);
	sesame_account_clear(&a);
}

static void test_scope(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_account a;

	alice(&a, pw_hash);
	CHECK_EQ_INT(check_vector(1, &cfg, &a, "sshd", "kiosk1", NOW), SESAME_OK);
	CHECK_EQ_INT(check_vector(1, &cfg, &a, "login", "kiosk1", NOW), SESAME_WRONG_SERVICE);
	CHECK_EQ_INT(check_vector(1, &cfg, &a, NULL, "kiosk1", NOW), SESAME_WRONG_SERVICE);
	CHECK_EQ_INT(check_vector(1, &cfg, &a, "sshd", "kiosk2", NOW), SESAME_WRONG_HOST);
	CHECK_EQ_INT(check_vector(1, &cfg, &a, "sshd", "kiosk1", NOW + 86400), SESAME_EXPIRED);
	sesame_account_clear(&a);
}

static void test_policy_and_keys(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_keyring kr, other;
	struct sesame_account root;
	struct sesame_token t;
	struct sesame_mint_request req = {NOW, 900, 1, NULL, NULL, NULL};
	struct sesame_context ctx = {"login", "h", NOW};

	test_key(&kr);
	memset(&root, 0, sizeof(root));
	snprintf(root.name, sizeof(root.name), "root");
	root.pwhash = strdup(pw_hash);
	CHECK_EQ_INT(sesame_mint(&kr.keys[0], &root, 1, &req, &t), SESAME_OK);
	CHECK_EQ_INT(sesame_check(&cfg, &kr, &t, &root, &ctx), SESAME_USER_NOT_ALLOWED);
	cfg.allow_root = 1;
	CHECK_EQ_INT(sesame_check(&cfg, &kr, &t, &root, &ctx), SESAME_OK);
	/* a key id the key file no longer holds */
	test_key(&other);
	other.keys[0].id = 2;
	CHECK_EQ_INT(sesame_check(&cfg, &other, &t, &root, &ctx), SESAME_UNKNOWN_KEY);
	/* same id, other key bytes: a forgery */
	other.keys[0].id = 1;
	other.keys[0].key[0] ^= 1;
	CHECK_EQ_INT(sesame_check(&cfg, &other, &t, &root, &ctx), SESAME_BAD_SIGNATURE);
	/* bad requests */
	req.lifetime = SESAME_MAX_LIFETIME + 60;
	CHECK_EQ_INT(sesame_mint(&kr.keys[0], &root, 1, &req, &t), SESAME_LIFETIME_TOO_LONG);
	req.lifetime = 900;
	req.service = "bad service";
	CHECK_EQ_INT(sesame_mint(&kr.keys[0], &root, 1, &req, &t), SESAME_MALFORMED);
	req.service = "";
	CHECK_EQ_INT(sesame_mint(&kr.keys[0], &root, 1, &req, &t), SESAME_MALFORMED);
	sesame_account_clear(&root);
}

/* Every bit flip of the decoded bytes is refused; flips in the tag itself
 * are reported as a bad signature, never as a changed password. */
static void test_bit_flips(void)
{
	struct sesame_config cfg = config(1);
	struct sesame_keyring kr;
	struct sesame_account a;
	struct sesame_token good, t;
	struct sesame_context ctx = {"sshd", "kiosk1", NOW};
	uint8_t raw[SESAME_TOKEN_BYTES];
	int accepted = 0, tag_misreported = 0;

	test_key(&kr);
	alice(&a, pw_hash);
	CHECK(sesame_token_parse(vectors[1].text, SESAME_TOKEN_TEXT_LEN, "sesame", &good) == 0);
	for (int bit = 0; bit < SESAME_TOKEN_BYTES * 8; bit++) {
		enum sesame_reason r;
		sesame_token_to_bytes(&good, raw);
		raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (sesame_token_from_bytes(raw, &t) != 0)
			continue; /* not even a token */
		r = sesame_check(&cfg, &kr, &t, &a, &ctx);
		accepted += r == SESAME_OK;
		if (bit / 8 >= SESAME_SIGNED_BYTES && r != SESAME_BAD_SIGNATURE)
			tag_misreported++;
	}
	CHECK_EQ_INT(accepted, 0);
	CHECK_EQ_INT(tag_misreported, 0);
	sesame_account_clear(&a);
}

/* ---- the whole attempt: files, NSS and store (no root needed: the
 * account is the one running the test, unbound from any password) ---- */

struct fixture {
	char dir[900], key[1000], state[1000];
	struct sesame_config cfg;
	char user[256];
	uint32_t uid;
};

static void fixture_setup(struct fixture *f)
{
	struct passwd *pw = getpwuid(geteuid());
	struct sesame_err err;

	snprintf(f->dir, sizeof(f->dir), "%s", test_tmpdir("verify"));
	snprintf(f->key, sizeof(f->key), "%s/key", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	CHECK(mkdir(f->state, 0700) == 0);
	CHECK(sesame_keyring_create(f->key, NULL, &err) == 0);
	f->cfg = config(0);
	f->cfg.allow_root = 1;
	memcpy(f->cfg.key_file, f->key, sizeof(f->key));
	memcpy(f->cfg.state_dir, f->state, sizeof(f->state));
	snprintf(f->user, sizeof(f->user), "%s", pw ? pw->pw_name : "root");
	f->uid = (uint32_t)geteuid();
}

static void mint_for_self(struct fixture *f, unsigned uses, uint32_t uid,
			  char text[SESAME_TOKEN_TEXT_SIZE])
{
	struct sesame_keyring kr;
	struct sesame_account a;
	struct sesame_mint_request req = {NOW, 900, uses, NULL, NULL, NULL};
	struct sesame_token t;
	struct sesame_err err;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", f->user);
	a.uid = uid;
	CHECK(sesame_keyring_load(&kr, f->key, &err) == 0);
	CHECK_EQ_INT(sesame_mint(sesame_keyring_signer(&kr), &a, 0, &req, &t), SESAME_OK);
	sesame_token_format(&t, text);
	sesame_keyring_wipe(&kr);
}

static enum sesame_reason run(struct fixture *f, const char *user, const char *input,
			      int consume, int64_t now)
{
	struct sesame_attempt a;

	sesame_attempt_init(&a, &f->cfg);
	a.user = user;
	a.consume = consume;
	a.ctx.service = "login";
	a.ctx.host = "h";
	a.ctx.now = now;
	return sesame_attempt_run(&a, input, strlen(input));
}

static void test_attempt(void)
{
	struct fixture f;
	char tok[SESAME_TOKEN_TEXT_SIZE], other[SESAME_TOKEN_TEXT_SIZE];
	struct sesame_store st;
	struct sesame_token t;
	struct sesame_err err;

	fixture_setup(&f);
	mint_for_self(&f, 1, f.uid, tok);
	CHECK_EQ_INT(run(&f, f.user, "not a token", 1, NOW), SESAME_MALFORMED);
	CHECK_EQ_INT(run(&f, f.user, tok, 0, NOW), SESAME_OK);  /* inspect consumes nothing */
	CHECK_EQ_INT(run(&f, NULL, tok, 1, NOW), SESAME_OK);    /* user from the token */
	CHECK_EQ_INT(run(&f, f.user, tok, 1, NOW), SESAME_USED_UP);
	CHECK_EQ_INT(run(&f, f.user, tok, 1, NOW + 900), SESAME_EXPIRED);
	mint_for_self(&f, 0, 4000000000u, other);
	CHECK_EQ_INT(run(&f, NULL, other, 1, NOW), SESAME_USER_UNKNOWN);
	CHECK_EQ_INT(run(&f, "no-such-user-sesame", tok, 1, NOW), SESAME_USER_UNKNOWN);
	if (f.uid != 0)
		CHECK_EQ_INT(run(&f, "root", tok, 1, NOW), SESAME_WRONG_USER);
	else
		CHECK_EQ_INT(run(&f, "nobody", tok, 1, NOW), SESAME_WRONG_USER);
	/* revoked token, revoked user */
	mint_for_self(&f, 3, f.uid, other);
	CHECK(sesame_token_parse(other, strlen(other), "sesame", &t) == 0);
	CHECK(sesame_store_open_file(&st, f.state, 0, &err) == 0);
	CHECK(sesame_store_revoke(&st, &t, NOW, &err) == 0);
	CHECK_EQ_INT(run(&f, f.user, other, 1, NOW), SESAME_REVOKED);
	mint_for_self(&f, 3, f.uid, other);
	CHECK(sesame_store_revoke_user(&st, f.uid, NOW, &err) == 0);
	CHECK_EQ_INT(run(&f, f.user, other, 1, NOW), SESAME_REVOKED);
	sesame_store_close(&st);
	/* store and key unavailable: fail closed */
	mint_for_self(&f, 3, f.uid, other);
	snprintf(f.cfg.state_dir, sizeof(f.cfg.state_dir), "%.900s/missing", f.dir);
	CHECK_EQ_INT(run(&f, f.user, other, 1, NOW), SESAME_STORE_UNAVAILABLE);
	snprintf(f.cfg.key_file, sizeof(f.cfg.key_file), "%.900s/missing", f.dir);
	CHECK_EQ_INT(run(&f, f.user, other, 1, NOW), SESAME_KEY_UNAVAILABLE);
	memcpy(f.cfg.key_file, f.key, sizeof(f.key));
	CHECK(chmod(f.key, 0640) == 0);
	CHECK_EQ_INT(run(&f, f.user, other, 1, NOW), SESAME_KEY_UNAVAILABLE);
	test_rmtree(f.dir);
}

static void test_reason_names(void)
{
	for (int r = 0; r < SESAME_REASON_COUNT; r++)
		CHECK(strcmp(sesame_reason_name((enum sesame_reason)r), "unknown reason") != 0);
	for (int r = 0; r < SESAME_REASON_COUNT; r++)
		for (int s = r + 1; s < SESAME_REASON_COUNT; s++)
			CHECK(strcmp(sesame_reason_name((enum sesame_reason)r),
				     sesame_reason_name((enum sesame_reason)s)) != 0);
	CHECK(strcmp(sesame_reason_name(SESAME_REASON_COUNT), "unknown reason") == 0);
}

/* docs/token-format.md, "Golden vectors", vector 4: scoped to host group
 * "web", with alice's hash present but not bound (group tokens bind to
 * name and uid). */
#define GROUP_VECTOR_TEXT "SSM1840001EXD5AVJ003GG0T38N3MJJTC01M02G52GNA6GW78X6X1YSC6TV1"
#define GROUP_VECTOR_HEX "41000005dd6955b900038401a1a2a3a4a5a6003400a05142aa34387474dd0fb2c36b61"

static void group_keys_with(struct sesame_group_keys *gk, const char *name,
			    const struct sesame_keyring *kr)
{
	memset(gk, 0, sizeof(*gk));
	gk->n = 1;
	snprintf(gk->group[0].name, sizeof(gk->group[0].name), "%s", name);
	gk->group[0].kr = *kr;
}

static void other_key(struct sesame_keyring *kr, uint8_t fill)
{
	memset(kr, 0, sizeof(*kr));
	kr->n = 1;
	kr->keys[0].id = 1;
	memset(kr->keys[0].key, fill, SESAME_KEY_BYTES);
}

static void test_group_scope(void)
{
	struct sesame_keyring web, db, host;
	struct sesame_group_keys gk;
	struct sesame_account a;
	struct sesame_config cfg;
	struct sesame_match m;
	struct sesame_token t, h;
	struct sesame_mint_request req = {NOW, 900, 1, NULL, NULL, "web"};
	struct sesame_context ctx = {"sshd", "web1", NOW + 1};
	char text[SESAME_TOKEN_TEXT_SIZE], hex[2 * SESAME_TOKEN_BYTES + 1], long_host[300];
	uint8_t raw[SESAME_TOKEN_BYTES];

	test_key(&web);
	other_key(&db, 0xdb);
	other_key(&host, 0x11);
	alice(&a, pw_hash);
	a.shadow = SESAME_SHADOW_PASSWORD;
	a.expire_days = -1;
	sesame_config_defaults(&cfg);
	CHECK_EQ_INT(sesame_mint_with_id(&web.keys[0], &a, 1, &req, vector_id, &t), SESAME_OK);
	sesame_token_format(&t, text);
	sesame_token_to_bytes(&t, raw);
	for (size_t k = 0; k < SESAME_TOKEN_BYTES; k++)
		snprintf(hex + 2 * k, 3, "%02x", raw[k]);
	if (strcmp(text, GROUP_VECTOR_TEXT) != 0)
		fprintf(stderr, "group vector: %s\n%s\n", text, hex);
	CHECK(strcmp(text, GROUP_VECTOR_TEXT) == 0);
	CHECK(strcmp(hex, GROUP_VECTOR_HEX) == 0);
	CHECK_EQ_INT(t.password_hint, 0);
	/* a host of group web accepts it, whatever its name, with no password binding */
	group_keys_with(&gk, "web", &web);
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &host, &gk, &t, &a, &ctx, &m), SESAME_OK);
	CHECK_EQ_INT(m.kind, SESAME_SCOPE_GROUP);
	CHECK(m.group != NULL && strcmp(m.group, "web") == 0);
	CHECK_EQ_INT(m.password_bound, 0);
	/* a password change does not end a group token (--revoke-user does) */
	free(a.pwhash);
	a.pwhash = strdup("$y$j9T$other$hash");
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &host, &gk, &t, &a, &ctx, &m), SESAME_OK);
	/* a db host (db keys only) refuses it; so does a host without groups */
	group_keys_with(&gk, "db", &db);
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &host, &gk, &t, &a, &ctx, &m), SESAME_BAD_SIGNATURE);
	CHECK_EQ_INT(m.verified, 0);
	CHECK_EQ_INT(sesame_check(&cfg, &host, &t, &a, &ctx), SESAME_BAD_SIGNATURE);
	/* a group named like the web key's group but holding db keys: a db
	 * host's keys cannot mint what a web host accepts */
	CHECK_EQ_INT(sesame_mint(&db.keys[0], &a, 0, &req, &t), SESAME_OK);
	group_keys_with(&gk, "web", &web);
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &host, &gk, &t, &a, &ctx, &m), SESAME_BAD_SIGNATURE);
	/* host "web" and group "web" are different scopes, even under one key */
	req.group = NULL;
	req.host = "web";
	CHECK_EQ_INT(sesame_mint(&web.keys[0], &a, 1, &req, &h), SESAME_OK);
	group_keys_with(&gk, "web", &web);
	CHECK(sesame_check_scoped(&cfg, &host, &gk, &h, &a, &ctx, &m) != SESAME_OK);
	ctx.host = "web";
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &web, NULL, &h, &a, &ctx, &m), SESAME_OK);
	CHECK_EQ_INT(m.kind, SESAME_SCOPE_HOST);
	CHECK_EQ_INT(m.password_bound, 1);
	/* a group token read as host "web" under the same key: refused */
	req.host = NULL;
	req.group = "web";
	CHECK_EQ_INT(sesame_mint(&web.keys[0], &a, 0, &req, &t), SESAME_OK);
	CHECK(sesame_check_scoped(&cfg, &web, NULL, &t, &a, &ctx, &m) != SESAME_OK);
	/* a host without a usable name (longer than a scope) still accepts
	 * its groups' tokens */
	group_keys_with(&gk, "web", &web);
	memset(long_host, 'h', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	ctx.host = long_host;
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &web, &gk, &t, &a, &ctx, &m), SESAME_OK);
	CHECK_EQ_INT(sesame_check_scoped(&cfg, &web, NULL, &t, &a, &ctx, &m), SESAME_WRONG_HOST);
	ctx.host = "web";
	/* a group and a host scope at once, or a bad group name: malformed */
	req.host = "web";
	CHECK_EQ_INT(sesame_mint(&web.keys[0], &a, 0, &req, &t), SESAME_MALFORMED);
	req.host = NULL;
	req.group = "../web";
	CHECK_EQ_INT(sesame_mint(&web.keys[0], &a, 0, &req, &t), SESAME_MALFORMED);
	sesame_group_keys_wipe(&gk);
	sesame_account_clear(&a);
}

/* bind_password = auto: the shadow table decides. */
static void test_bind_auto(void)
{
	struct sesame_account a;

	alice(&a, pw_hash);
	a.shadow = SESAME_SHADOW_PASSWORD;
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_AUTO, &a, SESAME_SCOPE_NONE), 1);
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_AUTO, &a, SESAME_SCOPE_HOST), 1);
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_AUTO, &a, SESAME_SCOPE_GROUP), 0);
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_YES, &a, SESAME_SCOPE_GROUP), 0);
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_NO, &a, SESAME_SCOPE_NONE), 0);
	a.shadow = SESAME_SHADOW_LOCKED;
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_AUTO, &a, SESAME_SCOPE_NONE), 1);
	for (const struct sesame_shadow_form *f = sesame_shadow_forms(); f->field; f++) {
		size_t off = 0;
		if (f->state != SESAME_SHADOW_NO_PASSWORD)
			continue;
		free(a.pwhash);
		a.pwhash = strdup(f->example);
		a.shadow = sesame_shadow_classify(f->example, -1, 0, &off);
		CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_AUTO, &a, SESAME_SCOPE_NONE), 0);
		CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_YES, &a, SESAME_SCOPE_NONE), 1);
	}
	/* no shadow entry at all (SSSD) */
	free(a.pwhash);
	a.pwhash = NULL;
	a.shadow = SESAME_SHADOW_UNREAD;
	CHECK_EQ_INT(sesame_binds_password(SESAME_BIND_AUTO, &a, SESAME_SCOPE_NONE), 0);
	sesame_account_clear(&a);
}

int main(void)
{
	test_group_scope();
	test_bind_auto();
	test_golden_vectors();
	test_hints_per_token();
	test_long_scope_names();
	test_account_state();
	test_valid_and_times();
	test_password_binding();
	test_scope();
	test_policy_and_keys();
	test_bit_flips();
	test_attempt();
	test_reason_names();
	return test_finish("verify");
}
