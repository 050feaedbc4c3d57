#!/usr/bin/env python3
"""Drives the real pmdb REPL in a terminal (tmux send-keys / capture-pane) and checks what a
person would see: completion of an incident id, a multi-line statement with its continuation
prompt, Ctrl-C on a typed line, an error with its caret, `.mode markdown` output, history
recalled after a restart; `help`, `\\q` and `quit` without `;`; the startup file (~/.pmdbrc,
$PMDB_INIT, --no-init); a table fitted to an 80-column terminal; `.once FILE` without colour
codes while the screen has them.

Usage: repl_tmux_test.py PATH_TO_PMDB
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

from tmux_pane import Pane, have_tmux

PMDB = os.path.abspath(sys.argv[1])
PANE = Pane(f"pmdb-test-{os.getpid()}")
SESSION = PANE.session
tmux, screen, wait_for, check = PANE.tmux, PANE.screen, PANE.wait_for, PANE.check


SPECIAL = {"Enter", "Tab", "Up", "C-c", "C-l", "C-u"}


def keys(*k):
    """Sends keys: names in SPECIAL as keys, anything else as literal text."""
    for key in k:
        if key in SPECIAL:
            tmux("send-keys", "-t", SESSION, key)
        else:
            # tmux reads a trailing ';' as a command separator unless it is escaped.
            if key.endswith(";"):
                key = key[:-1] + "\\;"
            tmux("send-keys", "-t", SESSION, "-l", key)


HOME = tempfile.mkdtemp()  # no ~/.pmdbrc of the person running the tests


def start(env_file, width=150, env="NO_COLOR=1", args="", prompt="pmdb>"):
    tmux("new-session", "-d", "-s", SESSION, "-x", str(width), "-y", "50",
         f"env -i HOME={HOME} TERM=xterm PATH=/usr/bin:/bin {env} "
         f"PMDB_HISTORY={env_file} PAGER=cat {PMDB} {args}")
    wait_for(lambda t: prompt in t, "the first prompt")


def alive():
    return subprocess.run(["tmux", "has-session", "-t", SESSION], capture_output=True).returncode == 0


def wait_exit(what):
    """Waits for pmdb to leave (its tmux session then ends)."""
    PANE.checks += 1
    deadline = time.time() + 10
    while time.time() < deadline:
        if not alive():
            return
        time.sleep(0.05)
    PANE.failures.append(f"pmdb did not leave after {what}; screen was:\n{screen()}")
    stop()


def joined():
    """The screen with wrapped lines joined: a row that wrapped is one long line here."""
    return tmux("capture-pane", "-p", "-J", "-t", SESSION)


def display_width(line):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def stop():
    tmux("kill-session", "-t", SESSION, check=False)


def clear():
    keys("C-l")
    time.sleep(0.1)


def main():
    if not have_tmux():
        return 1
    tmp = tempfile.mkdtemp()
    history = os.path.join(tmp, "history")
    try:
        start(history)
        text = screen()
        check("pmdb " in text and "2 incidents" in text and ".help" in text, "banner with version, counts and .help", text)

        # Completion of an incident id.
        keys("use openai-20", "Tab")
        text = wait_for(lambda t: "use openai-2024-12-11" in t, "completion of the incident id")
        keys(";", "Enter")
        text = wait_for(lambda t: "pmdb openai-2024-12-11>" in t, "the prompt naming the current incident")

        # A statement over two lines, with the continuation prompt.
        keys("time from first alert", "Enter")
        text = wait_for(lambda t: "...>" in t, "the continuation prompt")
        keys("to status identified;", "Enter")
        text = wait_for(lambda t: "40m" in t, "the answer 40m")

        # Ctrl-C drops the typed line and gives a fresh prompt; the next statement still works.
        clear()
        keys("show incid")
        wait_for(lambda t: "show incid" in t, "typed text")
        keys("C-c")
        text = wait_for(lambda t: "^C" in t, "^C after Ctrl-C")
        keys("show types;", "Enter")
        text = wait_for(lambda t: "status" in t and "comm" in t, "show types after Ctrl-C")
        check("show incidshow" not in text, "the interrupted text is gone", text)

        # An error with its caret.
        clear()
        keys("time from first report to 9 fixed;", "Enter")
        text = wait_for(lambda t: "error: line 1, column 27" in t, "the error position")
        lines = text.splitlines()
        src = [i for i, l in enumerate(lines) if l.startswith("  time from first report to 9 fixed")]
        check(bool(src) and src[-1] + 1 < len(lines) and lines[src[-1] + 1] == " " * 28 + "^",
              "the caret under column 27", text)

        # Markdown mode.
        clear()
        keys(".mode markdown", "Enter")
        keys("show incidents;", "Enter")
        text = wait_for(lambda t: "| openai-2024-12-11" in t or "| meta-2024-12-11" in t, "a markdown table")
        check(any(l.startswith("|--") or l.startswith("| --") or l.startswith("|:-") or l.startswith("| :-") for l in text.splitlines()),
              "the markdown alignment row", text)

        keys(".quit", "Enter")
        time.sleep(0.3)
        stop()

        # History survives a restart: Up recalls the last line typed.
        start(history)
        keys("Up")
        text = wait_for(lambda t: "pmdb> .quit" in t, "history recalled after restart")
        keys("C-u")
        keys("Up")
        text = wait_for(lambda t: "pmdb> show incidents;" in t, "the line before, recalled")
        keys("C-u")

        # `help` alone: the help at once, no continuation prompt.
        clear()
        keys("help", "Enter")
        text = wait_for(lambda t: ".mode" in t and ".once" in t, "the help after `help`")
        check("...>" not in text, "no continuation prompt after `help`", text)
        clear()
        keys("  \\?  ", "Enter")
        text = wait_for(lambda t: ".once" in t and "Statements" in t, "the help after \\?")
        # `.tables` and `\dt`: one line saying what pmdb has instead.
        clear()
        keys(".tables", "Enter")
        text = wait_for(lambda t: "pmdb has no tables" in t and "show incidents;" in t, "the hint for .tables")
        keys("\\dt", "Enter")
        text = wait_for(lambda t: t.count("pmdb has no tables") == 2, "the hint for \\dt")
        # `use X;` then `timeline;` reads the current incident.
        clear()
        keys("use meta-2024-12-11;", "Enter", "timeline | select type | limit 2;", "Enter")
        text = wait_for(lambda t: "(2 rows)" in t, "timeline of the current incident")
        check("error" not in text, "`timeline;` after `use` is no error", text)
        # `\q` leaves, without `;`.
        keys("\\q", "Enter")
        wait_exit("\\q")

        # `quit` (no `;`) and `exit;` leave too.
        start(history)
        keys("quit", "Enter")
        wait_exit("quit")
        start(history)
        keys("  exit;  ", "Enter")
        wait_exit("exit;")

        # The startup file: ~/.pmdbrc, run before the first prompt; its error names FILE:LINE
        # and does not stop the shell.
        rc = os.path.join(HOME, ".pmdbrc")
        with open(rc, "w") as f:
            f.write(".mode box\nuse meta-2024-12-11;\nbogus statement;\n.nullvalue (none)\n")
        start(history, prompt="pmdb meta-2024-12-11>")
        text = screen()
        check(f"{rc}:3:1: error" in text, "the startup file's error with FILE:LINE", text)
        keys("time from first report to last status resolved;", "Enter")
        text = wait_for(lambda t: "│ (none)" in t or "(none) │" in t, "box mode and .nullvalue from ~/.pmdbrc")
        keys(".show", "Enter")
        text = wait_for(lambda t: "init: " + rc in t, ".show naming the startup file")
        check("mode: box" in text and 'nullvalue: "(none)"' in text, ".show lists mode and nullvalue", text)
        keys(".quit", "Enter")
        wait_exit(".quit")
        # $PMDB_INIT wins over ~/.pmdbrc; --no-init reads none.
        init = os.path.join(tmp, "init.pmq")
        with open(init, "w") as f:
            f.write(".mode markdown\nuse openai-2024-12-11;\n")
        start(history, env=f"NO_COLOR=1 PMDB_INIT={init}", prompt="pmdb openai-2024-12-11>")
        keys(".mode", "Enter")
        wait_for(lambda t: "\nmarkdown" in t, "the mode from $PMDB_INIT")
        keys(".quit", "Enter")
        wait_exit(".quit")
        start(history, args="--no-init")
        keys(".mode", "Enter")
        text = wait_for(lambda t: "\ntable" in t, "no startup file with --no-init")
        check("meta-2024-12-11>" not in text, "--no-init: no current incident", text)
        keys(".quit", "Enter")
        wait_exit(".quit")
        os.remove(rc)

        # A store that does not exist: the shell says it creates one, and it is there after.
        new_store = os.path.join(tmp, "new.pmdb")
        start(history, args=new_store)
        text = wait_for(lambda t: "creating a new store" in t, "the shell saying it creates the store")
        check(f"pmdb: {new_store} does not exist: creating a new store" in text, "the new store's path is named", text)
        keys(".quit", "Enter")
        wait_exit(".quit")
        check(os.path.exists(new_store), "the interactive shell created the store", os.listdir(tmp))

        # An 80-column terminal: no row longer than 80 columns, long text cut with `…`.
        start(history, width=80)
        keys("timeline meta-2024-12-11;", "Enter")
        text = wait_for(lambda t: "(13 rows)" in t, "the timeline at 80 columns")
        rows = [l for l in joined().splitlines() if l.startswith(("+", "|"))]
        check(len(rows) == 13 + 4, "the 13 rows, header and rules, one line each", joined())
        check(all(display_width(l) <= 80 for l in rows), "no line wider than 80 columns", joined())
        check(any(display_width(l) == 80 for l in rows), "the room is used", joined())
        check("…" in text, "long text cut with …", text)
        check(all(l.endswith(("|", "+")) for l in rows), "every row ends with its border", joined())

        # `.once FILE` in table mode with colour on: the file has no escape codes, the screen has.
        out = os.path.join(tmp, "once.txt")
        keys(".quit", "Enter")
        wait_exit(".quit")
        start(history, env="")  # colour on
        keys(".mode box", "Enter", f".once {out}", "Enter", "show incidents;", "Enter", "show incidents;", "Enter")
        wait_for(lambda t: "│ openai-2024-12-11" in t, "the second result on the screen")
        colored = tmux("capture-pane", "-p", "-e", "-t", SESSION)
        check("\x1b[" in colored, "colour on the screen", colored)
        with open(out, "rb") as f:
            data = f.read()
        check(b"openai-2024-12-11" in data and b"\x1b" not in data, f".once file without ESC: {data[:200]!r}", "")
        keys(".quit", "Enter")
        wait_exit(".quit")
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(HOME, ignore_errors=True)

    return PANE.report("repl")


if __name__ == "__main__":
    sys.exit(main())
