/* The floor of a fleet login's store work: a minimal libcurl client of
 * etcd's v3 gateway that holds an auth token (got once) and sends one
 * transaction over a connection of its own (new TCP, new TLS handshake),
 * as a login does; no helper process, no token cache, no failover. Also
 * times /v3/auth/authenticate alone on a kept connection. For the
 * fleet benchmark only. */
#ifndef SESAME_BENCH_FLEET_CLIENT_H
#define SESAME_BENCH_FLEET_CLIENT_H

#include <stddef.h>

#include "etcd_config.h"

struct fleet_client;

/* What one request cost, from libcurl's own clocks (ms). */
struct fleet_timing {
	double connect_ms; /* TCP connect (CURLINFO_CONNECT_TIME) */
	double tls_ms;     /* TLS handshake after it (APPCONNECT - CONNECT) */
	double total_ms;   /* the whole request */
};

/* Reads the password, nothing contacted. NULL on failure (message on stderr). */
struct fleet_client *fleet_client_new(const struct sesame_etcd_config *cfg);
void fleet_client_free(struct fleet_client *c);

/* POST /v3/auth/authenticate on the client's kept connection; keeps the
 * token for fleet_client_txn. 0 or -1. */
int fleet_client_authenticate(struct fleet_client *c, struct fleet_timing *t);

/* One transaction as the etcd store counts a use: compare (no revocation
 * of the token, none of the account, fewer than one use), then put the
 * use counter and a use record and read the counter back; on a connection
 * made for this request only. 0 when the transaction succeeded, -1
 * otherwise. The store's transaction nests its compares (docs/fleet.md);
 * what it writes and reads is the same. */
int fleet_client_txn(struct fleet_client *c, const char *id, struct fleet_timing *t);

#endif
