/* A worker of `sesame-etcd --serve`: accepts root's connections on the
 * shared listening socket and serves them one at a time. */
#ifndef SESAME_HELPER_WORKER_H
#define SESAME_HELPER_WORKER_H

/* Returns when SIGTERM came or the parent is gone: the exit status. */
int sesame_worker_run(int listen_fd);

#endif
