/* The JSON of the etcd store's values (uses, ledger records,
 * revocations, mail records), written and read with json-c. Values that
 * verifying hosts write (uses, mail) are read as untrusted: strict types,
 * bounded and cleaned texts. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "store_etcd.h"

static char *to_string(json_object *o)
{
	char *s = NULL;

	if (o != NULL) {
		const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		s = text != NULL ? strdup(text) : NULL;
	}
	json_object_put(o);
	return s;
}

/* Add fields; any failure makes the whole object NULL (freed). */
static json_object *add_int(json_object *o, const char *name, int64_t v)
{
	if (o != NULL && json_object_object_add(o, name, json_object_new_int64(v)) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *add_text(json_object *o, const char *name, const char *v)
{
	if (o != NULL &&
	    json_object_object_add(o, name, json_object_new_string(v != NULL ? v : "")) != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *parse(const char *value, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;

	if (tok == NULL || len > SESAME_ETCD_REPLY_MAX)
		goto out;
	o = json_tokener_parse_ex(tok, value, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
			  json_tokener_get_parse_end(tok) != len ||
			  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
out:
	if (tok != NULL)
		json_tokener_free(tok);
	return o;
}

static int get_int(json_object *o, const char *name, int64_t *v)
{
	json_object *f;

	if (!json_object_object_get_ex(o, name, &f) || !json_object_is_type(f, json_type_int))
		return -1;
	*v = json_object_get_int64(f);
	return 0;
}

/* A text field, cut and cleaned into dst (an absent one is ""). */
static int get_text(json_object *o, const char *name, char *dst, size_t size)
{
	json_object *f;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, name, &f))
		return 0;
	if (!json_object_is_type(f, json_type_string))
		return -1;
	sesame_ledger_text_copy(dst, size, json_object_get_string(f));
	return 0;
}

/* The text fields of a value, by their place in the struct. */
struct text_field {
	const char *name;
	size_t offset;
	size_t size;
};

#define TEXT(type, f) {#f, offsetof(type, f), sizeof(((type *)0)->f)}

static const struct text_field use_texts[] = {
	TEXT(struct sesame_ledger_use, host), TEXT(struct sesame_ledger_use, service),
	TEXT(struct sesame_ledger_use, rhost), TEXT(struct sesame_ledger_use, ruser),
	TEXT(struct sesame_ledger_use, tty),
};

static const struct text_field issue_texts[] = {
	TEXT(struct sesame_issue, account), TEXT(struct sesame_issue, scope),
	TEXT(struct sesame_issue, host), TEXT(struct sesame_issue, channel),
	TEXT(struct sesame_issue, issuer), TEXT(struct sesame_issue, claimed),
	TEXT(struct sesame_issue, rhost), TEXT(struct sesame_issue, note),
};

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

static json_object *add_texts(json_object *o, const void *from, const struct text_field *f,
			      size_t n)
{
	for (size_t i = 0; i < n; i++)
		o = add_text(o, f[i].name, (const char *)from + f[i].offset);
	return o;
}

static int get_texts(json_object *o, void *to, const struct text_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (get_text(o, f[i].name, (char *)to + f[i].offset, f[i].size) != 0)
			return -1;
	return 0;
}

char *etcd_use_encode(const struct sesame_use *use, int64_t now)
{
	struct sesame_ledger_use u;

	/* Cut and cleaned as the ledger keeps them: anyone sets PAM_RHOST. */
	memset(&u, 0, sizeof(u));
	if (use != NULL) {
		sesame_ledger_text_copy(u.host, sizeof(u.host), use->host);
		sesame_ledger_text_copy(u.service, sizeof(u.service), use->service);
		sesame_ledger_text_copy(u.rhost, sizeof(u.rhost), use->rhost);
		sesame_ledger_text_copy(u.ruser, sizeof(u.ruser), use->ruser);
		sesame_ledger_text_copy(u.tty, sizeof(u.tty), use->tty);
	}
	return to_string(add_texts(add_int(json_object_new_object(), "time", now), &u, use_texts,
				   N_FIELDS(use_texts)));
}

int etcd_use_decode(const char *value, size_t len, struct sesame_ledger_use *u)
{
	json_object *o = parse(value, len);
	int r = -1;

	memset(u, 0, sizeof(*u));
	if (o != NULL && get_int(o, "time", &u->time) == 0 &&
	    get_texts(o, u, use_texts, N_FIELDS(use_texts)) == 0)
		r = 0;
	json_object_put(o);
	return r;
}

char *etcd_revoked_encode(int64_t at, int64_t expires)
{
	return to_string(add_int(add_int(json_object_new_object(), "at", at), "expires", expires));
}

int etcd_revoked_decode(const char *value, size_t len, int64_t *at)
{
	json_object *o = parse(value, len);
	int r = o != NULL && get_int(o, "at", at) == 0 ? 0 : -1;

	json_object_put(o);
	return r;
}

void etcd_id_hex(char out[SESAME_ID_TEXT_SIZE], const uint8_t id[SESAME_ID_BYTES])
{
	for (size_t i = 0; i < SESAME_ID_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

int etcd_hex_id(const char *s, uint8_t id[SESAME_ID_BYTES])
{
	for (size_t i = 0; i < SESAME_ID_BYTES; i++) {
		unsigned v;
		if (strspn(s + 2 * i, "0123456789abcdef") < 2 || sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = (uint8_t)v;
	}
	return 0;
}

char *etcd_issue_encode(const struct sesame_issue *is)
{
	char hex[SESAME_ID_TEXT_SIZE];
	json_object *o;

	etcd_id_hex(hex, is->id);
	o = add_text(json_object_new_object(), "id", hex);
	o = add_int(o, "uid", is->uid);
	o = add_int(o, "issued", is->issued);
	o = add_int(o, "expires", is->expires);
	o = add_int(o, "uses", is->uses);
	o = add_int(o, "key_id", is->key_id);
	return to_string(add_texts(o, is, issue_texts, N_FIELDS(issue_texts)));
}

static int issue_numbers(json_object *o, struct sesame_issue *is)
{
	int64_t uid, uses, key_id;
	char hex[SESAME_ID_TEXT_SIZE];

	if (get_text(o, "id", hex, sizeof(hex)) != 0 || strlen(hex) != 2 * SESAME_ID_BYTES ||
	    etcd_hex_id(hex, is->id) != 0 || get_int(o, "uid", &uid) != 0 ||
	    get_int(o, "issued", &is->issued) != 0 || get_int(o, "expires", &is->expires) != 0 ||
	    get_int(o, "uses", &uses) != 0 || get_int(o, "key_id", &key_id) != 0 ||
	    uid < 0 || uid > UINT32_MAX || uses < 0 || uses > 255 || key_id < 0 || key_id > 255)
		return -1;
	is->uid = (uint32_t)uid;
	is->uses = (unsigned)uses;
	is->key_id = (unsigned)key_id;
	return 0;
}

int etcd_issue_decode(const char *value, size_t len, struct sesame_issue *is)
{
	json_object *o = parse(value, len);
	int r = -1;

	memset(is, 0, sizeof(*is));
	if (o != NULL && issue_numbers(o, is) == 0 &&
	    get_texts(o, is, issue_texts, N_FIELDS(issue_texts)) == 0)
		r = 0;
	json_object_put(o);
	return r;
}

char *etcd_mail_encode(const struct etcd_mail_entry *m, size_t n)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	char hex[2 * SESAME_MAIL_SOURCE_LEN + 1];

	if (o == NULL || list == NULL || json_object_object_add(o, "mails", list) != 0) {
		json_object_put(list);
		json_object_put(o);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *one;
		for (size_t j = 0; j < SESAME_MAIL_SOURCE_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", m[i].source[j]);
		one = add_int(add_text(json_object_new_object(), "source", hex), "time", m[i].time);
		if (one == NULL || json_object_array_add(list, one) != 0) {
			json_object_put(one);
			json_object_put(o);
			return NULL;
		}
	}
	return to_string(o);
}

static int mail_entry(json_object *one, struct etcd_mail_entry *m)
{
	char hex[2 * SESAME_MAIL_SOURCE_LEN + 2];

	if (!json_object_is_type(one, json_type_object) ||
	    get_text(one, "source", hex, sizeof(hex)) != 0 ||
	    strlen(hex) != 2 * SESAME_MAIL_SOURCE_LEN ||
	    strspn(hex, "0123456789abcdef") != 2 * SESAME_MAIL_SOURCE_LEN ||
	    get_int(one, "time", &m->time) != 0)
		return -1;
	for (size_t j = 0; j < SESAME_MAIL_SOURCE_LEN; j++) {
		unsigned v;
		if (sscanf(hex + 2 * j, "%2x", &v) != 1)
			return -1;
		m->source[j] = (uint8_t)v;
	}
	return 0;
}

int etcd_mail_decode(const char *value, size_t len, struct etcd_mail_entry *out, size_t *n)
{
	json_object *o = parse(value, len), *list;
	size_t count;
	int r = -1;

	*n = 0;
	if (o == NULL || !json_object_object_get_ex(o, "mails", &list) ||
	    !json_object_is_type(list, json_type_array))
		goto out;
	count = json_object_array_length(list);
	/* The newest are at the end; keep at most the array's room. */
	for (size_t i = count > ETCD_MAIL_ENTRIES_MAX ? count - ETCD_MAIL_ENTRIES_MAX : 0;
	     i < count; i++)
		if (mail_entry(json_object_array_get_idx(list, i), &out[(*n)++]) != 0)
			goto out;
	r = 0;
out:
	json_object_put(o);
	return r;
}
