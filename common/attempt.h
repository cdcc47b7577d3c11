/* One use of a pasted token or link, from raw input to verdict: parse,
 * load keys, find the account, check, and (when consuming) redeem in the
 * store. Shared by pam_sesame (consume) and `sesame-mint --inspect`
 * (status only), so both give the same reason for the same token. */
#ifndef SESAME_ATTEMPT_H
#define SESAME_ATTEMPT_H

#include <stddef.h>

#include "config.h"
#include "reason.h"
#include "token.h"
#include "verify.h"

struct sesame_attempt {
	/* in */
	const struct sesame_config *cfg;
	const char *user;           /* expected account, or NULL: the token's own */
	struct sesame_context ctx;  /* service, host, now */
	int consume;                /* 1: record the use; 0: report uses so far */
	/* where the use comes from, recorded with it (NULL: unset) */
	const char *rhost;
	const char *ruser;
	const char *tty;

	/* out: whatever could be learned, also on refusal */
	int have_token;
	struct sesame_token token;  /* public fields only: no secret */
	char id_text[SESAME_ID_TEXT_SIZE];
	char account[256];          /* name of the account the token is for, or "" */
	unsigned used;              /* uses recorded so far (consume == 0) */
	struct sesame_match match;  /* scope and binding, when the tag verified */
	char group[SESAME_GROUP_NAME_SIZE]; /* the group of a group-scoped token, or "" */
	struct sesame_err err;      /* detail for "unavailable" reasons, never secret */
};

/* Initialise with defaults: no user, now = time(NULL) is NOT assumed: the
 * caller sets ctx.now. */
void sesame_attempt_init(struct sesame_attempt *a, const struct sesame_config *cfg);

/* Run the attempt on `input` (len bytes, need not be NUL-terminated).
 * Key material and the shadow hash are wiped before returning. */
enum sesame_reason sesame_attempt_run(struct sesame_attempt *a, const char *input, size_t len);

#endif
