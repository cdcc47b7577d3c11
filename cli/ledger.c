/* The ledger from the command line: the record made before a token is
 * handed out, --list, --history, and --revoke by id. The ledger holds
 * public ids and metadata only (store.h): nothing here can log anyone in. */
#include <ctype.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"
#include "util.h"

#define INPUT_MAX 4096
#define NO_LOGIN_UID ((uid_t)-1)

/* Who is behind this root process: the kernel's audit login uid, which
 * sudo and su keep, else the real uid. */
static uid_t issuer_uid(void)
{
	char buf[32];
	unsigned long v;
	char *end;
	ssize_t n;
	int fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return getuid();
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return getuid();
	buf[n] = '\0';
	v = strtoul(buf, &end, 10);
	if (end == buf || (uid_t)v == NO_LOGIN_UID || v > (unsigned long)(uid_t)-1)
		return getuid();
	return (uid_t)v;
}

static void uid_text(uid_t uid, char *buf, size_t n)
{
	struct passwd pw, *found = NULL;
	char store[4096];

	if (getpwuid_r(uid, &pw, store, sizeof(store), &found) == 0 && found != NULL)
		snprintf(buf, n, "uid %u (%.40s)", (unsigned)uid, found->pw_name);
	else
		snprintf(buf, n, "uid %u", (unsigned)uid);
}

const char *cli_note_problem(const char *note)
{
	if (strlen(note) > SESAME_NOTE_MAX)
		return "-m: a note is at most 200 bytes";
	for (const char *p = note; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "-m: a note is one line without control characters";
	if (!sesame_ledger_text_ok(note))
		return "-m: a note must be UTF-8 text";
	return NULL;
}

/* "any", "service S", "host H", "group G", or a service with either. */
static void scope_text(const struct cli_issued *what, char *buf, size_t n)
{
	const char *kind = what->group ? "group" : "host";

	if (what->service == NULL && what->host == NULL)
		snprintf(buf, n, "any");
	else if (what->host == NULL)
		snprintf(buf, n, "service %.100s", what->service);
	else if (what->service == NULL)
		snprintf(buf, n, "%s %.100s", kind, what->host);
	else
		snprintf(buf, n, "service %.50s, %s %.50s", what->service, kind, what->host);
}

int cli_record_issue(const struct cli_options *o, const struct sesame_config *cfg,
		     const struct cli_issued *what)
{
	struct sesame_issue is;
	struct sesame_store st;
	struct sesame_err err = {{0}};
	int r;

	sesame_issue_init(&is, what->token);
	sesame_ledger_text_copy(is.account, sizeof(is.account), what->account);
	scope_text(what, is.scope, sizeof(is.scope));
	cli_hostname(is.host, sizeof(is.host));
	if (o->mail != NULL)
		snprintf(is.channel, sizeof(is.channel), "mail to %.100s", o->mail);
	else
		snprintf(is.channel, sizeof(is.channel), "%s",
			 o->qr != QR_NONE ? "qr" : what->link ? "link" : "printed");
	uid_text(issuer_uid(), is.issuer, sizeof(is.issuer));
	sesame_ledger_text_copy(is.claimed, sizeof(is.claimed), getenv("SUDO_USER"));
	if (o->note != NULL)
		snprintf(is.note, sizeof(is.note), "%s", o->note);
	r = sesame_store_open(&st, cfg, 1, &err);
	if (r == 0)
		r = sesame_store_record_issue(&st, &is, &err);
	sesame_store_close(&st);
	if (r != 0)
		cli_error("ledger: %s: nothing handed out", err.msg);
	return r;
}

/* ---- reading the ledger ---- */

int cli_parse_id(const char *s, uint8_t id[SESAME_ID_BYTES])
{
	if (strlen(s) != 2 * SESAME_ID_BYTES)
		return -1;
	for (size_t i = 0; i < SESAME_ID_BYTES; i++) {
		char pair[3] = { s[2 * i], s[2 * i + 1], '\0' };
		if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]))
			return -1;
		id[i] = (uint8_t)strtoul(pair, NULL, 16);
	}
	return 0;
}

/* ID, TOKEN, LINK, or "-" for any of them on stdin: the token id. A
 * token given in full is not checked here (its id is all we look up). */
int cli_operand_id(const char *arg, const struct sesame_config *cfg,
		   uint8_t id[SESAME_ID_BYTES], int *by_id)
{
	char input[INPUT_MAX];
	struct sesame_token t;
	long n = cli_read_input(arg, input, sizeof(input));
	int r = -1;

	*by_id = 0;
	if (n < 0)
		goto out;
	while (n > 0 && (input[n - 1] == '\n' || input[n - 1] == '\r' || input[n - 1] == ' '))
		input[--n] = '\0';
	if (cli_parse_id(input, id) == 0) {
		*by_id = 1;
		r = 0;
	} else if (sesame_token_parse(input, (size_t)n, cfg->param, &t) == 0) {
		memcpy(id, t.id, SESAME_ID_BYTES);
		r = 0;
	}
	sesame_wipe(&t, sizeof(t));
out:
	sesame_wipe(input, sizeof(input));
	return r;
}

static void id_text(const uint8_t id[SESAME_ID_BYTES], char out[SESAME_ID_TEXT_SIZE])
{
	struct sesame_token t;

	memset(&t, 0, sizeof(t));
	memcpy(t.id, id, SESAME_ID_BYTES);
	sesame_token_id_text(&t, out);
}

static const char *state_of(const struct sesame_history *h, int64_t now)
{
	if (h->revoked || h->user_revoked)
		return "revoked";
	if (now >= h->issue.expires)
		return "expired";
	if (h->issue.uses > 0 && h->used >= h->issue.uses)
		return "used up";
	return "outstanding";
}

static void relative(int64_t t, int64_t now, char *buf, size_t n)
{
	char d[32];

	sesame_format_duration(t > now ? t - now : now - t, d, sizeof(d));
	snprintf(buf, n, t > now ? "in %s" : "%s ago", d);
}

static void uses_text(const struct sesame_history *h, char *buf, size_t n)
{
	if (h->issue.uses == 0)
		snprintf(buf, n, "any");
	else
		snprintf(buf, n, "%u/%u", h->used, h->issue.uses);
}

static int wanted(const struct sesame_history *h, const struct cli_options *o, int64_t now)
{
	if (o->user != NULL && strcmp(o->user, h->issue.account) != 0)
		return 0;
	return o->all || strcmp(state_of(h, now), "outstanding") == 0;
}

static void print_table(const struct sesame_history *hs, size_t n,
			const struct cli_options *o, int64_t now)
{
	char idt[SESAME_ID_TEXT_SIZE], rel[48], abs[64], uses[24];

	printf("%-12s  %-16s  %-36s  %-5s  %-16s  %-22s%s  %s\n", "ID", "ACCOUNT", "EXPIRES",
	       "USES", "SCOPE", "ISSUED BY", o->all ? "  STATE      " : "", "NOTE");
	for (size_t i = 0; i < n; i++) {
		const struct sesame_history *h = &hs[i];
		if (!wanted(h, o, now))
			continue;
		id_text(h->issue.id, idt);
		relative(h->issue.expires, now, rel, sizeof(rel));
		cli_time_local(h->issue.expires, abs, sizeof(abs));
		uses_text(h, uses, sizeof(uses));
		printf("%-12s  %-16s  %-11s %-24s  %-5s  %-16s  %-22s", idt, h->issue.account, rel,
		       abs, uses, h->issue.scope, h->issue.issuer);
		if (o->all)
			printf("  %-11s", state_of(h, now));
		printf("  %s\n", h->issue.note);
	}
}

static void json_add_str(json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, value != NULL ? json_object_new_string(value) : NULL);
}

static void json_add_time(json_object *obj, const char *key, int64_t t)
{
	char iso[32], name[48];

	json_object_object_add(obj, key, json_object_new_int64(t));
	cli_time_iso(t, iso, sizeof(iso));
	snprintf(name, sizeof(name), "%s_iso", key);
	json_add_str(obj, name, iso);
}

static json_object *json_use(const struct sesame_ledger_use *u)
{
	json_object *obj = json_object_new_object();

	json_add_time(obj, "time", u->time);
	json_add_str(obj, "host", u->host[0] ? u->host : NULL);
	json_add_str(obj, "service", u->service[0] ? u->service : NULL);
	json_add_str(obj, "rhost", u->rhost[0] ? u->rhost : NULL);
	json_add_str(obj, "ruser", u->ruser[0] ? u->ruser : NULL);
	json_add_str(obj, "tty", u->tty[0] ? u->tty : NULL);
	return obj;
}

static json_object *json_history(const struct sesame_history *h, const uint8_t *id, int64_t now)
{
	json_object *obj = json_object_new_object(), *uses = json_object_new_array();
	const struct sesame_issue *is = &h->issue;
	char idt[SESAME_ID_TEXT_SIZE];

	id_text(id, idt);
	json_add_str(obj, "id", idt);
	json_object_object_add(obj, "in_ledger", json_object_new_boolean(h->have_issue));
	if (h->have_issue) {
		json_add_str(obj, "user", is->account);
		json_object_object_add(obj, "uid", json_object_new_int64(is->uid));
		json_add_time(obj, "issued", is->issued);
		json_add_time(obj, "expires", is->expires);
		json_object_object_add(obj, "uses", json_object_new_int64(is->uses));
		json_object_object_add(obj, "key_id", json_object_new_int64(is->key_id));
		json_add_str(obj, "scope", is->scope);
		json_add_str(obj, "host", is->host);
		json_add_str(obj, "channel", is->channel);
		json_add_str(obj, "issued_by", is->issuer);
		json_add_str(obj, "claimed_by", is->claimed[0] ? is->claimed : NULL);
		json_add_str(obj, "rhost", is->rhost[0] ? is->rhost : NULL);
		json_add_str(obj, "note", is->note);
		json_add_str(obj, "state", state_of(h, now));
	}
	json_object_object_add(obj, "used", json_object_new_int64(h->used));
	for (size_t i = 0; i < h->n_uses; i++)
		json_object_array_add(uses, json_use(&h->uses[i]));
	json_object_object_add(obj, "use_records", uses);
	if (h->uses_read != SESAME_USES_ALL)
		json_add_str(obj, "uses_unread",
			     h->uses_read == SESAME_USES_NONE ? "all" : "records");
	json_object_object_add(obj, "revoked", json_object_new_boolean(h->revoked));
	if (h->revoked && h->revoked_at >= 0)
		json_add_time(obj, "revoked_at", h->revoked_at);
	json_object_object_add(obj, "user_revoked", json_object_new_boolean(h->user_revoked));
	if (h->issue_claimed) {
		json_object *uids = json_object_new_array();
		for (size_t i = 0; i < h->n_use_uids; i++)
			json_object_array_add(uids, json_object_new_int64(h->use_uids[i]));
		json_object_object_add(obj, "record_claimed", json_object_new_boolean(1));
		json_object_object_add(obj, "use_uids", uids);
	}
	return obj;
}

static int list_json(const struct sesame_history *hs, size_t n, const struct cli_options *o,
		     int64_t now)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		if (wanted(&hs[i], o, now))
			json_object_array_add(arr, json_history(&hs[i], hs[i].issue.id, now));
	return cli_print_json(arr);
}

/* The records the store skipped rather than fail the whole view for. */
static void warn_skipped(struct sesame_store *st)
{
	const char *line = sesame_store_skipped(st);

	while (*line != '\0') {
		int n = (int)strcspn(line, "\n");
		fprintf(stderr, "sesame-mint: warning: skipped %.*s\n", n, line);
		line += n + (line[n] == '\n');
	}
}

/* What --list cannot show. */
static void list_caveat(const struct sesame_config *cfg)
{
	if (strcmp(cfg->store, "etcd") == 0)
		fprintf(stderr, "(--list shows the fleet's ledger: tokens an issuer minted with "
			"store = etcd and links hosts mailed; tokens minted before it (on a host's "
			"file store, unless --migrate-store copied them) still work and are not "
			"listed)\n");
	else
		fprintf(stderr, "(--list can only show tokens minted on this host since it keeps "
			"a ledger: tokens minted elsewhere with a shared key, or before, still work "
			"and are not listed)\n");
}

int cli_list(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_store st;
	struct sesame_err err = {{0}};
	struct sesame_history *hs = NULL;
	size_t n = 0;
	int64_t now = (int64_t)time(NULL);
	int rc = EXIT_ERROR;

	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	if (sesame_store_open(&st, &cfg, 0, &err) != 0 ||
	    sesame_store_list(&st, &hs, &n, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	warn_skipped(&st);
	if (o->json)
		rc = list_json(hs, n, o, now) == 0 ? EXIT_OK : EXIT_ERROR;
	else
		print_table(hs, n, o, now);
	if (!o->json) {
		list_caveat(&cfg);
		rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
	}
out:
	sesame_history_free(hs, n);
	sesame_store_close(&st);
	return rc;
}

static void print_use(size_t i, const struct sesame_ledger_use *u)
{
	char local[64];

	cli_time_local(u->time, local, sizeof(local));
	printf("use %zu:    %s on %s, service %s, rhost %s, ruser %s, tty %s\n", i + 1, local,
	       u->host[0] ? u->host : "?", u->service[0] ? u->service : "-",
	       u->rhost[0] ? u->rhost : "-", u->ruser[0] ? u->ruser : "-",
	       u->tty[0] ? u->tty : "-");
}

static void print_minted(const struct sesame_issue *is)
{
	char local[64];

	printf("account:  %s (uid %u)\n", is->account, (unsigned)is->uid);
	cli_time_local(is->issued, local, sizeof(local));
	printf("minted:   %s on %s by %s", local, is->host, is->issuer);
	if (is->claimed[0])
		printf(" (SUDO_USER claims %s)", is->claimed);
	printf(", %s%s%s\n", is->channel, is->rhost[0] ? ", requested from " : "", is->rhost);
	cli_time_local(is->expires, local, sizeof(local));
	printf("expires:  %s\n", local);
	if (is->uses == 0)
		printf("uses:     any number (uses are not recorded: see the log)\n");
	else
		printf("uses:     %u allowed\n", is->uses);
	printf("scope:    %s\nkey:      %u\n", is->scope, is->key_id);
	if (is->note[0])
		printf("note:     %s\n", is->note);
}

/* A mailed link's record in the fleet's store: any verifying host may
 * have written it, so its account is what it claims. */
static void print_claimed(const struct sesame_history *h)
{
	printf("record:   a mailed link's, which verifying hosts write: its account is a "
	       "claim");
	for (size_t i = 0; i < h->n_use_uids; i++)
		printf("%s%u", i ? ", " : "; uses counted under uid ", (unsigned)h->use_uids[i]);
	printf("\n");
}

static void print_history(const struct sesame_history *h, const uint8_t *id, int64_t now)
{
	char idt[SESAME_ID_TEXT_SIZE], local[64];

	id_text(id, idt);
	printf("id:       %s\n", idt);
	if (h->have_issue)
		print_minted(&h->issue);
	if (h->issue_claimed)
		print_claimed(h);
	if (!h->have_issue)
		printf("minted:   not in this host's ledger (minted on another host with a shared "
		       "key, before the ledger, or dropped by gc)\n");
	for (size_t i = 0; i < h->n_uses; i++)
		print_use(i, &h->uses[i]);
	if (h->uses_read == SESAME_USES_NONE)
		printf("uses:     could not be read (see the warning)\n");
	else if (h->uses_read == SESAME_USES_COUNTS)
		printf("uses:     %u counted; their records could not be read (see the warning)\n",
		       h->used);
	else if (h->used > h->n_uses)
		printf("uses:     %zu counted without details (sesame 0.1)\n",
		       (size_t)h->used - h->n_uses);
	if (h->have_issue && h->issue.uses == 0)
		printf("log:      journalctl SESAME_TOKEN_ID=%s, or the auth log's "
		       "\"sesame: ... id=%s\" lines\n", idt, idt);
	if (h->revoked) {
		if (h->revoked_at >= 0)
			cli_time_local(h->revoked_at, local, sizeof(local));
		printf("revoked:  %s\n", h->revoked_at >= 0 ? local : "yes");
	}
	if (h->user_revoked)
		printf("revoked:  with every token of its account (--revoke-user)\n");
	if (h->have_issue)
		printf("state:    %s\n", state_of(h, now));
}

int cli_history(const struct cli_options *o)
{
	struct sesame_config cfg;
	struct sesame_store st;
	struct sesame_err err = {{0}};
	struct sesame_history h;
	uint8_t id[SESAME_ID_BYTES];
	int64_t now = (int64_t)time(NULL);
	int by_id, rc = EXIT_ERROR;

	memset(&h, 0, sizeof(h));
	st.ops = NULL;
	if (cli_load_config(o, &cfg) != 0)
		return EXIT_ERROR;
	if (cli_operand_id(o->history, &cfg, id, &by_id) != 0) {
		cli_error("--history: expected a 12-hex-digit id, a token or a link");
		return EXIT_ERROR;
	}
	if (sesame_store_open(&st, &cfg, 0, &err) != 0 ||
	    sesame_store_history(&st, id, &h, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	warn_skipped(&st);
	if (o->json)
		rc = cli_print_json(json_history(&h, id, now)) == 0 ? EXIT_OK : EXIT_ERROR;
	else {
		print_history(&h, id, now);
		rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
	}
	if (rc == EXIT_OK && !h.have_issue && h.used == 0 && !h.revoked &&
	    h.uses_read != SESAME_USES_NONE)
		rc = EXIT_REJECTED; /* nothing known of that id here */
out:
	sesame_history_clear(&h);
	sesame_store_close(&st);
	return rc;
}

/* Revoke token id of uid, expiring as a token issued at issued with
 * that lifetime would. */
static int revoke_as(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES], uint32_t uid,
		     int64_t issued, int64_t lifetime, struct sesame_err *err)
{
	struct sesame_token t;

	memset(&t, 0, sizeof(t));
	memcpy(t.id, id, SESAME_ID_BYTES);
	t.uid = uid;
	t.issued = (uint32_t)issued;
	t.lifetime = (uint32_t)lifetime;
	return sesame_store_revoke(st, &t, (int64_t)time(NULL), err);
}

/* The most accounts --revoke ID revokes an id under. */
#define CLAIMED_UIDS_MAX 16

/* An id whose only records are ones verifying hosts write (etcd: a mailed
 * link's record in mailed/, its uses in uses/): whose token it is, and
 * when it expires, are claims a compromised host could forge or delete.
 * Revoke it under every uid they name (revoking an id under a uid that
 * never had it ends nothing else), for the longest lifetime any token has,
 * and say how to be sure. */
static int revoke_claimed(struct sesame_store *st, const struct sesame_history *h,
			  const uint8_t id[SESAME_ID_BYTES], const char *idt)
{
	struct sesame_err err = {{0}};
	int64_t now = (int64_t)time(NULL);
	char uids[256] = "";
	size_t n = h->n_use_uids, used = 0;
	int record_uid = 1; /* the record's uid is not among the uses' */

	if (h->uses_read == SESAME_USES_NONE) {
		cli_error("id %s is a link a host mailed, and its uses (the accounts they were "
			  "counted under) could not be read: nothing revoked; revoke the link itself "
			  "(--revoke LINK) or every token of the account (--revoke-user USER)", idt);
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < n; i++)
		record_uid = record_uid && h->use_uids[i] != h->issue.uid;
	/* a verifier could name any number: no revocation per forged key */
	if (n + (size_t)record_uid > CLAIMED_UIDS_MAX) {
		cli_error("id %s is a link a host mailed, and its records (written by verifying "
			  "hosts) name %zu accounts: nothing revoked; revoke the link itself "
			  "(--revoke LINK) or every token of the account (--revoke-user USER)", idt,
			  n + (size_t)record_uid);
		return EXIT_REJECTED;
	}
	for (size_t i = 0; i < n + (size_t)record_uid; i++) {
		uint32_t uid = i < n ? h->use_uids[i] : h->issue.uid;
		if (revoke_as(st, id, uid, now, SESAME_MAX_LIFETIME, &err) != 0) {
			cli_error("%s", err.msg);
			return EXIT_ERROR;
		}
		if (used < sizeof(uids))
			used += (size_t)snprintf(uids + used, sizeof(uids) - used, "%s%u",
						 used ? ", " : "", (unsigned)uid);
	}
	fprintf(stderr, "revoked token %s for uid %s%s\n", idt, uids,
		used >= sizeof(uids) ? "..." : "");
	fprintf(stderr, "sesame-mint: warning: %s is a link a host mailed: its record (mailed/) "
		"and its uses (uses/) are written by verifying hosts, which could forge or delete "
		"them, so the uids revoked are what they claim. To be sure, revoke the link itself "
		"(--revoke LINK) or every token of the account (--revoke-user USER)\n", idt);
	return EXIT_OK;
}

int cli_revoke_id(const struct sesame_config *cfg, const uint8_t id[SESAME_ID_BYTES])
{
	struct sesame_store st;
	struct sesame_err err = {{0}};
	struct sesame_history h;
	char idt[SESAME_ID_TEXT_SIZE];
	int rc = EXIT_ERROR;

	memset(&h, 0, sizeof(h));
	id_text(id, idt);
	if (sesame_store_open(&st, cfg, 1, &err) != 0 ||
	    sesame_store_history(&st, id, &h, &err) != 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	warn_skipped(&st);
	if (h.have_issue && !h.issue_claimed) {
		/* an issuer's record: its uid and expiry alone */
		if (revoke_as(&st, id, h.issue.uid, h.issue.issued,
			      h.issue.expires - h.issue.issued, &err) != 0) {
			cli_error("%s", err.msg);
			goto out;
		}
		fprintf(stderr, "revoked token %s of %s\n", idt, h.issue.account);
		rc = EXIT_OK;
	} else if (h.have_issue) {
		rc = revoke_claimed(&st, &h, id, idt);
	} else {
		cli_error("id %s is not in this host's ledger (minted elsewhere, before the "
			  "ledger, or dropped by gc): nothing revoked; revoke it by its TOKEN "
			  "or LINK", idt);
		rc = EXIT_REJECTED;
	}
out:
	sesame_history_clear(&h);
	sesame_store_close(&st);
	return rc;
}
