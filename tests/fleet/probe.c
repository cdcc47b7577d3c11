/* etcd-probe: drives the etcd client against the test cluster, for
 * tests/fleet/etcd.bats. Settings come from a file of etcd_* lines.
 *
 *   etcd-probe CONF STATE_DIR COMMAND ARGS...
 *     get KEY | put KEY VALUE [TTL] | put-if-absent KEY VALUE | delete KEY
 *     count KEY LIMIT [ABSENT...]      exit 0 counted, 1 refused
 *     storm KEY LIMIT N                N concurrent clients count once each
 *     status | range PREFIX | fill PREFIX N SIZE
 *     soak N                           N sessions in this process, flat?
 *
 * SESAME_ETCD_IN_PROCESS=1 runs the client in this process (no helper).
 * Exit 3 (and "store unavailable: ..." on stderr with the failure's
 * name) when the client fails; 2 for a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "etcd_http.h"

#define UNAVAILABLE 3

static struct sesame_etcd_config cfg;
static const char *state_dir;

static int load_conf(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	struct sesame_err err;

	sesame_etcd_config_defaults(&cfg);
	if (getenv("SESAME_ETCD_HELPER") != NULL)
		snprintf(cfg.helper, sizeof(cfg.helper), "%s", getenv("SESAME_ETCD_HELPER"));
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strstr(line, " = ");
		line[strcspn(line, "\n")] = '\0';
		if (eq == NULL)
			continue;
		*eq = '\0';
		if (sesame_etcd_config_set(&cfg, line, eq + 3, &err) != 0) {
			fprintf(stderr, "%s: %s\n", path, err.msg);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

static int fail(struct sesame_etcd *s, const struct sesame_err *err)
{
	fprintf(stderr, "%s [%s]\n", err->msg,
		s ? sesame_etcd_failure_name(sesame_etcd_last_failure(s)) : "open");
	return UNAVAILABLE;
}

static int quiet;

static int cmd_count(struct sesame_etcd *s, int argc, char **argv)
{
	struct sesame_etcd_use use;
	struct sesame_err err;

	if (argc < 2)
		return 2;
	if (sesame_etcd_count_use(s, argv[0], "use", 3, atoll(argv[1]), 0,
				  (const char *const *)argv + 2, (size_t)(argc - 2), &use,
				  &err) != 0)
		return fail(s, &err);
	if (quiet)
		;
	else if (use.counted)
		printf("counted %lld\n", (long long)use.count);
	else
		printf("refused %lld blocked-by %d\n", (long long)use.count, use.blocked_by);
	return use.counted ? 0 : 1;
}

static int cmd_get(struct sesame_etcd *s, const char *key)
{
	struct sesame_etcd_kvs kvs;
	struct sesame_err err;

	if (sesame_etcd_get(s, key, &kvs, &err) != 0)
		return fail(s, &err);
	if (kvs.n == 1)
		printf("%s version %lld lease %lld value %s\n", kvs.kv[0].key,
		       (long long)kvs.kv[0].version, (long long)kvs.kv[0].lease, kvs.kv[0].value);
	else
		printf("absent\n");
	sesame_etcd_kvs_free(&kvs);
	return 0;
}

static int cmd_range(struct sesame_etcd *s, const char *prefix)
{
	struct sesame_etcd_kvs kvs;
	struct sesame_err err;

	if (sesame_etcd_range_prefix(s, prefix, 0, &kvs, &err) != 0)
		return fail(s, &err);
	for (size_t i = 0; i < kvs.n; i++)
		printf("%s\n", kvs.kv[i].key);
	printf("count %lld\n", (long long)kvs.count);
	sesame_etcd_kvs_free(&kvs);
	return 0;
}

static int cmd_put(struct sesame_etcd *s, int argc, char **argv, int if_absent)
{
	struct sesame_err err;
	int64_t lease = 0;
	int created = 1;

	if (argc < 2)
		return 2;
	if (argc > 2 && sesame_etcd_lease_grant(s, atoll(argv[2]), &lease, &err) != 0)
		return fail(s, &err);
	if (if_absent ? sesame_etcd_put_if_absent(s, argv[0], argv[1], strlen(argv[1]), lease,
						  &created, NULL, &err)
		      : sesame_etcd_put(s, argv[0], argv[1], strlen(argv[1]), lease, &err))
		return fail(s, &err);
	printf("%s\n", created ? "created" : "exists");
	return created ? 0 : 1;
}

/* Put SIZE-byte values under PREFIX until a put fails (the quota). */
static int cmd_fill(struct sesame_etcd *s, int argc, char **argv)
{
	struct sesame_err err;
	size_t size;
	char key[256], *value;
	int i;

	if (argc != 3)
		return 2;
	size = (size_t)atol(argv[2]);
	value = malloc(size);
	if (value == NULL)
		return 2;
	memset(value, 'x', size);
	for (i = 0; i < atoi(argv[1]); i++) {
		snprintf(key, sizeof(key), "%s%d", argv[0], i);
		if (sesame_etcd_put(s, key, value, size, 0, &err) != 0)
			break;
	}
	free(value);
	printf("filled %d\n", i);
	return i < atoi(argv[1]) ? fail(s, &err) : 0;
}

static int cmd_delete(struct sesame_etcd *s, const char *key)
{
	struct sesame_err err;
	int64_t deleted = 0;

	if (sesame_etcd_delete(s, key, 0, &deleted, &err) != 0)
		return fail(s, &err);
	printf("deleted %lld\n", (long long)deleted);
	return 0;
}

static int cmd_status(struct sesame_etcd *s)
{
	struct sesame_etcd_status st;
	struct sesame_err err;
	int64_t skew = 0;

	if (sesame_etcd_status(s, &st, &err) != 0)
		return fail(s, &err);
	sesame_etcd_clock_skew(s, &skew);
	printf("version %s member %llx leader %llx db %lld skew %lld\n", st.version,
	       (unsigned long long)st.member_id, (unsigned long long)st.leader,
	       (long long)st.db_size, (long long)skew);
	return 0;
}

/* SESAME_ETCD_IN_PROCESS=1: libcurl in this process instead of the
 * helper (sanitizers see the client code; the benchmark compares). */
static int open_session(struct sesame_etcd **s, struct sesame_err *err)
{
	struct sesame_etcd_transport t;

	if (getenv("SESAME_ETCD_IN_PROCESS") == NULL)
		return sesame_etcd_open(s, &cfg, state_dir, err);
	if (sesame_etcd_http_open(&cfg, state_dir, &t, err) != 0)
		return -1;
	return sesame_etcd_open_transport(s, &t, cfg.prefix, err);
}

static int one(const char *cmd, int argc, char **argv)
{
	struct sesame_etcd *s = NULL;
	struct sesame_err err;
	int r = 2;

	if (open_session(&s, &err) != 0)
		return fail(NULL, &err);
	if (!strcmp(cmd, "count"))
		r = cmd_count(s, argc, argv);
	else if (!strcmp(cmd, "get") && argc == 1)
		r = cmd_get(s, argv[0]);
	else if (!strcmp(cmd, "range") && argc == 1)
		r = cmd_range(s, argv[0]);
	else if (!strcmp(cmd, "put"))
		r = cmd_put(s, argc, argv, 0);
	else if (!strcmp(cmd, "put-if-absent"))
		r = cmd_put(s, argc, argv, 1);
	else if (!strcmp(cmd, "delete") && argc == 1)
		r = cmd_delete(s, argv[0]);
	else if (!strcmp(cmd, "fill"))
		r = cmd_fill(s, argc, argv);
	else if (!strcmp(cmd, "status"))
		r = cmd_status(s);
	sesame_etcd_close(s);
	return r;
}

/* N clients at once, each its own session (its own helper), released
 * together through a pipe: prints how many counted. */
static int cmd_storm(int argc, char **argv)
{
	int go[2], n, counted = 0, unavailable = 0;
	char c;

	if (argc != 3 || pipe(go) != 0)
		return 2;
	n = atoi(argv[2]);
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			if (freopen("/dev/null", "w", stdout) == NULL)
				_exit(2);
			_exit(one("count", 2, argv));
		}
	}
	close(go[0]);
	close(go[1]); /* EOF releases them all */
	for (int i = 0; i < n; i++) {
		int status;
		if (wait(&status) > 0 && WIFEXITED(status)) {
			counted += WEXITSTATUS(status) == 0;
			unavailable += WEXITSTATUS(status) == UNAVAILABLE;
		}
	}
	printf("counted %d unavailable %d\n", counted, unavailable);
	return 0;
}

static long proc_status(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			v = atol(line + strlen(field) + 1);
	if (f != NULL)
		fclose(f);
	return v;
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* CPU time of this process and its reaped children (the helpers), ms:
 * on a loaded machine a fairer cost than wall time. */
static double cpu_ms(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
		kids.ru_stime.tv_sec) * 1e3 +
	       (self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
		kids.ru_stime.tv_usec) / 1e3;
}

/* ASan's quarantine holds freed memory back (256 MB by default), so under
 * it RSS grows by design: there LeakSanitizer at exit is the memory check,
 * and descriptors and threads must still stay flat. */
static int rss_flat(long before, long after)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)before;
	(void)after;
	return 1;
#else
	return after - before < 256;
#endif
}

/* N sessions in this process, each open, count a use of its own key,
 * close: descriptors, threads and RSS before, after a warm-up, at the end. */
static int cmd_soak(int argc, char **argv)
{
	int n = argc > 0 ? atoi(argv[0]) : 1000, warm = n / 10 > 0 ? n / 10 : 1;
	long fds[2] = {0}, threads[2] = {0}, rss[2] = {0};
	struct timespec t0, t1;
	char key[256], *args[2] = {key, (char *)"1000000"};

	double cpu0 = cpu_ms();

	quiet = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		if (i == warm) {
			fds[0] = count_fds();
			threads[0] = proc_status("Threads:");
			rss[0] = proc_status("VmRSS:");
		}
		snprintf(key, sizeof(key), "%suses/soak-%d", cfg.prefix, i % 100);
		if (one("count", 2, args) != 0)
			return UNAVAILABLE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fds[1] = count_fds();
	threads[1] = proc_status("Threads:");
	rss[1] = proc_status("VmRSS:");
	printf("soak %d sessions%s: %.2f ms each (%.2f ms CPU with the helpers'); fds %ld -> %ld, "
	       "threads %ld -> %ld, rss %ld -> %ld kB\n", n,
	       getenv("SESAME_ETCD_IN_PROCESS") ? " in-process" : " through the helper",
	       ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / n,
	       (cpu_ms() - cpu0) / n, fds[0],
	       fds[1], threads[0], threads[1], rss[0], rss[1]);
	return fds[0] == fds[1] && threads[0] == threads[1] && rss_flat(rss[0], rss[1]) ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 4 || load_conf(argv[1]) != 0) {
		fprintf(stderr, "usage: etcd-probe CONF STATE_DIR COMMAND ARGS...\n");
		return 2;
	}
	state_dir = argv[2];
	if (!strcmp(argv[3], "storm"))
		return cmd_storm(argc - 4, argv + 4);
	if (!strcmp(argv[3], "soak"))
		return cmd_soak(argc - 4, argv + 4);
	return one(argv[3], argc - 4, argv + 4);
}
