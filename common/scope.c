/* Host groups: parsing host_groups, naming key files in key_dir, and
 * loading the keys of this host's groups (and only those: a host holds
 * no key of a group it is not in, so it cannot mint for that group). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scope.h"
#include "util.h"

int sesame_group_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SESAME_GROUP_NAME_SIZE || name[0] == '.' || name[0] == '-')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       n;
}

static int already_listed(char names[][SESAME_GROUP_NAME_SIZE], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

int sesame_groups_parse(const char *list, char names[][SESAME_GROUP_NAME_SIZE], size_t *n)
{
	const char *p = list;

	*n = 0;
	while (*p != '\0') {
		char name[SESAME_GROUP_NAME_SIZE];
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, ", \t");
		if (len == 0 || len >= sizeof(name) || *n == SESAME_MAX_GROUPS)
			return -1;
		memcpy(name, p, len);
		name[len] = '\0';
		if (!sesame_group_name_ok(name) || already_listed(names, *n, name))
			return -1;
		memcpy(names[(*n)++], name, len + 1);
		p += len;
		p += strspn(p, " \t");
		if (*p == ',' && *++p == '\0')
			return -1; /* a trailing comma: a name was forgotten */
		else if (*p != '\0' && p[-1] != ',')
			return -1; /* "web db": a comma was forgotten */
	}
	return 0;
}

int sesame_scope_key_path(const char *key_dir, enum sesame_scope_kind kind, const char *name,
			  char *buf, size_t size)
{
	int n;

	if (kind == SESAME_SCOPE_NONE || !sesame_group_name_ok(name))
		return -1;
	n = snprintf(buf, size, "%s/%s.%s.key", key_dir, name,
		     kind == SESAME_SCOPE_GROUP ? "group" : "host");
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int sesame_group_keys_load(struct sesame_group_keys *gk, const char *key_dir,
			   const char *host_groups, struct sesame_err *err)
{
	char names[SESAME_MAX_GROUPS][SESAME_GROUP_NAME_SIZE], path[4096];
	size_t n = 0;

	memset(gk, 0, sizeof(*gk));
	if (sesame_groups_parse(host_groups, names, &n) != 0) {
		sesame_err_set(err, "host_groups: not a list of group names");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (sesame_scope_key_path(key_dir, SESAME_SCOPE_GROUP, names[i], path,
					  sizeof(path)) != 0) {
			sesame_err_set(err, "key_dir: path too long for group %s", names[i]);
			goto fail;
		}
		/* Keys not given to this host yet: the group accepts nothing here,
		 * while the others work. Anything else wrong with a file that
		 * is there (owner, mode, a symlink, its contents) is an error. */
		if (access(path, F_OK) != 0 && errno == ENOENT)
			continue;
		if (sesame_keyring_load(&gk->group[gk->n].kr, path, err) != 0)
			goto fail;
		memcpy(gk->group[gk->n].name, names[i], sizeof(names[i]));
		gk->n++;
	}
	return 0;
fail:
	sesame_group_keys_wipe(gk);
	return -1;
}

int sesame_group_keys_have_id(const struct sesame_group_keys *gk, unsigned id)
{
	for (size_t i = 0; i < gk->n; i++)
		if (sesame_keyring_find(&gk->group[i].kr, (uint8_t)id) != NULL)
			return 1;
	return 0;
}

void sesame_group_keys_wipe(struct sesame_group_keys *gk)
{
	sesame_wipe(gk, sizeof(*gk));
}
