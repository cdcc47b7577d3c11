/* Key files: creation, rotation, dropping, and every refusal. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "testutil.h"

static char dir[1024], path[1100];

static void write_file(const char *p, const char *text, mode_t mode)
{
	FILE *f;

	unlink(p);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
}

static void refused(const char *text, mode_t mode, const char *needle)
{
	struct sesame_keyring kr;
	struct sesame_err err;

	memset(&err, 0, sizeof(err));
	write_file(path, text, mode);
	CHECK(sesame_keyring_load(&kr, path, &err) != 0);
	CHECK(strstr(err.msg, path) != NULL);
	CHECK(strstr(err.msg, needle) != NULL);
	if (strstr(err.msg, needle) == NULL)
		fprintf(stderr, "  got: %s\n", err.msg);
	CHECK_EQ_INT(kr.n, 0);
}

static void test_create_rotate_drop(void)
{
	struct sesame_keyring kr;
	struct sesame_err err;
	struct stat st;
	uint8_t id = 0;
	uint8_t first[SESAME_KEY_BYTES];

	unlink(path);
	CHECK(sesame_keyring_create(path, &id, &err) == 0 && id == 1);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == geteuid());
	CHECK(sesame_keyring_create(path, &id, &err) != 0); /* never over an existing file */
	CHECK(sesame_keyring_load(&kr, path, &err) == 0 && kr.n == 1);
	memcpy(first, kr.keys[0].key, sizeof(first));
	CHECK(sesame_keyring_rotate(path, &id, &err) == 0 && id == 2);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(sesame_keyring_load(&kr, path, &err) == 0 && kr.n == 2);
	CHECK(sesame_keyring_signer(&kr)->id == 2);
	CHECK(memcmp(sesame_keyring_find(&kr, 1)->key, first, sizeof(first)) == 0);
	CHECK(memcmp(kr.keys[0].key, kr.keys[1].key, SESAME_KEY_BYTES) != 0);
	CHECK(sesame_keyring_find(&kr, 3) == NULL);
	sesame_keyring_wipe(&kr);
	/* wrap-around: ids stay within 1..63 and skip ids in use */
	write_file(path, "63 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
			 "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1e\n", 0600);
	CHECK(sesame_keyring_rotate(path, &id, &err) == 0 && id == 2);
}

/* Fleet rotation: a staged key verifies and does not sign until promoted. */
static void test_stage_promote(void)
{
	struct sesame_keyring kr;
	struct sesame_err err;
	uint8_t id = 0;

	unlink(path);
	CHECK(sesame_keyring_create(path, &id, &err) == 0 && id == 1);
	CHECK(sesame_keyring_stage(path, &id, &err) == 0 && id == 2);
	CHECK(sesame_keyring_load(&kr, path, &err) == 0 && kr.n == 2);
	CHECK(sesame_keyring_find(&kr, 2) != NULL && sesame_keyring_find(&kr, 2)->verify_only);
	CHECK(sesame_keyring_signer(&kr)->id == 1);
	CHECK(sesame_keyring_promote(path, &id, &err) == 0 && id == 2);
	CHECK(sesame_keyring_load(&kr, path, &err) == 0 && kr.n == 2);
	CHECK(sesame_keyring_signer(&kr)->id == 2 && !sesame_keyring_signer(&kr)->verify_only);
	CHECK(sesame_keyring_promote(path, &id, &err) != 0); /* nothing staged */
	CHECK(strstr(err.msg, "no staged") != NULL);
	/* only staged keys: verifies, signs nothing */
	write_file(path, "5 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f verify\n",
		   0600);
	CHECK(sesame_keyring_load(&kr, path, &err) == 0 && kr.n == 1);
	CHECK(sesame_keyring_signer(&kr) == NULL && sesame_keyring_find(&kr, 5) != NULL);
	refused("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f verify2\n",
		0600, "not an \"ID HEX\"");
	refused("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f  verify\n",
		0600, "not an \"ID HEX\"");
	sesame_keyring_wipe(&kr);
}

static void test_refusals(void)
{
	static const char good[] =
		"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	char target[1200];
	struct sesame_keyring kr;
	struct sesame_err err;

	refused(good, 0640, "group or other");
	refused(good, 0604, "group or other");
	refused("", 0600, "holds no key");
	refused("# only a comment\n", 0600, "holds no key");
	refused("1 0001020304\n", 0600, ":1: not an \"ID HEX\" key line");
	refused("0 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600,
		"not an \"ID HEX\"");
	refused("64 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600,
		"not an \"ID HEX\"");
	refused("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", 0600,
		"not an \"ID HEX\"");
	refused("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
		"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600,
		":2: key id 1 appears twice");
	/* symlink and non-regular file */
	snprintf(target, sizeof(target), "%s/real", dir);
	write_file(target, good, 0600);
	unlink(path);
	CHECK(symlink(target, path) == 0);
	CHECK(sesame_keyring_load(&kr, path, &err) != 0 && strstr(err.msg, "symbolic link"));
	unlink(path);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(sesame_keyring_load(&kr, path, &err) != 0);
	unlink(path);
	CHECK(sesame_keyring_load(&kr, path, &err) != 0 && strstr(err.msg, "No such file"));
	/* another owner: only testable as root */
	if (geteuid() == 0) {
		write_file(path, good, 0600);
		CHECK(chown(path, 65534, 65534) == 0);
		CHECK(sesame_keyring_load(&kr, path, &err) != 0 && strstr(err.msg, "owned by uid"));
	} else {
		printf("keys: skipping the other-owner case: needs root to chown\n");
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s", test_tmpdir("keys"));
	snprintf(path, sizeof(path), "%s/sesame.key", dir);
	test_create_rotate_drop();
	test_stage_promote();
	test_refusals();
	test_rmtree(dir);
	return test_finish("keys");
}
