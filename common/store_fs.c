/* Opening, closing and preparing the store. The layout is described in
 * store.h, the bytes in store_format.h, the locking and durability rules
 * in store_file.c, gc in store_gc.c; the operations are in store_ops.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fs.h"
#include "store_file.h"
#include "util.h"

#define FORMAT_TEXT "sesame-store 2\n"

/* Copy state_dir without trailing slashes: "dir/" would follow a symlink
 * named dir despite O_NOFOLLOW. */
static int copy_state_path(struct store_fs *st, const char *state_dir,
			   struct sesame_err *err)
{
	size_t len;

	if (state_dir == NULL || state_dir[0] == '\0') {
		sesame_err_set(err, "state directory: empty path");
		return -1;
	}
	len = strlen(state_dir);
	while (len > 1 && state_dir[len - 1] == '/')
		len--;
	if (len >= sizeof(st->path)) {
		sesame_err_set(err, "state directory %.64s...: path too long", state_dir);
		return -1;
	}
	memcpy(st->path, state_dir, len);
	st->path[len] = '\0';
	return 0;
}

/* mkdir state_dir (0700) and make its new name durable. 0 also when it
 * already exists: the checks after opening decide whether it is usable. */
static int make_state_dir(const struct store_fs *st, struct sesame_err *err)
{
	char parent[sizeof(st->path)];
	const char *slash;
	int fd;

	if (mkdir(st->path, 0700) != 0) {
		if (errno == EEXIST)
			return 0;
		sesame_err_set(err, "state directory %s: cannot create: %s", st->path,
			       strerror(errno));
		return -1;
	}
	slash = strrchr(st->path, '/');
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else
		snprintf(parent, sizeof(parent), "%.*s",
			 slash == st->path ? 1 : (int)(slash - st->path), st->path);
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		sesame_err_set(err, "state directory %s: cannot sync %s: %s", st->path, parent,
			       strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

/* Create one missing store file with a header marked NAME_UNSYNCED.
 * Returns 1 when made, 0 when it existed, -1. */
static int create_file(int dirfd, const char *name, const char *path, enum store_kind kind,
		       struct sesame_err *err)
{
	struct store_header h = { (uint8_t)kind, HEADER_UNSYNCED, 0 };
	uint8_t header[STORE_HEADER_SIZE];
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		return 0;
	header_encode(&h, header);
	if (fd < 0 || fchmod(fd, 0600) != 0 ||
	    pwrite(fd, header, sizeof(header), 0) != (ssize_t)sizeof(header)) {
		sesame_err_set(err, "store file %s: cannot create: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlinkat(dirfd, name, 0);
		}
		return -1;
	}
	close(fd);
	return 1;
}

/* Create every missing file; made[b] says which. */
static int create_missing(struct store_fs *st, uint8_t *made, int *any,
			  struct sesame_err *err)
{
	struct store_file sf;
	int r;

	*any = 0;
	for (unsigned b = 0; b < STORE_FILES; b++) {
		store_file_init(&sf, st, store_kind_of(b), b);
		r = create_file(sf.dirfd, sf.name, sf.path, sf.kind, err);
		if (r < 0)
			return -1;
		made[b] = (uint8_t)r;
		*any |= r;
	}
	return 0;
}

/* After one syncfs the new files' headers and names are durable: clear
 * their flags (a redemption may have done it already). */
static int mark_made(struct store_fs *st, const uint8_t *made, struct sesame_err *err)
{
	struct store_file sf;
	int r = 0;

	if (syncfs(st->dirfd) != 0) {
		sesame_err_set(err, "state directory %s: cannot sync: %s", st->path,
			       strerror(errno));
		return -1;
	}
	for (unsigned b = 0; b < STORE_FILES && r == 0; b++) {
		if (!made[b])
			continue;
		store_file_init(&sf, st, store_kind_of(b), b);
		r = store_file_read(&sf, LOCK_EX, 0, err);
		if (r == 0)
			r = store_file_mark_synced(&sf, err);
		store_file_release(&sf);
		r = r < 0 ? -1 : 0;
	}
	return r;
}

int store_fs_prepare(struct store_fs *st, struct sesame_err *err)
{
	char path[DISPLAY_PATH_SIZE];
	uint8_t *made = NULL;
	struct stat sb;
	int any = 0, r = -1;

	if (!store_is_open(st, err) || store_uses_dir(st, 1, err) != 0)
		return -1;
	made = calloc(STORE_FILES, 1);
	if (made == NULL) {
		sesame_err_set(err, "store %s: out of memory", st->path);
		return -1;
	}
	if (create_missing(st, made, &any, err) != 0 || (any && mark_made(st, made, err) != 0))
		goto out;
	r = 0;
	if (fstatat(st->dirfd, FORMAT_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		goto out;
	snprintf(path, sizeof(path), "%s/" FORMAT_FILE, st->path);
	r = sesame_write_atomic(path, FORMAT_TEXT, strlen(FORMAT_TEXT), 0600, "store format file",
				err);
out:
	free(made);
	return r;
}

/* Prepare a store that has no format file yet. Best effort: a store that
 * cannot be prepared (a read-only one) still works, only slower, and gc
 * reports why. */
static void prepare_if_new(struct store_fs *st)
{
	struct sesame_err ignored;
	struct stat sb;

	if (fstatat(st->dirfd, FORMAT_FILE, &sb, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
		(void)store_fs_prepare(st, &ignored);
}

int store_fs_open(struct store_fs *st, const char *state_dir, int create,
		      struct sesame_err *err)
{
	struct stat sb;
	int made = 0;

	st->dirfd = -1;
	st->usesfd = -1;
	st->owner = geteuid();
	st->path[0] = '\0';
	if (copy_state_path(st, state_dir, err) != 0)
		return -1;
	if (create) {
		made = make_state_dir(st, err);
		if (made < 0)
			return -1;
	}
	st->dirfd = open(st->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->dirfd < 0) {
		sesame_err_set(err, "state directory %s: %s", st->path,
			       store_open_failure(AT_FDCWD, st->path, errno));
		return -1;
	}
	if (made && fchmod(st->dirfd, 0700) != 0) { /* the umask may have taken bits */
		sesame_err_set(err, "state directory %s: cannot chmod: %s", st->path,
			       strerror(errno));
		goto fail;
	}
	if (store_check_fd(st->dirfd, 1, st->owner, "state directory", st->path, &sb, err) != 0)
		goto fail;
	if (create)
		prepare_if_new(st);
	if (st->usesfd >= 0) { /* each operation opens uses/ as it finds it */
		close(st->usesfd);
		st->usesfd = -1;
	}
	return 0;
fail:
	store_fs_close(st);
	return -1;
}

void store_fs_close(struct store_fs *st)
{
	if (st == NULL)
		return;
	if (st->usesfd >= 0)
		close(st->usesfd);
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->usesfd = -1;
	st->dirfd = -1;
}

/* ---- the file store behind the store interface (store.h) ---- */

static struct store_fs *fs_of(struct sesame_store *st)
{
	return st->impl;
}

static void fs_close(struct sesame_store *st)
{
	store_fs_close(fs_of(st));
	free(st->impl);
}

static enum sesame_reason fs_redeem(struct sesame_store *st, const struct sesame_token *t,
				    const struct sesame_use *use, int64_t now,
				    struct sesame_err *err)
{
	return store_fs_redeem(fs_of(st), t, use, now, err);
}

static enum sesame_reason fs_status(struct sesame_store *st, const struct sesame_token *t,
				    int64_t now, unsigned *used, struct sesame_err *err)
{
	return store_fs_status(fs_of(st), t, now, used, err);
}

static int fs_revoke(struct sesame_store *st, const struct sesame_token *t, int64_t now,
		     struct sesame_err *err)
{
	return store_fs_revoke(fs_of(st), t, now, err);
}

static int fs_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			  struct sesame_err *err)
{
	return store_fs_revoke_user(fs_of(st), uid, before, err);
}

static int fs_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				  struct sesame_err *err)
{
	return store_fs_user_revoked_before(fs_of(st), uid, before, err);
}

static int fs_mail_allow(struct sesame_store *st, uint32_t uid,
			 const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			 const struct sesame_mail_limits *lim, struct sesame_err *err)
{
	return store_fs_mail_allow(fs_of(st), uid, source, now, lim, err);
}

static int fs_record_issue(struct sesame_store *st, const struct sesame_issue *is,
			   struct sesame_err *err)
{
	return store_fs_record_issue(fs_of(st), is, err);
}

static int fs_list(struct sesame_store *st, struct sesame_history **out, size_t *n,
		   struct sesame_err *err)
{
	return store_fs_list(fs_of(st), out, n, err);
}

static int fs_history(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES],
		      struct sesame_history *h, struct sesame_err *err)
{
	return store_fs_history(fs_of(st), id, h, err);
}

static int fs_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		 struct sesame_err *err)
{
	return store_fs_gc(fs_of(st), now, stats, err);
}

static const struct sesame_store_ops fs_ops = {
	.name = "file",
	.close = fs_close,
	.redeem = fs_redeem,
	.status = fs_status,
	.revoke = fs_revoke,
	.revoke_user = fs_revoke_user,
	.user_revoked_before = fs_user_revoked_before,
	.mail_allow = fs_mail_allow,
	.record_issue = fs_record_issue,
	.list = fs_list,
	.history = fs_history,
	.gc = fs_gc,
};

/* Does state_dir hold a file store? Its uses/ directory says so: a stray
 * file of another name (a format file left over) does not, and gc must
 * not make a store of 4,096 buckets around it. */
static int file_store_present(const char *state_dir)
{
	char path[1200];
	struct stat sb;
	int n = snprintf(path, sizeof(path), "%s/" USES_DIR, state_dir);

	return n > 0 && (size_t)n < sizeof(path) && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int sesame_store_gc_file_left(const char *state_dir, int64_t now,
			      struct sesame_gc_stats *stats, struct sesame_err *err)
{
	struct store_fs st;
	int r;

	memset(stats, 0, sizeof(*stats));
	if (!file_store_present(state_dir))
		return 1;
	if (store_fs_open(&st, state_dir, 0, err) != 0)
		return -1;
	r = store_fs_gc_existing(&st, now, stats, err);
	store_fs_close(&st);
	return r;
}

int sesame_store_open_file(struct sesame_store *st, const char *state_dir, int create,
			   struct sesame_err *err)
{
	struct store_fs *fs = calloc(1, sizeof(*fs));

	st->ops = NULL;
	st->impl = NULL;
	if (fs == NULL) {
		sesame_err_set(err, "store: out of memory");
		return -1;
	}
	if (store_fs_open(fs, state_dir, create, err) != 0) {
		free(fs);
		return -1;
	}
	st->ops = &fs_ops;
	st->impl = fs;
	return 0;
}
