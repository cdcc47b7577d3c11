/* Frames between the caller and the sesame-etcd helper, over one
 * socketpair: "T LEN\n" then LEN bytes. T is C (settings), Q (request),
 * R (answer) or E (failure). Every read and write has a deadline. */
#ifndef SESAME_ETCD_WIRE_H
#define SESAME_ETCD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SESAME_ETCD_WIRE_MAX ((16u << 20) + 4096)

/* CLOCK_MONOTONIC in milliseconds. */
int64_t sesame_etcd_now_ms(void);

struct sesame_etcd_wire {
	int fd;
	size_t start, end;
	char buf[4096];
};

void sesame_etcd_wire_init(struct sesame_etcd_wire *w, int fd);

/* Send tag with the payload a then b (b may be NULL). deadline_ms < 0:
 * none. 0, or -1 with errno (ETIMEDOUT, EPIPE, ...); never SIGPIPE. */
int sesame_etcd_wire_send(int fd, char tag, const char *a, size_t alen, const char *b,
			  size_t blen, int64_t deadline_ms);

/* Receive one frame of at most max bytes: a fresh NUL-terminated
 * payload. 0, or -1 with errno: ETIMEDOUT, EPROTO (bad frame), ENODATA
 * (the other end closed before a frame began). */
int sesame_etcd_wire_recv(struct sesame_etcd_wire *w, char *tag, char **payload, size_t *len,
			  size_t max, int64_t deadline_ms);

#endif
