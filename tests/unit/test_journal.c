/* pam/journal.c: the native protocol's two forms of a field, entries
 * that do not fit, and sending: to a socket that reads, to none, and to
 * one whose queue is full (never waiting), with no descriptor left. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal.h"
#include "testutil.h"

static int bind_at(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void test_forms(void)
{
	static const char want[] = "MESSAGE=hello\nSESAME_X\n\x05\0\0\0\0\0\0\0a\nb=c\nEMPTY=\n";
	struct pam_sesame_journal j;

	pam_sesame_journal_init(&j);
	pam_sesame_journal_add(&j, "MESSAGE", "hello");
	pam_sesame_journal_add(&j, "SESAME_X", "a\nb=c"); /* binary-safe form */
	pam_sesame_journal_add(&j, "ABSENT", NULL);
	pam_sesame_journal_add(&j, "EMPTY", "");
	CHECK(!j.overflow);
	CHECK_EQ_INT(j.len, sizeof(want) - 1);
	CHECK(memcmp(j.buf, want, sizeof(want) - 1) == 0);
}

static void test_refused(void)
{
	static char big[PAM_SESAME_JOURNAL_MAX];
	struct pam_sesame_journal j;

	pam_sesame_journal_init(&j);
	pam_sesame_journal_add(&j, "_PID", "1"); /* trusted fields are journald's */
	CHECK(j.overflow);
	pam_sesame_journal_init(&j);
	pam_sesame_journal_add(&j, "lower", "x");
	CHECK(j.overflow);
	pam_sesame_journal_init(&j);
	memset(big, 'x', sizeof(big) - 1);
	pam_sesame_journal_add(&j, "MESSAGE", big);
	CHECK(j.overflow);
	CHECK_EQ_INT(pam_sesame_journal_send(&j, "/nonexistent/socket"), -1);
}

static void test_send(const char *dir)
{
	char path[256], got[PAM_SESAME_JOURNAL_MAX];
	struct pam_sesame_journal j;
	int fd, before, sent = 0;

	snprintf(path, sizeof(path), "%s/socket", dir);
	fd = bind_at(path);
	CHECK(fd >= 0);
	pam_sesame_journal_init(&j);
	pam_sesame_journal_add(&j, "MESSAGE", "one");
	before = test_count_fds();
	errno = EINTR;
	CHECK_EQ_INT(pam_sesame_journal_send(&j, path), 0);
	CHECK_EQ_INT(errno, EINTR); /* left as it was */
	CHECK_EQ_INT(recv(fd, got, sizeof(got), 0), (long)j.len);
	CHECK(memcmp(got, "MESSAGE=one\n", j.len) == 0);
	/* Nobody reads now: the queue fills and sends fail at once. */
	alarm(30);
	for (int i = 0; i < 1000; i++)
		sent += pam_sesame_journal_send(&j, path) == 0;
	alarm(0);
	CHECK(sent > 0 && sent < 1000);
	CHECK_EQ_INT(test_count_fds(), before);
	close(fd);
	unlink(path);
	CHECK_EQ_INT(pam_sesame_journal_send(&j, path), -1); /* no journal */
	CHECK_EQ_INT(test_count_fds(), before - 1);
}

int main(void)
{
	const char *dir = test_tmpdir("journal");

	signal(SIGALRM, SIG_DFL); /* a send that waits ends the test */
	test_forms();
	test_refused();
	test_send(dir);
	test_rmtree(dir);
	return test_finish("journal");
}
