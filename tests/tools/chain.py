#!/usr/bin/env python3
"""Recomputes a pmdb store's hash chain from the SQLite file alone (schemas/README.md, "The
hash chain"), independently of pmdb: Python's sqlite3 and hashlib.

Usage: chain.py STORE            prints "N HEXHASH" (the last position and its hash)
Exit 1, naming the position, when a stored hash differs from the recomputed one.
"""
import hashlib
import sqlite3
import struct
import sys

COLUMNS = ("seq, id, incident, version, type, at, recorded_at, source, approx, data, text, status, channel, "
           "author, metric, value, unit, component, state, kind, target, appended_at, recorded_by")


def encode(value):
    if value is None:
        return b"\x00"
    if isinstance(value, int):
        return b"\x01" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"\x02" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
        return b"\x03" + struct.pack(">Q", len(raw)) + raw
    raw = bytes(value)
    return b"\x04" + struct.pack(">Q", len(raw)) + raw


def main():
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    db.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    prev = bytes(32)
    position = 0
    for row in db.execute(f"SELECT {COLUMNS}, hash FROM events ORDER BY seq"):
        position += 1
        if row[0] != position:
            print(f"position {position}: missing", file=sys.stderr)
            return 1
        prev = hashlib.sha256(prev + b"".join(encode(v) for v in row[:-1])).digest()
        if row[-1] != prev:
            print(f"position {position}: stored hash differs", file=sys.stderr)
            return 1
    print(position, prev.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
