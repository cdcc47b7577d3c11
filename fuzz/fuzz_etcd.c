/* etcd's answers: every decoder of common/etcd_decode.c on any bytes, as
 * a hostile or broken member (or whatever sits on its port) could send.
 *
 * Invariants: a refused answer leaves its output empty (no kvs, no
 * operations, no token) and an error that starts "unparsable answer" or
 * names memory; an accepted range has n keys, each non-empty and
 * without a NUL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/linkhash.h>

#include "etcd_codec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* json-c seeds its string hash at random per process, which moves the
 * coverage a replay reports; the fixed hash keeps --check's figures the
 * same from run to run. Decoding does not depend on the hash. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_global_set_string_hash(JSON_C_STR_HASH_PERLLIKE);
	return 0;
}

static void check_kvs(const struct sesame_etcd_kvs *kvs, int ok)
{
	if (!ok && (kvs->n != 0 || kvs->kv != NULL))
		abort();
	for (size_t i = 0; i < kvs->n; i++)
		if (kvs->kv[i].key_len == 0 || strlen(kvs->kv[i].key) != kvs->kv[i].key_len)
			abort();
}

static void check_err(int r, const struct sesame_err *err)
{
	if (r != 0 && strncmp(err->msg, "unparsable answer", 17) != 0 &&
	    strstr(err->msg, "memory") == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;
	struct sesame_etcd_kvs kvs;
	struct sesame_etcd_txn_result txn;
	struct sesame_etcd_status st;
	struct sesame_err err;
	char *token = NULL, msg[64], *copy;
	int64_t a, b;
	int r, code;

	r = sesame_etcd_decode_range(json, size, &kvs, &a, &err);
	check_err(r, &err);
	check_kvs(&kvs, r == 0);
	sesame_etcd_kvs_free(&kvs);
	r = sesame_etcd_decode_txn(json, size, &txn, &err);
	check_err(r, &err);
	if (r != 0 && (txn.n != 0 || txn.ops != NULL))
		abort();
	sesame_etcd_txn_result_free(&txn);
	check_err(sesame_etcd_decode_put(json, size, &a, &err), &err);
	check_err(sesame_etcd_decode_delete(json, size, &a, &b, &err), &err);
	check_err(sesame_etcd_decode_lease_grant(json, size, &a, &b, &err), &err);
	check_err(sesame_etcd_decode_status(json, size, &st, &err), &err);
	r = sesame_etcd_decode_auth(json, size, &token, &err);
	if (r != 0 && token != NULL)
		abort();
	free(token);
	if (sesame_etcd_decode_error(json, size, &code, msg, sizeof(msg)) == 0 &&
	    strlen(msg) >= sizeof(msg))
		abort();
	/* The JWT reader takes a NUL-terminated token. */
	copy = malloc(size + 1);
	if (copy != NULL) {
		memcpy(copy, data, size);
		copy[size] = '\0';
		sesame_etcd_jwt_expiry(copy, &a);
		free(copy);
	}
	return 0;
}
