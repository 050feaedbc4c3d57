#!/usr/bin/env bash
# Installing pmdb: what `cmake --install` puts where, and the Debian package `cpack -G DEB` makes.
#
# Usage: tests/install_test.sh BUILD_DIR VERSION
#
# (a) always: installs the build into a temporary DESTDIR with prefix /usr and checks the files,
#     the installed binary (--version, the demo question), the man pages (man -l, mandoc) and the
#     bash completion.
# (b) as root with apt-get: makes the .deb with cpack, checks its control fields and contents,
#     installs it with apt-get, checks /usr/bin/pmdb, `man -w pmdb` and the demo question, and
#     removes the package again (also when a check fails). Otherwise (b) is skipped, said, and the
#     exit status is 77 (ctest's SKIP_RETURN_CODE) once (a) has passed.
set -uo pipefail

build=$(cd "$1" && pwd)
version=$2
tmp=$(mktemp -d)
installed_pkg=0
failures=0

cleanup() {
  if [ "$installed_pkg" = 1 ]; then
    echo "install_test: removing the pmdb package"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 remove -y -qq pmdb >/dev/null 2>&1 ||
      echo "install_test: FAILED to remove the pmdb package: run apt-get remove pmdb" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# check_demo BINARY: the demo question from the README, on the in-memory demo store.
check_demo() {
  local out
  out=$("$1" -c 'use openai-2024-12-11; time from first alert to status identified;' 2>&1) ||
    fail "$1 -c '...': exit status $?: $out"
  grep -Eq '^\| +40m \|$' <<<"$out" || fail "$1: the demo question did not answer 40m:"$'\n'"$out"
}

# check_version BINARY
check_version() {
  local out
  out=$("$1" --version 2>&1) || fail "$1 --version: exit status $?"
  grep -Eq "^pmdb $version \(SQLite [0-9.]+( \(loaded: [0-9.]+\))?, libpq [0-9.]+, Boost [0-9.]+, fmt [0-9.]+, RapidJSON [0-9.]+\)\$" <<<"$out" ||
    fail "$1 --version printed: $out"
}

# check_man FILE WORD: man renders FILE and the text holds WORD.
check_man() {
  local out
  out=$(MANWIDTH=80 MANPAGER=cat man -l "$1" 2>&1) || fail "man -l $1: exit status $?: $out"
  grep -q "$2" <<<"$out" || fail "man -l $1: no '$2' in:"$'\n'"$(head -5 <<<"$out")"
  if command -v mandoc >/dev/null; then
    mandoc -T utf8 "$1" >/dev/null || fail "mandoc $1: exit status $?"
  fi
}

# ---------------------------------------------------------------------------------------------
# (a) cmake --install into a temporary DESTDIR
dest=$tmp/dest
if ! out=$(DESTDIR=$dest cmake --install "$build" --prefix /usr 2>&1); then
  echo "$out" >&2
  echo "FAIL: cmake --install $build" >&2
  exit 1
fi

expected=(
  usr/bin/pmdb
  usr/share/man/man1/pmdb.1
  usr/share/man/man7/pmql.7
  usr/share/bash-completion/completions/pmdb
  usr/share/zsh/vendor-completions/_pmdb
  usr/share/doc/pmdb/README.md
  usr/share/doc/pmdb/docs/pmql.md
  usr/share/doc/pmdb/examples/openai-2024-12-11.jsonl
  usr/share/doc/pmdb/examples/meta-2024-12-11.jsonl
  usr/share/doc/pmdb/examples/overview.pmq
  usr/share/doc/pmdb/examples/postmortem-openai-2024-12-11.md
  usr/share/doc/pmdb/examples/demo.pmdb
)
for f in "${expected[@]}"; do
  [ -f "$dest/$f" ] || fail "cmake --install did not install /$f"
done
[ -x "$dest/usr/bin/pmdb" ] || fail "/usr/bin/pmdb is not executable"
# Only pmdb itself goes to bin (not the benchmark generator nor the test binaries), and nothing
# outside the prefix.
others=$(cd "$dest" && find . -type f ! -path './usr/*' -o -type f -path './usr/bin/*' ! -name pmdb)
[ -z "$others" ] || fail "unexpected files installed: $others"
echo "installed $(cd "$dest" && find . -type f | wc -l) files under $dest/usr"

check_version "$dest/usr/bin/pmdb"
check_demo "$dest/usr/bin/pmdb"
check_man "$dest/usr/share/man/man1/pmdb.1" "event-sourced incident postmortem database"
check_man "$dest/usr/share/man/man7/pmql.7" "the query language of pmdb"

# The demo store of the examples: the two incidents, and a hash chain that verifies. Read from a
# copy, as a user would (the installed one is in a root-owned directory).
cp "$dest/usr/share/doc/pmdb/examples/demo.pmdb" "$tmp/demo.pmdb"
out=$("$dest/usr/bin/pmdb" "$tmp/demo.pmdb" --mode csv --headers off -c 'incidents | select id' 2>&1)
[ "$out" = $'meta-2024-12-11\nopenai-2024-12-11' ] || fail "demo.pmdb holds: $out"
out=$("$dest/usr/bin/pmdb" verify "$tmp/demo.pmdb" 2>&1) || fail "pmdb verify demo.pmdb: $out"

# The bash completion, as bash would call it.
complete_words() {  # complete_words WORD... : the completions of the last word
  PATH="$dest/usr/bin:$PATH" bash -c '
    source "$0"
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _pmdb pmdb "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' "$dest/usr/share/bash-completion/completions/pmdb" "$@" 2>&1
}
expect_completion() {  # expect_completion EXPECTED WORD...
  local want=$1 got
  shift
  got=$(complete_words "$@" | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "bash completion of '$*': got '$got', expected '$want'"
}
before=$failures
(
  mkdir "$tmp/completion" && cp "$tmp/demo.pmdb" "$tmp/completion/" && cd "$tmp/completion" || exit 1
  touch notes.txt
  expect_completion "import " pmdb imp
  expect_completion "--mode " pmdb --mo
  expect_completion "box csv json jsonl line markdown table tsv " pmdb --mode ""
  expect_completion "off on " pmdb --headers ""
  expect_completion "jsonl " pmdb import x.pmdb --format js
  expect_completion "demo.pmdb " pmdb report de
  expect_completion "meta-2024-12-11 openai-2024-12-11 " pmdb report demo.pmdb ""
  expect_completion "openai-2024-12-11 " pmdb export demo.pmdb op
  expect_completion "America/Los_Angeles " pmdb --tz America/Los_A
  exit $((failures - before))
) || failures=$((failures + $?))
if command -v zsh >/dev/null; then
  zsh -n "$dest/usr/share/zsh/vendor-completions/_pmdb" || fail "zsh -n _pmdb"
fi

if [ "$failures" -gt 0 ]; then
  echo "install_test: $failures checks failed" >&2
  exit 1
fi
echo "ok: cmake --install (files, --version, the demo question, man pages, bash completion)"

# ---------------------------------------------------------------------------------------------
# (b) the Debian package, installed for real
skip() {
  echo "SKIP: the Debian package was not installed: $*"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "not running as root (apt-get install needs root; part (a) passed)"
command -v apt-get >/dev/null || skip "no apt-get on this system (part (a) passed)"
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/setup installs it; part (a) passed)"
done
if dpkg-query -W -f='${Status}' pmdb 2>/dev/null | grep -q 'install ok installed'; then
  skip "a pmdb package is already installed on this system, and this test does not replace it"
fi

pkgdir=$tmp/package
mkdir -p "$pkgdir"
chmod 755 "$tmp" "$pkgdir"  # apt's _apt user reads the .deb
if ! out=$(cd "$pkgdir" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$pkgdir" 2>&1); then
  echo "$out" >&2
  echo "FAIL: cpack -G DEB" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
deb=$pkgdir/pmdb_${version}_${arch}.deb
[ -f "$deb" ] || { echo "FAIL: cpack made no $deb: $(ls "$pkgdir")" >&2; exit 1; }
chmod 644 "$deb"
echo "made $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

info=$(dpkg-deb -I "$deb")
for field in "Package: pmdb" "Version: $version" "Architecture: $arch" "Section: database" "Maintainer: "; do
  grep -q "^ $field" <<<"$info" || fail "dpkg-deb -I: no '$field' in:"$'\n'"$info"
done
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
for dep in libc6 libstdc++6 libsqlite3-0 libfmt libedit2 libssl3 libpcre2-8-0 libpq5 tzdata; do
  grep -q "\b$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
echo "Depends: $depends"
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
outside=$(grep -v '^\./usr/' <<<"$contents" | grep -v '^\./$')
[ -z "$outside" ] || fail "files outside /usr in the package: $outside"
for f in "${expected[@]}"; do
  grep -qx "\./$f" <<<"$contents" || fail "the package lacks /$f"
done

# Minimal container images tell dpkg not to install man pages (path-exclude=/usr/share/man/* in
# /etc/dpkg/dpkg.cfg.d/); pmdb's own are asked for by name, which dpkg honours after the exclusion.
installed_pkg=1
if ! out=$(cd "$pkgdir" && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 \
             -o 'DPkg::Options::=--path-include=/usr/share/man/man*/pm*' install -y -qq \
             "./$(basename "$deb")" 2>&1); then
  echo "$out" >&2
  echo "FAIL: apt-get install ./$(basename "$deb")" >&2
  exit 1
fi
[ "$(command -v pmdb)" = /usr/bin/pmdb ] || fail "pmdb on PATH is $(command -v pmdb), not /usr/bin/pmdb"
check_version /usr/bin/pmdb
check_demo /usr/bin/pmdb
[ -f /usr/share/bash-completion/completions/pmdb ] || fail "no /usr/share/bash-completion/completions/pmdb"
if ! command -v man >/dev/null; then
  echo "NOTE: man pages not checked after apt-get install: man-db is not installed (scripts/setup installs it)"
else
  for page in pmdb pmql; do
    where=$(man -w "$page" 2>&1) || fail "man -w $page: $where"
    [[ $where == /usr/share/man/* ]] || fail "man -w $page: $where"
  done
  out=$(MANWIDTH=80 MANPAGER=cat man pmdb 2>&1) || fail "man pmdb: $out"
  grep -q 'pmdb -c' <<<"$out" || fail "man pmdb does not show its examples"
fi

DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 remove -y -qq pmdb >/dev/null 2>&1 ||
  fail "apt-get remove pmdb"
installed_pkg=0
[ ! -e /usr/bin/pmdb ] || fail "/usr/bin/pmdb is still there after apt-get remove"

if [ "$failures" -gt 0 ]; then
  echo "install_test: $failures checks failed" >&2
  exit 1
fi
echo "ok: the Debian package installs, runs and removes"
