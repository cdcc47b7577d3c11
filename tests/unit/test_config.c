/* Config file and argument parsing, durations, errors with file:line. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "testutil.h"
#include "util.h"

static char dir[1024];

/* Write text to dir/name with mode and load it; returns the load result. */
static int load_text(const char *text, mode_t mode, struct sesame_config *cfg,
		     struct sesame_err *err)
{
	char path[1100];
	FILE *f;

	snprintf(path, sizeof(path), "%s/conf", dir);
	unlink(path);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	sesame_config_defaults(cfg);
	memset(err, 0, sizeof(*err));
	return sesame_config_load(cfg, path, 1, err);
}

static void test_defaults(void)
{
	struct sesame_config cfg;

	sesame_config_defaults(&cfg);
	CHECK(strcmp(cfg.key_file, "/etc/security/sesame.key") == 0);
	CHECK(strcmp(cfg.state_dir, "/var/lib/sesame") == 0);
	CHECK_EQ_INT(cfg.max_age, 900);
	CHECK_EQ_INT(cfg.max_age_limit, 7 * 86400);
	CHECK_EQ_INT(cfg.bind_password, 1);
	CHECK_EQ_INT(cfg.allow_root, 0);
	CHECK(strcmp(cfg.param, "sesame") == 0);
	CHECK(strcmp(cfg.sendmail, "/usr/sbin/sendmail -t -oi") == 0);
	CHECK(cfg.url[0] == '\0' && cfg.group[0] == '\0' && cfg.mail_from[0] == '\0');
	CHECK(cfg.mail == 0 && cfg.mail_to[0] == '\0');
	CHECK_EQ_INT(cfg.mail_max_age, 600);
	CHECK_EQ_INT(cfg.mail_interval, 60);
	CHECK_EQ_INT(cfg.mail_per_hour, 5);
}

static void test_file(void)
{
	struct sesame_config cfg;
	struct sesame_err err;

	CHECK(load_text("# comment\n\nkey_file = /k\n  state_dir=/s  \nmax_age = 2h   # two hours\n"
			"max_age_limit = 1d\t# a day\nbind_password = no\nurl = https://h.example/s/#  # fragment\n"
			"param = t\nallow_root = yes\ngroup = wheel\n"
			"sendmail = /usr/bin/msmtp -t\nmail_from = sesame@h.example\n"
			"mail = yes\nmail_to = %u@h.example\nmail_max_age = 5m\n"
			"mail_interval = 2m\nmail_per_hour = 3\n",
			0644, &cfg, &err) == 0);
	CHECK(strcmp(cfg.key_file, "/k") == 0);
	CHECK(strcmp(cfg.state_dir, "/s") == 0);
	CHECK_EQ_INT(cfg.max_age, 7200);
	CHECK_EQ_INT(cfg.max_age_limit, 86400);
	CHECK_EQ_INT(cfg.bind_password, 0);
	CHECK(strcmp(cfg.url, "https://h.example/s/#") == 0);
	CHECK(strcmp(cfg.param, "t") == 0);
	CHECK_EQ_INT(cfg.allow_root, 1);
	CHECK(strcmp(cfg.group, "wheel") == 0);
	CHECK(strcmp(cfg.sendmail, "/usr/bin/msmtp -t") == 0);
	CHECK(strcmp(cfg.mail_from, "sesame@h.example") == 0);
	CHECK_EQ_INT(cfg.mail, 1);
	CHECK(strcmp(cfg.mail_to, "%u@h.example") == 0);
	CHECK_EQ_INT(cfg.mail_max_age, 300);
	CHECK_EQ_INT(cfg.mail_interval, 120);
	CHECK_EQ_INT(cfg.mail_per_hour, 3);
}

/* Each bad line fails with file:line and a reason that never echoes the value. */
static void bad_line(const char *text, unsigned line, const char *needle)
{
	struct sesame_config cfg;
	struct sesame_err err;
	char where[1200];

	CHECK(load_text(text, 0600, &cfg, &err) != 0);
	snprintf(where, sizeof(where), "%s/conf:%u: ", dir, line);
	CHECK(strstr(err.msg, where) != NULL);
	CHECK(strstr(err.msg, needle) != NULL);
	CHECK(strstr(err.msg, "SECRETVALUE") == NULL);
	if (strstr(err.msg, needle) == NULL || strstr(err.msg, where) == NULL)
		fprintf(stderr, "  got: %s\n", err.msg);
}

static void test_errors(void)
{
	bad_line("max_age = 15m\nbogus = 1\n", 2, "unknown key 'bogus'");
	bad_line("max_age = SECRETVALUE\n", 1, "max_age: expected a duration");
	bad_line("\n\nmax_age_limit = 23d\n", 3, "at most 22d");
	bad_line("bind_password = SECRETVALUE\n", 1, "expected yes, no or auto");
	bad_line("host_groups = web db\n", 1, "host_groups: expected a comma-separated list");
	bad_line("host_groups = web,\n", 1, "host_groups: expected");
	bad_line("host_groups = web, web\n", 1, "host_groups: expected");
	bad_line("host_groups = ../x\n", 1, "host_groups: expected");
	bad_line("host_groups = a,b,c,d,e,f,g,h,i\n", 1, "host_groups: expected");
	bad_line("key_file = relative/SECRETVALUE\n", 1, "absolute path");
	bad_line("url = ftp://SECRETVALUE\n", 1, "url: expected");
	bad_line("url = https://h.example/#SECRETVALUE\n", 1, "url: expected");
	bad_line("param = a&SECRETVALUE\n", 1, "param: expected");
	bad_line("sendmail = sendmail SECRETVALUE\n", 1, "absolute path");
	bad_line("mail_from = a@b\nmail_from = x@SECRETVALUE\nBcc: y@z\n", 3, "expected \"key = value\"");
	bad_line("mail_from = two words@SECRETVALUE\n", 1, "mail_from: expected");
	bad_line("just words\n", 1, "expected \"key = value\"");
	bad_line("mail_to = SECRETVALUE@example.org\n", 1, "mail_to: expected a template");
	bad_line("mail_to = %x@SECRETVALUE\n", 1, "mail_to: expected a template");
	bad_line("mail_interval = 2h\n", 1, "mail_interval: expected a duration up to 1h");
	bad_line("mail_per_hour = 0\n", 1, "mail_per_hour: expected a number");
	bad_line("mail = SECRETVALUE\n", 1, "expected yes or no");
}

static void test_file_checks(void)
{
	struct sesame_config cfg;
	struct sesame_err err;
	char path[1100], link[1100];

	CHECK(load_text("max_age = 1m\n", 0664, &cfg, &err) != 0);
	CHECK(strstr(err.msg, "write access") != NULL);
	CHECK(load_text("max_age = 1m\n", 0644, &cfg, &err) == 0);
	snprintf(path, sizeof(path), "%s/conf", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	CHECK(symlink(path, link) == 0);
	sesame_config_defaults(&cfg);
	CHECK(sesame_config_load(&cfg, link, 1, &err) != 0);
	CHECK(strstr(err.msg, "symbolic link") != NULL);
	/* a missing default file means defaults; a missing named file is an error */
	snprintf(path, sizeof(path), "%s/none", dir);
	CHECK(sesame_config_load(&cfg, path, 0, &err) == 0);
	CHECK(sesame_config_load(&cfg, path, 1, &err) != 0);
	CHECK(sesame_config_load(&cfg, dir, 1, &err) != 0);
}

static void test_set_and_args(void)
{
	struct sesame_config cfg;
	struct sesame_err err;
	char key[32];
	const char *v;

	sesame_config_defaults(&cfg);
	CHECK_EQ_INT(sesame_config_set(&cfg, "max_age_limit", "1m", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(sesame_config_set(&cfg, "nope", "1", &err), SESAME_CONFIG_UNKNOWN_KEY);
	CHECK_EQ_INT(sesame_config_set(&cfg, "max_age", "-5", &err), SESAME_CONFIG_BAD_VALUE);
	CHECK_EQ_INT(sesame_config_validate(&cfg, &err), 0); /* max_age > limit is mint's problem */
	v = sesame_split_arg("state_dir=/x=y", key, sizeof(key));
	CHECK(v && strcmp(key, "state_dir") == 0 && strcmp(v, "/x=y") == 0);
	CHECK(sesame_split_arg("debug", key, sizeof(key)) == NULL);
	CHECK(sesame_config_is_key("group") && !sesame_config_is_key("debug"));
	CHECK_EQ_INT(sesame_config_set(&cfg, "key_file", "/var/lib/sesame/k", &err), 0);
	CHECK(sesame_config_validate(&cfg, &err) != 0);
	sesame_config_defaults(&cfg);
	cfg.max_age_limit = 300; /* below the default mail_max_age of 10m */
	CHECK_EQ_INT(sesame_config_validate(&cfg, &err), 0);
	cfg.mail = 1;
	CHECK(sesame_config_validate(&cfg, &err) != 0);
	CHECK(strstr(err.msg, "mail_max_age") != NULL);
}

static void test_durations(void)
{
	int64_t d;

	CHECK(sesame_parse_duration("90", &d) == 0 && d == 90);
	CHECK(sesame_parse_duration("90s", &d) == 0 && d == 90);
	CHECK(sesame_parse_duration("15m", &d) == 0 && d == 900);
	CHECK(sesame_parse_duration("12h", &d) == 0 && d == 43200);
	CHECK(sesame_parse_duration("7d", &d) == 0 && d == 604800);
	CHECK(sesame_parse_duration("0", &d) != 0);
	CHECK(sesame_parse_duration("-1m", &d) != 0);
	CHECK(sesame_parse_duration("1w", &d) != 0);
	CHECK(sesame_parse_duration("1mm", &d) != 0);
	CHECK(sesame_parse_duration(" 1m", &d) != 0);
	CHECK(sesame_parse_duration("99999999999999999999d", &d) != 0);
	CHECK(sesame_parse_duration("", &d) != 0);
}

/* store: "file" is the default; any other value is refused, not taken
 * for the file store (fail closed). */
static void test_store_backend(void)
{
	struct sesame_config cfg;
	struct sesame_err err = { "" };

	sesame_config_defaults(&cfg);
	CHECK(strcmp(cfg.store, "file") == 0);
	CHECK_EQ_INT(sesame_config_set(&cfg, "store", "file", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(sesame_config_set(&cfg, "store", "File", &err), SESAME_CONFIG_BAD_VALUE);
	CHECK_EQ_INT(sesame_config_set(&cfg, "store", "memory", &err), SESAME_CONFIG_BAD_VALUE);
	CHECK_EQ_INT(sesame_config_set(&cfg, "store", "", &err), SESAME_CONFIG_BAD_VALUE);
	CHECK_EQ_INT(sesame_config_set(&cfg, "store", "filesystem-and-more", &err),
		     SESAME_CONFIG_BAD_VALUE);
	CHECK(strcmp(cfg.store, "file") == 0);
}

/* store = etcd: the etcd_* keys go to etcd_config.c's parser, and the
 * config is valid only with what the etcd store needs. */
static void test_store_etcd(void)
{
	struct sesame_config cfg;
	struct sesame_err err = { "" };

	sesame_config_defaults(&cfg);
	CHECK(strcmp(cfg.etcd.prefix, "/sesame/") == 0);
	CHECK_EQ_INT(cfg.etcd.timeout_ms, 2000);
	CHECK_EQ_INT(sesame_config_set(&cfg, "store", "etcd", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(sesame_config_validate(&cfg, &err), -1);
	CHECK(strstr(err.msg, "etcd_endpoints") != NULL);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_endpoints", "http://a:2379", &err),
		     SESAME_CONFIG_BAD_VALUE);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_endpoints", "https://a:2379, https://b:2379",
				       &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(cfg.etcd.n_endpoints, 2);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_cacert", "/etc/ca.crt", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_user", "web-17", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(sesame_config_validate(&cfg, &err), -1);
	CHECK(strstr(err.msg, "etcd_password_file") != NULL);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_password_file", "/etc/pw", &err),
		     SESAME_CONFIG_OK);
	CHECK_EQ_INT(sesame_config_validate(&cfg, &err), 0);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_timeout", "1500ms", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(cfg.etcd.timeout_ms, 1500);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_timeout", "secret-ish", &err),
		     SESAME_CONFIG_BAD_VALUE);
	CHECK(strstr(err.msg, "secret-ish") == NULL); /* never the value */
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_clock_skew", "3s", &err), SESAME_CONFIG_OK);
	CHECK_EQ_INT(cfg.etcd.clock_skew, 3);
	CHECK_EQ_INT(sesame_config_set(&cfg, "etcd_clock_skew", "1d", &err),
		     SESAME_CONFIG_BAD_VALUE);
	CHECK(strstr(err.msg, "etcd_clock_skew") != NULL);
	/* with store = file the etcd keys are kept but not required */
	sesame_config_defaults(&cfg);
	CHECK_EQ_INT(sesame_config_validate(&cfg, &err), 0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s", test_tmpdir("config"));
	test_defaults();
	test_file();
	test_errors();
	test_file_checks();
	test_set_and_args();
	test_durations();
	test_store_etcd();
	test_store_backend();
	test_rmtree(dir);
	return test_finish("config");
}
