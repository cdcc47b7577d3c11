/* sesame-mint USER: make a token, check it as the module would, then
 * print, draw, or mail it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "account.h"
#include "cli.h"
#include "keys.h"
#include "mail.h"
#include "policy.h"
#include "qr.h"
#include "scope.h"
#include "store.h"
#include "util.h"
#include "verify.h"

#define MAIL_TIMEOUT_SEC 60

struct minted {
	struct sesame_token token;
	char text[SESAME_TOKEN_TEXT_SIZE];
	char id[SESAME_ID_TEXT_SIZE];
	char *link; /* NULL when there is no url */
	char user[256];
	const char *service, *host;
	enum sesame_scope_kind kind; /* of -H: a host or a group */
	int bound;                   /* bound to this host's password hash */
};

static void minted_clear(struct minted *m)
{
	sesame_free_str(m->link);
	sesame_wipe(m, sizeof(*m));
}

/* The store that counts uses is this host's own: with the key copied to
 * other hosts, a token that is not host-scoped gets its uses on each of
 * them, and --revoke here means nothing there. */
static void warn_if_shared(const struct sesame_config *cfg, const struct sesame_mint_request *req)
{
	if (!cfg->key_shared || req->host != NULL || req->uses == 0)
		return;
	fprintf(stderr, "sesame-mint: warning: key_shared = yes and no -H: this token works %u "
		"time%s on every host that has the key, and --revoke on one host does not "
		"reach the others; scope it with -H HOST\n", req->uses, req->uses == 1 ? "" : "s");
}

static int mint_request(const struct cli_options *o, const struct sesame_config *cfg,
			struct sesame_mint_request *req)
{
	unsigned long uses = 1;

	req->lifetime = cfg->max_age;
	if (o->lifetime != NULL && sesame_parse_duration(o->lifetime, &req->lifetime) != 0) {
		cli_error("-t: expected a duration such as 90s, 15m, 12h or 7d");
		return -1;
	}
	if (o->uses != NULL && sesame_parse_uint(o->uses, 0, 255, &uses) != 0) {
		cli_error("-n: expected a number of uses from 0 (any) to 255");
		return -1;
	}
	if (req->lifetime > cfg->max_age_limit) {
		char lim[32];
		sesame_format_duration(cfg->max_age_limit, lim, sizeof(lim));
		cli_error("lifetime above max_age_limit (%s): the module would refuse it", lim);
		return -1;
	}
	if (!sesame_scope_name_ok(o->service) || !sesame_scope_name_ok(o->host)) {
		cli_error("%s: expected a name of 1 to 255 printable characters without spaces",
			  sesame_scope_name_ok(o->service) ? "-H" : "-s");
		return -1;
	}
	req->uses = (unsigned)uses;
	req->service = o->service;
	req->host = o->host;
	req->now = (int64_t)time(NULL);
	warn_if_shared(cfg, req);
	return 0;
}

/* Root, group and account-state policy, the same check the module makes. */
static int mint_allowed(const struct sesame_config *cfg, const struct sesame_account *acct,
			int64_t now)
{
	enum sesame_policy p = sesame_policy_check(cfg, acct, now);

	if (p == SESAME_POLICY_ROOT)
		cli_error("refusing to mint for %s: uid 0 needs allow_root = yes", acct->name);
	else if (p == SESAME_POLICY_NOT_IN_GROUP)
		cli_error("refusing to mint for %s: not a member of group %s", acct->name,
			  cfg->group);
	else if (p != SESAME_POLICY_OK)
		cli_error("refusing to mint for %s: %s", acct->name,
			  sesame_reason_name(sesame_policy_reason(p)));
	return p == SESAME_POLICY_OK;
}

/* A token minted now for an account revoked until a later time would be
 * born dead. The cutoff is at most a second ahead on the file store (the
 * revocation covers its own second: wait for the next), and up to
 * etcd_clock_skew (or twice) ahead in the fleet (sesame_store_revoke_user_now):
 * refuse, saying when minting works again. 0, 1 refused, -1 error. */
static int wait_past_user_revocation(const struct sesame_config *cfg,
				     const struct sesame_account *acct,
				     struct sesame_mint_request *req)
{
	struct sesame_store st;
	struct sesame_err err = {{0}};
	int64_t before = -1;
	char until[64];
	int r = -1, closed = 0;

	if (sesame_store_open(&st, cfg, 1, &err) != 0 ||
	    sesame_store_user_revoked_before(&st, acct->uid, &before, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	/* Closed before the wait: in the fleet the session holds a worker
	 * of sesame-etcd --serve that logins need. */
	sesame_store_close(&st);
	closed = 1;
	if (before >= req->now && before - req->now < 2) {
		sleep((unsigned)(before - req->now + 1));
		req->now = (int64_t)time(NULL);
	}
	r = before >= req->now;
	if (r != 0) {
		cli_time_local(before, until, sizeof(until));
		cli_error("refusing to mint for %s: --revoke-user ended every token of %s issued "
			  "until %s; minting for %s is possible again in %lld s, after that time",
			  acct->name, acct->name, until, acct->name,
			  (long long)(before - req->now + 1));
	}
out:
	if (!closed)
		sesame_store_close(&st);
	return r;
}

/* minisign's habit: check what we made before handing it out, through the
 * same parse and check the module runs. */
static int self_check(const struct sesame_config *cfg, const struct sesame_keyring *kr,
		      const struct sesame_account *acct, const struct sesame_mint_request *req,
		      struct minted *m)
{
	static const struct sesame_keyring none;
	struct sesame_token back;
	struct sesame_context ctx = {req->service, req->host ? req->host : "", req->now};
	struct sesame_group_keys *gk = NULL;
	uint8_t made[SESAME_TOKEN_BYTES], read[SESAME_TOKEN_BYTES];
	enum sesame_reason r = SESAME_MALFORMED;
	int same;

	sesame_token_to_bytes(&m->token, made);
	same = sesame_token_parse(m->text, strlen(m->text), cfg->param, &back) == 0;
	sesame_token_to_bytes(&back, read);
	same = same && memcmp(made, read, sizeof(made)) == 0;
	/* A group token is checked as a host of that group sees it: with the
	 * group's keys only. */
	if (same && req->group != NULL && (gk = calloc(1, sizeof(*gk))) != NULL) {
		gk->n = 1;
		snprintf(gk->group[0].name, sizeof(gk->group[0].name), "%s", req->group);
		gk->group[0].kr = *kr;
		r = sesame_check_scoped(cfg, &none, gk, &back, acct, &ctx, NULL);
		sesame_group_keys_wipe(gk);
		free(gk);
	} else if (same && req->group == NULL) {
		r = sesame_check(cfg, kr, &back, acct, &ctx);
	}
	sesame_wipe(&back, sizeof(back));
	sesame_wipe(made, sizeof(made));
	sesame_wipe(read, sizeof(read));
	if (!same) {
		cli_error("internal error: minted token does not read back");
		return -1;
	}
	if (r != SESAME_OK) {
		cli_error("minted token does not verify: %s", sesame_reason_name(r));
		return -1;
	}
	return 0;
}

/* -H NAME: "group:NAME", "host:NAME", or NAME: a group when key_dir has
 * a key file for group NAME, else a host. Sets req->host or req->group
 * and the key file that signs: the group's; for a host, key_dir's file
 * for that host when there is one, else key_file (this host's keys, as
 * before groups). */
static int resolve_scope(const struct sesame_config *cfg, struct sesame_mint_request *req,
			 struct minted *m, char *key_path, size_t size)
{
	const char *name = req->host;
	int forced = 0;

	snprintf(key_path, size, "%s", cfg->key_file);
	m->kind = name != NULL ? SESAME_SCOPE_HOST : SESAME_SCOPE_NONE;
	if (name == NULL)
		return 0;
	if (strncmp(name, "group:", 6) == 0 || strncmp(name, "host:", 5) == 0) {
		forced = name[0] == 'g' ? 2 : 1;
		name = strchr(name, ':') + 1;
	}
	if (forced == 2 || (forced == 0 && sesame_scope_key_path(cfg->key_dir, SESAME_SCOPE_GROUP,
								 name, key_path, size) == 0 &&
			    access(key_path, F_OK) == 0)) {
		if (!sesame_group_name_ok(name) ||
		    sesame_scope_key_path(cfg->key_dir, SESAME_SCOPE_GROUP, name, key_path,
					  size) != 0) {
			cli_error("-H group:%s: not a usable group name", name);
			return -1;
		}
		m->kind = SESAME_SCOPE_GROUP;
		req->group = name;
		req->host = NULL;
		return 0;
	}
	req->host = name;
	if (sesame_scope_key_path(cfg->key_dir, SESAME_SCOPE_HOST, name, key_path, size) != 0 ||
	    access(key_path, F_OK) != 0)
		snprintf(key_path, size, "%s", cfg->key_file);
	return 0;
}

static int make_token(const struct cli_options *o, const struct sesame_config *cfg,
		      struct minted *m, struct sesame_mint_request *req)
{
	char key_path[SESAME_PATH_MAX + 2 * SESAME_GROUP_NAME_SIZE];
	struct sesame_keyring kr;
	struct sesame_account acct;
	struct sesame_err err = {{0}};
	enum sesame_reason why;
	int r = EXIT_ERROR;

	memset(&kr, 0, sizeof(kr));
	why = sesame_account_by_name(o->user, cfg->bind_password == SESAME_BIND_YES, &acct);
	if (why != SESAME_OK) {
		cli_error("user %s: %s", o->user, sesame_reason_name(why));
		goto out;
	}
	if (!mint_allowed(cfg, &acct, req->now)) {
		r = EXIT_REJECTED;
		goto out;
	}
	if (resolve_scope(cfg, req, m, key_path, sizeof(key_path)) != 0)
		goto out;
	m->host = req->host ? req->host : req->group;
	if (sesame_keyring_load(&kr, key_path, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	switch (wait_past_user_revocation(cfg, &acct, req)) {
	case 0:
		break;
	case 1:
		r = EXIT_REJECTED;
		goto out;
	default:
		goto out;
	}
	m->bound = sesame_binds_password(cfg->bind_password, &acct, m->kind);
	why = sesame_mint(sesame_keyring_signer(&kr), &acct, m->bound, req, &m->token);
	if (why != SESAME_OK) {
		cli_error("cannot mint: %s", sesame_reason_name(why));
		goto out;
	}
	sesame_token_format(&m->token, m->text);
	sesame_token_id_text(&m->token, m->id);
	snprintf(m->user, sizeof(m->user), "%s", acct.name);
	if (self_check(cfg, &kr, &acct, req, m) == 0)
		r = EXIT_OK;
out:
	sesame_keyring_wipe(&kr);
	sesame_account_clear(&acct);
	return r;
}

static int make_link(const struct cli_options *o, const struct sesame_config *cfg,
		     struct minted *m)
{
	/* A link is printed with --link or --url; a mail carries one whenever
	 * a url is configured, else the bare token. */
	const char *url = o->url ? o->url : ((o->link || o->mail) ? cfg->url : NULL);
	struct sesame_config check;
	struct sesame_err err = {{0}};

	if (url == NULL || *url == '\0') {
		if (o->link) {
			cli_error("--link: no url in the configuration (set url, or use --url URL)");
			return -1;
		}
		return 0;
	}
	sesame_config_defaults(&check);
	if (sesame_config_set(&check, "url", url, &err) != SESAME_CONFIG_OK) {
		cli_error("%s", err.msg);
		return -1;
	}
	m->link = sesame_link_build(url, cfg->param, m->text);
	if (m->link == NULL) {
		cli_error("cannot build a link from that url");
		return -1;
	}
	return 0;
}

static void print_details(const struct sesame_mint_request *req, const struct minted *m)
{
	char local[64], iso[32];
	int64_t exp = (int64_t)m->token.issued + m->token.lifetime;

	cli_time_local(exp, local, sizeof(local));
	cli_time_iso(exp, iso, sizeof(iso));
	fprintf(stderr, "account: %s (uid %u)\n", m->user, (unsigned)m->token.uid);
	fprintf(stderr, "expires: %s (%s)\n", local, iso);
	if (m->token.uses == 0)
		fprintf(stderr, "uses:    any number until it expires\n");
	else
		fprintf(stderr, "uses:    %u\n", m->token.uses);
	fprintf(stderr, "service: %s\nhost:    %s%s\n", req->service ? req->service : "any",
		m->host ? m->host : "any", m->kind == SESAME_SCOPE_GROUP ? " (host group)" : "");
	fprintf(stderr, "password: %s\n", m->bound ? "bound to this host's password hash"
						   : "not bound to a password (name and uid; "
						     "--revoke-user ends it)");
	fprintf(stderr, "id:      %s\n", m->id);
}

static json_object *json_str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static int print_json(const struct minted *m)
{
	json_object *obj = json_object_new_object();
	char iss[32], exp[32];

	cli_time_iso(m->token.issued, iss, sizeof(iss));
	cli_time_iso((int64_t)m->token.issued + m->token.lifetime, exp, sizeof(exp));
	json_object_object_add(obj, "token", json_object_new_string(m->text));
	json_object_object_add(obj, "link", json_str_or_null(m->link));
	json_object_object_add(obj, "id", json_object_new_string(m->id));
	json_object_object_add(obj, "user", json_object_new_string(m->user));
	json_object_object_add(obj, "uid", json_object_new_int64(m->token.uid));
	json_object_object_add(obj, "key_id", json_object_new_int64(m->token.key_id));
	json_object_object_add(obj, "issued", json_object_new_int64(m->token.issued));
	json_object_object_add(obj, "issued_iso", json_object_new_string(iss));
	json_object_object_add(obj, "expires",
			       json_object_new_int64((int64_t)m->token.issued + m->token.lifetime));
	json_object_object_add(obj, "expires_iso", json_object_new_string(exp));
	json_object_object_add(obj, "lifetime", json_object_new_int64(m->token.lifetime));
	json_object_object_add(obj, "uses", json_object_new_int64(m->token.uses));
	json_object_object_add(obj, "service", json_str_or_null(m->service));
	json_object_object_add(obj, "host",
			       json_str_or_null(m->kind == SESAME_SCOPE_HOST ? m->host : NULL));
	json_object_object_add(obj, "group",
			       json_str_or_null(m->kind == SESAME_SCOPE_GROUP ? m->host : NULL));
	json_object_object_add(obj, "password_bound", json_object_new_boolean(m->bound));
	return cli_print_json(obj);
}

static int send_mail(const struct cli_options *o, const struct sesame_config *cfg,
		     const struct minted *m)
{
	char host[256], from[SESAME_MAIL_FROM_SIZE];
	struct sesame_err err = {{0}};
	struct sesame_mail mail;
	char *msg;
	int r;

	cli_hostname(host, sizeof(host));
	sesame_mail_from(cfg->mail_from, host, from);
	sesame_mail_fill(&mail, &m->token, from, o->mail, m->user, m->host ? m->host : host,
			 m->link ? m->link : m->text, (int64_t)time(NULL));
	msg = sesame_mail_compose(&mail, &err);
	if (msg == NULL) {
		cli_error("%s", err.msg);
		return -1;
	}
	r = sesame_mail_send(cfg->sendmail, cfg->mail_from[0] != '\0' ? cfg->mail_from : NULL, msg,
			     MAIL_TIMEOUT_SEC, &err);
	sesame_free_str(msg);
	if (r != 0)
		cli_error("mail to %s not sent: %s", o->mail, err.msg);
	else
		fprintf(stderr, "mailed:  %s\n", o->mail);
	return r;
}

static int draw_qr(const struct cli_options *o, const char *payload)
{
	struct sesame_err err = {{0}};
	int r = -1;

	if (o->qr == QR_UTF8)
		r = sesame_qr_utf8(payload, stdout, &err);
	else if (o->qr == QR_PNG)
		r = sesame_qr_png(payload, o->output, &err);
	else if (o->qr == QR_SVG)
		r = sesame_qr_svg(payload, o->output, &err);
	if (r != 0)
		cli_error("%s", err.msg);
	else if (o->output != NULL)
		fprintf(stderr, "qr code: %s\n", o->output);
	return r;
}

static int deliver(const struct cli_options *o, const struct sesame_config *cfg,
		   const struct sesame_mint_request *req, struct minted *m)
{
	const char *line = m->link ? m->link : m->text;

	if (o->qr != QR_NONE && draw_qr(o, line) != 0)
		return EXIT_ERROR;
	if (o->mail != NULL && send_mail(o, cfg, m) != 0)
		return EXIT_ERROR;
	print_details(req, m);
	if (o->json) {
		if (print_json(m) != 0)
			return EXIT_ERROR;
	} else if (o->mail == NULL)
		printf("%s\n", line);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

int cli_mint(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_mint_request req;
	struct minted m;
	int r = EXIT_ERROR;

	memset(&m, 0, sizeof(m));
	memset(&req, 0, sizeof(req));
	if (cli_load_config(o, &cfg) != 0 || mint_request(o, &cfg, &req) != 0)
		goto out;
	if (o->mail != NULL && !sesame_mail_address_ok(o->mail)) {
		cli_error("--mail: not a plain address (one user@domain, nothing else)");
		goto out;
	}
	m.service = req.service;
	r = make_token(o, &cfg, &m, &req);
	if (r != EXIT_OK)
		goto out;
	r = EXIT_ERROR;
	if (make_link(o, &cfg, &m) != 0)
		goto out;
	/* Nothing leaves before the ledger's record is durable. */
	if (cli_record_issue(o, &cfg,
			     &(struct cli_issued){ &m.token, m.user, m.service, m.host,
						   m.kind == SESAME_SCOPE_GROUP, m.link != NULL }) != 0)
		goto out;
	r = deliver(o, &cfg, &req, &m);
out:
	minted_clear(&m);
	return r;
}
