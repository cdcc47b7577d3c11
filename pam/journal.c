#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal.h"

void pam_sesame_journal_init(struct pam_sesame_journal *j)
{
	j->len = 0;
	j->overflow = 0;
}

static int key_ok(const char *key)
{
	if (key[0] == '\0' || key[0] == '_')
		return 0;
	for (const char *p = key; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

static void put(struct pam_sesame_journal *j, const void *data, size_t n)
{
	if (j->overflow || n > sizeof(j->buf) - j->len) {
		j->overflow = 1;
		return;
	}
	memcpy(j->buf + j->len, data, n);
	j->len += n;
}

void pam_sesame_journal_add(struct pam_sesame_journal *j, const char *key, const char *value)
{
	size_t n;

	if (value == NULL)
		return;
	if (!key_ok(key)) {
		j->overflow = 1; /* a caller's mistake: send nothing rather than a bad entry */
		return;
	}
	n = strlen(value);
	put(j, key, strlen(key));
	if (memchr(value, '\n', n) == NULL) {
		put(j, "=", 1);
	} else {
		uint8_t le[8];

		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)((uint64_t)n >> (8 * i));
		put(j, "\n", 1);
		put(j, le, sizeof(le));
	}
	put(j, value, n);
	put(j, "\n", 1);
}

int pam_sesame_journal_send(const struct pam_sesame_journal *j, const char *path)
{
	struct sockaddr_un sa;
	int saved = errno, fd = -1, r = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (j->overflow || j->len == 0 || strlen(path) >= sizeof(sa.sun_path))
		goto out;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto out;
	if (sendto(fd, j->buf, j->len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa,
		   (socklen_t)sizeof(sa)) == (ssize_t)j->len)
		r = 0;
out:
	if (fd >= 0)
		close(fd);
	errno = saved;
	return r;
}
