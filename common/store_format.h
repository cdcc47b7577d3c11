/* The bytes of the store's files: file header and records, format 2, and
 * the fixed 32-byte records of format 1 (sesame 0.1), which are still read.
 * Private to the store (common/store*.c).
 *
 * Format 2 file: a 32-byte header, then variable-length records.
 *
 * Header, integers little-endian:
 *    0  4  magic "SSMS"
 *    4  1  format version: 2
 *    5  1  kind: 1 bucket (uses/XYZ), 2 revoked-users, 3 mail-sent
 *    6  1  flags: bit 0 NAME_UNSYNCED, set while the directory holding the
 *          file may not have been synced since the file got its name
 *    7  1  reserved, zero
 *    8  8  gc time, signed (revoked-users only, else zero): when gc last
 *          ran; records it dropped had expired GRACE seconds before it
 *   16 12  reserved, zero
 *   28  4  FNV-1a 32 of bytes 0..27
 *
 * Record:
 *    0  2  length L of the whole record, 28..RECORD_MAX
 *    2  1  type: 1 use, 2 revoke (buckets); 3 user revoke (revoked-users);
 *          4 login link mailed (mail-sent). Types 128..255 are reserved for
 *          records a reader may skip (the ledger's); any other unknown type
 *          makes the file unreadable: fail closed. gc keeps a skipped
 *          record until its time (then: when it may go) is past.
 *    3  1  reserved, zero
 *    4  4  uid
 *    8  6  token id (zero in types 3 and 4)
 *   14  2  reserved, zero
 *   16  8  time, signed: the token's expiry in types 1 and 2; "issued at or
 *          before" in type 3; when the mail went out in type 4
 *   24 ..  fields: tag (1 byte), length (1 byte), value. A reader skips the
 *          tags it does not know, so use details can be added to a record
 *          without a new format. Tag 1: the request's source (8 bytes),
 *          type 4. Tag 2: when (8 bytes, signed), types 1 and 2: the use or
 *          the revocation. Tags 3-7: where a use came from (text, types
 *          1): host, PAM service, rhost, ruser, tty.
 *
 * The ledger's record, type 128 (REC_ISSUE), in the token's bucket: uid,
 * id, time = the token's expiry (gc drops it with the uses, GRACE after),
 * and fields 16 account, 17 scope, 18 host, 19 how it left, 20 issuer,
 * 21 claimed issuer, 22 rhost, 23 note (text, no NUL), 24 issued (8 bytes,
 * signed), 25 uses allowed (4), 26 key id (1). A reader of sesame before
 * the ledger skips it (types 128..255).
 *  L-4  4  FNV-1a 32 of bytes 0..L-5
 *
 * A complete record (L bytes present) with a bad checksum, a bad length or
 * a bad field is corruption: the file is refused. Fewer bytes than a
 * record's length at the end of the file is an append torn by a crash,
 * which never reported success: readers ignore it and the next append
 * overwrites it, unless those bytes hold a complete record under another
 * length (a damaged length field, not a torn append): corruption. */
#ifndef SESAME_STORE_FORMAT_H
#define SESAME_STORE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "store_fs.h"
#include "token.h"

#define STORE_HEADER_SIZE 32
#define STORE_V1_RECORD 32
#define RECORD_MIN 28
#define RECORD_MAX 1024
#define HEADER_UNSYNCED 0x01

enum record_type {
	REC_USE = 1, REC_REVOKE = 2, REC_USER_REVOKE = 3, REC_MAIL = 4, REC_ISSUE = 128
};
enum store_kind { KIND_BUCKET = 1, KIND_USERS = 2, KIND_MAIL = 3 };
enum record_field {
	FIELD_SOURCE = 1, FIELD_AT = 2, FIELD_HOST = 3, FIELD_SERVICE = 4, FIELD_RHOST = 5,
	FIELD_RUSER = 6, FIELD_TTY = 7,
	FIELD_ACCOUNT = 16, FIELD_SCOPE = 17, FIELD_ISSUE_HOST = 18, FIELD_CHANNEL = 19,
	FIELD_ISSUER = 20, FIELD_CLAIMED = 21, FIELD_ISSUE_RHOST = 22, FIELD_NOTE = 23,
	FIELD_ISSUED = 24, FIELD_USES = 25, FIELD_KEY_ID = 26,
};

struct store_header {
	uint8_t kind;
	uint8_t flags;
	int64_t gc_time;
};

struct record {
	uint8_t type;
	uint8_t id[SESAME_ID_BYTES];
	uint32_t uid;
	int64_t time;
	int has_source;
	uint8_t source[SESAME_MAIL_SOURCE_LEN];
	int has_at;
	int64_t at;                       /* FIELD_AT */
	const struct sesame_use *use;     /* encode only: a use's details, or NULL */
	const struct sesame_issue *issue; /* encode only: REC_ISSUE */
	int skip;   /* a reserved type: kept by gc, otherwise ignored */
	size_t off; /* where its bytes are in the loaded file (format 2) */
	size_t len; /* and how many: gc copies them as they are */
};

/* Record types a file of each kind may hold, as a bit set. */
unsigned store_kind_types(enum store_kind kind);

void header_encode(const struct store_header *h, uint8_t out[STORE_HEADER_SIZE]);

/* 0: a format 2 header of `kind`; 1: a format 1 file; 2: an empty file,
 * or one whose header was torn while it was made (as empty); -1: a
 * damaged header, another kind or a newer format (*why says which). */
int header_decode(const uint8_t *in, size_t avail, enum store_kind kind, struct store_header *h,
		  const char **why);

/* Encode rec into out (at least RECORD_MAX bytes); returns its length. */
size_t record_encode(const struct record *rec, uint8_t *out);

/* Decode the record at in (avail bytes left in the file), setting
 * rec->len (rec->skip for a type a reader may ignore). Returns 0, 1 when
 * the record is incomplete (a torn tail), -1 when it is corrupt. */
int record_decode(const uint8_t *in, size_t avail, unsigned allowed_types, struct record *rec);

/* The ledger's fields of a decoded record (in, rec->len bytes): a use's
 * details, or an issue record's. */
void record_use_details(const uint8_t *in, size_t len, struct sesame_ledger_use *u);
void record_issue_details(const uint8_t *in, size_t len, struct sesame_issue *is);

/* A format 1 record (32 bytes). 0, or -1 when corrupt or not allowed. */
int record_decode_v1(const uint8_t in[STORE_V1_RECORD], unsigned allowed_types,
		     struct record *rec);

#endif
