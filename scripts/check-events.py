#!/usr/bin/env python3
"""Checks pmdb JSON Lines event files without building pmdb.

Usage: scripts/check-events.py [--schemas DIR] [--no-expect] FILE.jsonl...

Each line is validated against schemas/events/envelope.schema.json and against
schemas/events/<type>.schema.json for its `data`, with the subset of JSON Schema
draft-04 those files use (type, required, properties, additionalProperties, enum,
minLength, minimum, items, anyOf, pattern, dependencies). Then, across all the files given:
timestamps parse (ISO 8601 with Z or an offset, as the store accepts them), ids are
unique, each file is ordered by time, each incident's first event is its `incident`
event at the incident's earliest time, correction/retraction targets name an
earlier event of the same incident (a correction's replacement data is validated
against the target's type), and an action's `of` names an earlier action item (an
action without `of`) of the same incident.

For the bundled demo incidents, the durations that the documentation and the tests
rely on are checked too (skip with --no-expect).

Prints one line per problem as FILE:LINE: MESSAGE and exits with 1 if there is any.
"""
import argparse
import datetime as dt
import json
import os
import re
import sys

TYPES = ["incident", "status", "report", "alert", "change", "metric", "comm",
         "component", "cause", "action", "note", "correction", "retraction"]

# The form the store accepts: YYYY-MM-DDTHH:MM[:SS[.fff...]](Z|+HH:MM|-HH:MM|+HHMM|-HHMM),
# a space allowed for T. Fractions beyond milliseconds are truncated.
TIMESTAMP = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})$")


def parse_timestamp(text):
    """Returns ms since the epoch (UTC), or raises ValueError naming the expected form."""
    m = TIMESTAMP.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError("not a timestamp (expected ISO 8601 with Z or an offset, "
                         "e.g. 2024-12-11T23:17:00Z): %s" % json.dumps(text))
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                        tzinfo=dt.timezone.utc)
    except ValueError as e:
        raise ValueError("not a valid date or time (%s): %s" % (e, json.dumps(text)))
    offset = 0
    if zone != "Z":
        z = zone.replace(":", "")
        zh, zm = int(z[1:3]), int(z[3:5])
        if zh > 23 or zm > 59:
            raise ValueError("bad zone offset: %s" % json.dumps(text))
        offset = (zh * 60 + zm) * (1 if z[0] == "+" else -1)
    ms = int((t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds()) * 1000
    ms += int((frac or "0")[:3].ljust(3, "0"))
    return ms - offset * 60000


def format_duration(ms):
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    parts, rest = [], ms // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append("%d%s" % (rest // size, unit))
            rest %= size
    return sign + ("".join(parts) or "0s")


# --- JSON Schema draft-04, the subset used by schemas/events -------------------------------

def json_type_ok(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":  # as RapidJSON: a number written with a fraction is not an integer
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "null":
        return value is None
    raise ValueError("schema uses unsupported type %r" % name)


SUPPORTED = {"$schema", "title", "description", "type", "required", "properties",
             "additionalProperties", "enum", "minLength", "maxLength", "minimum", "items", "anyOf",
             "pattern", "dependencies"}


def validate(schema, value, path="data"):
    """Returns a list of messages, empty when value is valid."""
    unknown = set(schema) - SUPPORTED
    if unknown:
        raise ValueError("schema keyword(s) not supported by this checker: %s" % sorted(unknown))
    errors = []
    t = schema.get("type")
    if t is not None:
        names = t if isinstance(t, list) else [t]
        if not any(json_type_ok(value, n) for n in names):
            return ["%s: expected %s, found %s" % (path, " or ".join(names), json.dumps(value))]
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: expected one of %s, found %s"
                      % (path, ", ".join(json.dumps(v) for v in schema["enum"]), json.dumps(value)))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: expected at least %d character(s), found %s"
                          % (path, schema["minLength"], json.dumps(value)))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: expected at most %d character(s), found %d"
                          % (path, schema["maxLength"], len(value)))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: does not match %s: %s" % (path, schema["pattern"], json.dumps(value)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: expected >= %s, found %s" % (path, schema["minimum"], value))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(schema["items"], item, "%s[%d]" % (path, i))
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append("%s: missing required field %s" % (path, json.dumps(name)))
        props = schema.get("properties", {})
        for name, v in value.items():
            if name in props:
                errors += validate(props[name], v, "%s.%s" % (path, name))
            elif schema.get("additionalProperties", True) is False:
                errors.append("%s: unknown field %s (expected one of %s)"
                              % (path, json.dumps(name), ", ".join(props)))
        for name, needed in schema.get("dependencies", {}).items():
            if name in value:
                for n in needed:
                    if n not in value:
                        errors.append("%s: %s needs %s" % (path, json.dumps(name), json.dumps(n)))
    if "anyOf" in schema:
        if all(validate(s, value, path) for s in schema["anyOf"]):
            wanted = [", ".join(s.get("required", [])) or "?" for s in schema["anyOf"]]
            errors.append("%s: expected at least one of: %s" % (path, "; ".join(wanted)))
    return errors


# --- Expected durations of the bundled demo incidents -----------------------------------------

def of(type_, **fields):
    return lambda e: e["type"] == type_ and all(e["data"].get(k) == v for k, v in fields.items())


def tagged(tag):
    return lambda e: e["type"] == "note" and tag in e["data"].get("tags", [])


def metric_at_least(name, threshold):
    return lambda e: (e["type"] == "metric" and e["data"].get("name") == name
                      and e["data"].get("value", -1) >= threshold)


# (incident, label, (which, predicate), (which, predicate), expected duration)
EXPECT = [
    ("openai-2024-12-11", "first alert -> first status identified",
     ("first", of("alert")), ("first", of("status", status="identified")), "40m"),
    ("openai-2024-12-11", "first status investigating -> first status monitoring",
     ("first", of("status", status="investigating")), ("first", of("status", status="monitoring")), "4h36m"),
    ("openai-2024-12-11", "first report -> last status resolved",
     ("first", of("report")), ("last", of("status", status="resolved")), "7h16m"),
    ("openai-2024-12-11", "first status investigating -> last status resolved",
     ("first", of("status", status="investigating")), ("last", of("status", status="resolved")), "7h6m"),
    ("openai-2024-12-11", "customer impact: first impact-start note -> last impact-end note",
     ("first", tagged("impact-start")), ("last", tagged("impact-end")), "4h22m"),
    ("meta-2024-12-11", "first report -> first metric fixed >= 99",
     ("first", of("report")), ("first", metric_at_least("fixed", 99)), "4h50m"),
]
EXPECT_COUNTS = [
    ("openai-2024-12-11", "status resolved", of("status", status="resolved"), 1),
]


def pick(events, which, pred):
    hits = sorted((e for e in events if pred(e)), key=lambda e: (e["_at"], e["_seq"]))
    if not hits:
        return None
    return hits[0] if which == "first" else hits[-1]


# --- Main ----------------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schemas", default=os.path.join(here, "..", "schemas", "events"))
    ap.add_argument("--no-expect", action="store_true", help="skip the demo incidents' duration checks")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    schemas = {}
    for name in ["envelope"] + TYPES:
        with open(os.path.join(args.schemas, name + ".schema.json"), encoding="utf-8") as f:
            schemas[name] = json.load(f)

    problems = []
    by_id = {}
    by_incident = {}
    seq = 0
    for path in args.files:
        events = []
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for lineno, line in enumerate(lines, 1):
            where = "%s:%d" % (path, lineno)
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError as x:
                problems.append("%s: not JSON: %s" % (where, x))
                continue
            errs = validate(schemas["envelope"], e, "event")
            if not errs:
                errs = validate(schemas[e["type"]], e["data"], "data")
            try:
                e["_at"] = parse_timestamp(e.get("at"))
                if "recorded_at" in e:
                    parse_timestamp(e["recorded_at"])
                if e.get("type") == "correction" and "at" in e.get("data", {}):
                    parse_timestamp(e["data"]["at"])
            except ValueError as x:
                errs.append(str(x))
            if errs:
                problems += ["%s: %s" % (where, m) for m in errs]
                continue
            seq += 1
            e["_seq"], e["_where"] = seq, where
            if "id" in e:
                if e["id"] in by_id:
                    problems.append("%s: duplicate id %s (first at %s)"
                                    % (where, json.dumps(e["id"]), by_id[e["id"]]["_where"]))
                else:
                    by_id[e["id"]] = e
            if e["type"] in ("correction", "retraction"):
                target = by_id.get(e["data"]["target"])
                if target is None:
                    problems.append("%s: target %s names no earlier event"
                                    % (where, json.dumps(e["data"]["target"])))
                elif target["incident"] != e["incident"]:
                    problems.append("%s: target %s belongs to incident %s"
                                    % (where, json.dumps(target["id"]), target["incident"]))
                elif "data" in e["data"]:
                    problems += ["%s: %s" % (where, m) for m in
                                 validate(schemas[target["type"]], e["data"]["data"], "data.data")]
            if e["type"] == "action" and "of" in e["data"]:
                item = by_id.get(e["data"]["of"])
                if item is None or item["type"] != "action" or "of" in item["data"]:
                    problems.append("%s: of %s names no earlier action item"
                                    % (where, json.dumps(e["data"]["of"])))
                elif item["incident"] != e["incident"]:
                    problems.append("%s: of %s belongs to incident %s"
                                    % (where, json.dumps(item["id"]), item["incident"]))
            events.append(e)
            by_incident.setdefault(e["incident"], []).append(e)

        # Each file is ordered by time.
        for prev, cur in zip(events, events[1:]):
            if cur["_at"] < prev["_at"]:
                problems.append("%s: out of order: %s is before the previous line's %s"
                                % (cur["_where"], cur["at"], prev["at"]))

    # Each incident's stream (the files taken in the order given) opens with its incident
    # event, at the incident's earliest time.
    for inc, own in sorted(by_incident.items()):
        if own[0]["type"] != "incident":
            problems.append("%s: the first event of %s is a %s, expected an incident event"
                            % (own[0]["_where"], inc, own[0]["type"]))
        elif own[0]["_at"] != min(e["_at"] for e in own):
            problems.append("%s: the incident event is not at the incident's earliest time"
                            % own[0]["_where"])

    if not args.no_expect:
        for inc, label, (w1, p1), (w2, p2), want in EXPECT:
            evs = by_incident.get(inc)
            if not evs:
                continue
            a, b = pick(evs, w1, p1), pick(evs, w2, p2)
            if a is None or b is None:
                problems.append("%s: %s: no such event" % (inc, label))
                continue
            got = format_duration(b["_at"] - a["_at"])
            if got != want:
                problems.append("%s: %s: expected %s, found %s (%s -> %s)"
                                % (inc, label, want, got, a["id"], b["id"]))
        for inc, label, pred, want in EXPECT_COUNTS:
            evs = by_incident.get(inc)
            if evs is not None and sum(1 for e in evs if pred(e)) != want:
                problems.append("%s: expected %d %s event(s), found %d"
                                % (inc, want, label, sum(1 for e in evs if pred(e))))

    for p in problems:
        print(p)
    counts = ", ".join("%s: %d" % (k, len(v)) for k, v in sorted(by_incident.items()))
    print("%d problem(s); valid events: %s" % (len(problems), counts or "none"), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
