#!/usr/bin/env python3
"""Asks pmdb questions about the real GitHub status archive (tests/data/github-statuses) and
compares its answers with tests/tools/github_answers.py, which computes them from the archive
alone, without pmdb.

The store is built as tests/import_statuspage_test.cpp builds it: the archive converted with
tests/tools/github_to_statuspage.py, then `pmdb import`. Two parts:

  inputs     what the oracle assumes about the import (ids, started, ended, services, the
             status posts in (at, seq) order, no component events), and cross-checks of its
             definitions through constructs pmdb already had (`services ~`, `median`,
             `incidents overlapping X`, `time from … to …`, `day()`, `.tz`). A mismatch here
             means the oracle and pmdb disagree on the data, not on the new constructs.
  questions  the PMQL statements under test, each compared with the oracle's answer.

Every mismatch is printed, per question, as a readable diff; a statement pmdb rejects (a parse
error while the construct is not implemented) is a failure too, never a skip. Exit 0 only when
everything agrees.

Usage: github_questions_test.py PATH_TO_PMDB
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tools"))
import github_answers as oracle  # noqa: E402

ARCHIVE = os.path.join(HERE, "data", "github-statuses", "incidents.jsonl")
CONVERTER = os.path.join(HERE, "tools", "github_to_statuspage.py")
LA = oracle.LA
SHOWN = 12  # differing rows printed per question


class Failed(Exception):
    """pmdb could not answer: the lines say why."""

    def __init__(self, lines):
        super().__init__("\n".join(lines))
        self.lines = lines


class Pmdb:
    def __init__(self, exe, store):
        self.exe = exe
        self.store = store

    def run(self, statements, *options):
        r = subprocess.run([self.exe, self.store, *options, "-c", statements], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            lines = [f"pmdb exited with status {r.returncode}:"] + ["    " + l for l in r.stderr.rstrip().splitlines()]
            if ": error: " in r.stderr:
                lines.append("    (pmdb rejects the statement: until the new PMQL constructs land this is expected, "
                             "and still a failure)")
            raise Failed(lines)
        return r.stdout

    def json(self, statements):
        """The results of the statements, one list of row objects per statement."""
        out = self.run(statements, "--mode", "json")
        dec = json.JSONDecoder()
        results, pos = [], 0
        while True:
            while pos < len(out) and out[pos].isspace():
                pos += 1
            if pos == len(out):
                return results
            value, pos = dec.raw_decode(out, pos)
            results.append(value)

    def rows(self, statement):
        res = self.json(statement)
        if len(res) != 1:
            raise Failed([f"expected one result, got {len(res)}"])
        return res[0]


# --- values -----------------------------------------------------------------------------------

def ms_of_seconds(v):
    """A json-mode duration (seconds) as milliseconds; None stays None."""
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise TypeError(f"not a duration in seconds: {v!r}")
    return round(v * 1000)


def dur(ms):
    return "null" if ms is None else oracle.duration_text(ms)


def show(v):
    return "null" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def compare_maps(got, want, fmt=show, what="row"):
    """Diff lines between two {key: value} maps: missing, unexpected and differing keys."""
    out = []
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differ = [k for k in want if k in got and got[k] != want[k]]
    for label, keys, line in (
            ("missing from pmdb's answer", missing, lambda k: f"expected {fmt(want[k])}"),
            ("in pmdb's answer but not expected", extra, lambda k: f"pmdb {fmt(got[k])}"),
            ("different values", differ, lambda k: f"pmdb {fmt(got[k])}, expected {fmt(want[k])}")):
        if keys:
            out.append(f"{label}, {len(keys)} {what}(s):")
            for k in keys[:SHOWN]:
                out.append(f"    {show(k)}: {line(k)}")
            if len(keys) > SHOWN:
                out.append(f"    ... and {len(keys) - SHOWN} more")
    return out


def need_columns(rows, names):
    """Diff lines when a row lacks one of the columns (empty when all are there)."""
    for r in rows:
        lost = [n for n in names if n not in r]
        if lost:
            return [f"a row lacks the column(s) {', '.join(lost)}: {json.dumps(r, ensure_ascii=False)}"]
    return []


def keyed(rows, key, value, convert=lambda v: v):
    """{row[key]: convert(row[value])}, with a diff line for each key seen twice."""
    out, dup = {}, []
    for r in rows:
        k = r[key]
        if k in out:
            dup.append(f"the key {show(k)} appears in more than one row")
        out[k] = convert(r[value])
    return out, dup


def group_column(rows, value="n"):
    """The name of a summarize result's `by` column: the first one that is not `value`."""
    for r in rows:
        for k in r:
            if k != value:
                return k
    return None


# --- the checks -------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.failed = []

    def check(self, section, title, statement, fn):
        """Runs fn() -> diff lines; prints OK or the diff."""
        head = f"[{section}] {title}"
        try:
            diff = fn()
        except Failed as e:
            diff = e.lines
        except (KeyError, TypeError, ValueError) as e:
            diff = [f"pmdb's answer has an unexpected shape: {type(e).__name__}: {e}"]
        if not diff:
            print(f"ok    {head}")
            return
        self.failed.append(head)
        print(f"FAIL  {head}")
        if statement:
            for l in statement.strip().splitlines()[:3]:
                print(f"      pmql> {l}")
            if len(statement.strip().splitlines()) > 3:
                print("      pmql> ...")
        for l in diff:
            print(f"      {l}")


def input_checks(pm, report, incidents):
    q = "incidents | select id, started, ended, services"

    def incidents_rows():
        rows = pm.rows(q)
        got = {r["id"]: (r["started"], r["ended"], json.loads(r["services"])) for r in rows}
        want = {i.id: (oracle.iso(i.started), oracle.iso(i.ended), i.services) for i in incidents}
        return compare_maps(got, want, lambda v: f"started {v[0]}, ended {v[1]}, services {v[2]}", "incident")
    report.check("inputs", "incidents: ids, started, ended, services", q, incidents_rows)

    q = "events | summarize n = count() by type"

    def types():
        got, dup = keyed(pm.rows(q), "type", "n")
        want = {"incident": len(incidents), "status": sum(len(i.posts) for i in incidents)}
        return dup + compare_maps(got, want, what="event type")
    report.check("inputs", "event types: one incident event each and the status posts, no component events", q,
                 types)

    q = "events where type = status | select incident, at, status"

    def posts():
        got = {}
        for r in pm.rows(q):
            got.setdefault(r["incident"], []).append((r["at"], r["status"]))
        want = {i.id: [(oracle.iso(at), s) for at, s in i.posts] for i in incidents}
        return compare_maps(got, want, lambda v: " ".join(f"{a[11:16]}/{s}" for a, s in v), "incident's posts")
    report.check("inputs", "status posts of each incident in (at, seq) order, \"Update\" mapped", q, posts)

    # Per component, through `services ~ '"NAME"'` and the median pmdb already had.
    comps = oracle.per_component(incidents)
    names = sorted(c for c in comps if c is not None)
    stmts = [f"incidents where services ~ '\"{c}\"' | let ttr = ended - started "
             f"| summarize n = count(), median_ttr = median(ttr);" for c in names]
    stmts.append("incidents where services = '[]' | let ttr = ended - started "
                 "| summarize n = count(), median_ttr = median(ttr);")

    def component_baseline():
        res = pm.json("\n".join(stmts))
        got = {c: (r[0]["n"], ms_of_seconds(r[0]["median_ttr"])) for c, r in zip(names + [None], res)}
        want = {c: (comps[c]["n"], comps[c]["median_ttr"]) for c in names + [None]}
        return compare_maps(got, want, lambda v: f"n {v[0]}, median ttr {dur(v[1])}", "component")
    report.check("inputs", "per component n and median(ended - started) via services ~ '\"NAME\"' (13 statements)",
                 stmts[0], component_baseline)

    # Overlaps: each incident's partners per `incidents overlapping X` (closed spans).
    _, _, partners = oracle.overlapping(incidents)
    ids = [i.id for i in incidents]

    def overlap_baseline():
        res = pm.json("\n".join(f"incidents overlapping {x} | select id;" for x in ids))
        got = {x: sorted(r["id"] for r in rows) for x, rows in zip(ids, res)}
        return compare_maps(got, partners, lambda v: ", ".join(v) or "(none)", "incident")
    report.check("inputs", "overlap partners of every incident via `incidents overlapping X` (819 statements)",
                 f"incidents overlapping {ids[0]} | select id;", overlap_baseline)

    # Reopened, through `time from first status resolved to status S` for every open status.
    opens = sorted(oracle.OPEN)
    q = ("incidents | let " + ", ".join(f"{s} = time from first status resolved to status {s}" for s in opens)
         + " | where " + " or ".join(f"{s} is not null" for s in opens) + " | select id")

    def reopened_baseline():
        got = sorted(r["id"] for r in pm.rows(q))
        want = oracle.reopened(incidents)
        return [] if got == want else [f"pmdb: {got}", f"expected: {want}"]
    report.check("inputs", "reopened via `time from first status resolved to status OPEN`", q, reopened_baseline)

    # Calendar: the UTC day of `started` (day() existed), and `started` shown in Los Angeles time.
    q = "incidents | summarize n = count() by day(started)"

    def day_utc():
        got, dup = keyed(pm.rows(q), "day", "n")
        return dup + compare_maps(got, oracle.by_day(incidents), what="day")
    report.check("inputs", "incidents per UTC day of started via day(started)", q, day_utc)

    q = "incidents | select id, started"

    def la_times():
        out = pm.run(q, "--mode", "markdown", "--tz", LA)
        got = {}
        for line in out.splitlines()[2:]:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            got[cells[0]] = cells[1]
        want = {}
        for i in incidents:
            t = oracle.local(i.started, LA)
            off = t.strftime("%z")
            want[i.id] = t.strftime("%Y-%m-%d %H:%M") + (t.strftime(":%S") if t.second else "") + off[:3] + ":" + off[3:]
        return compare_maps(got, want, what="incident")
    report.check("inputs", f"started in {LA} (--tz) as zoneinfo converts it", q, la_times)

    # Month labels and interval lengths (no clipping, no merging: sum by month of started).
    def month_sums(component):
        q = (f"incidents where services ~ '\"{component}\"' | let len = ended - started "
             f"| summarize total = sum(len) by month(started)")

        def fn():
            got, dup = keyed(pm.rows(q), "month", "total", ms_of_seconds)
            want = {}
            for i in incidents:
                if component in i.services:
                    m = oracle.iso(i.started)[:7]
                    want[m] = want.get(m, 0) + i.ended - i.started
            return dup + compare_maps(got, want, dur, "month")
        return q, fn
    for c in oracle.DOWNTIME_COMPONENTS:
        q, fn = month_sums(c)
        report.check("inputs", f"{c}: summed incident lengths per month(started)", q, fn)


def question_checks(pm, report, incidents):
    # 1. Membership.
    q = 'incidents where "Copilot" in services | summarize n = count()'

    def copilot():
        rows = pm.rows(q)
        got = rows[0]["n"] if len(rows) == 1 else rows
        want = oracle.copilot_count(incidents)
        return [] if got == want else [f"pmdb: {got}, expected: {want} "
                                       "(services ~ \"Copilot\" gives 144: it also matches "
                                       "\"Copilot AI Model Providers\")"]
    report.check("question", "\"Copilot\" in services", q, copilot)

    # 2. Per component.
    q = ("incidents | let ttr = ended - started | per component "
         "| summarize n = count(), median_ttr = median(ttr) by component")

    def component():
        rows = pm.rows(q)
        diff = need_columns(rows, ["component", "n", "median_ttr"])
        if diff:
            return diff
        got, dup = keyed(rows, "component", "n")
        got = {r["component"]: (r["n"], ms_of_seconds(r["median_ttr"])) for r in rows}  # null: no component
        want = {c: (v["n"], v["median_ttr"]) for c, v in oracle.per_component(incidents).items()}
        return dup + compare_maps(got, want, lambda v: f"n {v[0]}, median ttr {dur(v[1])}", "component")
    report.check("question", "per component: incidents and median time to resolve", q, component)

    # 3. Gaps between status posts.
    q = ("events where type = status | select incident, gap = at - prev(at) | where gap is not null "
         "| summarize n = count(), median = median(gap), p90 = p90(gap), longest = max(gap)")

    def gaps():
        rows = pm.rows(q)
        if len(rows) != 1:
            return [f"expected one row, got {len(rows)}: {rows[:3]}"]
        r = rows[0]
        want = oracle.status_gaps(incidents)
        got = {"n": r["n"], **{k: ms_of_seconds(r[k]) for k in ("median", "p90", "longest")}}
        return compare_maps(got, want, lambda v: str(v) if isinstance(v, int) and v < 100000 else dur(v),
                            "statistic")
    report.check("question", "gaps between consecutive status posts: n, median, p90, longest", q, gaps)

    # 4. Longest silence per incident.
    q = "incidents | let silence = max gap of status | select id, silence"

    def silence():
        rows = pm.rows(q)
        diff = need_columns(rows, ["id", "silence"])
        if diff:
            return diff
        got, dup = keyed(rows, "id", "silence", ms_of_seconds)
        return dup + compare_maps(got, oracle.longest_gaps(incidents), dur, "incident")
    report.check("question", "each incident's longest gap between status posts", q, silence)

    # 5. Reopened.
    q = "incidents | where reopened | select id"

    def reopened():
        got = sorted(r["id"] for r in pm.rows(q))
        want = oracle.reopened(incidents)
        if got == want:
            return []
        return [f"pmdb lists {len(got)}: {', '.join(got[:SHOWN])}{' ...' if len(got) > SHOWN else ''}",
                f"expected {len(want)}: {', '.join(want) or '(none)'}"]
    report.check("question", "reopened incidents", q, reopened)

    # 6. Calendar.
    for label, q, want in (
            ("incidents per weekday of started, UTC", "incidents | summarize n = count() by weekday(started)",
             oracle.by_weekday(incidents)),
            ("incidents per hour of day of started, UTC", "incidents | summarize n = count() by hour_of_day(started)",
             oracle.by_hour(incidents)),
            (f"incidents per weekday of started, {LA}",
             f'incidents | summarize n = count() by weekday(started, "{LA}")', oracle.by_weekday(incidents, LA)),
            (f"incidents per hour of day of started, {LA}",
             f'incidents | summarize n = count() by hour_of_day(started, "{LA}")', oracle.by_hour(incidents, LA)),
            (f"incidents per day of started, {LA}",
             f'incidents | summarize n = count() by day(started, "{LA}")', oracle.by_day(incidents, LA))):
        def calendar(q=q, want=want):
            rows = pm.rows(q)
            key = group_column(rows)
            if key is None:
                return [f"no group column in {rows[:3]}"]
            got, dup = keyed(rows, key, "n")
            return dup + compare_maps(got, want, what=key)
        report.check("question", label, q, calendar)

    # 7. Overlapping incidents.
    q = "incidents | let k = count of overlapping | where k > 0 | select id, k"

    def overlaps():
        rows = pm.rows(q)
        diff = need_columns(rows, ["id", "k"])
        if diff:
            return diff
        got, dup = keyed(rows, "id", "k")
        counts, pairs, _ = oracle.overlapping(incidents)
        diff = dup + compare_maps(got, counts, what="incident")
        got_pairs = sum(got.values())
        if got_pairs != 2 * pairs:
            diff.append(f"sum of k: pmdb {got_pairs}, expected {2 * pairs} (twice the {pairs} overlapping pairs)")
        return diff
    report.check("question", "incidents overlapping at least one other, and with how many", q, overlaps)

    # 8. Monthly downtime and availability: Actions (the question), Codespaces and Copilot
    #    (overlaps merged within a month, an incident across a month boundary, a nested one).
    for c in oracle.DOWNTIME_COMPONENTS:
        q = (f'incidents where "{c}" in services | per month '
             "| summarize down = downtime(started, ended), availability = 1 - downtime(started, ended) / max(period) "
             "by month")

        def downtime(q=q, c=c):
            rows = pm.rows(q)
            diff = need_columns(rows, ["month", "down", "availability"])
            if diff:
                return diff
            want = oracle.monthly_downtime(incidents, c)
            got, dup = keyed(rows, "month", "down", ms_of_seconds)
            diff = dup + compare_maps(got, {m: v["down"] for m, v in want.items()}, dur, "month")
            avail = {r["month"]: r["availability"] for r in rows}
            bad = [m for m in want if m in avail and
                   (not isinstance(avail[m], (int, float)) or abs(avail[m] - want[m]["availability"]) > 1e-9)]
            if bad:
                diff.append(f"{len(bad)} month(s) with a different availability:")
                for m in bad[:SHOWN]:
                    diff.append(f"    {m}: pmdb {avail[m]}, expected {want[m]['availability']:.12f} "
                                f"(down {dur(want[m]['down'])} of {dur(want[m]['period'])})")
            return diff
        title = f"{c}: downtime and availability per UTC month" + ("" if c == "Actions" else " (extra component)")
        report.check("question", title, q, downtime)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: github_questions_test.py PATH_TO_PMDB")
    exe = os.path.abspath(sys.argv[1])
    # ctest stops a test with SIGTERM on a timeout: leave through `finally` so the store goes too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    tmp = tempfile.mkdtemp(prefix="pmdb-github-")
    try:
        doc = os.path.join(tmp, "incidents.json")
        store = os.path.join(tmp, "github.pmdb")
        subprocess.run([sys.executable, CONVERTER, ARCHIVE, doc], check=True)
        r = subprocess.run([exe, "import", store, doc], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL  pmdb import exited with status {r.returncode}:\n{r.stderr}")
            return 1
        print(r.stderr.strip() or r.stdout.strip())
        incidents = oracle.load(ARCHIVE)
        pm = Pmdb(exe, store)
        report = Report()
        input_checks(pm, report, incidents)
        question_checks(pm, report, incidents)
        print()
        if report.failed:
            print(f"{len(report.failed)} check(s) failed:")
            for f in report.failed:
                print(f"  {f}")
            return 1
        print("every answer agrees with the oracle")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
