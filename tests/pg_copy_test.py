#!/usr/bin/env python3
"""`pmdb copy SRC DST` between backends keeps a store whole: ids, order, recorded and append
times, authors and the hash chain.

For each source file store (the demo incidents with tests/golden/scripts/data/corrections.jsonl
and an incident recorded live; and a copy of tests/data/store-v4.pmdb, written by the previous
release):
  file -> server (a new database), server -> file, server -> server, and that copy -> file;
then on all of them: `pmdb export` byte-identical, `pmdb verify` ok with the same event count and
the same chain head, the same postmortem (`report --now`, which names the head), the same
answers to tests/data/store-v3-new-questions.pmq. A copy onto a store that already holds events
is refused and leaves it as it was.

Usage: pg_copy_test.py PATH_TO_PMDB
"""
import os
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
ENV = dict(os.environ, NO_COLOR="1", PMDB_USER="copier")
ENV.pop("PMDB_TEST_PG", None)


def pmdb(*args):
    return subprocess.run([PMDB, *args], capture_output=True, text=True, env=ENV, cwd=ROOT,
                          stdin=subprocess.DEVNULL, timeout=600)


def ok(p, what):
    return check(p.returncode == 0, f"{what}: exit {p.returncode}: {p.stderr[-2000:]}")


def same_store(stores, label):
    """Every store in STORES (name -> target) exports, verifies, reports and answers as the first."""
    exports, verifies, reports, answers = {}, {}, {}, {}
    for name, target in stores.items():
        e = pmdb("export", target)
        ok(e, f"{label}: export {name}")
        exports[name] = e.stdout
        v = pmdb("verify", target)
        ok(v, f"{label}: verify {name}")
        check(v.stdout.startswith("ok: "), f"{label}: verify {name}: {v.stdout}")
        verifies[name] = v.stdout
        r = pmdb("report", target, "openai-2024-12-11", "--now", "2025-01-01T00:00:00Z")
        ok(r, f"{label}: report {name}")
        reports[name] = r.stdout
        q = pmdb(target, "--now", "2025-01-01T00:00:00Z", "-f", "tests/data/store-v3-new-questions.pmq")
        ok(q, f"{label}: questions on {name}")
        answers[name] = q.stdout + q.stderr
    first = next(iter(stores))
    check(exports[first].count("\n") > 60, f"{label}: the export of {first} holds {exports[first].count(chr(10))} lines")
    for name in stores:
        if name == first:
            continue
        check(exports[name] == exports[first], f"{label}: export of {name} differs from {first}'s")
        check(verifies[name] == verifies[first],
              f"{label}: verify {name}: {verifies[name].strip()!r}, {first}: {verifies[first].strip()!r}")
        check(reports[name] == reports[first], f"{label}: the postmortem of {name} differs from {first}'s")
        check(answers[name] == answers[first], f"{label}: the answers of {name} differ from {first}'s")
    return verifies[first]


def main():
    server = pg_util.Server(pg_util.server_or_skip("pg_copy"), "pmdb_copy")
    tmp = tempfile.mkdtemp(prefix="pmdb-pg-copy-")
    try:
        # Source 1: imports and live records (appended times and authors of both kinds).
        live = os.path.join(tmp, "live.pmdb")
        demo = sorted(os.path.join("examples", n) for n in os.listdir(os.path.join(ROOT, "examples"))
                      if n.endswith(".jsonl"))
        ok(pmdb("import", live, *demo, "tests/golden/scripts/data/corrections.jsonl"), "import")
        ok(pmdb(live, "--source", "bot", "-c",
                'new incident acme-2026-11-30 title "Checkout errors" org "Acme" services ("api") severity major;'
                'record status investigating "Errors on checkout";'
                'record note "caf\u00e9 \u2014 \U0001F525 \\"quoted\\"";'
                "correct last set text = 'edited' because 'typo';"), "record")
        # Source 2: the previous release's store (schema 4), as it wrote it.
        fixture = os.path.join(tmp, "v4.pmdb")
        shutil.copyfile(os.path.join(ROOT, "tests", "data", "store-v4.pmdb"), fixture)

        for label, src in (("live", live), ("store-v4", fixture)):
            a, b = server.create(f"{label}_a"), server.create(f"{label}_b")
            url_a, url_b = server.url(a), server.url(b, "uri")
            back, back2 = os.path.join(tmp, f"{label}-back.pmdb"), os.path.join(tmp, f"{label}-back2.pmdb")
            ok(pmdb("copy", src, url_a), f"{label}: copy file -> server")
            ok(pmdb("copy", url_a, back), f"{label}: copy server -> file")
            ok(pmdb("copy", url_a, url_b), f"{label}: copy server -> server")
            ok(pmdb("copy", url_b, back2), f"{label}: copy server -> server -> file")
            v = same_store({"file": src, "server": url_a, "file from server": back, "server from server": url_b,
                            "file from server from server": back2}, label)
            print(f"{label}: {v.strip()}")
            n = server.psql("SELECT count(*) FROM pmdb.events", a, check=False).strip()
            check(v.startswith(f"ok: {n} events"), f"{label}: pmdb.events holds {n} rows; verify says {v.strip()}")

            # Onto a store that holds events: refused, nothing written.
            before = pmdb("export", url_b).stdout
            again = pmdb("copy", src, url_b)
            check(again.returncode != 0 and again.stderr.strip() != "",
                  f"{label}: a copy onto a store that holds events: exit {again.returncode}, {again.stderr.strip()!r}")
            check(pmdb("export", url_b).stdout == before, f"{label}: the refused copy changed the destination")
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:  # a step that could not run: said, and failed
        check(False, f"stopped: {e}")
    finally:
        server.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(TALLY.report("pg_copy"))
