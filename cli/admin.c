/* sesame-mint --keygen, --inspect, --revoke, --revoke-user, --gc, --migrate-store. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "account.h"
#include "attempt.h"
#include "cli.h"
#include "keys.h"
#include "scope.h"
#include "store.h"
#include "util.h"

#define INPUT_MAX 4096
#define PAM_DIR "/etc/pam.d"

/* The key file --keygen works on: key_file, or with --group GROUP (-H
 * HOST) that group's (host's) file in key_dir, made 0700 when missing. */
static int keygen_path(const struct cli_options *o, const struct sesame_config *cfg, char *path,
		       size_t size)
{
	const char *name = o->group ? o->group : o->host;

	if (name == NULL) {
		snprintf(path, size, "%s", cfg->key_file);
		return 0;
	}
	if (sesame_scope_key_path(cfg->key_dir, o->group ? SESAME_SCOPE_GROUP : SESAME_SCOPE_HOST,
				  name, path, size) != 0) {
		cli_error("%s %s: expected 1 to 63 letters, digits, '.', '_' or '-'",
			  o->group ? "--group" : "-H", name);
		return -1;
	}
	if (mkdir(cfg->key_dir, 0700) != 0 && errno != EEXIST) {
		cli_error("key_dir %s: %s", cfg->key_dir, strerror(errno));
		return -1;
	}
	return 0;
}

int cli_keygen(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_err err = {{0}};
	char path[SESAME_PATH_MAX + 2 * SESAME_GROUP_NAME_SIZE];
	const char *done = "written to";
	uint8_t id = 0;
	int r;

	if (cli_load_config(o, &cfg) != 0 || keygen_path(o, &cfg, path, sizeof(path)) != 0)
		return EXIT_ERROR;
	if (o->rotate) {
		r = sesame_keyring_rotate(path, &id, &err);
		done = "added to";
	} else if (o->stage) {
		r = sesame_keyring_stage(path, &id, &err);
		done = "staged (verifies, does not sign yet) in";
	} else if (o->promote) {
		r = sesame_keyring_promote(path, &id, &err);
		done = "now signs in";
	} else {
		r = sesame_keyring_create(path, &id, &err);
	}
	if (r != 0) {
		cli_error("%s%s", err.msg,
			  o->rotate || o->stage || o->promote
				  ? "" : " (to add a key to an existing file: --keygen --rotate)");
		return EXIT_ERROR;
	}
	fprintf(stderr, "key %u %s %s\n", id, done, path);
	return EXIT_OK;
}

#define MAX_CANDIDATES 16

/* The service and host an examined token was checked for: the attempt's
 * context points into them, so they live as long as the attempt. */
struct scope {
	char service[SESAME_SCOPE_NAME_SIZE];
	char host[SESAME_SCOPE_NAME_SIZE];
};

/* This host's PAM services whose keyed hint matches a service-scoped
 * token's (only the key holder can ask). An 8-bit hint can match more
 * than one name: the caller checks each in full. Returns how many. */
static size_t service_candidates(const struct sesame_config *cfg, const struct sesame_token *t,
				 char names[MAX_CANDIDATES][SESAME_SCOPE_NAME_SIZE])
{
	struct sesame_keyring kr;
	struct sesame_err err = {{0}};
	const struct sesame_key *key;
	struct dirent *de;
	DIR *d = NULL;
	size_t found = 0;

	if (sesame_keyring_load(&kr, cfg->key_file, &err) != 0)
		return 0;
	key = sesame_keyring_find(&kr, t->key_id);
	d = key ? opendir(PAM_DIR) : NULL;
	while (d != NULL && found < MAX_CANDIDATES && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' &&
		    sesame_scope_hint_matches(key, t, "service", de->d_name) == 1)
			snprintf(names[found++], SESAME_SCOPE_NAME_SIZE, "%s", de->d_name);
	}
	if (d != NULL)
		closedir(d);
	sesame_keyring_wipe(&kr);
	return found;
}

static void print_scope(const char *label, int scoped, const char *value)
{
	if (!scoped)
		printf("%-9s any\n", label);
	else if (value != NULL)
		printf("%-9s %s\n", label, value);
	else
		printf("%-9s scoped (not found here; name it with %s)\n", label,
		       label[0] == 's' ? "-s" : "-H");
}

static void print_inspection(const struct sesame_attempt *a, enum sesame_reason r)
{
	const struct sesame_token *t = &a->token;
	char local[64], iso[32];

	printf("id:       %s\nkey:      %u\n", a->id_text, t->key_id);
	if (a->account[0] != '\0')
		printf("account:  %s (uid %u)\n", a->account, (unsigned)t->uid);
	else
		printf("account:  uid %u\n", (unsigned)t->uid);
	cli_time_local(t->issued, local, sizeof(local));
	cli_time_iso(t->issued, iso, sizeof(iso));
	printf("issued:   %s (%s)\n", local, iso);
	cli_time_local((int64_t)t->issued + t->lifetime, local, sizeof(local));
	cli_time_iso((int64_t)t->issued + t->lifetime, iso, sizeof(iso));
	printf("expires:  %s (%s)\n", local, iso);
	if (t->uses == 0)
		printf("uses:     any number\n");
	else if (r == SESAME_OK || r == SESAME_USED_UP)
		printf("uses:     %u, %u used\n", t->uses, a->used);
	else
		printf("uses:     %u\n", t->uses);
	print_scope("service:", t->flags & SESAME_FLAG_SERVICE, a->ctx.service);
	if (a->group[0] != '\0')
		printf("host:     group %s\n", a->group);
	else
		print_scope("host:", t->flags & SESAME_FLAG_HOST,
			    (t->flags & SESAME_FLAG_HOST) && r != SESAME_WRONG_HOST ? a->ctx.host
										: NULL);
	if (a->match.verified)
		printf("password: %s\n", a->match.password_bound
						 ? "bound to this host's password hash"
						 : "not bound to a password (name and uid)");
}

/* A locked or expired account suspends its tokens; it does not end them:
 * the tag binds to the hash behind the lock, so usermod -U (or a new
 * expiry date) brings every outstanding token back. */
static const char *suspension_note(enum sesame_reason r)
{
	if (r == SESAME_ACCOUNT_LOCKED)
		return "the account is locked: this token is suspended, not dead, and works "
		       "again if the account is unlocked (usermod -U); --revoke or "
		       "--revoke-user ends it for good";
	if (r == SESAME_ACCOUNT_EXPIRED)
		return "the account has expired: this token is suspended, not dead, and works "
		       "again if the expiry date is lifted (usermod -e ''); --revoke or "
		       "--revoke-user ends it for good";
	return NULL;
}

static void print_inspection_json(const struct sesame_attempt *a, enum sesame_reason r)
{
	const struct sesame_token *t = &a->token;
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "valid", json_object_new_boolean(r == SESAME_OK));
	json_object_object_add(obj, "reason", json_object_new_string(sesame_reason_name(r)));
	if (a->have_token) {
		json_object_object_add(obj, "id", json_object_new_string(a->id_text));
		json_object_object_add(obj, "key_id", json_object_new_int64(t->key_id));
		json_object_object_add(obj, "uid", json_object_new_int64(t->uid));
		json_object_object_add(obj, "user", a->account[0] ?
				       json_object_new_string(a->account) : NULL);
		json_object_object_add(obj, "issued", json_object_new_int64(t->issued));
		json_object_object_add(obj, "expires",
				       json_object_new_int64((int64_t)t->issued + t->lifetime));
		json_object_object_add(obj, "uses", json_object_new_int64(t->uses));
		json_object_object_add(obj, "used", json_object_new_int64(a->used));
		json_object_object_add(obj, "service_scoped",
				       json_object_new_boolean(t->flags & SESAME_FLAG_SERVICE));
		json_object_object_add(obj, "host_scoped",
				       json_object_new_boolean(t->flags & SESAME_FLAG_HOST));
		json_object_object_add(obj, "group", a->group[0] != '\0' ?
				       json_object_new_string(a->group) : NULL);
		if (a->match.verified)
			json_object_object_add(obj, "password_bound",
					       json_object_new_boolean(a->match.password_bound));
	}
	if (suspension_note(r) != NULL)
		json_object_object_add(obj, "suspended", json_object_new_boolean(1));
	(void)cli_print_json(obj);
}

/* One non-consuming attempt as the module on this host would run it. */
static enum sesame_reason attempt_as(struct sesame_config *cfg, struct sesame_attempt *a,
				     const char *service, const char *host, const char *input,
				     size_t n)
{
	sesame_attempt_init(a, cfg);
	a->ctx.now = (int64_t)time(NULL);
	a->ctx.service = service;
	a->ctx.host = host;
	return sesame_attempt_run(a, input, n);
}

/* Run a non-consuming attempt on the operand, as the module would see it
 * on this host: service from -s, or each of this host's services whose
 * hint matches until one is not refused for its service; host from -H or
 * ours. */
static enum sesame_reason examine(const struct cli_options *o, const char *arg,
				  struct sesame_config *cfg, struct sesame_attempt *a,
				  struct scope *sc)
{
	char input[INPUT_MAX], names[MAX_CANDIDATES][SESAME_SCOPE_NAME_SIZE];
	struct sesame_token t;
	size_t count = 0;
	long n;
	enum sesame_reason r = SESAME_MALFORMED;

	n = cli_read_input(arg, input, sizeof(input));
	snprintf(sc->host, sizeof(sc->host), "%s", o->host ? o->host : "");
	if (o->host == NULL)
		cli_hostname(sc->host, sizeof(sc->host));
	sesame_attempt_init(a, cfg);
	if (n < 0)
		goto out;
	if (o->service == NULL && sesame_token_parse(input, (size_t)n, cfg->param, &t) == 0 &&
	    (t.flags & SESAME_FLAG_SERVICE))
		count = service_candidates(cfg, &t, names);
	for (size_t i = 0; i < count; i++) {
		memcpy(sc->service, names[i], sizeof(sc->service));
		r = attempt_as(cfg, a, sc->service, sc->host, input, (size_t)n);
		if (r != SESAME_WRONG_SERVICE && r != SESAME_BAD_SIGNATURE)
			goto out;
	}
	r = attempt_as(cfg, a, o->service, sc->host, input, (size_t)n);
out:
	sesame_wipe(input, sizeof(input));
	return r;
}

static int exit_for(enum sesame_reason r, const struct sesame_attempt *a)
{
	if (r == SESAME_OK)
		return EXIT_OK;
	if (sesame_reason_is_unavailable(r)) {
		cli_error("%s", a->err.msg[0] ? a->err.msg : sesame_reason_name(r));
		return EXIT_ERROR;
	}
	return EXIT_REJECTED;
}

int cli_inspect(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_attempt a;
	struct scope sc = {"", ""};
	enum sesame_reason r;

	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	r = examine(o, o->inspect, &cfg, &a, &sc);
	if (o->json) {
		print_inspection_json(&a, r);
	} else {
		if (a.have_token)
			print_inspection(&a, r);
		if (suspension_note(r) != NULL)
			printf("note:     %s\n", suspension_note(r));
		if (r == SESAME_OK)
			printf("status:   valid\n");
		else
			printf("status:   invalid: %s\n", sesame_reason_name(r));
	}
	return exit_for(r, &a);
}

/* Reasons that mean "not a genuine token of this host": nothing to revoke. */
static int not_ours(enum sesame_reason r)
{
	return r == SESAME_MALFORMED || r == SESAME_UNKNOWN_KEY || r == SESAME_BAD_SIGNATURE ||
	       r == SESAME_USER_UNKNOWN;
}

static int revoke_operand(const struct cli_options *o, struct sesame_config *cfg,
			  const char *arg);

/* "-": an id or a token on stdin, read once. */
static int revoke_stdin(const struct cli_options *o, struct sesame_config *cfg)
{
	char input[INPUT_MAX];
	uint8_t id[SESAME_ID_BYTES];
	long n = cli_read_input("-", input, sizeof(input));
	int rc;

	while (n > 0 && (input[n - 1] == '\n' || input[n - 1] == '\r' || input[n - 1] == ' '))
		input[--n] = '\0';
	if (n <= 0 || strcmp(input, "-") == 0)
		rc = revoke_operand(o, cfg, "");
	else if (cli_parse_id(input, id) == 0)
		rc = cli_revoke_id(cfg, id);
	else
		rc = revoke_operand(o, cfg, input);
	sesame_wipe(input, sizeof(input));
	return rc;
}

int cli_revoke(const struct cli_options *o)
{
	struct sesame_config cfg;
	uint8_t id[SESAME_ID_BYTES];

	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	if (cli_parse_id(o->revoke, id) == 0)
		return cli_revoke_id(&cfg, id);
	if (strcmp(o->revoke, "-") == 0)
		return revoke_stdin(o, &cfg);
	return revoke_operand(o, &cfg, o->revoke);
}

/* Revoke a token given in full: any genuine token of this host, in the
 * ledger or not. */
static int revoke_operand(const struct cli_options *o, struct sesame_config *cfg,
			  const char *arg)
{
	struct sesame_attempt a;
	struct sesame_store st;
	struct sesame_err err = {{0}};
	struct scope sc = {"", ""};
	enum sesame_reason r;
	int rc = EXIT_ERROR;

	r = examine(o, arg, cfg, &a, &sc);
	if (r == SESAME_KEY_UNAVAILABLE || r == SESAME_SYSTEM_ERROR)
		return exit_for(r, &a);
	if (not_ours(r)) {
		cli_error("not a token of this host (%s): nothing revoked", sesame_reason_name(r));
		return EXIT_REJECTED;
	}
	if (sesame_store_open(&st, cfg, 1, &err) != 0 ||
	    sesame_store_revoke(&st, &a.token, (int64_t)time(NULL), &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	fprintf(stderr, "revoked token %s of %s\n", a.id_text, a.account[0] ? a.account : "?");
	rc = EXIT_OK;
out:
	sesame_store_close(&st);
	return rc;
}

int cli_revoke_user(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_account acct;
	struct sesame_store st;
	struct sesame_err err = {{0}};
	int64_t now = (int64_t)time(NULL), before = now;
	char until[64];
	int rc = EXIT_ERROR;

	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	if (sesame_account_by_name(o->revoke_user, 0, &acct) != SESAME_OK) {
		cli_error("user %s: %s", o->revoke_user, sesame_reason_name(SESAME_USER_UNKNOWN));
		return EXIT_ERROR;
	}
	if (sesame_store_open(&st, &cfg, 1, &err) != 0 ||
	    sesame_store_revoke_user_now(&st, acct.uid, now, &before, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	now = (int64_t)time(NULL); /* the cutoff was taken at the cluster's answer */
	if (before <= now) {
		fprintf(stderr, "revoked every token of %s (uid %u) issued until now\n", acct.name,
			(unsigned)acct.uid);
	} else {
		/* the fleet: issuers' clocks may run up to etcd_clock_skew ahead */
		cli_time_local(before, until, sizeof(until));
		fprintf(stderr, "revoked every token of %s (uid %u) issued until %s: now plus "
			"%lld s, as an issuer's clock may be up to etcd_clock_skew ahead of the "
			"cluster's; minting for %s is possible again after then\n", acct.name,
			(unsigned)acct.uid, until, (long long)(before - now), acct.name);
	}
	rc = EXIT_OK;
out:
	sesame_store_close(&st);
	sesame_account_clear(&acct);
	return rc;
}

/* Under store = etcd: the file store a migration left in state_dir.
 * Who logged in where is kept no longer than under store = file. */
static int gc_file_left(const struct sesame_config *cfg)
{
	struct sesame_gc_stats stats = {0, 0, 0};
	struct sesame_err err = {{0}};
	int r = sesame_store_gc_file_left(cfg->state_dir, (int64_t)time(NULL), &stats, &err);

	if (r < 0) {
		cli_error("%s", err.msg);
		return EXIT_ERROR;
	}
	if (r > 0)
		return EXIT_OK;
	fprintf(stderr, "gc: %s still holds the file store from before store = etcd: removed "
		"%llu expired records, kept %llu, rewrote %llu files\n", cfg->state_dir,
		(unsigned long long)stats.removed, (unsigned long long)stats.kept,
		(unsigned long long)stats.files_rewritten);
	if (stats.kept == 0)
		fprintf(stderr, "gc: the file store in %s holds nothing any more: remove it (%s)\n",
			cfg->state_dir, SESAME_STORE_FILE_NAMES);
	return EXIT_OK;
}

int cli_gc(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_store st;
	struct sesame_gc_stats stats = {0, 0, 0};
	struct sesame_err err = {{0}};
	int rc = EXIT_ERROR;

	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	if (strcmp(cfg.store, "etcd") == 0) {
		fprintf(stderr, "gc: store = etcd: records expire through etcd leases (expiry plus "
			"the grace period): nothing to do in etcd\n");
		return gc_file_left(&cfg);
	}
	/* A daily timer may run before the first token is ever minted. */
	if (access(cfg.state_dir, F_OK) != 0 && errno == ENOENT) {
		fprintf(stderr, "gc: no store at %s yet: nothing to do\n", cfg.state_dir);
		return EXIT_OK;
	}
	if (sesame_store_open(&st, &cfg, 0, &err) != 0 ||
	    sesame_store_gc(&st, (int64_t)time(NULL), &stats, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	fprintf(stderr, "gc: removed %llu expired records, kept %llu, rewrote %llu files\n",
		(unsigned long long)stats.removed, (unsigned long long)stats.kept,
		(unsigned long long)stats.files_rewritten);
	rc = EXIT_OK;
out:
	sesame_store_close(&st);
	return rc;
}

static void print_migration(const char *from, const struct sesame_store_export *ex,
			    const struct sesame_import_stats *st)
{
	int64_t dead = 0;
	char when[64];

	fprintf(stderr, "migrate: %s: %zu tokens, %zu per-user revocations read\n", from,
		ex->n_tokens, ex->n_users);
	fprintf(stderr, "migrate: %llu tokens alive: %llu uses added (%llu added by an earlier "
		"run), %llu revocations and %llu ledger records written; %llu per-user "
		"revocations; %llu tokens long expired left out\n",
		(unsigned long long)st->tokens, (unsigned long long)st->uses,
		(unsigned long long)st->uses_there, (unsigned long long)st->revoked,
		(unsigned long long)st->ledger, (unsigned long long)st->users,
		(unsigned long long)st->expired);
	for (size_t i = 0; i < ex->n_tokens; i++)
		if (ex->tokens[i].expires > dead)
			dead = ex->tokens[i].expires;
	cli_time_local(dead + SESAME_STORE_GRACE, when, sizeof(when));
	/* Who logged in where: kept no longer than under store = file. */
	fprintf(stderr, "migrate: %s is left as it was; sesame-mint --gc keeps expiring its "
		"records while it is state_dir; its last token is dead after %s: then remove "
		"it (%s)\n", from, ex->n_tokens > 0 ? when : "now", SESAME_STORE_FILE_NAMES);
}

/* Is path the directory cfg's state_dir names? */
static int is_state_dir(const struct sesame_config *cfg, const char *path)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat(cfg->state_dir, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* The name the uses sesame 0.1 recorded without a host are told apart
 * by, from one store to another (their keys in etcd are digests of it):
 * this host's name for its own state_dir; for any other directory (a copy
 * of another host's) its host, which only the admin knows. */
static int migration_source(const struct cli_options *o, const struct sesame_config *cfg,
			    char *out, size_t size)
{
	if (o->source != NULL) {
		if (o->source[0] == '\0' || strlen(o->source) >= size ||
		    !sesame_ledger_text_ok(o->source)) {
			cli_error("--source: expected a host name (one printable line)");
			return -1;
		}
		snprintf(out, size, "%s", o->source);
		return 0;
	}
	if (!is_state_dir(cfg, o->migrate_store)) {
		cli_error("--migrate-store %s: not this host's state_dir (%s): name the host whose "
			  "store it is with --source HOST, or the uses it recorded without a host "
			  "(sesame 0.1) may be taken for another store's", o->migrate_store,
			  cfg->state_dir);
		return -1;
	}
	cli_hostname(out, size);
	return 0;
}

/* Copy a file store into the configured etcd store (docs/fleet.md,
 * "Moving a host from store = file"). Safe to run again. */
int cli_migrate_store(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_store st = {NULL, NULL};
	struct sesame_store_export ex;
	struct sesame_import_stats stats;
	struct sesame_err err = {{0}};
	char host[256];
	int rc = EXIT_ERROR;

	memset(&ex, 0, sizeof(ex));
	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	if (strcmp(cfg.store, "etcd") != 0) {
		cli_error("--migrate-store copies into store = etcd; this configuration has "
			  "store = %s", cfg.store);
		return EXIT_ERROR;
	}
	if (migration_source(o, &cfg, host, sizeof(host)) != 0)
		return EXIT_ERROR;
	if (sesame_store_export_file(o->migrate_store, &ex, &err) != 0 ||
	    sesame_store_open(&st, &cfg, 1, &err) != 0 ||
	    sesame_store_import_etcd(&st, &ex, host, (int64_t)time(NULL), &stats, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	print_migration(o->migrate_store, &ex, &stats);
	rc = EXIT_OK;
out:
	sesame_store_close(&st);
	sesame_store_export_free(&ex);
	return rc;
}
