#!/usr/bin/env python3
"""Runs the real pmdb on the demo store in each machine mode (csv, tsv, json, jsonl) and reads
the output back with Python's own csv and json modules, checking the documented convention
(docs/pmql.md, "Machine-readable output"): timestamps parse with datetime.fromisoformat and
carry their offset, durations are numbers of seconds, booleans are true/false, null is JSON
null or an empty field. Also the --mode=VALUE / --csv option forms and a bad option's one line.

Usage: machine_output_test.py PATH_TO_PMDB
"""
import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta

PMDB = sys.argv[1]
failures = []
checks = 0


def openai_events():
    """The OpenAI demo incident's events, counted in the example files (one per line)."""
    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    return sum(json.loads(line)["incident"] == "openai-2024-12-11"
               for name in os.listdir(examples) if name.endswith(".jsonl")
               for line in open(os.path.join(examples, name), encoding="utf-8"))


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def pmdb(*args):
    r = subprocess.run([PMDB, "--no-init", *args], capture_output=True, text=True)
    return r


def run(mode_args, statement):
    r = pmdb(*mode_args, "-c", statement)
    check(r.returncode == 0, f"pmdb {mode_args} -c {statement!r} failed: {r.stderr}")
    check("\x1b" not in r.stdout, f"{mode_args}: an escape sequence in machine output")
    if r.returncode != 0:
        raise SystemExit(f"FAIL: pmdb {mode_args} -c {statement!r}: {r.stderr}")
    return r.stdout


def rows_of(mode, text):
    """The rows as dicts of the raw cells: strings from csv/tsv, JSON values from json/jsonl."""
    if mode == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    if mode == "tsv":
        lines = text.splitlines()
        header = lines[0].split("\t")
        return [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    if mode == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def timestamp(mode, cell):
    """A timestamp cell as an aware datetime; None for null."""
    if cell is None or cell == "":
        return None
    check(isinstance(cell, str), f"{mode}: a timestamp that is not a string: {cell!r}")
    t = datetime.fromisoformat(cell)
    check(t.tzinfo is not None, f"{mode}: a timestamp without its offset: {cell!r}")
    return t


def seconds(mode, cell):
    """A duration cell as seconds; None for null."""
    if mode in ("json", "jsonl"):
        check(cell is None or (isinstance(cell, (int, float)) and not isinstance(cell, bool)),
              f"{mode}: a duration that is not a JSON number: {cell!r}")
        return cell
    if cell == "":
        return None
    try:
        return float(cell)
    except ValueError:
        check(False, f"{mode}: a duration that is not a number: {cell!r}")
        return None


def boolean(mode, cell):
    if mode in ("json", "jsonl"):
        check(isinstance(cell, bool), f"{mode}: a boolean that is not a JSON boolean: {cell!r}")
        return cell
    check(cell in ("true", "false"), f"{mode}: a boolean that is not true/false: {cell!r}")
    return cell == "true"


def is_null(mode, cell):
    return cell is None if mode in ("json", "jsonl") else cell == ""


MODES = ["csv", "tsv", "json", "jsonl"]


def main():
    ttr_query = ("incidents | let ttr = time from first report to last status resolved, "
                 "whole = ended - started | select id, started, ended, ttr, whole, events;")
    timeline_query = "timeline meta-2024-12-11 | select at, elapsed, approx, type;"
    events_query = "events where incident = \"openai-2024-12-11\" | select at, corrected, type | limit 5;"
    for mode in MODES:
        # --mode MODE, --mode=MODE and --MODE give the same bytes.
        out = run(["--mode", mode], ttr_query)
        check(run([f"--mode={mode}"], ttr_query) == out, f"--mode={mode} differs from --mode {mode}")
        check(run([f"--{mode}"], ttr_query) == out, f"--{mode} differs from --mode {mode}")

        rows = {r["id"]: r for r in rows_of(mode, out)}
        check(set(rows) == {"meta-2024-12-11", "openai-2024-12-11"}, f"{mode}: the incidents: {list(rows)}")
        openai, meta = rows["openai-2024-12-11"], rows["meta-2024-12-11"]
        check(seconds(mode, openai["ttr"]) == 7 * 3600 + 16 * 60, f"{mode}: openai ttr {openai['ttr']!r} is 7h16m")
        check(is_null(mode, meta["ttr"]), f"{mode}: meta has no `status resolved`: null, got {meta['ttr']!r}")
        started, ended = timestamp(mode, openai["started"]), timestamp(mode, openai["ended"])
        check(started == datetime.fromisoformat("2024-12-11T22:23:00+00:00"), f"{mode}: openai started {started}")
        # The durations are the differences of the timestamps, in seconds.
        check(seconds(mode, openai["whole"]) == (ended - started).total_seconds(),
              f"{mode}: whole {openai['whole']!r} is ended - started ({ended - started})")
        events, n = openai["events"], openai_events()
        check(events == n if mode in ("json", "jsonl") else events == str(n), f"{mode}: events {events!r} != {n}")

        # Booleans.
        rows = rows_of(mode, run([f"--mode={mode}"], timeline_query))
        check(len(rows) == 13, f"{mode}: the meta timeline has 13 rows, got {len(rows)}")
        approx = [boolean(mode, r["approx"]) for r in rows]
        check(any(approx), f"{mode}: some meta times are approximate")
        elapsed = [seconds(mode, r["elapsed"]) for r in rows]
        check(elapsed[0] == 0 and all(e is not None and e >= 0 for e in elapsed), f"{mode}: elapsed {elapsed}")
        check(sum(elapsed) > 0, f"{mode}: the elapsed seconds sum")
        rows = rows_of(mode, run([f"--mode={mode}"], events_query))
        check(len(rows) == 5, f"{mode}: 5 events")
        for r in rows:
            boolean(mode, r["corrected"])
            timestamp(mode, r["at"])

        # With .tz: the local time and its offset, the same instant.
        rows = {r["id"]: r for r in rows_of(mode, run([f"--mode={mode}", "--tz=America/Los_Angeles"], ttr_query))}
        local = timestamp(mode, rows["openai-2024-12-11"]["started"])
        check(local is not None and local.utcoffset() == timedelta(hours=-8), f"{mode}: --tz gives -08:00: {local}")
        check(local == started, f"{mode}: --tz gives the same instant: {local} vs {started}")

    # Fractional seconds only when needed, and a JSON number in every case.
    out = run(["--json"], "incidents | let g = time from first report to last status resolved | "
                          "where id = \"openai-2024-12-11\" | select g, half = g / 7;")
    row = json.loads(out)[0]
    check(row["g"] == 26160 and isinstance(row["g"], int), f"a whole number of seconds has no fraction: {out!r}")
    check(isinstance(row["half"], (int, float)) and math.isclose(row["half"], 26160 / 7, rel_tol=1e-3),
          f"a fraction of a second is kept: {out!r}")

    # A bad option: one line, exit 2.
    r = pmdb("--foo")
    check(r.returncode == 2, f"--foo exits 2, got {r.returncode}")
    check(r.stderr == "pmdb: unknown option --foo (see pmdb --help)\n", f"--foo says one line: {r.stderr!r}")
    r = pmdb("--mode=xml", "-c", "show types;")
    check(r.returncode == 2 and len(r.stderr.splitlines()) == 1, f"--mode=xml: one line, exit 2: {r.stderr!r}")
    r = pmdb("--bail=yes", "-c", "show types;")
    check(r.returncode == 2 and "takes no value" in r.stderr, f"--bail=yes: {r.stderr!r}")

    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    print(f"machine_output: {checks - len(failures)} checks passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
