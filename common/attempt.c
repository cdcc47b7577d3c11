/* One attempt, in the order that keeps the cheap, secret-free refusals
 * first and touches the store last, after the token is known genuine:
 * parse, key file, key id, account, tag and policy, store. */
#include <stdio.h>
#include <string.h>

#include "attempt.h"
#include "keys.h"
#include "store.h"
#include "util.h"

void sesame_attempt_init(struct sesame_attempt *a, const struct sesame_config *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
}

/* The account the token is for, checked against the expected user. */
static enum sesame_reason find_account(struct sesame_attempt *a, struct sesame_account *acct)
{
	int bind = a->cfg->bind_password == SESAME_BIND_YES;
	enum sesame_reason r;

	if (a->user == NULL) {
		r = sesame_account_by_uid(a->token.uid, bind, acct);
		if (acct->name[0] != '\0')
			snprintf(a->account, sizeof(a->account), "%s", acct->name);
		return r;
	}
	r = sesame_account_by_name(a->user, bind, acct);
	if (r != SESAME_USER_UNKNOWN && acct->uid != a->token.uid) {
		struct sesame_account owner;
		if (sesame_account_by_uid(a->token.uid, 0, &owner) == SESAME_OK)
			snprintf(a->account, sizeof(a->account), "%s", owner.name);
		sesame_account_clear(&owner);
		return SESAME_WRONG_USER;
	}
	if (acct->name[0] != '\0')
		snprintf(a->account, sizeof(a->account), "%s", acct->name);
	return r;
}

static enum sesame_reason use_store(struct sesame_attempt *a)
{
	struct sesame_use use = { a->ctx.host, a->ctx.service, a->rhost, a->ruser, a->tty };
	struct sesame_store st;
	enum sesame_reason r = SESAME_STORE_UNAVAILABLE;

	if (sesame_store_open(&st, a->cfg, 0, &a->err) != 0)
		goto out;
	if (a->consume)
		r = sesame_store_redeem(&st, &a->token, &use, a->ctx.now, &a->err);
	else
		r = sesame_store_status(&st, &a->token, a->ctx.now, &a->used, &a->err);
out:
	sesame_store_close(&st);
	return r;
}

/* Name what is missing when the account has no usable shadow entry. */
static enum sesame_reason note_shadow(struct sesame_attempt *a, enum sesame_reason r)
{
	if (r == SESAME_SHADOW_UNAVAILABLE)
		sesame_err_set(&a->err, "account %s: no shadow entry to bind the token to "
			       "(bind_password = yes)", a->account[0] ? a->account : "?");
	return r;
}

/* This host's groups' keys, needed only for a host-flagged token on a host
 * in groups: a host without host_groups reads no more files than before. */
static enum sesame_reason load_group_keys(struct sesame_attempt *a, struct sesame_group_keys *gk)
{
	memset(gk, 0, sizeof(*gk));
	if (!(a->token.flags & SESAME_FLAG_HOST) || a->cfg->host_groups[0] == '\0')
		return SESAME_OK;
	if (sesame_group_keys_load(gk, a->cfg->key_dir, a->cfg->host_groups, &a->err) != 0)
		return SESAME_KEY_UNAVAILABLE;
	return SESAME_OK;
}

static void note_match(struct sesame_attempt *a)
{
	if (a->match.group != NULL)
		snprintf(a->group, sizeof(a->group), "%s", a->match.group);
	a->match.group = NULL; /* it pointed into keys about to be wiped */
}

enum sesame_reason sesame_attempt_run(struct sesame_attempt *a, const char *input, size_t len)
{
	struct sesame_keyring kr;
	struct sesame_group_keys gk;
	struct sesame_account acct;
	enum sesame_reason r = SESAME_MALFORMED;

	memset(&kr, 0, sizeof(kr));
	memset(&gk, 0, sizeof(gk));
	memset(&acct, 0, sizeof(acct));
	if (sesame_token_parse(input, len, a->cfg->param, &a->token) != 0)
		goto out;
	a->have_token = 1;
	sesame_token_id_text(&a->token, a->id_text);
	r = SESAME_KEY_UNAVAILABLE;
	if (sesame_keyring_load(&kr, a->cfg->key_file, &a->err) != 0)
		goto out;
	r = load_group_keys(a, &gk);
	if (r != SESAME_OK)
		goto out;
	r = SESAME_UNKNOWN_KEY;
	if (sesame_keyring_find(&kr, a->token.key_id) == NULL &&
	    !sesame_group_keys_have_id(&gk, a->token.key_id))
		goto out;
	r = note_shadow(a, find_account(a, &acct));
	if (r != SESAME_OK)
		goto out;
	/* The store (revocations, uses) comes after this: only a token whose
	 * tag verified reaches it. */
	r = sesame_check_scoped(a->cfg, &kr, &gk, &a->token, &acct, &a->ctx, &a->match);
	note_match(a);
	sesame_keyring_wipe(&kr);
	sesame_group_keys_wipe(&gk);
	sesame_account_clear(&acct);
	if (r != SESAME_OK)
		goto out;
	r = use_store(a);
out:
	sesame_keyring_wipe(&kr);
	sesame_group_keys_wipe(&gk);
	sesame_account_clear(&acct);
	return r;
}
