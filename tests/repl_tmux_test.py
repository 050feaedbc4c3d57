#!/usr/bin/env python3
"""Drives the real pmdb REPL in a terminal (tmux send-keys / capture-pane) and checks what a
person would see: completion of an incident id, a multi-line statement with its continuation
prompt, Ctrl-C on a typed line, an error with its caret, `.mode markdown` output, and history
recalled after a restart.

Usage: repl_tmux_test.py PATH_TO_PMDB
"""
import os
import shutil
import sys
import tempfile
import time

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


def start(env_file):
    tmux("new-session", "-d", "-s", SESSION, "-x", "150", "-y", "50",
         f"env -i HOME={tempfile.gettempdir()} TERM=xterm PATH=/usr/bin:/bin NO_COLOR=1 "
         f"PMDB_HISTORY={env_file} PAGER=cat {PMDB}")
    wait_for(lambda t: "pmdb>" in t, "the first prompt")


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
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)

    return PANE.report("repl")


if __name__ == "__main__":
    sys.exit(main())
