/* A minimal etcd gateway client for the benchmark's floor: libcurl with
 * the same TLS settings as the helper (only the configured CA, the
 * client certificate, TLS 1.2 or later), request bodies from sesame's
 * codec. Each transaction gets a new easy handle, so a new TCP
 * connection and a full TLS handshake, as a login's helper process has;
 * what it skips is everything else a login does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "etcd_codec.h"
#include "fleet_client.h"

#define PASSWORD_MAX 1024

struct body {
	char *data;
	size_t len;
};

struct fleet_client {
	struct sesame_etcd_config cfg;
	char password[PASSWORD_MAX];
	char *token;
	CURL *kept; /* authenticate's connection */
	struct body body;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t add = size * n;
	char *bigger = realloc(b->data, b->len + add + 1);

	if (bigger == NULL)
		return 0;
	b->data = bigger;
	memcpy(b->data + b->len, data, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static CURL *new_handle(struct fleet_client *c)
{
	CURL *h = curl_easy_init();
	int bad;

	if (h == NULL)
		return NULL;
	bad = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.cacert) != CURLE_OK;
	if (c->cfg.cert[0] != '\0') {
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT, c->cfg.cert) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY, c->cfg.key) != CURLE_OK;
	}
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->cfg.timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body) != CURLE_OK;
	if (bad) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* The last answer may hold an auth token: wiped before it goes. */
static void drop_body(struct fleet_client *c)
{
	if (c->body.data != NULL)
		sesame_wipe(c->body.data, c->body.len);
	free(c->body.data);
	c->body.data = NULL;
	c->body.len = 0;
}

/* POST json to the first endpoint; 0 on HTTP 200 (the answer in c->body). */
static int post(struct fleet_client *c, CURL *h, const char *path, const char *json,
		struct fleet_timing *t)
{
	char url[SESAME_ETCD_URL_MAX + 64], auth[4200];
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_off_t connect = 0, tls = 0, total = 0;
	long status = 0;
	CURLcode rc;

	drop_body(c);
	snprintf(url, sizeof(url), "%s%s", c->cfg.endpoints[0], path);
	if (c->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: %s", c->token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	for (struct curl_slist *l = headers; l != NULL; l = l->next)
		sesame_wipe(l->data, strlen(l->data));
	curl_slist_free_all(headers);
	sesame_wipe(auth, sizeof(auth));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect);
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total);
	t->connect_ms = (double)connect / 1000.0;
	t->tls_ms = tls > connect ? (double)(tls - connect) / 1000.0 : 0.0;
	t->total_ms = (double)total / 1000.0;
	if (rc != CURLE_OK || status != 200) {
		fprintf(stderr, "bench-fleet: %s%s: %s, HTTP %ld: %.200s\n", c->cfg.endpoints[0], path,
			curl_easy_strerror(rc), status, c->body.data ? c->body.data : "");
		return -1;
	}
	return 0;
}

static int read_password(struct fleet_client *c)
{
	FILE *f = fopen(c->cfg.password_file, "re");
	int ok = f != NULL && fgets(c->password, sizeof(c->password), f) != NULL;

	if (f != NULL)
		fclose(f);
	c->password[strcspn(c->password, "\r\n")] = '\0';
	if (!ok || c->password[0] == '\0') {
		fprintf(stderr, "bench-fleet: cannot read %s\n", c->cfg.password_file);
		return -1;
	}
	return 0;
}

struct fleet_client *fleet_client_new(const struct sesame_etcd_config *cfg)
{
	struct fleet_client *c = calloc(1, sizeof(*c));

	if (c == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(c);
		return NULL;
	}
	c->cfg = *cfg;
	if (read_password(c) != 0 || (c->kept = new_handle(c)) == NULL) {
		fleet_client_free(c);
		return NULL;
	}
	return c;
}

void fleet_client_free(struct fleet_client *c)
{
	if (c == NULL)
		return;
	if (c->kept != NULL)
		curl_easy_cleanup(c->kept);
	sesame_wipe(c->password, sizeof(c->password));
	if (c->token != NULL)
		sesame_free_str(c->token);
	drop_body(c);
	free(c);
	curl_global_cleanup();
}

int fleet_client_authenticate(struct fleet_client *c, struct fleet_timing *t)
{
	struct sesame_err err;
	char *json = NULL, *saved = c->token;
	int r = -1;

	c->token = NULL; /* authenticate carries no token */
	if (sesame_etcd_encode_auth(c->cfg.user, c->password, &json, &err) != 0 ||
	    post(c, c->kept, SESAME_ETCD_PATH_AUTH, json, t) != 0 ||
	    sesame_etcd_decode_auth(c->body.data, c->body.len, &c->token, &err) != 0) {
		c->token = saved;
		goto out;
	}
	if (saved != NULL)
		sesame_free_str(saved);
	r = 0;
out:
	if (json != NULL)
		sesame_free_str(json);
	return r;
}

/* The use record's value: what the backend stores about a use (time,
 * host, service, remote host and user, tty), at its usual size. */
static void use_details(char *out, size_t n)
{
	snprintf(out, n, "{\"at\":%lld,\"host\":\"web-17.example.net\",\"service\":\"sshd\","
		 "\"rhost\":\"192.0.2.44\",\"ruser\":\"\",\"tty\":\"ssh\",\"user\":\"alice\","
		 "\"uid\":1501}", (long long)time(NULL));
}

int fleet_client_txn(struct fleet_client *c, const char *id, struct fleet_timing *t)
{
	char uses[256], record[300], revoked[256], revoked_user[256], value[256];
	struct sesame_etcd_txn_result res;
	struct sesame_err err;
	char *json = NULL;
	CURL *h = NULL;
	int r = -1;

	snprintf(uses, sizeof(uses), "%suses/%s", c->cfg.prefix, id);
	snprintf(record, sizeof(record), "%s/%lld-%s", uses, (long long)time(NULL), id);
	snprintf(revoked, sizeof(revoked), "%srevoked/%s", c->cfg.prefix, id);
	snprintf(revoked_user, sizeof(revoked_user), "%srevoked-users/1501", c->cfg.prefix);
	use_details(value, sizeof(value));
	const struct sesame_etcd_compare cmp[] = {
		{.key = revoked, .target = SESAME_ETCD_VERSION, .result = SESAME_ETCD_EQUAL},
		{.key = revoked_user, .target = SESAME_ETCD_VERSION, .result = SESAME_ETCD_EQUAL},
		{.key = uses, .target = SESAME_ETCD_VERSION, .result = SESAME_ETCD_LESS, .number = 1},
	};
	const struct sesame_etcd_op ok[] = {
		{.kind = SESAME_ETCD_OP_PUT, .key = uses, .value = value, .value_len = strlen(value)},
		{.kind = SESAME_ETCD_OP_PUT, .key = record, .value = value, .value_len = strlen(value)},
		{.kind = SESAME_ETCD_OP_RANGE, .key = uses},
	};
	const struct sesame_etcd_op no[] = {
		{.kind = SESAME_ETCD_OP_RANGE, .key = revoked},
		{.kind = SESAME_ETCD_OP_RANGE, .key = revoked_user},
		{.kind = SESAME_ETCD_OP_RANGE, .key = uses},
	};
	const struct sesame_etcd_txn txn = {cmp, 3, ok, 3, no, 3};

	memset(&res, 0, sizeof(res));
	if (sesame_etcd_encode_txn(&txn, &json, &err) != 0 || (h = new_handle(c)) == NULL)
		goto out;
	if (post(c, h, SESAME_ETCD_PATH_TXN, json, t) != 0 ||
	    sesame_etcd_decode_txn(c->body.data, c->body.len, &res, &err) != 0)
		goto out;
	r = res.succeeded ? 0 : -1;
	if (!res.succeeded)
		fprintf(stderr, "bench-fleet: the transaction for %s did not succeed\n", id);
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	sesame_etcd_txn_result_free(&res);
	if (json != NULL)
		sesame_free_str(json);
	return r;
}
