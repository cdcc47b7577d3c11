/* In-process PAM authentications: pam_start_confdir + pam_authenticate +
 * pam_end in a loop, as a long-running service (sshd's monitor, a display
 * manager) does them.
 *
 *   bench-pam [-w WARMUP] [-s] [-k] [-u FILE] CONFDIR SERVICE USER ROUNDS REPLY|@FILE
 *
 * Every prompt is answered with REPLY, or with the next line of FILE (one
 * line per round, warm-up rounds included: one-time tokens, HOTP codes).
 * The WARMUP rounds (default 100) load what the first call loads and are
 * not timed. Prints "rounds=N failures=0 us_per_auth=MEAN p50_us=P50
 * p90_us=P90 p99_us=P99 cpu_us_per_auth=CPU" (no percentiles with -s);
 * CPU counts this process and the children it reaped (the etcd store's
 * helpers). Any failed round makes the run invalid (exit 1), unless -k.
 *   -s  also print the resident set and open descriptors after the warm-up
 *       and at the end, for the long-running-process check.
 *   -u  remove FILE before every round, untimed (the etcd store's cached
 *       auth token: every login then authenticates, as a host's first does).
 *   -k  keep going after a failed round and count it in failures= (a
 *       throughput run under load, where some logins may time out); the
 *       times are those of every round, failed ones included.
 *
 * With no syslog daemon (no /dev/log), glibc writes the lines of anyone
 * who opened the log with LOG_CONS to /dev/console: 0.4 ms a line on the
 * benchmark machine, and a flooded console. pam_google_authenticator
 * does, so this program interposes openlog() (it exports the symbol, see
 * tests/meson.build) and drops LOG_CONS: every module's lines then cost
 * the same failed connect to /dev/log.
 *
 * With BENCH_PAM_LOG=FILE, the modules' log lines (libpam's pam_syslog
 * calls __syslog_chk, which this program also exports and interposes)
 * are appended to FILE instead: where no syslog daemon listens, that is
 * how a failed round says why. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "benchutil.h"

struct replies {
	char **lines;
	size_t count;
	size_t next; /* the line for the current round */
};

struct usage {
	long rss_kib;
	int fds;
};

void openlog(const char *ident, int option, int facility)
{
	void (*real)(const char *, int, int);

	*(void **)&real = dlsym(RTLD_NEXT, "openlog");
	if (real != NULL)
		real(ident, option & ~LOG_CONS, facility);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...);

void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
	const char *path = getenv("BENCH_PAM_LOG");
	va_list ap;
	FILE *f;

	(void)flag;
	va_start(ap, fmt);
	if (path != NULL && (f = fopen(path, "ae")) != NULL) {
		vfprintf(f, fmt, ap);
		fputc('\n', f);
		fclose(f);
	} else {
		vsyslog(priority, fmt, ap);
	}
	va_end(ap);
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const struct replies *r = data;
	struct pam_response *out = calloc((size_t)n, sizeof(*out));

	if (out == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF && msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		out[i].resp = strdup(r->lines[r->next]);
		if (out[i].resp == NULL) {
			while (i-- > 0)
				free(out[i].resp);
			free(out);
			return PAM_BUF_ERR;
		}
	}
	*resp = out;
	return PAM_SUCCESS;
}

/* REPLY, or the lines of @FILE. */
static int load_replies(const char *arg, size_t need, struct replies *r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	memset(r, 0, sizeof(*r));
	r->lines = calloc(arg[0] == '@' ? need : 1, sizeof(*r->lines));
	if (r->lines == NULL)
		return -1;
	if (arg[0] != '@') {
		r->lines[0] = strdup(arg);
		r->count = 1;
		return r->lines[0] != NULL ? 0 : -1;
	}
	f = fopen(arg + 1, "re");
	if (f == NULL)
		return -1;
	while (r->count < need && (len = getline(&line, &cap, f)) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if ((r->lines[r->count] = strdup(line)) == NULL)
			break;
		r->count++;
	}
	free(line);
	fclose(f);
	return r->count == need ? 0 : -1;
}

static void free_replies(struct replies *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->lines[i]);
	free(r->lines);
}

static struct usage measure(void)
{
	struct usage u = { -1, -1 };
	long pages_total, pages_resident;
	FILE *f = fopen("/proc/self/statm", "re");
	DIR *d;

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) == 2)
			u.rss_kib = pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d != NULL) {
		struct dirent *de;
		u.fds = 0;
		while ((de = readdir(d)) != NULL)
			u.fds += de->d_name[0] != '.';
		closedir(d);
		u.fds--; /* the one opendir holds */
	}
	return u;
}

static int one_round(const char *confdir, const char *service, const char *user,
		     struct replies *r)
{
	struct pam_conv pc = { conv, r };
	pam_handle_t *pamh = NULL;
	int rc = pam_start_confdir(service, user, &pc, confdir, &pamh);

	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	return rc;
}

static const char *unlink_each_round;
static int keep_going;
static long failures;

/* Rounds [from, to): 0, or the PAM code of the first failure. Each
 * round's wall time goes to us[i - from] when us is not NULL. */
static int run_rounds(char **argv, struct replies *r, long from, long to, double *us)
{
	for (long i = from; i < to; i++) {
		double t0;
		int rc;

		if (unlink_each_round != NULL && unlink(unlink_each_round) != 0 && errno != ENOENT) {
			perror(unlink_each_round);
			return PAM_SYSTEM_ERR;
		}
		t0 = bench_wall();

		r->next = r->count > 1 ? (size_t)i : 0;
		rc = one_round(argv[0], argv[1], argv[2], r);
		if (us != NULL)
			us[i - from] = (bench_wall() - t0) * 1e6;
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "bench-pam: %s round %ld: %s (%d)\n", argv[1], i,
				pam_strerror(NULL, rc), rc);
			failures++;
			if (!keep_going)
				return rc;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct replies replies;
	struct usage warm, end;
	double *us;
	long warmup = 100, rounds;
	int opt, soak = 0, rc;
	double t0, t1, cpu0, cpu1;

	while ((opt = getopt(argc, argv, "w:sku:")) != -1) {
		if (opt == 'w')
			warmup = atol(optarg);
		else if (opt == 's')
			soak = 1;
		else if (opt == 'k')
			keep_going = 1;
		else if (opt == 'u')
			unlink_each_round = optarg;
		else
			return 2;
	}
	argv += optind;
	argc -= optind;
	if (argc != 5 || (rounds = atol(argv[3])) <= 0 || warmup < 0) {
		fprintf(stderr, "usage: bench-pam [-w WARMUP] [-s] [-k] [-u FILE] CONFDIR SERVICE "
				"USER ROUNDS REPLY|@FILE\n");
		return 2;
	}
	if (load_replies(argv[4], (size_t)(warmup + rounds), &replies) != 0) {
		fprintf(stderr, "bench-pam: %s: need %ld replies\n", argv[4], warmup + rounds);
		return 2;
	}
	/* The soak keeps no per-round times: their pages, touched as the
	 * rounds go, would be growth of this program's own. */
	us = soak ? NULL : calloc((size_t)rounds, sizeof(*us));
	rc = soak || us != NULL ? run_rounds(argv, &replies, 0, warmup, NULL) : -1;
	warm = measure();
	cpu0 = bench_cpu_with_children();
	t0 = bench_wall();
	if (rc == 0)
		rc = run_rounds(argv, &replies, warmup, warmup + rounds, us);
	t1 = bench_wall();
	cpu1 = bench_cpu_with_children();
	end = measure();
	free_replies(&replies);
	if (rc != 0) {
		free(us);
		return 1;
	}
	printf("rounds=%ld failures=%ld us_per_auth=%.2f", rounds, failures,
	       (t1 - t0) * 1e6 / (double)rounds);
	if (us != NULL)
		printf(" p50_us=%.2f p90_us=%.2f p99_us=%.2f", bench_quantile(us, (size_t)rounds, 0.50),
		       bench_quantile(us, (size_t)rounds, 0.90),
		       bench_quantile(us, (size_t)rounds, 0.99));
	printf(" cpu_us_per_auth=%.2f\n", (cpu1 - cpu0) * 1e6 / (double)rounds);
	free(us);
	if (soak)
		printf("warm_rss_kib=%ld warm_fds=%d end_rss_kib=%ld end_fds=%d\n", warm.rss_kib,
		       warm.fds, end.rss_kib, end.fds);
	return 0;
}
