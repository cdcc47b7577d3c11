#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "token_cache.h"

#define CACHE_MAGIC "sesame-etcd-token 1"
#define CACHE_MAX 8192

static int cache_path(const char *state_dir, char *path, size_t n)
{
	return snprintf(path, n, "%s/%s", state_dir, SESAME_ETCD_TOKEN_FILE) < (int)n ? 0 : -1;
}

/* "MAGIC\nUSER\nUNTIL\nTOKEN\n" */
static int parse_cache(char *text, const char *user, int64_t now, char **token,
		       int64_t *until_out)
{
	char *lines[4], *save = NULL, *end = NULL;
	long long until;
	int i;

	for (i = 0; i < 4; i++) {
		lines[i] = strtok_r(i == 0 ? text : NULL, "\n", &save);
		if (lines[i] == NULL)
			return 0;
	}
	if (strcmp(lines[0], CACHE_MAGIC) != 0 || strcmp(lines[1], user) != 0)
		return 0;
	until = strtoll(lines[2], &end, 10);
	if (*end != '\0' || until <= now || lines[3][0] == '\0')
		return 0;
	*token = strdup(lines[3]);
	*until_out = (int64_t)until;
	return *token != NULL;
}

int sesame_token_cache_load(const char *state_dir, const char *user, int64_t now, char **token,
			    int64_t *until, struct sesame_err *err)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int fd, r = 0;

	*token = NULL;
	if (cache_path(state_dir, path, sizeof(path)) != 0)
		return 0;
	fd = sesame_open_checked(path, O_RDONLY, SESAME_FILE_REGULAR, 1, 0, "etcd token cache",
				 err);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (sesame_read_fd(fd, CACHE_MAX, &text, &len, "etcd token cache", path, err) == 0 &&
	    memchr(text, '\0', len) == NULL)
		r = parse_cache(text, user, now, token, until);
	close(fd);
	if (text != NULL) {
		sesame_wipe(text, len);
		free(text);
	}
	return r;
}

int sesame_token_cache_store(const char *state_dir, const char *user, const char *token,
			     int64_t until, struct sesame_err *err)
{
	char path[PATH_MAX], *text = NULL;
	int dfd, n, r = -1;

	if (cache_path(state_dir, path, sizeof(path)) != 0) {
		sesame_err_set(err, "etcd token cache in %s: path too long", state_dir);
		return -1;
	}
	/* The directory too: a token written where others can swap files
	 * would be theirs to replace. */
	dfd = sesame_open_checked(state_dir, O_RDONLY | O_DIRECTORY, SESAME_FILE_DIRECTORY, 1, 0,
				  "state directory", err);
	if (dfd < 0)
		return -1;
	close(dfd);
	n = asprintf(&text, "%s\n%s\n%lld\n%s\n", CACHE_MAGIC, user, (long long)until, token);
	if (n < 0) {
		sesame_err_set(err, "etcd token cache %s: out of memory", path);
		return -1;
	}
	r = sesame_write_atomic(path, text, (size_t)n, 0600, "etcd token cache", err);
	sesame_wipe(text, (size_t)n);
	free(text);
	return r;
}

void sesame_token_cache_drop(const char *state_dir)
{
	char path[PATH_MAX];

	if (cache_path(state_dir, path, sizeof(path)) == 0)
		unlink(path);
}
