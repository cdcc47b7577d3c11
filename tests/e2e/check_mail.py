#!/usr/bin/python3
"""Check a message sesame-mint --mail delivered, and print its link.

    check_mail.py FILE TO FROM URL_PREFIX

Parses FILE (one message, as the SMTP server stored it) with Python's
email package and checks the headers a mail client relies on: From, To,
Subject, Date (within a day of now), Message-ID, MIME-Version and a
text/plain UTF-8 body. The body must hold exactly one link that starts
with URL_PREFIX and carries a token; that link is printed. Any problem is
one line on stderr and exit status 1.
"""
import email
import email.policy
import email.utils
import re
import sys
from datetime import datetime, timezone

TOKEN = r"SSM1[0-9A-HJKMNP-TV-Z]{56}"


def fail(why):
    print("check_mail: " + why, file=sys.stderr)
    sys.exit(1)


def header(msg, name):
    values = msg.get_all(name) or []
    if len(values) != 1:
        fail("%s: %d headers, expected 1" % (name, len(values)))
    return str(values[0])


def check_headers(msg, to, sender):
    got_from = email.utils.parseaddr(header(msg, "From"))[1]
    if got_from != sender:
        fail("From is %r, expected %r" % (got_from, sender))
    got_to = [a for _, a in email.utils.getaddresses([header(msg, "To")])]
    if got_to != [to]:
        fail("To is %r, expected %r" % (got_to, to))
    if not header(msg, "Subject").strip():
        fail("empty Subject")
    date = email.utils.parsedate_to_datetime(header(msg, "Date"))
    if date.tzinfo is None:
        fail("Date has no time zone")
    if abs((datetime.now(timezone.utc) - date).total_seconds()) > 86400:
        fail("Date %s is not today" % date.isoformat())
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", header(msg, "Message-ID").strip()):
        fail("Message-ID is not <local@domain>")
    if header(msg, "MIME-Version").strip() != "1.0":
        fail("MIME-Version is not 1.0")
    if msg.get_content_type() != "text/plain":
        fail("Content-Type is %s" % msg.get_content_type())
    if (msg.get_content_charset() or "").lower() != "utf-8":
        fail("charset is %r" % msg.get_content_charset())


def main():
    if len(sys.argv) != 5:
        fail("usage: check_mail.py FILE TO FROM URL_PREFIX")
    path, to, sender, prefix = sys.argv[1:]
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    if msg.defects:
        fail("defects: %r" % msg.defects)
    check_headers(msg, to, sender)
    body = msg.get_content()
    links = re.findall(re.escape(prefix) + r"\S*" + TOKEN, body)
    if len(links) != 1:
        fail("%d links in the body, expected 1" % len(links))
    print(links[0])


if __name__ == "__main__":
    main()
