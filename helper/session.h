/* One conversation of the sesame-etcd helper with its caller, over the
 * framed protocol of etcd_wire.h: the settings, then requests answered
 * one by one. Shared by the helper a caller starts (stdin) and by the
 * workers of `sesame-etcd --serve` (one accepted connection each). */
#ifndef SESAME_HELPER_SESSION_H
#define SESAME_HELPER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "etcd_wire.h"

/* The "C" frame, as it came ("STATE_DIR\nkey=value\n..."): a fresh
 * payload, or NULL when none came by deadline_ms. */
char *sesame_helper_read_settings(struct sesame_etcd_wire *w, size_t *len, int64_t deadline_ms);

/* Parse a "C" payload into cfg and state_dir. 0, or -1 with err. */
int sesame_helper_parse_settings(const char *payload, struct sesame_etcd_config *cfg,
				 char *state_dir, size_t n, struct sesame_err *err);

/* A failure frame: "store unavailable: ..." as the caller reports it. */
int sesame_helper_send_failure(int fd, enum sesame_etcd_failure f, const char *msg,
			       int64_t deadline_ms);

/* Answer requests until the caller closes: through t, or (t NULL) with
 * open_err to each. idle_ms >= 0: a request, and each answer's sending,
 * must be done within idle_ms of the last answer, or the conversation
 * ends (a worker is not held by a caller that stalls). 0 when the caller
 * closed, 1 on a broken or late conversation. */
int sesame_helper_serve(struct sesame_etcd_wire *w, struct sesame_etcd_transport *t,
			const struct sesame_err *open_err, int64_t idle_ms);

#endif
