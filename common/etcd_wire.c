#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "etcd_wire.h"
#include "util.h"

int64_t sesame_etcd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_for(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = {fd, events, 0};
	int ready;

	for (;;) {
		int64_t left = deadline_ms < 0 ? -1 : deadline_ms - sesame_etcd_now_ms();

		if (deadline_ms >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ready = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (ready > 0)
			return 0;
		if (ready < 0 && errno != EINTR)
			return -1;
	}
}

void sesame_etcd_wire_init(struct sesame_etcd_wire *w, int fd)
{
	w->fd = fd;
	w->start = w->end = 0;
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline_ms)
{
	while (len > 0) {
		ssize_t n;

		if (wait_for(fd, POLLOUT, deadline_ms) != 0)
			return -1;
		/* A socket, so MSG_NOSIGNAL: no SIGPIPE in the caller's process. */
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sesame_etcd_wire_send(int fd, char tag, const char *a, size_t alen, const char *b,
			  size_t blen, int64_t deadline_ms)
{
	char head[32];
	int n;

	if (b == NULL)
		blen = 0;
	if (alen + blen > SESAME_ETCD_WIRE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	n = snprintf(head, sizeof(head), "%c %zu\n", tag, alen + blen);
	if (send_all(fd, head, (size_t)n, deadline_ms) != 0 ||
	    send_all(fd, a, alen, deadline_ms) != 0 ||
	    (blen > 0 && send_all(fd, b, blen, deadline_ms) != 0))
		return -1;
	return 0;
}

/* Fill the buffer with whatever is there; 0 bytes at the end is ENODATA. */
static int fill(struct sesame_etcd_wire *w, int64_t deadline_ms)
{
	ssize_t n;

	if (w->start > 0) {
		memmove(w->buf, w->buf + w->start, w->end - w->start);
		w->end -= w->start;
		w->start = 0;
	}
	for (;;) {
		if (wait_for(w->fd, POLLIN, deadline_ms) != 0)
			return -1;
		n = read(w->fd, w->buf + w->end, sizeof(w->buf) - w->end);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ENODATA;
			return -1;
		}
		w->end += (size_t)n;
		return 0;
	}
}

static int read_head(struct sesame_etcd_wire *w, char *tag, size_t *len, int64_t deadline_ms)
{
	char *nl, *end = NULL;
	unsigned long long n;

	while ((nl = memchr(w->buf + w->start, '\n', w->end - w->start)) == NULL) {
		if (w->end - w->start > 24) {
			errno = EPROTO;
			return -1;
		}
		if (fill(w, deadline_ms) != 0)
			return -1;
	}
	*nl = '\0';
	*tag = w->buf[w->start];
	if (w->buf[w->start + 1] != ' ' || w->buf[w->start + 2] < '0' ||
	    w->buf[w->start + 2] > '9') {
		errno = EPROTO;
		return -1;
	}
	n = strtoull(w->buf + w->start + 2, &end, 10);
	if (*end != '\0') {
		errno = EPROTO;
		return -1;
	}
	*len = (size_t)n;
	w->start = (size_t)(nl + 1 - w->buf);
	return 0;
}

int sesame_etcd_wire_recv(struct sesame_etcd_wire *w, char *tag, char **payload, size_t *len,
			  size_t max, int64_t deadline_ms)
{
	size_t want, got = 0;
	char *buf;

	*payload = NULL;
	if (read_head(w, tag, &want, deadline_ms) != 0)
		return -1;
	if (want > max || (buf = malloc(want + 1)) == NULL) {
		errno = want > max ? EPROTO : ENOMEM;
		return -1;
	}
	while (got < want) {
		size_t take;

		if (w->start == w->end && fill(w, deadline_ms) != 0) {
			if (errno == ENODATA)
				errno = EPROTO; /* cut short inside a frame */
			sesame_wipe(buf, got);
			free(buf);
			return -1;
		}
		take = w->end - w->start < want - got ? w->end - w->start : want - got;
		memcpy(buf + got, w->buf + w->start, take);
		sesame_wipe(w->buf + w->start, take);
		w->start += take;
		got += take;
	}
	buf[want] = '\0';
	*payload = buf;
	*len = want;
	return 0;
}
