#!/usr/bin/env python3
"""Hostile text end to end, read back by real parsers.

Events whose text fields (a note's, a status's and a comm's text, a comm's author, the
incident's title, org, services and summary, sources, ids) hold every C0 control character
(U+0001..U+001F) and DEL, quotes, backslashes, CSV, Markdown and HTML syntax, terminal escape
sequences, emoji (ZWJ sequences, flags, skin tones), combining marks, bidirectional marks and
overrides, Arabic and Hebrew, C1 controls, U+2028/U+2029 and a 100 KB line go through:

1. `pmdb import` -> `pmdb export` -> `pmdb import` into a second store -> `pmdb export`: the
   exported events equal the input (parsed JSON), and the two exports are byte-identical.
   U+0000, a lone surrogate escape and invalid UTF-8 bytes are refused with a clear message
   (file, line, byte), exit status 1, and nothing of the file is written.
2. A query in every output mode (docs/pmql.md section 9, shell/render.hpp): csv and tsv read
   back with Python's csv module (tsv unescaping the documented `\\t \\n \\r \\\\`), json and
   jsonl with json.loads: every cell equals the original string exactly. markdown rendered by
   `cmark-gfm -e table`: one table, one row per event, each cell's text equal to the original
   with `|` intact, line breaks as <br> and other controls as spaces (escape_markdown's
   promise), no other element in a cell. table, box and line: control characters, C1 controls
   and bidi overrides shown as documented escapes, no raw ESC or other control byte, every
   line of the grid as wide as its frame.
3. `pmdb report` (Markdown) and `--format html`: compared with a twin incident whose texts are
   plain words, the hostile one renders to the same element structure (cmark-gfm's HTML for
   the Markdown, Python's html.parser for the page): no heading, list, link, emphasis or raw
   HTML injected, no `<script` from the data, and the data's text is there, as text.

Usage: roundtrip_test.py PATH_TO_PMDB
"""
import csv
import html.parser
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tally import Tally

csv.field_size_limit(1 << 24)

PMDB = sys.argv[1]
TALLY = Tally()
check, failures = TALLY.check, TALLY.failures
ENV = None  # set in main: NO_COLOR, HOME in the temporary directory

INC = "hostile-2026-01-01"
TWIN = "tame-2026-01-01"
LONG = "hostile-long-2026-01-01"  # the 100 KB line, apart so that the other grids stay narrow


def short(s, n=160):
    r = repr(s)
    return r if len(r) <= n else r[:n] + f"...({len(s)} chars)"


def pmdb(*args, stdin=None):
    """Runs pmdb; stdout and stderr as bytes (no newline translation: `\\r` must stay `\\r`)."""
    return subprocess.run([PMDB, *args], input=stdin, capture_output=True, env=ENV, timeout=120)


def shell(db, mode, statement):
    r = pmdb(db, "--no-init", "--mode", mode, "-c", statement)
    check(r.returncode == 0, f"{mode}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode("utf-8")


# ---- the hostile strings ------------------------------------------------------------------

CONTROLS = [chr(c) for c in range(1, 0x20)] + ["\x7f"]

HOSTILE = {}
for c in CONTROLS:
    # At the start, in the middle and at the end of the text.
    HOSTILE[f"ctl-{ord(c):02x}"] = f"{c}lead mid{c}dle end{c}"
HOSTILE.update({
    "all-controls": "all:" + "".join(CONTROLS) + ":end",
    "crlf": "one\r\ntwo\rthree\n\nfour\r\n",
    "quotes": "She said \"stop\" and 'go'; \"\" '' \"unbalanced ' “smart” ‘single’",
    "backslashes": "C:\\temp\\new \\\\server\\share \\\" \\n \\t \\u0041 \\x1b \\",
    "csv": "a,b,\"c\",d,\n\"e\", ,",
    "commas": "one, two,three,,",
    "semicolons": "a;b; c",
    "leading-space": "  two spaces around  ",
    "tabs": "\tcol1\tcol2\t",
    "one-space": " ",
    "markdown": "| pipe | `code` *bold* **strong** _em_ __u__ ~~strike~~ [link](http://x.test) "
                "![img](http://x.test/i.png) <b>bold</b> &amp; & &lt; <!-- c --> \\| \\* snake_case_name",
    "script": "<script>alert(\"x\")</script><img src=x onerror=alert(1)><SCRIPT SRC=//x.test/x.js></SCRIPT>",
    "heading": "# not a heading",
    "heading2": "## nor this ##",
    "quote": "> not a quote",
    "list-dash": "- not a list",
    "list-plus": "+ not a list",
    "list-star": "* not a list",
    "ordered": "1. not a list",
    "ordered-paren": "12) not a list",
    "setext": "===",
    "rule": "---",
    "fence": "```\ncode\n```",
    "tilde-fence": "~~~",
    "indented": "    not code",
    "table-row": "| a | b |\n|---|---|\n| c | d |",
    "html-block": "<div>\n<p>block</p>\n</div>",
    "link-def": "[ref]: http://x.test \"t\"",
    "autolink": "<http://x.test> www.x.test https://x.test",
    "entity": "&copy; &#65; &#x41; &nbsp;",
    "emphasis-punct": "“_em_” «_em_» （_em_） ¡_em_! “*em*”",
    "emoji": "👩‍👩‍👧‍👦 family 👍🏽 🇫🇷🇯🇵 flags 🏳️‍🌈 ❤️ 1️⃣ 🧑🏿‍🚀",
    "combining": "e\u0301 Z\u0351\u0352\u0353\u0354algo a\u20dd \u0e01\u0e34 o\u0308\u0304",
    "rtl": "\u200fRLM \u202eoverride\u202c \u2067isolate\u2069 \u200e עברית العربية \u202bembed\u202c",
    "c1": "\u0085NEL \u009bCSI \u0080 \u009f",
    "separators": "\u2028LS \u2029PS \ufeffBOM \u200bZWSP \u00a0NBSP\u00a0",
    "terminal": "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J\x1b[H \x9b31m",
    "wide": "日本語テキスト 한국어 中文",
})
LONG_TEXT = ("x" * 99 + "\n") * 500 + "|<b>&\"\\\t\x1b\b\f" + "y" * 102400
NAMES = list(HOSTILE)

# The names of the strings used as the notes' sources, in turn.
SOURCES = [n for n in ("quotes", "backslashes", "csv", "markdown", "script", "emoji", "rtl", "terminal",
                                "ctl-0a", "ctl-0d", "ctl-09", "ctl-1b", "c1", "heading", "one-space")]

HOSTILE_IDS = [
    "id \"quoted\" 'single' \\ back `tick` ``` <script>x</script> | pipe",
    "id\nwith\nnewlines\r\tand tab",
    "id \x1b[31m escape \x07 bell \x7f",
    "id 👩‍👩‍👧‍👦 \u202e עברית",
]


def minute(i):
    return f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z"


def build_events(inc, texts, ids):
    """The incident's events: one note per text, with rotating sources; status posts, comm,
    component, alert and report events so that the report has every section to fill."""
    t = texts
    ev = []

    def add(kind, at, source, data, eid=None, **extra):
        e = {"incident": inc, "type": kind, "at": minute(at), "recorded_at": "2026-01-02T00:00:00Z",
             "source": source, "data": data}
        if eid is not None:
            e["id"] = eid
        e.update(extra)
        ev.append(e)

    add("incident", 0, t["quotes"], {"title": t["markdown"], "org": t["script"], "services": [t["emoji"], t["crlf"]],
                                     "severity": t["heading"], "summary": t["all-controls"]}, f"{inc}/incident")
    add("status", 1, t["terminal"], {"status": "investigating", "text": t["rtl"]}, f"{inc}/status-investigating")
    add("alert", 2, t["ctl-1b"], {"text": t["script"]}, f"{inc}/alert")
    add("report", 3, t["csv"], {"count": 1234, "text": t["table-row"]}, f"{inc}/report", approx=True)
    add("component", 4, t["c1"], {"component": t["wide"], "state": "major_outage", "text": t["fence"]},
        f"{inc}/component-down")
    add("comm", 5, t["backslashes"], {"channel": "x", "author": t["ctl-0a"], "text": t["emoji"], "lang": "en"},
        f"{inc}/comm")
    add("note", 6, t["heading"], {"text": t["html-block"], "tags": ["impact-start", t["markdown"]]}, ids[0])
    add("cause", 7, t["rule"], {"kind": "root_cause", "text": t["backslashes"]}, ids[1])
    add("action", 8, t["quote"], {"text": t["markdown"], "owner": t["rtl"], "kind": t["script"],
                                  "tracker": t["quotes"], "due": "2026-02-01"}, ids[2])
    for i, name in enumerate(NAMES):
        # Every other note without an id: the store derives one from the content.
        add("note", 10 + i, t[SOURCES[i % len(SOURCES)]], {"text": t[name], "tags": ["went-wrong"]},
            f"{inc}/note-{name}" if i % 2 == 0 else None)
    n = 10 + len(NAMES)
    add("note", n, t["list-dash"], {"text": t["ordered"], "tags": ["impact-end"]}, ids[3])
    add("component", n + 1, t["c1"], {"component": t["wide"], "state": "operational", "text": t["tabs"]}, f"{inc}/component-up")
    add("status", n + 2, t["quotes"], {"status": "resolved", "text": t["crlf"]}, f"{inc}/status-resolved")
    return ev


def hostile_events():
    return build_events(INC, HOSTILE, HOSTILE_IDS)


def long_events():
    """A 100 KB line (500 short lines, then 100 KB without a break) as a title, a text, a
    source and an author."""
    base = {"incident": LONG, "at": minute(1), "recorded_at": "2026-01-02T00:00:00Z"}
    return [
        dict(base, id=f"{LONG}/incident", type="incident", source="s",
             data={"title": LONG_TEXT, "org": "o", "services": []}),
        dict(base, id=f"{LONG}/note", type="note", source=LONG_TEXT, data={"text": LONG_TEXT}),
        dict(base, type="comm", source="s", data={"channel": "chat", "author": LONG_TEXT, "text": LONG_TEXT[::-1]}),
    ]


def tame_events():
    words = {name: f"plain text {k}" for k, name in enumerate(NAMES)}
    return build_events(TWIN, words, [f"{TWIN}/id-{k}" for k in range(len(HOSTILE_IDS))])


def jsonl(events):
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode("utf-8")


# ---- 1. import -> export -> import -> export ------------------------------------------------------

def roundtrip(tmp, events):
    src = os.path.join(tmp, "hostile.jsonl")
    with open(src, "wb") as f:
        f.write(jsonl(events))
    db1, db2 = os.path.join(tmp, "one.pmdb"), os.path.join(tmp, "two.pmdb")
    r = pmdb("import", db1, src)
    check(r.returncode == 0, f"import: exit {r.returncode}: {r.stderr!r}")
    e1 = pmdb("export", db1)
    check(e1.returncode == 0, f"export: exit {e1.returncode}: {e1.stderr!r}")
    # The export read back through stdin, as a user pipes it.
    r = pmdb("import", db2, "-", stdin=e1.stdout)
    check(r.returncode == 0, f"import of the export: exit {r.returncode}: {r.stderr!r}")
    e2 = pmdb("export", db2)
    check(e2.returncode == 0, f"second export: exit {e2.returncode}: {e2.stderr!r}")
    check(e1.stdout == e2.stdout, "export -> import -> export: the two exports differ")
    check(e1.stdout.endswith(b"\n") and b"\r" not in e1.stdout,
          "export: not newline-terminated JSON Lines, or a raw carriage return in it")

    lines = e1.stdout.decode("utf-8").split("\n")[:-1]
    check(len(lines) == len(events), f"export: {len(lines)} lines for {len(events)} events")
    exported = [json.loads(line) for line in lines]
    for orig, got in zip(events, exported):
        want = dict(orig)
        if "id" not in want:  # derived: `e` and 32 hex digits
            check(re.fullmatch(r"e[0-9a-f]{32}", got.get("id", "")) is not None, f"derived id {got.get('id')!r}")
            want["id"] = got.get("id")
        check(got == want, f"export of {short(orig.get('id', orig['data']))}: {short(got, 300)}")
    # The export's own bytes: each line a JSON object whose strings hold no raw control character.
    check(not re.search(rb"[\x00-\x09\x0b-\x1f]", e1.stdout), "export: a raw control byte in the JSON")
    # Each incident's export alone is the same lines.
    # One incident's export is its lines of the whole export; both incidents', the whole.
    e3 = pmdb("export", db1, INC)
    check(e3.returncode == 0 and e3.stdout.decode("utf-8").split("\n")[:-1] ==
          [line for line, e in zip(lines, exported) if e["incident"] == INC],
          "export DB INCIDENT is not that incident's lines of the whole export")
    e4 = pmdb("export", db1, LONG, INC)
    check(e4.returncode == 0 and e4.stdout == e1.stdout, "export DB (both incidents) differs from the whole export")
    return db1


def refusals(tmp, existing):
    """U+0000, a lone surrogate and invalid UTF-8: refused with file, line and byte, nothing written."""
    good = json.dumps({"incident": "bad-2026-01-01", "type": "note", "at": minute(1), "source": "s",
                       "data": {"text": "fine"}}).encode()
    cases = [
        ("nul", b'"text":"a\\u0000b"', "holds a NUL character (\\u0000), which pmdb does not store"),
        ("surrogate", b'"text":"a\\ud800b"', "not valid JSON at byte 102: The surrogate pair in string is invalid."),
        ("invalid-utf8", b'"text":"caf\xe9 \xff\xfe"', "not valid UTF-8"),
        ("overlong", b'"text":"\xc0\xaf"', "not valid UTF-8"),
        ("raw-nul", b'"text":"a\x00b"', "not valid JSON at byte 102: a NUL byte."),
        ("raw-control", b'"text":"a\x01b"',
         "not valid JSON at byte 102: a control character (U+0001) in a string, which JSON writes escaped (\\u0001)."),
        ("raw-escape", b'"text":"a\x1bb"', "a control character (U+001B) in a string"),
    ]
    before = pmdb("export", existing).stdout
    for name, payload, message in cases:
        bad = (b'{"incident":"bad-2026-01-01","type":"note","at":"2026-01-01T00:02:00Z","source":"s","data":{'
               + payload + b'}}')
        path = os.path.join(tmp, f"{name}.jsonl")
        with open(path, "wb") as f:
            f.write(good + b"\n" + bad + b"\n")
        db = os.path.join(tmp, f"{name}.pmdb")
        r = pmdb("import", db, path)
        err = r.stderr.decode("utf-8", errors="replace")
        check(r.returncode == 1, f"{name}: exit {r.returncode}, expected 1")
        check(re.match(re.escape(path) + r":2: (not valid JSON )?at byte \d+: ", err) is not None,
              f"{name}: the message does not name the file, line 2 and byte: {err!r}")
        first = err.split("\n")[0]
        check(message in first, f"{name}: the first line {first!r} lacks {message!r}")
        check(not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", err), f"{name}: a raw control character in {err!r}")
        check(err.endswith(f"{path}: nothing imported\n{db}: no event imported: the new store is not kept\n"),
              f"{name}: does not say that nothing was imported: {err!r}")
        check(not os.path.exists(db), f"{name}: a refused first import left a store behind")
        # Into a store that exists: refused alike.
        if name in ("nul", "invalid-utf8", "raw-control"):
            r = pmdb("import", existing, path)
            check(r.returncode == 1 and r.stderr.decode("utf-8", errors="replace").split("\n")[0] == first,
                  f"{name}: into an existing store: exit {r.returncode}, {r.stderr!r}")
    check(pmdb("export", existing).stdout == before, "a refused import changed the store")


# ---- 2. every output mode -----------------------------------------------------------------------

def query(inc):
    return f'events where incident = "{inc}" | order by seq | select id, at, source, text;'


def expected_rows(events, ids):
    """(id, source, text) of each event, in store order; `text` is the title of the incident event."""
    rows = []
    for e, i in zip(events, ids):
        d = e["data"]
        rows.append((i, e["source"], d.get("title") if e["type"] == "incident" else d.get("text")))
    return rows


def differ(got, want):
    """Where two strings first differ, shown short."""
    if not isinstance(got, str) or not isinstance(want, str):
        return f"{short(got)} != {short(want)}"
    k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return f"{short(got[max(0, k - 20):k + 40])} != {short(want[max(0, k - 20):k + 40])} at character {k} " \
           f"(lengths {len(got)}, {len(want)})"


def compare_cells(mode, got_rows, want):
    check(len(got_rows) == len(want), f"{mode}: {len(got_rows)} rows, expected {len(want)}")
    for got, (eid, source, text) in zip(got_rows, want):
        if not check(len(got) == 4, f"{mode}: row of {len(got)} cells: {short(got)}"):
            continue
        check(got[0] == eid, f"{mode}: id {differ(got[0], eid)}")
        check(got[2] == source, f"{mode}: source {differ(got[2], source)}")
        check(got[3] == text, f"{mode}: text {differ(got[3], text)}")


TSV_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def tsv_unescape(cell, what):
    def one(m):
        check(m.group(1) in TSV_ESCAPES, f"tsv: undocumented escape \\{m.group(1)} in {what}")
        return TSV_ESCAPES.get(m.group(1), m.group(0))
    check(not cell.endswith("\\") or cell.endswith("\\\\") and (len(cell) - len(cell.rstrip("\\"))) % 2 == 0,
          f"tsv: a lone backslash at the end of {what}")
    return re.sub(r"\\(.)", one, cell, flags=re.S)


def read_separated(mode, out, **dialect):
    try:
        return list(csv.reader(io.StringIO(out, newline=""), strict=True, **dialect))
    except csv.Error as e:
        check(False, f"{mode}: Python's csv module cannot read the output: {e}")
        return []


def machine_modes(db, inc, want):
    # csv: RFC 4180, read by the csv module; records end with \n, a \r or \n inside a cell is quoted.
    out = shell(db, "csv", query(inc))
    rows = read_separated("csv", out)
    check(rows[:1] == [["id", "at", "source", "text"]], f"csv: header {rows[:1]}")
    compare_cells("csv", rows[1:], want)

    # tsv: one record per \n-terminated line, cells split at \t, `\t \n \r \\` escaped in cells.
    out = shell(db, "tsv", query(inc))
    check("\r" not in out, "tsv: a raw carriage return")
    rows = read_separated("tsv", out, delimiter="\t", quoting=csv.QUOTE_NONE)
    check(len(rows) == out.count("\n"), f"tsv: {len(rows)} records for {out.count(chr(10))} lines")
    check(rows[:1] == [["id", "at", "source", "text"]], f"tsv: header {rows[:1]}")
    compare_cells("tsv", [[tsv_unescape(c, f"row {k} cell {j}") for j, c in enumerate(r)]
                          for k, r in enumerate(rows[1:])], want)

    # json: `[`, one object per line, `]`; jsonl: one object per line. Lines split at \n only:
    # U+2028, U+0085 and the other characters str.splitlines() would cut at are escaped.
    for mode in ("json", "jsonl"):
        out = shell(db, mode, query(inc))
        check(not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", out),
              f"{mode}: a raw control character, C1 control or line separator in the output")
        if mode == "json":
            check(out.startswith("[\n") and out.endswith("\n]\n"), f"{mode}: not `[`, objects, `]`")
            lines = out.split("\n")[1:-2]
            objects = json.loads(out)
            check(objects == [json.loads(line.rstrip(",")) for line in lines], "json: a line is not one object")
        else:
            objects = [json.loads(line) for line in out.split("\n")[:-1]]
        for o in objects:
            check(list(o) == ["id", "at", "source", "text"], f"{mode}: keys {list(o)}")
        compare_cells(mode, [[o.get("id"), o.get("at"), o.get("source"), o.get("text")] for o in objects], want)
        # The short escapes JSON has (\b \f \n \r \t) are used for exactly those characters.
        texts = "".join(c for row in want for c in row)
        for ch, esc in (("\b", "\\b"), ("\f", "\\f"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            check(ch not in texts or esc in out, f"{mode}: {esc} not used for {ch!r}")


def markdown_cell_text(s):
    """escape_markdown's promise, as a GFM cell shows it: \\r\\n, \\r and \\n a line break (<br>),
    other C0 controls and DEL a space; the cell trimmed of spaces (GFM trims cells)."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", " ", s)
    return s.strip(" ")


class Tree(html.parser.HTMLParser):
    """The elements of an HTML document (tag names in order), the tables' rows and cells, each
    cell's text with <br> as \\n, and the tags found inside cells."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.tables, self.text = [], [], []
        self.cell = None
        self.cell_tags = []
        self.in_script = 0
        self.script_text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.in_script += 1
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append("\n")
        elif self.cell is not None:
            self.cell_tags.append(tag)

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script -= 1
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.in_script:
            self.script_text.append(data)
        if self.cell is not None:
            self.cell.append(data)


def parse_html(text):
    t = Tree()
    t.feed(text)
    t.close()
    return t


def cmark(markdown, unsafe=False):
    args = ["cmark-gfm", "-e", "table"] + (["--unsafe"] if unsafe else [])
    r = subprocess.run(args, input=markdown.encode("utf-8"), capture_output=True, timeout=60)
    check(r.returncode == 0, f"cmark-gfm failed: {r.stderr!r}")
    return r.stdout.decode("utf-8")


def markdown_mode(db, inc, want):
    out = shell(db, "markdown", query(inc))
    lines = out.split("\n")[:-1]
    check(len(lines) == len(want) + 2, f"markdown: {len(lines)} lines for {len(want)} rows (a line break got through)")
    # --unsafe: the raw HTML pmdb writes (<br>) shows as such, and any other raw HTML would too.
    tree = parse_html(cmark(out, unsafe=True))
    check(len(tree.tables) == 1, f"markdown: {len(tree.tables)} tables")
    check(tree.cell_tags == [], f"markdown: elements inside cells: {sorted(set(tree.cell_tags))}")
    check("script" not in tree.tags, "markdown: a <script> element in cmark-gfm's HTML")
    rows = tree.tables[0] if tree.tables else []
    check(rows[:1] == [["id", "at", "source", "text"]], f"markdown: header {rows[:1]}")
    body = rows[1:]
    check(len(body) == len(want), f"markdown: {len(body)} rows, expected {len(want)}")
    for got, (eid, source, text) in zip(body, want):
        if not check(len(got) == 4, f"markdown: a row of {len(got)} cells: {short(got)}"):
            continue
        check(got[0] == markdown_cell_text(eid), f"markdown: id {short(got[0])} != {short(markdown_cell_text(eid))}")
        check(got[2] == markdown_cell_text(source), f"markdown: source {short(got[2])} != {short(markdown_cell_text(source))}")
        check(got[3] == markdown_cell_text(text), f"markdown: text {short(got[3])} != {short(markdown_cell_text(text))}")


TERMINAL_ESCAPES = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_escape(s, keep_newlines=False):
    """escape_terminal's promise (shell/render.hpp): C0 and DEL as \\t \\n \\r or \\xNN; C1
    controls and bidi overrides as \\uNNNN; with keep_newlines, \\n as is."""
    def one(m):
        ch = m.group(0)
        c = ord(ch)
        if ch == "\n" and keep_newlines:
            return "\n"
        if ch in "\n\t\r":
            return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch]
        if c < 0x20 or c == 0x7F:
            return f"\\x{c:02x}"
        return f"\\u{c:04x}"
    return TERMINAL_ESCAPES.sub(one, s)


BORDER = re.compile(r"[-+┌┬┐├┼┤└┴┘─]+")
BOX_OR_ASCII = re.compile(r"[\x00-\x7f\u2500-\u257f]*")
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_modes(db, inc, want):
    for mode, vertical in (("table", "|"), ("box", "│")):
        out = shell(db, mode, query(inc))
        check(not UNSAFE.search(out), f"{mode}: a raw control character or bidi override reaches the terminal")
        lines = out.split("\n")[:-1]
        check(len(lines) == len(want) + 4, f"{mode}: {len(lines)} lines for {len(want)} rows (a row broke the frame)")
        frame = lines[0]
        for k, line in enumerate(lines):
            if line.isascii() or mode == "box" and BOX_OR_ASCII.fullmatch(line):
                check(len(line) == len(frame), f"{mode}: line {k} is {len(line)} wide, the frame {len(frame)}")
            if k in (0, 2, len(lines) - 1):
                check(BORDER.fullmatch(line) is not None, f"{mode}: line {k} is not a border: {short(line)}")
            else:
                check(line.startswith(vertical) and line.endswith(vertical) and not BORDER.fullmatch(line),
                      f"{mode}: line {k} does not start and end with the frame: {short(line)}")
        body = lines[3:-1]
        for line, (eid, source, text) in zip(body, want):
            cells = [c.strip(" ") for c in line[1:-1].split(f" {vertical} ")] if vertical not in terminal_escape(
                eid + source + text) else None
            if cells is not None:
                check(cells[0] == terminal_escape(eid), f"{mode}: id {short(cells[0])} != {short(terminal_escape(eid))}")
                check(cells[2] == terminal_escape(source).strip(" "), f"{mode}: source {short(cells[2])}")
                check(cells[3] == terminal_escape(text).strip(" "), f"{mode}: text {short(cells[3])}")
            else:
                check(terminal_escape(text).strip(" ") in line, f"{mode}: the text {short(text)} is not shown escaped")

    # line: `name = value`, names right-aligned; a line break in a value continues on the next
    # line, indented past the names; a blank line between rows.
    out = shell(db, "line", query(inc))
    check(not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out),
          "line: a raw control character or bidi override reaches the terminal")
    records, current, last = [], {}, None
    indent = " " * (len("source") + 3)
    for line in out.split("\n")[:-1]:
        m = re.match(r"^ *(id|at|source|text) =(?: (.*))?$", line)
        if m and not line.startswith(indent):
            current[m.group(1)] = m.group(2) or ""
            last = m.group(1)
        elif line.startswith(indent) and last:
            current[last] += "\n" + line[len(indent):]
        elif line == "":
            records.append(current)
            current, last = {}, None
        else:
            check(False, f"line: a line that is neither a name nor a continuation: {short(line)}")
    records.append(current)
    check(len(records) == len(want), f"line: {len(records)} records, expected {len(want)}")
    for got, (eid, source, text) in zip(records, want):
        for name, value in (("id", eid), ("source", source), ("text", text)):
            shown = terminal_escape(value, keep_newlines=True)
            check(got.get(name) == shown.rstrip(" ") or got.get(name) == shown,
                  f"line: {name} {short(got.get(name))} != {short(shown)}")


# ---- 3. the postmortem, Markdown and HTML ------------------------------------------------------

def structure(tags):
    return [t for t in tags if t != "br"]


def reports(db):
    now = "2026-03-01T00:00:00Z"
    md = {}
    for inc in (INC, TWIN):
        r = pmdb("report", db, inc, "--now", now)
        check(r.returncode == 0, f"report {inc}: exit {r.returncode}: {r.stderr!r}")
        md[inc] = r.stdout.decode("utf-8")
    hostile, tame = md[INC], md[TWIN]
    check(not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", hostile), "report: a raw control character in the Markdown")
    for unsafe in (False, True):
        h, t = parse_html(cmark(hostile, unsafe)), parse_html(cmark(tame, unsafe))
        check(structure(h.tags) == structure(t.tags),
              f"report (cmark-gfm{' --unsafe' if unsafe else ''}): hostile text changes the document's elements: "
              f"{diff_tags(structure(h.tags), structure(t.tags))}")
        check("script" not in h.tags and "img" not in h.tags, "report: a <script> or <img> element from the data")
        text = "".join(h.text)
        check("<script>alert(\"x\")</script>" in text, "report: the <script> text is not shown as text")
        check("# not a heading" in text, "report: a leading # is not shown as text")
    check(len(re.findall(r"(?m)^#", hostile)) == len(re.findall(r"(?m)^#", tame)),
          "report: hostile text adds a line starting with #")

    pages = {}
    for inc in (INC, TWIN):
        r = pmdb("report", db, inc, "--format", "html", "--now", now)
        check(r.returncode == 0, f"report --format html {inc}: exit {r.returncode}: {r.stderr!r}")
        pages[inc] = r.stdout.decode("utf-8")
    hostile, tame = pages[INC], pages[TWIN]
    check(hostile.lower().count("<script") == tame.lower().count("<script"),
          "html report: a <script from the data is not escaped")
    check(not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", hostile), "html report: a raw control character")
    h, t = parse_html(hostile), parse_html(tame)
    check(structure(h.tags) == structure(t.tags),
          f"html report: hostile text changes the page's elements: {diff_tags(structure(h.tags), structure(t.tags))}")
    text = "".join(h.text)
    for s in ("<script>alert(\"x\")</script>", "👩‍👩‍👧‍👦 family", "עברית", "<b>bold</b>"):
        check(s in text, f"html report: {s!r} is not in the page's text")
    check(h.script_text == t.script_text, "html report: data inside a <script> element")


def diff_tags(a, b):
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"element {k}: {x!r} where the plain twin has {y!r} (then {a[k:k + 6]} / {b[k:k + 6]})"
    return f"{len(a)} elements, the plain twin {len(b)}"


def main():
    global ENV
    start = time.monotonic()
    if not shutil.which("cmark-gfm"):
        print("FAIL: cmark-gfm is not installed (scripts/setup installs it)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        ENV = dict(os.environ, NO_COLOR="1", HOME=tmp)
        ENV.pop("PMDB_INIT", None)
        events = hostile_events() + long_events()
        db = roundtrip(tmp, events)
        refusals(tmp, db)
        exported = [json.loads(line) for line in pmdb("export", db).stdout.decode("utf-8").split("\n")[:-1]]
        for inc in (INC, LONG):
            want = expected_rows([e for e in events if e["incident"] == inc],
                                 [e["id"] for e in exported if e["incident"] == inc])
            machine_modes(db, inc, want)
            markdown_mode(db, inc, want)
            terminal_modes(db, inc, want)
        r = pmdb("import", db, "-", stdin=jsonl(tame_events()))
        check(r.returncode == 0, f"import of the plain twin: {r.stderr!r}")
        reports(db)
    took = time.monotonic() - start
    return TALLY.report("roundtrip", f"{took:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
