#!/usr/bin/env python3
"""Turns the GitHub status archive (tests/data/github-statuses/incidents.jsonl) into one
Statuspage v2 `incidents.json` document, the form https://www.githubstatus.com/api/v2/incidents.json
serves.

Usage: github_to_statuspage.py INCIDENTS.jsonl OUT.json

Per archived incident:
  id            the code at the end of its `url` (…/incidents/5jfkz8q1mlql → 5jfkz8q1mlql)
  name          its `title`;  impact: its `impact`
  shortlink     the archive has none: the incident's `url` stands in for it on every other
                incident, and the key is left out on the rest (so both cases are imported)
  created_at    the `at` of its first update; updated_at: the `at` of its last
  components    [{"name": …}] from `components`; when the archive has none the key is left
                out or set to null, alternately
  incident_updates  newest first, like Statuspage. Update number i (0 = the oldest) gets the
                id `<incident id>-u<i>`, body = `message`, created_at = display_at = `at`, and
                affected_components null. `status` is lowercased with spaces as underscores
                ("In progress" → in_progress). The archive's "Update" is the feed's label for a
                post that does not change the status; Statuspage has no such status and repeats
                the current one, so "Update" becomes the previous post's status
                (investigating if it comes first).

The output is deterministic: the same input always gives the same bytes.
"""
import json
import sys


def convert(lines):
    incidents = []
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        a = json.loads(line)
        code = a["url"].rstrip("/").rsplit("/", 1)[-1]
        updates = []
        current = "investigating"
        for i, u in enumerate(a["updates"]):
            status = u["status"].strip().lower().replace(" ", "_")
            if status == "update":
                status = current
            current = status
            updates.append({
                "id": f"{code}-u{i}",
                "status": status,
                "body": u["message"],
                "created_at": u["at"],
                "display_at": u["at"],
                "affected_components": None,
            })
        inc = {
            "id": code,
            "name": a["title"],
            "impact": a.get("impact"),
            "created_at": a["updates"][0]["at"] if a["updates"] else a.get("started_at"),
            "updated_at": a["updates"][-1]["at"] if a["updates"] else a.get("updated_at"),
            "incident_updates": list(reversed(updates)),
        }
        if n % 2 == 0:
            inc["shortlink"] = a["url"]
        if a.get("components"):
            inc["components"] = [{"name": c} for c in a["components"]]
        elif n % 2 == 0:
            inc["components"] = None
        incidents.append(inc)
    return {"page": {"name": "GitHub", "url": "https://www.githubstatus.com"},
            "incidents": incidents}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: github_to_statuspage.py INCIDENTS.jsonl OUT.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = convert(f)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
