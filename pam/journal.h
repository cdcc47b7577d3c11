/* One entry for the systemd journal, with fields, sent through journald's
 * native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): a single datagram
 * to /run/systemd/journal/socket.
 *
 * Not libsystemd's sd_journal_send: it keeps the socket it opens in a
 * static for the life of the process, and sends on a blocking socket.
 * libpam dlopens the module and dlcloses it at every pam_end; unless the
 * application links libsystemd itself, each load gets a fresh copy of
 * that static, so a greeter or a long-lived daemon would keep one more
 * socket per login, and a journald that stops reading would hold the
 * login up (docs/security.md, "The journal"). Here every send opens its
 * own socket (close-on-exec, non-blocking) and closes it before
 * returning. Nothing static; failures are silent: the syslog line is
 * the record, the journal entry a searchable copy. */
#ifndef PAM_SESAME_JOURNAL_H
#define PAM_SESAME_JOURNAL_H

#include <stddef.h>

#define PAM_SESAME_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Room for one attempt's fields: each value is cut to a few hundred
 * bytes by the report, so an entry stays far below a datagram's limit. */
#define PAM_SESAME_JOURNAL_MAX 4096

struct pam_sesame_journal {
	char buf[PAM_SESAME_JOURNAL_MAX];
	size_t len;
	int overflow; /* a field did not fit: the entry is not sent */
};

void pam_sesame_journal_init(struct pam_sesame_journal *j);

/* Append KEY=VALUE. key: upper-case letters, digits and '_', not
 * starting with '_' (journald ignores other keys; callers pass
 * constants). A value holding a newline goes in the binary-safe form:
 * KEY, newline, its length as 64-bit little-endian, the bytes, newline.
 * A NULL value adds nothing. */
void pam_sesame_journal_add(struct pam_sesame_journal *j, const char *key, const char *value);

/* Send the entry to the datagram socket at path (normally
 * PAM_SESAME_JOURNAL_SOCKET) without waiting: 0 when sent, -1 when not
 * (no journal, its queue full, an entry that overflowed). errno is left
 * as it was. */
int pam_sesame_journal_send(const struct pam_sesame_journal *j, const char *path);

#endif
