#!/usr/bin/env python3
"""A store on a PostgreSQL server keeps the promises a store file keeps, enforced by the server:
the log refuses UPDATE, DELETE and TRUNCATE (also to its owner, through the triggers); a trigger
disabled, a row changed or a row inserted outside pmdb is named by `pmdb verify` and refused at
open; the roles of `pmdb init --roles` let a writer append through pmdb but never change the log,
and an analyst read but never write; a store of a newer schema is refused; a database without a
store is told so, and only a write makes one.

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


def with_user(conninfo, user):
    parts = [p for p in conninfo.split() if not p.startswith("user=")]
    return " ".join(parts + [f"user={user}"])


def main():
    base = os.environ.get("PMDB_TEST_PG")
    if not base:
        print("pg_store: PMDB_TEST_PG is not set: no PostgreSQL server to test against "
              "(scripts/pg-cluster run starts one)", file=sys.stderr)
        return 1 if os.environ.get("CI") else 77
    db = f"pmdb_store_test_{os.getpid()}"
    psql(base, f"CREATE DATABASE {db}")
    url = with_db(base, db)
    roles = [f"pmdb_w_{os.getpid()}", f"pmdb_a_{os.getpid()}"]
    try:
        run(url, roles)
    except Exception:
        T.check(False, "the test itself failed:\n" + traceback.format_exc())
    finally:
        psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", check=False)
        for r in roles:
            psql(base, f"DROP ROLE IF EXISTS {r}", check=False)
        # The group roles are the cluster's: left for other tests of the same cluster.
    return T.report("pg_store")


def run(url, roles):
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

    # The server refuses to change the log, also to its owner.
    for sql, word in (("UPDATE pmdb.events SET source = 'x' WHERE seq = 3", "updating"),
                      ("DELETE FROM pmdb.events WHERE seq = 3", "deleting"),
                      ("TRUNCATE pmdb.events", "deleting"),
                      ("UPDATE pmdb.chain_head SET position = 1", "only advances"),
                      ("DELETE FROM pmdb.chain_head", "is kept")):
        r = psql(url, sql, check=False)
        T.check(r.returncode != 0 and "pmdb:" in r.stderr and word in r.stderr, f"{sql} refused: {r.stderr!r}")
    T.check(pmdb("export", url).stdout == pmdb("export", url).stdout and pmdb("verify", url).returncode == 0,
            "the store is as it was after the refusals")

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

    # Roles: a writer appends through pmdb and cannot change the log; an analyst only reads.
    r = pmdb("init", url, "--roles")
    T.check(r.returncode == 0 and "pmdb_writer" in r.stdout, f"init --roles: {r.stdout!r} {r.stderr!r}")
    r = pmdb("init", url, "--roles")
    T.check(r.returncode == 0, f"init --roles again: {r.stderr!r}")
    writer, analyst = roles
    psql(url, f"CREATE ROLE {writer} LOGIN IN ROLE pmdb_writer; CREATE ROLE {analyst} LOGIN IN ROLE pmdb_analyst")
    as_writer, as_analyst = with_user(url, writer), with_user(url, analyst)
    r = pmdb(as_writer, "--source", "bot", "-c",
             'use meta-2024-12-11; record note "recorded by the writer role";')
    T.check(r.returncode == 0, f"the writer records: {r.stderr!r}")
    T.check(psql(url, "SELECT count(*) FROM pmdb.events").stdout.strip() == str(events + 1), "one more event")
    for sql in ("UPDATE pmdb.events SET source = 'x' WHERE seq = 1", "DELETE FROM pmdb.events WHERE seq = 1",
                "TRUNCATE pmdb.events", "ALTER TABLE pmdb.events DISABLE TRIGGER events_are_append_only_update",
                "DROP TABLE pmdb.events"):
        r = psql(as_writer, sql, check=False)
        T.check(r.returncode != 0, f"the writer cannot: {sql}")
    r = pmdb(as_analyst, "-c", "show incidents;")
    T.check(r.returncode == 0 and "meta-2024-12-11" in r.stdout, f"the analyst reads: {r.stderr!r}")
    r = pmdb(as_analyst, "-c", 'use meta-2024-12-11; record note "an analyst cannot write";')
    T.check(r.returncode == 1 and "permission denied" in r.stderr, f"the analyst cannot record: {r.stderr!r}")
    r = pmdb("import", as_analyst, EXAMPLES[0])
    T.check(r.returncode == 1, f"the analyst cannot import: {r.stderr!r}")
    for sql in ("INSERT INTO pmdb.meta VALUES ('x', 'y')", "UPDATE pmdb.incidents SET title = 'x'",
                "DELETE FROM pmdb.milestones"):
        T.check(psql(as_analyst, sql, check=False).returncode != 0, f"the analyst cannot: {sql}")
    T.check(psql(url, "SELECT count(*) FROM pmdb.events").stdout.strip() == str(events + 1),
            "nothing written by the refused attempts")
    r = pmdb("verify", as_analyst)
    T.check(r.returncode == 0 and r.stdout.startswith(f"ok: {events + 1} events"), f"verify as the analyst: {r.stdout!r}")
    r = pmdb("init", url.replace("dbname=", "dbname=") , "--roles", "--nope")
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
