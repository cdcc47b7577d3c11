/* The one-time-use store under load, and the durable-write floor.
 *
 *   bench-store fill STATE_DIR COUNT EXPIRY_OFFSET [spread]
 *       Add COUNT use records of synthetic tokens (random ids, uid 1501)
 *       expiring EXPIRY_OFFSET seconds from now (negative: already
 *       expired), writing the bucket files directly in the record format
 *       of common/store.c: through sesame_store_redeem, one fdatasync per
 *       record, a million records would take longer than the whole
 *       benchmark. The library then reads a sample of them back, so a
 *       format mistake fails here and not as a quiet speed-up. With
 *       "spread", record i goes to bucket i % 4096, so 4096 records put
 *       one in every bucket: a store with no bucket file left to create.
 *   bench-store redeem STATE_DIR N
 *       N redemptions of fresh one-time tokens, each timed from
 *       sesame_store_open to sesame_store_close (what pam_sesame does per
 *       login). Prints p50, p99, mean and max in microseconds.
 *   bench-store ledger STATE_DIR N
 *       What the ledger adds, N rounds interleaved: the issue record a mint
 *       now writes (open, sesame_store_record_issue, close: one more
 *       durable write per mint), a redemption without ledger (no issue
 *       record, no use details: the path before the ledger) and one with
 *       it (its issue record in the bucket, host, service, rhost, ruser
 *       and tty in the use record, still one write). Three lines of the
 *       same figures as redeem.
 *   bench-store append DIR N
 *       The floor: N appends of a use record's 28 bytes, each followed by
 *       fdatasync, to one file in DIR. Prints the same figures.
 *   bench-store prepare STATE_DIR
 *       Make the store and every bucket file, as sesame-mint does.
 *   bench-store gc STATE_DIR
 *       sesame_store_gc at the current time, as sesame-mint --gc does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "store.h"
#include "store_format.h"
#include "store_fs.h"

#define BENCH_UID 1501
#define SAMPLE 64
#define RECORD_SIZE 28 /* a use record without fields */

static uint64_t rng_state;

/* splitmix64: synthetic ids need spread, not secrecy. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int spread_ids;

static void random_token(struct sesame_token *t, int64_t now)
{
	uint64_t v = rng_next();

	memset(t, 0, sizeof(*t));
	t->key_id = 1;
	t->uid = BENCH_UID;
	t->issued = (uint32_t)now;
	t->lifetime = 900;
	t->uses = 1;
	for (int i = 0; i < SESAME_ID_BYTES; i++)
		t->id[i] = (uint8_t)(v >> (8 * i));
}

static unsigned bucket_of(const uint8_t id[SESAME_ID_BYTES])
{
	return (unsigned)id[0] << 4 | (unsigned)id[1] >> 4;
}

/* A use record in the store's format 2 (common/store_format.h). */
static size_t encode_use(const struct sesame_token *t, int64_t expiry, uint8_t *out)
{
	struct record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = REC_USE;
	rec.uid = t->uid;
	memcpy(rec.id, t->id, SESAME_ID_BYTES);
	rec.time = expiry;
	return record_encode(&rec, out);
}

/* Append to a bucket file, starting it with a header when it is new or
 * empty (a store nobody prepared). */
static int append_file(int dirfd, unsigned bucket, const uint8_t *data, size_t len)
{
	struct store_header h = { KIND_BUCKET, 0, 0 };
	uint8_t header[STORE_HEADER_SIZE];
	struct stat sb;
	char name[8];
	int fd, r = -1;

	snprintf(name, sizeof(name), "%03x", bucket);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &sb) != 0)
		goto out;
	header_encode(&h, header);
	if (sb.st_size == 0 && write(fd, header, sizeof(header)) != (ssize_t)sizeof(header))
		goto out;
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n <= 0)
			goto out;
		data += n;
		len -= (size_t)n;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* Records grouped by bucket, then one append per bucket file. */
static int write_buckets(int usesfd, const struct sesame_token *toks, size_t count,
			 int64_t expiry)
{
	size_t *start = calloc(SESAME_STORE_BUCKETS + 1, sizeof(*start));
	size_t *fill = calloc(SESAME_STORE_BUCKETS, sizeof(*fill));
	uint8_t *buf = malloc(count * RECORD_SIZE + 1);
	int r = -1;

	if (start == NULL || fill == NULL || buf == NULL)
		goto out;
	for (size_t i = 0; i < count; i++)
		start[bucket_of(toks[i].id) + 1]++;
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b++)
		start[b + 1] += start[b];
	for (size_t i = 0; i < count; i++) {
		unsigned b = bucket_of(toks[i].id);
		encode_use(&toks[i], expiry, buf + (start[b] + fill[b]++) * RECORD_SIZE);
	}
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b++) {
		size_t n = start[b + 1] - start[b];
		if (n > 0 && append_file(usesfd, b, buf + start[b] * RECORD_SIZE, n * RECORD_SIZE) != 0)
			goto out;
	}
	r = 0;
out:
	free(start);
	free(fill);
	free(buf);
	return r;
}

/* The library must read what we wrote: each sampled token used once. */
static int check_sample(const char *state_dir, const struct sesame_token *toks, size_t n,
			int64_t now)
{
	struct sesame_store st;
	struct sesame_err err = { "" };
	int r = -1;

	if (sesame_store_open_file(&st, state_dir, 0, &err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned used = 0;
		enum sesame_reason why = sesame_store_status(&st, &toks[i], now, &used, &err);
		if (why != SESAME_USED_UP || used != 1) {
			snprintf(err.msg, sizeof(err.msg), "synthetic token %zu: used %u, reason %d",
				 i, used, (int)why);
			goto out;
		}
	}
	r = 0;
out:
	sesame_store_close(&st);
	if (r != 0)
		fprintf(stderr, "bench-store: fill check: %s\n", err.msg);
	return r;
}

static int cmd_fill(const char *state_dir, size_t count, int64_t offset)
{
	int64_t now = (int64_t)time(NULL);
	struct sesame_token *toks = calloc(count + 1, sizeof(*toks));
	char path[4096];
	int usesfd = -1, r = 1;

	snprintf(path, sizeof(path), "%s/uses", state_dir);
	if (toks == NULL || (mkdir(path, 0700) != 0 && errno != EEXIST))
		goto out;
	usesfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (usesfd < 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		random_token(&toks[i], now - 60);
		if (spread_ids) {
			unsigned b = (unsigned)(i % SESAME_STORE_BUCKETS);
			toks[i].id[0] = (uint8_t)(b >> 4);
			toks[i].id[1] = (uint8_t)((b & 15) << 4 | (toks[i].id[1] & 15));
		}
	}
	if (write_buckets(usesfd, toks, count, now + offset) != 0)
		goto out;
	/* Expired records are still records: status still counts them. */
	r = check_sample(state_dir, toks, count < SAMPLE ? count : SAMPLE, now) == 0 ? 0 : 1;
out:
	if (r != 0 && errno != 0)
		perror("bench-store: fill");
	if (usesfd >= 0)
		close(usesfd);
	free(toks);
	return r;
}

static void print_latencies(double *us, size_t n)
{
	double mean = bench_mean(us, n);
	double p50 = bench_quantile(us, n, 0.50), p99 = bench_quantile(us, n, 0.99);

	printf("n=%zu p50_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%.1f\n", n, p50, p99, mean,
	       us[n - 1]);
}

static int cmd_redeem(const char *state_dir, size_t n)
{
	double *us = calloc(n, sizeof(*us));
	int64_t now = (int64_t)time(NULL);
	struct sesame_err err = { "" };

	if (us == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct sesame_store st;
		struct sesame_token t;
		enum sesame_reason why = SESAME_STORE_UNAVAILABLE;
		double t0;

		random_token(&t, now);
		t0 = bench_wall();
		if (sesame_store_open_file(&st, state_dir, 0, &err) == 0)
			why = sesame_store_redeem(&st, &t, NULL, now, &err);
		sesame_store_close(&st);
		us[i] = (bench_wall() - t0) * 1e6;
		if (why != SESAME_OK) {
			fprintf(stderr, "bench-store: redeem %zu: reason %d: %s\n", i, (int)why,
				err.msg);
			free(us);
			return 1;
		}
	}
	print_latencies(us, n);
	free(us);
	return 0;
}

/* One timed step of cmd_ledger: record t's issue when issue is set, else
 * redeem it (with use details when use is set). Returns the microseconds,
 * or a negative number on failure. */
static double ledger_step(const char *state_dir, const struct sesame_token *t,
			  const struct sesame_issue *issue, const struct sesame_use *use,
			  int64_t now)
{
	struct sesame_err err = { "" };
	struct sesame_store st;
	double t0 = bench_wall();
	int ok = sesame_store_open_file(&st, state_dir, 0, &err) == 0;

	if (ok && issue != NULL)
		ok = sesame_store_record_issue(&st, issue, &err) == 0;
	else if (ok)
		ok = sesame_store_redeem(&st, t, use, now, &err) == SESAME_OK;
	sesame_store_close(&st);
	if (!ok) {
		fprintf(stderr, "bench-store: ledger: %s\n", err.msg);
		return -1;
	}
	return (bench_wall() - t0) * 1e6;
}

static struct sesame_issue issue_for(const struct sesame_token *t)
{
	struct sesame_issue is;

	sesame_issue_init(&is, t);
	snprintf(is.account, sizeof(is.account), "alice");
	snprintf(is.scope, sizeof(is.scope), "any");
	snprintf(is.host, sizeof(is.host), "bench.example.org");
	snprintf(is.channel, sizeof(is.channel), "printed");
	snprintf(is.issuer, sizeof(is.issuer), "uid 1000 (admin)");
	snprintf(is.note, sizeof(is.note), "a typical note: ticket OPS-1234, vendor access");
	return is;
}

static int cmd_ledger(const char *state_dir, size_t n)
{
	const struct sesame_use use = { "bench.example.org", "sshd", "203.0.113.77", "admin",
					 "ssh" };
	double *us = calloc(3 * n, sizeof(*us));
	int64_t now = (int64_t)time(NULL);
	const char *names[3] = { "issue_record", "redeem_plain", "redeem_ledger" };
	int r = 1;

	if (us == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct sesame_token plain, kept;
		struct sesame_issue is;
		random_token(&plain, now);
		random_token(&kept, now);
		is = issue_for(&kept);
		us[i] = ledger_step(state_dir, &kept, &is, NULL, now);
		us[n + i] = ledger_step(state_dir, &plain, NULL, NULL, now);
		us[2 * n + i] = ledger_step(state_dir, &kept, NULL, &use, now);
		if (us[i] < 0 || us[n + i] < 0 || us[2 * n + i] < 0)
			goto out;
	}
	for (int k = 0; k < 3; k++) {
		printf("%s ", names[k]);
		print_latencies(us + (size_t)k * n, n);
	}
	r = 0;
out:
	free(us);
	return r;
}

static int cmd_append(const char *dir, size_t n)
{
	uint8_t record[RECORD_SIZE];
	double *us = calloc(n, sizeof(*us));
	char path[4096];
	int fd, r = 1;

	snprintf(path, sizeof(path), "%s/append-floor", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || us == NULL)
		goto out;
	memset(record, 0xa5, sizeof(record));
	for (size_t i = 0; i < n; i++) {
		double t0 = bench_wall();
		if (pwrite(fd, record, sizeof(record), (off_t)(i * sizeof(record))) !=
			    (ssize_t)sizeof(record) || fdatasync(fd) != 0)
			goto out;
		us[i] = (bench_wall() - t0) * 1e6;
	}
	print_latencies(us, n);
	r = 0;
out:
	if (r != 0)
		perror("bench-store: append");
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(us);
	return r;
}

static int cmd_prepare_or_gc(const char *state_dir, int gc)
{
	struct store_fs st; /* the file store itself: preparing is its own step */
	struct sesame_err err = { "" };
	int r = store_fs_open(&st, state_dir, 1, &err);

	if (r == 0)
		r = gc ? store_fs_gc(&st, (int64_t)time(NULL), NULL, &err)
		       : store_fs_prepare(&st, &err);
	store_fs_close(&st);
	if (r != 0)
		fprintf(stderr, "bench-store: %s: %s\n", gc ? "gc" : "prepare", err.msg);
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		return 2;
	rng_state = seed;
	spread_ids = argc == 6 && strcmp(argv[5], "spread") == 0;
	if ((argc == 5 || (argc == 6 && spread_ids)) && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv[2], strtoul(argv[3], NULL, 10), strtoll(argv[4], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "redeem") == 0 && atol(argv[3]) > 0)
		return cmd_redeem(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "ledger") == 0 && atol(argv[3]) > 0)
		return cmd_ledger(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "append") == 0 && atol(argv[3]) > 0)
		return cmd_append(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 3 && (strcmp(argv[1], "prepare") == 0 || strcmp(argv[1], "gc") == 0))
		return cmd_prepare_or_gc(argv[2], strcmp(argv[1], "gc") == 0);
	fprintf(stderr, "usage: bench-store fill STATE_DIR COUNT EXPIRY_OFFSET [spread]\n"
			"       bench-store redeem STATE_DIR N\n"
			"       bench-store ledger STATE_DIR N\n"
			"       bench-store append DIR N\n"
			"       bench-store prepare|gc STATE_DIR\n");
	return 2;
}
