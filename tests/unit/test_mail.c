/* Mail: address checks against header injection, the composed message,
 * and the sendmail child (exit status, exec failure, timeout, no fd or
 * signal-state leaks). Real small commands stand in for sendmail. */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail.h"
#include "util.h"
#include "testutil.h"

#define NOW 1700000000 /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define TOKEN "SSM1ABCDEFGHJKMNPQRSTVWXYZ0123456789ABCDEFGHJKMNPQRSTVWXYZ01"
#define LINK "https://login.example.com/#sesame=" TOKEN

static void test_address_ok(void)
{
	static const char *const good[] = {
		"alice@example.com", "a.b+tag@sub.example.org", "root@localhost",
		"o'brien@x.io", "x@a-b.c", "A_Z=1/2{}|~!#$%&*?^`@EXAMPLE.COM", "u@1.2.3.4",
	};
	static const char *const bad[] = {
		"", "alice", "@example.com", "alice@", "a@b@c", "a b@c.d", "a@b c",
		"a@b\nBcc: x@y", "a@b\r\nBcc: x@y", "a@b\n", "a@b\r", "a\t@b", "a@b\t",
		"a,b@c", "a@b,c@d", "a;b@c", "<a@b>", "a@<b>", "\"a\"@b", "a(b)@c", "a\\b@c",
		"a@.b", "a@b.", "a@-b.c", "a@b-.c", "a@b.-c", "a..b@c", ".a@c", "a.@c", "a@b..c",
		"a@b:25", "a@[1.2.3.4]", "a:b@c", "a\x7f@b", "\xc3\xa9@b.c", "a@b\x01", "-f@x.y",
		"a@b_c.d",
	};
	char addr[300];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(sesame_mail_address_ok(good[i]) == 1);
		if (sesame_mail_address_ok(good[i]) != 1)
			fprintf(stderr, "  refused good address %s\n", good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(sesame_mail_address_ok(bad[i]) == 0);
		if (sesame_mail_address_ok(bad[i]) != 0)
			fprintf(stderr, "  accepted bad address #%zu\n", i);
	}
	CHECK(sesame_mail_address_ok(NULL) == 0);

	/* 64 + 1 + 63 + 1 + 63 + 1 + 61 = 254: the longest allowed */
	snprintf(addr, sizeof(addr), "%.64s@%.63s.%.63s.%.61s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
		 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	CHECK_EQ_INT(strlen(addr), 254);
	CHECK(sesame_mail_address_ok(addr) == 1);
	strcat(addr, "d");
	CHECK_EQ_INT(strlen(addr), 255);
	CHECK(sesame_mail_address_ok(addr) == 0);
	/* local part of 65, label of 64 */
	CHECK(sesame_mail_address_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.c") == 0);
	CHECK(sesame_mail_address_ok("a@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.c") == 0);
}

static struct sesame_mail base_mail(void)
{
	struct sesame_mail m = {
		.from = "root@web1.example.com",
		.to = "alice@example.com",
		.user = "alice",
		.host = "web1",
		.link = LINK,
		.now = NOW,
		.expires = NOW + 900,
		.uses = 1,
	};
	return m;
}

/* How many header lines (before the blank line) start with name. */
static int header_count(const char *msg, const char *name)
{
	const char *line = msg;
	int n = 0;

	while (*line != '\0' && *line != '\n') {
		if (strncmp(line, name, strlen(name)) == 0)
			n++;
		line = strchr(line, '\n');
		if (line == NULL)
			break;
		line++;
	}
	return n;
}

static int has_line(const char *msg, const char *want)
{
	size_t len = strlen(want);
	const char *p = msg;

	while ((p = strstr(p, want)) != NULL) {
		if ((p == msg || p[-1] == '\n') && p[len] == '\n')
			return 1;
		p += len;
	}
	return 0;
}

static size_t longest_line(const char *msg)
{
	size_t longest = 0;
	const char *p = msg, *nl;

	while ((nl = strchr(p, '\n')) != NULL) {
		if ((size_t)(nl - p) > longest)
			longest = (size_t)(nl - p);
		p = nl + 1;
	}
	return strlen(p) > longest ? strlen(p) : longest;
}

static void expect_valid_for(struct sesame_mail *m, int64_t secs, const char *want)
{
	struct sesame_err err = {""};
	char *msg;

	m->expires = m->now + secs;
	msg = sesame_mail_compose(m, &err);
	CHECK(msg != NULL && strstr(msg, want) != NULL);
	if (msg == NULL || strstr(msg, want) == NULL)
		fprintf(stderr, "  %lld s: want \"%s\"\n", (long long)secs, want);
	sesame_free_str(msg);
}

static void test_compose(void)
{
	static const char *const headers[] = {
		"From: root@web1.example.com\n", "To: alice@example.com\n",
		"Subject: Your login link for alice on web1\n",
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\n", "Message-ID: <", "MIME-Version: 1.0\n",
		"Content-Type: text/plain; charset=UTF-8\n", "Content-Transfer-Encoding: 8bit\n",
		"Auto-Submitted: auto-generated\n",
	};
	struct sesame_mail m = base_mail();
	struct sesame_err err = {""};
	char *msg = sesame_mail_compose(&m, &err), *again;
	const char *id;
	size_t i;

	CHECK(msg != NULL);
	if (msg == NULL) {
		fprintf(stderr, "  compose: %s\n", err.msg);
		return;
	}
	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		CHECK_EQ_INT(header_count(msg, headers[i]), 1);
		CHECK(strstr(msg, headers[i]) != NULL);
	}
	CHECK_EQ_INT(header_count(msg, "From:") + header_count(msg, "To:") +
			     header_count(msg, "Cc:") + header_count(msg, "Bcc:"), 2);
	CHECK(has_line(msg, LINK));
	CHECK(strstr(msg, "\r") == NULL);
	CHECK(longest_line(msg) < 998);
	CHECK(strstr(msg, "\n\n") != NULL);
	CHECK(strstr(msg, "2023-11-14T22:28:20Z") != NULL);
	CHECK(strstr(msg, "Tue 14 Nov 2023, 22:28 UTC") != NULL);
	CHECK(strstr(msg, "valid for 15 minutes,") != NULL);
	CHECK(strstr(msg, "It works once.") != NULL);
	CHECK(strstr(msg, "Anyone who has this link can log in as alice on web1.") != NULL);
	CHECK(strstr(msg, "Do not forward") != NULL);
	CHECK(strstr(msg, "tell your administrator") != NULL);
	for (i = 0; msg[i] != '\0'; i++)
		CHECK((unsigned char)msg[i] < 0x7f);
	id = strstr(msg, "Message-ID: <");
	CHECK(id != NULL && strncmp(id + 13 + 32, "@web1.example.com>\n", 19) == 0);

	again = sesame_mail_compose(&m, &err);
	CHECK(again != NULL && id != NULL && strstr(again, "Message-ID: <") != NULL &&
	      strncmp(strstr(again, "Message-ID: <"), id, 13 + 32) != 0);
	sesame_free_str(again);
	sesame_free_str(msg);
}

/* A bare token is called a token; uses and lifetime read as words. */
static void test_compose_wording(void)
{
	struct sesame_mail m = base_mail();
	struct sesame_err err = {""};
	char *msg;

	m.link = TOKEN;
	m.uses = 0;
	msg = sesame_mail_compose(&m, &err);
	CHECK(msg != NULL && strstr(msg, "Subject: Your login token for alice on web1\n") != NULL);
	CHECK(msg != NULL && has_line(msg, TOKEN));
	CHECK(msg != NULL && strstr(msg, "any number of times") != NULL);
	sesame_free_str(msg);
	m.uses = 3;
	m.expires = NOW + 86400;
	msg = sesame_mail_compose(&m, &err);
	CHECK(msg != NULL && strstr(msg, "It works 3 times.") != NULL);
	CHECK(msg != NULL && strstr(msg, "valid for 1 day,") != NULL);
	sesame_free_str(msg);
	expect_valid_for(&m, 899, "valid for 15 minutes,");
	expect_valid_for(&m, 3600, "valid for 1 hour,");
	expect_valid_for(&m, 5400, "valid for 90 minutes,");
	expect_valid_for(&m, 7 * 86400 - 1, "valid for 7 days,");
	expect_valid_for(&m, 119, "valid for 119 seconds,");
	expect_valid_for(&m, 1, "valid for 1 second,");
}

static void expect_compose_refused(const struct sesame_mail *m, const char *why)
{
	struct sesame_err err = {""};
	char *msg = sesame_mail_compose(m, &err);

	CHECK(msg == NULL);
	CHECK(err.msg[0] != '\0');
	CHECK(strstr(err.msg, TOKEN) == NULL);
	if (msg != NULL)
		fprintf(stderr, "  compose accepted: %s\n", why);
	sesame_free_str(msg);
}

static void test_compose_refuses(void)
{
	char long_link[1100];
	struct sesame_mail m;

	m = base_mail(); m.to = "alice@example.com\nBcc: eve@evil.example";
	expect_compose_refused(&m, "to with newline");
	m = base_mail(); m.to = "alice@example.com, eve@evil.example";
	expect_compose_refused(&m, "two recipients");
	m = base_mail(); m.to = NULL;
	expect_compose_refused(&m, "no to");
	m = base_mail(); m.from = NULL;
	expect_compose_refused(&m, "no from");
	m = base_mail(); m.from = "root@web1\r\nBcc: eve@evil.example";
	expect_compose_refused(&m, "from with CRLF");
	m = base_mail(); m.user = "alice\nBcc: eve@evil.example";
	expect_compose_refused(&m, "user with newline");
	m = base_mail(); m.user = "";
	expect_compose_refused(&m, "empty user");
	m = base_mail(); m.host = "web1\r\nBcc: eve@evil.example";
	expect_compose_refused(&m, "host with CRLF");
	m = base_mail(); m.host = "w\xc3\xa9" "b";
	expect_compose_refused(&m, "non-ASCII host");
	m = base_mail(); m.link = TOKEN "\nBcc: eve@evil.example";
	expect_compose_refused(&m, "link with newline");
	m = base_mail(); m.link = NULL;
	expect_compose_refused(&m, "no link");
	memset(long_link, 'a', sizeof(long_link) - 1);
	long_link[sizeof(long_link) - 1] = '\0';
	m = base_mail(); m.link = long_link;
	expect_compose_refused(&m, "link longer than a mail line");
	m = base_mail(); m.expires = m.now;
	expect_compose_refused(&m, "already expired");
	expect_compose_refused(NULL, "NULL mail");
}

static char *read_file(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void expect_send_error(const char *command, const char *message, int timeout,
			      const char *want)
{
	struct sesame_err err = {""};

	CHECK_EQ_INT(sesame_mail_send(command, NULL, message, timeout, &err), -1);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, TOKEN) == NULL);
	if (strstr(err.msg, want) == NULL)
		fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n", command, err.msg, want);
}

static void test_send(const char *dir, const char *msg)
{
	struct sesame_err err = {""};
	char command[4200], out[4096];
	const char *got;
	int fds = test_count_fds();

	snprintf(out, sizeof(out), "%s/captured", dir);
	snprintf(command, sizeof(command), "/usr/bin/tee  \t%s", out);
	CHECK_EQ_INT(sesame_mail_send(command, NULL, msg, 10, &err), 0);
	got = read_file(out);
	CHECK(got != NULL && strcmp(got, msg) == 0);

	expect_send_error("/bin/false", msg, 10, "/bin/false: exited with status 1");
	expect_send_error("/nonexistent/sendmail -t", msg, 10,
			  "/nonexistent/sendmail: cannot execute: No such file or directory");
	expect_send_error("/etc", msg, 10, "/etc: cannot execute: Permission denied");
	expect_send_error("sendmail -t -oi", msg, 10, "sendmail: not an absolute path");
	expect_send_error("  \t ", msg, 10, "empty");
	expect_send_error(NULL, msg, 10, "not set");
	expect_send_error("/usr/bin/tee", msg, 0, "timeout");
	expect_send_error("/usr/bin/tee", NULL, 10, "no message");
	CHECK_EQ_INT(test_count_fds(), fds);
}

static void test_send_timeout(const char *msg)
{
	struct timespec t0, t1;
	double secs;
	int fds = test_count_fds();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_send_error("/bin/sleep 10", msg, 1, "/bin/sleep: killed after 1 s");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs < 5.0);
	CHECK_EQ_INT(test_count_fds(), fds);
	CHECK_EQ_INT(waitpid(-1, NULL, WNOHANG), -1); /* nothing left to reap */
}

/* /bin/true exits without reading a message bigger than a pipe holds:
 * the write fails with EPIPE, the process survives, and no SIGPIPE is
 * left pending or blocked behind it. */
static void test_send_sigpipe(void)
{
	size_t len = 1 << 20;
	char *big = malloc(len + 1);
	sigset_t mask, pending;

	if (big == NULL)
		return;
	memset(big, 'x', len);
	big[len] = '\0';
	expect_send_error("/bin/true", big, 10, "/bin/true: did not read the whole message");
	sigprocmask(SIG_SETMASK, NULL, &mask);
	sigpending(&pending);
	CHECK(!sigismember(&mask, SIGPIPE));
	CHECK(!sigismember(&pending, SIGPIPE));
	free(big);
}

/* The caller's other children stay its own, and SIGCHLD = SIG_IGN (in
 * which waitpid cannot see a child) is handled and put back. */
static void test_send_children(const char *msg)
{
	struct sigaction ign, now;
	struct sesame_err err = {""};
	pid_t other = fork();
	int status = -1;

	if (other == 0) {
		usleep(100 * 1000);
		_exit(7);
	}
	CHECK_EQ_INT(sesame_mail_send("/usr/bin/tee /dev/null", NULL, msg, 10, &err), 0);
	CHECK_EQ_INT(sesame_mail_send("/bin/false", NULL, msg, 10, &err), -1);
	CHECK_EQ_INT(waitpid(other, &status, 0), other);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &ign, NULL);
	CHECK_EQ_INT(sesame_mail_send("/usr/bin/tee /dev/null", NULL, msg, 10, &err), 0);
	CHECK_EQ_INT(sesame_mail_send("/bin/false", NULL, msg, 10, &err), -1);
	CHECK(strstr(err.msg, "exited with status 1") != NULL);
	sigaction(SIGCHLD, NULL, &now);
	CHECK(now.sa_handler == SIG_IGN);
	ign.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &ign, NULL);
}

/* What sendmail runs with when the caller is su or sudo, started by uid
 * 1502 with umask 0 in /tmp: root's ids only, no groups, default signals,
 * PATH alone, umask 022 in /, and the envelope sender. Run in a child process, since it changes its ids. */
static void send_as_invoker(const char *script, const char *out, const char *msg)
{
	struct sesame_err err = {""};
	struct sigaction ign;
	sigset_t usr1;
	gid_t groups[1] = {1502};
	char command[2200];

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &ign, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	setenv("SESAME_MARKER", "bob-was-here", 1);
	setenv("HOME", "/home/bob", 1);
	umask(0);
	if (chdir("/tmp") != 0)
		_exit(2);
	if (setgroups(1, groups) != 0 || setresgid(1502, 1502, 1502) != 0 ||
	    setresuid(1502, 0, 0) != 0)
		_exit(2);
	snprintf(command, sizeof(command), "%s %s", script, out);
	_exit(sesame_mail_send(command, "sesame@host.example", msg, 10, &err) == 0 ? 0 : 1);
}

static void test_send_credentials(const char *msg)
{
	char dir[] = "/tmp/sesame-mail-ids.XXXXXX", script[64], out[64];
	const char *got;
	FILE *f;
	pid_t pid;
	int status = -1;

	if (geteuid() != 0) {
		printf("SKIP: sendmail's ids under su (needs root)\n");
		return;
	}
	CHECK(mkdtemp(dir) != NULL && chmod(dir, 0777) == 0);
	snprintf(script, sizeof(script), "%s/sendmail", dir);
	snprintf(out, sizeof(out), "%s/seen", dir);
	f = fopen(script, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	/* grep reads its own status: the mask and ignored set it inherited */
	fprintf(f, "#!/bin/sh\nout=$1\nshift\n"
		   "{ echo \"ids=$(id -ru):$(id -u):$(id -rg):$(id -g):$(id -G)\"\n"
		   "echo \"umask=$(umask) cwd=$(pwd)\"\n"
		   "grep -E '^Sig(Ign|Blk)' /proc/self/status\nenv\necho \"args=$*\"; } >\"$out\"\n"
		   "cat >/dev/null\n");
	fclose(f);
	chmod(script, 0755);
	pid = fork();
	if (pid == 0)
		send_as_invoker(script, out, msg);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	got = read_file(out);
	CHECK(got != NULL);
	if (got == NULL)
		got = "";
	if (strstr(got, "ids=0:0:0:0:0\n") == NULL)
		fprintf(stderr, "sendmail saw:\n%s", got);
	CHECK(strstr(got, "ids=0:0:0:0:0\n") != NULL);
	CHECK(strstr(got, "SigIgn:\t0000000000000000\n") != NULL);
	CHECK(strstr(got, "SigBlk:\t0000000000000000\n") != NULL);
	CHECK(strstr(got, "SESAME_MARKER") == NULL && strstr(got, "HOME=") == NULL);
	CHECK(strstr(got, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n") != NULL);
	CHECK(strstr(got, "args=-f sesame@host.example\n") != NULL);
	CHECK(strstr(got, "umask=0022 cwd=/\n") != NULL);
	unlink(script);
	unlink(out);
	rmdir(dir);
}

int main(void)
{
	struct sesame_mail m = base_mail();
	struct sesame_err err = {""};
	const char *dir = test_tmpdir("mail");
	char *msg;

	test_address_ok();
	test_compose();
	test_compose_wording();
	test_compose_refuses();
	msg = sesame_mail_compose(&m, &err);
	CHECK(msg != NULL);
	if (msg != NULL) {
		test_send(dir, msg);
		test_send_timeout(msg);
		test_send_children(msg);
		test_send_credentials(msg);
	}
	test_send_sigpipe();
	sesame_free_str(msg);
	test_rmtree(dir);
	return test_finish("mail");
}
