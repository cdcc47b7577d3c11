/* The gateway over libcurl. One easy handle per session keeps one TLS
 * connection for all of a login's calls. Nothing here trusts the
 * environment: no proxy, no default CA store, https only, no redirects. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "etcd_http.h"
#include "etcd_wire.h"
#include "token_cache.h"

/* A simple (non-JWT) token's life is unknown to us: etcd keeps one for
 * --auth-token-ttl (300 s by default) after its last use. */
#define SIMPLE_TOKEN_REUSE_S 240
/* Renew a JWT this long before it expires by the cluster's clock. */
#define JWT_MARGIN_S 30
#define TLS_FILE_MAX (64 * 1024)
#define PASSWORD_MAX 1024
#define ATTEMPT_MIN_MS 250

struct buf {
	char *data;
	size_t len;
	int too_big;
};

struct http {
	struct sesame_etcd_config cfg;
	char state_dir[PATH_MAX];
	CURL *curl;
	struct curl_slist *json_header;
	char *ca, *cert, *key;
	size_t ca_len, cert_len, key_len;
	char *token;
	int64_t token_until; /* by our clock; a long-lived helper drops it then */
	size_t current; /* the endpoint that answered last */
	struct buf body;
	int64_t server_time;
	int64_t skew;
	char errbuf[CURL_ERROR_SIZE];
	struct sesame_etcd_http_timing timing;
};

/* What one attempt came to. */
enum outcome { OK, NEXT_ENDPOINT, TOKEN_INVALID, FINAL };

static void free_secret(char **p, size_t *len)
{
	if (*p != NULL)
		sesame_wipe(*p, *len);
	free(*p);
	*p = NULL;
	*len = 0;
}

static int read_file(const char *path, int private_file, const char *what, char **out,
		     size_t *len, struct sesame_err *err)
{
	int fd = sesame_open_checked(path, O_RDONLY, SESAME_FILE_REGULAR, private_file,
				     !private_file, what, err);
	int r;

	if (fd < 0)
		return -1;
	r = sesame_read_fd(fd, TLS_FILE_MAX, out, len, what, path, err);
	close(fd);
	return r;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t add = size * n;
	char *bigger;

	if (b->len + add > SESAME_ETCD_REPLY_MAX) {
		b->too_big = 1;
		return 0;
	}
	bigger = realloc(b->data, b->len + add + 1);
	if (bigger == NULL)
		return 0;
	b->data = bigger;
	memcpy(b->data + b->len, data, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* The Date header: the cluster member's clock. */
static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct http *h = ctx;
	size_t len = size * n;
	char line[64];
	struct tm tm;

	if (len > 6 && len < sizeof(line) && strncasecmp(data, "Date: ", 6) == 0) {
		memcpy(line, data + 6, len - 6);
		line[len - 6] = '\0';
		memset(&tm, 0, sizeof(tm));
		if (strptime(line, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL)
			h->server_time = (int64_t)timegm(&tm);
	}
	return len;
}

static int setup_curl(struct http *h)
{
	struct curl_blob ca = {h->ca, h->ca_len, CURL_BLOB_NOCOPY};
	struct curl_blob cert = {h->cert, h->cert_len, CURL_BLOB_NOCOPY};
	struct curl_blob key = {h->key, h->key_len, CURL_BLOB_NOCOPY};
	CURL *c = h->curl;
	int bad = 0;

	h->json_header = curl_slist_append(NULL, "Content-Type: application/json");
	bad |= h->json_header == NULL;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	/* Only the configured CA: not the system's store. */
	bad |= curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK;
	if (h->cert != NULL) {
		bad |= curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
	}
	bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) != CURLE_OK;
	return bad ? -1 : 0;
}

static void http_close(void *ctx)
{
	struct http *h = ctx;

	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->json_header);
	curl_global_cleanup();
	free_secret(&h->ca, &h->ca_len);
	free_secret(&h->cert, &h->cert_len);
	free_secret(&h->key, &h->key_len);
	sesame_free_str(h->token);
	free_secret(&h->body.data, &h->body.len);
	sesame_wipe(h, sizeof(*h));
	free(h);
}

/* The member said no: what it means for this call. */
static enum outcome etcd_error(struct http *h, const char *endpoint, long status,
			       enum sesame_etcd_failure *failure, struct sesame_err *err)
{
	char msg[200];
	int code = 0;

	if (sesame_etcd_decode_error(h->body.data ? h->body.data : "", h->body.len, &code, msg,
				     sizeof(msg)) != 0) {
		*failure = SESAME_ETCD_FAIL_PROTOCOL;
		sesame_err_set(err, "store unavailable: %s: HTTP status %ld without an etcd error",
			       endpoint, status);
		return NEXT_ENDPOINT;
	}
	sesame_err_set(err, "store unavailable: %s: %s", endpoint, msg);
	if (strstr(msg, "invalid auth token") || strstr(msg, "revision of auth store is old") ||
	    strstr(msg, "user name is empty")) {
		*failure = SESAME_ETCD_FAIL_AUTH;
		return TOKEN_INVALID;
	}
	if (strstr(msg, "database space exceeded")) {
		*failure = SESAME_ETCD_FAIL_NOSPACE;
		return FINAL;
	}
	if (strstr(msg, "permission denied")) {
		*failure = SESAME_ETCD_FAIL_DENIED;
		return FINAL;
	}
	if (strstr(msg, "authentication") || code == 16) {
		*failure = SESAME_ETCD_FAIL_AUTH;
		return FINAL;
	}
	/* Unavailable (no leader, leader changed, request timed out): another
	 * member may do better within the budget. */
	*failure = SESAME_ETCD_FAIL_PROTOCOL;
	return code == 14 ? NEXT_ENDPOINT : FINAL;
}

static enum sesame_etcd_failure curl_failure(CURLcode rc, const char *detail)
{
	/* With TLS 1.3 a member's refusal of our certificate (expired,
	 * unknown CA) arrives as an alert on the first read, after the
	 * handshake: a receive error that is really a TLS one. */
	if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) && strstr(detail, " alert ") != NULL)
		return SESAME_ETCD_FAIL_TLS;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return SESAME_ETCD_FAIL_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return SESAME_ETCD_FAIL_TLS;
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
		return SESAME_ETCD_FAIL_PROTOCOL;
	default:
		return SESAME_ETCD_FAIL_UNREACHABLE;
	}
}

static void note_timing(struct http *h)
{
	curl_off_t connect = 0, tls = 0, total = 0;
	long connects = 0;

	curl_easy_getinfo(h->curl, CURLINFO_CONNECT_TIME_T, &connect);
	curl_easy_getinfo(h->curl, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(h->curl, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects);
	h->timing.reused_connection = connects == 0;
	h->timing.connect_ms = (double)connect / 1000.0;
	h->timing.tls_ms = tls > connect ? (double)(tls - connect) / 1000.0 : 0.0;
	h->timing.total_ms = (double)total / 1000.0;
}

/* One POST to one endpoint within budget_ms. */
static enum outcome attempt(struct http *h, size_t idx, const char *path, const char *body,
			    size_t len, const char *token, int64_t budget_ms, int64_t connect_ms,
			    enum sesame_etcd_failure *failure, struct sesame_err *err)
{
	const char *endpoint = h->cfg.endpoints[idx];
	char url[SESAME_ETCD_URL_MAX + 64], auth[4200];
	struct curl_slist *headers = NULL;
	long status = 0;
	CURLcode rc;

	free_secret(&h->body.data, &h->body.len);
	h->body.too_big = 0;
	h->server_time = 0;
	h->errbuf[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", endpoint, path);
	headers = h->json_header;
	if (token != NULL && (size_t)snprintf(auth, sizeof(auth), "Authorization: %s", token) <
				     sizeof(auth))
		headers = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"),
					    auth);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)budget_ms);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	rc = curl_easy_perform(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->json_header);
	if (headers != h->json_header) {
		sesame_wipe(auth, sizeof(auth));
		for (struct curl_slist *l = headers; l != NULL; l = l->next)
			sesame_wipe(l->data, strlen(l->data));
		curl_slist_free_all(headers);
	}
	note_timing(h);
	if (rc != CURLE_OK) {
		*failure = h->body.too_big ? SESAME_ETCD_FAIL_PROTOCOL : curl_failure(rc, h->errbuf);
		sesame_err_set(err, "store unavailable: %s: %s%s%s", endpoint,
			       h->body.too_big ? "answer too large" : curl_easy_strerror(rc),
			       h->errbuf[0] ? ": " : "", h->errbuf);
		return *failure == SESAME_ETCD_FAIL_PROTOCOL ? FINAL : NEXT_ENDPOINT;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (h->server_time > 0)
		h->skew = h->server_time - (int64_t)time(NULL);
	return status == 200 ? OK : etcd_error(h, endpoint, status, failure, err);
}

/* Try the endpoints, starting with the one that answered last, until
 * one answers or the deadline passes. Connecting (TCP and TLS) gets a
 * quarter of the budget: a stopped member accepts TCP in its kernel but
 * never finishes a handshake. A connected member gets two thirds of what
 * is left (the last one all of it): a member that waits for a new leader
 * answers "leader changed" once there is one, and another may do better. */
static enum outcome post(struct http *h, const char *path, const char *body, size_t len,
			 const char *token, int64_t deadline, enum sesame_etcd_failure *failure,
			 struct sesame_err *err)
{
	size_t n = h->cfg.n_endpoints;
	int64_t connect_ms = h->cfg.timeout_ms / 4;
	enum outcome o = FINAL;

	if (connect_ms < ATTEMPT_MIN_MS)
		connect_ms = ATTEMPT_MIN_MS;
	*failure = SESAME_ETCD_FAIL_TIMEOUT;
	sesame_err_set(err, "store unavailable: %s: no time left", h->cfg.endpoints[h->current]);
	for (size_t tried = 0; tried < n; tried++) {
		size_t idx = (h->current + tried) % n;
		int64_t left = deadline - sesame_etcd_now_ms(), share;

		if (left <= 0)
			break;
		share = tried + 1 == n ? left : left * 2 / 3;
		if (share < connect_ms)
			share = connect_ms < left ? connect_ms : left;
		o = attempt(h, idx, path, body, len, token, share,
			    connect_ms < share ? connect_ms : share, failure, err);
		if (o != NEXT_ENDPOINT) {
			if (o == OK)
				h->current = idx;
			return o;
		}
	}
	return o == NEXT_ENDPOINT ? FINAL : o;
}

/* A failure on our side (files, cache): "store unavailable: " + why. */
static int local_failure(enum sesame_etcd_failure *failure, struct sesame_err *err)
{
	struct sesame_err why = *err;

	*failure = SESAME_ETCD_FAIL_LOCAL;
	sesame_err_set(err, "store unavailable: %.290s", why.msg);
	return -1;
}

static int read_password(struct http *h, char **password, struct sesame_err *err)
{
	size_t len = 0;

	if (read_file(h->cfg.password_file, 1, "etcd password file", password, &len, err) != 0)
		return -1;
	while (len > 0 && ((*password)[len - 1] == '\n' || (*password)[len - 1] == '\r'))
		(*password)[--len] = '\0';
	if (len == 0 || len > PASSWORD_MAX || strchr(*password, '\n') != NULL) {
		sesame_err_set(err, "etcd password file %s: expected one line, the password",
			       h->cfg.password_file);
		free_secret(password, &len);
		return -1;
	}
	return 0;
}

/* Until when this token may be reused, by our clock. */
static int64_t token_until(const struct http *h, const char *token)
{
	int64_t now = (int64_t)time(NULL), exp;

	if (sesame_etcd_jwt_expiry(token, &exp) == 0)
		return exp - h->skew - JWT_MARGIN_S;
	return now + SIMPLE_TOKEN_REUSE_S;
}

static int authenticate(struct http *h, int64_t deadline, enum sesame_etcd_failure *failure,
			struct sesame_err *err)
{
	char *password = NULL, *json = NULL;
	int64_t started = sesame_etcd_now_ms();
	enum outcome o;
	int r = -1;

	*failure = SESAME_ETCD_FAIL_LOCAL;
	if (read_password(h, &password, err) != 0 ||
	    sesame_etcd_encode_auth(h->cfg.user, password, &json, err) != 0) {
		local_failure(failure, err);
		goto out;
	}
	o = post(h, SESAME_ETCD_PATH_AUTH, json, strlen(json), NULL, deadline, failure, err);
	if (o != OK && strstr(err->msg, "authentication is not enabled") != NULL) {
		*failure = SESAME_ETCD_FAIL_AUTH;
		sesame_err_set(err, "store unavailable: %s: etcd authentication is not enabled; "
			       "sesame needs etcd's RBAC", h->cfg.endpoints[h->current]);
		goto out;
	}
	if (o != OK)
		goto out;
	if (sesame_etcd_decode_auth(h->body.data, h->body.len, &h->token, err) != 0) {
		*failure = SESAME_ETCD_FAIL_PROTOCOL;
		goto out;
	}
	h->timing.authenticate_ms = (double)(sesame_etcd_now_ms() - started);
	h->token_until = token_until(h, h->token);
	r = sesame_token_cache_store(h->state_dir, h->cfg.user, h->token, h->token_until, err);
	if (r != 0)
		local_failure(failure, err);
out:
	if (password != NULL)
		sesame_free_str(password);
	sesame_free_str(json);
	return r;
}

static int ensure_token(struct http *h, int64_t deadline, enum sesame_etcd_failure *failure,
			struct sesame_err *err)
{
	int64_t now = (int64_t)time(NULL);
	int cached;

	if (h->token != NULL && now < h->token_until)
		return 0;
	/* Kept past its time (sesame-etcd --serve): the file may hold a
	 * fresher one that another worker got. */
	sesame_free_str(h->token);
	h->token = NULL;
	cached = sesame_token_cache_load(h->state_dir, h->cfg.user, now, &h->token,
					 &h->token_until, err);
	if (cached < 0)
		return local_failure(failure, err);
	return cached == 1 ? 0 : authenticate(h, deadline, failure, err);
}

static int http_call(void *ctx, const char *path, const char *body, size_t len,
		     struct sesame_etcd_reply *reply, enum sesame_etcd_failure *failure,
		     struct sesame_err *err)
{
	struct http *h = ctx;
	int64_t deadline = sesame_etcd_now_ms() + h->cfg.timeout_ms;
	enum outcome o = FINAL;

	memset(reply, 0, sizeof(*reply));
	h->timing.authenticate_ms = 0;
	for (int round = 0; round < 2; round++) {
		if (ensure_token(h, deadline, failure, err) != 0)
			return -1;
		o = post(h, path, body, len, h->token, deadline, failure, err);
		if (o != TOKEN_INVALID)
			break;
		/* Expired, or the auth store changed: once more, afresh. */
		sesame_free_str(h->token);
		h->token = NULL;
		sesame_token_cache_drop(h->state_dir);
	}
	if (o != OK)
		return -1;
	reply->body = h->body.data;
	reply->len = h->body.len;
	h->body.data = NULL;
	h->body.len = 0;
	snprintf(reply->endpoint, sizeof(reply->endpoint), "%s", h->cfg.endpoints[h->current]);
	reply->server_time = h->server_time;
	reply->local_time = h->server_time > 0 ? h->server_time - h->skew : 0;
	return 0;
}

void sesame_etcd_http_timing(void *ctx, struct sesame_etcd_http_timing *out)
{
	*out = ((struct http *)ctx)->timing;
}

static int load_tls_files(struct http *h, struct sesame_err *err)
{
	if (read_file(h->cfg.cacert, 0, "etcd CA file", &h->ca, &h->ca_len, err) != 0)
		return -1;
	if (h->cfg.cert[0] == '\0')
		return 0;
	if (read_file(h->cfg.cert, 0, "etcd certificate", &h->cert, &h->cert_len, err) != 0 ||
	    read_file(h->cfg.key, 1, "etcd key file", &h->key, &h->key_len, err) != 0)
		return -1;
	return 0;
}

int sesame_etcd_http_open(const struct sesame_etcd_config *cfg, const char *state_dir,
			  struct sesame_etcd_transport *t, struct sesame_err *err)
{
	struct http *h = calloc(1, sizeof(*h));
	struct sesame_err why;

	if (h == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(h);
		sesame_err_set(err, "store unavailable: cannot start libcurl");
		return -1;
	}
	h->cfg = *cfg;
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", state_dir);
	if (sesame_etcd_config_validate(cfg, &why) != 0 || load_tls_files(h, &why) != 0) {
		sesame_err_set(err, "store unavailable: %.290s", why.msg);
		goto fail;
	}
	h->curl = curl_easy_init();
	if (h->curl == NULL || setup_curl(h) != 0) {
		sesame_err_set(err, "store unavailable: cannot set up libcurl");
		goto fail;
	}
	*t = (struct sesame_etcd_transport){http_call, http_close, h};
	return 0;
fail:
	http_close(h);
	return -1;
}
