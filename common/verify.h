/* Minting and checking tokens. Pure functions of their inputs: the clock
 * is a parameter, accounts are looked up by the caller (or by
 * sesame_verify_input below), and nothing here touches the store. */
#ifndef SESAME_VERIFY_H
#define SESAME_VERIFY_H

#include <stdint.h>

#include "account.h"
#include "config.h"
#include "keys.h"
#include "reason.h"
#include "scope.h"
#include "token.h"

struct sesame_mint_request {
	int64_t now;
	int64_t lifetime;    /* seconds */
	unsigned uses;       /* 0..255, 0 = any number */
	const char *service; /* NULL = any service */
	const char *host;    /* NULL = any host */
	const char *group;   /* NULL, or the host group the token is for (host NULL) */
};

/* Does a token for acct bind to its shadow hash? Group-scoped tokens
 * never do (a password has a different hash on every host): they bind to
 * name and uid. Otherwise bind_password (SESAME_BIND_*) decides; auto
 * binds when the shadow entry holds a hash (locked or not), and not when
 * there is no entry or a no-password form ("*", "x", "!", ...). */
int sesame_binds_password(int bind_password, const struct sesame_account *acct,
			  enum sesame_scope_kind kind);

/* Make a token for acct (whose pwhash must be set when bind_password,
 * which is ignored for a group token: those never bind to the hash).
 * Fills a fresh random id. Returns SESAME_OK, SESAME_LIFETIME_TOO_LONG,
 * SESAME_MALFORMED (bad request) or SESAME_SYSTEM_ERROR. */
enum sesame_reason sesame_mint(const struct sesame_key *key, const struct sesame_account *acct,
			       int bind_password, const struct sesame_mint_request *req,
			       struct sesame_token *out);

/* Same, with the token id given (golden vectors, tests). */
enum sesame_reason sesame_mint_with_id(const struct sesame_key *key,
				       const struct sesame_account *acct, int bind_password,
				       const struct sesame_mint_request *req,
				       const uint8_t id[SESAME_ID_BYTES], struct sesame_token *out);

/* Where and when a token is being used. */
struct sesame_context {
	const char *service; /* PAM service; NULL only for --inspect without -s */
	const char *host;    /* this host's name */
	int64_t now;
};

/* The tag alone: 1 when it verifies, 0 when not, -1 on a crypto failure. */
int sesame_tag_ok(const struct sesame_key *key, const struct sesame_token *t,
		  const struct sesame_account *acct, int bind_password,
		  const char *service, const char *host);

/* What a verified token turned out to be: its scope, and what it is bound
 * to. Filled by sesame_check_scoped when the tag verifies. */
struct sesame_match {
	int verified;       /* 1: the tag verified; the rest is meaningful */
	enum sesame_scope_kind kind;
	const char *group;  /* points into the group keys when kind is GROUP */
	int password_bound; /* 1: to this host's shadow hash; 0: to name and uid */
};

/* Everything that does not need the store: key, tag (with the reason a
 * tag fails: password changed, wrong service, wrong host, or bad
 * signature), times, lifetime limit, root and group policy. acct must be
 * the account with t->uid. */
enum sesame_reason sesame_check(const struct sesame_config *cfg, const struct sesame_keyring *kr,
				const struct sesame_token *t, const struct sesame_account *acct,
				const struct sesame_context *ctx);

/* The same, on a host in groups: a host-flagged token is tried as scoped
 * to this host (kr, ctx->host) and to each group with that group's keys,
 * so only a key of the group (or host) the token names can sign for it.
 * gk may be NULL (no groups); m may be NULL. */
enum sesame_reason sesame_check_scoped(const struct sesame_config *cfg,
				       const struct sesame_keyring *kr,
				       const struct sesame_group_keys *gk,
				       const struct sesame_token *t,
				       const struct sesame_account *acct,
				       const struct sesame_context *ctx, struct sesame_match *m);

/* Can s be a token's scope (a PAM service or host name)? 1 to 255
 * printable ASCII characters, no spaces. NULL (no scope) is fine. */
#define SESAME_SCOPE_NAME_SIZE 256
int sesame_scope_name_ok(const char *s);

/* Does value match the token's keyed hint for label ("service", "host")?
 * Lets --inspect find which of the host's PAM services a scoped token is
 * for. 1 yes, 0 no, -1 crypto failure. Unscoped tokens: 0. */
int sesame_scope_hint_matches(const struct sesame_key *key, const struct sesame_token *t,
			      const char *label, const char *value);

/* Seconds of clock skew tolerated before "not yet valid". */
#define SESAME_CLOCK_SKEW 60

#endif
