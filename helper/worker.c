/* One worker: connections one at a time, each with deadlines so that a
 * caller that stalls holds it for seconds at most (the module opens the
 * store only after the user has answered its prompt, so a worker never
 * waits on someone typing). Per settings frame ("C": state_dir and the
 * etcd_* keys, no secret) it keeps one libcurl session: its connection
 * to a member stays open (no TCP and TLS handshake per login) and the
 * auth token stays in memory until its time. The cache is small and
 * entries are reopened after a while, so an edited config or a replaced
 * certificate takes effect. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "etcd_http.h"
#include "session.h"
#include "worker.h"

/* The settings frame follows the connect at once. */
#define SETTINGS_WAIT_MS 1000
/* A caller's next request, and its reading of an answer, come within
 * the settings' etcd_timeout (the module's and the CLI's calls follow
 * each other with local work between), and never less than this. */
#define IDLE_MIN_MS 1000
#define CACHE_SLOTS 8
/* Reopen a session this old: TLS files and the password are read anew. */
#define SESSION_MAX_AGE_MS (10 * 60 * 1000)

struct session {
	char *settings; /* the "C" payload this session was opened with */
	size_t len;
	struct sesame_etcd_transport t;
	int64_t timeout_ms;
	int64_t opened_ms, used_ms;
};

struct worker {
	struct session cache[CACHE_SLOTS];
	pid_t parent;
	int64_t idle_ms;
};

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void session_drop(struct session *s)
{
	if (s->settings == NULL)
		return;
	s->t.close(s->t.ctx);
	free(s->settings);
	memset(s, 0, sizeof(*s));
}

/* Open a session for these settings in *s (empty). 0, or -1 with err. */
static int session_open(struct session *s, const char *settings, struct sesame_err *err)
{
	struct sesame_etcd_config cfg;
	char state_dir[SESAME_ETCD_FILE_MAX];

	if (sesame_helper_parse_settings(settings, &cfg, state_dir, sizeof(state_dir), err) != 0 ||
	    sesame_etcd_http_open(&cfg, state_dir, &s->t, err) != 0)
		return -1;
	s->timeout_ms = cfg.timeout_ms;
	return 0;
}

/* The session for these settings (taken over: kept or freed): found, or
 * opened and then put in the slot of the least recently used (settings
 * that do not open evict nobody's warm session). NULL with err when the
 * settings do not open. */
static struct session *session_for(struct worker *wk, char *settings, size_t len,
				   struct sesame_err *err)
{
	int64_t now = sesame_etcd_now_ms();
	struct session *s = &wk->cache[0], fresh;

	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct session *c = &wk->cache[i];

		if (c->settings != NULL && now - c->opened_ms >= SESSION_MAX_AGE_MS)
			session_drop(c);
		if (c->settings != NULL && c->len == len && memcmp(c->settings, settings, len) == 0) {
			c->used_ms = now;
			free(settings);
			return c;
		}
		if (c->settings == NULL || (s->settings != NULL && c->used_ms < s->used_ms))
			s = c;
	}
	memset(&fresh, 0, sizeof(fresh));
	if (session_open(&fresh, settings, err) != 0) {
		free(settings);
		return NULL;
	}
	session_drop(s);
	*s = fresh;
	s->settings = settings;
	s->len = len;
	s->opened_ms = s->used_ms = now;
	return s;
}

/* Root only: a caller that is not root could not read the credentials
 * the helper uses on its behalf. */
static int peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return -1;
	*uid = cred.uid;
	return 0;
}

static void serve_connection(struct worker *wk, int fd)
{
	struct session *s;
	struct sesame_etcd_wire w;
	struct sesame_err err = {""};
	char *settings;
	size_t len = 0;
	uid_t uid = (uid_t)-1;

	if (peer_uid(fd, &uid) != 0 || uid != 0) {
		fprintf(stderr, "sesame-etcd: refused a connection from uid %ld: root only\n",
			(long)(uid == (uid_t)-1 ? -1 : (long)uid));
		sesame_helper_send_failure(fd, SESAME_ETCD_FAIL_LOCAL,
					   "store unavailable: the etcd helper serves root only",
					   sesame_etcd_now_ms() + SETTINGS_WAIT_MS);
		return;
	}
	sesame_etcd_wire_init(&w, fd);
	settings = sesame_helper_read_settings(&w, &len, sesame_etcd_now_ms() + SETTINGS_WAIT_MS);
	if (settings == NULL)
		goto out;
	s = session_for(wk, settings, len, &err);
	sesame_helper_serve(&w, s ? &s->t : NULL, &err,
			    s && s->timeout_ms > IDLE_MIN_MS ? s->timeout_ms : IDLE_MIN_MS);
out:
	sesame_wipe(&w, sizeof(w));
}

/* Drop the sessions unused for wk->idle_ms or older than
 * SESSION_MAX_AGE_MS at now: on a quiet host the auth token and the
 * client key do not stay in memory. The milliseconds until the next is
 * due, or -1 when none is left. */
static int64_t drop_stale(struct worker *wk, int64_t now)
{
	int64_t next = -1;

	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct session *c = &wk->cache[i];
		int64_t due;

		if (c->settings == NULL)
			continue;
		due = c->used_ms + wk->idle_ms;
		if (c->opened_ms + SESSION_MAX_AGE_MS < due)
			due = c->opened_ms + SESSION_MAX_AGE_MS;
		if (due <= now) {
			session_drop(c);
			continue;
		}
		if (next < 0 || due - now < next)
			next = due - now;
	}
	return next;
}

/* Wait for a connection with SIGTERM let through only here; wake when a
 * session is due to be dropped. */
static int wait_connection(struct worker *wk, int listen_fd, const sigset_t *open_mask)
{
	struct pollfd p = {listen_fd, POLLIN, 0};
	int64_t next = drop_stale(wk, sesame_etcd_now_ms());
	struct timespec ts = {next / 1000, (next % 1000) * 1000000L};
	int r = ppoll(&p, 1, next >= 0 ? &ts : NULL, open_mask);

	if (r < 0 && errno != EINTR)
		return -1;
	drop_stale(wk, sesame_etcd_now_ms());
	return r > 0 ? 1 : 0;
}

int sesame_worker_run(int listen_fd, int64_t idle_ms)
{
	struct worker *wk = calloc(1, sizeof(*wk));
	struct sigaction sa;
	sigset_t term, open_mask;

	if (wk == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	wk->parent = getppid();
	wk->idle_ms = idle_ms;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_BLOCK, &term, &open_mask);
	sigdelset(&open_mask, SIGTERM);
	sigdelset(&open_mask, SIGINT);
	/* The parent gone: stop, do not serve on alone. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	while (!stopping && getppid() == wk->parent) {
		int fd, ready = wait_connection(wk, listen_fd, &open_mask);

		if (ready < 0 || stopping)
			break;
		if (ready == 0)
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
			continue; /* another worker took it, or the caller left */
		if (fd < 0) {
			/* Out of descriptors or memory: do not spin. */
			nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
			continue;
		}
		serve_connection(wk, fd);
		close(fd);
	}
	for (int i = 0; i < CACHE_SLOTS; i++)
		session_drop(&wk->cache[i]);
	free(wk);
	curl_global_cleanup();
	return 0;
}
