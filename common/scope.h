/* Host groups and the keys of scopes: which groups this host is in
 * (host_groups), where a group's or another host's key file lives
 * (key_dir), and loading the keys of this host's groups. */
#ifndef SESAME_SCOPE_H
#define SESAME_SCOPE_H

#include <stddef.h>

#include "err.h"
#include "keys.h"

#define SESAME_MAX_GROUPS 8
#define SESAME_GROUP_NAME_SIZE 64

/* What a token is scoped to. A host and a group may share a name: the
 * kind is covered by the tag (verify.c) and their keys are separate
 * files, so the two never stand for each other. */
enum sesame_scope_kind { SESAME_SCOPE_NONE = 0, SESAME_SCOPE_HOST, SESAME_SCOPE_GROUP };

/* A group or host name usable in a key file name: 1 to 63 of letters,
 * digits, '.', '_', '-', not starting with '.' or '-'. */
int sesame_group_name_ok(const char *name);

/* "web, eu-west" (commas, optional blanks) into names; "" is no group.
 * Returns 0, or -1 on a bad name, a name given twice or more than
 * SESAME_MAX_GROUPS. */
int sesame_groups_parse(const char *list, char names[][SESAME_GROUP_NAME_SIZE], size_t *n);

/* key_dir/NAME.group.key or key_dir/NAME.host.key. Returns 0, or -1 when
 * the name is not usable or the path does not fit. */
int sesame_scope_key_path(const char *key_dir, enum sesame_scope_kind kind, const char *name,
			  char *buf, size_t size);

struct sesame_group_keys {
	size_t n;
	struct {
		char name[SESAME_GROUP_NAME_SIZE];
		struct sesame_keyring kr;
	} group[SESAME_MAX_GROUPS];
};

/* Load the key file of every group in host_groups from key_dir, checked
 * like the key file; a group whose file does not exist is left out (its
 * tokens are refused here). Returns 0, or -1 with a reason (keys wiped). */
int sesame_group_keys_load(struct sesame_group_keys *gk, const char *key_dir,
			   const char *host_groups, struct sesame_err *err);

/* Does any group hold a key with this id? */
int sesame_group_keys_have_id(const struct sesame_group_keys *gk, unsigned id);

void sesame_group_keys_wipe(struct sesame_group_keys *gk);

#endif
