"""What the PostgreSQL tests share: the server they were given (PMDB_TEST_PG, a libpq connection
string to a maintenance database, as `scripts/pg-cluster run` sets it), fresh databases on it
made with CREATE DATABASE and dropped at the end, and the connection strings pmdb is given for
them, as libpq keyword/value strings or as postgresql:// URIs.

A test run without PMDB_TEST_PG exits 77 (skipped), or 1 when $CI is set."""
import os
import re
import subprocess
import sys
import threading
import urllib.parse

SKIP = 77


def server_or_skip(test):
    """The connection string of the server to test against; without one, says so and exits."""
    conninfo = os.environ.get("PMDB_TEST_PG", "").strip()
    if conninfo:
        return conninfo
    print(f"{test}: PMDB_TEST_PG is not set: no PostgreSQL server to test against "
          "(run it under scripts/pg-cluster run, which starts one)", file=sys.stderr)
    sys.exit(1 if os.environ.get("CI") else SKIP)


def parse_conninfo(conninfo):
    """A libpq keyword/value string as a dict (values may be single-quoted, with \\' and \\\\)."""
    out = {}
    pos = 0
    pattern = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")
    while pos < len(conninfo.rstrip()):
        m = pattern.match(conninfo, pos)
        if not m:
            raise ValueError(f"not a libpq connection string: {conninfo!r}")
        value = m.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m.group(1)] = value
        pos = m.end()
    return out


def keyword_string(params):
    """A dict of connection parameters as a libpq keyword/value string."""
    def quote(v):
        if v and not re.search(r"[\s'\\]", v):
            return v
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return " ".join(f"{k}={quote(v)}" for k, v in params.items())


class Server:
    """The server of PMDB_TEST_PG. Databases made by `create` are dropped by `drop_all`."""

    def __init__(self, conninfo, prefix):
        if conninfo.startswith(("postgresql://", "postgres://")):
            u = urllib.parse.urlsplit(conninfo)
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query).items()}
            if u.hostname:
                params["host"] = urllib.parse.unquote(u.hostname)
            if u.port:
                params["port"] = str(u.port)
            if u.username:
                params["user"] = urllib.parse.unquote(u.username)
            if u.password:
                params["password"] = urllib.parse.unquote(u.password)
            if u.path.strip("/"):
                params["dbname"] = urllib.parse.unquote(u.path.strip("/"))
        else:
            params = parse_conninfo(conninfo)
        self.params = params
        self.admin = keyword_string(params)
        self.prefix = f"{prefix}_{os.getpid()}"
        self.made = []
        self._lock = threading.Lock()
        self._n = 0

    def url(self, db, form="keyword"):
        """The connection string of database DB: libpq keyword/value (form "keyword") or a URI
        (form "uri": postgresql://user@/db?host=...&port=...)."""
        p = dict(self.params, dbname=db)
        if form == "keyword":
            return keyword_string(p)
        query = {k: v for k, v in p.items() if k not in ("user", "password", "dbname")}
        user = urllib.parse.quote(p.get("user", ""), safe="")
        if p.get("password"):
            user += ":" + urllib.parse.quote(p["password"], safe="")
        auth = user + "@" if user else ""
        return f"postgresql://{auth}/{urllib.parse.quote(db, safe='')}?" + urllib.parse.urlencode(query)

    def psql(self, sql, db=None, check=True):
        """Runs SQL with psql on DB (default: the maintenance database); returns its stdout
        (unaligned, tuples only, fields separated by |)."""
        target = self.url(db) if db else self.admin
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", sql],
                           capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise RuntimeError(f"psql failed ({sql[:200]}): {p.stderr.strip()}")
        return p.stdout

    def create(self, label=""):
        """A new, empty database; returns its name."""
        with self._lock:
            self._n += 1
            name = f"{self.prefix}_{self._n}" + (f"_{re.sub(r'[^a-z0-9]+', '_', label.lower())}" if label else "")
            name = name[:63]
            self.made.append(name)
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
        with self._lock:
            if name in self.made:
                self.made.remove(name)

    def drop_all(self):
        for name in list(self.made):
            self.drop(name)
