#!/usr/bin/env python3
"""The manual pages: clean under `mandoc -T lint -W warning`, and in step with the program.

Usage: man_test.py PMDB SOURCE_DIR

- pmdb.1 names every option of `pmdb --help`, `pmdb DB --help` and `pmdb COMMAND --help`, and
  every dot-command of `.help`; every option and dot-command it names exists.
- pmql.7 names every function and keyword of query/words.cpp; every function it names exists.

Text between `.\\" BEGIN PENDING` and `.\\" END PENDING` describes what is being added alongside
the page: it is linted, but not required to exist yet.
Exit status 77 (skipped) when mandoc is not installed.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

pmdb, source = sys.argv[1], Path(sys.argv[2])
man_dir = source / "docs" / "man"
pages = [man_dir / "pmdb.1", man_dir / "pmql.7"]
problems: list[str] = []


def run(*args: str) -> str:
    r = subprocess.run([pmdb, *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        problems.append(f"pmdb {' '.join(args)}: exit status {r.returncode}: {r.stderr}")
    return r.stdout


def without_pending(text: str) -> str:
    return re.sub(r'^\.\\" BEGIN PENDING.*?^\.\\" END PENDING[^\n]*\n', "", text, flags=re.M | re.S)


def without_comments(text: str) -> str:
    return re.sub(r'^\.\\".*\n', "", text, flags=re.M)


# Options of the help texts: -c, --mode, ... (not a bare '-', not words like read-only).
def help_options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w'-])(--?[a-z][a-z-]*)", text))


# Options of an mdoc page: `Fl -mode`, `Fl c`.
def man_options(text: str) -> set[str]:
    found = set()
    for line in text.splitlines():
        if not line.startswith("."):
            continue
        words = line.split()
        for i, w in enumerate(words[:-1]):
            if w in ("Fl", ".Fl") and re.fullmatch(r"-?[a-z][a-z-]*", words[i + 1]):
                found.add("-" + words[i + 1])
    return found


def dot_commands(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])(\.[a-z]+)\b", text))


# 1. mandoc lint
if shutil.which("mandoc") is None:
    print("SKIP: mandoc is not installed (scripts/setup installs it); the man pages were not linted")
    sys.exit(77)
for page in pages:
    r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", str(page)], capture_output=True, text=True)
    if r.returncode != 0:
        problems.append(f"mandoc -T lint -W warning {page.name} (exit status {r.returncode}):\n{r.stdout}{r.stderr}")

# 2. pmdb.1 against the help texts
man1 = pages[0].read_text()
man1_all, man1_now = man_options(man1), man_options(without_pending(man1))
helps = {"pmdb --help": run("--help"), "pmdb DB --help": run(":memory:", "--help")}
for command in ("import", "export", "rebuild", "verify", "report"):
    helps[f"pmdb {command} --help"] = run(command, "--help")
documented_anywhere = set()
for name, text in helps.items():
    options = help_options(text)
    documented_anywhere |= options
    for option in sorted(options - man1_all):
        problems.append(f"pmdb.1 does not describe {option} (from `{name}`)")
for option in sorted(man1_now - documented_anywhere):
    problems.append(f"pmdb.1 describes {option}, which no help text names (mark it PENDING if it is coming)")
if "man pmdb" not in helps["pmdb --help"]:
    problems.append("`pmdb --help` does not mention the manual pages")

help_text = subprocess.run([pmdb, "-c", ".help"], capture_output=True, text=True, timeout=30).stdout
shell_dots = {d for d in dot_commands(help_text) if re.search(rf"^{re.escape(d)}\b", help_text, re.M)}
if len(shell_dots) < 10:
    problems.append(f"`.help` lists only {sorted(shell_dots)}")
man1_dots_all = set(re.findall(r"^\.It Ic (\.[a-z]+)", man1, re.M)) | set(re.findall(r"Ic (\.[a-z]+)", man1))
man1_dots_now = set(re.findall(r"^\.It Ic (\.[a-z]+)", without_pending(man1), re.M)) | set(
    re.findall(r"^\.It Ic \.[a-z]+ , Ic (\.[a-z]+)", without_pending(man1), re.M))
for d in sorted(shell_dots - man1_dots_all):
    problems.append(f"pmdb.1 does not describe the dot-command {d}")
for d in sorted(man1_dots_now - shell_dots):
    problems.append(f"pmdb.1 describes the dot-command {d}, which `.help` does not list")

# 3. pmql.7 against query/words.cpp
man7 = without_comments(pages[1].read_text())
words_cpp = (source / "query" / "words.cpp").read_text()
functions = set(re.findall(r'^\s*\{"([a-z_0-9]+)", f::', words_cpp, re.M))
keywords = set(re.findall(r'^\s*\{"([a-z_0-9]+)", k::', words_cpp, re.M))
if len(functions) < 20 or len(keywords) < 40:
    problems.append(f"read only {len(functions)} functions and {len(keywords)} keywords from query/words.cpp")
man7_functions = set(re.findall(r"Fn ([a-z_0-9]+)", man7))
for f in sorted(functions - man7_functions):
    problems.append(f"pmql.7 does not describe the function {f}()")
for f in sorted(set(re.findall(r"Fn ([a-z_0-9]+)", without_pending(pages[1].read_text()))) - functions):
    problems.append(f"pmql.7 describes {f}(), which query/words.cpp does not have")
for k in sorted(keywords):
    if not re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", man7):
        problems.append(f"pmql.7 does not mention the keyword {k}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"ok: {len(pages)} pages lint clean; pmdb.1 covers {len(documented_anywhere)} options and "
      f"{len(shell_dots)} dot-commands; pmql.7 covers {len(functions)} functions and {len(keywords)} keywords")
