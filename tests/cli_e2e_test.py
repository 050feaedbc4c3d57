#!/usr/bin/env python3
"""Every user-visible surface of the pmdb binary, end to end: each subcommand and its options
(import --format/--prefix/--tz/--map/--fast and '-', export with and without incidents,
rebuild after a damaged read model, report -o/--now/--tz/--as-of/--format, verify --from), the
shell's options (-c, -f, piped scripts, --no-bail, --mode, --headers, --readonly, --safe,
--tz, --as-of, --now, --source, --nullvalue, --init, --version, --help), exit statuses 0/1/2
with their messages on stderr, and each dot-command run from a script.

The expected answers are computed here from the input files (lines counted, ids collected,
local times converted with zoneinfo, error positions found in the script's text), not copied
from pmdb's output. Each check would fail if pmdb ignored the option or command it exercises.

Usage: cli_e2e_test.py PATH_TO_PMDB
"""
import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from tally import Tally

PMDB = os.path.abspath(sys.argv[1])
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EXAMPLES = os.path.join(SOURCE, "examples")
META = os.path.join(EXAMPLES, "meta-2024-12-11.jsonl")
OPENAI = os.path.join(EXAMPLES, "openai-2024-12-11.jsonl")
STATUSPAGE = os.path.join(SOURCE, "tests", "data", "statuspage-sample.json")

TALLY = Tally()
check, failures = TALLY.check, TALLY.failures
ENV = {}


LOCK = threading.Lock()


RUNS = [0]


def pmdb(*args, stdin=None, cwd=None):
    """Runs the real pmdb; stdin is a text (None: /dev/null)."""
    with LOCK:
        RUNS[0] += 1
    return subprocess.run([PMDB, *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def shell(*args, stdin=None, cwd=None):
    """The shell, never reading a startup file."""
    return pmdb("--no-init", *args, stdin=stdin, cwd=cwd)


def ok(r, what):
    """Checks exit status 0 and an empty stderr; returns stdout."""
    check(r.returncode == 0, f"{what}: exit {r.returncode}, stderr {r.stderr!r}")
    check(r.stderr == "", f"{what}: stderr {r.stderr!r}")
    return r.stdout


def jsonl_events(path_or_text, is_text=False):
    text = path_or_text if is_text else open(path_or_text, encoding="utf-8").read()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def line_count(path):
    """Lines of a JSONL file, counted by hand: newlines, plus a last line without one."""
    data = open(path, "rb").read()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def utc(s):
    """An ISO 8601 timestamp as an aware datetime."""
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def export(db, *incidents):
    r = pmdb("export", db, *incidents)
    check(r.returncode == 0, f"export {db} {incidents}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


# A small store of two incidents whose every answer is known: explicit ids, times, recorded_at.
FIXTURE = [
    {"id": "alpha/incident", "incident": "alpha-2024-12-11", "type": "incident", "at": "2024-12-11T21:05:00Z",
     "recorded_at": "2024-12-11T21:10:00Z", "source": "status.alpha.example",
     "data": {"title": "Alpha API errors", "org": "Alpha", "services": ["API"]}},
    {"id": "alpha/investigating", "incident": "alpha-2024-12-11", "type": "status", "at": "2024-12-11T21:07:30Z",
     "recorded_at": "2024-12-11T21:10:00Z", "source": "status.alpha.example",
     "data": {"status": "investigating", "text": "alpha investigating"}},
    {"id": "alpha/metric", "incident": "alpha-2024-12-11", "type": "metric", "at": "2024-12-11T22:00:00Z",
     "recorded_at": "2024-12-11T22:00:00Z", "source": "press", "data": {"name": "fixed", "value": 40, "unit": "%"}},
    {"id": "alpha/resolved", "incident": "alpha-2024-12-11", "type": "status", "at": "2024-12-11T23:45:00Z",
     "recorded_at": "2024-12-13T09:00:00Z", "source": "status.alpha.example",
     "data": {"status": "resolved", "text": "alpha resolved late"}},
    {"id": "beta/incident", "incident": "beta-2024-12-12", "type": "incident", "at": "2024-12-12T08:00:00Z",
     "source": "press", "data": {"title": "Beta outage", "org": "Beta", "services": ["Web"]}},
    {"id": "beta/note", "incident": "beta-2024-12-12", "type": "note", "at": "2024-12-12T08:20:00Z",
     "source": "press", "data": {"text": "beta note"}},
]
ALPHA, BETA = "alpha-2024-12-11", "beta-2024-12-12"
FIXTURE_TEXT = "".join(json.dumps(e) + "\n" for e in FIXTURE)


def ats(incident):
    """The fixture's `at` instants of one incident, in order."""
    return [utc(e["at"]) for e in FIXTURE if e["incident"] == incident]


def at_query(incident):
    return f'events where incident = "{incident}" | select at;'


def csv_instants(text, header=False):
    """The single `at` column of csv output as instants (after the header when there is one)."""
    rows = list(csv.reader(io.StringIO(text)))
    if header:
        check(rows[:1] == [["at"]], f"csv header: {rows[:1]}")
        rows = rows[1:]
    return [datetime.fromisoformat(r[0]) for r in rows]


# ---------------------------------------------------------------------------------------------
def test_import_jsonl(d):
    db = os.path.join(d, "a.pmdb")
    n_meta, n_openai = line_count(META), line_count(OPENAI)
    out = ok(pmdb("import", db, META, OPENAI), "import two files")
    check(out == f"{META} (jsonl): {n_meta} events appended, 0 already there\n"
                 f"{OPENAI} (jsonl): {n_openai} events appended, 0 already there\n",
          f"import two files: {out!r}")
    again = ok(pmdb("import", db, OPENAI), "import again")
    check(again == f"{OPENAI} (jsonl): 0 events appended, {n_openai} already there\n", f"import again: {again!r}")

    # export: every event, in store order (the order they were imported in).
    lines = export(db).splitlines()
    check(len(lines) == n_meta + n_openai, f"export: {len(lines)} lines, imported {n_meta + n_openai}")
    want_ids = [e["id"] for e in jsonl_events(META)] + [e["id"] for e in jsonl_events(OPENAI)]
    check([json.loads(x)["id"] for x in lines] == want_ids, "export: not the imported ids in store order")

    # export DB INCIDENT: only that incident's events, and all of them.
    meta = export(db, "meta-2024-12-11").splitlines()
    check([json.loads(x)["id"] for x in meta] == [e["id"] for e in jsonl_events(META)],
          "export meta-2024-12-11: not exactly the Meta events")
    check({json.loads(x)["incident"] for x in meta} == {"meta-2024-12-11"}, "export meta: another incident")
    both = export(db, "openai-2024-12-11", "meta-2024-12-11").splitlines()
    check(sorted(both) == sorted(lines), "export of both incidents is not every event")
    r = pmdb("export", db, "meta-2024-12-11", "nope")
    check(r.returncode == 1 and r.stdout == "" and r.stderr == "pmdb: unknown incident 'nope'\n",
          f"export of an unknown incident: {r.returncode} {r.stdout!r} {r.stderr!r}")

    # '-' is stdin, beside a named file.
    db2 = os.path.join(d, "stdin.pmdb")
    out = ok(pmdb("import", db2, "-", META, stdin=FIXTURE_TEXT), "import -")
    check(out == f"<stdin> (jsonl): {len(FIXTURE)} events appended, 0 already there\n"
                 f"{META} (jsonl): {n_meta} events appended, 0 already there\n", f"import -: {out!r}")
    check([json.loads(x)["id"] for x in export(db2).splitlines()] ==
          [e["id"] for e in FIXTURE] + [e["id"] for e in jsonl_events(META)], "import -: exported ids")

    # --fast is accepted and imports the same events.
    db3 = os.path.join(d, "fast.pmdb")
    out = ok(pmdb("import", "--fast", db3, META), "import --fast")
    check(out == f"{META} (jsonl): {n_meta} events appended, 0 already there\n", f"import --fast: {out!r}")
    strip = lambda text: [{k: v for k, v in e.items() if k != "recorded_at"} for e in jsonl_events(text, True)]
    check(strip(export(db3)) == strip(export(db, "meta-2024-12-11")), "import --fast: other events")


def test_no_trailing_newline(d):
    text = FIXTURE_TEXT.rstrip("\n")
    path = write(os.path.join(d, "nonl.jsonl"), text)
    check(not open(path, "rb").read().endswith(b"\n"), "the file ends without a newline")
    n = line_count(path)
    check(n == len(FIXTURE), "line count")
    db = os.path.join(d, "nonl.pmdb")
    out = ok(pmdb("import", db, path), "import without a final newline")
    check(out == f"{path} (jsonl): {n} events appended, 0 already there\n", f"import without final newline: {out!r}")
    got = [json.loads(x)["id"] for x in export(db).splitlines()]
    check(got == [e["id"] for e in FIXTURE], f"the last line without newline: exported {got}")
    # The same through stdin and through .import.
    db2 = os.path.join(d, "nonl2.pmdb")
    out = ok(pmdb("import", db2, "-", stdin=text), "import - without final newline")
    check(out == f"<stdin> (jsonl): {n} events appended, 0 already there\n", f"stdin without newline: {out!r}")
    db3 = os.path.join(d, "nonl3.pmdb")
    out = ok(shell(db3, "-c", f".import {path}"), ".import without final newline")
    check(out == f"{path} (jsonl): {n} events appended, 0 already there\n", f".import without newline: {out!r}")


def test_import_format(d):
    fx = write(os.path.join(d, "fx.jsonl"), FIXTURE_TEXT)
    db = os.path.join(d, "fmt.pmdb")
    ok(pmdb("import", db, fx), "import fixture")
    before = export(db)
    # --format csv on a JSONL file: read as CSV (it fails), not detected as JSONL.
    r = pmdb("import", "--format", "csv", db, fx)
    check(r.returncode == 1, f"--format csv on JSONL: exit {r.returncode}")
    check("appended" not in r.stdout, f"--format csv on JSONL imported: {r.stdout!r}")
    check(r.stderr.endswith(f"{fx}: nothing imported\n"), f"--format csv on JSONL: {r.stderr!r}")
    check(re.search(rf"^{re.escape(fx)}:1: row 1, column", r.stderr, re.M) is not None,
          f"--format csv: the CSV reader's message: {r.stderr!r}")
    check(export(db) == before, "--format csv on JSONL changed the store")
    # --format jsonl on Statuspage JSON: read as JSONL (fails).
    r = pmdb("import", "--format", "jsonl", db, STATUSPAGE)
    check(r.returncode == 1 and "appended" not in r.stdout, f"--format jsonl on Statuspage JSON: {r.returncode} {r.stdout!r}")
    check(export(db) == before, "--format jsonl on Statuspage changed the store")
    # --format jsonl on the JSONL file, --format statuspage on the Statuspage file: imported.
    out = ok(pmdb("import", "--format", "jsonl", db, fx), "--format jsonl")
    check(out == f"{fx} (jsonl): 0 events appended, {len(FIXTURE)} already there\n", f"--format jsonl: {out!r}")
    sp_db = os.path.join(d, "sp.pmdb")
    out = ok(pmdb("import", "--format", "statuspage", sp_db, STATUSPAGE), "--format statuspage")
    check(re.fullmatch(rf"{re.escape(STATUSPAGE)} \(statuspage\): \d+ events appended, 0 already there\n", out) is not None,
          f"--format statuspage: {out!r}")
    # A wrong --format: usage, exit 2, nothing created.
    bad_db = os.path.join(d, "never.pmdb")
    for args in (["--format", "xml"], ["--format"]):
        r = pmdb("import", *args, bad_db, fx) if args[-1] != "--format" else pmdb("import", bad_db, fx, *args)
        check(r.returncode == 2, f"import {args}: exit {r.returncode}")
        check(r.stderr.startswith("pmdb: import: --format needs jsonl, statuspage or csv\n"), f"import {args}: {r.stderr!r}")
        check(r.stdout == "", f"import {args}: stdout {r.stdout!r}")
    check(not os.path.exists(bad_db), "a wrong --format created the store")
    r = pmdb("import", db, fx, "--bogus")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: import: unknown option --bogus"), f"import --bogus: {r.stderr!r}")
    r = pmdb("import", db)
    check(r.returncode == 2 and r.stderr.startswith("pmdb: import: needs a store and at least one file"),
          f"import without files: {r.stderr!r}")


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def test_import_prefix(d):
    page = json.load(open(STATUSPAGE, encoding="utf-8"))
    codes = [i["id"].lower() for i in page["incidents"]]
    db = os.path.join(d, "prefix.pmdb")
    ok(pmdb("import", "--prefix", "sp", db, STATUSPAGE), "import --prefix")
    got = {json.loads(x)["incident"] for x in export(db).splitlines()}
    check(got == {f"sp-{c}" for c in codes}, f"--prefix sp: incidents {got}")
    db2 = os.path.join(d, "noprefix.pmdb")
    ok(pmdb("import", db2, STATUSPAGE), "import without --prefix")
    got2 = {json.loads(x)["incident"] for x in export(db2).splitlines()}
    check(got2 == {f"{slug(page['page']['name'])}-{c}" for c in codes}, f"without --prefix: incidents {got2}")
    r = pmdb("import", db, STATUSPAGE, "--prefix")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: import: --prefix needs a value"), f"--prefix alone: {r.stderr!r}")


CSV_TZ = (
    "Incident,Time,Kind,Source,Message\r\n"
    "tzcase,2024-07-04 09:30,note,ops,summer\r\n"
    "tzcase,2024-12-24 18:05:10,note,ops,winter\r\n"
    "tzcase,2024-11-03 01:30,note,ops,the repeated hour\r\n"
    "tzcase,2024-03-10T12:00:00+02:00,note,ops,explicit offset\r\n"
)


def expected_tz(zone):
    """text -> the UTC instant of each row of CSV_TZ, converted with zoneinfo."""
    want = {}
    for row in list(csv.DictReader(io.StringIO(CSV_TZ))):
        t = row["Time"].replace("T", " ")
        if re.search(r"[+-]\d\d:\d\d$", t):
            want[row["Message"]] = datetime.fromisoformat(t)
        else:
            fmt = "%Y-%m-%d %H:%M:%S" if t.count(":") == 2 else "%Y-%m-%d %H:%M"
            # fold=0: a time that occurs twice is the earlier instant (documented).
            local = datetime.strptime(t, fmt).replace(tzinfo=ZoneInfo(zone), fold=0)
            want[row["Message"]] = local.astimezone(timezone.utc)  # compared in UTC (PEP 495)
    return want


def test_import_tz(d):
    path = write(os.path.join(d, "local.csv"), CSV_TZ)
    n_rows = len(list(csv.DictReader(io.StringIO(CSV_TZ))))
    # Without --tz a local time is an error: nothing imported, no store kept.
    db0 = os.path.join(d, "notz.pmdb")
    r = pmdb("import", db0, path)
    check(r.returncode == 1, f"CSV with local times, no --tz: exit {r.returncode}")
    check(f"{path}: nothing imported" in r.stderr, f"no --tz: {r.stderr!r}")
    local_rows = [i + 2 for i, row in enumerate(csv.DictReader(io.StringIO(CSV_TZ)))
                  if not re.search(r"[+-]\d\d:\d\d$", row["Time"])]  # lines (the header is line 1)
    named = [int(n) for n in re.findall(rf"^{re.escape(path)}:(\d+): row \d+, column \"Time\": no time zone: add --tz ZONE",
                                        r.stderr, re.M)]
    check(named == local_rows, f"no --tz: the rows named {named}, local times on lines {local_rows}")
    check(not os.path.exists(db0), "no --tz: the failed import left a store")
    for zone in ("America/Los_Angeles", "Asia/Kathmandu", "Australia/Lord_Howe"):
        db = os.path.join(d, f"tz-{zone.replace('/', '-')}.pmdb")
        out = ok(pmdb("import", db, path, "--tz", zone), f"import --tz {zone}")
        check(out == f"{path} (csv): {n_rows} events appended, 0 already there\n", f"--tz {zone}: {out!r}")
        want = expected_tz(zone)
        got = {e["data"]["text"]: utc(e["at"]) for e in jsonl_events(export(db), True)}
        check(set(got) == set(want), f"--tz {zone}: rows {sorted(got)}")
        for text, t in want.items():
            check(got.get(text) == t, f"--tz {zone}: {text!r} stored at {got.get(text)}, expected {t.astimezone(timezone.utc)}")
    # '-' with --format csv and --tz.
    db = os.path.join(d, "tz-stdin.pmdb")
    out = ok(pmdb("import", "--format", "csv", "--tz", "Asia/Kathmandu", db, "-", stdin=CSV_TZ), "import - --tz")
    check(out == f"<stdin> (csv): {n_rows} events appended, 0 already there\n", f"import - --tz: {out!r}")
    want = expected_tz("Asia/Kathmandu")
    got = {e["data"]["text"]: utc(e["at"]) for e in jsonl_events(export(db), True)}
    check(got == want, "import - --tz Asia/Kathmandu: times")


CSV_MAP = (
    "Incident,Happened,Kind,Source,Words,Internal\n"
    "maps,2024-12-11T10:00:00Z,note,ops,first words,secret-1\n"
    "maps,2024-12-11T11:30:00+01:00,note,ops,second words,secret-2\n"
)


def test_import_map(d):
    path = write(os.path.join(d, "map.csv"), CSV_MAP)
    rows = list(csv.DictReader(io.StringIO(CSV_MAP)))
    db = os.path.join(d, "map.pmdb")
    for args in ([], ["--map", "Happened=at", "--map", "Words=text"]):
        r = pmdb("import", db, path, *args)
        check(r.returncode == 1, f"--map {args}: unmapped columns accepted (exit {r.returncode})")
        check(not os.path.exists(db), f"--map {args}: a failed import left a store")
    r = pmdb("import", db, path, "--map", "Happened")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: import: --map needs COLUMN=FIELD"), f"--map without '=': {r.stderr!r}")
    out = ok(pmdb("import", db, path, "--map", "Happened=at", "--map", "words=text", "--map", "Internal="), "import --map")
    check(out == f"{path} (csv): {len(rows)} events appended, 0 already there\n", f"--map: {out!r}")
    text = export(db)
    events = jsonl_events(text, True)
    check([e["data"].get("text") for e in events] == [r["Words"] for r in rows], "--map Words=text: texts")
    check([utc(e["at"]) for e in events] == [utc(r["Happened"]) for r in rows], "--map Happened=at: times")
    check("secret" not in text, "--map Internal= did not ignore the column")
    # --map wins over a header that is itself a field: two columns named after fields, swapped.
    swapped = write(os.path.join(d, "swapped.csv"),
                    "incident,at,type,text,source\nswap,2024-12-11T10:00:00Z,note,ops-team,what happened\n")
    db = os.path.join(d, "swapped.pmdb")
    ok(pmdb("import", db, swapped, "--map", "text=source", "--map", "source=text"), "import --map over field names")
    events = jsonl_events(export(db), True)
    check([(e["source"], e["data"].get("text")) for e in events] == [("ops-team", "what happened")],
          f"--map text=source --map source=text: {[(e['source'], e['data']) for e in events]}")


def test_bad_file(d):
    db = os.path.join(d, "bad.pmdb")
    ok(pmdb("import", db, META), "import meta")
    before = export(db)
    good = lambda i: json.dumps({"incident": "badcase", "type": "note", "at": f"2024-12-11T10:0{i}:00Z",
                                 "source": "ops", "data": {"text": f"good {i}"}})
    lines = [good(1), "{oops",
             good(3),
             json.dumps({"incident": "badcase", "type": "note", "at": "2024-12-11T10:04:00Z", "data": {"text": "no source"}}),
             json.dumps({"incident": "badcase", "type": "note", "at": "yesterday", "source": "ops", "data": {"text": "x"}}),
             good(6)]
    bad_lines = {2, 4, 5}
    path = write(os.path.join(d, "bad.jsonl"), "\n".join(lines) + "\n")
    r = pmdb("import", db, path)
    check(r.returncode == 1, f"bad file: exit {r.returncode}")
    check("appended" not in r.stdout, f"bad file: {r.stdout!r}")
    named = {int(m) for m in re.findall(rf"^{re.escape(path)}:(\d+):", r.stderr, re.M)}
    check(named == bad_lines, f"bad file: lines named {sorted(named)}, bad {sorted(bad_lines)}: {r.stderr!r}")
    check(r.stderr.endswith(f"{path}: nothing imported\n"), f"bad file: {r.stderr!r}")
    check(export(db) == before, "a bad file changed the store")
    # Beside a good file: the good one is imported, the bad one not, exit 1.
    fx = write(os.path.join(d, "fx.jsonl"), FIXTURE_TEXT)
    r = pmdb("import", db, path, fx)
    check(r.returncode == 1, f"bad + good file: exit {r.returncode}")
    check(r.stdout == f"{fx} (jsonl): {len(FIXTURE)} events appended, 0 already there\n", f"bad + good: {r.stdout!r}")
    check(export(db).startswith(before), "bad + good: the events before changed")
    check(len(export(db).splitlines()) == len(before.splitlines()) + len(FIXTURE), "bad + good: the good file's events")
    r = pmdb("import", db, os.path.join(d, "missing.jsonl"))
    check(r.returncode == 1 and r.stderr.startswith("pmdb: ") and "missing.jsonl" in r.stderr,
          f"a missing file: {r.returncode} {r.stderr!r}")


QUESTIONS = ("show incidents;\n"
             "time from first alert to status identified in openai-2024-12-11;\n"
             "incidents | select id, started, ended, events;\n"
             "events | summarize n = count() by incident;\n")


def answers(db):
    r = shell(db, "--csv", "--no-bail", "-c", QUESTIONS)
    return r.returncode, r.stdout


def test_rebuild(d):
    fresh = os.path.join(d, "fresh.pmdb")
    ok(pmdb("import", fresh, META, OPENAI), "fresh store")
    want = answers(fresh)
    check(want[0] == 0, "answers of the fresh store")
    # One answer computed from the file: first alert to first status identified, in seconds.
    ev = jsonl_events(OPENAI)
    first = lambda pred: min(utc(e["at"]) for e in ev if pred(e))
    secs = (first(lambda e: e["type"] == "status" and e["data"]["status"] == "identified")
            - first(lambda e: e["type"] == "alert")).total_seconds()
    check(f"duration\n{secs:g}\n" in want[1], f"fresh store: alert to identified is {secs:g}s: {want[1]!r}")
    incidents = {e["incident"] for e in jsonl_events(META) + ev}
    damages = {
        "incidents": "DELETE FROM incidents WHERE id = 'meta-2024-12-11'",
        "milestones": "DELETE FROM milestones",
        "event_versions": "DELETE FROM event_versions WHERE incident = 'openai-2024-12-11' AND type = 'status'",
    }
    for table, sql in damages.items():
        db = os.path.join(d, f"damaged-{table}.pmdb")
        ok(pmdb("import", db, META, OPENAI), f"store for {table}")
        con = sqlite3.connect(db)
        con.execute(sql)
        con.commit()
        con.close()
        check(answers(db) != want, f"damaged {table}: the answers did not change (the damage is not seen)")
        v = pmdb("verify", db)
        check(v.returncode == 1 and v.stdout == "", f"damaged {table}: verify exit {v.returncode} {v.stdout!r}")
        check(v.stderr.startswith(f"pmdb: verify: {db}: ") and table in v.stderr, f"damaged {table}: verify says {v.stderr!r}")
        out = ok(pmdb("rebuild", db), f"rebuild after damaged {table}")
        check(out == f"rebuilt the read models of {len(incidents)} incidents\n", f"rebuild: {out!r}")
        check(answers(db) == want, f"rebuild after damaged {table}: answers differ from a fresh store's")
        v = ok(pmdb("verify", db), f"verify after rebuild of {table}")
        check(v.startswith(f"ok: {len(ev) + line_count(META)} events, head "), f"verify after rebuild: {v!r}")
    for args in ([], [fresh, fresh]):
        r = pmdb("rebuild", *args)
        check(r.returncode == 2 and r.stderr.startswith("pmdb: rebuild: needs exactly one store"), f"rebuild {args}: {r.stderr!r}")


def test_report(d):
    db = os.path.join(d, "report.pmdb")
    ok(pmdb("import", db, "-", stdin=FIXTURE_TEXT), "report store")
    now_local = "2025-01-02T04:04:05+01:00"
    now_utc = datetime.fromisoformat(now_local).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    md = os.path.join(d, "alpha.md")
    r = pmdb("report", db, ALPHA, "-o", md, "--now", now_local)
    check(r.returncode == 0 and r.stdout == "" and r.stderr == "", f"report -o: {r.returncode} {r.stdout!r} {r.stderr!r}")
    text = open(md, encoding="utf-8").read() if os.path.exists(md) else ""
    check(text.startswith("# Alpha API errors"), f"report -o: the file {text[:60]!r}")
    check(f" at {now_utc} from the store at position {len(FIXTURE)}." in text, f"report --now: footer without {now_utc}")
    stdout = ok(pmdb("report", db, ALPHA, "--now", now_local), "report to stdout")
    check(stdout == text, "report to stdout differs from report -o")
    check(ok(pmdb("report", db, ALPHA, "--now", "2030-06-07T08:09:10Z"), "report --now 2030")
          .count(" at 2030-06-07T08:09:10Z from the store") == 1, "report --now: another time not in the footer")

    # --tz: the first event's time also in the zone, as the zone's clock and abbreviation say.
    first = ats(ALPHA)[0]
    for zone in ("America/Los_Angeles", "Asia/Tokyo"):
        local = first.astimezone(ZoneInfo(zone))
        shown = f"{first:%Y-%m-%d %H:%M} UTC ({local:%Y-%m-%d %H:%M} {local.tzname()})"
        with_tz = ok(pmdb("report", db, ALPHA, "--now", now_local, "--tz", zone), f"report --tz {zone}")
        check(shown in with_tz, f"report --tz {zone}: {shown!r} not in the report")
        check(f"({local:%Y-%m-%d %H:%M} {local.tzname()})" not in stdout, f"report without --tz shows {zone}")

    # --as-of: what was recorded later is left out.
    as_of = "2024-12-12T00:00:00Z"
    late = [e for e in FIXTURE if e["incident"] == ALPHA and utc(e.get("recorded_at", "2999-01-01T00:00Z")) > utc(as_of)]
    check(len(late) == 1, "fixture: one alpha event recorded after the as-of time")
    late_text = late[0]["data"]["text"]
    then = ok(pmdb("report", db, ALPHA, "--now", now_local, "--as-of", as_of), "report --as-of")
    check(late_text in stdout, f"report: {late_text!r} missing")
    check(late_text not in then, f"report --as-of {as_of}: {late_text!r} recorded later is shown")
    check("| As of | 2024-12-12 00:00 UTC" in then, "report --as-of: the As of row")
    r = pmdb("report", db, ALPHA, "--as-of", "yesterday")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: report: --as-of yesterday: "), f"report --as-of yesterday: {r.stderr!r}")

    # --format html, and -o FILE.html choosing html itself.
    html = ok(pmdb("report", db, ALPHA, "--format", "html", "--now", now_local), "report --format html")
    check(html.lower().startswith("<!doctype html>") and "</html>" in html and "Alpha API errors" in html,
          f"report --format html: {html[:80]!r}")
    check(ok(pmdb("report", db, ALPHA, "--format", "markdown", "--now", now_local), "--format markdown") == stdout,
          "report --format markdown differs from the default")
    page = os.path.join(d, "alpha.html")
    ok(pmdb("report", db, ALPHA, "-o", page, "--now", now_local), "report -o FILE.html")
    check(open(page, encoding="utf-8").read() == html if os.path.exists(page) else False, "report -o FILE.html is not the HTML page")
    r = pmdb("report", db, ALPHA, "--format", "pdf")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: report: --format pdf: expected markdown or html"),
          f"report --format pdf: {r.stderr!r}")

    # Errors: an unknown incident (exit 1, nothing written), a bad option, a missing store.
    nope = os.path.join(d, "nope.md")
    for args in (["nope"], ["nope", "-o", nope]):
        r = pmdb("report", db, *args)
        check(r.returncode == 1 and r.stdout == "" and r.stderr == "pmdb: unknown incident 'nope'\n",
              f"report {args}: {r.returncode} {r.stdout!r} {r.stderr!r}")
    check(not os.path.exists(nope), "report of an unknown incident wrote its file")
    r = pmdb("report", db, ALPHA, "--bogus")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: report: bad option --bogus"), f"report --bogus: {r.stderr!r}")
    r = pmdb("report", db)
    check(r.returncode == 2 and r.stderr.startswith("pmdb: report: needs a store and an incident"), f"report DB: {r.stderr!r}")


def test_verify(d):
    db = os.path.join(d, "verify.pmdb")
    n_meta, n_openai = line_count(META), line_count(OPENAI)
    ok(pmdb("import", db, META), "import meta")
    first = ok(pmdb("verify", db), "verify")
    m = re.fullmatch(rf"ok: {n_meta} events, head ([0-9a-f]{{64}})\n", first)
    check(m is not None, f"verify after {n_meta} events: {first!r}")
    head1 = m.group(1) if m else "0" * 64
    ok(pmdb("import", db, OPENAI), "import openai")
    second = ok(pmdb("verify", db), "verify 2")
    m2 = re.fullmatch(rf"ok: {n_meta + n_openai} events, head ([0-9a-f]{{64}})\n", second)
    check(m2 is not None and m2.group(1) != head1, f"verify after more events: {second!r}")
    for args in (["--from", head1], [f"--from={head1}"], ["--from", head1[:16]]):
        out = ok(pmdb("verify", db, *args), f"verify {args}")
        check(out.startswith("ok: ") and
              f"{args[-1].removeprefix('--from=')} is the chain's hash at position {n_meta}: the {n_meta} events it pinned are unchanged\n" in out,
              f"verify {args}: {out!r}")
    bad = head1[:-1] + ("0" if head1[-1] != "0" else "1")
    r = pmdb("verify", db, "--from", bad)
    check(r.returncode == 1 and r.stdout == "", f"verify --from a bad head: exit {r.returncode} {r.stdout!r}")
    check(r.stderr == f"pmdb: verify: {db}: the head {bad} is not in this store's chain: the timeline it pinned "
                      f"was rewritten, or it belongs to another store\n", f"verify --from bad: {r.stderr!r}")
    r = pmdb("verify", db, "--from")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: verify: --from needs a hash"), f"verify --from: {r.stderr!r}")
    r = pmdb("verify", db, "--bogus")
    check(r.returncode == 2 and r.stderr.startswith("pmdb: verify: unknown option --bogus"), f"verify --bogus: {r.stderr!r}")


# ---------------------------------------------------------------------------------------------
def test_shell_options(d):
    db = os.path.join(d, "shell.pmdb")
    ok(pmdb("import", db, "-", stdin=FIXTURE_TEXT), "shell store")
    q = at_query(BETA)
    want = ats(BETA)
    # -c, --csv, --headers on (default) and off.
    out = ok(shell(db, "--csv", "-c", q), "-c --csv")
    check(csv_instants(out, header=True) == want, f"-c --csv: {out!r}")
    out_off = ok(shell(db, "--csv", "--headers", "off", "-c", q), "--headers off")
    check(csv_instants(out_off) == want and not out_off.startswith("at"), f"--headers off: {out_off!r}")
    check(ok(shell(db, "--csv", "--headers=off", "-c", q), "--headers=off") == out_off, "--headers=off")
    check(ok(shell(db, "--mode", "csv", "--headers", "on", "-c", q), "--mode csv") == out, "--mode csv --headers on")
    # --json, --mode json, --mode=json.
    js = ok(shell(db, "--json", "-c", q), "--json")
    rows = json.loads(js)
    check([utc(r["at"]) for r in rows] == want, f"--json: {js!r}")
    check(ok(shell(db, "--mode", "json", "-c", q), "--mode json") == js, "--mode json differs from --json")
    check(ok(shell(db, "--mode=json", "-c", q), "--mode=json") == js, "--mode=json differs from --json")
    check(ok(shell(db, "-c", q), "table") not in (js, out), "the default mode is csv or json")
    # The table modes by their own flags: each as --mode MODE, and each its own.
    by_flag = {}
    for m in ("table", "box", "markdown", "line"):
        by_flag[m] = ok(shell(db, f"--{m}", "-c", q), f"--{m}")
        check(by_flag[m] == ok(shell(db, "--mode", m, "-c", q), f"--mode {m}"), f"--{m} differs from --mode {m}")
    check(len(set(by_flag.values())) == len(by_flag), "two of --table, --box, --markdown, --line print the same")
    # Without DB: the demo store, every event of examples/*.jsonl (counted per incident).
    out_demo = ok(shell("--csv", "--headers", "off", "-c", "incidents | select id, events;"), "the demo store")
    counts = {}
    for n in sorted(os.listdir(EXAMPLES)):
        if n.endswith(".jsonl"):
            for e in jsonl_events(os.path.join(EXAMPLES, n)):
                counts[e["incident"]] = counts.get(e["incident"], 0) + 1
    check({r[0]: int(r[1]) for r in csv.reader(io.StringIO(out_demo))} == counts,
          f"the demo store: {out_demo!r}, the example files hold {counts}")
    # -f FILE, -f -, piped stdin, several -c in order.
    script = write(os.path.join(d, "q.pmq"), f".mode csv\n{q}\n")
    check(ok(shell(db, "-f", script), "-f") == out, "-f FILE")
    check(ok(shell(db, "-f", "-", stdin=f".mode csv\n{q}\n"), "-f -") == out, "-f -")
    check(ok(shell(db, stdin=f".mode csv\n{q}\n"), "stdin") == out, "piped script")
    two = ok(shell(db, "--csv", "--headers", "off", "-c", q, "-c", at_query(ALPHA)), "two -c")
    check(csv_instants(two) == want + ats(ALPHA), f"two -c in order: {two!r}")

    # Errors: FILE:LINE:COLUMN: error: ..., exit 1; bail by default, --no-bail runs on.
    lines = [at_query(ALPHA), "-- a comment", "   events where nosuchfield = 1;", q]
    text = "\n".join(lines) + "\n"
    line_no = 3
    col = lines[2].index("nosuchfield") + 1
    path = write(os.path.join(d, "err.pmq"), text)
    for name, args, stdin in ((path, ["-f", path], None), ("<command line>", ["-c", text], None),
                              ("<stdin>", [], text), ("<stdin>", ["-f", "-"], text)):
        r = shell(db, "--csv", "--headers", "off", *args, stdin=stdin)
        check(r.returncode == 1, f"error in {name}: exit {r.returncode}")
        check(r.stderr.startswith(f"{name}:{line_no}:{col}: error: unknown field 'nosuchfield'"), f"error in {name}: {r.stderr!r}")
        check(re.match(r"^[^\n]+:\d+:\d+: error: [^\n]+\n", r.stderr) is not None, f"error format: {r.stderr!r}")
        check(csv_instants(r.stdout) == ats(ALPHA), f"bail in {name}: ran on after the error: {r.stdout!r}")
        r = shell(db, "--csv", "--headers", "off", "--no-bail", *args, stdin=stdin)
        check(r.returncode == 1, f"--no-bail in {name}: exit {r.returncode}")
        check(csv_instants(r.stdout) == ats(ALPHA) + want, f"--no-bail in {name}: {r.stdout!r}")
    r = shell(db, "--no-bail", "--bail", "--csv", "-f", path)
    check(csv_instants(r.stdout, header=True) == ats(ALPHA), "--bail after --no-bail")

    # --readonly: reads work, a write is refused and the store is unchanged.
    before = export(db)
    check(ok(shell(db, "--readonly", "--csv", "-c", q), "--readonly read") == out, "--readonly read")
    for stmt, what in ((f'use {ALPHA}; record note "ro";', "record"), (f".import {script}", ".import")):
        r = shell(db, "--readonly", "-c", stmt)
        check(r.returncode == 1 and "not allowed in safe mode (--safe/--readonly)" in r.stderr,
              f"--readonly {what}: {r.returncode} {r.stderr!r}")
    check(export(db) == before, "--readonly: the store changed")
    # --safe: writing a file is refused.
    target = os.path.join(d, "safe.txt")
    r = shell(db, "--safe", "-c", f".output {target}\n{q}")
    check(r.returncode == 1 and ".output FILE is not allowed in safe mode" in r.stderr and not os.path.exists(target),
          f"--safe .output: {r.stderr!r}")

    # --tz ZONE: the same instants at the zone's offset.
    for zone in ("Asia/Kolkata", "America/St_Johns"):
        out_tz = ok(shell(db, "--tz", zone, "--csv", "--headers", "off", "-c", q), f"--tz {zone}")
        got = csv_instants(out_tz)
        check(got == want, f"--tz {zone}: other instants {out_tz!r}")
        check([t.utcoffset() for t in got] == [w.astimezone(ZoneInfo(zone)).utcoffset() for w in want],
              f"--tz {zone}: offsets {out_tz!r}")
    r = shell(db, "--tz", "Mars/Olympus", "--csv", "--headers", "off", "-c", q)
    check("unknown time zone 'Mars/Olympus'" in r.stderr, f"--tz unknown: {r.stderr!r}")

    # --as-of: what had been recorded by then.
    as_of = "2024-12-12T00:00:00Z"
    known = [utc(e["at"]) for e in FIXTURE if e["incident"] == ALPHA and "recorded_at" in e and utc(e["recorded_at"]) <= utc(as_of)]
    got = csv_instants(ok(shell(db, "--as-of", as_of, "--csv", "--headers", "off", "-c", at_query(ALPHA)), "--as-of"))
    check(got == known and len(known) < len(ats(ALPHA)), f"--as-of {as_of}: {got}")

    # --now and --source: what `record` appends; --now in a report's footer.
    db2 = os.path.join(d, "record.pmdb")
    ok(pmdb("import", db2, "-", stdin=FIXTURE_TEXT), "record store")
    now = "2024-12-11T23:50:00+01:00"
    out_rec = shell(db2, "--now", now, "--source", "cli tester", "-c", f'use {ALPHA}; record note "from the cli";')
    check(out_rec.returncode == 0, f"record: {out_rec.stderr!r}")
    new = jsonl_events(export(db2), True)[-1]
    check(new["data"].get("text") == "from the cli" and new["source"] == "cli tester" and utc(new["at"]) == utc(now),
          f"--now/--source: recorded {new}")
    foot = ok(shell(db, "--now", now, "-c", f"report {ALPHA};"), "report statement --now")
    check(f" at {utc(now).astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ} from the store" in foot, "--now in the report statement")

    # --nullvalue: the metric has no text.
    nulls = [e for e in FIXTURE if "text" not in e["data"] and e["type"] != "incident"]
    out_null = ok(shell(db, "--nullvalue", "NULL", "-c", "events | select text;"), "--nullvalue")
    check(out_null.count("| NULL ") == len(nulls), f"--nullvalue: {out_null!r}")
    check("NULL" not in ok(shell(db, "-c", "events | select text;"), "no --nullvalue"), "NULL without --nullvalue")

    # --init FILE: its dot-commands apply to the script.
    init = write(os.path.join(d, "init.pmq"), ".mode csv\n.headers off\n")
    check(ok(pmdb(db, "--init", init, "-c", q), "--init") == out_off, "--init FILE not run")
    check(ok(pmdb(db, "--init", init, "--no-init", "-c", q), "--no-init") not in (out_off, out), "--no-init after --init")
    check(ok(pmdb(db, "--init", init, "-X", "-c", q), "-X") not in (out_off, out), "-X after --init")

    # --version, --help, COMMAND --help.
    version = re.search(r"project\(pmdb VERSION (\S+)", open(os.path.join(SOURCE, "CMakeLists.txt")).read()).group(1)
    out_v = ok(pmdb("--version"), "--version")
    check(re.fullmatch(rf"pmdb {re.escape(version)} \(SQLite \d+\.\d+\.\d+[^,]*, libpq \d+\.\d+, Boost \d+\.\d+, fmt \d+\.\d+\.\d+, "
                       r"RapidJSON \d+\.\d+\.\d+\)\n", out_v) is not None, f"--version: {out_v!r}")
    for flag in ("--help", "-h", "help"):
        h = ok(pmdb(flag), flag)
        for cmd in ("import DB FILE", "export DB", "rebuild DB", "verify DB", "report DB INCIDENT", "-c 'STATEMENTS'", "-f FILE"):
            check(f"pmdb {cmd}" in h or f"pmdb [DB] {cmd}" in h, f"{flag}: {cmd!r} not described")
    for cmd, opts in (("import", ["--format", "--prefix", "--tz", "--map", "--fast"]), ("export", []),
                      ("rebuild", []), ("verify", ["--from"]),
                      ("report", ["--format", "-o", "--as-of", "--now", "--tz"])):
        h = ok(pmdb(cmd, "--help"), f"{cmd} --help")
        check(h.startswith(f"Usage: pmdb {cmd} DB"), f"{cmd} --help: {h[:60]!r}")
        for o in opts:
            check(re.search(rf"^\s+{re.escape(o)}\b", h, re.M) is not None, f"{cmd} --help: {o} not described")
    h = ok(shell(db, "--help"), "DB --help")
    check(h.startswith("Usage: pmdb [DB] [OPTIONS]"), f"DB --help: {h[:40]!r}")
    for o in ("-c", "-f", "--mode", "--headers", "--nullvalue", "--init", "--no-init", "--bail", "--readonly", "--safe",
              "--tz", "--as-of", "--now", "--source"):
        check(re.search(rf"^\s+{re.escape(o)}\b", h, re.M) is not None, f"DB --help: {o} not described")

    # Usage errors: one line, exit 2; a store that does not exist: exit 1.
    for args, msg in ((["--frobnicate"], "unknown option --frobnicate"), (["--mode", "xml"], "--mode needs one of"),
                      (["-c"], "-c needs statements"), ([db, "extra.pmdb"], "unexpected argument extra.pmdb"),
                      (["--csv=yes"], "--csv takes no value")):
        r = shell(*args)
        check(r.returncode == 2 and r.stdout == "" and r.stderr.startswith(f"pmdb: {msg}")
              and r.stderr.endswith(" (see pmdb --help)\n") and r.stderr.count("\n") == 1, f"{args}: {r.returncode} {r.stderr!r}")
    missing = os.path.join(d, "missing.pmdb")
    r = shell(missing, "-c", "show incidents;")
    check(r.returncode == 1 and r.stdout == "" and r.stderr.startswith(f"pmdb: {missing}: no such store"), f"missing: {r.stderr!r}")
    check(not os.path.exists(missing), "a read of a missing store created it")
    for args in (["export", missing], ["verify", missing], ["rebuild", missing], ["report", missing, ALPHA]):
        r = pmdb(*args)
        check(r.returncode == 1 and r.stderr == f"pmdb: {missing}: no such store\n", f"{args}: {r.returncode} {r.stderr!r}")
    r = shell(db, "-f", os.path.join(d, "nofile.pmq"))
    check(r.returncode == 1 and r.stderr.startswith("pmdb: ") and "nofile.pmq" in r.stderr, f"-f missing: {r.stderr!r}")


# ---------------------------------------------------------------------------------------------
def run_script(db, text, *args, d=None):
    """Runs a script through -f FILE (when d) or piped stdin."""
    if d:
        return shell(db, *args, "-f", write(os.path.join(d, "script.pmq"), text))
    return shell(db, *args, stdin=text)


def test_dot_commands(d):
    db = os.path.join(d, "dot.pmdb")
    ok(pmdb("import", db, "-", stdin=FIXTURE_TEXT), "dot store")
    qa, qb = at_query(ALPHA), at_query(BETA)
    A, B = ats(ALPHA), ats(BETA)
    csv_off = ".mode csv\n.headers off\n"

    # .output FILE, then back to stdout.
    f1 = os.path.join(d, "out1.csv")
    out = ok(run_script(db, f"{csv_off}.output {f1}\n{qb}\n{qb}\n.output\n{qa}\n", d=d), ".output")
    check(csv_instants(open(f1).read()) == B + B if os.path.exists(f1) else False, ".output FILE: not both results in it")
    check(csv_instants(out) == A, f".output: stdout {out!r}")
    # .once FILE: only the next result.
    f2 = os.path.join(d, "once.csv")
    out = ok(run_script(db, f"{csv_off}.once {f2}\n{qb}\n{qa}\n"), ".once")
    check(csv_instants(open(f2).read()) == B if os.path.exists(f2) else False, ".once FILE: not the next result")
    check(csv_instants(out) == A, f".once: stdout {out!r}")
    # .read FILE.
    inner = write(os.path.join(d, "inner.pmq"), f"{qa}\n")
    out = ok(run_script(db, f"{csv_off}.read {inner}\n{qb}\n", d=d), ".read")
    check(csv_instants(out) == A + B, f".read: {out!r}")
    # A statement failing in a .read script fails the script that read it: named at its own
    # line, exit 1, and (bail) nothing after the .read runs; with --no-bail the rest runs.
    bad = write(os.path.join(d, "inner-bad.pmq"), f"{qa}\nevents | select nosuchfield;\n")
    r = run_script(db, f"{csv_off}.read {bad}\n{qb}\n", d=d)
    check(r.returncode == 1, f".read of a failing script: exit {r.returncode}")
    check(re.search(rf"^{re.escape(bad)}:2:\d+: error: unknown field 'nosuchfield'", r.stderr, re.M) is not None,
          f".read of a failing script: stderr {r.stderr!r}")
    check(csv_instants(r.stdout) == A, f".read of a failing script: the script went on: {r.stdout!r}")
    r = run_script(db, f"{csv_off}.read {bad}\n{qb}\n", "--no-bail", d=d)
    check(r.returncode == 1 and csv_instants(r.stdout) == A + B, f".read with --no-bail: exit {r.returncode}, {r.stdout!r}")
    # .open DB: the other store's answers.
    other = os.path.join(d, "other.pmdb")
    ok(pmdb("import", other, META), "other store")
    out = ok(run_script(db, f"{csv_off}{qb}\n.open {other}\nincidents | select id;\n"), ".open")
    check(out.splitlines()[len(B):] == sorted({e["incident"] for e in jsonl_events(META)}), f".open: {out!r}")
    # .import FILE (twice: the second appends nothing), into a store the script creates.
    fx = write(os.path.join(d, "fx.jsonl"), FIXTURE_TEXT)
    new_db = os.path.join(d, "new.pmdb")
    out = ok(run_script(new_db, f".import {fx}\n.import {fx}\n"), ".import")
    check(out == f"{fx} (jsonl): {len(FIXTURE)} events appended, 0 already there\n"
                 f"{fx} (jsonl): 0 events appended, {len(FIXTURE)} already there\n", f".import: {out!r}")
    check([e["id"] for e in jsonl_events(export(new_db), True)] == [e["id"] for e in FIXTURE], ".import: the store's events")
    # .export FILE [INCIDENT...].
    fa, fal, fab = (os.path.join(d, n) for n in ("all.jsonl", "alpha.jsonl", "ab.jsonl"))
    ok(run_script(db, f".export {fa}\n.export {fal} {ALPHA}\n.export {fab} {BETA} {ALPHA}\n", d=d), ".export")
    read = lambda p: open(p, encoding="utf-8").read() if os.path.exists(p) else ""
    check(read(fa) == export(db) and len(read(fa).splitlines()) == len(FIXTURE), ".export FILE: not every event")
    got = jsonl_events(read(fal), True)
    check([e["id"] for e in got] == [e["id"] for e in FIXTURE if e["incident"] == ALPHA],
          f".export FILE {ALPHA}: ids {[e['id'] for e in got]}")
    check({e["incident"] for e in got} == {ALPHA}, f".export FILE {ALPHA}: another incident in it")
    check(read(fal) == export(db, ALPHA), f".export FILE {ALPHA} differs from pmdb export")
    check(sorted(read(fab).splitlines()) == sorted(read(fa).splitlines()), ".export FILE of both incidents")
    fn = os.path.join(d, "nope.jsonl")
    r = run_script(db, f".export {fn} nope\n", d=d)
    check(r.returncode == 1 and "script.pmq:1: error: unknown incident 'nope'" in r.stderr and not os.path.exists(fn),
          f".export unknown incident: {r.stderr!r}")

    # .timer on / off / once: a timing line per statement on stderr.
    timing = re.compile(r"^Run Time: \d+\.\d{3} ms$", re.M)
    r = run_script(db, f"{csv_off}.timer on\n{qa}\n{qb}\n.timer off\n{qa}\n")
    check(r.returncode == 0 and len(timing.findall(r.stderr)) == 2 and csv_instants(r.stdout) == A + B + A,
          f".timer on/off: {r.stderr!r}")
    r = run_script(db, f"{csv_off}.timer once\n{qa}\n{qb}\n")
    check(len(timing.findall(r.stderr)) == 1, f".timer once: {r.stderr!r}")
    check(timing.search(run_script(db, f"{csv_off}{qa}\n").stderr) is None, "timing without .timer")
    # .echo on: each statement before its result; off: none.
    out = ok(run_script(db, f"{csv_off}.echo on\n{qa}\n.echo off\n{qb}\n"), ".echo")
    check(out.startswith(qa + "\n") and out.count(qa) == 1 and qb not in out, f".echo on: {out!r}")
    check(csv_instants(out.replace(qa + "\n", "").replace(".echo off\n", "")) == A + B, f".echo: results {out!r}")
    # .bail on / off.
    bad = "events where nosuchfield = 1;"
    r = run_script(db, f"{csv_off}.bail off\n{bad}\n{qa}\n")
    check(r.returncode == 1 and csv_instants(r.stdout) == A, f".bail off: {r.stdout!r}")
    r = run_script(db, f"{csv_off}.bail on\n{bad}\n{qa}\n", "--no-bail")
    check(r.returncode == 1 and r.stdout == "", f".bail on: {r.stdout!r}")
    # .mode: each mode its own output; .mode alone says the mode.
    modes = ["table", "box", "markdown", "csv", "tsv", "json", "jsonl", "line"]
    q2 = f'events where incident = "{ALPHA}" | select at, text;'
    outs = {m: ok(run_script(db, f".mode {m}\n{q2}\n.mode\n"), f".mode {m}") for m in modes}
    for m, o in outs.items():
        check(o.endswith(f"\n{m}\n"), f".mode alone after .mode {m}: {o[-20:]!r}")
    bodies = {m: o[: -len(m) - 1] for m, o in outs.items()}
    check(len(set(bodies.values())) == len(modes), ".mode: two modes print the same")
    texts = [e["data"].get("text", e["data"].get("title")) for e in FIXTURE if e["incident"] == ALPHA]
    rows = [[f"{a:%Y-%m-%dT%H:%M:%SZ}", t or ""] for a, t in zip(A, texts)]
    check(list(csv.reader(io.StringIO(bodies["csv"]))) == [["at", "text"]] + rows, f".mode csv: {bodies['csv']!r}")
    check([[utc(r["at"]), r["text"]] for r in json.loads(bodies["json"])] == [[a, t] for a, t in zip(A, texts)], ".mode json")
    check([json.loads(x) for x in bodies["jsonl"].splitlines()] == json.loads(bodies["json"]), ".mode jsonl")
    check([x.split("\t") for x in bodies["tsv"].splitlines()] == [["at", "text"]] + rows, f".mode tsv: {bodies['tsv']!r}")
    check(len(re.findall(r"^ *at = ", bodies["line"], re.M)) == len(A)
          and len(re.findall(r"^ *text =", bodies["line"], re.M)) == len(A), f".mode line: {bodies['line']!r}")
    check(bodies["markdown"].startswith("| at"), ".mode markdown")
    check(bodies["box"].startswith("┌") and bodies["table"].startswith("+"), ".mode box/table")
    r = run_script(db, ".mode xml\n")
    check(r.returncode == 1 and "unknown mode 'xml'" in r.stderr, f".mode xml: {r.stderr!r}")
    # .headers on / off.
    out = ok(run_script(db, f".mode csv\n.headers off\n{qa}\n.headers on\n{qa}\n"), ".headers")
    check(out == "".join(f"{t:%Y-%m-%dT%H:%M:%SZ}\n" for t in A) + "at\n" + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ}\n" for t in A),
          f".headers off/on: {out!r}")
    # .width: the column widths of table output.
    qw = "events | select incident, source;"
    wide = ok(run_script(db, f"{qw}\n"), "no .width")
    narrow = ok(run_script(db, f".width 5 7\n{qw}\n"), ".width 5 7")
    back = ok(run_script(db, f".width 5 7\n.width\n{qw}\n"), ".width alone")
    cells = lambda t: [[c.strip() for c in line.strip("|").split("|")] for line in t.splitlines() if line.startswith("|")]
    check(cells(wide)[1:] == [[e["incident"], e["source"]] for e in FIXTURE], f"table without .width: {wide!r}")
    for row in cells(narrow):
        check(len(row[0]) <= 5 and len(row[1]) <= 7, f".width 5 7: a wider cell {row}")
    check(cells(narrow)[1][0] == ALPHA[:4] + "…", f".width 5: {cells(narrow)[1]}")
    check(back == wide, ".width alone does not reset the widths")
    # .tz ZONE: times shown at the zone's offset, in csv and in table output; .tz UTC back.
    zone = "Asia/Kathmandu"
    out = ok(run_script(db, f"{csv_off}.tz {zone}\n{qa}\n.tz UTC\n{qa}\n"), ".tz")
    got = csv_instants(out)
    check(got == A + A, f".tz: instants {out!r}")
    check([t.utcoffset() for t in got] == [a.astimezone(ZoneInfo(zone)).utcoffset() for a in A] + [a.utcoffset() for a in A],
          f".tz {zone} then UTC: offsets {out!r}")
    table = ok(run_script(db, f".tz {zone}\n{qa}\n"), ".tz table")
    for a in A:
        local = a.astimezone(ZoneInfo(zone))
        off = local.strftime("%z")
        shown = local.strftime("%Y-%m-%d %H:%M") + (f":{local:%S}" if local.second else "") + f"{off[:3]}:{off[3:]}"
        check(f"| {shown} " in table, f".tz {zone}: {shown!r} not in the table")
    r = run_script(db, ".tz Mars/Olympus\n")
    check(r.returncode == 1 and "unknown time zone 'Mars/Olympus'" in r.stderr, f".tz unknown: {r.stderr!r}")

    # .help: every dot-command of the manual page; .help PATTERN: those matching.
    man = open(os.path.join(SOURCE, "docs", "man", "pmdb.1"), encoding="utf-8").read()
    documented = sorted(set(re.findall(r"^\.It Ic (\.[a-z]+)", man, re.M)))
    check(len(documented) >= 20, f"dot-commands in the manual page: {documented}")
    h = ok(run_script(db, ".help\n"), ".help")
    listed = set(re.findall(r"^(\.[a-z]+)", h, re.M))
    check(set(documented) <= listed, f".help: missing {sorted(set(documented) - listed)}")
    hp = ok(run_script(db, ".help export\n"), ".help export")
    check(re.findall(r"^(\.[a-z]+)", hp, re.M) == [".export"], f".help export: {hp!r}")

    # The others: .use, .incidents, .info, .schema, .asof, .source, .nullvalue, .show, .pager, .quit.
    out = ok(run_script(db, f"{csv_off}.use {BETA}\ntimeline | select at;\n"), ".use")
    check(csv_instants(out) == B, f".use: {out!r}")
    out = ok(run_script(db, f"{csv_off}.incidents\n"), ".incidents")
    counts = {i: sum(e["incident"] == i for e in FIXTURE) for i in (ALPHA, BETA)}
    check({r[0]: r[-1] for r in csv.reader(io.StringIO(out))} == {i: str(n) for i, n in counts.items()}, f".incidents: {out!r}")
    out = ok(run_script(db, ".info\n"), ".info")
    check(f"events:      {len(FIXTURE)} in 2 incidents" in out and db in out, f".info: {out!r}")
    out = ok(run_script(db, ".schema note\n"), ".schema note")
    check(out.startswith("note: ") and "  text " in out and "status:" not in out, f".schema note: {out!r}")
    as_of = "2024-12-12T00:00:00Z"
    known = [utc(e["at"]) for e in FIXTURE if e["incident"] == ALPHA and "recorded_at" in e and utc(e["recorded_at"]) <= utc(as_of)]
    out = ok(run_script(db, f"{csv_off}.asof {as_of}\n{qa}\n.asof off\n{qa}\n"), ".asof")
    check(csv_instants(out) == known + A, f".asof: {out!r}")
    db2 = os.path.join(d, "dot-record.pmdb")
    ok(pmdb("import", db2, "-", stdin=FIXTURE_TEXT), "record store")
    ok(run_script(db2, f'.source dot tester\nuse {ALPHA};\nrecord note "sourced" at 2024-12-11T23:00Z;\n', "--now",
                  "2024-12-12T00:00Z"), ".source")
    new = jsonl_events(export(db2), True)[-1]
    check(new["source"] == "dot tester" and new["data"].get("text") == "sourced", f".source: recorded {new}")
    out = ok(run_script(db, ".nullvalue (none)\nevents where type = metric | select text;\n"), ".nullvalue")
    check("| (none) |" in out, f".nullvalue: {out!r}")
    out = ok(run_script(db, ".mode tsv\n.timer on\n.show\n"), ".show")
    check("      mode: tsv\n" in out and re.search(r"^ +timer: on", out, re.M) is not None, f".show: {out!r}")
    ok(run_script(db, ".pager off\n.pager on\n"), ".pager")
    out = ok(run_script(db, f"{csv_off}{qa}\n.quit\n{qb}\n"), ".quit")
    check(csv_instants(out) == A, f".quit: ran on {out!r}")
    r = run_script(db, ".frobnicate\n", d=d)
    check(r.returncode == 1 and r.stderr.startswith(os.path.join(d, "script.pmq") + ":1: error: unknown command .frobnicate"),
          f"unknown dot-command: {r.stderr!r}")


def main():
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pmdb-e2e-") as d:
        home = os.path.join(d, "home")
        os.mkdir(home)
        ENV.update({k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZDIR", "ASAN_OPTIONS",
                                                                  "UBSAN_OPTIONS", "LSAN_OPTIONS", "ASAN_SYMBOLIZER_PATH",
                                                                  "UBSAN_SYMBOLIZER_PATH")})
        ENV.update({"NO_COLOR": "1", "HOME": home, "TZ": "UTC"})
        # The parts are independent (each in its own directory): two at a time, the longest first.
        tests = (test_shell_options, test_dot_commands, test_rebuild, test_report, test_import_jsonl, test_import_tz,
                 test_import_format, test_verify, test_no_trailing_newline, test_import_prefix, test_import_map,
                 test_bad_file)

        def run(test):
            sub = os.path.join(d, test.__name__)
            os.mkdir(sub)
            t0 = time.monotonic()
            try:
                test(sub)
            except Exception:  # a crash of one part is a failure; the others still run
                with LOCK:
                    failures.append(f"{test.__name__} raised:\n{traceback.format_exc()}")
            if os.environ.get("PMDB_E2E_TIMES"):
                print(f"  {test.__name__}: {time.monotonic() - t0:.1f}s", flush=True)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(run, tests))
    took = time.monotonic() - start
    return TALLY.report("cli_e2e", f"{RUNS[0]} runs of pmdb, {took:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
