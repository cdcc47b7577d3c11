/* Races and kills: the store never grants more uses than a token allows.
 *
 * Redeemers are forked processes, each running sesame_attempt_run with
 * consume = 1, exactly what pam_sesame.so runs inside sshd or login. They
 * start together: each blocks reading a pipe whose write end the parent
 * then closes. A redeemer tells the parent it succeeded by writing one
 * byte to a result pipe after sesame_attempt_run returned SESAME_OK, so
 * "successes" below are successes some caller could have acted on.
 *
 * The kill-at-a-syscall tests stop the redeemer with ptrace at a chosen
 * system call and SIGKILL it there: no test hook in the production code. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sec.h"
#include "testutil.h"

#define EXIT_BASE 100     /* a redeemer exits with EXIT_BASE + reason */
#define EXIT_NO_PTRACE 99 /* PTRACE_TRACEME refused */

static struct sec_env env;

/* ---- redeemers ---- */

struct crowd {
	pid_t pid[64];
	int n;
	int results; /* read end: one byte per reported success */
};

static void redeemer(const char *text, int start_fd, int result_fd)
{
	char c;
	enum sesame_reason r;

	while (read(start_fd, &c, 1) < 0 && errno == EINTR)
		;
	r = sec_attempt(&env, text, strlen(text), 1, NULL, 0);
	if (r == SESAME_OK && write(result_fd, "+", 1) != 1)
		_exit(98);
	_exit(EXIT_BASE + (int)r);
}

/* Fork n redeemers of text, all waiting at the start line. */
static void crowd_fork(struct crowd *c, int n, const char *text, int *start_w)
{
	int start[2], res[2];

	if (pipe2(start, O_CLOEXEC) != 0 || pipe2(res, O_CLOEXEC) != 0)
		abort();
	fflush(NULL);
	c->n = 0;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			abort();
		if (pid == 0) {
			close(start[1]);
			close(res[0]);
			redeemer(text, start[0], res[1]);
		}
		c->pid[c->n++] = pid;
	}
	close(start[0]);
	close(res[1]);
	c->results = res[0];
	*start_w = start[1];
}

static int count_bytes(int fd)
{
	char buf[128];
	ssize_t n;
	int total = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		total += n > 0 ? (int)n : 0;
	close(fd);
	return total;
}

/* Wait for all; count each exit reason (killed ones in *killed). */
static void crowd_wait(struct crowd *c, int counts[SESAME_REASON_COUNT], int *killed)
{
	memset(counts, 0, sizeof(int) * SESAME_REASON_COUNT);
	*killed = 0;
	for (int i = 0; i < c->n; i++) {
		int status, code;
		while (waitpid(c->pid[i], &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status)) {
			(*killed)++;
			continue;
		}
		code = WIFEXITED(status) ? WEXITSTATUS(status) - EXIT_BASE : -1;
		CHECK(code >= 0 && code < SESAME_REASON_COUNT);
		if (code >= 0 && code < SESAME_REASON_COUNT)
			counts[code]++;
	}
}

/* n concurrent redemptions of a token allowing `uses`; checks the
 * outcome: min(uses, n) successes (n when uses == 0), the rest used up. */
static void concurrent_redemptions(unsigned uses, int n)
{
	struct sesame_token t;
	char text[SESAME_TOKEN_TEXT_SIZE];
	struct crowd c;
	int counts[SESAME_REASON_COUNT], killed, start_w, reported;
	int want = uses == 0 || (int)uses > n ? n : (int)uses;

	sec_mint(&env, uses, 900, &t, text);
	crowd_fork(&c, n, text, &start_w);
	close(start_w); /* go */
	crowd_wait(&c, counts, &killed);
	reported = count_bytes(c.results);
	CHECK_EQ_INT(killed, 0);
	CHECK_EQ_INT(counts[SESAME_OK], want);
	CHECK_EQ_INT(reported, want);
	CHECK_EQ_INT(counts[SESAME_USED_UP], n - want);
	CHECK_EQ_INT(sec_uses_recorded(&env, &t), uses == 0 ? 0 : want);
	printf("  uses=%u, %d redeemers: %d succeeded, %d used up\n", uses, n, counts[SESAME_OK],
	       counts[SESAME_USED_UP]);
}

static void one_use_64_concurrent_exactly_one(void)
{
	concurrent_redemptions(1, 64);
}

static void k_uses_64_concurrent_exactly_k(void)
{
	concurrent_redemptions(2, 64);
	concurrent_redemptions(7, 64);
	concurrent_redemptions(63, 64);
}

static void unlimited_64_concurrent_all_succeed(void)
{
	concurrent_redemptions(0, 64);
}

/* ---- SIGKILL at random moments ---- */

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Redeem until refused; returns the successes. */
static int top_up(const char *text)
{
	int n = 0;

	while (n < 300 && sec_attempt(&env, text, strlen(text), 1, NULL, 0) == SESAME_OK)
		n++;
	return n;
}

static void random_kills_never_exceed_the_allowed_uses(void)
{
	const int rounds = 30, n = 16;
	int total_killed = 0, recorded_not_reported = 0;

	srand(12345);
	for (int round = 0; round < rounds; round++) {
		unsigned uses = 1 + (unsigned)(rand() % 4);
		struct sesame_token t;
		char text[SESAME_TOKEN_TEXT_SIZE];
		struct crowd c;
		int counts[SESAME_REASON_COUNT], killed, start_w, reported, recorded, later;

		sec_mint(&env, uses, 900, &t, text);
		crowd_fork(&c, n, text, &start_w);
		close(start_w);
		for (int i = 0; i < c.n; i++) {
			if (rand() % 3 == 0)
				continue; /* a third are left alone */
			sleep_us(rand() % 1500);
			kill(c.pid[i], SIGKILL);
		}
		crowd_wait(&c, counts, &killed);
		reported = count_bytes(c.results);
		recorded = sec_uses_recorded(&env, &t);
		total_killed += killed;
		recorded_not_reported += recorded - reported;
		CHECK(recorded >= 0); /* the store is still usable: killed writers tear nothing */
		CHECK(reported <= (int)uses);
		CHECK(recorded <= (int)uses);
		CHECK(reported <= recorded); /* every reported success was recorded */
		later = top_up(text);
		CHECK_EQ_INT(recorded + later, (int)uses);
		CHECK(reported + later <= (int)uses);
	}
	printf("  %d rounds x %d redeemers, %d killed; %d uses recorded by redeemers killed "
	       "before they could report\n", rounds, n, total_killed, recorded_not_reported);
}

/* ---- ptrace: kill at a chosen system call ---- */

struct traced {
	pid_t pid;
	int results;
};

/* Fork a redeemer of text that stops itself for the tracer first. */
static int traced_start(struct traced *tr, const char *text)
{
	int res[2], status;

	if (pipe2(res, O_CLOEXEC) != 0)
		abort();
	fflush(NULL);
	tr->pid = fork();
	if (tr->pid < 0)
		abort();
	if (tr->pid == 0) {
		enum sesame_reason r;
		close(res[0]);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
			_exit(EXIT_NO_PTRACE);
		raise(SIGSTOP);
		r = sec_attempt(&env, text, strlen(text), 1, NULL, 0);
		if (r == SESAME_OK && write(res[1], "+", 1) != 1)
			_exit(98);
		_exit(EXIT_BASE + (int)r);
	}
	close(res[1]);
	tr->results = res[0];
	if (waitpid(tr->pid, &status, 0) != tr->pid || !WIFSTOPPED(status)) {
		count_bytes(tr->results);
		return -1;
	}
	if (ptrace(PTRACE_SETOPTIONS, tr->pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) != 0) {
		kill(tr->pid, SIGKILL);
		waitpid(tr->pid, &status, 0);
		count_bytes(tr->results);
		return -1;
	}
	return 0;
}

/* Run the traced redeemer to the kill point and SIGKILL it there: at the
 * entry of its kill_at-th system call (0-based), or, when kill_after_nr
 * >= 0, at the exit of its first system call with that number. Returns 1
 * when killed, 0 when it finished first; *syscalls counts the entries. */
static int traced_run(struct traced *tr, long kill_at, long kill_after_nr, long *syscalls)
{
	long entries = 0, last_nr = -1;
	int status, in_call = 0, sig = 0;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, tr->pid, NULL, (void *)(long)sig) != 0)
			break;
		sig = 0;
		if (waitpid(tr->pid, &status, 0) != tr->pid || WIFEXITED(status) ||
		    WIFSIGNALED(status))
			break;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status); /* a real signal: deliver it */
			continue;
		}
		if (!in_call) {
			struct __ptrace_syscall_info info;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, tr->pid, (void *)sizeof(info), &info) > 0)
				last_nr = (long)info.entry.nr;
			if (entries++ == kill_at)
				goto kill;
		} else if (kill_after_nr >= 0 && last_nr == kill_after_nr) {
			goto kill;
		}
		in_call = !in_call;
	}
	*syscalls = entries;
	return 0;
kill:
	kill(tr->pid, SIGKILL);
	waitpid(tr->pid, &status, 0);
	*syscalls = entries;
	return 1;
}

static int ptrace_works(void)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : EXIT_NO_PTRACE);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void killed_after_the_store_write_the_use_counts(void)
{
	struct sesame_token t;
	char text[SESAME_TOKEN_TEXT_SIZE];
	struct traced tr;
	long syscalls = 0;
	int killed;

	if (!ptrace_works()) {
		sec_skip("ptrace is not permitted here");
		return;
	}
	sec_mint(&env, 1, 900, &t, text);
	if (traced_start(&tr, text) != 0) {
		sec_skip("cannot trace the redeemer");
		return;
	}
	/* The use record is durable once fdatasync returns: kill right there,
	 * before sesame_attempt_run can return SESAME_OK to anyone. */
	killed = traced_run(&tr, -1, SYS_fdatasync, &syscalls);
	CHECK_EQ_INT(killed, 1);
	CHECK_EQ_INT(count_bytes(tr.results), 0); /* it never reported success */
	CHECK_EQ_INT(sec_uses_recorded(&env, &t), 1);
	CHECK_EQ_INT(sec_attempt(&env, text, strlen(text), 1, NULL, 0), SESAME_USED_UP);
	printf("  killed at the exit of fdatasync (system call %ld of the redemption): "
	       "recorded 1, replay used up\n", syscalls);
}

static void killed_after_returning_the_use_counts(void)
{
	struct sesame_token t;
	char text[SESAME_TOKEN_TEXT_SIZE];
	int status;
	pid_t pid;

	sec_mint(&env, 1, 900, &t, text);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* The caller got SESAME_OK and dies before acting on it. */
		if (sec_attempt(&env, text, strlen(text), 1, NULL, 0) == SESAME_OK)
			raise(SIGKILL);
		_exit(1);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_EQ_INT(sec_uses_recorded(&env, &t), 1);
	CHECK_EQ_INT(sec_attempt(&env, text, strlen(text), 1, NULL, 0), SESAME_USED_UP);
}

/* Every kill point of one redemption: at the entry of its 1st, 2nd, ...
 * system call. Whatever the point, the use is recorded at most once, a
 * reported success was recorded, the store stays readable, and exactly
 * the uses left can still be had. */
static void killed_at_every_system_call_at_most_one_use(void)
{
	long total = 0, syscalls = 0;
	int recorded_count = 0, points = 0;

	if (!ptrace_works()) {
		sec_skip("ptrace is not permitted here");
		return;
	}
	for (long at = 0; at < 5000; at++) {
		struct sesame_token t;
		char text[SESAME_TOKEN_TEXT_SIZE];
		struct traced tr;
		int killed, reported, recorded, later;

		sec_mint(&env, 1, 900, &t, text);
		if (traced_start(&tr, text) != 0) {
			sec_skip("cannot trace the redeemer");
			return;
		}
		killed = traced_run(&tr, at, -1, &syscalls);
		reported = count_bytes(tr.results);
		recorded = sec_uses_recorded(&env, &t);
		CHECK(recorded == 0 || recorded == 1);
		CHECK(reported <= recorded);
		later = top_up(text);
		CHECK_EQ_INT(recorded + later, 1);
		if (!killed) {
			total = syscalls;
			CHECK_EQ_INT(reported, 1); /* ran to the end: a normal success */
			break;
		}
		points++;
		recorded_count += recorded;
	}
	CHECK(total > 0);
	printf("  a redemption makes %ld system calls; killed at each of %d: %d left the "
	       "use recorded, none recorded it twice\n", total, points, recorded_count);
}

int main(void)
{
	if (sec_env_init(&env, "races") != 0)
		return 77;
	sec_property("64 concurrent redemptions of a one-use token: exactly one succeeds",
		     one_use_64_concurrent_exactly_one);
	sec_property("64 concurrent redemptions of a k-use token: exactly k succeed (k = 2, 7, 63)",
		     k_uses_64_concurrent_exactly_k);
	sec_property("64 concurrent redemptions of an unlimited token: all succeed, none recorded",
		     unlimited_64_concurrent_all_succeed);
	sec_property("redeemers killed with SIGKILL at random moments never exceed the allowed uses",
		     random_kills_never_exceed_the_allowed_uses);
	sec_property("a redeemer killed after the store write and before returning: the use counts",
		     killed_after_the_store_write_the_use_counts);
	sec_property("a caller killed right after a successful redemption: the use counts",
		     killed_after_returning_the_use_counts);
	sec_property("a redemption killed at any system call is recorded at most once",
		     killed_at_every_system_call_at_most_one_use);
	sec_env_free(&env);
	return sec_finish("security-races");
}
