#!/usr/bin/env python3
"""A stand-in for journald's native socket, for tests without a journal.

    journal-capture.py [--stall] SOCKET OUT -- CMD [ARG...]

Binds a datagram socket at SOCKET, runs CMD, and reads every datagram sent
there while CMD runs (and for a moment after), parsing each with the
native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL: KEY=VALUE lines, or
KEY, newline, a 64-bit little-endian length, the bytes, newline). OUT gets
JSON: {"entries": [...], "errors": [...]}, each entry a dict of field to
value (decoded as UTF-8 with replacement; a field sent twice keeps its last
value), each error a datagram that does not parse. With
--stall nothing is read, as from a journald that has stopped: its queue
fills and senders must not wait. Exits with CMD's status.
"""
import json
import socket
import struct
import subprocess
import sys
import threading


def parse(datagram):
    fields = {}
    pos = 0
    while pos < len(datagram):
        nl = datagram.find(b"\n", pos)
        eq = datagram.find(b"=", pos)
        if nl < 0:
            raise ValueError("entry does not end with a newline: %r" % datagram[pos:])
        if 0 <= eq < nl:
            key, value, pos = datagram[pos:eq], datagram[eq + 1:nl], nl + 1
        else:
            key = datagram[pos:nl]
            (size,) = struct.unpack_from("<Q", datagram, nl + 1)
            start = nl + 9
            value = datagram[start:start + size]
            if datagram[start + size:start + size + 1] != b"\n":
                raise ValueError("binary field %r not closed by a newline" % key)
            pos = start + size + 1
        fields[key.decode()] = value.decode("utf-8", "replace")
    return fields


def main():
    args = sys.argv[1:]
    stall = args[:1] == ["--stall"]
    if stall:
        args = args[1:]
    path, out, sep, cmd = args[0], args[1], args[2], args[3:]
    if sep != "--" or not cmd:
        sys.exit(__doc__)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    entries, errors = [], []

    def reader():
        sock.settimeout(0.5)
        while True:
            try:
                data = sock.recv(1 << 20)
            except socket.timeout:
                if done.is_set():
                    return
                continue
            try:
                entries.append(parse(data))
            except ValueError as e:
                errors.append(str(e))

    done = threading.Event()
    thread = None if stall else threading.Thread(target=reader)
    if thread:
        thread.start()
    try:
        status = subprocess.call(cmd)
    finally:
        done.set()
        if thread:
            thread.join()
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"entries": entries, "errors": errors}, f)
    sys.exit(status)


if __name__ == "__main__":
    main()
