"""What the tmux tests share: one tmux session, driven with send-keys and read with
capture-pane, and the tally of their checks."""
import shutil
import subprocess
import sys
import time


def have_tmux():
    """Whether tmux is installed; says so when it is not."""
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return False
    return True


class Pane:
    def __init__(self, session):
        self.session = session
        self.failures = []
        self.checks = 0

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", *args], check=check, capture_output=True, text=True).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, predicate, what, timeout=10.0):
        """Polls the screen until `predicate` holds; a timeout is a failed check."""
        self.checks += 1
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.05)
        self.failures.append(f"timed out waiting for {what}; screen was:\n{self.screen()}")
        return self.screen()

    def check(self, cond, what, text):
        self.checks += 1
        if not cond:
            self.failures.append(f"{what}; screen was:\n{text}")

    def report(self, name):
        """Prints the failures and the tally; the exit status."""
        for f in self.failures:
            print("FAIL:", f, file=sys.stderr)
        print(f"{name}: {self.checks - len(self.failures)} checks passed, {len(self.failures)} failed")
        return 1 if self.failures else 0
