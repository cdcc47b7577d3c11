/* The etcd store's mail limits (login by email): per account, the mails
 * of the last hour with their sources in one key, mail/UIDHEX, updated by
 * compare-and-swap on its revision, so that hosts asking at once cannot
 * all see room for one more. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_etcd.h"

static int mail_room(const struct etcd_mail_entry *m, size_t n, const uint8_t *source, int64_t now,
		     const struct sesame_mail_limits *lim)
{
	unsigned account = 0, from_source = 0;
	int64_t latest = INT64_MIN;

	for (size_t i = 0; i < n; i++) {
		int recent = m[i].time > now - SESAME_ETCD_MAIL_WINDOW;
		account += recent;
		if (memcmp(m[i].source, source, SESAME_MAIL_SOURCE_LEN) != 0)
			continue;
		from_source += recent;
		if (m[i].time > latest)
			latest = m[i].time;
	}
	return !(account >= lim->per_account || from_source >= lim->per_source ||
		 (latest != INT64_MIN && now - latest < lim->interval));
}

/* Keep the last hour's entries and add this one. */
static size_t mail_add(struct etcd_mail_entry *m, size_t n, const uint8_t *source, int64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		if (m[i].time > now - SESAME_ETCD_MAIL_WINDOW)
			m[kept++] = m[i];
	if (kept == ETCD_MAIL_ENTRIES_MAX)
		memmove(m, m + 1, --kept * sizeof(*m));
	memcpy(m[kept].source, source, SESAME_MAIL_SOURCE_LEN);
	m[kept].time = now;
	return kept + 1;
}

/* One attempt: read the account's key, decide, write it back if its
 * revision is still the one read. 0 sent, 1 limited, 2 lost a race,
 * -1 unavailable. */
static int mail_try(struct store_etcd *e, const char *key, const uint8_t *source, int64_t now,
		    const struct sesame_mail_limits *lim, int64_t lease, struct etcd_mail_entry *m,
		    struct sesame_err *err)
{
	struct sesame_etcd_kvs kvs;
	struct sesame_etcd_compare same;
	struct sesame_etcd_op put;
	struct sesame_etcd_txn txn = {&same, 1, &put, 1, NULL, 0};
	struct sesame_etcd_txn_result res;
	int64_t mod = 0;
	size_t n = 0;
	char *value = NULL;
	int r = -1;

	if (sesame_etcd_get(e->s, key, &kvs, err) != 0)
		return -1;
	if (kvs.n == 1) {
		mod = kvs.kv[0].mod_revision;
		if (etcd_mail_decode(kvs.kv[0].value, kvs.kv[0].value_len, m, &n) != 0) {
			etcd_fail(e, err, "a mail record does not parse");
			goto out;
		}
	}
	if (!mail_room(m, n, source, now, lim)) {
		r = 1;
		goto out;
	}
	n = mail_add(m, n, source, now);
	value = etcd_mail_encode(m, n);
	if (value == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		goto out;
	}
	same = (struct sesame_etcd_compare){.key = key, .target = SESAME_ETCD_MOD,
					    .result = SESAME_ETCD_EQUAL, .number = mod};
	put = (struct sesame_etcd_op){.kind = SESAME_ETCD_OP_PUT, .key = key, .value = value,
				      .value_len = strlen(value), .lease = lease};
	if (sesame_etcd_txn(e->s, &txn, &res, err) == 0) {
		r = res.succeeded ? 0 : 2;
		sesame_etcd_txn_result_free(&res);
	}
out:
	free(value);
	sesame_etcd_kvs_free(&kvs);
	return r;
}

#define MAIL_TRIES 8

int store_etcd_mail_allow(struct sesame_store *st, uint32_t uid,
			  const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			  const struct sesame_mail_limits *lim, struct sesame_err *err)
{
	struct store_etcd *e = st->impl;
	struct etcd_mail_entry *m = calloc(ETCD_MAIL_ENTRIES_MAX, sizeof(*m));
	char key[ETCD_KEY_MAX];
	int64_t lease;
	int r = -1;

	if (m == NULL) {
		sesame_err_set(err, "store unavailable: out of memory");
		return -1;
	}
	if (etcd_key(e, key, err, "mail/%08" PRIx32, uid) != 0 ||
	    etcd_lease_for(e, ETCD_LEASE_USES, now + SESAME_ETCD_MAIL_WINDOW, now, &lease,
			   err) != 0)
		goto out;
	for (int i = 0; i < MAIL_TRIES; i++) {
		r = mail_try(e, key, source, now, lim, lease, m, err);
		if (r != 2)
			goto out;
	}
	etcd_fail(e, err, "the mail record of this account kept changing (%d tries)", MAIL_TRIES);
	r = -1;
out:
	free(m);
	return r;
}
