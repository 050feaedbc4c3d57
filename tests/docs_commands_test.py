#!/usr/bin/env python3
"""The README's and the manual pages' commands are tests: each one is run, and what it shows is
compared with what the real pmdb prints, so the documentation cannot drift.

Usage: docs_commands_test.py PMDB SOURCE_DIR [--server-blocks]

Every fenced block of README.md is one of these kinds (a block of no known kind fails the test,
so a new block cannot go unchecked):

- a shell transcript (`$ COMMAND` lines, each followed by its output): the commands run in order
  in one scratch directory with bash, `pmdb` on the PATH, the repository's `examples/`, `tests/`
  and `build/demo.pmdb` (the demo incidents) at hand, plus the files of tests/data/readme/
  (bad.jsonl); stdout and stderr, merged, must equal the shown output. A command continues on the
  next lines while its quotes are open.
- a terminal session (`$ pmdb DB` followed by prompts, or the demo shell's banner): typed into a
  real terminal (tmux, 200 columns) line by line; the screen must read exactly as the block.
  `record` takes `now` from `--now 2026-11-30T11:00:00Z`, added to the command line.
- statements at a prompt without output (`pmdb> STATEMENT; -- ANSWER ...`): each runs on the
  demo store with its corrections; an answer that starts the comment (a duration or number) must
  be in the output.
- commands without `$` (`pmdb ARGS  # ANSWER, ANSWER`): each `pmdb` line runs, exits 0, prints
  nothing on stderr, and prints the answers of its comment in that order. Other commands (cmake,
  cpack, apt-get, the Quick start's scripts) are run by tests/install_test.sh and CI itself.
- the usage summary (`pmdb [DB] ...`): every command it names is in `pmdb --help`, every option in
  the help of its command.
- a JSON event: `pmdb import` accepts it.

A block that names a PostgreSQL store (a `postgresql://` URL, the server given by PGHOST and
the other libpq variables) runs only when PMDB_TEST_PG names a server (`scripts/pg-cluster run`
sets it): each database its URLs name is made fresh there under a name of its own (shown output
and typed commands alike read the README's name as that one) and dropped at the end, with
PGHOST, PGPORT and PGUSER set to that server; in such a block of commands, `psql`, `pg_dump` and
`pg_restore` lines run too and must succeed. Without one such a block is counted as not run;
`--server-blocks` (ctest pg_docs_commands, under scripts/pg-cluster) runs those blocks only.

The GitHub table (median, p90 and max time to resolve by severity) is also computed from the
archive alone, with tests/tools/github_answers.py's reading of it and its nearest-rank
percentiles, and must equal the README's.

Event ids and chain heads (hexadecimal words of 8 or more characters) depend on who records and
when; in the shown output each stands for one real id, the same one wherever it appears, and an
id typed later (or its prefix) is replaced by the real one.

docs/man/pmdb.1's EXAMPLES run the same way (the installed paths mapped to the repository, a
`curl` of a status page replaced by the Statuspage sample in tests/data); docs/man/pmql.7's
EXAMPLES run as one script on a copy of the demo store and must all succeed.
"""
import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pg_util
from tally import Tally

PMDB = os.path.abspath(sys.argv[1])
SOURCE = Path(sys.argv[2]).resolve()
SERVER_BLOCKS_ONLY = "--server-blocks" in sys.argv[3:]
NOW = "2026-11-30T11:00:00Z"
TALLY = Tally()
check, failures = TALLY.check, TALLY.failures


# --- the scratch directory and how commands run in it ------------------------------------------

class Scratch:
    def __init__(self, root: Path):
        self.root = root
        self.bin = root / ".bin"
        self.bin.mkdir()
        (self.bin / "pmdb").symlink_to(PMDB)
        for name in ("examples", "tests", "schemas", "docs"):
            (root / name).symlink_to(SOURCE / name)
        for f in (SOURCE / "tests" / "data" / "readme").iterdir():
            shutil.copy(f, root / f.name)
        (root / "build").mkdir()
        demo = sorted(str(p) for p in (SOURCE / "examples").glob("*.jsonl"))
        r = subprocess.run([PMDB, "import", str(root / "build" / "demo.pmdb"), *demo], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        self.env = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(root), "NO_COLOR": "1", "PAGER": "cat",
                    "TERM": "xterm", "LC_ALL": "C.UTF-8", "USER": "analyst"}
        # A sanitized build's settings (tests/fuzz/sanitizers.sh: its suppressions among them).
        self.env.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS") or k.endswith("SYMBOLIZER_PATH")})

    def sh(self, command: str):
        """Runs COMMAND with bash; stdout and stderr merged, as a terminal shows them."""
        r = subprocess.run(["bash", "-c", command], cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300)
        return r.returncode, r.stdout


# --- blocks that need a PostgreSQL server ------------------------------------------------------

SERVER_URL = re.compile(r"(postgres(?:ql)?://[^/\s'\"]*/)([A-Za-z_][A-Za-z0-9_]*)")


SERVER_TOOLS = ("psql ", "pg_dump ", "pg_restore ")


class Databases:
    """The databases the README's server blocks name, made fresh on the server of PMDB_TEST_PG."""

    def __init__(self, conninfo: str):
        self.server = pg_util.Server(conninfo, "pmdb_docs")
        self.names: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        p = self.server.params
        return {f"PG{k.upper()}": p[k] for k in ("host", "port", "user") if k in p}

    def mapped(self, body: list[str]) -> list[str]:
        """BODY with each database a URL names read as its fresh database (made on first sight)."""
        def sub(m):
            name = m.group(2)
            if name not in self.names:
                self.names[name] = self.server.create(name)
            return m.group(1) + self.names[name]
        return [SERVER_URL.sub(sub, l) for l in body]

    def close(self):
        self.server.drop_all()


# --- ids in shown output ------------------------------------------------------------------------

HEX = re.compile(r"(?<![0-9A-Za-z_])([0-9a-f]{8,})(?![0-9A-Za-z_])")


def is_placeholder(word: str) -> bool:
    return re.search(r"[0-9]", word) is not None and re.search(r"[a-f]", word) is not None


class Ids:
    """The shown ids and the real ones they stand for."""

    def __init__(self):
        self.real: dict[str, str] = {}

    def match_line(self, shown: str, actual: str) -> bool:
        parts, names, pos = [], [], 0
        for m in HEX.finditer(shown):
            if not is_placeholder(m.group(1)):
                continue
            parts.append(re.escape(shown[pos:m.start()]))
            parts.append(f"([0-9a-f]{{{len(m.group(1))}}})")
            names.append(m.group(1))
            pos = m.end()
        parts.append(re.escape(shown[pos:]))
        m = re.fullmatch("".join(parts), actual)
        if not m:
            return False
        for name, value in zip(names, m.groups()):
            if self.real.setdefault(name, value) != value:
                return False
        return True

    def typed(self, line: str) -> str:
        """LINE with each shown id (or a prefix of one) replaced by the real one."""
        def real(m):
            word = m.group(1)
            if word in self.real:
                return self.real[word]
            for shown, value in self.real.items():
                if shown.startswith(word):
                    return value[:len(word)]
            return word
        return HEX.sub(real, line)


def compare(shown: list[str], actual: list[str], ids: Ids, what: str):
    shown = [l.rstrip() for l in shown]
    actual = [l.rstrip() for l in actual]
    for i in range(max(len(shown), len(actual))):
        s = shown[i] if i < len(shown) else "<nothing>"
        a = actual[i] if i < len(actual) else "<nothing>"
        if i >= len(shown) or i >= len(actual) or not ids.match_line(s, a):
            check(False, f"{what}: line {i + 1} differs:\n  shown:  {s}\n  actual: {a}\n"
                         f"--- actual output ---\n" + "\n".join(actual))
            return
    check(True, what)


# --- Markdown ----------------------------------------------------------------------------------

def fenced_blocks(text: str):
    """(line number of the fence, info string, lines) of each fenced block."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(`{3,})(.*)$", lines[i])
        if not m:
            i += 1
            continue
        fence, start, body = m.group(1), i, []
        i += 1
        while i < len(lines) and not (lines[i].startswith(fence) and lines[i].strip("`").strip() == ""):
            body.append(lines[i])
            i += 1
        blocks.append((start + 1, m.group(2).strip(), body))
        i += 1
    return blocks


PROMPT = re.compile(r"^(pmdb(?: [^ >]+)?> |\s+\.\.\.> )")


def is_complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command)
        return True
    except ValueError:
        return False


def commands_of(body: list[str]):
    """The `$` commands of a transcript, each with the lines of output shown after it."""
    steps, i = [], 0
    while i < len(body):
        line = body[i]
        if not line.startswith("$ "):
            return None  # output before any command: not a transcript
        command = line[2:]
        i += 1
        while not is_complete(command) and i < len(body):
            command += "\n" + body[i]
            i += 1
        out = []
        while i < len(body) and not body[i].startswith("$ "):
            out.append(body[i])
            i += 1
        steps.append((command, out))
    return steps


# --- a terminal session, through tmux -----------------------------------------------------------

def terminal_session(scratch: Scratch, argv: list[str], shown: list[str], ids: Ids, what: str):
    """Types each prompt line of SHOWN into `pmdb ARGV` in tmux and compares the screen."""
    if shutil.which("tmux") is None:
        check(False, f"{what}: tmux is not installed")
        return
    session = f"pmdb-docs-{os.getpid()}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in scratch.env.items())
    command = f"cd {shlex.quote(str(scratch.root))} && env -i {env} {' '.join(map(shlex.quote, argv))}"

    def tmux(*args):
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout

    def screen():
        lines = tmux("capture-pane", "-p", "-J", "-S", "-", "-t", session).rstrip("\n").split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        return lines

    def prompts(lines):
        return sum(1 for l in lines if PROMPT.match(l + " "))

    def wait_prompts(n):
        deadline = time.time() + 30
        while time.time() < deadline:
            lines = screen()
            if prompts(lines) >= n:
                return lines
            time.sleep(0.05)
        return screen()

    tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "60", command)
    try:
        typed = 0
        wait_prompts(1)
        for i, line in enumerate(shown):
            m = PROMPT.match(line)
            if not m:
                continue
            text = ids.typed(line[m.end():])
            # tmux reads a trailing ';' as its own command separator unless escaped.
            tmux("send-keys", "-t", session, "-l", text[:-1] + "\\;" if text.endswith(";") else text)
            tmux("send-keys", "-t", session, "Enter")
            typed += 1
            lines = wait_prompts(typed + 1)
            # What the screen shows up to the next input line must be what the block shows: this
            # also learns the ids the next lines type.
            upto = next((j for j in range(i + 1, len(shown)) if PROMPT.match(shown[j])), len(shown))
            got = lines[:upto]
            compare(shown[:upto], got, ids, f"{what} (after typing {line.strip()!r})")
            if failures and failures[-1].startswith(what):
                return
        # Nothing more than the block shows: after its last line, the shell waits at a prompt.
        lines = screen()
        check(len(lines) == len(shown) + 1 and PROMPT.match(lines[-1] + " ") is not None,
              f"{what}: the screen goes on after the block:\n" + "\n".join(lines[len(shown):]))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


# --- README.md ----------------------------------------------------------------------------------

def answers_in(output: str, answers: list[str]) -> bool:
    pos = 0
    for a in answers:
        m = re.compile(r"(?<![\w.])" + re.escape(a) + r"(?![\w.])").search(output, pos)
        if not m:
            return False
        pos = m.end()
    return True


def run_readme(scratch: Scratch, databases):
    text = (SOURCE / "README.md").read_text(encoding="utf-8")
    ids = Ids()
    kinds: dict[str, int] = {}
    for line_no, info, body in fenced_blocks(text):
        what = f"README.md:{line_no}"
        server = any(SERVER_URL.search(l) for l in body)
        if server:
            if databases is None:
                kinds["needs a PostgreSQL server: not run"] = kinds.get("needs a PostgreSQL server: not run", 0) + 1
                continue
            body = databases.mapped(body)
            kinds["on PostgreSQL"] = kinds.get("on PostgreSQL", 0) + 1
        elif SERVER_BLOCKS_ONLY:
            continue
        steps = commands_of(body) if body and body[0].startswith("$ ") else None
        if steps is not None and len(steps) == 1 and any(PROMPT.match(l) for l in steps[0][1]):
            # `$ pmdb DB` then a session at its prompts.
            argv = shlex.split(steps[0][0])
            argv = [PMDB, "--now", NOW, *argv[1:]]
            terminal_session(scratch, argv, steps[0][1], ids, what)
            kinds["terminal session"] = kinds.get("terminal session", 0) + 1
        elif steps is not None:
            for command, out in steps:
                status, got = scratch.sh(ids.typed(command))
                compare(out, got.rstrip("\n").split("\n") if got else [], ids, f"{what}: $ {command.splitlines()[0]}")
            kinds["shell transcript"] = kinds.get("shell transcript", 0) + 1
        elif body and body[0].startswith("pmdb ") and "—" in body[0] and PROMPT.match(body[2] if len(body) > 2 else ""):
            terminal_session(scratch, [PMDB, "--now", NOW], body, ids, what)
            kinds["terminal session"] = kinds.get("terminal session", 0) + 1
        elif body and all(PROMPT.match(l) for l in body if l.strip()):
            for l in body:
                statement, _, comment = l[PROMPT.match(l).end():].partition("--")
                status, got = scratch.sh(f"pmdb build/demo.pmdb -c {shlex.quote(statement.strip())}")
                check(status == 0, f"{what}: {statement.strip()}: exit status {status}: {got}")
                answer = comment.split(",")[0].split()[0] if comment.strip() else ""
                if re.fullmatch(r"[0-9][0-9dhms.]*", answer):
                    check(answers_in(got, [answer]), f"{what}: {statement.strip()}: {answer} is not in\n{got}")
            kinds["statements"] = kinds.get("statements", 0) + 1
        elif body and body[0].startswith("pmdb [DB]"):
            usage(body, what)
            kinds["usage"] = kinds.get("usage", 0) + 1
        elif info == "json":
            for l in body:
                json.loads(l)
                (scratch.root / "event.jsonl").write_text(l + "\n", encoding="utf-8")
                status, got = scratch.sh("pmdb import event.pmdb event.jsonl")
                check(status == 0 and "1 events appended" in got, f"{what}: the example event is refused: {got}")
            kinds["event"] = kinds.get("event", 0) + 1
        elif info == "sh":
            for l in body:
                command, _, comment = l.partition("#")
                if server and command.startswith(SERVER_TOOLS):
                    # On a server, its own tools run too (roles, pg_dump, pg_restore): each must succeed.
                    status, got = scratch.sh(command.strip())
                    check(status == 0, f"{what}: {command.strip()}: exit status {status}: {got}")
                    continue
                if not command.startswith("pmdb "):
                    continue
                status, got = scratch.sh(command.strip() + " 2>&1 >/dev/null")
                check(status == 0 and got == "", f"{what}: {command.strip()}: exit status {status}, stderr {got!r}")
                status, got = scratch.sh(command.strip())
                answers = [a.strip() for a in comment.split(",") if a.strip()]
                check(answers_in(got, answers), f"{what}: {command.strip()}: {answers} not in order in\n{got}")
            kinds["commands"] = kinds.get("commands", 0) + 1
        else:
            check(False, f"{what}: a block of no known kind (```{info}): add it to {Path(__file__).name}")
    return kinds


def usage(body: list[str], what: str):
    general = subprocess.run([PMDB, "--help"], capture_output=True, text=True).stdout
    shell = subprocess.run([PMDB, "x.pmdb", "--help"], capture_output=True, text=True).stdout
    for l in body:
        words = l.split()
        if not words or words[0] != "pmdb":
            continue
        command = words[1]
        if command.startswith("["):
            helptext = general + shell
            check(re.search(r"^\s+pmdb \[DB\]", general, re.M) is not None, f"{what}: pmdb --help has no `pmdb [DB]`")
        else:
            check(re.search(rf"^\s+pmdb {command} ", general, re.M) is not None,
                  f"{what}: `pmdb {command}` is not in pmdb --help")
            r = subprocess.run([PMDB, command, "--help"], capture_output=True, text=True)
            check(r.returncode == 0, f"{what}: pmdb {command} --help: exit status {r.returncode}")
            helptext = r.stdout
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", l):
            check(re.search(rf"(?<![\w-]){re.escape(option)}\b", helptext) is not None,
                  f"{what}: {option} (in `{l.strip()}`) is not in the help of pmdb {command}")


def check_github_table(text: str):
    """The README's GitHub table against an answer computed from the archive without pmdb."""
    sys.path.insert(0, str(SOURCE / "tests" / "tools"))
    import github_answers as oracle
    archive = SOURCE / "tests" / "data" / "github-statuses" / "incidents.jsonl"
    impact = {}
    for line in archive.read_text(encoding="utf-8").splitlines():
        if line.strip():
            a = json.loads(line)
            impact[a["url"].rstrip("/").rsplit("/", 1)[-1]] = a["impact"]
    by_severity: dict[str, list] = {}
    for inc in oracle.load(archive):
        # time from first status investigating to status resolved: the first resolved post at
        # or after the first investigating one, in (at, seq) order; null without either.
        start = next((k for k, (_, status) in enumerate(inc.posts) if status == "investigating"), None)
        end = None if start is None else next((at for at, status in inc.posts[start:] if status == "resolved"), None)
        by_severity.setdefault(impact[inc.code], []).append(None if end is None else end - inc.posts[start][0])

    def shown(ms):
        return "" if ms is None else oracle.duration_text(ms)

    want = []
    for severity, ttrs in sorted(by_severity.items(), key=lambda kv: -len(kv[1])):
        known = [t for t in ttrs if t is not None]
        want.append([severity, str(len(ttrs)), shown(oracle.nearest_rank(known, 50)),
                     shown(oracle.nearest_rank(known, 90)), shown(max(known) if known else None)])
    table = text.split("| severity", 1)[1].split("\n")[2:]
    got = [[c.strip() for c in l.strip().strip("|").split("|")]
           for l in table[:next(i for i, l in enumerate(table) if not l.startswith("| "))]]
    check(got == want, f"README.md: the GitHub table is not what the archive says:\n  shown:    {got}\n  archive:  {want}")


# --- the manual pages ---------------------------------------------------------------------------

def man_examples(page: Path) -> list[list[str]]:
    text = page.read_text(encoding="utf-8")
    section = text.split(".Sh EXAMPLES", 1)[1].split("\n.Sh ", 1)[0]
    blocks = re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed", section, re.M | re.S)
    return [[l.replace("\\e", "\\") for l in b.rstrip("\n").split("\n")] for b in blocks]


def run_man(scratch: Scratch):
    ids = Ids()
    installed = "/usr/share/doc/pmdb/examples"
    # The CSV timeline of the example: the test timeline with its time column named `occurred`
    # and a `notes` column the import is told to drop.
    rows = (SOURCE / "tests" / "data" / "timeline.csv").read_text(encoding="utf-8").split("\n", 1)
    header = rows[0].replace("Time", "occurred") + ",notes"
    table = list(csv.reader(io.StringIO(rows[1])))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for r in table:
        w.writerow(r + ["internal remark"])
    (scratch.root / "timeline.csv").write_text(header + "\n" + out.getvalue(), encoding="utf-8")
    n = 0
    for block in man_examples(SOURCE / "docs" / "man" / "pmdb.1"):
        steps = commands_of(block)
        check(steps is not None, f"pmdb.1 EXAMPLES: a block that is not a transcript: {block}")
        for command, out in steps or []:
            run = command.replace(installed + "/demo.pmdb", "build/demo.pmdb").replace(installed, "examples")
            run = re.sub(r"curl -s \S+", "cat tests/data/statuspage-sample.json", run)
            if "--from HASH" in run:
                head = re.search(r"Chain head: `([0-9a-f]{64})`", (scratch.root / "meta.md").read_text())
                check(head is not None, "pmdb.1 EXAMPLES: meta.md has no chain head")
                run = run.replace("HASH", head.group(1) if head else "HASH")
            if re.match(r"pmdb( --readonly)? \S+$", run):
                run += " -c '.info'"  # the shell itself: opened, asked one thing, closed
            status, got = scratch.sh(run)
            what = f"pmdb.1 EXAMPLES: $ {command.splitlines()[0]}"
            check(status == 0, f"{what}: exit status {status}:\n{got}")
            if out:
                compare(out, got.rstrip("\n").split("\n"), ids, what)
            n += 1
    for block in man_examples(SOURCE / "docs" / "man" / "pmql.7"):
        (scratch.root / "pmql-examples.pmq").write_text("\n".join(block) + "\n", encoding="utf-8")
        shutil.copy(scratch.root / "build" / "demo.pmdb", scratch.root / "pmql.pmdb")
        status, got = scratch.sh(f"pmdb pmql.pmdb --now {NOW} -f pmql-examples.pmq 2>&1 >/dev/null")
        # `report ... to FILE` says what it wrote; nothing else may reach stderr.
        check(status == 0 and got == "wrote meta.md\n", f"pmql.7 EXAMPLES: exit status {status}: {got}")
        check((scratch.root / "meta.md").read_text().startswith("# "), "pmql.7 EXAMPLES: meta.md is not a report")
        n += 1
    return n


def main():
    conninfo = os.environ.get("PMDB_TEST_PG", "").strip()
    if SERVER_BLOCKS_ONLY:
        conninfo = pg_util.server_or_skip("docs_commands --server-blocks")
    databases = Databases(conninfo) if conninfo else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            readme_dir, man_dir = Path(tmp) / "readme", Path(tmp) / "man"
            readme_dir.mkdir()
            man_dir.mkdir()
            scratch = Scratch(readme_dir)
            if databases:
                scratch.env.update(databases.env())
            kinds = run_readme(scratch, databases)
            if SERVER_BLOCKS_ONLY:
                check(kinds.get("on PostgreSQL", 0) > 0, "README.md: no block names a PostgreSQL store")
                return TALLY.report("docs_commands --server-blocks", f"README blocks {dict(sorted(kinds.items()))}")
            check_github_table((SOURCE / "README.md").read_text(encoding="utf-8"))
            examples = run_man(Scratch(man_dir))
    finally:
        if databases:
            databases.close()
    return TALLY.report("docs_commands", f"README blocks {dict(sorted(kinds.items()))}, {examples} manual page examples")


if __name__ == "__main__":
    sys.exit(main())
