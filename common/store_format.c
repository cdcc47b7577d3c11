/* Encoding and decoding of the store's headers and records (formats 1 and
 * 2): pure functions on bytes, no I/O. The layout is in store_format.h. */
#include <string.h>

#include "store_format.h"

#define MAGIC "SSMS"
#define RECORD_CORE 24
#define FIELD_MAX 255

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

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

#define FNV1A32_BASIS 2166136261u

static uint32_t fnv1a32_more(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
	return fnv1a32_more(FNV1A32_BASIS, p, n);
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

unsigned store_kind_types(enum store_kind kind)
{
	switch (kind) {
	case KIND_BUCKET: return (1u << REC_USE) | (1u << REC_REVOKE);
	case KIND_USERS: return 1u << REC_USER_REVOKE;
	case KIND_MAIL: return 1u << REC_MAIL;
	}
	return 0;
}

void header_encode(const struct store_header *h, uint8_t out[STORE_HEADER_SIZE])
{
	memset(out, 0, STORE_HEADER_SIZE);
	memcpy(out, MAGIC, 4);
	out[4] = SESAME_STORE_VERSION;
	out[5] = h->kind;
	out[6] = h->flags;
	put_le64(out + 8, (uint64_t)h->gc_time);
	put_le32(out + 28, fnv1a32(out, 28));
}

int header_decode(const uint8_t *in, size_t avail, enum store_kind kind, struct store_header *h,
		  const char **why)
{
	memset(h, 0, sizeof(*h));
	if (avail == 0)
		return 2;
	if (avail < 4 && memcmp(in, MAGIC, avail) == 0)
		return 2; /* torn while the file was made: as empty */
	if (avail < 4 || memcmp(in, MAGIC, 4) != 0)
		return 1;
	*why = "damaged header";
	if (avail < STORE_HEADER_SIZE)
		return 2;
	if (get_le32(in + 28) != fnv1a32(in, 28))
		return -1;
	if (in[4] != SESAME_STORE_VERSION) {
		*why = "written by a newer sesame (store format above 2)";
		return -1;
	}
	if (in[5] != kind || (in[6] & ~HEADER_UNSYNCED) != 0 || in[7] != 0 ||
	    !all_zero(in + 16, 12))
		return -1;
	h->kind = in[5];
	h->flags = in[6];
	h->gc_time = (int64_t)get_le64(in + 8);
	return 0;
}

/* Append one field; text is cut to what a field holds. */
static void put_field(uint8_t *out, size_t *len, uint8_t tag, const void *v, size_t n)
{
	if (n > FIELD_MAX)
		n = FIELD_MAX;
	out[*len] = tag;
	out[*len + 1] = (uint8_t)n;
	memcpy(out + *len + 2, v, n);
	*len += 2 + n;
}

static void put_text(uint8_t *out, size_t *len, uint8_t tag, const char *s, size_t size)
{
	if (s != NULL && s[0] != '\0')
		put_field(out, len, tag, s, strnlen(s, size - 1));
}

static void put_int64(uint8_t *out, size_t *len, uint8_t tag, int64_t v)
{
	uint8_t b[8];

	put_le64(b, (uint64_t)v);
	put_field(out, len, tag, b, sizeof(b));
}

static void encode_use(const struct sesame_use *u, uint8_t *out, size_t *len)
{
	put_text(out, len, FIELD_HOST, u->host, SESAME_LEDGER_NAME);
	put_text(out, len, FIELD_SERVICE, u->service, SESAME_LEDGER_NAME);
	put_text(out, len, FIELD_RHOST, u->rhost, SESAME_LEDGER_LONG);
	put_text(out, len, FIELD_RUSER, u->ruser, SESAME_LEDGER_NAME);
	put_text(out, len, FIELD_TTY, u->tty, SESAME_LEDGER_NAME);
}

/* At most 8 + 7 * 2 + 4 + 1 + 64 * 5 + 128 * 3 + 201 bytes of fields:
 * within RECORD_MAX. */
static void encode_issue(const struct sesame_issue *is, uint8_t *out, size_t *len)
{
	uint8_t b[4];

	put_text(out, len, FIELD_ACCOUNT, is->account, sizeof(is->account));
	put_text(out, len, FIELD_SCOPE, is->scope, sizeof(is->scope));
	put_text(out, len, FIELD_ISSUE_HOST, is->host, sizeof(is->host));
	put_text(out, len, FIELD_CHANNEL, is->channel, sizeof(is->channel));
	put_text(out, len, FIELD_ISSUER, is->issuer, sizeof(is->issuer));
	put_text(out, len, FIELD_CLAIMED, is->claimed, sizeof(is->claimed));
	put_text(out, len, FIELD_ISSUE_RHOST, is->rhost, sizeof(is->rhost));
	put_text(out, len, FIELD_NOTE, is->note, sizeof(is->note));
	put_int64(out, len, FIELD_ISSUED, is->issued);
	put_le32(b, is->uses);
	put_field(out, len, FIELD_USES, b, 4);
	b[0] = (uint8_t)is->key_id;
	put_field(out, len, FIELD_KEY_ID, b, 1);
}

size_t record_encode(const struct record *rec, uint8_t *out)
{
	size_t len = RECORD_CORE;

	memset(out, 0, RECORD_CORE);
	out[2] = rec->type;
	put_le32(out + 4, rec->uid);
	memcpy(out + 8, rec->id, SESAME_ID_BYTES);
	put_le64(out + 16, (uint64_t)rec->time);
	if (rec->has_source) {
		out[len] = FIELD_SOURCE;
		out[len + 1] = SESAME_MAIL_SOURCE_LEN;
		memcpy(out + len + 2, rec->source, SESAME_MAIL_SOURCE_LEN);
		len += 2 + SESAME_MAIL_SOURCE_LEN;
	}
	if (rec->has_at)
		put_int64(out, &len, FIELD_AT, rec->at);
	if (rec->use != NULL)
		encode_use(rec->use, out, &len);
	if (rec->issue != NULL)
		encode_issue(rec->issue, out, &len);
	put_le16(out, (uint16_t)(len + 4));
	put_le32(out + len, fnv1a32(out, len));
	return len + 4;
}

/* The tag-length-value fields between the core and the checksum. */
static int decode_fields(const uint8_t *p, size_t n, struct record *rec)
{
	while (n > 0) {
		uint8_t tag, flen;

		if (n < 2 || (size_t)p[1] + 2 > n)
			return -1;
		tag = p[0];
		flen = p[1];
		if (tag == FIELD_SOURCE) {
			if (flen != SESAME_MAIL_SOURCE_LEN || rec->type != REC_MAIL || rec->has_source)
				return -1;
			memcpy(rec->source, p + 2, SESAME_MAIL_SOURCE_LEN);
			rec->has_source = 1;
		} else if (tag == FIELD_AT) {
			if (flen != 8 || rec->has_at)
				return -1;
			rec->at = (int64_t)get_le64(p + 2);
			rec->has_at = 1;
		}
		p += 2 + flen;
		n -= 2 + (size_t)flen;
	}
	return 0;
}

/* Are the avail bytes at in, whose length field runs past the end of the
 * file, a complete record whose length alone was damaged? Then some length
 * l <= avail, put in place of the stored one, gives a valid checksum at
 * l - 4. Without this a single flipped length bit would make the record and
 * every record after it read as a torn tail, which the next append then
 * overwrites: recorded uses would vanish. A real torn tail (one append cut
 * short) matches by chance once in 2^32 per length tried. */
static int damaged_length(const uint8_t *in, size_t avail)
{
	for (size_t l = RECORD_MIN; l <= avail && l <= RECORD_MAX; l++) {
		uint8_t len_field[2] = {(uint8_t)l, (uint8_t)(l >> 8)};
		uint32_t h = fnv1a32_more(fnv1a32(len_field, 2), in + 2, l - 6);

		if (get_le32(in + l - 4) == h)
			return 1;
	}
	return 0;
}

int record_decode(const uint8_t *in, size_t avail, unsigned allowed_types, struct record *rec)
{
	size_t len;

	memset(rec, 0, sizeof(*rec));
	if (avail < 2)
		return 1;
	len = get_le16(in);
	if (len < RECORD_MIN || len > RECORD_MAX)
		return -1;
	if (avail < len)
		return damaged_length(in, avail) ? -1 : 1;
	if (get_le32(in + len - 4) != fnv1a32(in, len - 4))
		return -1;
	rec->type = in[2];
	rec->skip = rec->type >= 128;
	if (!rec->skip && (rec->type >= 32 || !(allowed_types & (1u << rec->type))))
		return -1;
	if (in[3] != 0 || !all_zero(in + 14, 2))
		return -1;
	rec->uid = get_le32(in + 4);
	memcpy(rec->id, in + 8, SESAME_ID_BYTES);
	rec->time = (int64_t)get_le64(in + 16);
	if ((rec->type == REC_USER_REVOKE || rec->type == REC_MAIL) &&
	    !all_zero(rec->id, SESAME_ID_BYTES))
		return -1;
	if (decode_fields(in + RECORD_CORE, len - 4 - RECORD_CORE, rec) != 0)
		return -1;
	rec->len = len;
	return 0;
}

/* Copy a text field into a NUL-terminated buffer. */
static void get_text(char *dst, size_t size, const uint8_t *v, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

typedef void field_fn(uint8_t tag, const uint8_t *v, size_t n, void *arg);

/* Each field of a decoded record: its bytes were checked by record_decode. */
static void each_field(const uint8_t *in, size_t len, field_fn *fn, void *arg)
{
	const uint8_t *p = in + RECORD_CORE;
	size_t n = len - 4 - RECORD_CORE;

	while (n >= 2 && (size_t)p[1] + 2 <= n) {
		fn(p[0], p + 2, p[1], arg);
		n -= 2 + (size_t)p[1];
		p += 2 + p[1];
	}
}

static void use_field(uint8_t tag, const uint8_t *v, size_t n, void *arg)
{
	struct sesame_ledger_use *u = arg;

	switch (tag) {
	case FIELD_AT: if (n == 8) u->time = (int64_t)get_le64(v); break;
	case FIELD_HOST: get_text(u->host, sizeof(u->host), v, n); break;
	case FIELD_SERVICE: get_text(u->service, sizeof(u->service), v, n); break;
	case FIELD_RHOST: get_text(u->rhost, sizeof(u->rhost), v, n); break;
	case FIELD_RUSER: get_text(u->ruser, sizeof(u->ruser), v, n); break;
	case FIELD_TTY: get_text(u->tty, sizeof(u->tty), v, n); break;
	default: break;
	}
}

void record_use_details(const uint8_t *in, size_t len, struct sesame_ledger_use *u)
{
	memset(u, 0, sizeof(*u));
	u->time = -1;
	each_field(in, len, use_field, u);
}

static void issue_field(uint8_t tag, const uint8_t *v, size_t n, void *arg)
{
	struct sesame_issue *is = arg;

	switch (tag) {
	case FIELD_ACCOUNT: get_text(is->account, sizeof(is->account), v, n); break;
	case FIELD_SCOPE: get_text(is->scope, sizeof(is->scope), v, n); break;
	case FIELD_ISSUE_HOST: get_text(is->host, sizeof(is->host), v, n); break;
	case FIELD_CHANNEL: get_text(is->channel, sizeof(is->channel), v, n); break;
	case FIELD_ISSUER: get_text(is->issuer, sizeof(is->issuer), v, n); break;
	case FIELD_CLAIMED: get_text(is->claimed, sizeof(is->claimed), v, n); break;
	case FIELD_ISSUE_RHOST: get_text(is->rhost, sizeof(is->rhost), v, n); break;
	case FIELD_NOTE: get_text(is->note, sizeof(is->note), v, n); break;
	case FIELD_ISSUED: if (n == 8) is->issued = (int64_t)get_le64(v); break;
	case FIELD_USES: if (n == 4) is->uses = get_le32(v); break;
	case FIELD_KEY_ID: if (n == 1) is->key_id = v[0]; break;
	default: break;
	}
}

void record_issue_details(const uint8_t *in, size_t len, struct sesame_issue *is)
{
	memset(is, 0, sizeof(*is));
	is->uid = get_le32(in + 4);
	memcpy(is->id, in + 8, SESAME_ID_BYTES);
	is->expires = (int64_t)get_le64(in + 16);
	each_field(in, len, issue_field, is);
}

int record_decode_v1(const uint8_t in[STORE_V1_RECORD], unsigned allowed_types,
		     struct record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (get_le32(in + 28) != fnv1a32(in, 28))
		return -1;
	if (in[0] > REC_MAIL || !(allowed_types & (1u << in[0])))
		return -1;
	if (in[7] != 0 || !all_zero(in + 12, 4) || !all_zero(in + 24, 4))
		return -1;
	if ((in[0] == REC_USER_REVOKE || in[0] == REC_MAIL) && !all_zero(in + 1, SESAME_ID_BYTES))
		return -1;
	rec->type = in[0];
	memcpy(rec->id, in + 1, SESAME_ID_BYTES);
	rec->uid = get_le32(in + 8);
	rec->time = (int64_t)get_le64(in + 16);
	return 0;
}
