/* The store's locked-file protocol.
 *
 * Durability
 *   Every append is pwrite + fdatasync under LOCK_EX. redeem writes the use
 *   record and fdatasyncs it before it returns SESAME_OK, so a redeemer
 *   killed after the write still counts the use, and one killed before it
 *   never reported success. An append also rests on the file's name being
 *   durable: a file whose directory may not have been synced since it got
 *   its name (an empty file, just created, or a header with NAME_UNSYNCED,
 *   left by gc's rename or by preparation) first gets its directories
 *   synced, then the flag cleared in the same durable write as the record.
 *   Whoever names a file sets the flag and clears it only after a
 *   successful directory sync, so a failed sync (in gc, say) leaves the
 *   flag on disk: no success rests on that name until someone syncs, even
 *   after the process that failed is gone. A failed write or sync truncates
 *   the file back (a file this append created goes again) and reports the
 *   store unavailable.
 *
 * Locking
 *   Readers take flock(LOCK_SH), writers flock(LOCK_EX), held from before
 *   the read until after the append's fdatasync; close() releases it. gc
 *   and the rewrite of a format 1 file replace a file by writing a temp
 *   file, locking it, renaming it over the name, and only then unlocking
 *   the old one. So after taking its lock every opener fstatat()s the name
 *   and compares st_dev and st_ino with its locked fd: if the file was
 *   replaced meanwhile, it closes and starts again (at most OPEN_ATTEMPTS
 *   times, then the store is unavailable). A reader (LOCK_SH) needs no such
 *   check: the file it holds has every record gc kept, and its operation
 *   overlapped the replacement, so it may be ordered before it. A redemption holds its bucket's
 *   lock and then takes revoked-users' (LOCK_SH); nothing holds
 *   revoked-users' lock while it waits for a bucket's, so no lock order can
 *   deadlock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_file.h"

#define OPEN_ATTEMPTS 10
/* Far above anything real (2M records), low enough that a damaged size
 * cannot make us allocate without bound. */
#define MAX_FILE_BYTES ((off_t)64 << 20)

unsigned store_bucket_of(const uint8_t id[SESAME_ID_BYTES])
{
	return (unsigned)id[0] << 4 | (unsigned)id[1] >> 4;
}

enum store_kind store_kind_of(unsigned n)
{
	if (n < SESAME_STORE_BUCKETS)
		return KIND_BUCKET;
	return n == SESAME_STORE_BUCKETS ? KIND_USERS : KIND_MAIL;
}

void store_file_init(struct store_file *sf, const struct store_fs *st, enum store_kind kind,
		     unsigned bucket)
{
	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	sf->topfd = -1;
	sf->kind = kind;
	sf->owner = st->owner;
	if (kind == KIND_BUCKET) {
		sf->dirfd = st->usesfd;
		sf->topfd = st->dirfd;
		snprintf(sf->name, sizeof(sf->name), "%03x", bucket % SESAME_STORE_BUCKETS);
		snprintf(sf->path, sizeof(sf->path), "%s/" USES_DIR "/%s", st->path, sf->name);
		return;
	}
	sf->dirfd = st->dirfd;
	snprintf(sf->name, sizeof(sf->name), "%s", kind == KIND_USERS ? USERS_FILE : MAIL_FILE);
	snprintf(sf->path, sizeof(sf->path), "%s/%s", st->path, sf->name);
}

void store_file_none(struct store_file *sf)
{
	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	sf->topfd = -1;
	sf->dirfd = -1;
}

void store_file_release(struct store_file *sf)
{
	if (sf->fd >= 0)
		close(sf->fd);
	sf->fd = -1;
	free(sf->data);
	free(sf->recs);
	sf->data = NULL;
	sf->recs = NULL;
	sf->count = 0;
}

int store_sync_dir(int fd, const char *what, const char *path, struct sesame_err *err)
{
	if (fsync(fd) != 0) {
		sesame_err_set(err, "%s %s: cannot sync: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

int store_check_fd(int fd, int is_dir, uid_t owner, const char *what, const char *path,
		   struct stat *sb, struct sesame_err *err)
{
	if (fstat(fd, sb) != 0) {
		sesame_err_set(err, "%s %s: cannot stat: %s", what, path, strerror(errno));
		return -1;
	}
	if (is_dir ? !S_ISDIR(sb->st_mode) : !S_ISREG(sb->st_mode)) {
		sesame_err_set(err, "%s %s: not a %s", what, path,
			       is_dir ? "directory" : "regular file");
		return -1;
	}
	if (sb->st_uid != owner) {
		sesame_err_set(err, "%s %s: owned by uid %u, expected %u", what, path,
			       (unsigned)sb->st_uid, (unsigned)owner);
		return -1;
	}
	/* A second name would let whoever made it change the state through a
	 * path we never check. */
	if (!is_dir && sb->st_nlink != 1) {
		sesame_err_set(err, "%s %s: has %lu hard links, expected 1", what, path,
			       (unsigned long)sb->st_nlink);
		return -1;
	}
	if (sb->st_mode & (S_IRWXG | S_IRWXO)) {
		sesame_err_set(err, "%s %s: mode %04o gives group or other any access", what,
			       path, (unsigned)(sb->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Why opening name in dirfd failed. O_DIRECTORY|O_NOFOLLOW reports a
 * symlink as ENOTDIR, so look before blaming the type. */
const char *store_open_failure(int dirfd, const char *name, int saved)
{
	struct stat sb;

	if (saved == ELOOP)
		return "is a symbolic link";
	if (saved == ENOTDIR && fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode))
		return "is a symbolic link";
	return strerror(saved);
}

/* Open sf->name, for writing when it is to be locked LOCK_EX, creating it
 * (0600) when create is set. Returns the fd, or -1 with errno (EEXIST:
 * lost a creation race, try again). O_NONBLOCK keeps a FIFO planted in
 * the store from hanging us; it does nothing to regular files. */
static int open_or_create(struct store_file *sf, int lock_op, int create)
{
	int flags = (lock_op == LOCK_EX ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK;
	int fd = openat(sf->dirfd, sf->name, flags);

	sf->created = 0;
	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	fd = openat(sf->dirfd, sf->name, flags | O_CREAT | O_EXCL, 0600);
	if (fd >= 0 && fchmod(fd, 0600) != 0) { /* a umask may have taken owner bits */
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	sf->created = fd >= 0;
	return fd;
}

static int lock_fd(struct store_file *sf, int lock_op, struct sesame_err *err)
{
	while (flock(sf->fd, lock_op) != 0) {
		if (errno != EINTR) {
			sesame_err_set(err, "store file %s: cannot lock: %s", sf->path,
				       strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Is the locked fd still what the name points at (nobody replaced or
 * removed it while we waited)? 1 yes, 0 no, -1 error with errno. */
static int still_named(const struct store_file *sf, const struct stat *locked)
{
	struct stat named;

	if (fstatat(sf->dirfd, sf->name, &named, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	return named.st_dev == locked->st_dev && named.st_ino == locked->st_ino;
}

/* Open, lock, check. Returns 0 with sf->fd locked and sf->size set, 1
 * when the file does not exist (only without create), -1 with err set. */
static int store_file_open(struct store_file *sf, int lock_op, int create, struct sesame_err *err)
{
	struct stat locked;

	for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
		int same;

		sf->fd = open_or_create(sf, lock_op, create);
		if (sf->fd < 0 && errno == EEXIST)
			continue;
		if (sf->fd < 0 && errno == ENOENT && !create)
			return 1;
		if (sf->fd < 0) {
			sesame_err_set(err, "store file %s: %s", sf->path,
				       store_open_failure(sf->dirfd, sf->name, errno));
			return -1;
		}
		/* Checked after the lock: one fstat serves the checks and the
		 * comparison with the name. */
		if (lock_fd(sf, lock_op, err) != 0 ||
		    store_check_fd(sf->fd, 0, sf->owner, "store file", sf->path, &locked, err) != 0)
			goto fail;
		/* A reader that locked a file gc has just replaced reads what gc
		 * kept plus what it dropped; only a writer must not append to a
		 * file that lost its name. */
		same = lock_op == LOCK_SH ? 1 : still_named(sf, &locked);
		if (same < 0) {
			sesame_err_set(err, "store file %s: cannot stat: %s", sf->path,
				       strerror(errno));
			goto fail;
		}
		if (same) {
			sf->size = locked.st_size;
			return 0;
		}
		close(sf->fd);
		sf->fd = -1;
	}
	sesame_err_set(err, "store file %s: replaced %d times while waiting for its lock", sf->path,
		       OPEN_ATTEMPTS);
	return -1;
fail:
	close(sf->fd);
	sf->fd = -1;
	return -1;
}

static int pread_all(int fd, uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO; /* shrank under our lock: someone ignores the protocol */
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int corrupt(struct store_file *sf, size_t off, struct sesame_err *err)
{
	sesame_err_set(err, "store file %s: corrupt record at offset %zu", sf->path, off);
	return -1;
}

/* Records of a format 1 file: 32 bytes each, a torn tail ignored. */
static int parse_v1(struct store_file *sf, unsigned types, struct sesame_err *err)
{
	size_t n = (size_t)sf->size / STORE_V1_RECORD;

	for (size_t i = 0; i < n; i++) {
		if (record_decode_v1(sf->data + i * STORE_V1_RECORD, types, &sf->recs[i]) != 0)
			return corrupt(sf, i * STORE_V1_RECORD, err);
	}
	sf->count = n;
	sf->end = (off_t)(n * STORE_V1_RECORD);
	return 0;
}

/* Records of a format 2 file, up to a torn tail. */
static int parse_v2(struct store_file *sf, unsigned types, struct sesame_err *err)
{
	size_t off = STORE_HEADER_SIZE, size = (size_t)sf->size;

	sf->count = 0;
	while (off < size) {
		struct record *rec = &sf->recs[sf->count];
		int r = record_decode(sf->data + off, size - off, types, rec);
		if (r < 0)
			return corrupt(sf, off, err);
		if (r > 0)
			break;
		rec->off = off;
		off += rec->len;
		sf->count++;
	}
	sf->end = (off_t)off;
	return 0;
}

/* Decode sf->data (sf->size bytes) into header and records. */
static int store_file_parse(struct store_file *sf, struct sesame_err *err)
{
	const char *why = "";
	unsigned types = store_kind_types(sf->kind);
	/* A record is at least RECORD_MIN (format 2) or 32 (format 1) bytes. */
	size_t most = (size_t)sf->size / RECORD_MIN + 1;
	int r;

	free(sf->recs);
	sf->recs = calloc(most, sizeof(*sf->recs));
	if (sf->recs == NULL) {
		sesame_err_set(err, "store file %s: out of memory", sf->path);
		return -1;
	}
	sf->count = 0;
	r = header_decode(sf->data, (size_t)sf->size, sf->kind, &sf->hdr, &why);
	if (r < 0) {
		sesame_err_set(err, "store file %s: %s", sf->path, why);
		return -1;
	}
	sf->format = r == 0 ? 2 : r == 1 ? 1 : 0;
	if (sf->format == 1)
		return parse_v1(sf, types, err);
	sf->end = 0;
	return sf->format == 2 ? parse_v2(sf, types, err) : 0;
}

static int store_file_load(struct store_file *sf, struct sesame_err *err)
{
	if (sf->size > MAX_FILE_BYTES) {
		sesame_err_set(err, "store file %s: larger than %lld bytes", sf->path,
			       (long long)MAX_FILE_BYTES);
		return -1;
	}
	sf->data = malloc(sf->size > 0 ? (size_t)sf->size : 1);
	if (sf->data == NULL) {
		sesame_err_set(err, "store file %s: out of memory", sf->path);
		return -1;
	}
	if (pread_all(sf->fd, sf->data, (size_t)sf->size, 0) != 0) {
		sesame_err_set(err, "store file %s: read: %s", sf->path, strerror(errno));
		return -1;
	}
	return store_file_parse(sf, err);
}

int store_file_read(struct store_file *sf, int lock_op, int create, struct sesame_err *err)
{
	int r = store_file_open(sf, lock_op, create, err);

	if (r != 0)
		return r;
	return store_file_load(sf, err) == 0 ? 0 : -1;
}

/* Sync what holds sf's name: its directory and, for a bucket, state_dir
 * (which holds uses/). */
static int sync_dirs(const struct store_file *sf, struct sesame_err *err)
{
	if (store_sync_dir(sf->dirfd, "directory of store file", sf->path, err) != 0)
		return -1;
	if (sf->topfd >= 0 && store_sync_dir(sf->topfd, "state directory of", sf->path, err) != 0)
		return -1;
	return 0;
}

static void header_of(const struct store_file *sf, uint8_t flags, uint8_t out[STORE_HEADER_SIZE])
{
	struct store_header h = sf->hdr;

	h.kind = (uint8_t)sf->kind;
	h.flags = flags;
	header_encode(&h, out);
}

/* Undo a failed append as far as it can. Best effort: the caller reports
 * failure whether or not the record survives, and an extra record only
 * refuses more. A file this append created goes again (under our lock;
 * anyone waiting for it sees the name gone and starts over), so a failed
 * redemption leaves the store as it found it. */
static void append_undo(struct store_file *sf, off_t old_end, int restore_header)
{
	uint8_t header[STORE_HEADER_SIZE];

	if (ftruncate(sf->fd, old_end) == 0) {
		if (restore_header) { /* the flag goes back on: the sync may not have held */
			header_of(sf, sf->hdr.flags, header);
			(void)pwrite_all(sf->fd, header, sizeof(header), 0);
		}
		(void)fdatasync(sf->fd);
	}
	if (sf->created && sf->format == 0 && old_end == 0)
		(void)unlinkat(sf->dirfd, sf->name, 0);
}

int store_file_append(struct store_file *sf, const struct record *rec, struct sesame_err *err)
{
	uint8_t buf[STORE_HEADER_SIZE + RECORD_MAX];
	size_t len = 0;
	off_t at;
	int unsynced, wrote_header = 0;

	if (sf->format == 1 && store_file_replace(sf, &sf->hdr, NULL, err) != 0)
		return -1;
	at = sf->end;
	unsynced = sf->format == 0 || (sf->hdr.flags & HEADER_UNSYNCED);
	if (unsynced && sync_dirs(sf, err) != 0) {
		if (sf->created && sf->format == 0 && sf->size == 0)
			(void)unlinkat(sf->dirfd, sf->name, 0);
		return -1;
	}
	if (sf->format == 0) { /* header and record in one write */
		header_of(sf, 0, buf);
		len = STORE_HEADER_SIZE;
		at = 0;
	} else if (unsynced) {
		header_of(sf, 0, buf);
		wrote_header = 1;
		if (pwrite_all(sf->fd, buf, STORE_HEADER_SIZE, 0) != 0)
			goto fail;
	}
	len += record_encode(rec, buf + len);
	if (pwrite_all(sf->fd, buf, len, at) != 0 || fdatasync(sf->fd) != 0)
		goto fail;
	sf->end = at + (off_t)len;
	sf->format = 2;
	sf->hdr.flags = 0;
	return 0;
fail:
	sesame_err_set(err, "store file %s: cannot write record: %s", sf->path, strerror(errno));
	append_undo(sf, sf->format == 0 ? 0 : sf->end, wrote_header);
	return -1;
}

/* The bytes of a new format 2 file: header h and the kept records. */
static uint8_t *build_file(const struct store_file *sf, const struct store_header *h,
			   const uint8_t *keep, size_t *len)
{
	size_t cap = STORE_HEADER_SIZE, n = STORE_HEADER_SIZE;
	uint8_t *out;

	for (size_t i = 0; i < sf->count; i++)
		cap += sf->format == 2 ? sf->recs[i].len : RECORD_MAX;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	header_encode(h, out);
	for (size_t i = 0; i < sf->count; i++) {
		const struct record *rec = &sf->recs[i];
		if (keep != NULL && !keep[i])
			continue;
		if (sf->format == 2) { /* as they are: fields this version skips too */
			memcpy(out + n, sf->data + rec->off, rec->len);
			n += rec->len;
		} else {
			n += record_encode(rec, out + n);
		}
	}
	*len = n;
	return out;
}

/* Write the new bytes to name.tmp, durably, and lock it. The temp name is
 * only used under the lock of the file it replaces, so a leftover one is
 * from a crash and can go. Returns the fd or -1. */
static int write_temp(const struct store_file *sf, const char *tmp, const uint8_t *bytes,
		      size_t len)
{
	int fd;

	if (unlinkat(sf->dirfd, tmp, 0) != 0 && errno != ENOENT)
		return -1;
	fd = openat(sf->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) != 0 || pwrite_all(fd, bytes, len, 0) != 0 || fsync(fd) != 0 ||
	    flock(fd, LOCK_EX) != 0) {
		int saved = errno;
		close(fd);
		(void)unlinkat(sf->dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return fd;
}

int store_file_replace(struct store_file *sf, const struct store_header *h, const uint8_t *keep,
		       struct sesame_err *err)
{
	char tmp[sizeof(sf->name) + 8];
	struct store_header nh = *h;
	uint8_t *bytes;
	size_t len = 0;
	int fd;

	nh.kind = (uint8_t)sf->kind;
	nh.flags = HEADER_UNSYNCED;
	snprintf(tmp, sizeof(tmp), "%s.tmp", sf->name);
	bytes = build_file(sf, &nh, keep, &len);
	if (bytes == NULL) {
		sesame_err_set(err, "store file %s: out of memory", sf->path);
		return -1;
	}
	fd = write_temp(sf, tmp, bytes, len);
	if (fd < 0 || renameat(sf->dirfd, tmp, sf->dirfd, sf->name) != 0) {
		sesame_err_set(err, "store file %s: cannot rewrite: %s", sf->path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlinkat(sf->dirfd, tmp, 0);
		}
		free(bytes);
		return -1;
	}
	close(sf->fd); /* the old file's lock goes; we hold the new one's */
	sf->fd = fd;
	sf->created = 0;
	free(sf->data);
	sf->data = bytes;
	sf->size = (off_t)len;
	return store_file_parse(sf, err);
}

int store_file_mark_synced(struct store_file *sf, struct sesame_err *err)
{
	uint8_t header[STORE_HEADER_SIZE];

	if (sf->format != 2 || !(sf->hdr.flags & HEADER_UNSYNCED))
		return 0;
	header_of(sf, 0, header);
	if (pwrite_all(sf->fd, header, sizeof(header), 0) != 0) {
		sesame_err_set(err, "store file %s: cannot write header: %s", sf->path,
			       strerror(errno));
		return -1;
	}
	sf->hdr.flags = 0;
	return 0;
}

int store_file_truncate(struct store_file *sf, struct sesame_err *err)
{
	if (ftruncate(sf->fd, STORE_HEADER_SIZE) != 0) {
		sesame_err_set(err, "store file %s: cannot truncate: %s", sf->path, strerror(errno));
		return -1;
	}
	sf->size = STORE_HEADER_SIZE;
	sf->end = STORE_HEADER_SIZE;
	sf->count = 0;
	return 0;
}

int store_is_open(const struct store_fs *st, struct sesame_err *err)
{
	struct stat sb;

	if (st == NULL || st->dirfd < 0) {
		sesame_err_set(err, "store is not open");
		return 0;
	}

	if (store_check_fd(st->dirfd, 1, st->owner, "state directory", st->path, &sb, err) != 0)
		return 0;
	if (sb.st_nlink == 0) {
		sesame_err_set(err, "state directory %s: removed", st->path);
		return 0;
	}
	return 1;
}

int store_uses_dir(struct store_fs *st, int create, struct sesame_err *err)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	char path[DISPLAY_PATH_SIZE];
	struct stat sb;
	int made = 0, fd;

	if (st->usesfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/" USES_DIR, st->path);
	fd = openat(st->dirfd, USES_DIR, flags); /* it exists but in a new store */
	if (fd < 0 && errno == ENOENT && !create)
		return 1;
	if (fd < 0 && errno == ENOENT) {
		made = mkdirat(st->dirfd, USES_DIR, 0700) == 0;
		if (!made && errno != EEXIST) {
			sesame_err_set(err, "store directory %s: cannot create: %s", path,
				       strerror(errno));
			return -1;
		}
		if (made && store_sync_dir(st->dirfd, "state directory", st->path, err) != 0)
			return -1;
		fd = openat(st->dirfd, USES_DIR, flags);
	}
	if (fd < 0) {
		sesame_err_set(err, "store directory %s: %s", path,
			       store_open_failure(st->dirfd, USES_DIR, errno));
		return -1;
	}
	if (made && fchmod(fd, 0700) != 0) { /* the umask may have taken owner bits */
		sesame_err_set(err, "store directory %s: cannot chmod: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (store_check_fd(fd, 1, st->owner, "store directory", path, &sb, err) != 0) {
		close(fd);
		return -1;
	}
	st->usesfd = fd;
	return 0;
}
