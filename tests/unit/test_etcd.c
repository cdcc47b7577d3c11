/* The etcd client without a cluster: its settings, the gateway JSON it
 * writes (golden strings) and reads (good and hostile answers), and the
 * primitives over a scripted transport. tests/fleet runs it for real. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "testutil.h"

static int set(struct sesame_etcd_config *c, const char *key, const char *value)
{
	struct sesame_err err = {""};
	int r = sesame_etcd_config_set(c, key, value, &err);

	/* No message may echo the value it refused. */
	if (r != 0 && value[0] != '\0')
		CHECK(strstr(err.msg, value) == NULL);
	return r;
}

static void test_config(void)
{
	struct sesame_etcd_config c, back;
	struct sesame_err err;
	char *text;

	sesame_etcd_config_defaults(&c);
	CHECK_EQ_INT(c.timeout_ms, 2000);
	CHECK(strcmp(c.prefix, "/sesame/") == 0);
	CHECK_EQ_INT(set(&c, "etcd_endpoints", "https://a.example:2379, https://10.0.0.2:2379/,"
						"https://[fd00::1]:2379"), 0);
	CHECK_EQ_INT(c.n_endpoints, 3);
	CHECK(strcmp(c.endpoints[1], "https://10.0.0.2:2379") == 0);
	CHECK(strcmp(c.endpoints[2], "https://[fd00::1]:2379") == 0);
	CHECK_EQ_INT(set(&c, "etcd_endpoints", "http://a:2379"), -2);
	CHECK_EQ_INT(set(&c, "etcd_endpoints", "https://root:s3cret@a:2379"), -2);
	CHECK_EQ_INT(set(&c, "etcd_endpoints", "https://a:2379/v3"), -2);
	CHECK_EQ_INT(set(&c, "etcd_endpoints", "https://a:99999"), -2);
	CHECK_EQ_INT(set(&c, "etcd_endpoints", ""), -2);
	CHECK_EQ_INT(c.n_endpoints, 3); /* a refused value changes nothing */
	CHECK_EQ_INT(set(&c, "etcd_timeout", "1500ms"), 0);
	CHECK_EQ_INT(c.timeout_ms, 1500);
	CHECK_EQ_INT(set(&c, "etcd_timeout", "3"), 0);
	CHECK_EQ_INT(c.timeout_ms, 3000);
	CHECK_EQ_INT(set(&c, "etcd_timeout", "50ms"), -2);
	CHECK_EQ_INT(set(&c, "etcd_timeout", "2m"), -2);
	CHECK_EQ_INT(c.clock_skew, 300);
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "5s"), 0);
	CHECK_EQ_INT(c.clock_skew, 5);
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "1h"), 0);
	CHECK_EQ_INT(c.clock_skew, 3600);
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "2h"), -2); /* near the 24 h grace */
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "0"), -2);
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "-5"), -2);
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "5x"), -2);
	CHECK_EQ_INT(c.clock_skew, 3600); /* a refused value changes nothing */
	CHECK_EQ_INT(set(&c, "etcd_clock_skew", "2m"), 0);
	CHECK_EQ_INT(set(&c, "etcd_prefix", "/corp/sesame/"), 0);
	CHECK_EQ_INT(set(&c, "etcd_prefix", "/corp"), -2);
	CHECK_EQ_INT(set(&c, "etcd_prefix", "/a/../b/"), -2);
	CHECK_EQ_INT(set(&c, "etcd_user", "sesame-verifier"), 0);
	CHECK_EQ_INT(set(&c, "etcd_user", "a b"), -2);
	CHECK_EQ_INT(set(&c, "etcd_password_file", "relative/pw"), -2);
	CHECK_EQ_INT(set(&c, "etcd_nonsense", "x"), -1);
	CHECK(sesame_etcd_config_validate(&c, &err) != 0);
	CHECK(strstr(err.msg, "etcd_cacert") != NULL);
	CHECK_EQ_INT(set(&c, "etcd_cacert", "/etc/sesame/etcd-ca.crt"), 0);
	CHECK_EQ_INT(set(&c, "etcd_password_file", "/etc/sesame/etcd.password"), 0);
	CHECK_EQ_INT(set(&c, "etcd_cert", "/etc/sesame/etcd.crt"), 0);
	CHECK(sesame_etcd_config_validate(&c, &err) != 0); /* a cert without its key */
	CHECK_EQ_INT(set(&c, "etcd_key", "/etc/sesame/etcd.key"), 0);
	CHECK_EQ_INT(sesame_etcd_config_validate(&c, &err), 0);
	/* What the helper gets is what the caller had. */
	text = sesame_etcd_config_format(&c);
	CHECK(text != NULL && sesame_etcd_config_parse(&back, text, &err) == 0);
	CHECK(memcmp(&back, &c, sizeof(c)) == 0);
	free(text);
	CHECK(sesame_etcd_config_is_key("etcd_timeout") && !sesame_etcd_config_is_key("url"));
}

static void test_encode(void)
{
	struct sesame_etcd_compare cmp = {.key = "/s/uses/ab", .target = SESAME_ETCD_VERSION,
					  .result = SESAME_ETCD_LESS, .number = 3};
	struct sesame_etcd_op put = {.kind = SESAME_ETCD_OP_PUT, .key = "/s/uses/ab",
				     .value = "u", .value_len = 1, .lease = 77};
	struct sesame_etcd_op get = {.kind = SESAME_ETCD_OP_RANGE, .key = "/s/", .prefix = 1,
				     .limit = 10};
	struct sesame_etcd_txn txn = {&cmp, 1, &put, 1, &get, 1};
	struct sesame_err err;
	char *json = NULL, *end;

	CHECK_EQ_INT(sesame_etcd_encode_txn(&txn, &json, &err), 0);
	CHECK(json != NULL &&
	      strcmp(json, "{\"compare\":[{\"key\":\"L3MvdXNlcy9hYg==\",\"target\":\"VERSION\","
			   "\"result\":\"LESS\",\"version\":\"3\"}],\"success\":[{\"request_put\":"
			   "{\"key\":\"L3MvdXNlcy9hYg==\",\"value\":\"dQ==\",\"lease\":\"77\"}}],"
			   "\"failure\":[{\"request_range\":{\"key\":\"L3Mv\",\"range_end\":\"L3Mw\","
			   "\"limit\":\"10\"}}]}") == 0);
	free(json);
	CHECK_EQ_INT(sesame_etcd_encode_auth("u\"x", "p\\w", &json, &err), 0);
	CHECK(json != NULL && strcmp(json, "{\"name\":\"u\\\"x\",\"password\":\"p\\\\w\"}") == 0);
	sesame_free_str(json);
	CHECK(sesame_etcd_encode_lease_grant(0, &json, &err) != 0);
	end = sesame_etcd_prefix_end("/a/");
	CHECK(end != NULL && strcmp(end, "/a0") == 0);
	free(end);
	end = sesame_etcd_prefix_end("a\xff");
	CHECK(end != NULL && strcmp(end, "b") == 0);
	free(end);
}

static int decode_range(const char *json, struct sesame_etcd_kvs *kvs)
{
	struct sesame_err err;
	int64_t rev;

	return sesame_etcd_decode_range(json, strlen(json), kvs, &rev, &err);
}

static void test_decode(void)
{
	struct sesame_etcd_kvs kvs;
	struct sesame_etcd_txn_result txn;
	struct sesame_err err;
	char msg[64];
	int code;
	int64_t exp;
	const char *ok_txn =
		"{\"header\":{\"revision\":\"9\"},\"succeeded\":true,\"responses\":["
		"{\"response_put\":{\"header\":{\"revision\":\"9\"}}},"
		"{\"response_range\":{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"version\":\"2\","
		"\"value\":\"eQ==\",\"lease\":\"5\"}],\"count\":\"1\"}}]}";

	CHECK_EQ_INT(decode_range("{\"header\":{\"revision\":\"4\"},\"kvs\":[{\"key\":\"YQ==\","
				  "\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\","
				  "\"value\":\"eQ==\"}],\"count\":\"1\"}", &kvs), 0);
	CHECK(kvs.n == 1 && strcmp(kvs.kv[0].key, "a") == 0 && kvs.kv[0].version == 2 &&
	      kvs.kv[0].value_len == 1 && kvs.count == 1);
	sesame_etcd_kvs_free(&kvs);
	/* Zero values are left out by the gateway. */
	CHECK_EQ_INT(decode_range("{\"header\":{}}", &kvs), 0);
	CHECK(kvs.n == 0 && kvs.count == 0);
	/* Hostile or broken answers are refused, never read as empty. */
	CHECK(decode_range("", &kvs) != 0);
	CHECK(decode_range("{}", &kvs) != 0);                          /* no header */
	CHECK(decode_range("{\"header\":{}} x", &kvs) != 0);           /* trailing bytes */
	CHECK(decode_range("[1]", &kvs) != 0);
	CHECK(decode_range("{\"header\":{},\"kvs\":{}}", &kvs) != 0);  /* wrong type */
	CHECK(decode_range("{\"header\":{},\"kvs\":[{\"key\":\"!!\"}]}", &kvs) != 0);
	CHECK(decode_range("{\"header\":{},\"kvs\":[{\"key\":\"\"}]}", &kvs) != 0);
	CHECK(decode_range("{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"version\":\"2x\"}]}",
			   &kvs) != 0);
	CHECK(decode_range("{\"header\":{},\"count\":\"99999999999999999999\"}", &kvs) != 0);
	CHECK(decode_range("{\"header\":{},\"kvs\":[{\"key\":\"YQ==\"},7]}", &kvs) != 0);
	CHECK_EQ_INT(sesame_etcd_decode_txn(ok_txn, strlen(ok_txn), &txn, &err), 0);
	CHECK(txn.succeeded && txn.n == 2 && txn.ops[1].kind == SESAME_ETCD_OP_RANGE &&
	      txn.ops[1].range.kv[0].lease == 5);
	sesame_etcd_txn_result_free(&txn);
	CHECK(sesame_etcd_decode_txn("{\"header\":{},\"responses\":[{\"response_x\":{}}]}", 47,
				     &txn, &err) != 0);
	{
		const char *e = "{\"error\":\"etcdserver: permission denied\",\"message\":\"x\","
				"\"code\":7}";
		CHECK_EQ_INT(sesame_etcd_decode_error(e, strlen(e), &code, msg, sizeof(msg)), 0);
	}
	CHECK(code == 7 && strcmp(msg, "etcdserver: permission denied") == 0);
	CHECK(sesame_etcd_decode_error("{\"header\":{}}", 13, &code, msg, sizeof(msg)) != 0);
	/* {"exp":1796189561,...} from etcd's JWT, no padding, url alphabet. */
	CHECK_EQ_INT(sesame_etcd_jwt_expiry("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3OTYxODk1NjEsInJldmlz"
					    "aW9uIjoxOSwidXNlcm5hbWUiOiJ2ZXJpZmllciJ9.sig", &exp), 0);
	CHECK_EQ_INT(exp, 1796189561);
	CHECK(sesame_etcd_jwt_expiry("simpletoken.17", &exp) != 0);
}

/* A transport that answers from a script and keeps the last request. */
struct script {
	const char *answer;
	int fail;
	char last[4096];
};

static int script_call(void *ctx, const char *path, const char *body, size_t len,
		       struct sesame_etcd_reply *reply, enum sesame_etcd_failure *failure,
		       struct sesame_err *err)
{
	struct script *s = ctx;

	snprintf(s->last, sizeof(s->last), "%s %.*s", path, (int)len, body);
	if (s->fail) {
		*failure = SESAME_ETCD_FAIL_TIMEOUT;
		sesame_err_set(err, "store unavailable: https://e:1: Timeout was reached");
		return -1;
	}
	reply->body = strdup(s->answer);
	reply->len = strlen(s->answer);
	snprintf(reply->endpoint, sizeof(reply->endpoint), "https://e:1");
	reply->server_time = 1000;
	reply->local_time = 997;
	return 0;
}

static void test_primitives(void)
{
	struct script sc = {0};
	struct sesame_etcd_transport t = {script_call, NULL, &sc};
	struct sesame_etcd *s;
	struct sesame_etcd_use use;
	struct sesame_err err;
	const char *absent[] = {"/s/revoked/ab"};
	int64_t skew = 0;

	CHECK_EQ_INT(sesame_etcd_open_transport(&s, &t, "/s/", &err), 0);
	CHECK(sesame_etcd_clock_skew(s, &skew) != 0); /* no answer yet */
	sc.answer = "{\"header\":{},\"responses\":[{\"response_range\":{\"kvs\":[{\"key\":\"YQ==\"}],"
		    "\"count\":\"1\"}},{\"response_range\":{\"kvs\":[{\"key\":\"Yg==\",\"version\":"
		    "\"3\"}],\"count\":\"1\"}}]}";
	CHECK_EQ_INT(sesame_etcd_count_use(s, "/s/uses/ab", "u", 1, 3, 0, absent, 1, &use, &err), 0);
	CHECK(!use.counted && use.count == 3 && use.blocked_by == 0);
	CHECK(strstr(sc.last, "/v3/kv/txn {\"compare\":[{\"key\":\"L3MvcmV2b2tlZC9hYg==\","
			      "\"target\":\"VERSION\",\"result\":\"EQUAL\",\"version\":\"0\"},") != NULL);
	CHECK_EQ_INT(sesame_etcd_clock_skew(s, &skew), 0);
	CHECK_EQ_INT(skew, 3);
	sc.answer = "{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_txn\":{"
		    "\"header\":{},\"succeeded\":true,\"responses\":[{\"response_put\":{}}]}},"
		    "{\"response_range\":{\"kvs\":[{\"key\":\"Yg==\",\"version\":\"1\"}]}}]}";
	CHECK_EQ_INT(sesame_etcd_count_use(s, "/s/uses/ab", "u", 1, 3, 42, absent, 1, &use, &err),
		     0);
	CHECK(use.counted && use.count == 1 && use.blocked_by == -1);
	CHECK(strstr(sc.last, "\"request_txn\"") != NULL && strstr(sc.last, "\"ignore_lease\"") &&
	      strstr(sc.last, "\"lease\":\"42\""));
	/* An answer of the wrong shape is a protocol failure, not a count. */
	sc.answer = "{\"header\":{},\"succeeded\":true,\"responses\":[]}";
	CHECK(sesame_etcd_count_use(s, "/s/uses/ab", "u", 1, 3, 0, NULL, 0, &use, &err) != 0);
	CHECK_EQ_INT(sesame_etcd_last_failure(s), SESAME_ETCD_FAIL_PROTOCOL);
	CHECK(!use.counted);
	sc.answer = "{\"header\":";
	CHECK(sesame_etcd_count_use(s, "/s/uses/ab", "u", 1, 3, 0, NULL, 0, &use, &err) != 0);
	CHECK(strstr(err.msg, "store unavailable: https://e:1: unparsable answer") == err.msg);
	sc.fail = 1;
	CHECK(sesame_etcd_count_use(s, "/s/uses/ab", "u", 1, 3, 0, NULL, 0, &use, &err) != 0);
	CHECK_EQ_INT(sesame_etcd_last_failure(s), SESAME_ETCD_FAIL_TIMEOUT);
	sc.fail = 0;
	sc.answer = "{\"header\":{},\"version\":\"3.4.23\",\"leader\":\"18446744073709551615\","
		    "\"errors\":[\"memberID:1 alarm:NOSPACE \"]}";
	{
		struct sesame_etcd_status st;
		CHECK(sesame_etcd_status(s, &st, &err) != 0);
		CHECK_EQ_INT(sesame_etcd_last_failure(s), SESAME_ETCD_FAIL_NOSPACE);
		CHECK(st.leader == UINT64_MAX);
	}
	sesame_etcd_close(s);
}

static void test_helper_missing(void)
{
	struct sesame_etcd_config c;
	struct sesame_etcd *s = NULL;
	struct sesame_err err;

	sesame_etcd_config_defaults(&c);
	set(&c, "etcd_endpoints", "https://127.0.0.1:1");
	set(&c, "etcd_cacert", "/nonexistent/ca");
	set(&c, "etcd_user", "u");
	set(&c, "etcd_password_file", "/nonexistent/pw");
	set(&c, "etcd_helper", "/nonexistent/sesame-etcd");
	set(&c, "etcd_helper_socket", "none");
	CHECK(sesame_etcd_open(&s, &c, "/tmp", &err) != 0 && s == NULL);
	CHECK(strstr(err.msg, "store unavailable: cannot run the etcd helper") != NULL);
}

int main(void)
{
	test_config();
	test_encode();
	test_decode();
	test_primitives();
	test_helper_missing();
	return test_finish("etcd");
}
