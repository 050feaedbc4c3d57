#!/usr/bin/env python3
"""Recomputes a pmdb store's hash chain from the SQLite file alone (schemas/README.md, "The
hash chain"), independently of pmdb: Python's sqlite3 and hashlib.

Usage: chain.py STORE            prints "N HEXHASH" (the last position and its hash)
Exit 1, naming the position, when a stored hash differs from the recomputed one.

       chain.py STORE --rewrite  what a forger with write access to the file would do after
                                 editing the log: recompute and store every hash and the head
                                 (drops the append-only triggers to do so). The tests use it to
                                 show what only a head published earlier (`verify --from`) catches.
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
    rewrite = sys.argv[2:] == ["--rewrite"]
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode={'rw' if rewrite else 'ro'}", uri=True)
    db.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    if rewrite:
        db.execute("DROP TRIGGER IF EXISTS events_are_append_only_update")
    prev = bytes(32)
    position = 0
    for row in db.execute(f"SELECT {COLUMNS}, hash FROM events ORDER BY seq").fetchall():
        position += 1
        if row[0] != position and not rewrite:
            print(f"position {position}: missing", file=sys.stderr)
            return 1
        prev = hashlib.sha256(prev + b"".join(encode(v) for v in row[:-1])).digest()
        if rewrite:
            db.execute("UPDATE events SET hash = ? WHERE seq = ?", (prev, row[0]))
        elif row[-1] != prev:
            print(f"position {position}: stored hash differs", file=sys.stderr)
            return 1
    if rewrite:
        db.execute("DROP TRIGGER IF EXISTS chain_head_only_advances")
        db.execute("UPDATE chain_head SET position = ?, hash = ?", (position, prev))
        db.commit()
    print(position, prev.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
