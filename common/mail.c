/* The login-link mail: strict address checks, an RFC 5322 message with
 * nothing a user or host name can smuggle into its headers, and a
 * sendmail child that can neither hang the caller nor write into a PAM
 * conversation or a terminal, and that runs with root's ids only and a
 * fixed environment, whoever called su or sudo. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "mail.h"
#include "util.h"

#define MAIL_ADDRESS_MAX 254 /* RFC 5321 path limit less the angle brackets */
#define MAIL_LOCAL_MAX 64
#define MAIL_LABEL_MAX 63
#define MAIL_NAME_MAX 256  /* user and host names in Subject and body */
#define MAIL_LINK_MAX 990  /* the link line stays under RFC 5322's 998 */
#define MAIL_ARGS_MAX 32
#define MAIL_EXTRA_ARGS 2 /* "-f" sender */
/* Nothing from the caller's environment: under su or sudo it is the
 * invoking user's (HOME, PATH, a MAILRC or LD_ variables). */
#define MAIL_CHILD_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define MAIL_TIMEOUT_MAX 3600

/* ---- addresses ---- */

/* RFC 5322 atext: what a dot-atom local part may hold besides dots. */
static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* dot-atom: no empty atom, so no leading, trailing or doubled dot. A
 * leading '-' is refused too, so the address can never pass for an
 * option should a sendmail command ever take it as an argument. */
static int local_part_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > MAIL_LOCAL_MAX || s[0] == '.' || s[0] == '-' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Host names only: letters, digits and '-' in dot-separated labels of
 * 1-63 characters that neither start nor end with '-'. No domain literals. */
static int domain_ok(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_label_char((unsigned char)s[i]) || (label == 0 && s[i] == '-'))
			return 0;
		if (++label > MAIL_LABEL_MAX)
			return 0;
	}
	return s[len - 1] != '-';
}

int sesame_mail_address_ok(const char *addr)
{
	const char *at;
	size_t len;

	if (addr == NULL)
		return 0;
	len = strnlen(addr, MAIL_ADDRESS_MAX + 1);
	if (len == 0 || len > MAIL_ADDRESS_MAX)
		return 0;
	at = strchr(addr, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	return local_part_ok(addr, (size_t)(at - addr)) &&
	       domain_ok(at + 1, len - (size_t)(at - addr) - 1);
}

/* ---- composing ---- */

/* A growing string that wipes what it leaves behind: it holds the token. */
struct mail_buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void buf_printf(struct mail_buf *b, const char *fmt, ...) SESAME_PRINTF(2, 3);

static void buf_printf(struct mail_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *bigger = malloc(cap);

		if (bigger == NULL) {
			b->failed = 1;
			return;
		}
		memcpy(bigger, b->p, b->len + 1);
		sesame_wipe(b->p, b->cap);
		free(b->p);
		b->p = bigger;
		b->cap = cap;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0 || (size_t)n >= b->cap - b->len) {
			b->failed = 1;
			return;
		}
	}
	b->len += (size_t)n;
}

/* Printable ASCII without blanks: nothing that could end a header line,
 * fold it, or need RFC 2047 encoding in Subject. */
static int field_ok(const char *s, size_t max)
{
	size_t i, len;

	if (s == NULL)
		return 0;
	len = strnlen(s, max + 1);
	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* English names by hand, not strftime: the caller's locale must not
 * leak into a Date: header. */
static int utc_time(int64_t secs, struct tm *tm)
{
	time_t t = (time_t)secs;

	if ((int64_t)t != secs || gmtime_r(&t, tm) == NULL)
		return -1;
	if (tm->tm_year + 1900 < 1970 || tm->tm_year + 1900 > 9999)
		return -1;
	return 0;
}

static void format_rfc5322_date(const struct tm *tm, char *out, size_t n)
{
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d +0000", day_names[tm->tm_wday],
		 tm->tm_mday, month_names[tm->tm_mon], tm->tm_year + 1900, tm->tm_hour,
		 tm->tm_min, tm->tm_sec);
}

static void format_iso8601(const struct tm *tm, char *out, size_t n)
{
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm->tm_year + 1900, tm->tm_mon + 1,
		 tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
}

static int check_mail_fields(const struct sesame_mail *m, struct sesame_err *err)
{
	if (!sesame_mail_address_ok(m->from)) {
		sesame_err_set(err, "mail_from: not a plain address (user@domain)");
		return -1;
	}
	if (!sesame_mail_address_ok(m->to)) {
		sesame_err_set(err, "mail address: not a plain address (user@domain) or it "
				    "holds characters a mail header cannot carry");
		return -1;
	}
	if (!field_ok(m->user, MAIL_NAME_MAX)) {
		sesame_err_set(err, "mail: user name is empty, too long, or not printable ASCII");
		return -1;
	}
	if (!field_ok(m->host, MAIL_NAME_MAX)) {
		sesame_err_set(err, "mail: host name is empty, too long, or not printable ASCII");
		return -1;
	}
	if (!field_ok(m->link, MAIL_LINK_MAX)) {
		sesame_err_set(err, "mail: link is empty, longer than %d characters, or not "
				    "printable ASCII", MAIL_LINK_MAX);
		return -1;
	}
	if (m->expires <= m->now) {
		sesame_err_set(err, "mail: the link expires before the mail is sent");
		return -1;
	}
	return 0;
}

static void compose_headers(struct mail_buf *b, const struct sesame_mail *m, const char *what,
			    const char *date, const char *msgid)
{
	buf_printf(b, "From: %s\n", m->from);
	buf_printf(b, "To: %s\n", m->to);
	buf_printf(b, "Subject: Your login %s for %s on %s\n", what, m->user, m->host);
	buf_printf(b, "Date: %s\n", date);
	buf_printf(b, "Message-ID: <%s@%s>\n", msgid, strchr(m->from, '@') + 1);
	buf_printf(b, "MIME-Version: 1.0\n");
	buf_printf(b, "Content-Type: text/plain; charset=UTF-8\n");
	buf_printf(b, "Content-Transfer-Encoding: 8bit\n");
	buf_printf(b, "Auto-Submitted: auto-generated\n");
	buf_printf(b, "\n");
}

/* "15 minutes", "7 days": exact when a unit divides, else rounded once
 * there are two of it, since a second may pass between mint and mail
 * (899 s reads "15 minutes"). The exact time follows in the same line. */
static void human_duration(int64_t secs, char *out, size_t n)
{
	static const struct { int64_t secs; const char *name; } units[] = {
		{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"},
	};
	int64_t count;
	size_t i = 0;

	while (i < 3 && !(secs >= units[i].secs &&
			  (secs % units[i].secs == 0 || secs >= 2 * units[i].secs)))
		i++;
	count = (secs + units[i].secs / 2) / units[i].secs;
	snprintf(out, n, "%" PRId64 " %s%s", count, units[i].name, count == 1 ? "" : "s");
}

static void compose_body(struct mail_buf *b, const struct sesame_mail *m, const char *what,
			 const char *iso, const char *human)
{
	char valid[48];

	human_duration(m->expires - m->now, valid, sizeof(valid));
	buf_printf(b, "Here is a login %s for the account %s on %s:\n\n", what, m->user, m->host);
	buf_printf(b, "%s\n\n", m->link);
	buf_printf(b, "Paste it at the login prompt when you log in to %s.\n\n", m->host);
	buf_printf(b, "It is valid for %s, until %s (%s).\n", valid, iso, human);
	if (m->uses == 0)
		buf_printf(b, "It can be used any number of times until then.\n\n");
	else if (m->uses == 1)
		buf_printf(b, "It works once.\n\n");
	else
		buf_printf(b, "It works %u times.\n\n", m->uses);
	buf_printf(b, "Anyone who has this %s can log in as %s on %s.\n", what, m->user, m->host);
	buf_printf(b, "Do not forward this message or share the %s.\n", what);
	buf_printf(b, "If you did not ask for it, tell your administrator.\n");
}

void sesame_mail_from(const char *mail_from, const char *local_host,
		      char from[SESAME_MAIL_FROM_SIZE])
{
	if (mail_from[0] != '\0')
		snprintf(from, SESAME_MAIL_FROM_SIZE, "%s", mail_from);
	else
		snprintf(from, SESAME_MAIL_FROM_SIZE, "root@%s", local_host);
}

void sesame_mail_fill(struct sesame_mail *m, const struct sesame_token *t, const char *from,
		      const char *to, const char *user, const char *host, const char *link,
		      int64_t now)
{
	memset(m, 0, sizeof(*m));
	m->from = from;
	m->to = to;
	m->user = user;
	m->host = host;
	m->link = link;
	m->now = now;
	m->expires = (int64_t)t->issued + t->lifetime;
	m->uses = t->uses;
}

char *sesame_mail_compose(const struct sesame_mail *m, struct sesame_err *err)
{
	struct mail_buf b = {NULL, 0, 0, 0};
	struct tm now_tm, exp_tm;
	char date[96], iso[80], human[96], msgid[33];
	unsigned char rnd[16];
	const char *what;
	char *r = NULL;
	size_t i;

	if (m == NULL) {
		sesame_err_set(err, "mail: nothing to compose");
		goto out;
	}
	if (check_mail_fields(m, err) != 0)
		goto out;
	if (utc_time(m->now, &now_tm) != 0 || utc_time(m->expires, &exp_tm) != 0) {
		sesame_err_set(err, "mail: time out of range");
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		sesame_err_set(err, "mail: no random bytes for the Message-ID");
		goto out;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(msgid + 2 * i, 3, "%02x", rnd[i]);
	format_rfc5322_date(&now_tm, date, sizeof(date));
	format_iso8601(&exp_tm, iso, sizeof(iso));
	snprintf(human, sizeof(human), "%s %d %s %04d, %02d:%02d UTC", day_names[exp_tm.tm_wday],
		 exp_tm.tm_mday, month_names[exp_tm.tm_mon], exp_tm.tm_year + 1900,
		 exp_tm.tm_hour, exp_tm.tm_min);
	/* A bare token has no scheme; a link always does. */
	what = strstr(m->link, "://") != NULL ? "link" : "token";
	b.cap = 4096;
	b.p = malloc(b.cap);
	if (b.p == NULL) {
		sesame_err_set(err, "mail: out of memory");
		goto out;
	}
	b.p[0] = '\0';
	compose_headers(&b, m, what, date, msgid);
	compose_body(&b, m, what, iso, human);
	if (b.failed) {
		sesame_err_set(err, "mail: out of memory");
		goto out;
	}
	r = b.p;
	b.p = NULL;
out:
	if (b.p != NULL) {
		sesame_wipe(b.p, b.cap);
		free(b.p);
	}
	return r;
}

/* ---- sending ---- */

struct mail_command {
	char *copy; /* command split in place */
	char *argv[MAIL_ARGS_MAX + MAIL_EXTRA_ARGS + 1];
};

static int split_command(const char *command, const char *sender, struct mail_command *c,
			 struct sesame_err *err)
{
	char *word, *save = NULL;
	int n = 0;

	if (command == NULL || (c->copy = strdup(command)) == NULL) {
		sesame_err_set(err, "sendmail command: %s", command ? "out of memory" : "not set");
		return -1;
	}
	for (word = strtok_r(c->copy, " \t", &save); word != NULL;
	     word = strtok_r(NULL, " \t", &save)) {
		if (n == MAIL_ARGS_MAX) {
			sesame_err_set(err, "sendmail command %s: more than %d words", c->argv[0],
				       MAIL_ARGS_MAX);
			return -1;
		}
		c->argv[n++] = word;
	}
	c->argv[n] = NULL;
	if (n == 0) {
		sesame_err_set(err, "sendmail command: empty");
		return -1;
	}
	if (c->argv[0][0] != '/') {
		sesame_err_set(err, "sendmail command %s: not an absolute path", c->argv[0]);
		return -1;
	}
	if (sender != NULL && !sesame_mail_address_ok(sender)) {
		sesame_err_set(err, "sendmail command %s: the sender is not a plain address",
			       c->argv[0]);
		return -1;
	}
	/* The envelope sender, last, where sendmail, Postfix, Exim and msmtp
	 * all read it (a wrapper such as env(1) in front sees it too late to
	 * take it for its own option). An address never starts with '-'. */
	if (sender != NULL) {
		c->argv[n++] = (char *)"-f";
		c->argv[n++] = (char *)sender;
		c->argv[n] = NULL;
	}
	return 0;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - monotonic_ms();

	return left < 0 ? 0 : (int)left;
}

/* Our pipe ends must not land on 0-2 when the caller runs with those
 * closed: the child's dup2 onto its standard descriptors would clobber them. */
static int pipe_above_stdio(int fds[2])
{
	int i;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fds[i] <= STDERR_FILENO) {
			int high = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

			close(fds[i]);
			fds[i] = high;
		}
	}
	if (fds[0] < 0 || fds[1] < 0) {
		for (i = 0; i < 2; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
		return -1;
	}
	return 0;
}

/* What the child reports when it cannot get as far as exec. */
enum exec_stage { STAGE_DESCRIPTORS, STAGE_CREDENTIALS, STAGE_EXEC };

struct exec_failure {
	int stage; /* enum exec_stage */
	int error;
};

/* Root's ids and nothing else: under su or sudo the real uid and the
 * groups are the invoking user's, and /bin/sh or Postfix's sendmail would
 * drop to the real uid, making that user the envelope sender of someone
 * else's login link. As pam_unix does before unix_chkpwd, and further:
 * gid 0 and no supplementary groups. A caller that is not root cannot
 * drop its groups and has no one else's to hide: it keeps its effective
 * ids. */
static int child_take_effective_ids(void)
{
	uid_t euid = geteuid();
	gid_t gid = euid == 0 ? 0 : getegid();

	if (euid == 0 && setgroups(0, NULL) != 0)
		return -1;
	if (setresgid(gid, gid, gid) != 0 || setresuid(euid, euid, euid) != 0)
		return -1;
	return 0;
}

/* Ignored signals and the mask survive exec: give sendmail defaults. */
static void child_default_signals(void)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP, libc's own: refused */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(char *const argv[], int in_fd, int report_fd, long max_fd)
{
	static char *const env[] = {(char *)MAIL_CHILD_PATH, NULL};
	struct exec_failure f = {STAGE_DESCRIPTORS, 0};
	int null_fd;

	child_default_signals();
	if (dup2(in_fd, STDIN_FILENO) < 0 || (null_fd = open("/dev/null", O_RDWR)) < 0 ||
	    dup2(null_fd, STDOUT_FILENO) < 0 || dup2(null_fd, STDERR_FILENO) < 0) {
		f.error = errno;
		goto fail;
	}
	if (sesame_close_fds_except(report_fd, max_fd) != 0) {
		f.error = errno;
		goto fail;
	}
	f.stage = STAGE_CREDENTIALS;
	if (child_take_effective_ids() != 0) {
		f.error = errno;
		goto fail;
	}
	/* The caller's umask and working directory are the invoking user's
	 * under su: sendmail gets a root process's. */
	umask(022);
	if (chdir("/") != 0) {
		f.error = errno;
		goto fail;
	}
	f.stage = STAGE_EXEC;
	execve(argv[0], argv, env);
	f.error = errno;
fail:
	if (write(report_fd, &f, sizeof(f)) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(127);
}

struct mail_child {
	pid_t pid;
	int in_fd;     /* parent's end of the child's stdin */
	int report_fd; /* closes on exec, or carries a struct exec_failure */
};

static int spawn_child(struct mail_command *c, struct mail_child *ch, struct sesame_err *err)
{
	int in[2] = {-1, -1}, report[2] = {-1, -1};
	long max_fd = sesame_fd_limit();
	int r = -1;

	if (pipe_above_stdio(in) != 0 || pipe_above_stdio(report) != 0) {
		sesame_err_set(err, "sendmail command %s: pipe: %s", c->argv[0], strerror(errno));
		goto out;
	}
	ch->pid = fork();
	if (ch->pid < 0) {
		sesame_err_set(err, "sendmail command %s: fork: %s", c->argv[0], strerror(errno));
		goto out;
	}
	if (ch->pid == 0)
		child_exec(c->argv, in[0], report[1], max_fd);
	ch->in_fd = in[1];
	ch->report_fd = report[0];
	in[1] = report[0] = -1;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (report[i] >= 0)
			close(report[i]);
	}
	return r;
}

/* 0 once exec succeeded, -1 with err when the child said it failed or
 * kept quiet past the deadline (the caller then kills it). */
static int await_exec(struct mail_child *ch, const char *name, int64_t deadline,
		      struct sesame_err *err)
{
	struct exec_failure f;
	struct pollfd p = {ch->report_fd, POLLIN, 0};
	ssize_t n;
	int ready;

	do
		ready = poll(&p, 1, remaining_ms(deadline));
	while (ready < 0 && errno == EINTR);
	if (ready == 0) {
		sesame_err_set(err, "sendmail command %s: did not start", name);
		return -1;
	}
	do
		n = read(ch->report_fd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(f))
		sesame_err_set(err, "sendmail command %s: cannot start", name);
	else
		sesame_err_set(err, "sendmail command %s: cannot %s: %s", name,
			       f.stage == STAGE_EXEC	      ? "execute"
			       : f.stage == STAGE_CREDENTIALS ? "take root's ids"
							      : "set up descriptors",
			       strerror(f.error));
	return -1;
}

/* Write with SIGPIPE blocked in this thread only: sshd's disposition
 * stays as it was. A SIGPIPE our write raises is taken back before the
 * mask is restored, unless one was already pending for someone else. */
static int write_message(int fd, const char *msg, size_t len, int64_t deadline)
{
	sigset_t pipe_set, old_mask, pending;
	struct timespec zero = {0, 0};
	int was_pending, r = -1, saved = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	while (len > 0) {
		struct pollfd p = {fd, POLLOUT, 0};
		ssize_t n;

		if (poll(&p, 1, remaining_ms(deadline)) == 0) {
			saved = ETIMEDOUT;
			goto out;
		}
		n = write(fd, msg, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			saved = errno;
			goto out;
		}
		msg += n;
		len -= (size_t)n;
	}
	r = 0;
out:
	if (saved == EPIPE && !was_pending) {
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	errno = saved;
	return r;
}

/* Wait for exactly our child; SIGKILL it at the deadline. Returns 0 with
 * its status, or 1 when it had to be killed. */
static int reap_child(pid_t pid, int64_t deadline, int *status)
{
	struct timespec nap = {0, 5 * 1000000};
	int killed = 0;
	pid_t got;

	for (;;) {
		got = waitpid(pid, status, killed ? 0 : WNOHANG);
		if (got == pid)
			return killed;
		if (got < 0 && errno != EINTR)
			return -1;
		if (got == 0 && remaining_ms(deadline) == 0) {
			kill(pid, SIGKILL);
			killed = 1;
		} else if (got == 0) {
			nanosleep(&nap, NULL);
			if (nap.tv_nsec < 50 * 1000000)
				nap.tv_nsec *= 2;
		}
	}
}

static int explain_status(const char *name, int reaped, int status, int timeout_sec,
			  int write_errno, struct sesame_err *err)
{
	if (reaped < 0)
		sesame_err_set(err, "sendmail command %s: cannot wait for it: %s", name,
			       strerror(errno));
	else if (reaped == 1)
		sesame_err_set(err, "sendmail command %s: killed after %d s", name, timeout_sec);
	else if (WIFSIGNALED(status))
		sesame_err_set(err, "sendmail command %s: killed by signal %d", name,
			       WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		sesame_err_set(err, "sendmail command %s: exited with status %d", name,
			       WEXITSTATUS(status));
	else if (write_errno != 0)
		sesame_err_set(err, "sendmail command %s: did not read the whole message: %s", name,
			       strerror(write_errno));
	else
		return 0;
	return -1;
}

int sesame_mail_send(const char *command, const char *sender, const char *message,
		     int timeout_sec, struct sesame_err *err)
{
	struct mail_command c = {NULL, {NULL}};
	struct mail_child ch = {-1, -1, -1};
	struct sigaction old_chld;
	int borrowed = 0, started, status = 0, reaped, write_errno = 0, r = -1;
	int64_t deadline;

	if (split_command(command, sender, &c, err) != 0)
		goto out;
	if (message == NULL || timeout_sec <= 0 || timeout_sec > MAIL_TIMEOUT_MAX) {
		sesame_err_set(err, "sendmail command %s: no message or a timeout outside 1-%d s",
			       c.argv[0], MAIL_TIMEOUT_MAX);
		goto out;
	}
	deadline = monotonic_ms() + (int64_t)timeout_sec * 1000;
	borrowed = sesame_borrow_sigchld(&old_chld);
	if (spawn_child(&c, &ch, err) != 0)
		goto out;
	started = await_exec(&ch, c.argv[0], deadline, err) == 0;
	if (started && (fcntl(ch.in_fd, F_SETFL, O_NONBLOCK) != 0 ||
			write_message(ch.in_fd, message, strlen(message), deadline) != 0))
		write_errno = errno;
	close(ch.in_fd);
	ch.in_fd = -1;
	reaped = reap_child(ch.pid, deadline, &status);
	if (started) /* else await_exec has said why it did not start */
		r = explain_status(c.argv[0], reaped, status, timeout_sec, write_errno, err);
out:
	if (ch.in_fd >= 0)
		close(ch.in_fd);
	if (ch.report_fd >= 0)
		close(ch.report_fd);
	if (borrowed)
		sigaction(SIGCHLD, &old_chld, NULL);
	free(c.copy);
	return r;
}
