#!/usr/bin/env python3
"""The HTML report in a real browser: headless Chromium renders the demo incidents' pages.

Usage: report_html_test.py PMDB [--screenshot-out PATH]

For each demo incident (examples/*.jsonl) the real binary writes the page
(`pmdb report DB X --format html -o F`). Then:
  * a plain parse of the file: nothing is loaded from outside (no src/href/xlink:href/action/
    srcset/poster attribute, no @import, no url(), no http:// or //host anywhere in markup or
    CSS), and no script, link, img, iframe, object or embed element;
  * `chromium --dump-dom`: the DOM after the browser built it has a lane per source and per
    component (data-lane), the status band, the milestones (data-milestone) and the plots
    (data-plot), as many as the events give;
  * a hostile incident (event texts that try to close the markup and run a script) gives a DOM
    with no script or img element, its texts shown as text;
  * `chromium --screenshot` of the OpenAI page: the PNG (decoded here with zlib) is not blank.
Every Chromium run has a fresh profile, no network use, a 60 s timeout, and is killed in a
finally. With --screenshot-out the screenshot is also copied there (examples/*.png).
"""
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = "2025-01-01T00:00:00Z"
TIMEOUT = 60


def fail(message):
    raise AssertionError(message)


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    fail("chromium is not installed (scripts/setup installs Debian's chromium)")


def run_chromium(args, tmp):
    """Runs headless Chromium with `args`; returns its stdout. Killed after TIMEOUT seconds."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
           "--user-data-dir=" + profile] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
        if proc.returncode != 0:
            fail(f"chromium exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
        return out.decode("utf-8")
    except subprocess.TimeoutExpired:
        fail(f"chromium took more than {TIMEOUT} s: {' '.join(args)}")
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def pmdb(binary, *args):
    r = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"pmdb {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


class Elements(html.parser.HTMLParser):
    """Every element with its attributes, and the text of <style> elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.styles = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def parse(text):
    p = Elements()
    p.feed(text)
    p.close()
    return p


FORBIDDEN_ELEMENTS = {"script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignobject",
                      "audio", "video", "source", "base", "form"}
LOADING_ATTRIBUTES = {"src", "href", "xlink:href", "action", "srcset", "poster", "data", "formaction", "background"}


def check_self_contained(path):
    text = open(path, encoding="utf-8").read()
    page = parse(text)
    for tag, attrs in page.elements:
        if tag in FORBIDDEN_ELEMENTS:
            fail(f"{path}: a <{tag}> element")
        for name, value in attrs.items():
            if name in LOADING_ATTRIBUTES:
                fail(f"{path}: <{tag} {name}={value!r}> loads something")
            if name.startswith("on"):
                fail(f"{path}: <{tag} {name}=...> is an event handler")
            if value and ("http:" in value or "https:" in value or value.startswith("//")):
                fail(f"{path}: <{tag} {name}={value!r}> names a URL")
    css = "\n".join(page.styles)
    for bad in ("@import", "url(", "http:", "https:", "//"):
        if bad in css:
            fail(f"{path}: the CSS holds {bad!r}")
    if not any(t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy" and
               "default-src 'none'" in a.get("content", "") for t, a in page.elements):
        fail(f"{path}: no Content-Security-Policy forbidding loads")
    return page


def expected_lanes(jsonl_paths, incident):
    """The sources, components and statuses of a demo incident's believed events, read from the
    example files in the order they are imported."""
    sources, components, metrics, counts, statuses = [], [], [], 0, 0
    lines = [line for path in jsonl_paths for line in open(path, encoding="utf-8")]
    for line in lines:
        e = json.loads(line)
        if e["incident"] != incident or e["type"] in ("correction", "retraction"):
            continue
        if e.get("source", "") not in sources:
            sources.append(e.get("source", ""))
        data = e.get("data", {})
        if e["type"] == "component" and data["component"] not in components:
            components.append(data["component"])
        if e["type"] == "metric" and data["name"] not in metrics:
            metrics.append(data["name"])
        if e["type"] == "report" and "count" in data:
            counts += 1
        if e["type"] == "status" and data["status"] != "postmortem":
            statuses += 1
    return incident, sources, components, metrics, counts, statuses


def check_dom(dom, incident, sources, components, metrics, counts, statuses):
    page = parse(dom)
    lanes = {}
    for tag, attrs in page.elements:
        if "data-lane" in attrs:
            lanes.setdefault(attrs["data-lane"], []).append(attrs.get("data-name"))
    if lanes.get("source", []) != sources:
        fail(f"{incident}: source lanes {lanes.get('source')} != {sources}")
    if lanes.get("component", []) != components:
        fail(f"{incident}: component lanes {lanes.get('component')} != {components}")
    if len(lanes.get("status", [])) != (1 if statuses else 0):
        fail(f"{incident}: status band {lanes.get('status')} for {statuses} status events")
    milestones = [a["data-milestone"] for t, a in page.elements if "data-milestone" in a]
    if "first report" not in milestones:
        fail(f"{incident}: no first report milestone in {milestones}")
    plots = [(a["data-plot"], a.get("data-name")) for t, a in page.elements if "data-plot" in a]
    want = ([("reports", "reports")] if counts else []) + [("metric", m) for m in metrics]
    if plots != want:
        fail(f"{incident}: plots {plots} != {want}")
    marks = [a for t, a in page.elements if t == "circle" and "mark" in a.get("class", "")]
    if not marks:
        fail(f"{incident}: no event marks")
    axes = [a for t, a in page.elements if "data-axis" in a]
    if len(axes) != 2:
        fail(f"{incident}: {len(axes)} time axes")
    if not any(t == "table" and a.get("id") == "event-table" for t, a in page.elements):
        fail(f"{incident}: no event table")
    return milestones


# ------------------------------------------------------------------ PNG

def png_pixels(path):
    """(width, height, rows of RGB(A) tuples) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace:
        fail(f"{path}: PNG of depth {depth}, colour type {color}, interlace {interlace} is not decoded here")
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    # Byte-wise addition mod 256 of whole rows at once, as big integers (no carry between bytes).
    low7 = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")

    def add_rows(x, y):
        a, b = int.from_bytes(x, "big"), int.from_bytes(y, "big")
        return (((a & low7) + (b & low7)) ^ ((a ^ b) & high)).to_bytes(stride, "big")

    rows, prev = [], bytes(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            out = bytes(line)
        elif f == 2:  # up
            out = add_rows(line, prev)
        elif f == 1:  # sub: a running sum per channel
            out = bytearray(line)
            for i in range(bpp, stride):
                out[i] = (out[i] + out[i - bpp]) & 0xFF
            out = bytes(out)
        elif f == 3:  # average
            out = bytearray(line)
            for i in range(stride):
                left = out[i - bpp] if i >= bpp else 0
                out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
            out = bytes(out)
        elif f == 4:  # paeth
            out = bytearray(line)
            for i in range(stride):
                if i >= bpp:
                    a, c = out[i - bpp], prev[i - bpp]
                else:
                    a = c = 0
                b = prev[i]
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            out = bytes(out)
        else:
            fail(f"{path}: PNG filter {f}")
        rows.append(out)
        prev = out
    return width, height, bpp, rows


def check_screenshot(path):
    width, height, bpp, rows = png_pixels(path)
    if (width, height) != (1400, 2000):
        fail(f"{path}: {width}x{height}, expected 1400x2000")
    colours, ink = set(), 0
    background = tuple(rows[0][:3])
    for y in range(0, height, 2):
        row = rows[y]
        for x in range(0, width * bpp, bpp * 2):
            px = tuple(row[x:x + 3])
            colours.add(px)
            if sum(abs(px[i] - background[i]) for i in range(3)) > 60:
                ink += 1
    sampled = (height // 2) * (width // 2)
    print(f"screenshot: {len(colours)} colours, {100 * ink / sampled:.1f}% ink")
    if len(colours) < 50:
        fail(f"{path}: only {len(colours)} colours: the page looks blank")
    if ink < sampled * 0.03:
        fail(f"{path}: only {ink} of {sampled} sampled pixels differ from the background")
    # The picture's colours are there: the major outage red, the operational green.
    if not any(abs(c[0] - 0xcf) < 8 and abs(c[1] - 0x22) < 8 and abs(c[2] - 0x2e) < 8 for c in colours):
        fail(f"{path}: no major outage red")
    if not any(abs(c[0] - 0x2d) < 8 and abs(c[1] - 0xa4) < 8 and abs(c[2] - 0x4e) < 8 for c in colours):
        fail(f"{path}: no operational green")


HOSTILE = [
    {"id": "evil/incident", "incident": "evil-1", "type": "incident", "at": "2025-03-01T10:00:00Z",
     "source": "<script>alert('src')</script>",
     "data": {"title": "</title><script>alert(1)</script>", "org": "\"><img src=x onerror=alert(2)>",
              "services": ["<svg onload=alert(3)>"]}},
    {"id": "evil/report", "incident": "evil-1", "type": "report", "at": "2025-03-01T10:05:00Z", "source": "users",
     "data": {"count": 5, "text": "</script><script>alert(1)</script>"}},
    {"id": "evil/comm", "incident": "evil-1", "type": "comm", "at": "2025-03-01T10:07:00Z", "source": "users",
     "data": {"channel": "x", "author": "'><b>", "text": "\"><img onerror=alert(4) src=x>"}},
    {"id": "evil/component", "incident": "evil-1", "type": "component", "at": "2025-03-01T10:10:00Z",
     "source": "users", "data": {"component": "\"><svg onload=alert(5)>", "state": "major_outage"}},
]


def main():
    args = sys.argv[1:]
    if not args:
        fail(__doc__)
    binary = os.path.abspath(args[0])
    screenshot_out = None
    if len(args) == 3 and args[1] == "--screenshot-out":
        screenshot_out = os.path.abspath(args[2])
    tmp = tempfile.mkdtemp(prefix="pmdb-html-")
    try:
        db = os.path.join(tmp, "demo.db")
        demos = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".jsonl"))
        for f in demos:
            pmdb(binary, "import", db, os.path.join(ROOT, "examples", f))
        hostile = os.path.join(tmp, "hostile.jsonl")
        with open(hostile, "w", encoding="utf-8") as out:
            for e in HOSTILE:
                out.write(json.dumps(e) + "\n")
        pmdb(binary, "import", db, hostile)

        paths = [os.path.join(ROOT, "examples", f) for f in demos]
        incidents = sorted({json.loads(line)["incident"] for p in paths for line in open(p, encoding="utf-8")})
        for name in incidents:
            incident, sources, components, metrics, counts, statuses = expected_lanes(paths, name)
            page = os.path.join(tmp, incident + ".html")
            pmdb(binary, "report", db, incident, "--format", "html", "-o", page, "--now", NOW)
            check_self_contained(page)
            dom = run_chromium(["--dump-dom", "file://" + page], tmp)
            milestones = check_dom(dom, incident, sources, components, metrics, counts, statuses)
            print(f"{incident}: {len(sources)} source lanes, {len(components)} component lanes, "
                  f"milestones {milestones}")

        page = os.path.join(tmp, "evil-1.html")
        pmdb(binary, "report", db, "evil-1", "--format", "html", "-o", page, "--now", NOW)
        check_self_contained(page)
        dom = run_chromium(["--dump-dom", "file://" + page], tmp)
        elements = parse(dom).elements
        handlers = [(t, n) for t, a in elements for n in a if n.startswith("on")]
        if handlers:
            fail(f"hostile incident: event handler attributes in the DOM: {handlers}")
        tags = {t for t, _ in elements}
        for bad in ("script", "img", "b"):
            if bad in tags:
                fail(f"hostile incident: the DOM has a <{bad}> element")
        for text in ("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img onerror=alert(4) src=x&gt;"):
            if text not in dom:
                fail(f"hostile incident: {text!r} is not shown as text")
        print("hostile incident: no script or img element; its texts shown escaped")

        page = os.path.join(tmp, "openai-2024-12-11.html")
        shot = os.path.join(tmp, "openai.png")
        run_chromium(["--screenshot=" + shot, "--window-size=1400,2000", "file://" + page], tmp)
        check_screenshot(shot)
        if screenshot_out:
            shutil.copyfile(shot, screenshot_out)
            print(f"wrote {screenshot_out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
