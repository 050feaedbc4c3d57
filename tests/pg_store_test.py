#!/usr/bin/env python3
"""What a store on a PostgreSQL server does when someone went around pmdb (pg_server_test.py
has what the server refuses outright: the roles, the triggers against the owner): a trigger
disabled, a row changed through that gap, a row inserted past the head are named by `pmdb verify`
and refused at open; a store of a newer schema is refused; a database without a store is told so,
and only `init` or a write makes one.

Needs a server: PMDB_TEST_PG, a libpq connection string to a database where the test may create
databases and roles (`scripts/pg-cluster run` starts a throwaway one and sets it). Without it the
test fails under CI and is skipped (exit 77) elsewhere.

Usage: pg_store_test.py PATH_TO_PMDB
"""
import os
import re
import subprocess
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tally import Tally  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = [os.path.join(ROOT, "examples", f) for f in
            ("meta-2024-12-11.jsonl", "openai-2024-12-11.jsonl", "openai-2024-12-11.review.jsonl")]
T = Tally()


def pmdb(*args, stdin=None, env=None):
    e = dict(os.environ, NO_COLOR="1")
    e.update(env or {})
    return subprocess.run([PMDB, *args], input=stdin, capture_output=True, text=True, env=e, timeout=120)


def psql(conninfo, sql, check=True):
    r = subprocess.run(["psql", conninfo, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True,
                       text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {r.stderr}")
    return r


def with_db(base, name):
    """`base` (a keyword/value string) pointed at database `name`."""
    parts = [p for p in base.split() if not p.startswith("dbname=")]
    return " ".join(parts + [f"dbname={name}"])


def main():
    base = os.environ.get("PMDB_TEST_PG")
    if not base:
        print("pg_store: PMDB_TEST_PG is not set: no PostgreSQL server to test against "
              "(scripts/pg-cluster run starts one)", file=sys.stderr)
        return 1 if os.environ.get("CI") else 77
    db = f"pmdb_store_test_{os.getpid()}"
    psql(base, f"CREATE DATABASE {db}")
    url = with_db(base, db)
    try:
        run(url)
    except Exception:
        T.check(False, "the test itself failed:\n" + traceback.format_exc())
    finally:
        psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", check=False)
    return T.report("pg_store")


def run(url):
    # A database without a store: reading says so and makes nothing; init makes it once.
    r = pmdb(url, "-c", "show incidents;")
    T.check(r.returncode == 1 and "no pmdb store in this database" in r.stderr,
            f"a read on a database without a store is refused: {r.returncode} {r.stderr!r}")
    r = pmdb("export", url)
    T.check(r.returncode == 1 and "no pmdb store" in r.stderr, f"export without a store: {r.stderr!r}")
    T.check(psql(url, "SELECT to_regclass('pmdb.events') IS NULL").stdout.strip() == "t",
            "a refused read made no table")
    r = pmdb("init", url)
    T.check(r.returncode == 0 and "0 events" in r.stdout, f"init: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = pmdb("init", url)
    T.check(r.returncode == 0 and "a pmdb store" in r.stdout, f"init again leaves it: {r.stdout!r}")
    r = pmdb("import", url, *EXAMPLES)
    T.check(r.returncode == 0, f"import: {r.stderr!r}")
    events = sum(1 for f in EXAMPLES for line in open(f, encoding="utf-8") if line.strip())
    T.check(psql(url, "SELECT count(*) FROM pmdb.events").stdout.strip() == str(events),
            f"{events} events stored")
    ok = pmdb("verify", url)
    T.check(ok.returncode == 0 and ok.stdout.startswith(f"ok: {events} events"), f"verify: {ok.stdout!r}")

    # The head is the log's end: moved forward by hand (also by the owner) is refused.
    for sql in ("UPDATE pmdb.chain_head SET position = position + 1",
                "UPDATE pmdb.chain_head SET hash = '\\x00'",
                "UPDATE pmdb.chain_head SET position = position + 1, hash = (SELECT hash FROM pmdb.events WHERE seq = 2)"):
        r = psql(url, sql, check=False)
        T.check(r.returncode != 0 and "the chain head is the last event's position and hash" in r.stderr,
                f"{sql} refused: {r.stderr!r}")

    # A newer schema is refused, not misread.
    psql(url, "UPDATE pmdb.meta SET value = '99' WHERE key = 'schema_version'")
    r = pmdb(url, "-c", "show incidents;")
    T.check(r.returncode == 1 and "schema version 99 is newer" in r.stderr, f"a newer schema: {r.stderr!r}")
    psql(url, "UPDATE pmdb.meta SET value = '4' WHERE key = 'schema_version'")

    # A disabled trigger, then a row changed through the gap: named by verify, refused at open.
    psql(url, "ALTER TABLE pmdb.events DISABLE TRIGGER events_are_append_only_update")
    r = pmdb(url, "-c", "show incidents;")
    T.check(r.returncode == 1 and "changed outside pmdb" in r.stderr and "is disabled" in r.stderr,
            f"open with a disabled trigger: {r.stderr!r}")
    psql(url, "UPDATE pmdb.events SET source = 'forged' WHERE seq = 5")
    r = pmdb("verify", url)
    T.check(r.returncode == 1 and "position 5:" in r.stderr and "does not match the chain" in r.stderr
            and "events_are_append_only_update is disabled" in r.stderr, f"verify after a forged row: {r.stderr!r}")
    # Put back (the owner again), so that the rest starts from a sound store.
    psql(url, "UPDATE pmdb.events SET source = (SELECT source FROM pmdb.event_versions WHERE seq = 5 LIMIT 1) "
              "WHERE seq = 5")
    psql(url, "ALTER TABLE pmdb.events ENABLE TRIGGER events_are_append_only_update")
    T.check(pmdb("verify", url).stdout == ok.stdout, "verify is ok again once the row is put back")

    # A row inserted by hand past the head: the head no longer matches the log.
    psql(url, "INSERT INTO pmdb.events SELECT seq + 1000, id || '-copy', incident, version + 1000, type, at, "
              "recorded_at, source, approx, data, text, status, channel, author, metric, value, unit, component, "
              "state, kind, target, appended_at, recorded_by, hash FROM pmdb.events WHERE seq = 1")
    r = pmdb(url, "-c", "show incidents;")
    T.check(r.returncode == 1 and "events were added outside pmdb" in r.stderr, f"open after an insert: {r.stderr!r}")
    r = pmdb("verify", url)
    T.check(r.returncode == 1 and "position" in r.stderr, f"verify after an insert: {r.stderr!r}")
    psql(url, "ALTER TABLE pmdb.events DISABLE TRIGGER events_are_append_only_delete; "
              "DELETE FROM pmdb.events WHERE seq > 1000; "
              "ALTER TABLE pmdb.events ENABLE TRIGGER events_are_append_only_delete")
    T.check(pmdb("verify", url).returncode == 0, "verify is ok once the forged row is gone")

    # A role that may only read is told so when it writes.
    r = pmdb("init", url, "--roles")
    T.check(r.returncode == 0, f"init --roles: {r.stderr!r}")
    reader = f"pmdb_reader_{os.getpid()}"
    psql(url, f"CREATE ROLE {reader} LOGIN IN ROLE pmdb_analyst")
    try:
        as_reader = " ".join([p for p in url.split() if not p.startswith("user=")] + [f"user={reader}"])
        r = pmdb(as_reader, "-c", 'use meta-2024-12-11; record note "a reader cannot write";')
        T.check(r.returncode == 1 and "this role may read the store but not append to it" in r.stderr,
                f"a reading role's record: {r.stderr!r}")
        r = pmdb("import", as_reader, EXAMPLES[0])
        T.check(r.returncode == 1 and "this role may read the store but not append to it" in r.stderr,
                f"a reading role's import: {r.stderr!r}")
        # Functions of another pmdb version: a reader is told who can replace them; the owner's
        # next open does.
        psql(url, "UPDATE pmdb.meta SET value = 'another' WHERE key = 'functions'")
        r = pmdb(as_reader, "-c", "show incidents;")
        T.check(r.returncode == 1 and "SQL functions are another pmdb version's" in r.stderr,
                f"a reader with stale functions: {r.stderr!r}")
        r = pmdb(url, "-c", "show incidents;")
        T.check(r.returncode == 0 and "meta-2024-12-11" in r.stdout, f"the owner brings them up to date: {r.stderr!r}")
        T.check(psql(url, "SELECT value FROM pmdb.meta WHERE key = 'functions'").stdout.strip() != "another",
                "the functions' key is this pmdb's again")
        r = pmdb(as_reader, "-c", "show incidents;")
        T.check(r.returncode == 0, f"the reader reads again: {r.stderr!r}")
    finally:
        psql(url, f"DROP OWNED BY {reader}; DROP ROLE {reader}", check=False)
    r = pmdb("init", url, "--roles", "--nope")
    T.check(r.returncode == 2, "an unknown option of init is a usage error")
    r = pmdb("init", "/tmp/never-made.pmdb", "--roles")
    T.check(r.returncode == 2 and "server" in r.stderr and not os.path.exists("/tmp/never-made.pmdb"),
            f"--roles on a file is refused: {r.stderr!r}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    PMDB = sys.argv[1]
    sys.exit(main())
