/* The store's locked-file protocol, shared by its operations, gc and
 * preparation. Private to the store (common/store*.c); the rules are in
 * the comment at the top of store_file.c. */
#ifndef SESAME_STORE_FILE_H
#define SESAME_STORE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store_fs.h"
#include "store_format.h"

#define USES_DIR "uses"
#define USERS_FILE "revoked-users"
#define MAIL_FILE "mail-sent"
#define FORMAT_FILE "format"
#define DISPLAY_PATH_SIZE (sizeof(((struct store_fs *)0)->path) + 32)

/* One store file, open and locked, with its records loaded. */
struct store_file {
	int fd;
	int dirfd;                    /* directory holding it (not owned) */
	int topfd;                    /* state_dir, when dirfd is uses/; else -1 */
	uid_t owner;
	enum store_kind kind;
	char name[24];                /* name in dirfd */
	char path[DISPLAY_PATH_SIZE]; /* for messages */
	int created;                  /* made by this open */
	int format;                   /* 2, 1 (sesame 0.1), 0 (empty: no header yet) */
	struct store_header hdr;      /* format 2 */
	off_t size;                   /* bytes in the file when loaded */
	off_t end;                    /* where the next record goes */
	uint8_t *data;
	struct record *recs;
	size_t count;
};

/* Every file of a store, numbered: the buckets, then revoked-users and
 * mail-sent. */
#define STORE_FILES (SESAME_STORE_BUCKETS + 2)
enum store_kind store_kind_of(unsigned n);

/* Name a store file: kind and, for a bucket, its number. A bucket needs
 * st->usesfd open (store_uses_dir). One place builds every path. */
void store_file_init(struct store_file *sf, const struct store_fs *st, enum store_kind kind,
		     unsigned bucket);

/* Open (creating it when create is set), check, lock (LOCK_SH or
 * LOCK_EX) and load. Returns 0, 1 when the file does not exist (only
 * without create), -1 with err set. */
int store_file_read(struct store_file *sf, int lock_op, int create, struct sesame_err *err);

/* A store_file that holds nothing yet: releasing it is a no-op. */
void store_file_none(struct store_file *sf);

/* Closing the descriptor is what releases the lock. */
void store_file_release(struct store_file *sf);

/* Append one record durably (pwrite + fdatasync); sf locked LOCK_EX. A
 * format 1 file is first rewritten in format 2; a file whose name may not
 * be durable yet (empty, or NAME_UNSYNCED) gets its directories synced
 * first. On failure the file is left as it was found. */
int store_file_append(struct store_file *sf, const struct record *rec, struct sesame_err *err);

/* Replace sf, locked LOCK_EX, by a format 2 file with header h (which
 * gets NAME_UNSYNCED) and the records whose keep[i] is set (all when keep
 * is NULL): temp file, fsync, lock, rename. sf then is the new file,
 * locked. The caller syncs the directory and clears the flag
 * (store_file_mark_synced), or leaves it for whoever appends next. */
int store_file_replace(struct store_file *sf, const struct store_header *h, const uint8_t *keep,
		       struct sesame_err *err);

/* Clear NAME_UNSYNCED once the directory is known synced; sf is locked
 * LOCK_EX. Not synced itself: a lost clear only costs a sync later. */
int store_file_mark_synced(struct store_file *sf, struct sesame_err *err);

/* Drop every record of a format 2 file in place (truncate to its header). */
int store_file_truncate(struct store_file *sf, struct sesame_err *err);

/* fsync a directory; err names it. */
int store_sync_dir(int fd, const char *what, const char *path, struct sesame_err *err);

/* Check an open store file or directory: its type, owned by owner, no
 * group or other access, one link for a file. Fills *sb. */
int store_check_fd(int fd, int is_dir, uid_t owner, const char *what, const char *path,
		   struct stat *sb, struct sesame_err *err);

/* The state directory is open and still what it was (mode, owner, not
 * removed): a long-lived handle must notice a chmod or a removal. */
int store_is_open(const struct store_fs *st, struct sesame_err *err);

/* Make st->usesfd usable: 0, 1 when uses/ does not exist (only without
 * create), -1 with err set. */
int store_uses_dir(struct store_fs *st, int create, struct sesame_err *err);

/* Why opening name in dirfd failed, for a message. */
const char *store_open_failure(int dirfd, const char *name, int saved);

unsigned store_bucket_of(const uint8_t id[SESAME_ID_BYTES]);

#endif
