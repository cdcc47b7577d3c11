/* The key file: "# comment" lines and "ID HEX" or "ID HEX verify" lines,
 * one 256-bit key each. The last key without "verify" signs; all verify.
 * Dropping a key is deleting its line, which kills the tokens it signed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "keys.h"
#include "token.h"
#include "util.h"

#define KEY_FILE_MAX 8192
#define VERIFY_MARK " verify"
#define KEY_LINE_MAX (4 + 2 * SESAME_KEY_BYTES + sizeof(VERIFY_MARK) + 2)

static const char key_file_header[] =
	"# sesame keys: \"ID HEX\", one 256-bit key per line.\n"
	"# The last key without \" verify\" signs new tokens; every key here verifies.\n"
	"# Delete a key's line to invalidate every token it signed.\n";

static void free_text(char *text, size_t len)
{
	if (text == NULL)
		return;
	sesame_wipe(text, len);
	free(text);
}

/* Parse one "ID HEX" line (no newline) into key. Returns 0 or -1. */
static int parse_key_line(const char *line, size_t len, struct sesame_key *key)
{
	unsigned long id = 0;
	size_t i = 0;

	while (i < len && line[i] >= '0' && line[i] <= '9' && id <= SESAME_KEY_ID_MAX)
		id = id * 10 + (unsigned long)(line[i++] - '0');
	if (i == 0 || id == 0 || id > SESAME_KEY_ID_MAX || i >= len || line[i] != ' ')
		return -1;
	i++;
	key->verify_only = 0;
	if (len - i == 2 * SESAME_KEY_BYTES + strlen(VERIFY_MARK) &&
	    memcmp(line + len - strlen(VERIFY_MARK), VERIFY_MARK, strlen(VERIFY_MARK)) == 0) {
		key->verify_only = 1;
		len -= strlen(VERIFY_MARK);
	}
	if (len - i != 2 * SESAME_KEY_BYTES)
		return -1;
	for (size_t k = 0; k < SESAME_KEY_BYTES; k++) {
		int hi = sesame_hex_value(line[i + 2 * k]), lo = sesame_hex_value(line[i + 2 * k + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key->key[k] = (uint8_t)(hi << 4 | lo);
	}
	key->id = (uint8_t)id;
	return 0;
}

static int add_line(struct sesame_keyring *kr, const char *line, size_t len, const char *path,
		    unsigned lineno, struct sesame_err *err)
{
	struct sesame_key key;
	int r = -1;

	if (kr->n == SESAME_MAX_KEYS) {
		sesame_err_set(err, "key file %s:%u: more than %d keys", path, lineno,
			       SESAME_MAX_KEYS);
		goto out;
	}
	if (parse_key_line(line, len, &key) != 0) {
		sesame_err_set(err, "key file %s:%u: not an \"ID HEX\" key line (or \"ID HEX verify\")",
			       path, lineno);
		goto out;
	}
	if (sesame_keyring_find(kr, key.id) != NULL) {
		sesame_err_set(err, "key file %s:%u: key id %u appears twice", path, lineno,
			       key.id);
		goto out;
	}
	kr->keys[kr->n++] = key;
	r = 0;
out:
	sesame_wipe(&key, sizeof(key));
	return r;
}

static int parse_key_file(struct sesame_keyring *kr, const char *text, size_t len,
			  const char *path, struct sesame_err *err)
{
	unsigned lineno = 0;
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t n = end - i;

		lineno++;
		if (n > 0 && text[i + n - 1] == '\r')
			n--;
		if (n > 0 && text[i] != '#' && add_line(kr, text + i, n, path, lineno, err) != 0)
			return -1;
		i = end + 1;
	}
	if (kr->n == 0) {
		sesame_err_set(err, "key file %s: holds no key", path);
		return -1;
	}
	return 0;
}

int sesame_keyring_load(struct sesame_keyring *kr, const char *path, struct sesame_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int fd, r = -1;

	memset(kr, 0, sizeof(*kr));
	fd = sesame_open_checked(path, O_RDONLY, SESAME_FILE_REGULAR, 1, 0, "key file", err);
	if (fd < 0)
		return -1;
	if (sesame_read_fd(fd, KEY_FILE_MAX, &text, &len, "key file", path, err) != 0)
		goto out;
	r = parse_key_file(kr, text, len, path, err);
out:
	close(fd);
	free_text(text, len);
	if (r != 0)
		sesame_keyring_wipe(kr);
	return r;
}

const struct sesame_key *sesame_keyring_find(const struct sesame_keyring *kr, uint8_t id)
{
	for (size_t i = 0; i < kr->n; i++)
		if (kr->keys[i].id == id)
			return &kr->keys[i];
	return NULL;
}

const struct sesame_key *sesame_keyring_signer(const struct sesame_keyring *kr)
{
	for (size_t i = kr->n; i > 0; i--)
		if (!kr->keys[i - 1].verify_only)
			return &kr->keys[i - 1];
	return NULL;
}

void sesame_keyring_wipe(struct sesame_keyring *kr)
{
	sesame_wipe(kr, sizeof(*kr));
}

static int fresh_key(struct sesame_key *key, uint8_t id, struct sesame_err *err)
{
	size_t got = 0;

	while (got < SESAME_KEY_BYTES) {
		ssize_t n = getrandom(key->key + got, SESAME_KEY_BYTES - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sesame_err_set(err, "getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	key->id = id;
	return 0;
}

/* The whole file text for a keyring; caller wipes and frees. */
static char *format_key_file(const struct sesame_keyring *kr, size_t *len)
{
	size_t cap = sizeof(key_file_header) + kr->n * KEY_LINE_MAX + 1;
	char *out = malloc(cap);
	size_t o;

	if (out == NULL)
		return NULL;
	o = (size_t)snprintf(out, cap, "%s", key_file_header);
	for (size_t i = 0; i < kr->n; i++) {
		o += (size_t)snprintf(out + o, cap - o, "%u ", kr->keys[i].id);
		for (size_t k = 0; k < SESAME_KEY_BYTES; k++)
			o += (size_t)snprintf(out + o, cap - o, "%02x", kr->keys[i].key[k]);
		o += (size_t)snprintf(out + o, cap - o, "%s\n",
				      kr->keys[i].verify_only ? VERIFY_MARK : "");
	}
	*len = o;
	return out;
}

/* Add a fresh key with this id to kr and write the key file: a new file
 * (never replacing one) or, when replace, the old one replaced atomically. */
static int write_keyring(const struct sesame_keyring *kr, const char *path, int replace,
			 struct sesame_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	text = format_key_file(kr, &len);
	if (text == NULL) {
		sesame_err_set(err, "key file %s: out of memory", path);
		return -1;
	}
	if (replace)
		r = sesame_write_atomic(path, text, len, 0600, "key file", err);
	else
		r = sesame_write_new(path, text, len, 0600, "key file", err);
	free_text(text, len);
	return r;
}

static int add_key_and_write(struct sesame_keyring *kr, uint8_t id, int verify_only,
			     const char *path, int replace, uint8_t *new_id,
			     struct sesame_err *err)
{
	int r;

	if (fresh_key(&kr->keys[kr->n], id, err) != 0)
		return -1;
	kr->keys[kr->n++].verify_only = (uint8_t)verify_only;
	r = write_keyring(kr, path, replace, err);
	if (r == 0 && new_id != NULL)
		*new_id = id;
	return r;
}

int sesame_keyring_create(const char *path, uint8_t *new_id, struct sesame_err *err)
{
	struct sesame_keyring kr;
	int r;

	memset(&kr, 0, sizeof(kr));
	r = add_key_and_write(&kr, 1, 0, path, 0, new_id, err);
	sesame_keyring_wipe(&kr);
	return r;
}

/* Next id after the newest key's (the last line), wrapping within 1..63,
 * skipping ids in use: an id comes back only after its old key's line was
 * deleted, so a token of the old key is then "unknown key" or refused by
 * its tag, never accepted under the new key. */
static int next_key_id(const struct sesame_keyring *kr, uint8_t *id)
{
	unsigned cand = kr->keys[kr->n - 1].id;

	for (int tries = 0; tries < SESAME_KEY_ID_MAX; tries++) {
		cand = cand % SESAME_KEY_ID_MAX + 1;
		if (sesame_keyring_find(kr, (uint8_t)cand) == NULL) {
			*id = (uint8_t)cand;
			return 0;
		}
	}
	return -1;
}

static int add_to_file(const char *path, int verify_only, uint8_t *new_id,
		       struct sesame_err *err)
{
	struct sesame_keyring kr;
	uint8_t id;
	int r = -1;

	if (sesame_keyring_load(&kr, path, err) != 0)
		return -1;
	if (kr.n == SESAME_MAX_KEYS || next_key_id(&kr, &id) != 0)
		sesame_err_set(err, "key file %s: already holds %zu keys; drop old ones first",
			       path, kr.n);
	else
		r = add_key_and_write(&kr, id, verify_only, path, 1, new_id, err);
	sesame_keyring_wipe(&kr);
	return r;
}

int sesame_keyring_rotate(const char *path, uint8_t *new_id, struct sesame_err *err)
{
	return add_to_file(path, 0, new_id, err);
}

int sesame_keyring_stage(const char *path, uint8_t *new_id, struct sesame_err *err)
{
	return add_to_file(path, 1, new_id, err);
}

int sesame_keyring_promote(const char *path, uint8_t *id, struct sesame_err *err)
{
	struct sesame_keyring kr;
	struct sesame_key staged;
	size_t i;
	int r = -1;

	if (sesame_keyring_load(&kr, path, err) != 0)
		return -1;
	for (i = kr.n; i > 0 && !kr.keys[i - 1].verify_only; i--)
		;
	if (i == 0) {
		sesame_err_set(err, "key file %s: no staged (verify-only) key to promote", path);
		goto out;
	}
	staged = kr.keys[i - 1];
	staged.verify_only = 0;
	memmove(&kr.keys[i - 1], &kr.keys[i], (kr.n - i) * sizeof(kr.keys[0]));
	kr.keys[kr.n - 1] = staged;
	r = write_keyring(&kr, path, 1, err);
	if (r == 0 && id != NULL)
		*id = staged.id;
out:
	sesame_wipe(&staged, sizeof(staged));
	sesame_keyring_wipe(&kr);
	return r;
}
