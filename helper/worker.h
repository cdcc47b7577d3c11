/* A worker of `sesame-etcd --serve`: accepts root's connections on the
 * shared listening socket and serves them one at a time. */
#ifndef SESAME_HELPER_WORKER_H
#define SESAME_HELPER_WORKER_H

#include <stdint.h>

/* Returns when SIGTERM came or the parent is gone: the exit status.
 * A session unused for idle_ms is dropped. */
int sesame_worker_run(int listen_fd, int64_t idle_ms);

#endif
