#!/usr/bin/env python3
"""Every golden answer of the SQLite store, asked of a PostgreSQL store: the same scripts, the
same inputs, the same flags as the C++ harness (tests/golden.hpp), compared byte for byte with
the same files (chain hashes as `<hash>`, as check_golden compares them).

  queries    tests/golden/queries/*.pmq     pmdb STORE [ARGS] --echo -f NAME.pmq on the demo
  scripts    tests/golden/scripts/*.pmq     store (examples/*.jsonl imported in file-name
  examples   examples/*.pmq                 order), or on an empty store where the script's
                                            `-- args:` line says `:memory:` (the records);
                                            stdout, `--- stderr` + stderr, `--- exit N` against
                                            NAME.expected (tests/golden/examples/ for examples)
  postmortem tests/golden/postmortem/*.md   pmdb report STORE ID --now 2025-01-01T00:00:00Z on
                                            the demo store (also examples/postmortem-ID.md),
                                            and OpenAI's after the three changes of
                                            tests/postmortem_test.cpp (corrected_demo_store)
  upgrade    tests/data/store-v4.answers    the fixture's inputs (tests/upgrade_test.cpp: the
             tests/data/store-v4.report.md  imports, then store-v3-record.pmq as PMDB_USER
                                            fixture), the questions of store-v3-questions.pmq
                                            and store-v3-new-questions.pmq (now and `as of`),
                                            and its postmortem

(tests/golden/render and tests/golden/parse_errors ask no store: nothing there depends on it.)

Each script gets a database of its own (CREATE DATABASE on the server of PMDB_TEST_PG, dropped
at the end), so that a script that writes sees what it would see on a fresh demo store. Where
the output names the store, the connection string is read as the name the file store has there
(":memory:", or the demo store's). Prints one PASS/FAIL line per golden file and a diff of each
failure; exits 1 on any difference.

Usage: pg_goldens_test.py PATH_TO_PMDB [--file]
  --file  run the same cases on SQLite store files instead of PostgreSQL: checks that this
          harness reproduces the goldens (it needs no server)
"""
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pg_util

PMDB = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
NOW = "2025-01-01T00:00:00Z"
DEMO_NAME = "demo store (in memory)"

# The three changes tests/postmortem_test.cpp appends to the demo store (corrected_demo_store).
CORRECTIONS = [
    '{"id":"openai-2024-12-11/fix-alert-time","incident":"openai-2024-12-11","type":"correction",'
    '"at":"2024-12-14T09:00:00Z","recorded_at":"2024-12-14T09:00:00Z","source":"postmortem review",'
    '"data":{"target":"openai-2024-12-11/alert-engineers-notified","at":"2024-12-11T22:30:00Z",'
    '"reason":"the pager log shows the first alert at 14:30 PST | the postmortem\'s 15:13 is the escalation"}}',
    '{"id":"openai-2024-12-11/fix-status-0059","incident":"openai-2024-12-11","type":"correction",'
    '"at":"2024-12-14T09:05:00Z","recorded_at":"2024-12-14T09:05:00Z","source":"status page archive",'
    '"data":{"target":"openai-2024-12-11/status-identified-0059","reason":"the archived page has the full text",'
    '"data":{"status":"identified","text":"Update: traffic is being restored *cluster by cluster*."}}}',
    '{"id":"openai-2024-12-11/retract-sora-login","incident":"openai-2024-12-11","type":"retraction",'
    '"at":"2024-12-14T09:10:00Z","recorded_at":"2024-12-14T09:10:00Z","source":"postmortem review",'
    '"data":{"target":"openai-2024-12-11/report-sora-login","reason":"the article mixed up two outages"}}',
]
FIXTURE_IMPORTS = ["examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl",
                   "tests/golden/scripts/data/corrections.jsonl"]
FIXTURE_RECORD = ["--source", "fixture-shell", "--now", "2024-12-12T14:00:00Z", "-f", "tests/data/store-v3-record.pmq"]

HASH = re.compile(r"(^|[^0-9a-f])[0-9a-f]{64}(?![0-9a-f])", re.M)


def without_hashes(text):
    """As tests/golden.hpp's without_hashes: every run of exactly 64 lowercase hex digits is <hash>."""
    return HASH.sub(r"\1<hash>", text)


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8", newline="") as f:
        return f.read()


def files_in(rel, ext):
    return sorted(os.path.join(rel, n) for n in os.listdir(os.path.join(ROOT, rel)) if n.endswith(ext))


DEMO_FILES = files_in("examples", ".jsonl")


class Backends:
    """Where the stores of the cases are made: databases on the PostgreSQL server, or files."""

    def __init__(self, use_files):
        self.use_files = use_files
        self.tmp = tempfile.mkdtemp(prefix="pmdb-pg-goldens-")
        self.n = 0
        if not use_files:
            self.server = pg_util.Server(pg_util.server_or_skip("pg_goldens"), "pmdb_golden")

    def new_store(self, label, form="keyword"):
        """A new, empty store (a fresh database, or a file path that does not exist yet)."""
        self.n += 1
        if self.use_files:
            return os.path.join(self.tmp, f"{self.n}-{label}.pmdb")
        return self.server.url(self.server.create(label), form)

    def close(self):
        if not self.use_files:
            self.server.drop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


def pmdb(args, env_extra=None):
    """The real pmdb from the source directory, as run_command runs it: NO_COLOR=1, stdin /dev/null."""
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PMDB_TEST_PG", None)
    if env_extra:
        env.update(env_extra)
    return subprocess.run([PMDB, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=600)


def text(b):
    return b.decode("utf-8", errors="surrogateescape")


def transcript(p, names):
    """tests/golden.hpp's transcript of a run, each store's connection string read as NAMES says."""
    t = text(p.stdout)
    if p.stderr:
        t += "--- stderr\n" + text(p.stderr)
    t += f"--- exit {p.returncode}\n"
    for target, name in names.items():
        t = t.replace(target, name)
    return t


def must(p, what):
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {p.returncode}): {text(p.stderr)[-2000:]}")
    return p


def demo_store(b, label, form="keyword"):
    store = b.new_store(label, form)
    must(pmdb(["import", store, *DEMO_FILES]), f"importing the demo incidents into {label}")
    return store


def script_args(script):
    """tests/golden.hpp's script_args: the `-- args:` line's words, then --echo -f SCRIPT."""
    body = read(script)
    args = []
    if body.startswith("-- args:"):
        args = body[len("-- args:"):body.index("\n")].split()
    return args + ["--echo", "-f", script]


def compare(expected, actual):
    """None when equal with hashes masked, else a unified diff (at most 60 lines)."""
    e, a = without_hashes(expected), without_hashes(actual)
    if e == a:
        return None
    diff = list(difflib.unified_diff(e.splitlines(keepends=True), a.splitlines(keepends=True), "expected", "actual"))
    if not diff:  # a difference the line diff does not show (e.g. a final newline)
        diff = [f"expected {len(e)} bytes, got {len(a)} bytes\n"]
    # What pmdb said on stderr, when the expected transcript did not say it: often the whole story.
    said = a.split("--- stderr\n", 1)[1].rsplit("--- exit", 1)[0] if "--- stderr\n" in a else ""
    unexpected = [l for l in said.splitlines(keepends=True) if l not in e]
    head = "".join(["stderr (not in the golden file):\n"] + unexpected[:6] + ["\n"]) if unexpected else ""
    return head + "".join(diff[:60]) + ("…\n" if len(diff) > 60 else "")


def golden_script(b, script, golden, form):
    args = script_args(script)
    if ":memory:" in args:
        store = b.new_store(os.path.basename(script), form)
        args = [store if a == ":memory:" else a for a in args]
        names = {store: ":memory:"}
    else:
        store = demo_store(b, os.path.basename(script), form)
        args = [store] + args
        names = {store: DEMO_NAME}
    return compare(read(golden), transcript(pmdb(args), names))


def report(store, incident, env_extra=None):
    p = pmdb(["report", store, incident, "--now", NOW], env_extra)
    if p.returncode != 0 or p.stderr:
        return None, f"report {incident}: exit {p.returncode}: {text(p.stderr)[-2000:]}"
    return text(p.stdout), None


def postmortems(b):
    """(golden file, diff or None) for each postmortem golden."""
    out = []
    store = demo_store(b, "postmortem", "uri")
    for incident in ("openai-2024-12-11", "meta-2024-12-11"):
        md, err = report(store, incident)
        for golden in (f"tests/golden/postmortem/{incident}.md", f"examples/postmortem-{incident}.md"):
            out.append((golden, err or compare(read(golden), md)))
    store = demo_store(b, "corrected", "uri")
    changes = os.path.join(b.tmp, "corrections-of-the-demo.jsonl")
    with open(changes, "w", encoding="utf-8") as f:
        f.write("\n".join(CORRECTIONS) + "\n")
    must(pmdb(["import", store, changes]), "importing the corrections")
    md, err = report(store, "openai-2024-12-11")
    golden = "tests/golden/postmortem/openai-2024-12-11-corrected.md"
    out.append((golden, err or compare(read(golden), md)))
    return out


def upgrade_answers(b):
    """The answers and the report of the version-4 fixture, from a store made of its inputs."""
    store = b.new_store("fixture")
    must(pmdb(["import", store, *FIXTURE_IMPORTS]), "importing the fixture's inputs")
    must(pmdb([store, *FIXTURE_RECORD], {"PMDB_USER": "fixture"}), "recording store-v3-record.pmq")
    p = pmdb([store, "-f", "tests/data/store-v3-questions.pmq", "-f", "tests/data/store-v3-new-questions.pmq"])
    answers = text(p.stdout)
    if p.returncode != 0 or p.stderr:
        answers += f"--- stderr\n{text(p.stderr)}--- exit {p.returncode}\n"
    out = [("tests/data/store-v4.answers", compare(read("tests/data/store-v4.answers"), answers))]
    md, err = report(store, "openai-2024-12-11")
    out.append(("tests/data/store-v4.report.md", err or compare(read("tests/data/store-v4.report.md"), md)))
    return out


def main():
    use_files = "--file" in sys.argv[2:]
    b = Backends(use_files)
    jobs = []  # (suite, golden, callable returning a diff or None)
    for suite, scripts_dir, golden_dir in (("queries", "tests/golden/queries", "tests/golden/queries"),
                                           ("scripts", "tests/golden/scripts", "tests/golden/scripts"),
                                           ("examples", "examples", "tests/golden/examples")):
        for i, script in enumerate(files_in(scripts_dir, ".pmq")):
            golden = os.path.join(golden_dir, os.path.basename(script)[:-4] + ".expected")
            # Both forms of a connection string: libpq keyword/value, and a postgresql:// URI.
            form = "uri" if i % 2 else "keyword"
            jobs.append((suite, golden, lambda s=script, g=golden, f=form: [(g, golden_script(b, s, g, f))]))
    jobs.append(("postmortem", "tests/golden/postmortem", lambda: postmortems(b)))
    jobs.append(("upgrade", "tests/data/store-v4.*", lambda: upgrade_answers(b)))

    def run(job):
        suite, golden, fn = job
        try:
            return suite, fn()
        except Exception as e:  # a harness step that failed: that golden fails, the others run
            return suite, [(golden, f"error: {e}\n")]

    results = []
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for suite, rows in pool.map(run, jobs):
                results += [(suite, g, d) for g, d in rows]
    finally:
        b.close()

    backend = "SQLite files" if use_files else "PostgreSQL"
    failed = [(s, g, d) for s, g, d in results if d is not None]
    for suite, golden, diff in results:
        print(f"{'PASS' if diff is None else 'FAIL'}  {suite:<10} {golden}")
    for suite, golden, diff in failed:
        print(f"\n=== {golden} on {backend}: differs\n{diff}", end="")
    print(f"\npg_goldens ({backend}): {len(results) - len(failed)} of {len(results)} golden files identical"
          + (f", {len(failed)} differ" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
