#!/usr/bin/env python3
"""Independent answers to questions about the GitHub status archive
(tests/data/github-statuses/incidents.jsonl), computed from the archive itself with the Python
standard library, never through pmdb. tests/github_questions_test.py compares pmdb's PMQL
answers with these.

Usage: github_answers.py [INCIDENTS.jsonl] [--summary | --json]
       --summary   the headline answers, a few lines per question (the default)
       --json      every answer, as one JSON object (durations in milliseconds)

How pmdb sees the archive (tests/tools/github_to_statuspage.py, then `pmdb import`; the
mapping is core/statuspage.cpp's header comment; each point below was checked against the
binary: github_questions_test.py's "inputs" checks repeat it on every run):

  incident id   "github-" + the code at the end of the archived `url`, lowercased, characters
                outside [a-z0-9._-] as '-' (the page is named "GitHub")
  services      the archive's `components`, duplicates dropped, in order; [] when absent. No
                update carries affected_components, so there are no `component` events and an
                incident's components are exactly its services
  status posts  one `status` event per archived update, `at` = the update's `at`. The status is
                the archive's, lowercased with spaces as '_' ("In progress" -> in_progress),
                except "Update" (the feed's label for a post that keeps the status), which
                takes the previous post's status (investigating when first). Posts of the same
                minute keep the archive's order: events are ordered by (at, seq) and the
                importer appends an incident's updates sorted by time, ties in page order
  started       the earliest fact: the incident event sits at the first update's `at`, so
                started = the earliest update's `at`
  ended         the first `resolved` or `completed` post with no open post (investigating,
                identified, monitoring, scheduled, in_progress, verifying) after it, in
                (at, seq) order; when there is none, the last fact's `at`. (In this archive
                every incident ends with its only Resolved, or for the 18 maintenances its
                Completed, so the fallback is never used)

Definitions where the questions leave room:

  percentiles   nearest-rank (docs/pmql.md section 10): the value at rank ceil(q/100 * n),
                rank 1 when that is 0; the median of an even count is the lower middle value
  per component one row per (incident, component); an incident without components counts
                under the null component
  status gaps   `at` of a post minus `at` of the previous post of the same incident, posts in
                (at, seq) order; zero gaps (two posts of one minute) count. An incident's
                longest gap (`max gap of status`) is null when it has fewer than two posts
  reopened      a post whose status is not resolved, postmortem or completed comes after (in
                (at, seq) order) a post whose status is resolved. A post after the resolution
                that the archive labels "Update" keeps the status resolved: not a reopening
  calendar      weekday 1 = Monday ... 7 = Sunday, hour 0-23 and day YYYY-MM-DD of `started`
                in the zone (zoneinfo, DST-aware), default UTC
  overlapping   closed intervals [started, ended]: a and b overlap when a.started <= b.ended and
                b.started <= a.ended, so intervals that only touch overlap, and an incident of
                zero length overlaps any interval containing its instant; an incident is never
                counted as overlapping itself; a pair counts once in the number of pairs
  per month     UTC calendar months. [started, ended) is cut at each UTC month boundary, each
                piece clipped to its month; an interval ending exactly at a month boundary does
                not touch the next month; an interval of zero length gives one piece (of length
                0) in the month of its instant. The month's `period` is its real length (28-31
                days). Only months with at least one piece have a row
  downtime      the length of the union of a month's pieces (overlaps and touching intervals
                merged, nested ones counted once); availability = 1 - downtime / period
"""
import json
import math
import os
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

ARCHIVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "github-statuses",
                       "incidents.jsonl")

OPEN = {"investigating", "identified", "monitoring", "scheduled", "in_progress", "verifying"}
RESOLUTION = {"resolved", "completed"}
NOT_REOPENING = {"resolved", "postmortem", "completed"}
LA = "America/Los_Angeles"
# The components whose monthly downtime is checked: Actions, Codespaces (overlapping incidents in
# two months, and an incident from February into March 2025) and Copilot (one incident inside
# another, 2025-07-21).
DOWNTIME_COMPONENTS = ("Actions", "Codespaces", "Copilot")


# --- times -----------------------------------------------------------------------------------

def parse_ms(s):
    """An ISO 8601 timestamp ("2022-03-26T01:43:00Z") as milliseconds since the epoch (UTC)."""
    d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if d.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {s!r}")
    return round(d.timestamp() * 1000)


def iso(ms):
    """Milliseconds since the epoch as pmdb writes a timestamp in json and csv modes."""
    d = datetime.fromtimestamp(ms // 1000, timezone.utc)
    frac = ms % 1000
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac:03d}" if frac else "") + "Z"


def local(ms, zone="UTC"):
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone))


def duration_text(ms):
    """A duration as pmdb's table mode writes it: 1d2h56m, 36m, 0s, -1h (for the summary)."""
    if ms is None:
        return "null"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    s, frac = divmod(ms, 1000)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    out = "".join(f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m")) if v)
    if frac:
        out += f"{s}.{frac:03d}".rstrip("0") + "s"
    elif s:
        out += f"{s}s"
    return sign + (out or "0s")


def month_of(ms):
    d = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return d.year, d.month


def month_start(year, month):
    return round(datetime(year, month, 1, tzinfo=timezone.utc).timestamp() * 1000)


def next_month(year, month):
    return (year + 1, 1) if month == 12 else (year, month + 1)


# --- the archive as pmdb imports it -------------------------------------------------------------

class Incident:
    __slots__ = ("id", "code", "title", "services", "posts", "started", "ended")

    def __repr__(self):
        return f"Incident({self.id}, {iso(self.started)}..{iso(self.ended)}, {len(self.posts)} posts)"


def code_slug(code):
    out = []
    for c in code.lower():
        out.append(c if (c.isascii() and (c.isalnum() or c in "._-")) else "-")
    return "".join(out)


def load(path=ARCHIVE):
    """The incidents in pmdb's `incidents` order (started, then id)."""
    incidents = []
    seen = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            a = json.loads(line)
            inc = Incident()
            inc.code = a["url"].rstrip("/").rsplit("/", 1)[-1]
            inc.id = "github-" + code_slug(inc.code)
            if inc.id in seen:
                raise ValueError(f"two archived incidents map to {inc.id}")
            seen.add(inc.id)
            inc.title = a["title"]
            inc.services = []
            for c in a.get("components") or []:
                if c not in inc.services:
                    inc.services.append(c)
            posts = []
            current = "investigating"
            for i, u in enumerate(a["updates"]):
                status = u["status"].strip().lower().replace(" ", "_")
                if status == "update":
                    status = current
                current = status
                posts.append((parse_ms(u["at"]), i, status))
            # (at, seq): the importer appends updates sorted by time, ties in the page's order.
            posts.sort()
            inc.posts = [(at, status) for at, _, status in posts]
            facts = [p[0] for p in inc.posts]
            if a["updates"]:
                facts.append(parse_ms(a["updates"][0]["at"]))  # the incident event (created_at)
            else:
                facts.append(parse_ms(a["started_at"]))
            inc.started = min(facts)
            inc.ended = resolution(inc.posts)
            if inc.ended is None:
                inc.ended = max(facts)
            incidents.append(inc)
    incidents.sort(key=lambda i: (i.started, i.id))
    return incidents


def resolution(posts):
    """The first resolved/completed post with no open post after it, or None."""
    for k, (at, status) in enumerate(posts):
        if status in RESOLUTION and not any(s in OPEN for _, s in posts[k + 1:]):
            return at
    return None


# --- statistics -----------------------------------------------------------------------------

def nearest_rank(values, q):
    """docs/pmql.md section 10: the value at rank ceil(q/100 * n), rank 1 when that is 0."""
    v = sorted(values)
    if not v:
        return None
    rank = max(1, -(-q * len(v) // 100)) if isinstance(q, int) else max(1, math.ceil(q / 100 * len(v)))
    return v[rank - 1]


# --- the questions ----------------------------------------------------------------------------

def copilot_count(incidents, name="Copilot"):
    """`incidents where "Copilot" in services | summarize n = count()`."""
    return sum(1 for i in incidents if name in i.services)


def per_component(incidents):
    """{component (None: no component): {"n": incidents, "median_ttr": ms}}; ttr = ended - started."""
    groups = {}
    for i in incidents:
        for c in i.services or [None]:
            groups.setdefault(c, []).append(i.ended - i.started)
    return {c: {"n": len(v), "median_ttr": nearest_rank(v, 50)} for c, v in groups.items()}


def gaps_of(incident):
    return [b[0] - a[0] for a, b in zip(incident.posts, incident.posts[1:])]


def status_gaps(incidents):
    """Every gap between consecutive status posts of an incident: n, median, p90, longest (ms)."""
    gaps = [g for i in incidents for g in gaps_of(i)]
    return {"n": len(gaps), "median": nearest_rank(gaps, 50), "p90": nearest_rank(gaps, 90),
            "longest": max(gaps) if gaps else None}


def longest_gaps(incidents):
    """{id: the incident's longest gap between consecutive status posts (ms), None under two posts}."""
    return {i.id: (max(gaps_of(i)) if len(i.posts) > 1 else None) for i in incidents}


def is_reopened(incident):
    resolved = False
    for _, status in incident.posts:
        if resolved and status not in NOT_REOPENING:
            return True
        if status == "resolved":
            resolved = True
    return False


def reopened(incidents):
    return sorted(i.id for i in incidents if is_reopened(i))


def by_weekday(incidents, zone="UTC"):
    out = {}
    for i in incidents:
        k = local(i.started, zone).isoweekday()
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items()))


def by_hour(incidents, zone="UTC"):
    out = {}
    for i in incidents:
        k = local(i.started, zone).hour
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items()))


def by_day(incidents, zone="UTC"):
    out = {}
    for i in incidents:
        k = local(i.started, zone).strftime("%Y-%m-%d")
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items()))


def overlapping(incidents):
    """({id: number of other incidents whose [started, ended] intersects it, for those with any},
    the number of overlapping pairs, {id: sorted partner ids})."""
    partners = {i.id: [] for i in incidents}
    pairs = 0
    for x, a in enumerate(incidents):
        for b in incidents[x + 1:]:
            if a.started <= b.ended and b.started <= a.ended:
                partners[a.id].append(b.id)
                partners[b.id].append(a.id)
                pairs += 1
    counts = {k: len(v) for k, v in partners.items() if v}
    return counts, pairs, {k: sorted(v) for k, v in partners.items()}


def month_pieces(started, ended):
    """[(\"YYYY-MM\", start, end, period)] of [started, ended) cut at UTC month boundaries."""
    y, m = month_of(started)
    out = []
    while True:
        lo = month_start(y, m)
        hi = month_start(*next_month(y, m))
        out.append((f"{y:04d}-{m:02d}", max(started, lo), min(ended, hi), hi - lo))
        if ended <= hi:
            return out
        y, m = next_month(y, m)


def union_length(intervals):
    total = 0
    cur = None
    for s, e in sorted(intervals):
        if cur is None or s > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = [s, e]
        else:
            cur[1] = max(cur[1], e)
    if cur is not None:
        total += cur[1] - cur[0]
    return total


def monthly_downtime(incidents, component):
    """{month: {"down": ms, "period": ms, "availability": 1 - down/period, "incidents": n,
    "sum": sum of the pieces' lengths (>= down; larger where intervals overlap)}}."""
    pieces = {}
    periods = {}
    for i in incidents:
        if component not in i.services:
            continue
        for month, s, e, period in month_pieces(i.started, i.ended):
            pieces.setdefault(month, []).append((s, e))
            periods[month] = period
    out = {}
    for month in sorted(pieces):
        down = union_length(pieces[month])
        out[month] = {"down": down, "period": periods[month], "availability": 1 - down / periods[month],
                      "incidents": len(pieces[month]), "sum": sum(e - s for s, e in pieces[month])}
    return out


def answers(incidents):
    counts, pairs, _ = overlapping(incidents)
    return {
        "copilot_in_services": copilot_count(incidents),
        "per_component": {("" if c is None else c): v for c, v in per_component(incidents).items()},
        "status_gaps": status_gaps(incidents),
        "longest_gap": longest_gaps(incidents),
        "reopened": reopened(incidents),
        "weekday_utc": by_weekday(incidents), "hour_utc": by_hour(incidents),
        "weekday_la": by_weekday(incidents, LA), "hour_la": by_hour(incidents, LA),
        "day_la": by_day(incidents, LA),
        "overlapping": counts, "overlapping_pairs": pairs,
        "downtime": {c: monthly_downtime(incidents, c) for c in DOWNTIME_COMPONENTS},
    }


# --- the summary ------------------------------------------------------------------------------

DAYS = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def summary(incidents):
    p = print
    n_posts = sum(len(i.posts) for i in incidents)
    p(f"archive: {len(incidents)} incidents, {n_posts} status posts, "
      f"{iso(incidents[0].started)} .. {iso(max(i.ended for i in incidents))}")

    p(f"\n\"Copilot\" in services: {copilot_count(incidents)} incidents "
      f"(a substring match on the services text would also count \"Copilot AI Model Providers\")")

    p("\nper component: incidents, median time to resolve (ended - started)")
    pc = per_component(incidents)
    for c in sorted(pc, key=lambda c: (-pc[c]["n"], c or "")):
        p(f"  {c or '(none)':28} {pc[c]['n']:4}  {duration_text(pc[c]['median_ttr'])}")

    g = status_gaps(incidents)
    p(f"\ngaps between consecutive status posts: n = {g['n']}, median = {duration_text(g['median'])}, "
      f"p90 = {duration_text(g['p90'])}, longest = {duration_text(g['longest'])}")
    lg = longest_gaps(incidents)
    top = sorted(((v, k) for k, v in lg.items() if v is not None), reverse=True)[:3]
    nulls = sum(1 for v in lg.values() if v is None)
    p(f"  longest silence per incident: {len(lg) - nulls} incidents with one, {nulls} with a single post (null); "
      "top: " + ", ".join(f"{k} {duration_text(v)}" for v, k in top))

    r = reopened(incidents)
    p(f"\nreopened incidents: {len(r)}" + (": " + ", ".join(r) if r else
      " (every incident's last post is its only Resolved, or a maintenance's Completed)"))

    for zone in ("UTC", LA):
        wd = by_weekday(incidents, zone)
        hr = by_hour(incidents, zone)
        p(f"\nincidents by weekday of started, {zone}: " + ", ".join(f"{DAYS[k]} {v}" for k, v in wd.items()))
        busiest = max(hr.items(), key=lambda kv: (kv[1], -kv[0]))
        quietest = min(hr.items(), key=lambda kv: (kv[1], kv[0]))
        p(f"  by hour of day: busiest {busiest[0]:02d}h ({busiest[1]}), quietest {quietest[0]:02d}h ({quietest[1]}); "
          + " ".join(f"{k}:{v}" for k, v in hr.items()))
    dl = by_day(incidents, LA)
    top = sorted(dl.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    p(f"  by day in {LA}: {len(dl)} days; busiest " + ", ".join(f"{k} ({v})" for k, v in top))

    counts, pairs, partners = overlapping(incidents)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    p(f"\noverlapping (closed intervals): {len(counts)} incidents overlap at least one other, {pairs} pairs; "
      "most: " + ", ".join(f"{k} ({v})" for k, v in top))

    for c in DOWNTIME_COMPONENTS:
        md = monthly_downtime(incidents, c)
        merged = [m for m, v in md.items() if v["sum"] != v["down"]]
        worst = min(md.items(), key=lambda kv: (kv[1]["availability"], kv[0]))
        total = sum(v["down"] for v in md.values())
        p(f"\n{c}: downtime in {len(md)} UTC months, total {duration_text(total)}; "
          f"worst {worst[0]}: down {duration_text(worst[1]['down'])}, availability {worst[1]['availability']:.6f}")
        for m in merged:
            v = md[m]
            p(f"  {m}: overlapping incidents merged: down {duration_text(v['down'])} (sum of intervals "
              f"{duration_text(v['sum'])}), availability {v['availability']:.6f}")
        split = sorted({m for i in incidents if c in i.services
                        for m, *_ in month_pieces(i.started, i.ended)[1:]})
        for m in split:
            v = md[m]
            p(f"  {m}: holds the tail of an incident begun the month before: down {duration_text(v['down'])}, "
              f"availability {v['availability']:.6f}")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = [a for a in argv[1:] if a.startswith("--")]
    if len(args) > 1 or any(f not in ("--summary", "--json") for f in flags):
        sys.exit("usage: github_answers.py [INCIDENTS.jsonl] [--summary | --json]")
    incidents = load(args[0] if args else ARCHIVE)
    if "--json" in flags:
        json.dump(answers(incidents), sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        summary(incidents)


if __name__ == "__main__":
    main(sys.argv)
