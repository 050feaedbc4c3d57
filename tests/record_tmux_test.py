#!/usr/bin/env python3
"""Records an incident in a live pmdb shell (tmux send-keys / capture-pane) and checks what a
person sees: each `record` answers with the event's short id, a mistake gets a caret and writes
nothing, `correct` with a printed id changes an answer (40m becomes 1h23m), `retract last`
withdraws the last event recorded, and a second shell on the same file sees it all.

Usage: record_tmux_test.py PATH_TO_PMDB
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tmux_pane import Pane, have_tmux

PMDB = os.path.abspath(sys.argv[1])
PANE = Pane(f"pmdb-record-{os.getpid()}")
SESSION = PANE.session
tmux, screen, wait_for, check = PANE.tmux, PANE.screen, PANE.wait_for, PANE.check


def typed(line):
    """Types one line and Enter (tmux reads a trailing ';' as a separator unless escaped)."""
    tmux("send-keys", "-t", SESSION, "-l", line[:-1] + "\\;" if line.endswith(";") else line)
    tmux("send-keys", "-t", SESSION, "Enter")


def clear():
    tmux("send-keys", "-t", SESSION, "C-l")
    time.sleep(0.1)


def ask(line, pattern, what):
    """Types a statement on a clear screen and waits until the screen matches `pattern`."""
    clear()
    typed(line)
    text = wait_for(lambda t: re.search(pattern, t) is not None, what)
    return text, re.search(pattern, text)


def main():
    if not have_tmux():
        return 1
    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "live.pmdb")
    try:
        tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "50",
             f"env -i HOME={tmp} TERM=xterm PATH=/usr/bin:/bin NO_COLOR=1 PMDB_SOURCE=analyst "
             f"PMDB_HISTORY={tmp}/history PAGER=cat {PMDB} --now 2026-11-30T12:00:00Z {db}")
        wait_for(lambda t: "pmdb>" in t, "the first prompt")

        text, _ = ask('new incident acme-2026-11-30 title "Checkout errors" org "Acme" services ("api");',
                      r"pmdb acme-2026-11-30>", "the new incident as the current one")
        check(re.search(r"recorded e[0-9a-f]{11} \(incident acme-2026-11-30 at ", text) is not None,
              "new incident answers with the incident event's id", text)

        text, m = ask('record alert "p99 latency > 2s" at 2026-11-30T10:13Z source "pagerduty";',
                      r"recorded (e[0-9a-f]{11}) \(alert at 2026-11-30 10:13Z\)", "the alert's id")
        alert_id = m.group(1) if m else "e000000000000"
        ask('record status investigating "Looking into it" at 2026-11-30T10:17Z;',
            r"recorded e[0-9a-f]{11} \(status investigating at 2026-11-30 10:17Z\)", "the status's id")
        ask('record status identified "Found it" at 2026-11-30T10:53Z;',
            r"recorded e[0-9a-f]{11} \(status identified at 2026-11-30 10:53Z\)", "the second status's id")
        ask("time from first alert to status identified;", r"\|\s+40m \|", "40m before the correction")

        # A mistake: the caret under the misspelt status, nothing written.
        text, _ = ask("record status identifed;", r"error: line 1, column 15: unknown status 'identifed'; "
                      r"did you mean 'identified'\?", "the error")
        lines = text.splitlines()
        src = [i for i, l in enumerate(lines) if l.startswith("  record status identifed;")]
        check(bool(src) and src[-1] + 1 < len(lines) and lines[src[-1] + 1] == " " * 16 + "^",
              "the caret under column 15", text)

        # Correct the alert by the id the shell printed: the answer changes.
        text, _ = ask(f'correct {alert_id} at 09:30 because "the alerting host\'s clock was late";',
                      rf"corrected e[0-9a-f]{{11}} \(correction of {alert_id}\)", "the correction")
        ask("time from first alert to status identified;", r"\|\s+1h23m \|", "1h23m after the correction")

        # Retract the last event recorded.
        ask('record report "Users cannot pay" at 2026-11-30T09:00Z source "downdetector";',
            r"recorded e[0-9a-f]{11} \(report at 2026-11-30 09:00Z\)", "the report's id")
        ask("time from first report to status identified;", r"\|\s+1h53m \|", "1h53m with the report")
        ask('retract last because "about another outage";', r"retracted e[0-9a-f]{11} \(retraction of e",
            "the retraction")
        text, _ = ask("timeline acme-2026-11-30 | select at, type, source, corrected;", r"\(\d+ rows?\)",
                      "the timeline")
        check("report" not in text.split("select at")[-1], "the retracted report is gone from the timeline", text)
        check(re.search(r"2026-11-30 09:30Z\s+\| alert\s+\| pagerduty\s+\|\s+1 \|", text) is not None,
              "the alert at its corrected time, marked corrected", text)

        # Another shell on the same file sees the corrected answer.
        other = subprocess.run([PMDB, db, "--mode", "csv", "--headers", "off", "-c",
                                "time from first alert to status identified in acme-2026-11-30;"],
                               capture_output=True, text=True)
        check(other.returncode == 0 and other.stdout == "4980\n",  # 1h23m, in seconds (csv)
              f"a second process reads 1h23m (got {other.stdout!r}, {other.stderr!r})", "")
        typed(".quit")
        time.sleep(0.3)
    finally:
        tmux("kill-session", "-t", SESSION, check=False)
        shutil.rmtree(tmp, ignore_errors=True)

    return PANE.report("record")


if __name__ == "__main__":
    sys.exit(main())
