/* The one-time-use store: bucketed append logs in state_dir.
 *
 * Design
 *   uses/XYZ holds the records of every token whose id starts with the 12
 *   bits XYZ (id[0] << 4 | id[1] >> 4, three lower-case hex digits), so
 *   there are at most 4096 bucket files. A redemption reads one bucket and
 *   appends one record: one durable write (pwrite + fdatasync), cheaper
 *   than creating a file per use, which needs two fsyncs. Ids are random,
 *   so a million outstanding records spread to about 1e6 / 4096 = 244
 *   records (7.8 KB) per bucket: the cost of a lookup is bounded by the
 *   records in one bucket, not by the size of the store, and gc keeps it
 *   there by dropping the records of expired tokens.
 *   revoked-users holds "every token of uid issued at or before T".
 *   mail-sent holds one record per login link the module mailed, for the
 *   per-account rate limits; gc drops them after an hour.
 *
 * Record: 32 bytes, integers little-endian
 *    0  1  type: 1 use, 2 revoke (uses/XYZ); 3 user revoke (revoked-users);
 *          4 login link mailed (mail-sent)
 *    1  6  token id (zero in type 3); in type 4, bytes 0-5 of the source
 *    7  1  reserved, zero; in type 4, byte 6 of the source
 *    8  4  uid
 *   12  4  reserved, zero; in type 4, byte 12 is byte 7 of the source
 *   16  8  time, signed: the token's expiry (issued + lifetime) in types 1
 *          and 2, so gc knows when to drop it; the "issued at or before"
 *          time in type 3; when the mail was sent in type 4
 *   24  4  reserved, zero
 *   28  4  FNV-1a 32 of bytes 0..27
 * A token is (id, uid). A complete record with a bad checksum, an unknown
 * type or non-zero reserved bytes makes its file unusable: fail closed. A
 * trailing partial record (size % 32 != 0) is an append torn by a crash,
 * which never reported success: readers ignore it, and the next append
 * overwrites it (pwrite at the size rounded down, not O_APPEND).
 *
 * Durability
 *   Every append is pwrite + fdatasync under LOCK_EX. redeem writes the use
 *   record and fdatasyncs it before it returns SESAME_OK, so a redeemer
 *   killed after the write still counts the use, and one killed before it
 *   never reported success. The first append to an
 *   empty file, whoever created it, first fsyncs the directories holding it
 *   (uses/ and state_dir) so the name of the file is durable too. A failed
 *   write or sync truncates the file back and reports the store unavailable.
 *
 * Locking
 *   Readers take flock(LOCK_SH), writers flock(LOCK_EX), held from before
 *   the read until after the append's fdatasync; close() releases it. gc
 *   replaces a file by writing a temp file, locking it, renaming it over the
 *   name and fsyncing the directory, and only then unlocks both. So after
 *   taking its lock every opener fstatat()s the name and compares st_dev and
 *   st_ino with its locked fd: if gc replaced or removed the file meanwhile,
 *   it closes and starts again (at most OPEN_ATTEMPTS times, then the store
 *   is unavailable). Nobody holds two files' locks at once (except gc,
 *   holding a file and its new replacement): a redemption reads
 *   revoked-users under LOCK_SH and releases it before it locks the
 *   bucket, so no lock order can deadlock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

enum record_type { REC_USE = 1, REC_REVOKE = 2, REC_USER_REVOKE = 3, REC_MAIL = 4 };

#define TYPES_BUCKET ((1u << REC_USE) | (1u << REC_REVOKE))
#define TYPES_USERS (1u << REC_USER_REVOKE)
#define TYPES_MAIL (1u << REC_MAIL)
#define MAIL_FILE "mail-sent"
/* How long a mail record counts for the per-hour limit. */
#define MAIL_WINDOW 3600
#define USES_DIR "uses"
#define USERS_FILE "revoked-users"
#define OPEN_ATTEMPTS 10
/* 2M records: far above anything real, low enough that a damaged size
 * cannot make us allocate without bound. */
#define MAX_FILE_BYTES ((off_t)64 << 20)
#define DISPLAY_PATH_SIZE (sizeof(((struct sesame_store *)0)->path) + 32)

struct record {
	uint8_t type;
	uint8_t id[SESAME_ID_BYTES];
	uint8_t source[SESAME_MAIL_SOURCE_LEN]; /* type 4 only */
	uint32_t uid;
	int64_t time; /* expiry (use, revoke) or issued-at-or-before (user revoke) */
};

/* One store file, open and locked, with its complete records loaded. */
struct store_file {
	int fd;
	int dirfd;                    /* directory holding it (not owned) */
	char name[24];                /* name in dirfd */
	char path[DISPLAY_PATH_SIZE]; /* for messages */
	off_t end;                    /* size rounded down to whole records */
	uint8_t *data;
	size_t count;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static void record_encode(const struct record *rec, uint8_t out[SESAME_STORE_RECORD])
{
	memset(out, 0, SESAME_STORE_RECORD);
	out[0] = rec->type;
	memcpy(out + 1, rec->id, SESAME_ID_BYTES);
	if (rec->type == REC_MAIL) {
		memcpy(out + 1, rec->source, 7);
		out[12] = rec->source[7];
	}
	put_le32(out + 8, rec->uid);
	put_le64(out + 16, (uint64_t)rec->time);
	put_le32(out + 28, fnv1a32(out, 28));
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* 0, or -1 when the bytes are not a record of an allowed type. */
static int record_decode(const uint8_t in[SESAME_STORE_RECORD], unsigned allowed_types,
			 struct record *rec)
{
	if (get_le32(in + 28) != fnv1a32(in, 28))
		return -1;
	if (in[0] > REC_MAIL || !(allowed_types & (1u << in[0])))
		return -1;
	if (in[0] == REC_MAIL ? !all_zero(in + 13, 3)
			      : in[7] != 0 || !all_zero(in + 12, 4))
		return -1;
	if (!all_zero(in + 24, 4))
		return -1;
	if (in[0] == REC_USER_REVOKE && !all_zero(in + 1, SESAME_ID_BYTES))
		return -1;
	memset(rec, 0, sizeof(*rec));
	rec->type = in[0];
	if (in[0] == REC_MAIL) {
		memcpy(rec->source, in + 1, 7);
		rec->source[7] = in[12];
	} else {
		memcpy(rec->id, in + 1, SESAME_ID_BYTES);
	}
	rec->uid = get_le32(in + 8);
	rec->time = (int64_t)get_le64(in + 16);
	return 0;
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

static void store_file_init(struct store_file *sf, int dirfd, const char *name,
			    const char *path)
{
	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	sf->dirfd = dirfd;
	snprintf(sf->name, sizeof(sf->name), "%s", name);
	snprintf(sf->path, sizeof(sf->path), "%s", path);
}

/* Closing the descriptor is what releases the lock. */
static void store_file_release(struct store_file *sf)
{
	if (sf->fd >= 0)
		close(sf->fd);
	sf->fd = -1;
	free(sf->data);
	sf->data = NULL;
	sf->count = 0;
}

/* Why opening name in dirfd failed. O_DIRECTORY|O_NOFOLLOW reports a
 * symlink as ENOTDIR, so look before blaming the type. */
static const char *open_failure(int dirfd, const char *name, int saved)
{
	struct stat sb;

	if (saved == ELOOP)
		return "is a symbolic link";
	if (saved == ENOTDIR && fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode))
		return "is a symbolic link";
	return strerror(saved);
}

/* Open sf->name, creating it (0600) when create is set. Returns the fd,
 * or -1 with errno (EEXIST: lost a creation race, try again). O_NONBLOCK
 * keeps a FIFO planted in the store from hanging us; it does nothing to
 * regular files. */
static int open_or_create(const struct store_file *sf, int create)
{
	int flags = (create ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd = openat(sf->dirfd, sf->name, flags);

	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	fd = openat(sf->dirfd, sf->name, flags | O_CREAT | O_EXCL, 0600);
	if (fd >= 0 && fchmod(fd, 0600) != 0) { /* a umask may have taken owner bits */
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Is the locked fd still what the name points at (gc did not replace or
 * remove it while we waited)? 1 yes, 0 no, -1 error with errno. */
static int still_named(const struct store_file *sf, struct stat *locked)
{
	struct stat named;

	if (fstat(sf->fd, locked) != 0)
		return -1;
	if (fstatat(sf->dirfd, sf->name, &named, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	return named.st_dev == locked->st_dev && named.st_ino == locked->st_ino;
}

/* Open, check and lock sf (LOCK_SH or LOCK_EX). Returns 0 with sf->fd
 * locked and sf->end set, 1 when the file does not exist (only without
 * create), -1 with err set. */
static int store_file_open(struct store_file *sf, int lock_op, int create, struct sesame_err *err)
{
	struct stat locked;

	for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
		int same;

		sf->fd = open_or_create(sf, create);
		if (sf->fd < 0 && errno == EEXIST)
			continue;
		if (sf->fd < 0 && errno == ENOENT && !create)
			return 1;
		if (sf->fd < 0) {
			sesame_err_set(err, "store file %s: %s", sf->path,
				       open_failure(sf->dirfd, sf->name, errno));
			return -1;
		}
		if (sesame_check_fd(sf->fd, SESAME_FILE_REGULAR, 1, 0, "store file", sf->path,
				    err) != 0)
			goto fail;
		while (flock(sf->fd, lock_op) != 0) {
			if (errno != EINTR) {
				sesame_err_set(err, "store file %s: cannot lock: %s", sf->path,
					       strerror(errno));
				goto fail;
			}
		}
		same = still_named(sf, &locked);
		if (same < 0) {
			sesame_err_set(err, "store file %s: cannot stat: %s", sf->path,
				       strerror(errno));
			goto fail;
		}
		if (same) {
			sf->end = locked.st_size - locked.st_size % SESAME_STORE_RECORD;
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

/* Read and validate every complete record of the locked file. */
static int store_file_load(struct store_file *sf, unsigned allowed_types, struct sesame_err *err)
{
	struct record rec;

	if (sf->end > MAX_FILE_BYTES) {
		sesame_err_set(err, "store file %s: larger than %lld bytes", sf->path,
			       (long long)MAX_FILE_BYTES);
		return -1;
	}
	sf->count = (size_t)sf->end / SESAME_STORE_RECORD;
	sf->data = malloc(sf->end > 0 ? (size_t)sf->end : 1);
	if (sf->data == NULL) {
		sesame_err_set(err, "store file %s: out of memory", sf->path);
		return -1;
	}
	if (pread_all(sf->fd, sf->data, (size_t)sf->end, 0) != 0) {
		sesame_err_set(err, "store file %s: read: %s", sf->path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sf->count; i++) {
		if (record_decode(sf->data + i * SESAME_STORE_RECORD, allowed_types, &rec) != 0) {
			sesame_err_set(err, "store file %s: corrupt record at offset %zu",
				       sf->path, i * SESAME_STORE_RECORD);
			return -1;
		}
	}
	return 0;
}

/* Open, lock and load in one step; same returns as store_file_open. */
static int store_file_read(struct store_file *sf, int lock_op, int create, unsigned allowed_types,
			   struct sesame_err *err)
{
	int r = store_file_open(sf, lock_op, create, err);

	if (r != 0)
		return r;
	return store_file_load(sf, allowed_types, err) == 0 ? 0 : -1;
}

static int sync_dir(int dirfd, const char *what, const char *path, struct sesame_err *err)
{
	if (fsync(dirfd) != 0) {
		sesame_err_set(err, "%s %s: cannot sync: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Append one record at the end of the whole records, durably. The file
 * must be open for writing and locked LOCK_EX. */
static int store_file_append(const struct sesame_store *st, struct store_file *sf,
			     const struct record *rec, struct sesame_err *err)
{
	uint8_t buf[SESAME_STORE_RECORD];

	/* The first record in a file makes its name matter: sync the
	 * directories first, so no success rests on an entry still in cache. */
	if (sf->end == 0) {
		if (sync_dir(sf->dirfd, "directory of store file", sf->path, err) != 0)
			return -1;
		if (sf->dirfd != st->dirfd &&
		    sync_dir(st->dirfd, "state directory", st->path, err) != 0)
			return -1;
	}
	record_encode(rec, buf);
	if (pwrite_all(sf->fd, buf, sizeof(buf), sf->end) != 0 || fdatasync(sf->fd) != 0) {
		sesame_err_set(err, "store file %s: cannot write record: %s", sf->path,
			       strerror(errno));
		/* Best effort: the caller reports failure whether or not this
		 * record survives, and an extra record only refuses more. A file
		 * this append would have started goes again (under our lock;
		 * anyone waiting for it sees the name gone and starts over), so
		 * a failed redemption leaves the store as it found it. */
		if (ftruncate(sf->fd, sf->end) == 0)
			(void)fdatasync(sf->fd);
		if (sf->end == 0)
			(void)unlinkat(sf->dirfd, sf->name, 0);
		return -1;
	}
	sf->end += SESAME_STORE_RECORD;
	return 0;
}

/* The store was opened, and its directory still passes the checks made at
 * open (a long-lived handle must notice a chmod or a removal). */
static int store_is_open(const struct sesame_store *st, struct sesame_err *err)
{
	struct stat sb;

	if (st == NULL || st->dirfd < 0) {
		sesame_err_set(err, "store is not open");
		return 0;
	}
	if (sesame_check_fd(st->dirfd, SESAME_FILE_DIRECTORY, 1, 0, "state directory", st->path,
			    err) != 0)
		return 0;
	if (fstat(st->dirfd, &sb) != 0 || sb.st_nlink == 0) {
		sesame_err_set(err, "state directory %s: removed", st->path);
		return 0;
	}
	return 1;
}

/* Make st->usesfd usable: 0, 1 when uses/ does not exist (only without
 * create), -1 with err set. */
static int open_uses_dir(struct sesame_store *st, int create, struct sesame_err *err)
{
	char path[DISPLAY_PATH_SIZE];
	int made = 0, fd;

	if (st->usesfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/" USES_DIR, st->path);
	if (create) {
		made = mkdirat(st->dirfd, USES_DIR, 0700) == 0;
		if (!made && errno != EEXIST) {
			sesame_err_set(err, "store directory %s: cannot create: %s", path,
				       strerror(errno));
			return -1;
		}
		if (made && sync_dir(st->dirfd, "state directory", st->path, err) != 0)
			return -1;
	}
	fd = openat(st->dirfd, USES_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !create)
		return 1;
	if (fd < 0) {
		sesame_err_set(err, "store directory %s: %s", path,
			       open_failure(st->dirfd, USES_DIR, errno));
		return -1;
	}
	if (made && fchmod(fd, 0700) != 0) { /* the umask may have taken owner bits */
		sesame_err_set(err, "store directory %s: cannot chmod: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (sesame_check_fd(fd, SESAME_FILE_DIRECTORY, 1, 0, "store directory", path, err) != 0) {
		close(fd);
		return -1;
	}
	st->usesfd = fd;
	return 0;
}

/* Open, lock and load the bucket of token id. Returns as store_file_open;
 * a missing uses/ directory counts as a missing bucket. */
static int bucket_read(struct sesame_store *st, const uint8_t id[SESAME_ID_BYTES], int lock_op,
		       int create, struct store_file *sf, struct sesame_err *err)
{
	char name[8], path[DISPLAY_PATH_SIZE];
	unsigned bucket = (unsigned)id[0] << 4 | (unsigned)id[1] >> 4;
	int r;

	snprintf(name, sizeof(name), "%03x", bucket);
	snprintf(path, sizeof(path), "%s/" USES_DIR "/%s", st->path, name);
	store_file_init(sf, -1, name, path);
	r = open_uses_dir(st, create, err);
	if (r != 0)
		return r;
	sf->dirfd = st->usesfd;
	return store_file_read(sf, lock_op, create, TYPES_BUCKET, err);
}

static int64_t token_expiry(const struct sesame_token *t)
{
	return (int64_t)t->issued + (int64_t)t->lifetime;
}

/* What a loaded bucket says about t: uses recorded, and revoked or not. */
static void bucket_tally(const struct store_file *sf, const struct sesame_token *t,
			 unsigned *used, int *revoked)
{
	struct record rec;

	*used = 0;
	*revoked = 0;
	for (size_t i = 0; i < sf->count; i++) {
		if (record_decode(sf->data + i * SESAME_STORE_RECORD, TYPES_BUCKET, &rec) != 0)
			continue; /* cannot happen: store_file_load checked them all */
		if (rec.uid != t->uid || memcmp(rec.id, t->id, SESAME_ID_BYTES) != 0)
			continue;
		if (rec.type == REC_USE)
			(*used)++;
		else
			*revoked = 1;
	}
}

/* Latest "issued at or before" time in a loaded revoked-users, or -1. */
static int64_t latest_before(const struct store_file *sf, uint32_t uid)
{
	struct record rec;
	int64_t before = -1;

	for (size_t i = 0; i < sf->count; i++) {
		if (record_decode(sf->data + i * SESAME_STORE_RECORD, TYPES_USERS, &rec) == 0 &&
		    rec.uid == uid && rec.time > before)
			before = rec.time;
	}
	return before;
}

static void users_file_init(const struct sesame_store *st, struct store_file *sf)
{
	char path[DISPLAY_PATH_SIZE];

	snprintf(path, sizeof(path), "%s/" USERS_FILE, st->path);
	store_file_init(sf, st->dirfd, USERS_FILE, path);
}

static int user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
			       struct sesame_err *err)
{
	struct store_file sf;
	int r;

	*before = -1;
	users_file_init(st, &sf);
	r = store_file_read(&sf, LOCK_SH, 0, TYPES_USERS, err);
	if (r == 0)
		*before = latest_before(&sf, uid);
	store_file_release(&sf);
	return r < 0 ? -1 : 0;
}

/* Look t up: revoked-users first, then its bucket, left open, locked
 * (lock_op) and loaded in sf, which the caller releases. A revoked user's
 * token needs no write, so then the bucket is not opened for one. Fills
 * used and returns the reason the store gives. */
static enum sesame_reason token_check(struct sesame_store *st, const struct sesame_token *t,
				      int lock_op, int create, struct store_file *sf,
				      unsigned *used, struct sesame_err *err)
{
	int64_t before;
	int revoked = 0, user_revoked;

	*used = 0;
	store_file_init(sf, -1, "", "");
	if (!store_is_open(st, err) || t == NULL)
		return SESAME_STORE_UNAVAILABLE;
	if (user_revoked_before(st, t->uid, &before, err) != 0)
		return SESAME_STORE_UNAVAILABLE;
	user_revoked = before >= 0 && (int64_t)t->issued <= before;
	if (user_revoked && create)
		return SESAME_REVOKED; /* nothing to write: leave the bucket alone */
	switch (bucket_read(st, t->id, lock_op, create, sf, err)) {
	case 0: bucket_tally(sf, t, used, &revoked); break;
	case 1: break; /* nothing recorded yet */
	default: return SESAME_STORE_UNAVAILABLE;
	}
	if (revoked || user_revoked)
		return SESAME_REVOKED;
	if (t->uses > 0 && *used >= t->uses)
		return SESAME_USED_UP;
	return SESAME_OK;
}

enum sesame_reason sesame_store_redeem(struct sesame_store *st, const struct sesame_token *t,
				       struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	unsigned used;
	int limited = t != NULL && t->uses > 0;
	enum sesame_reason r;

	/* Unlimited tokens write nothing: a shared lock for the revocations. */
	r = token_check(st, t, limited ? LOCK_EX : LOCK_SH, limited, &sf, &used, err);
	if (r != SESAME_OK || !limited)
		goto out;
	memset(&rec, 0, sizeof(rec));
	rec.type = REC_USE;
	memcpy(rec.id, t->id, SESAME_ID_BYTES);
	rec.uid = t->uid;
	rec.time = token_expiry(t);
	if (store_file_append(st, &sf, &rec, err) != 0)
		r = SESAME_STORE_UNAVAILABLE;
out:
	store_file_release(&sf);
	return r;
}

enum sesame_reason sesame_store_status(struct sesame_store *st, const struct sesame_token *t,
				       unsigned *used, struct sesame_err *err)
{
	struct store_file sf;
	unsigned count = 0;
	enum sesame_reason r;

	r = token_check(st, t, LOCK_SH, 0, &sf, &count, err);
	store_file_release(&sf);
	if (used != NULL)
		*used = count;
	return r;
}

int sesame_store_revoke(struct sesame_store *st, const struct sesame_token *t,
			struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	unsigned used;
	int revoked, r = -1;

	store_file_init(&sf, -1, "", "");
	if (!store_is_open(st, err) || t == NULL)
		goto out;
	if (bucket_read(st, t->id, LOCK_EX, 1, &sf, err) != 0)
		goto out;
	bucket_tally(&sf, t, &used, &revoked);
	if (revoked) { /* already: keep the bucket from growing */
		r = 0;
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = REC_REVOKE;
	memcpy(rec.id, t->id, SESAME_ID_BYTES);
	rec.uid = t->uid;
	rec.time = token_expiry(t);
	r = store_file_append(st, &sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}

int sesame_store_revoke_user(struct sesame_store *st, uint32_t uid, int64_t before,
			     struct sesame_err *err)
{
	struct store_file sf;
	struct record rec;
	int r = -1;

	store_file_init(&sf, -1, "", "");
	if (!store_is_open(st, err))
		goto out;
	if (before < 0) {
		sesame_err_set(err, "revoke user %u: negative time %" PRId64, (unsigned)uid,
			       before);
		goto out;
	}
	users_file_init(st, &sf);
	if (store_file_read(&sf, LOCK_EX, 1, TYPES_USERS, err) != 0)
		goto out;
	if (latest_before(&sf, uid) >= before) { /* already covered: keep the file small */
		r = 0;
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = REC_USER_REVOKE;
	rec.uid = uid;
	rec.time = before;
	r = store_file_append(st, &sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}

int sesame_store_user_revoked_before(struct sesame_store *st, uint32_t uid, int64_t *before,
				     struct sesame_err *err)
{
	int64_t found = -1;
	int r = -1;

	if (store_is_open(st, err))
		r = user_revoked_before(st, uid, &found, err);
	if (before != NULL)
		*before = found;
	return r;
}

/* Mails recorded for uid within the last hour: all of them, those from
 * source, and the latest from source. */
struct mail_tally {
	unsigned account, source;
	int64_t latest;
};

static void mail_tally(const struct store_file *sf, uint32_t uid,
		       const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
		       struct mail_tally *t)
{
	struct record rec;

	t->account = t->source = 0;
	t->latest = INT64_MIN;
	for (size_t i = 0; i < sf->count; i++) {
		if (record_decode(sf->data + i * SESAME_STORE_RECORD, TYPES_MAIL, &rec) != 0 ||
		    rec.uid != uid)
			continue;
		if (rec.time > now - MAIL_WINDOW)
			t->account++;
		if (memcmp(rec.source, source, SESAME_MAIL_SOURCE_LEN) != 0)
			continue;
		if (rec.time > now - MAIL_WINDOW)
			t->source++;
		if (rec.time > t->latest)
			t->latest = rec.time;
	}
}

int sesame_store_mail_allow(struct sesame_store *st, uint32_t uid,
			    const uint8_t source[SESAME_MAIL_SOURCE_LEN], int64_t now,
			    const struct sesame_mail_limits *lim, struct sesame_err *err)
{
	char path[DISPLAY_PATH_SIZE];
	struct store_file sf;
	struct record rec;
	struct mail_tally t;
	int r = -1;

	store_file_init(&sf, -1, "", "");
	if (!store_is_open(st, err))
		goto out;
	snprintf(path, sizeof(path), "%s/" MAIL_FILE, st->path);
	store_file_init(&sf, st->dirfd, MAIL_FILE, path);
	/* Held from the count to the append: a flood of logins for one
	 * account cannot all see room for one more mail. */
	if (store_file_read(&sf, LOCK_EX, 1, TYPES_MAIL, err) != 0)
		goto out;
	mail_tally(&sf, uid, source, now, &t);
	if (t.account >= lim->per_account || t.source >= lim->per_source ||
	    (t.latest != INT64_MIN && now - t.latest < lim->interval)) {
		r = 1;
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = REC_MAIL;
	rec.uid = uid;
	memcpy(rec.source, source, SESAME_MAIL_SOURCE_LEN);
	rec.time = now;
	r = store_file_append(st, &sf, &rec, err);
out:
	store_file_release(&sf);
	return r;
}

/* Does a record outlive `now`? Use and revoke records until the token
 * expires; a user revocation until no token issued at or before its time
 * can still be live. */
static int record_live(const struct record *rec, int64_t now)
{
	if (rec->type == REC_MAIL)
		return rec->time > now - MAIL_WINDOW;
	if (rec->type != REC_USER_REVOKE)
		return rec->time > now;
	if (now < INT64_MIN + SESAME_MAX_LIFETIME)
		return 1;
	return rec->time > now - SESAME_MAX_LIFETIME;
}

/* Move the live records of a loaded file to its front; returns how many. */
static size_t compact_live(struct store_file *sf, unsigned allowed_types, int64_t now)
{
	struct record rec;
	size_t kept = 0;

	for (size_t i = 0; i < sf->count; i++) {
		uint8_t *p = sf->data + i * SESAME_STORE_RECORD;
		if (record_decode(p, allowed_types, &rec) != 0 || !record_live(&rec, now))
			continue;
		if (kept != i)
			memcpy(sf->data + kept * SESAME_STORE_RECORD, p, SESAME_STORE_RECORD);
		kept++;
	}
	return kept;
}

/* Replace sf by a file holding its first `kept` records: temp file,
 * fsync, lock, rename, directory fsync, and only then unlock, so nobody
 * appends to the new file before its name is durable. The temp name is
 * only used under the lock of the file it replaces, so a leftover one is
 * from a crash and can go. */
static int replace_file(struct store_file *sf, size_t kept, struct sesame_err *err)
{
	char tmp[sizeof(sf->name) + 8];
	int fd = -1, r = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp", sf->name);
	if (unlinkat(sf->dirfd, tmp, 0) != 0 && errno != ENOENT)
		goto fail;
	fd = openat(sf->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0)
		goto fail;
	if (pwrite_all(fd, sf->data, kept * SESAME_STORE_RECORD, 0) != 0 || fsync(fd) != 0)
		goto fail;
	if (flock(fd, LOCK_EX) != 0 || renameat(sf->dirfd, tmp, sf->dirfd, sf->name) != 0)
		goto fail;
	if (fsync(sf->dirfd) != 0)
		goto fail;
	r = 0;
	goto out;
fail:
	sesame_err_set(err, "store file %s: cannot rewrite: %s", sf->path, strerror(errno));
	(void)unlinkat(sf->dirfd, tmp, 0); /* ENOENT once renamed: harmless */
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* gc one file: drop the records dead at `now`; a file left empty goes.
 * *unlinked is set when the directory needs a sync for a removal. */
static int gc_file(struct store_file *sf, unsigned allowed_types, int64_t now,
		   struct sesame_gc_stats *stats, int *unlinked, struct sesame_err *err)
{
	size_t kept;
	int r;

	r = store_file_read(sf, LOCK_EX, 0, allowed_types, err);
	if (r != 0)
		return r > 0 ? 0 : -1;
	kept = compact_live(sf, allowed_types, now);
	stats->kept += kept;
	stats->removed += sf->count - kept;
	if (kept == sf->count && kept > 0)
		return 0;
	if (kept == 0) {
		if (unlinkat(sf->dirfd, sf->name, 0) != 0) {
			sesame_err_set(err, "store file %s: cannot remove: %s", sf->path,
				       strerror(errno));
			return -1;
		}
		*unlinked = 1;
	} else if (replace_file(sf, kept, err) != 0) {
		return -1;
	}
	stats->files_rewritten++;
	return 0;
}

/* Which bucket files exist: one directory read instead of 4096 opens.
 * Other names (a temp file left by a crash) are not gc's business. */
static int list_buckets(const struct sesame_store *st, uint8_t present[SESAME_STORE_BUCKETS],
			struct sesame_err *err)
{
	struct dirent *de;
	DIR *dir;
	int fd = openat(st->usesfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(present, 0, SESAME_STORE_BUCKETS);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (dir == NULL) {
		sesame_err_set(err, "store directory %s/" USES_DIR ": cannot list: %s", st->path,
			       strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		const char *n = de->d_name;
		if (strlen(n) == 3 && strspn(n, "0123456789abcdef") == 3)
			present[strtoul(n, NULL, 16)] = 1;
	}
	closedir(dir);
	return 0;
}

static int gc_buckets(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		      struct sesame_err *err)
{
	uint8_t present[SESAME_STORE_BUCKETS];
	char name[8], path[DISPLAY_PATH_SIZE];
	struct store_file sf;
	int unlinked = 0, r;

	r = open_uses_dir(st, 0, err);
	if (r != 0)
		return r > 0 ? 0 : -1;
	if (list_buckets(st, present, err) != 0)
		return -1;
	for (unsigned b = 0; b < SESAME_STORE_BUCKETS; b++) {
		if (!present[b])
			continue;
		snprintf(name, sizeof(name), "%03x", b);
		snprintf(path, sizeof(path), "%s/" USES_DIR "/%s", st->path, name);
		store_file_init(&sf, st->usesfd, name, path);
		r = gc_file(&sf, TYPES_BUCKET, now, stats, &unlinked, err);
		store_file_release(&sf);
		if (r != 0)
			return -1;
	}
	if (unlinked)
		return sync_dir(st->usesfd, "store directory", st->path, err);
	return 0;
}

int sesame_store_gc(struct sesame_store *st, int64_t now, struct sesame_gc_stats *stats,
		    struct sesame_err *err)
{
	char path[DISPLAY_PATH_SIZE];
	struct sesame_gc_stats local = { 0, 0, 0 };
	struct store_file sf;
	int unlinked = 0, r = -1;

	store_file_init(&sf, -1, "", "");
	if (!store_is_open(st, err))
		goto out;
	if (gc_buckets(st, now, &local, err) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/" USERS_FILE, st->path);
	store_file_init(&sf, st->dirfd, USERS_FILE, path);
	if (gc_file(&sf, TYPES_USERS, now, &local, &unlinked, err) != 0)
		goto out;
	store_file_release(&sf);
	snprintf(path, sizeof(path), "%s/" MAIL_FILE, st->path);
	store_file_init(&sf, st->dirfd, MAIL_FILE, path);
	if (gc_file(&sf, TYPES_MAIL, now, &local, &unlinked, err) != 0)
		goto out;
	if (unlinked && sync_dir(st->dirfd, "state directory", st->path, err) != 0)
		goto out;
	r = 0;
out:
	store_file_release(&sf);
	if (stats != NULL)
		*stats = local;
	return r;
}

/* Copy state_dir without trailing slashes: "dir/" would follow a symlink
 * named dir despite O_NOFOLLOW. */
static int copy_state_path(struct sesame_store *st, const char *state_dir,
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
static int make_state_dir(const struct sesame_store *st, struct sesame_err *err)
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

int sesame_store_open(struct sesame_store *st, const char *state_dir, int create,
		      struct sesame_err *err)
{
	int made = 0;

	st->dirfd = -1;
	st->usesfd = -1;
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
			       open_failure(AT_FDCWD, st->path, errno));
		return -1;
	}
	if (made && fchmod(st->dirfd, 0700) != 0) { /* the umask may have taken bits */
		sesame_err_set(err, "state directory %s: cannot chmod: %s", st->path,
			       strerror(errno));
		goto fail;
	}
	if (sesame_check_fd(st->dirfd, SESAME_FILE_DIRECTORY, 1, 0, "state directory", st->path,
			    err) != 0)
		goto fail;
	return 0;
fail:
	sesame_store_close(st);
	return -1;
}

void sesame_store_close(struct sesame_store *st)
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
