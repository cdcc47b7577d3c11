/* Long-running-process check: many pam_start / pam_authenticate / pam_end
 * rounds in one process, as in sshd's monitor or a display manager. The
 * resident set, the number of open descriptors and the number of threads
 * after the warm-up must be what they are at the end (the resident set
 * within a small tolerance), and no child process may be left.
 *
 *   soak SERVICE USER TOKEN-FILE ROUNDS [RSS-TOLERANCE-KIB]
 *
 * TOKEN-FILE holds one token a line, optionally followed by how many
 * rounds it is good for: "TOKEN 255" is used for 255 rounds, then the next
 * line's token; a token without a number (or with 0) serves every round
 * left. One token of any number of uses (sesame-mint -n 0) keeps the store
 * as it is; limited tokens make every round count a use in the store. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

/* Rounds before the first measurement: libraries, caches and the
 * allocator's arenas settle in these. Half the rounds when there are
 * fewer than 2,000 (sanitizer builds run fewer). */
#define WARMUP_ROUNDS 1000
#define MAX_TOKENS 1024

/* Under AddressSanitizer the resident set grows by itself (about 20 KiB a
 * round even with pam_permit.so alone: allocator and dlopen bookkeeping),
 * so only descriptors and threads are compared there; LeakSanitizer
 * covers leaks. */
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
	long threads;
};

struct token {
	char *text;
	long rounds; /* 0: every round left */
};

struct tokens {
	struct token list[MAX_TOKENS];
	int count;
	int current;
	long used; /* rounds of the current token so far */
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

/* The "Threads:" line of /proc/self/status: every thread of the process,
 * those a module started and left behind included. */
static long count_threads(void)
{
	char line[256];
	long threads = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %ld", &threads) == 1)
			break;
	fclose(f);
	return threads;
}

static struct usage measure(void)
{
	struct usage u = { -1, -1, -1 };
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
	u.threads = count_threads();
	return u;
}

/* Children the module started and did not wait for (a helper still
 * running, or a zombie): waitpid reaps zombies, so this is for the end. */
static int count_children_left(void)
{
	int left = 0, status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		left++;
	if (pid == 0)
		left++; /* at least one still running */
	else if (errno != ECHILD)
		left = -1;
	return left;
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

/* One line: "TOKEN" or "TOKEN ROUNDS". */
static int parse_token_line(char *line, struct token *t)
{
	char *space, *end;

	line[strcspn(line, "\n")] = '\0';
	space = strchr(line, ' ');
	t->rounds = 0;
	if (space != NULL) {
		*space = '\0';
		errno = 0;
		t->rounds = strtol(space + 1, &end, 10);
		if (errno != 0 || end == space + 1 || *end != '\0' || t->rounds < 0)
			return -1;
	}
	t->text = strdup(line);
	return t->text != NULL && line[0] != '\0' ? 0 : -1;
}

static int read_tokens(const char *path, struct tokens *toks)
{
	char buf[1024];
	FILE *f = fopen(path, "re");
	int rc = 0;

	memset(toks, 0, sizeof(*toks));
	if (f == NULL)
		return -1;
	while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
		if (toks->count == MAX_TOKENS ||
		    parse_token_line(buf, &toks->list[toks->count]) != 0)
			rc = -1;
		else
			toks->count++;
	}
	fclose(f);
	return rc == 0 && toks->count > 0 ? 0 : -1;
}

/* Whether the tokens last for ROUNDS rounds. */
static int tokens_last(const struct tokens *toks, long rounds)
{
	long total = 0;
	int i;

	for (i = 0; i < toks->count; i++) {
		if (toks->list[i].rounds == 0)
			return 1;
		total += toks->list[i].rounds;
	}
	return total >= rounds;
}

/* The token for the next round. */
static char *next_token(struct tokens *toks)
{
	struct token *t = &toks->list[toks->current];

	if (t->rounds != 0 && toks->used == t->rounds && toks->current + 1 < toks->count) {
		toks->current++;
		toks->used = 0;
		t = &toks->list[toks->current];
	}
	toks->used++;
	return t->text;
}

static void free_tokens(struct tokens *toks)
{
	int i;

	for (i = 0; i < toks->count; i++)
		free(toks->list[i].text);
}

static void print_usage(const char *what, long after, const struct usage *u)
{
	printf("%s (after %ld rounds): rss=%ld KiB fds=%d threads=%ld\n", what, after, u->rss_kib,
	       u->fds, u->threads);
}

/* The verdict: 0 when nothing grew. */
static int judge(const struct usage *warm, const struct usage *end, long tolerance, int children)
{
	if (warm->rss_kib < 0 || warm->fds < 0 || warm->threads < 0 || children < 0)
		return 1;
	if (!RSS_IS_MEANINGFUL)
		printf("sanitizer build: resident set not compared\n");
	if (end->fds != warm->fds || end->threads != warm->threads || children != 0 ||
	    (RSS_IS_MEANINGFUL && end->rss_kib - warm->rss_kib > tolerance)) {
		printf("growth: rss %+ld KiB (tolerance %ld), fds %+d, threads %+ld, children left %d\n",
		       end->rss_kib - warm->rss_kib, tolerance, end->fds - warm->fds,
		       end->threads - warm->threads, children);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct tokens toks;
	struct usage warm = { 0, 0, 0 }, end;
	struct timespec t0, t1;
	long rounds, warmup, tolerance = argc > 5 ? atol(argv[5]) : 512, i, failures = 0;
	int children, verdict;

	if (argc < 5 || (rounds = atol(argv[4])) < 2) {
		fprintf(stderr, "usage: %s SERVICE USER TOKEN-FILE ROUNDS(>1) [RSS-KIB]\n", argv[0]);
		return 2;
	}
	warmup = rounds / 2 < WARMUP_ROUNDS ? rounds / 2 : WARMUP_ROUNDS;
	if (read_tokens(argv[3], &toks) != 0 || !tokens_last(&toks, rounds)) {
		fprintf(stderr, "%s: expected a token a line (\"TOKEN [ROUNDS]\"), enough for %ld rounds\n",
			argv[3], rounds);
		free_tokens(&toks);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i <= rounds; i++) {
		int rc = one_round(argv[1], argv[2], next_token(&toks));

		if (rc != PAM_SUCCESS && failures++ < 5)
			fprintf(stderr, "round %ld: rc=%d\n", i, rc);
		if (failures >= 100)
			break; /* no use measuring a module that refuses */
		if (i == warmup)
			warm = measure();
	}
	end = measure();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	children = count_children_left();
	printf("rounds=%ld failures=%ld seconds=%.1f tokens=%d\n", i > rounds ? rounds : i, failures,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       toks.current + 1);
	print_usage("warm-up", warmup, &warm);
	print_usage("end", i > rounds ? rounds : i, &end);
	printf("children left: %d\n", children);
	free_tokens(&toks);
	if (failures != 0)
		return 1;
	verdict = judge(&warm, &end, tolerance, children);
	return verdict;
}
