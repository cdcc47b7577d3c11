/* etcd's v3 gateway over libcurl: TLS with the configured CA and client
 * certificate, authentication with a token cached in state_dir, endpoint
 * failover, one time budget per call. Used by the sesame-etcd helper;
 * tests and benchmarks may also use it in-process. */
#ifndef SESAME_ETCD_HTTP_H
#define SESAME_ETCD_HTTP_H

#include "etcd.h"

/* Check and read the TLS files and prepare (nothing is contacted yet):
 * 0 with *t, or -1 with err. The password is read when it is needed. */
int sesame_etcd_http_open(const struct sesame_etcd_config *cfg, const char *state_dir,
			  struct sesame_etcd_transport *t, struct sesame_err *err);

/* Costs the benchmark reports on their own, from the last call. */
struct sesame_etcd_http_timing {
	double connect_ms;       /* TCP */
	double tls_ms;           /* TLS handshake after TCP */
	double authenticate_ms;  /* /v3/auth/authenticate, 0 when the cached token served */
	double total_ms;
	int reused_connection;
};
void sesame_etcd_http_timing(void *ctx, struct sesame_etcd_http_timing *out);

#endif
