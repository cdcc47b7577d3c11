/* Login by email. Delivery is synchronous, bounded by MAIL_TIMEOUT_SEC:
 * the module runs in multi-threaded greeters too, where forking a worker
 * that keeps running library code is unsafe. The cost is a timing
 * difference between "sent" and "nothing to send", documented in
 * pam_sesame(8) and docs/security.md. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <security/pam_ext.h>

#include "account.h"
#include "keys.h"
#include "mail.h"
#include "maillink.h"
#include "policy.h"
#include "report.h"
#include "store.h"
#include "util.h"
#include "verify.h"

#define MAP_FILE_MAX (1024 * 1024)
#define MAIL_TIMEOUT_SEC 20

const char *sesame_maillink_outcome_name(enum sesame_maillink_outcome o)
{
	switch (o) {
	case SESAME_MAILLINK_SENT: return "sent";
	case SESAME_MAILLINK_NO_ADDRESS: return "no address";
	case SESAME_MAILLINK_NOT_ALLOWED: return "user not allowed";
	case SESAME_MAILLINK_RATE_LIMITED: return "rate limited";
	case SESAME_MAILLINK_LOCKED: return "account locked";
	case SESAME_MAILLINK_EXPIRED: return "account expired";
	case SESAME_MAILLINK_USER_REVOKED: return "account revoked";
	default: return "failed";
	}
}

static int expand_template(const char *tmpl, const char *user, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = tmpl; *p; p++) {
		const char *piece = p;
		size_t len = 1;
		if (*p == '%' && p[1] == 'u') {
			piece = user;
			len = strlen(user);
			p++;
		} else if (*p == '%' && p[1] == '%') {
			p++;
		}
		if (o + len >= n)
			return 0;
		memcpy(out + o, piece, len);
		o += len;
	}
	out[o] = '\0';
	return 1;
}

/* "user address" lines; '#' comments. Returns 1 found, 0 not. */
static int map_lookup(char *text, const char *user, char *out, size_t n)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *name = line + strspn(line, " \t"), *addr, *end;
		if (*name == '#' || *name == '\0')
			continue;
		addr = name + strcspn(name, " \t");
		if (*addr == '\0')
			continue;
		*addr++ = '\0';
		addr += strspn(addr, " \t");
		end = addr + strcspn(addr, " \t\r");
		*end = '\0';
		if (strcmp(name, user) == 0 && (size_t)(end - addr) < n) {
			memcpy(out, addr, (size_t)(end - addr) + 1);
			return 1;
		}
	}
	return 0;
}

int sesame_maillink_address(const char *mail_to, const char *user, char *out, size_t n,
			    struct sesame_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int fd, found = 0;

	out[0] = '\0';
	if (mail_to[0] == '\0')
		return 0;
	if (mail_to[0] != '/')
		found = expand_template(mail_to, user, out, n);
	else {
		/* The map decides where login links go: checked like the key file. */
		fd = sesame_open_checked(mail_to, O_RDONLY, SESAME_FILE_REGULAR, 1, 0, "mail map",
					 err);
		if (fd < 0)
			return -1;
		if (sesame_read_fd(fd, MAP_FILE_MAX, &text, &len, "mail map", mail_to, err) != 0) {
			close(fd);
			return -1;
		}
		close(fd);
		found = map_lookup(text, user, out, n);
		free(text);
	}
	if (found && !sesame_mail_address_ok(out)) {
		out[0] = '\0';
		return 0;
	}
	return found;
}

/* Mint the one-use token for acct; its text into text. */
static int mint_for(struct sesame_maillink *ml, const struct sesame_account *acct,
		    struct sesame_token *t, char text[SESAME_TOKEN_TEXT_SIZE])
{
	struct sesame_keyring kr;
	struct sesame_mint_request req = {ml->now, ml->cfg->mail_max_age, 1, ml->service, ml->host, NULL};
	enum sesame_reason r;

	if (sesame_keyring_load(&kr, ml->cfg->key_file, &ml->err) != 0)
		return -1;
	r = sesame_mint(sesame_keyring_signer(&kr), acct,
			sesame_binds_password(ml->cfg->bind_password, acct, SESAME_SCOPE_HOST), &req, t);
	sesame_keyring_wipe(&kr);
	if (r != SESAME_OK) {
		sesame_err_set(&ml->err, "cannot mint: %s", sesame_reason_name(r));
		return -1;
	}
	sesame_token_format(t, text);
	sesame_token_id_text(t, ml->id_text);
	return 0;
}

/* The mail names the account as NSS spells it (acct->name), not as it was
 * typed at the prompt: a case-insensitive directory accepts "ALICE". */
static char *compose(struct sesame_maillink *ml, const struct sesame_account *acct,
		     const char *to, const struct sesame_token *t, const char *text)
{
	char from[SESAME_MAIL_FROM_SIZE], *link = NULL, *msg;
	struct sesame_mail m;

	sesame_mail_from(ml->cfg->mail_from, ml->host, from);
	if (ml->cfg->url[0] != '\0')
		link = sesame_link_build(ml->cfg->url, ml->cfg->param, text);
	sesame_mail_fill(&m, t, from, to, acct->name, ml->host, link ? link : text, ml->now);
	msg = sesame_mail_compose(&m, &ml->err);
	sesame_free_str(link);
	return msg;
}

/* The ledger's record of a mailed link: issued by "mail", at the request
 * of rhost (or of a local caller), made durable before the mail leaves. */
static int record_issue(struct sesame_maillink *ml, struct sesame_store *st,
			const struct sesame_account *acct, const char *to,
			const struct sesame_token *t)
{
	struct sesame_issue is;
	char channel[SESAME_LEDGER_LONG];

	sesame_issue_init(&is, t);
	sesame_ledger_text_copy(is.account, sizeof(is.account), acct->name);
	snprintf(channel, sizeof(channel), "service %.50s, host %.50s", ml->service, ml->host);
	sesame_ledger_text_copy(is.scope, sizeof(is.scope), channel);
	sesame_ledger_text_copy(is.host, sizeof(is.host), ml->host);
	snprintf(channel, sizeof(channel), "mail to %.110s", to);
	sesame_ledger_text_copy(is.channel, sizeof(is.channel), channel);
	snprintf(is.issuer, sizeof(is.issuer), "%s", SESAME_ISSUER_MAIL);
	if (ml->rhost != NULL && ml->rhost[0] != '\0')
		sesame_ledger_text_copy(is.rhost, sizeof(is.rhost), ml->rhost);
	else
		snprintf(is.rhost, sizeof(is.rhost), "local, uid %u", (unsigned)ml->ruid);
	return sesame_store_record_issue(st, &is, &ml->err);
}

/* Mint, record the issue and compose the message: the message, or NULL
 * (ml->err says why). */
static char *issue(struct sesame_maillink *ml, struct sesame_store *st,
		   const struct sesame_account *acct, const char *to)
{
	struct sesame_token t;
	char text[SESAME_TOKEN_TEXT_SIZE] = "";
	char *msg = NULL;

	if (mint_for(ml, acct, &t, text) == 0 && record_issue(ml, st, acct, to, &t) == 0)
		msg = compose(ml, acct, to, &t, text);
	sesame_wipe(text, sizeof(text));
	sesame_wipe(&t, sizeof(t));
	return msg;
}

/* "rhost" || 0 || the remote host, or "rhost/64" || 0 || the first 8
 * bytes of an IPv6 address (a site gets a /64 and picks any address in
 * it), or "uid" || 0 || the requesting uid for local services; hashed to
 * SESAME_MAIL_SOURCE_LEN bytes. An IPv4-mapped address counts as IPv4. */
int sesame_maillink_source(const char *rhost, uint32_t ruid,
			   uint8_t out[SESAME_MAIL_SOURCE_LEN])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	struct in6_addr v6;
	char addr[INET6_ADDRSTRLEN + 1], uid_text[16];
	const char *label = "uid", *data = uid_text;
	size_t len;
	unsigned n = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	snprintf(uid_text, sizeof(uid_text), "%u", (unsigned)ruid);
	if (rhost != NULL && rhost[0] != '\0') {
		label = "rhost";
		data = rhost;
		/* "fe80::1%eth0": the zone names our interface, not the peer */
		snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(rhost, "%"), rhost);
		if (inet_pton(AF_INET6, addr, &v6) == 1 && IN6_IS_ADDR_V4MAPPED(&v6)) {
			inet_ntop(AF_INET, v6.s6_addr + 12, addr, sizeof(addr));
			data = addr;
		} else if (inet_pton(AF_INET6, addr, &v6) == 1) {
			label = "rhost/64";
			data = (const char *)v6.s6_addr;
		}
	}
	len = data == (const char *)v6.s6_addr ? 8 : strlen(data);
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, label, strlen(label) + 1) == 1 &&
	     EVP_DigestUpdate(md, data, len) == 1 && EVP_DigestFinal_ex(md, digest, &n) == 1 &&
	     n >= SESAME_MAIL_SOURCE_LEN;
	EVP_MD_CTX_free(md);
	if (ok)
		memcpy(out, digest, SESAME_MAIL_SOURCE_LEN);
	return ok ? 0 : -1;
}

/* 2 when --revoke-user ended every token of uid issued at or after now,
 * 0 when not, -1 when the store cannot say. */
static int user_revoked_now(struct sesame_maillink *ml, struct sesame_store *st, uint32_t uid)
{
	int64_t before = -1;

	if (sesame_store_user_revoked_before(st, uid, &before, &ml->err) != 0)
		return -1;
	if (before < ml->now)
		return 0;
	sesame_err_set(&ml->err, "every token of the account issued until %lld is revoked "
		       "(--revoke-user): nothing mailed", (long long)before);
	return 2;
}

static void rate_limit_then_deliver(struct sesame_maillink *ml, const struct sesame_account *acct,
				    const char *to)
{
	const struct sesame_mail_limits lim = {
		ml->cfg->mail_interval, ml->cfg->mail_per_hour, ml->cfg->mail_account_per_hour,
	};
	const char *envelope = ml->cfg->mail_from[0] != '\0' ? ml->cfg->mail_from : NULL;
	uint8_t source[SESAME_MAIL_SOURCE_LEN];
	struct sesame_store st;
	char *msg = NULL;
	int r;

	ml->outcome = SESAME_MAILLINK_FAILED;
	if (sesame_maillink_source(ml->rhost, ml->ruid, source) != 0) {
		sesame_err_set(&ml->err, "cannot name the request's source");
		return;
	}
	if (sesame_store_open(&st, ml->cfg, 0, &ml->err) != 0)
		return;
	/* A link minted now would be born revoked (fleet: --revoke-user cuts
	 * up to etcd_clock_skew ahead): mail nothing, and use up no limit. */
	r = user_revoked_now(ml, &st, acct->uid);
	if (r == 0)
		r = sesame_store_mail_allow(&st, acct->uid, source, ml->now, &lim, &ml->err);
	if (r == 2)
		ml->outcome = SESAME_MAILLINK_USER_REVOKED;
	else if (r > 0)
		ml->outcome = SESAME_MAILLINK_RATE_LIMITED;
	else if (r == 0)
		msg = issue(ml, &st, acct, to);
	/* The issue is recorded: the store (in the fleet, a worker of
	 * sesame-etcd --serve that logins need) is not held while the relay
	 * takes up to its timeout. */
	sesame_store_close(&st);
	/* With mail_from unset, sendmail, now running as root, names root. */
	if (msg != NULL &&
	    sesame_mail_send(ml->cfg->sendmail, envelope, msg, ml->timeout_sec, &ml->err) == 0)
		ml->outcome = SESAME_MAILLINK_SENT;
	sesame_free_str(msg);
}

void sesame_maillink_send(struct sesame_maillink *ml)
{
	struct sesame_account acct;
	char to[256];
	enum sesame_reason r;
	enum sesame_policy policy;
	int found;

	memset(&ml->err, 0, sizeof(ml->err));
	ml->id_text[0] = '\0';
	ml->outcome = SESAME_MAILLINK_NO_ADDRESS;
	r = sesame_account_by_name(ml->user, ml->cfg->bind_password == SESAME_BIND_YES, &acct);
	if (r == SESAME_USER_UNKNOWN)
		return;
	if (r != SESAME_OK) {
		ml->outcome = SESAME_MAILLINK_FAILED;
		sesame_err_set(&ml->err, "account %s: %s", ml->user, sesame_reason_name(r));
		return;
	}
	found = sesame_maillink_address(ml->cfg->mail_to, acct.name, to, sizeof(to), &ml->err);
	policy = found > 0 ? sesame_policy_check(ml->cfg, &acct, ml->now) : SESAME_POLICY_OK;
	if (found < 0)
		ml->outcome = SESAME_MAILLINK_FAILED;
	else if (policy == SESAME_POLICY_LOCKED)
		ml->outcome = SESAME_MAILLINK_LOCKED;
	else if (policy == SESAME_POLICY_EXPIRED)
		ml->outcome = SESAME_MAILLINK_EXPIRED;
	else if (policy != SESAME_POLICY_OK)
		ml->outcome = SESAME_MAILLINK_NOT_ALLOWED;
	else if (found > 0)
		rate_limit_then_deliver(ml, &acct, to);
	sesame_account_clear(&acct);
}

/* The rate limits count per source: the remote host, or for a local
 * service (su, login: NULL here) the real uid of whoever asks. sudo sets
 * PAM_RHOST to this host's own name: that is local too. */
static const char *remote_host(pam_handle_t *pamh, const char *host)
{
	const char *rhost = pam_sesame_item(pamh, PAM_RHOST);

	return rhost != NULL && strcmp(rhost, host) != 0 ? rhost : NULL;
}

void pam_sesame_mail_link(pam_handle_t *pamh, const struct pam_sesame_args *args,
			  const char *user)
{
	struct sesame_maillink ml = {0};
	char host[HOST_NAME_MAX + 1] = "";
	const char *service = pam_sesame_item(pamh, PAM_SERVICE);

	ml.outcome = SESAME_MAILLINK_FAILED;
	/* The mailed token is scoped to this service and host: without both,
	 * send nothing rather than an unscoped token. */
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		sesame_err_set(&ml.err, "no host name");
	else if (service == NULL || service[0] == '\0')
		sesame_err_set(&ml.err, "no PAM service name");
	else {
		ml.cfg = &args->cfg;
		ml.user = user;
		ml.service = service;
		ml.host = host;
		ml.rhost = remote_host(pamh, host);
		ml.ruid = (uint32_t)getuid();
		ml.now = (int64_t)time(NULL);
		ml.timeout_sec = MAIL_TIMEOUT_SEC;
		sesame_maillink_send(&ml);
	}
	pam_sesame_report_mail(pamh, user, ml.id_text[0] ? ml.id_text : NULL,
			       sesame_maillink_outcome_name(ml.outcome), ml.err.msg);
	(void)pam_info(pamh, "%s", PAM_SESAME_MAIL_NOTICE);
}
