/* The fleet store's costs, one part at a time, against the cluster that
 * tests/bench/fleet.sh starts. Times in ms; prints "key=value" fields.
 *
 *   bench-fleet floor SETTINGS CONFDIR ROUNDS
 *       pam_permit (pam_start_confdir .. pam_authenticate .. pam_end)
 *       plus one compare-and-put transaction from a minimal client that
 *       holds an auth token and connects afresh (fleet_client.c): the
 *       floor of a one-time login through etcd. Also TCP connect and TLS
 *       handshake of each fresh connection on their own.
 *   bench-fleet auth SETTINGS ROUNDS
 *       /v3/auth/authenticate alone, on a kept connection.
 *   bench-fleet session SETTINGS STATE_DIR ROUNDS helper|daemon|in-process
 *       sesame's client: open, count a use, close, as a login's store
 *       does, through a sesame-etcd helper started per session, through
 *       `sesame-etcd --serve` (SETTINGS name etcd_helper_socket; its CPU
 *       is not ours to count), or in this process; wall and CPU (this
 *       process and its helpers).
 *   bench-fleet spawn SETTINGS STATE_DIR ROUNDS
 *       start and end the helper, no request: its process cost alone.
 *   bench-fleet fill SETTINGS STATE_DIR KEYPREFIX N SIZE
 *       N records of SIZE bytes under KEYPREFIX, 100 to a transaction,
 *       on a lease of two hours (the "after many records" state).
 *
 * SETTINGS holds etcd_* settings as "key=value" lines
 * (sesame_etcd_config_parse). Any failed round makes the run invalid
 * (exit 1): a benchmark that counts failures as fast logins lies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "benchutil.h"
#include "etcd.h"
#include "etcd_http.h"
#include "fleet_client.h"

#define FILL_BATCH 100

static struct sesame_etcd_config cfg;

static int load_settings(const char *path)
{
	struct sesame_err err;
	char text[16384];
	size_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (sesame_etcd_config_parse(&cfg, text, &err) != 0 ||
	    sesame_etcd_config_validate(&cfg, &err) != 0) {
		fprintf(stderr, "bench-fleet: %s: %s\n", path, err.msg);
		return -1;
	}
	return 0;
}

/* name_p50=.. name_p90=.. name_p99=.. (ms), sorting the samples. */
static void print_quantiles(const char *name, double *ms, size_t n)
{
	printf(" %s_mean=%.3f", name, bench_mean(ms, n));
	printf(" %s_p50=%.3f", name, bench_quantile(ms, n, 0.50));
	printf(" %s_p90=%.3f", name, bench_quantile(ms, n, 0.90));
	printf(" %s_p99=%.3f", name, bench_quantile(ms, n, 0.99));
}

static int no_prompts(int n, const struct pam_message **msg, struct pam_response **resp,
		      void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

static int permit_once(const char *confdir)
{
	struct pam_conv pc = { no_prompts, NULL };
	pam_handle_t *pamh = NULL;
	int rc = pam_start_confdir("permit", "alice", &pc, confdir, &pamh);

	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	return rc;
}

/* Per-round samples of up to five figures, printed by name. */
struct samples {
	double *v[5];
	const char *name[5];
	size_t kinds;
	long rounds;
};

/* names: NULL-terminated. 0, or -1 out of memory. */
static int samples_alloc(struct samples *s, long rounds, const char *const *names)
{
	memset(s, 0, sizeof(*s));
	s->rounds = rounds;
	for (; s->kinds < 5 && names[s->kinds] != NULL; s->kinds++) {
		s->name[s->kinds] = names[s->kinds];
		if ((s->v[s->kinds] = calloc((size_t)rounds, sizeof(double))) == NULL)
			return -1;
	}
	return 0;
}

/* " NAME_mean=.. NAME_p50=.. ..." for each figure, then the line's end. */
static void samples_print(struct samples *s)
{
	for (size_t k = 0; k < s->kinds; k++)
		print_quantiles(s->name[k], s->v[k], (size_t)s->rounds);
	printf("\n");
}

static void samples_free(struct samples *s)
{
	for (size_t k = 0; k < s->kinds; k++)
		free(s->v[k]);
}

static int cmd_floor(const char *confdir, long rounds)
{
	struct fleet_client *c = fleet_client_new(&cfg);
	struct fleet_timing auth, t;
	struct samples s = {{NULL}, {NULL}, 0, 0};
	static const char *const names[] = {"floor", "permit", "txn", "connect", "tls", NULL};
	char id[64];
	int r = 1;

	if (c == NULL || samples_alloc(&s, rounds, names) != 0 ||
	    fleet_client_authenticate(c, &auth) != 0)
		goto out;
	for (long i = 0; i < rounds; i++) {
		double t0 = bench_wall(), t1;
		int rc = permit_once(confdir);

		t1 = bench_wall();
		snprintf(id, sizeof(id), "floor-%ld-%ld", (long)getpid(), i);
		if (rc != PAM_SUCCESS || fleet_client_txn(c, id, &t) != 0) {
			fprintf(stderr, "bench-fleet: floor round %ld failed\n", i);
			goto out;
		}
		s.v[0][i] = (bench_wall() - t0) * 1e3;
		s.v[1][i] = (t1 - t0) * 1e3;
		s.v[2][i] = t.total_ms;
		s.v[3][i] = t.connect_ms;
		s.v[4][i] = t.tls_ms;
	}
	printf("rounds=%ld", rounds);
	samples_print(&s);
	r = 0;
out:
	samples_free(&s);
	fleet_client_free(c);
	return r;
}

static int cmd_auth(long rounds)
{
	struct fleet_client *c = fleet_client_new(&cfg);
	struct fleet_timing t;
	struct samples s = {{NULL}, {NULL}, 0, 0};
	static const char *const names[] = {"auth", NULL};
	int r = 1;

	/* The first request also connects: not timed. */
	if (c == NULL || samples_alloc(&s, rounds, names) != 0 ||
	    fleet_client_authenticate(c, &t) != 0)
		goto out;
	for (long i = 0; i < rounds; i++) {
		if (fleet_client_authenticate(c, &t) != 0)
			goto out;
		s.v[0][i] = t.total_ms;
	}
	printf("rounds=%ld", rounds);
	samples_print(&s);
	r = 0;
out:
	samples_free(&s);
	fleet_client_free(c);
	return r;
}

/* A session as the store opens one: through the helper, or libcurl here
 * (then *http is the transport's context, for its timings). */
static int open_session(struct sesame_etcd **s, const char *state_dir, int in_process,
			void **http, struct sesame_err *err)
{
	struct sesame_etcd_transport t;

	*http = NULL;
	if (!in_process)
		return sesame_etcd_open(s, &cfg, state_dir, err);
	if (sesame_etcd_http_open(&cfg, state_dir, &t, err) != 0)
		return -1;
	*http = t.ctx;
	return sesame_etcd_open_transport(s, &t, cfg.prefix, err);
}

static int count_once(struct sesame_etcd *s, long i, struct sesame_err *err)
{
	char key[256], revoked[256], revoked_user[256];
	const char *absent[] = {revoked, revoked_user};
	struct sesame_etcd_use use;

	snprintf(key, sizeof(key), "%suses/session-%ld-%ld", cfg.prefix, (long)getpid(), i);
	snprintf(revoked, sizeof(revoked), "%srevoked/session-%ld-%ld", cfg.prefix,
		 (long)getpid(), i);
	snprintf(revoked_user, sizeof(revoked_user), "%srevoked-users/1501", cfg.prefix);
	if (sesame_etcd_count_use(s, key, "use", 3, 1, 0, absent, 2, &use, err) != 0)
		return -1;
	return use.counted ? 0 : -1;
}

static int cmd_session(const char *state_dir, long rounds, int in_process)
{
	struct sesame_etcd_http_timing timing;
	struct samples s = {{NULL}, {NULL}, 0, 0};
	struct sesame_err err;
	double cpu0 = bench_cpu_with_children();
	static const char *const through_helper[] = {"session", NULL};
	static const char *const here[] = {"session", "connect", "tls", NULL};
	int r = 1, authenticated = 0;

	if (samples_alloc(&s, rounds, in_process ? here : through_helper) != 0)
		goto out;
	for (long i = 0; i < rounds; i++) {
		struct sesame_etcd *e = NULL;
		double t0 = bench_wall();
		void *http;

		if (open_session(&e, state_dir, in_process, &http, &err) != 0 ||
		    count_once(e, i, &err) != 0) {
			fprintf(stderr, "bench-fleet: session %ld: %s\n", i, err.msg);
			sesame_etcd_close(e);
			goto out;
		}
		if (http != NULL) {
			sesame_etcd_http_timing(http, &timing);
			s.v[1][i] = timing.connect_ms;
			s.v[2][i] = timing.tls_ms;
			authenticated += timing.authenticate_ms > 0;
		}
		sesame_etcd_close(e);
		s.v[0][i] = (bench_wall() - t0) * 1e3;
	}
	printf("rounds=%ld authenticated=%d cpu_ms=%.3f", rounds, authenticated,
	       (bench_cpu_with_children() - cpu0) * 1e3 / (double)rounds);
	samples_print(&s);
	r = 0;
out:
	samples_free(&s);
	return r;
}

static int cmd_spawn(const char *state_dir, long rounds)
{
	struct samples s = {{NULL}, {NULL}, 0, 0};
	struct sesame_err err;
	double cpu0 = bench_cpu_with_children();
	static const char *const names[] = {"spawn", NULL};
	int r = 1;

	if (samples_alloc(&s, rounds, names) != 0)
		goto out;
	for (long i = 0; i < rounds; i++) {
		struct sesame_etcd *e = NULL;
		double t0 = bench_wall();

		if (sesame_etcd_open(&e, &cfg, state_dir, &err) != 0) {
			fprintf(stderr, "bench-fleet: spawn %ld: %s\n", i, err.msg);
			goto out;
		}
		sesame_etcd_close(e);
		s.v[0][i] = (bench_wall() - t0) * 1e3;
	}
	printf("rounds=%ld cpu_ms=%.3f", rounds,
	       (bench_cpu_with_children() - cpu0) * 1e3 / (double)rounds);
	samples_print(&s);
	r = 0;
out:
	samples_free(&s);
	return r;
}

/* One transaction of up to FILL_BATCH puts. */
static int fill_batch(struct sesame_etcd *e, const char *prefix, long from, long n,
		      const char *value, size_t size, int64_t lease, struct sesame_err *err)
{
	struct sesame_etcd_op ops[FILL_BATCH];
	struct sesame_etcd_txn_result res;
	char keys[FILL_BATCH][128];
	struct sesame_etcd_txn txn = {NULL, 0, ops, (size_t)n, NULL, 0};
	int r;

	for (long i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%sfill-%08ld", prefix, from + i);
		ops[i] = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = keys[i],
						 .value = value, .value_len = size, .lease = lease};
	}
	r = sesame_etcd_txn(e, &txn, &res, err);
	if (r == 0)
		sesame_etcd_txn_result_free(&res);
	return r;
}

static int cmd_fill(const char *state_dir, const char *prefix, long n, size_t size)
{
	struct sesame_etcd *e = NULL;
	struct sesame_err err;
	char *value = malloc(size + 1);
	int64_t lease = 0;
	void *http;
	int r = 1;

	if (value == NULL)
		return 1;
	memset(value, 'u', size);
	value[size] = '\0';
	if (open_session(&e, state_dir, 1, &http, &err) != 0 ||
	    sesame_etcd_lease_grant(e, 7200, &lease, &err) != 0)
		goto out;
	for (long from = 0; from < n; from += FILL_BATCH)
		if (fill_batch(e, prefix, from, n - from < FILL_BATCH ? n - from : FILL_BATCH, value,
			       size, lease, &err) != 0)
			goto out;
	printf("filled=%ld\n", n);
	r = 0;
out:
	if (r != 0)
		fprintf(stderr, "bench-fleet: fill: %s\n", err.msg);
	sesame_etcd_close(e);
	free(value);
	return r;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-fleet floor SETTINGS CONFDIR ROUNDS\n"
			"       bench-fleet auth SETTINGS ROUNDS\n"
			"       bench-fleet session SETTINGS STATE_DIR ROUNDS "
			"helper|daemon|in-process\n"
			"       bench-fleet spawn SETTINGS STATE_DIR ROUNDS\n"
			"       bench-fleet fill SETTINGS STATE_DIR KEYPREFIX N SIZE\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "";

	if (argc < 4 || load_settings(argv[2]) != 0)
		return usage();
	if (!strcmp(mode, "floor") && argc == 5 && atol(argv[4]) > 0)
		return cmd_floor(argv[3], atol(argv[4]));
	if (!strcmp(mode, "auth") && argc == 4 && atol(argv[3]) > 0)
		return cmd_auth(atol(argv[3]));
	if (!strcmp(mode, "session") && argc == 6 && atol(argv[4]) > 0 &&
	    (!strcmp(argv[5], "helper") || !strcmp(argv[5], "in-process") ||
	     (!strcmp(argv[5], "daemon") && cfg.helper_socket[0] != '\0')))
		return cmd_session(argv[3], atol(argv[4]), !strcmp(argv[5], "in-process"));
	if (!strcmp(mode, "spawn") && argc == 5 && atol(argv[4]) > 0)
		return cmd_spawn(argv[3], atol(argv[4]));
	if (!strcmp(mode, "fill") && argc == 7 && atol(argv[5]) > 0 && atol(argv[6]) > 0)
		return cmd_fill(argv[3], argv[4], atol(argv[5]), (size_t)atol(argv[6]));
	return usage();
}
