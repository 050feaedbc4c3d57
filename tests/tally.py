"""What the Python tests share: the tally of their checks (each failure kept with what it was)
and the summary line that ends a run."""
import sys
import threading


class Tally:
    def __init__(self):
        self.failures: list[str] = []
        self.checks = 0
        self._lock = threading.Lock()  # checks may come from several threads

    def check(self, cond, what):
        """Counts a check; a false COND is a failure described by WHAT. Returns COND."""
        with self._lock:
            self.checks += 1
            if not cond:
                self.failures.append(what)
        return cond

    def report(self, name, details=""):
        """Prints every failure, then one summary line; returns the exit status."""
        for f in self.failures:
            print("FAIL:", f, file=sys.stderr)
        extra = f" ({details})" if details else ""
        if self.failures:
            print(f"{name}: {len(self.failures)} of {self.checks} checks failed{extra}")
            return 1
        print(f"{name}: {self.checks} checks passed{extra}")
        return 0
