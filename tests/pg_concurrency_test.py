#!/usr/bin/env python3
"""Many writers at once on one PostgreSQL store: 8 client processes, each one `pmdb URL -f
SCRIPT` of 1,000 `record note ... in INCIDENT` statements (each its own transaction) spread
over 4 incidents opened first, all started together. Then, read back with psql from
pmdb.events:

  - no writer printed an error or failed, and each printed one event id per record;
  - 8,000 notes stored (8,004 events with the 4 incidents), each once, none lost;
  - every event's position (seq) distinct, and the chain's head at the last one;
  - each incident's versions contiguous, 1..2,001;
  - each writer's notes in the order it recorded them, in every incident;
  - `pmdb verify URL`: ok, 8,004 events, the chain one valid chain.

Prints the wall time of the writers and the events per second.

Usage: pg_concurrency_test.py PATH_TO_PMDB [--file] [--writers N] [--records N]
  --file  the same on a SQLite store file (read back with Python's sqlite3)
"""
import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import pg_util
from tally import Tally

TALLY = Tally()
check = TALLY.check
INCIDENTS = 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pmdb")
    ap.add_argument("--file", action="store_true")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--records", type=int, default=1000)
    args = ap.parse_args()
    pmdb_bin = os.path.abspath(args.pmdb)
    writers, records = args.writers, args.records
    tmp = tempfile.mkdtemp(prefix="pmdb-pg-concurrency-")
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PMDB_TEST_PG", None)

    server = None
    if args.file:
        store = os.path.join(tmp, "live.pmdb")
        events_table = "events"

        def sql(q):
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                return [tuple(str(c) for c in row) for row in db.execute(q)]
    else:
        server = pg_util.Server(pg_util.server_or_skip("pg_concurrency"), "pmdb_conc")
        db = server.create("live")
        store = server.url(db)
        events_table = "pmdb.events"

        def sql(q):
            out = server.psql(q, db)
            return [tuple(line.split("|")) for line in out.splitlines() if line]

    def pmdb(*a, **kw):
        return subprocess.run([pmdb_bin, *a], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                              timeout=600, **kw)

    try:
        # The incidents, opened first.
        opened = pmdb(store, "-c", "".join(
            f'new incident acme-{k} title "Checkout errors {k}" org "Acme" services ("api");' for k in range(INCIDENTS)))
        if not check(opened.returncode == 0 and opened.stderr == "", f"opening the incidents: {opened.stderr}"):
            return TALLY.report("pg_concurrency")

        scripts = []
        for w in range(writers):
            path = os.path.join(tmp, f"w{w}.pmq")
            with open(path, "w") as f:
                for i in range(records):
                    f.write(f'record note "writer {w} note {i}" in acme-{i % INCIDENTS} source "writer-{w}";\n')
            scripts.append(path)

        t0 = time.perf_counter()
        procs = []
        for w, path in enumerate(scripts):
            out, err = open(os.path.join(tmp, f"w{w}.out"), "w"), open(os.path.join(tmp, f"w{w}.err"), "w")
            procs.append((subprocess.Popen([pmdb_bin, store, "-f", path], stdout=out, stderr=err,
                                           stdin=subprocess.DEVNULL, env=env), out, err))
        for p, out, err in procs:
            p.wait(timeout=900)
            out.close()
            err.close()
        wall = time.perf_counter() - t0

        ids = set()
        for w, (p, _, _) in enumerate(procs):
            with open(os.path.join(tmp, f"w{w}.err")) as f:
                err = f.read()
            with open(os.path.join(tmp, f"w{w}.out")) as f:
                lines = f.read().splitlines()
            check(p.returncode == 0, f"writer {w} exited {p.returncode}")
            check(err == "", f"writer {w} printed errors: {err[:2000]}")
            check(len(lines) == records, f"writer {w} printed {len(lines)} ids, not {records}")
            ids.update(lines)
        total_notes = writers * records
        total = total_notes + INCIDENTS
        check(len(ids) == total_notes, f"{len(ids)} distinct ids printed, not {total_notes}")

        E = events_table
        (count, distinct_seq, distinct_id), = sql(f"SELECT count(*), count(DISTINCT seq), count(DISTINCT id) FROM {E}")
        check(count == str(total), f"{count} events stored, not {total}")
        check(distinct_seq == str(total), f"{distinct_seq} distinct positions, not {total}")
        check(distinct_id == str(total), f"{distinct_id} distinct ids, not {total}")
        (notes, texts), = sql(f"SELECT count(*), count(DISTINCT text) FROM {E} WHERE type = 'note'")
        check(notes == str(total_notes), f"{notes} notes stored, not {total_notes}")
        check(texts == str(total_notes), f"{texts} distinct notes, not {total_notes} (one lost or stored twice)")
        # The ids each writer printed are the stored notes' ids (an id is printed as its first 12 characters).
        stored = {row[0][:12] for row in sql(f"SELECT id FROM {E} WHERE type = 'note'")}
        check(stored == ids, f"the printed ids and the stored notes differ ({len(stored ^ ids)} ids)")

        per = {row[0]: row[1:] for row in sql(
            f"SELECT incident, count(*), count(DISTINCT version), min(version), max(version) FROM {E} GROUP BY incident")}
        want_n = total // INCIDENTS
        for k in range(INCIDENTS):
            got = per.get(f"acme-{k}")
            check(got == (str(want_n), str(want_n), "1", str(want_n)),
                  f"acme-{k}: (events, distinct versions, min, max) = {got}, not versions 1..{want_n}")
        (gaps,), = sql(f"SELECT max(seq) - min(seq) + 1 - count(*) FROM {E}")

        # Each writer's notes in its order, in every incident.
        for w in range(writers):
            rows = sql(f"SELECT incident, text FROM {E} WHERE source = 'writer-{w}' ORDER BY seq")
            by_incident = {}
            for incident, text in rows:
                by_incident.setdefault(incident, []).append(int(text.rsplit(" ", 1)[1]))
            for incident, order in by_incident.items():
                check(order == sorted(order), f"writer {w}'s notes in {incident} are out of order")

        verified = pmdb("verify", store)
        check(verified.returncode == 0 and verified.stdout.startswith(f"ok: {total} events, head "),
              f"verify: exit {verified.returncode}: {verified.stdout}{verified.stderr}")
        if not args.file:
            (position,), = sql("SELECT position FROM pmdb.chain_head")
            (last,), = sql(f"SELECT max(seq) FROM {E}")
            check(position == last, f"the chain head is at {position}, the last event at {last}")

        backend = "a SQLite file" if args.file else "PostgreSQL"
        print(f"pg_concurrency: {writers} writers x {records} records into {INCIDENTS} incidents on {backend}: "
              f"{wall:.2f} s wall, {total_notes / wall:,.0f} events/s"
              f"{f', {gaps} unused positions (seq gaps)' if gaps not in ('0', 'None', '') else ''}")
        return TALLY.report("pg_concurrency")
    finally:
        if server:
            server.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
