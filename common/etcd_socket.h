/* Connecting to the long-lived etcd helper (`sesame-etcd --serve`). */
#ifndef SESAME_ETCD_SOCKET_H
#define SESAME_ETCD_SOCKET_H

#include <stdint.h>

#include "etcd_config.h"

/* path "" = no daemon. 1 with *fd (close-on-exec, connected to a root
 * listener at a root-owned path that no one else may write); 0 when
 * there is no daemon to use (no path, no socket, no listener): the
 * caller starts its own helper; -1 with err ("store unavailable: ...")
 * when the socket is not to be trusted or the connection failed. Nothing
 * is sent here. */
int sesame_etcd_socket_connect(const char *path, int64_t deadline_ms, int *fd,
			       struct sesame_err *err);

#endif
