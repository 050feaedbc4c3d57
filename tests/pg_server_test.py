#!/usr/bin/env python3
"""What the server itself enforces and keeps, on a PostgreSQL store:

  - `pmdb init URL --roles`: the roles pmdb_writer and pmdb_analyst. A login role in
    pmdb_writer imports, records, corrects and verifies through pmdb, but cannot UPDATE, DELETE
    or TRUNCATE the log nor move the chain head back (psql); a login role in pmdb_analyst asks
    questions, exports, reports and verifies, and every write (pmdb's `record`, `import`; psql's
    INSERT, UPDATE, DELETE) is refused, with the store unchanged.
  - The append-only triggers hold for the owner too (a superuser's UPDATE, DELETE, TRUNCATE of
    pmdb.events, a chain head moved back: all refused).
  - `pg_dump --schema=pmdb` and `pg_restore` into a new database: `verify` passes with the same
    head, `export` is byte-identical.
  - Queries run in READ ONLY transactions, with the literals of PMQL as bound parameters
    (checked in the server's statement log when the cluster's log is at hand, as
    scripts/pg-cluster keeps it: HOST/server.log).

Usage: pg_server_test.py PATH_TO_PMDB
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pg_util
from tally import Tally

PMDB = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TALLY = Tally()
check = TALLY.check
ENV = dict(os.environ, NO_COLOR="1")
ENV.pop("PMDB_TEST_PG", None)
DEMO = sorted(os.path.join("examples", n) for n in os.listdir(os.path.join(ROOT, "examples")) if n.endswith(".jsonl"))


def pmdb(*args):
    return subprocess.run([PMDB, *args], capture_output=True, text=True, env=ENV, cwd=ROOT, stdin=subprocess.DEVNULL,
                          timeout=300)


def ok(p, what):
    return check(p.returncode == 0 and p.stderr == "", f"{what}: exit {p.returncode}: {p.stderr[-1500:]}")


def refused(p, what):
    return check(p.returncode != 0 and p.stderr.strip() != "", f"{what}: not refused (exit {p.returncode}): {p.stdout[-500:]}")


def psql_as(server, db, user, sql):
    """psql as USER on DB: (exit status, stderr)."""
    url = pg_util.keyword_string(dict(server.params, dbname=db, user=user))
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stderr.strip()


def main():
    server = pg_util.Server(pg_util.server_or_skip("pg_server"), "pmdb_server")
    tag = f"pmdb_t{os.getpid()}"
    writer, analyst = f"{tag}_writer", f"{tag}_analyst"
    tmp = tempfile.mkdtemp(prefix="pmdb-pg-server-")
    try:
        db = server.create("roles")
        owner_url = server.url(db)
        ok(pmdb("init", owner_url, "--roles"), "init --roles")
        ok(pmdb("init", owner_url, "--roles"), "init --roles again (idempotent)")
        roles = server.psql("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles "
                            "WHERE rolname IN ('pmdb_writer', 'pmdb_analyst')").strip()
        check(roles == "pmdb_analyst,pmdb_writer", f"init --roles made the roles {roles!r}")
        server.psql(f"CREATE ROLE {writer} LOGIN IN ROLE pmdb_writer; CREATE ROLE {analyst} LOGIN IN ROLE pmdb_analyst")
        w_url = pg_util.keyword_string(dict(server.params, dbname=db, user=writer))
        a_url = server.url(db, "uri").replace(f"postgresql://{server.params.get('user', '')}@",
                                              f"postgresql://{analyst}@")

        # The writer: everything through pmdb.
        if not ok(pmdb("import", w_url, *DEMO), "the writer imports"):
            ok(pmdb("import", owner_url, *DEMO), "the owner imports (so that the rest has a store to work on)")
        ok(pmdb(w_url, "--source", "bot", "-c", 'use meta-2024-12-11; record note "from the writer";'
                "correct last set text = 'edited' because 'typo';"), "the writer records and corrects")
        ok(pmdb("verify", w_url), "the writer verifies")
        before = pmdb("export", owner_url).stdout
        check(before.count("\n") == 79, f"the store holds {before.count(chr(10))} events, not 77 + 2")
        check('"source":"bot"' in before, "the writer's note is not in the export")
        for sql in ("UPDATE pmdb.events SET source = 'x' WHERE seq = 1", "DELETE FROM pmdb.events WHERE seq = 1",
                    "TRUNCATE pmdb.events", "UPDATE pmdb.chain_head SET position = position - 1",
                    "DELETE FROM pmdb.chain_head", "DROP TABLE pmdb.events"):
            rc, err = psql_as(server, db, writer, sql)
            check(rc != 0, f"the writer ran {sql!r} through psql")
        # The analyst: reads only.
        owner_answer = pmdb(owner_url, "-c", "show incidents;").stdout
        asked = pmdb(a_url, "-c", "show incidents;")
        ok(asked, "the analyst asks")
        check(asked.stdout == owner_answer and "meta-2024-12-11" in asked.stdout, "the analyst's answer differs")
        ok(pmdb("export", a_url), "the analyst exports")
        ok(pmdb("report", a_url, "openai-2024-12-11", "--now", "2025-01-01T00:00:00Z"), "the analyst reports")
        ok(pmdb("verify", a_url), "the analyst verifies")
        refused(pmdb(a_url, "-c", 'use meta-2024-12-11; record note "from the analyst";'), "the analyst's record")
        refused(pmdb("import", a_url, "tests/golden/scripts/data/corrections.jsonl"), "the analyst's import")
        for sql in ("INSERT INTO pmdb.meta (key, value) VALUES ('x', 'y')", "UPDATE pmdb.incidents SET title = 'x'",
                    "DELETE FROM pmdb.milestones", "UPDATE pmdb.chain_head SET position = position + 1"):
            rc, err = psql_as(server, db, analyst, sql)
            check(rc != 0, f"the analyst ran {sql!r} through psql")
        check(pmdb("export", owner_url).stdout == before, "the refused writes changed the store")

        # The triggers hold for the owner (a superuser) too.
        for sql in ("UPDATE pmdb.events SET source = 'x' WHERE seq = 1", "DELETE FROM pmdb.events WHERE seq = 1",
                    "TRUNCATE pmdb.events CASCADE", "UPDATE pmdb.chain_head SET position = position - 1"):
            try:
                server.psql(sql, db)
                check(False, f"the owner ran {sql!r}")
            except RuntimeError as e:
                check("pmdb:" in str(e), f"{sql!r} refused without pmdb's reason: {e}")
        ok(pmdb("verify", owner_url), "verify after the refused changes")

        # Backups: pg_dump of the schema pmdb, pg_restore into a new database.
        head = pmdb("verify", owner_url).stdout
        dump = os.path.join(tmp, "store.dump")
        p = subprocess.run(["pg_dump", "--schema=pmdb", "--format=custom", f"--file={dump}", "-d", owner_url],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"pg_dump: {p.stderr}")
        restored = server.create("restored")
        p = subprocess.run(["pg_restore", "--exit-on-error", "-d", server.url(restored), dump], capture_output=True, text=True)
        check(p.returncode == 0, f"pg_restore: {p.stderr}")
        v = pmdb("verify", server.url(restored))
        ok(v, "verify the restored store")
        check(v.stdout == head, f"the restored store's head: {v.stdout.strip()!r}, the original's {head.strip()!r}")
        check(pmdb("export", server.url(restored)).stdout == before, "the restored store exports otherwise")
        ok(pmdb(server.url(restored), "-c", 'use meta-2024-12-11; record note "after the restore";'),
           "recording into the restored store")
        ok(pmdb("verify", server.url(restored)), "verify the restored store after a record")

        # The statement log: READ ONLY transactions, literals bound.
        log = os.path.join(server.params.get("host", ""), "server.log")
        if os.path.isfile(log):
            server.psql(f'ALTER DATABASE "{db}" SET log_statement = \'all\'')
            start = os.path.getsize(log)
            ok(pmdb(owner_url, "-c", "time from first alert to status identified in openai-2024-12-11;"
                                     "events where source = 'postmortem' | summarize n = count();"), "the questions")
            with open(log, encoding="utf-8", errors="replace") as f:
                f.seek(start)
                text = f.read()
            # Entries start with the line prefix's timestamp; a statement's later lines are indented.
            entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
            statements = [re.split(r"LOG:  (?:statement|execute [^:]*): ", e, maxsplit=1)[1]
                          for e in entries if re.search(r"LOG:  (?:statement|execute [^:]*): ", e)]
            check(any("READ ONLY" in s.upper() for s in statements),
                  "no READ ONLY transaction in the statement log:\n" + "\n".join(statements[:20]))
            inline = [s for s in statements if "openai-2024-12-11" in s or "'postmortem'" in s]
            check(not inline, "a literal of the question in the SQL text, not bound:\n" + "\n".join(inline[:5]))
            check("openai-2024-12-11" in text, "the statement log does not show the questions' parameters")
        else:
            print(f"pg_server: no server log at {log}: the READ ONLY and bound-parameter checks were not run")
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:  # a step that could not run: said, and failed
        check(False, f"stopped: {e}")
    finally:
        server.drop_all()
        for role in (writer, analyst):
            server.psql(f"DROP ROLE IF EXISTS {role}", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(TALLY.report("pg_server"))
