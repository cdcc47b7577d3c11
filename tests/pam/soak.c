/* Long-running-process check: many pam_start / pam_authenticate / pam_end
 * rounds in one process, as in sshd's monitor or a display manager. The
 * resident set and the number of open descriptors after the warm-up must
 * be what they are at the end, within a small tolerance.
 *
 *   soak SERVICE USER TOKEN-FILE ROUNDS [RSS-TOLERANCE-KIB]
 *
 * The token should allow any number of uses (sesame-mint -n 0), so that
 * every round succeeds and the store does not grow. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define WARMUP_ROUNDS 1000

/* Under AddressSanitizer the resident set grows by itself (about 20 KiB a
 * round even with pam_permit.so alone: allocator and dlopen bookkeeping),
 * so only descriptors are compared there; LeakSanitizer covers leaks. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_IS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_IS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_IS_MEANINGFUL
#define RSS_IS_MEANINGFUL 1
#endif

struct usage {
	long rss_kib;
	int fds;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *out = calloc((size_t)n, sizeof(*out));
	int i;

	if (out == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF && msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		out[i].resp = strdup(data);
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
		u.fds = 0;
		while (readdir(d) != NULL)
			u.fds++;
		closedir(d);
	}
	return u;
}

static int one_round(const char *service, const char *user, char *token)
{
	struct pam_conv pc = { conv, token };
	pam_handle_t *pamh = NULL;
	int rc = pam_start(service, user, &pc, &pamh);

	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	return rc;
}

static char *read_token(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "re");
	char *ok;

	if (f == NULL)
		return NULL;
	ok = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (ok == NULL)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

int main(int argc, char **argv)
{
	struct usage warm = { 0, 0 }, end;
	struct timespec t0, t1;
	long rounds, tolerance = argc > 5 ? atol(argv[5]) : 512, i, failures = 0;
	char *token;

	if (argc < 5 || (rounds = atol(argv[4])) <= WARMUP_ROUNDS) {
		fprintf(stderr, "usage: %s SERVICE USER TOKEN-FILE ROUNDS(>%d) [RSS-KIB]\n", argv[0],
			WARMUP_ROUNDS);
		return 2;
	}
	token = read_token(argv[3]);
	if (token == NULL)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i <= rounds; i++) {
		int rc = one_round(argv[1], argv[2], token);

		if (rc != PAM_SUCCESS && failures++ < 5)
			fprintf(stderr, "round %ld: rc=%d\n", i, rc);
		if (failures >= 100)
			break; /* no use measuring a module that refuses */
		if (i == WARMUP_ROUNDS)
			warm = measure();
	}
	end = measure();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("rounds=%ld failures=%ld seconds=%.1f\n", i > rounds ? rounds : i, failures,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("after %d: rss=%ld KiB fds=%d\n", WARMUP_ROUNDS, warm.rss_kib, warm.fds);
	printf("after %ld: rss=%ld KiB fds=%d\n", rounds, end.rss_kib, end.fds);
	free(token);
	if (failures != 0 || warm.rss_kib < 0 || warm.fds < 0)
		return 1;
	if (!RSS_IS_MEANINGFUL)
		printf("sanitizer build: resident set not compared\n");
	if (end.fds != warm.fds || (RSS_IS_MEANINGFUL && end.rss_kib - warm.rss_kib > tolerance)) {
		printf("growth: rss %+ld KiB (tolerance %ld), fds %+d\n", end.rss_kib - warm.rss_kib,
		       tolerance, end.fds - warm.fds);
		return 1;
	}
	return 0;
}
