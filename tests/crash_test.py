#!/usr/bin/env python3
"""Crash consistency: pmdb killed with SIGKILL at random moments never leaves a damaged store.

Usage: crash_test.py PMDB PMDB_GEN [--seed N]

(a) `pmdb import` of a generated JSON Lines file is killed at a random moment. The file is one
    transaction (core/import.hpp), so afterwards the store holds none of its events or all of
    them; importing it again ends with exactly all of them.
(b) a loop of `pmdb DB -c 'record ...'` processes is killed at a random moment. Every event is
    whole or absent, and the store holds exactly the records that said they succeeded, plus at
    most the one that was running when the kill came.

After every kill: SQLite's `PRAGMA integrity_check` is ok and `pmdb verify` passes.
Everything happens in a temporary directory, removed also on failure.
"""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

KILLS = 10
# The import is sized so that it takes about this long here (the suite also runs in a sanitized
# build, several times slower), within a total budget well under a minute.
IMPORT_SECONDS = 0.8
MAX_EVENTS = 300_000
INCIDENT = "crash-2026-11-30"


def fail(message):
    raise AssertionError(message)


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def check_integrity(db, what):
    con = sqlite3.connect(db)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    if rows != [("ok",)]:
        fail(f"{what}: integrity_check: {rows}")


def has_schema(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events'").fetchone()[0] == 1
    finally:
        con.close()


def check_store(pmdb, db, what):
    """The checks after every kill: the file is sound, and pmdb's own verification passes."""
    check_integrity(db, what)
    r = run([pmdb, "verify", db])
    if r.returncode != 0:
        fail(f"{what}: pmdb verify failed ({r.returncode}): {r.stdout}{r.stderr}")


def event_count(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


def kill_at(proc, delay):
    """SIGKILL `proc` after `delay` seconds; whether it was still running then."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def import_kills(pmdb, gen, tmp, rnd):
    # Calibrate on a small file: how many events this machine and build import in IMPORT_SECONDS.
    probe = os.path.join(tmp, "probe.jsonl")
    r = run([gen, "--seed", "7", "--incidents", "40", "--giants", "0", "--out", probe])
    if r.returncode != 0:
        fail(f"pmdb-gen failed: {r.stderr}")
    with open(probe, "rb") as f:
        probe_events = sum(1 for _ in f)
    start = time.monotonic()
    r = run([pmdb, "import", os.path.join(tmp, "probe.pmdb"), probe])
    if r.returncode != 0:
        fail(f"probe import failed: {r.stderr}")
    rate = probe_events / max(time.monotonic() - start, 1e-3)
    print(f"  probe: {probe_events} events at {rate:.0f}/s")
    n = max(probe_events, min(MAX_EVENTS, int(rate * IMPORT_SECONDS)))
    data = os.path.join(tmp, "events.jsonl")
    full = os.path.join(tmp, "full.pmdb")
    for attempt in range(3):
        # About 50 events an incident; generate enough and keep the first n lines (a prefix of a
        # generated stream is a valid stream: every event comes after those it refers to).
        source = os.path.join(tmp, "gen.jsonl")
        r = run([gen, "--seed", "7", "--incidents", str(n // 30 + 1), "--giants", "0", "--out", source])
        if r.returncode != 0:
            fail(f"pmdb-gen failed: {r.stderr}")
        with open(source, "rb") as f, open(data, "wb") as out:
            for k, line in enumerate(f):
                if k == n:
                    break
                out.write(line)
        os.remove(source)

        # One whole import: how long it takes, and the count every later run must end with.
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(full + suffix):
                os.remove(full + suffix)
        start = time.monotonic()
        r = run([pmdb, "import", full, data])
        duration = time.monotonic() - start
        if r.returncode != 0:
            fail(f"import failed: {r.stderr}")
        expected = event_count(full)
        if expected != n:
            fail(f"import of {n} events stored {expected}")
        # The probe counts the start of the process as import time: scale up once or twice.
        if duration > IMPORT_SECONDS / 2 or n == MAX_EVENTS:
            break
        n = min(MAX_EVENTS, int(n * IMPORT_SECONDS / max(duration, 0.05)))

    outcomes = {"none": 0, "all": 0, "finished": 0, "unborn": 0}
    for i in range(KILLS):
        db = os.path.join(tmp, f"import-{i}.pmdb")
        delay = rnd.uniform(0.02, 1.1) * duration
        proc = subprocess.Popen([pmdb, "import", db, data], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        killed = kill_at(proc, delay)
        what = f"import killed after {delay:.2f}s (kill {i + 1})"
        if not killed:
            outcomes["finished"] += 1
            if proc.returncode != 0:
                fail(f"{what}: import failed by itself: {proc.stderr.read().decode()}")
        proc.stderr.close()
        if not os.path.exists(db):
            outcomes["none"] += 1
            continue  # killed before the store was created
        if not has_schema(db):
            # Killed while creating the store: SQLite's file holds no table yet. `pmdb verify`
            # refuses such a file (not a store), `pmdb import` makes it one.
            check_integrity(db, what)
            outcomes["unborn"] += 1
            count = 0
        else:
            check_store(pmdb, db, what)
            count = event_count(db)
        if count not in (0, expected):
            fail(f"{what}: {count} events stored, expected 0 or {expected} (the file is one transaction)")
        outcomes["none" if count == 0 else "all"] += 1
        r = run([pmdb, "import", db, data])
        if r.returncode != 0:
            fail(f"{what}: import again failed: {r.stderr}")
        if event_count(db) != expected:
            fail(f"{what}: import again left {event_count(db)} events, expected {expected}")
        os.remove(db)
    print(f"import: {n} events in {duration:.2f}s; {KILLS} kills: {outcomes['none']} left nothing, "
          f"{outcomes['all']} left everything ({outcomes['unborn']} before the schema was written, "
          f"{outcomes['finished']} after the end)")


def record_statement(i):
    return (f'record note "crash test note {i}" id "note-{i}" in {INCIDENT} '
            f'at 2026-11-30T10:{i // 60 % 60:02d}:{i % 60:02d}Z source "crash_test";')


def exported(pmdb, db):
    r = run([pmdb, "export", db])
    if r.returncode != 0:
        fail(f"export failed: {r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def record_kills(pmdb, tmp, rnd):
    db = os.path.join(tmp, "record.pmdb")
    r = run([pmdb, db, "-c", f'new incident {INCIDENT} title "Crash test" org "pmdb" services ("store") '
                             f'at 2026-11-30T09:00Z;'])
    if r.returncode != 0:
        fail(f"new incident failed: {r.stderr}")
    succeeded = set()
    i = 0
    in_flight_kills = 0
    for k in range(KILLS):
        deadline = time.monotonic() + rnd.uniform(0.1, 0.5)
        running = None
        while True:
            proc = subprocess.Popen([pmdb, db, "-c", record_statement(i)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            left = deadline - time.monotonic()
            if kill_at(proc, max(left, 0)):
                running = i
                proc.stderr.close()
                i += 1
                break
            err = proc.stderr.read().decode()
            proc.stderr.close()
            if proc.returncode != 0:
                fail(f"record {i} failed: {err}")
            succeeded.add(i)
            i += 1
        in_flight_kills += 1
        what = f"record loop killed while recording note {running} (kill {k + 1})"
        check_store(pmdb, db, what)
        notes = {}
        for e in exported(pmdb, db):
            if e["type"] != "note":
                continue
            n = int(e["id"].removeprefix("note-"))
            if e["incident"] != INCIDENT or e["data"].get("text") != f"crash test note {n}":
                fail(f"{what}: a damaged event: {e}")
            notes[n] = e
        stored = set(notes)
        if stored != succeeded and stored != succeeded | {running}:
            fail(f"{what}: stored notes {sorted(stored ^ succeeded)} differ from the {len(succeeded)} "
                 f"that succeeded beyond the one killed ({running})")
        succeeded = stored  # the killed one, when it made it, is a success too
    print(f"record: {i} statements, {KILLS} kills, {len(succeeded)} notes stored, all whole")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pmdb, gen = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--seed" else random.randrange(1 << 30)
    print(f"seed {seed} (crash_test.py PMDB PMDB_GEN --seed {seed} repeats this run)")
    rnd = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="pmdb-crash-")
    start = time.monotonic()
    try:
        import_kills(pmdb, gen, tmp, rnd)
        print(f"  {time.monotonic() - start:.1f}s")
        record_kills(pmdb, tmp, rnd)
    except AssertionError as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"ok in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
