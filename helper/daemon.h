/* `sesame-etcd --serve`: the long-lived etcd helper on a Unix socket. */
#ifndef SESAME_HELPER_DAEMON_H
#define SESAME_HELPER_DAEMON_H

#include "etcd_config.h"

#define SESAME_DAEMON_WORKERS_DEFAULT 4
#define SESAME_DAEMON_WORKERS_MAX 64
/* A worker drops a settings' session (connection, auth token, client
 * key in libcurl) unused this long. */
#define SESAME_DAEMON_IDLE_DEFAULT 60
#define SESAME_DAEMON_IDLE_MAX 600

struct sesame_daemon_options {
	char socket[SESAME_ETCD_SOCKET_MAX]; /* made by us unless systemd passes one */
	int workers;
	int idle_sec; /* --session-idle */
};

/* "--serve [--socket PATH] [--workers N] [--session-idle SECONDS]". 0 or -1. */
int sesame_daemon_parse(struct sesame_daemon_options *opt, int argc, char **argv);

/* Serve until SIGTERM or SIGINT: the exit status. */
int sesame_daemon_run(const struct sesame_daemon_options *opt);

#endif
