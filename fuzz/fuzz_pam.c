/* The PAM entry point: real libpam, the built pam_sesame.so, and a
 * conversation that answers with the fuzzed bytes.
 *
 * Input: byte 0 picks the service (its stack and module arguments, see
 * services[]) and, with bit 7 set, takes the last reply as PAM_RHOST.
 * The rest, split on NUL, is the conversation's replies in order; when
 * they run out the conversation fails. In a reply, "@TOKEN@" becomes a
 * token minted now (any number of uses) and "@TOKEN1@" a one-use token,
 * so the fuzzer reaches the success and store paths and can mangle real
 * tokens around them.
 *
 * Set up once (LLVMFuzzerInitialize), in a scratch directory: a key file
 * with a fixed key, a config (bind_password = no, so no shadow entry is
 * needed; allow_root = yes, since the account is the effective user,
 * root in CI), a store, service files naming the module by absolute path
 * (pam_start_confdir: nothing in /etc is read), and a password file for
 * the pam_unix stand-in. The user is looked up by uid: no network NSS.
 *
 * Invariants:
 * - PAM_SUCCESS only for a reply holding a genuine token (one minted now,
 *   or one whose tag checks out against the spec, computed here apart
 *   from common/verify.c: the fuzzer may learn and replay an earlier
 *   one) or, on the stand-in stacks, the stand-in's password;
 * - only the return codes the module documents;
 * - no log line (pam_syslog is caught here, nothing reaches syslog)
 *   holds a minted token, the key in hex, or the stand-in's password;
 * - no leak per iteration (libFuzzer's leak check).
 *
 * fuzz_pam_faults is this harness built with FUZZ_PAM_FAULTS, on a copy
 * of the module whose allocations and file-system calls can be made to
 * fail (fuzz/wrap.c, fuzz_faults.h). Its input has two more bytes after
 * byte 0: the plan, little-endian, bits 0-14 the number of the wrapped
 * call that fails (0: none), bit 15 "and every later one". One more
 * invariant: no injected failure yields PAM_SUCCESS (nor a leak, a crash
 * or an undocumented code, as ever).
 *
 * Reproducible: the same inputs in the same order give the same results
 * and coverage. The clock is fixed (time() is defined here and exported,
 * so the module's calls land here too), and minted token ids count up
 * from 1 instead of coming from RAND_bytes.
 *
 * FUZZ_PAM_VERBOSE=1 prints each result and log line to stderr. */

/* syslog and vsyslog are defined below to catch the module's log lines;
 * with _FORTIFY_SOURCE (any build that optimises) <syslog.h> makes them a
 * macro and an inline wrapper that such a definition would clash with. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <security/pam_appl.h>

#include "fuzz_faults.h"
#include "fuzz_util.h"
#include "keys.h"
#include "token.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_REPLIES 4
#define PASSWORD "Fuzz-Password-7f3a9c"
/* A fixed key: the fuzzer can never forge a tag, whatever it learns. */
#define KEY_HEX "5e5a3e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
/* The clock of every run: 2026-01-01 00:00:00 UTC. */
#define FUZZ_NOW ((time_t)1767225600)

struct service {
	const char *name;
	int standin;  /* stack starts with the pam_unix stand-in */
	int no_user;  /* pam_start without a user (kiosk) */
	const char *args;
};

static const struct service services[] = {
	{"plain", 0, 0, ""},
	{"debug", 0, 0, "debug"},
	{"first", 1, 0, "debug use_first_pass"},
	{"try", 1, 0, "try_first_pass"},
	{"kiosk", 0, 1, "user_from_token debug [prompt=Scan: ]"},
	{"param", 0, 0, "param=t max_age_limit=1h"},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

static char confdir[4200];
static int verbose; /* FUZZ_PAM_VERBOSE=1: one line per input */
static char user[256];
static struct sesame_keyring keyring;
static struct sesame_account account;

#ifdef FUZZ_PAM_FAULTS
#define PLAN_BYTES 2
#else
#define PLAN_BYTES 0
#endif
/* The module's failure plan (fuzz_pam_faults only). */
static struct fuzz_faults *faults;

/* Ids of minted tokens: a counter, so runs repeat exactly. */
static uint64_t next_id = 1;

/* This iteration's minted tokens, for the log check. */
static char minted[2][SESAME_TOKEN_TEXT_SIZE];
static int minted_used[2];
/* PAM_RHOST comes from the client and is logged by design: a secret the
 * fuzzer learned and put there is no leak. */
static const char *rhost_now;

static void write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fuzz_write_file(path, text, strlen(text), mode);
}

static void write_services(const char *dir)
{
	char standin[4600], line[9300];

	snprintf(confdir, sizeof(confdir), "%s/pam.d", dir);
	if (mkdir(confdir, 0755) != 0)
		abort();
	for (size_t i = 0; i < N_SERVICES; i++) {
		const struct service *s = &services[i];
		standin[0] = '\0';
		if (s->standin)
			snprintf(standin, sizeof(standin), "auth sufficient %s passdb=%s/passdb\n",
				 FUZZ_PAM_STANDIN, dir);
		snprintf(line, sizeof(line), "%sauth required %s conf=%s/sesame.conf %s\n", standin,
			 FUZZ_PAM_MODULE, dir, s->args);
		write_text(confdir, s->name, line, 0644);
	}
	write_text(confdir, "other", "auth required pam_deny.so\n", 0644);
}

static void find_account(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw == NULL || strlen(pw->pw_name) >= sizeof(user)) {
		fprintf(stderr, "fuzz_pam: the effective uid has no passwd entry\n");
		abort();
	}
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	memset(&account, 0, sizeof(account));
	snprintf(account.name, sizeof(account.name), "%s", pw->pw_name);
	account.uid = (uint32_t)pw->pw_uid;
	account.gid = (uint32_t)pw->pw_gid;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch_dir("pam");
	struct sesame_err err = {""};
	char conf[8192], path[4400];
	void *module;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_PAM_VERBOSE") != NULL;
	find_account();
	write_text(dir, "sesame.key", "1 " KEY_HEX "\n", 0600);
	snprintf(path, sizeof(path), "%s/state", dir);
	if (mkdir(path, 0700) != 0)
		abort();
	snprintf(conf, sizeof(conf),
		 "key_file = %s/sesame.key\nstate_dir = %s/state\nbind_password = no\n"
		 "allow_root = yes\nmax_age_limit = 1d\n", dir, dir);
	write_text(dir, "sesame.conf", conf, 0644);
	snprintf(conf, sizeof(conf), "%s:" PASSWORD "\n", user);
	write_text(dir, "passdb", conf, 0600);
	write_services(dir);
	snprintf(path, sizeof(path), "%s/sesame.key", dir);
	if (sesame_keyring_load(&keyring, path, &err) != 0) {
		fprintf(stderr, "fuzz_pam: %s\n", err.msg);
		abort();
	}
	/* libpam dlopens and dlcloses modules per handle. Holding them open
	 * keeps their coverage counters mapped between iterations. */
	module = dlopen(FUZZ_PAM_MODULE, RTLD_NOW | RTLD_NODELETE);
	if (module == NULL || dlopen(FUZZ_PAM_STANDIN, RTLD_NOW | RTLD_NODELETE) == NULL) {
		fprintf(stderr, "fuzz_pam: %s\n", dlerror());
		abort();
	}
	if (PLAN_BYTES > 0 && (faults = dlsym(module, "fuzz_faults")) == NULL) {
		fprintf(stderr, "fuzz_pam: %s has no fuzz_faults\n", FUZZ_PAM_MODULE);
		abort();
	}
	return 0;
}

/* ---- the clock: fixed, for the module as for the tokens minted here ---- */

time_t time(time_t *t)
{
	if (t != NULL)
		*t = FUZZ_NOW;
	return FUZZ_NOW;
}

/* ---- log lines: caught before they reach syslog, and checked ---- */

/* Fail when a log line holds the secret (not counting a copy of it the
 * fuzzer put in PAM_RHOST itself). */
static void check_secret(const char *line, const char *secret, size_t len, const char *what)
{
	if (rhost_now != NULL && fuzz_contains(rhost_now, strlen(rhost_now), secret, len))
		return;
	if (fuzz_contains(line, strlen(line), secret, len))
		fuzz_fail(what, line);
}

static void check_log_line(const char *line)
{
	static const char key_hex[] = KEY_HEX;

	for (int i = 0; i < 2; i++)
		if (minted_used[i])
			check_secret(line, minted[i] + SESAME_TOKEN_PREFIX_LEN,
				     SESAME_TOKEN_TEXT_LEN - SESAME_TOKEN_PREFIX_LEN,
				     "a log line holds a token");
	for (size_t i = 0; i + 16 <= sizeof(key_hex) - 1; i += 16)
		check_secret(line, &key_hex[i], 16, "a log line holds the key");
	check_secret(line, PASSWORD, strlen(PASSWORD), "a log line holds the password");
}

void vsyslog(int priority, const char *fmt, va_list ap);
void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

void vsyslog(int priority, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	check_log_line(line);
	if (verbose)
		fprintf(stderr, "fuzz_pam: log %d: %s\n", priority & LOG_PRIMASK, line);
}

void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(priority, fmt, ap);
}

/* libpam's pam_vsyslog formats the message itself and hands it on with
 * syslog("%s"), fortified as __syslog_chk. */
void syslog(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
}

/* ---- the conversation ---- */

struct replies {
	const char *text[MAX_REPLIES];
	size_t len[MAX_REPLIES];
	int count;
	int next;
	int genuine; /* a reply held a minted token or the password */
};

/* Is this reply a genuine token: does it carry the tag the spec
 * (docs/token-format.md) gives for this host's key and account, computed
 * here independently of common/verify.c? Our tokens are unscoped and not
 * bound to a password, so the tag input ends with three absent parts
 * (ff ff each). A token stays valid after the iteration that minted it,
 * and the fuzzer can learn one and replay it later (even in a new
 * process, within its 10 minutes): genuine, not a forgery. */
static int genuine_token(const char *text, size_t len)
{
	static const char *const params[] = {"sesame", "t"};
	static const uint8_t absent[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t msg[128], bytes[SESAME_TOKEN_BYTES], mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	size_t name_len = strlen(account.name), n = 0;
	struct sesame_token t;

	for (size_t p = 0; p < 2; p++) {
		if (sesame_token_parse(text, strnlen(text, len), params[p], &t) != 0 ||
		    t.flags != 0 || t.key_id != 1 || name_len > 64)
			continue;
		sesame_token_to_bytes(&t, bytes);
		n = 0;
		memcpy(msg + n, "sesame/v1/tag", 13);
		n += 13;
		memcpy(msg + n, bytes, SESAME_SIGNED_BYTES);
		n += SESAME_SIGNED_BYTES;
		msg[n++] = (uint8_t)name_len;
		memcpy(msg + n, account.name, name_len);
		n += name_len;
		memcpy(msg + n, absent, sizeof(absent));
		n += sizeof(absent);
		if (HMAC(EVP_sha256(), keyring.keys[0].key, SESAME_KEY_BYTES, msg, n, mac,
			 &mac_len) == NULL)
			abort();
		if (CRYPTO_memcmp(mac, t.tag, SESAME_TAG_BYTES) == 0)
			return 1;
	}
	return 0;
}

static const char *mint_now(int which)
{
	struct sesame_mint_request req = {(int64_t)FUZZ_NOW, 600, which == 0 ? 0u : 1u,
					  NULL, NULL, NULL};
	uint8_t id[SESAME_ID_BYTES] = {0};
	struct sesame_token t;

	for (size_t i = 0; i < sizeof(id) && i < sizeof(next_id); i++)
		id[i] = (uint8_t)(next_id >> (8 * i));
	next_id++;
	if (sesame_mint_with_id(sesame_keyring_signer(&keyring), &account, 0, &req, id, &t) !=
	    SESAME_OK)
		abort();
	sesame_token_format(&t, minted[which]);
	minted_used[which] = 1;
	return minted[which];
}

/* Does the marker start at text[i] (text is not NUL-terminated)? */
static int at(const char *text, size_t len, size_t i, const char *marker)
{
	size_t n = strlen(marker);

	return len - i >= n && memcmp(text + i, marker, n) == 0;
}

/* The reply with each marker replaced by a fresh token. */
static char *expand(const char *text, size_t len, int *genuine)
{
	static const char *const markers[] = {"@TOKEN@", "@TOKEN1@"};
	size_t cap = len + 1, o = 0;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		int m = at(text, len, i, markers[1]) ? 1 : at(text, len, i, markers[0]) ? 0 : -1;
		const char *add = m < 0 ? text + i : mint_now(m);
		size_t add_len = m < 0 ? 1 : SESAME_TOKEN_TEXT_LEN;
		if (o + add_len + 1 > cap) {
			char *bigger = realloc(out, cap * 2 + add_len);
			if (bigger == NULL) {
				free(out);
				return NULL;
			}
			out = bigger;
			cap = cap * 2 + add_len;
		}
		memcpy(out + o, add, add_len);
		o += add_len;
		i += m < 0 ? 1 : strlen(markers[m]);
		*genuine |= m >= 0;
	}
	out[o] = '\0';
	if (strstr(out, PASSWORD) != NULL)
		*genuine = 1;
	return out;
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct replies *r = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (out == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int style = msg[i]->msg_style;
		if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON)
			continue;
		if (r->next >= r->count ||
		    (out[i].resp = expand(r->text[r->next], r->len[r->next], &r->genuine)) == NULL) {
			for (int j = 0; j < n; j++)
				free(out[j].resp);
			free(out);
			return PAM_CONV_ERR;
		}
		r->next++;
	}
	*resp = out;
	return PAM_SUCCESS;
}

static void split_replies(const uint8_t *data, size_t size, struct replies *r)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (size == 0)
		return; /* no reply at all: the conversation fails */
	while (i <= size && r->count < MAX_REPLIES) {
		const uint8_t *nul = memchr(data + i, '\0', size - i);
		size_t end = nul != NULL ? (size_t)(nul - data) : size;
		r->text[r->count] = (const char *)data + i;
		r->len[r->count++] = end - i;
		i = end + 1;
	}
}

static int documented_code(int rc)
{
	return rc == PAM_SUCCESS || rc == PAM_AUTH_ERR || rc == PAM_AUTHINFO_UNAVAIL ||
	       rc == PAM_SERVICE_ERR || rc == PAM_USER_UNKNOWN || rc == PAM_CONV_ERR ||
	       rc == PAM_BUF_ERR;
}

/* Arm the plan read from the input (fuzz_pam_faults), just for the
 * module's own work in pam_authenticate. */
static void arm_faults(const uint8_t *plan)
{
	unsigned v = PLAN_BYTES > 0 ? (unsigned)plan[0] | (unsigned)plan[1] << 8 : 0;

	if (faults == NULL)
		return;
	memset(faults, 0, sizeof(*faults));
	faults->fail_at = v & 0x7fffu;
	faults->persistent = (v & 0x8000u) != 0;
}

static void check_faults(int rc, const char *service)
{
	char what[200];

	if (faults == NULL)
		return;
	faults->fail_at = 0;
	if (verbose && faults->injected > 0)
		fprintf(stderr, "fuzz_pam: %u failure(s) injected, the first in %s\n",
			faults->injected, faults->first);
	if (rc == PAM_SUCCESS && faults->injected > 0) {
		snprintf(what, sizeof(what), "service %s, %u failure(s), the first in %s()", service,
			 faults->injected, faults->first);
		fuzz_fail("PAM_SUCCESS although a failure was injected", what);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct service *s;
	struct replies replies;
	struct pam_conv pc = {conv, &replies};
	pam_handle_t *pamh = NULL;
	char *rhost = NULL;
	int rc;

	if (size < 1 + PLAN_BYTES)
		return 0;
	s = &services[data[0] % N_SERVICES];
	split_replies(data + 1 + PLAN_BYTES, size - 1 - PLAN_BYTES, &replies);
	if ((data[0] & 0x80) && replies.count > 1)
		rhost = strndup(replies.text[replies.count - 1], replies.len[--replies.count]);
	minted_used[0] = minted_used[1] = 0;
	rhost_now = rhost;
	if (pam_start_confdir(s->name, s->no_user ? NULL : user, &pc, confdir, &pamh) != PAM_SUCCESS)
		abort();
	if (rhost != NULL)
		pam_set_item(pamh, PAM_RHOST, rhost);
	arm_faults(data + 1);
	rc = pam_authenticate(pamh, 0);
	check_faults(rc, s->name);
	if (!documented_code(rc)) {
		char code[32];
		snprintf(code, sizeof(code), "rc=%d", rc);
		fuzz_fail("pam_authenticate returned an undocumented code", code);
	}
	if (verbose)
		fprintf(stderr, "fuzz_pam: service=%s replies=%d rc=%d (%s)\n", s->name,
			replies.count, rc, pam_strerror(pamh, rc));
	for (int i = 0; rc == PAM_SUCCESS && !replies.genuine && i < replies.count; i++)
		replies.genuine = genuine_token(replies.text[i], replies.len[i]);
	if (rc == PAM_SUCCESS && !replies.genuine)
		fuzz_fail("PAM_SUCCESS without a genuine token or password", s->name);
	pam_end(pamh, rc);
	rhost_now = NULL;
	free(rhost);
	return 0;
}
