#include "core/event_store.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/chain.hpp"
#include "core/db.hpp"
#include "core/embedded.hpp"
#include "core/json_text.hpp"
#include "core/projection.hpp"
#include "core/sql_functions.hpp"
#include "core/sqlite.hpp"
#include "core/store_access.hpp"
#include "core/time.hpp"

namespace pmdb {

namespace {

constexpr std::int64_t application_id = 0x706d6462;  // "pmdb"

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Recomputes one incident's read-model row (?1) from its current versions: the projection's
// incidents relation over that one incident; every subquery is an index lookup. An incident
// with no believed event left has no row.
std::string refresh_incident_sql(sql_dialect d) {
  const std::string rows = projection::incidents_of("(SELECT ?1 AS incident)", false).sql;
  if (d == sql_dialect::postgresql)
    return fmt::format(
        "INSERT INTO incidents (id, title, org, services, severity, summary, started, ended, status, events, version) "
        "SELECT * FROM ({}) AS r WHERE events > 0 ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
        "org = excluded.org, services = excluded.services, severity = excluded.severity, summary = excluded.summary, "
        "started = excluded.started, ended = excluded.ended, status = excluded.status, events = excluded.events, "
        "version = excluded.version",
        rows);
  return fmt::format(
      "INSERT OR REPLACE INTO incidents (id, title, org, services, severity, summary, started, ended, status, events, "
      "version) SELECT * FROM ({}) AS r WHERE events > 0",
      rows);
}

// The columns of a version row the milestones read model is made of (milestone_spans::add).
// (milestone_fields reads them.)
constexpr std::string_view key_field_columns =
    "incident, type, at, seq, status, channel, component, state, metric, recorded_at, valid_to IS NULL";

// Merges one (incident, type, key)'s first and last positions into the milestones read model.
constexpr std::string_view upsert_milestone_sql = R"sql(
INSERT INTO milestones AS m (incident, type, key, first_at, first_seq, last_at, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (type, key, incident) DO UPDATE SET
  first_at  = CASE WHEN (excluded.first_at, excluded.first_seq) < (m.first_at, m.first_seq) THEN excluded.first_at ELSE m.first_at END,
  first_seq = CASE WHEN (excluded.first_at, excluded.first_seq) < (m.first_at, m.first_seq) THEN excluded.first_seq ELSE m.first_seq END,
  last_at   = CASE WHEN (excluded.last_at, excluded.last_seq) > (m.last_at, m.last_seq) THEN excluded.last_at ELSE m.last_at END,
  last_seq  = CASE WHEN (excluded.last_at, excluded.last_seq) > (m.last_at, m.last_seq) THEN excluded.last_seq ELSE m.last_seq END
)sql";

// Every column of a version row, in the order of insert_version_sql.
constexpr std::string_view version_columns =
    "seq, made_by, rank, valid_from, valid_to, corrected, id, incident, version, type, at, recorded_at, source, "
    "approx, data, text, status, channel, author, metric, value, unit, component, state, kind, target";

// The first version of every event appended after position ?1: believed from its recorded_at on.
constexpr std::string_view copy_versions_sql = R"sql(
INSERT INTO event_versions
SELECT seq, seq, 0, recorded_at, NULL, 0, id, incident, version, type, at, recorded_at, source, approx, data,
       text, status, channel, author, metric, value, unit, component, state, kind, target
FROM events WHERE seq > ?1
)sql";

// Columns in the order of chain::hashed_columns, then the hash.
constexpr std::string_view insert_sql = R"sql(
INSERT INTO events (seq, id, incident, version, type, at, recorded_at, source, approx, data,
                    text, status, channel, author, metric, value, unit, component, state, kind, target,
                    appended_at, recorded_by, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING
)sql";

// On a server: the id is unique in the whole store, not only in its incident (the key a
// distributed table can keep), and a skipped row is one whose id is stored.
constexpr std::string_view insert_server_sql = R"sql(
INSERT INTO events (seq, id, incident, version, type, at, recorded_at, source, approx, data,
                    text, status, channel, author, metric, value, unit, component, state, kind, target,
                    appended_at, recorded_by, hash)
SELECT ?1::bigint, ?2::text, ?3::text, ?4::bigint, ?5::text, ?6::bigint, ?7::bigint, ?8::text, ?9::bigint, ?10::text,
       ?11::text, ?12::text, ?13::text, ?14::text, ?15::text, ?16::double precision, ?17::text, ?18::text, ?19::text,
       ?20::text, ?21::text, ?22::bigint, ?23::text, ?24::bytea
WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?2::text)
)sql";

constexpr std::string_view set_head_sql =
    "INSERT INTO chain_head (one, position, hash) VALUES (1, ?1, ?2) "
    "ON CONFLICT (one) DO UPDATE SET position = excluded.position, hash = excluded.hash";

// The login name of whoever runs this process (`recorded_by` when the caller names nobody).
std::string login_name() {
  for (const char* var : {"PMDB_USER", "USER", "LOGNAME"})
    if (const char* v = std::getenv(var); v && *v) return v;
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name && *pw->pw_name) return pw->pw_name;
  return "unknown";
}

constexpr std::string_view select_event_columns =
    "seq, version, recorded_at, id, incident, type, at, source, approx, data, "
    "text, status, channel, author, metric, value, unit, component, state, kind, target";

// Binds the typed columns text, status, channel, author, metric, value, unit, component, state,
// kind, target of `e` to parameters first, first + 1, … (without a copy: `e` must outlive the
// statement's execution).
void bind_typed(db::statement& st, int first, const event& e) {
  st.bind_static(first, e.text);
  st.bind_static(first + 1, e.status);
  st.bind_static(first + 2, e.channel);
  st.bind_static(first + 3, e.author);
  st.bind_static(first + 4, e.metric);
  st.bind(first + 5, e.value);
  st.bind_static(first + 6, e.unit);
  st.bind_static(first + 7, e.component);
  st.bind_static(first + 8, e.state);
  st.bind_static(first + 9, e.kind);
  st.bind_static(first + 10, e.target);
}

// Adds a row of key_field_columns to `spans`.
void add_milestone_fields(const db::statement& st, projection::milestone_spans& spans) {
  const std::optional<std::string> status = st.opt_text(4), channel = st.opt_text(5), component = st.opt_text(6),
                                   state = st.opt_text(7), metric = st.opt_text(8);
  spans.add({st.text(0), st.text(1), &status, &channel, &component, &state, &metric}, st.int64(2), st.int64(3),
            st.int64(9), st.int64(10) != 0);
}

stored_event read_event(const db::statement& s) {
  stored_event out;
  out.seq = s.int64(0);
  out.version = s.int64(1);
  out.recorded_at = s.int64(2);
  event& e = out.ev;
  e.id = s.text(3);
  e.incident = s.text(4);
  e.type = s.text(5);
  e.at = s.int64(6);
  e.recorded_at = out.recorded_at;
  e.source = s.text(7);
  e.approx = s.int64(8) != 0;
  e.data = s.text(9);
  e.text = s.opt_text(10);
  e.status = s.opt_text(11);
  e.channel = s.opt_text(12);
  e.author = s.opt_text(13);
  e.metric = s.opt_text(14);
  if (!s.is_null(15)) e.value = s.real(15);
  e.unit = s.opt_text(16);
  e.component = s.opt_text(17);
  e.state = s.opt_text(18);
  e.kind = s.opt_text(19);
  e.target = s.opt_text(20);
  return out;
}

// A digest stored in column `col` (nullopt unless exactly 32 bytes of a blob).
std::optional<chain::digest> blob_digest(const db::statement& st, int col) {
  if (st.type(col) != db::storage::blob) return std::nullopt;
  const std::string_view b = st.text(col);
  return chain::from_blob(b.data(), static_cast<int>(b.size()));
}

// Appends one row of the log in COPY's text format (columns: chain::hashed_columns, then hash).
void copy_row(std::string& out, std::int64_t position, std::string_view id, std::int64_t version,
              std::int64_t recorded_at, std::int64_t now, std::string_view recorded_by, const event& e,
              const chain::digest& hash) {
  const auto text = [&](std::string_view v) {
    for (char c : v) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += c;
      }
    }
    out += '\t';
  };
  const auto opt = [&](const std::optional<std::string>& v) {
    if (v) text(*v);
    else out += "\\N\t";
  };
  const auto integer = [&](std::int64_t v) { fmt::format_to(std::back_inserter(out), "{}\t", v); };
  integer(position);
  text(id);
  text(e.incident);
  integer(version);
  text(e.type);
  integer(e.at);
  integer(recorded_at);
  text(e.source);
  integer(e.approx ? 1 : 0);
  text(e.data);
  for (const auto* f : {&e.text, &e.status, &e.channel, &e.author, &e.metric}) opt(*f);
  if (e.value) fmt::format_to(std::back_inserter(out), "{}\t", *e.value);
  else out += "\\N\t";
  for (const auto* f : {&e.unit, &e.component, &e.state, &e.kind, &e.target}) opt(*f);
  integer(now);
  text(recorded_by);
  out += "\\\\x";
  out += chain::hex(hash);
  out += '\n';
}

struct chain_head_value {
  std::int64_t position = 0;
  chain::digest hash{};
};

// Lets an unordered_map keyed by std::string be searched with a string_view.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};


// The triggers a store of today's schema has, by name, with their SQL as SQLite keeps it: made
// once per process by running store.sql on an in-memory database.
const std::vector<std::pair<std::string, std::string>>& expected_triggers() {
  static const auto triggers = [] {
    std::vector<std::pair<std::string, std::string>> out;
    sqlite3* ref = nullptr;
    if (sqlite3_open(":memory:", &ref) == SQLITE_OK && sqlite::exec(ref, embedded_files().at("store.sql"))) {
      if (auto st = sqlite::statement::prepare(ref, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"))
        while (st->step().value_or(false)) out.emplace_back(st->text(0), st->text(1));
    }
    sqlite3_close(ref);
    if (out.empty()) throw std::logic_error("store.sql creates no trigger");
    return out;
  }();
  return triggers;
}

// The first trigger that is missing or not as store.sql makes it, said for a user; empty when
// all are there.
std::expected<std::string, error> find_trigger_problem(sqlite3* db) {
  auto st = sqlite::statement::prepare(db, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?");
  if (!st) return std::unexpected(st.error());
  for (const auto& [name, sql] : expected_triggers()) {
    st->reset();
    st->bind(1, std::string_view(name));
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fmt::format("the trigger {} is missing: the store no longer refuses to change its history", name);
    if (st->text(0) != sql) return fmt::format("the trigger {} was changed: {}", name, st->text(0));
  }
  return std::string();
}

// The log's positions run from 1 to the chain head's (said for a user; empty when they do).
std::expected<std::string, error> positions_problem(db::connection& conn) {
  auto st = conn.prepare(
      "SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events), (SELECT position FROM chain_head)");
  if (!st) return std::unexpected(st.error());
  auto row = st->step();
  if (!row) return std::unexpected(row.error());
  const std::int64_t first = st->is_null(0) ? 0 : st->int64(0), last = st->is_null(1) ? 0 : st->int64(1),
                     head = st->is_null(2) ? 0 : st->int64(2);
  if (last != head)
    return fmt::format("the log ends at position {} but its chain head is at {}: events were {} outside pmdb", last,
                       head, last > head ? "added" : "removed");
  if (last > 0 && first != 1) return fmt::format("the log starts at position {}, not 1: events were removed", first);
  return std::string();
}

// What opening a store checks, cheaply (index lookups, no scan): the tables are pmdb's, the
// triggers that keep the log append-only are those store.sql makes, and the log's positions run
// from 1 to the chain head's. It catches a log edited or cut through a dropped trigger and rows
// forged past the head; `pmdb verify` checks every byte (the file, the chain, the read models).
std::expected<std::string, error> seal_problem(sqlite3* db, db::connection& conn) {
  for (const char* table : {"events", "chain_head", "event_versions", "incidents"}) {
    auto st = sqlite::statement::prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    if (!st) return std::unexpected(st.error());
    st->bind(1, std::string_view(table));
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fmt::format("the table {} is missing", table);
  }
  auto triggers = find_trigger_problem(db);
  if (!triggers || !triggers->empty()) return triggers;
  return positions_problem(conn);
}

// The triggers a server store has (schemas/postgresql.sql), by table.
constexpr std::pair<std::string_view, std::string_view> server_triggers[] = {
    {"events", "events_are_append_only_update"},   {"events", "events_are_append_only_delete"},
    {"events", "events_are_append_only_truncate"}, {"chain_head", "chain_head_only_advances"},
    {"chain_head", "chain_head_is_kept"},          {"chain_head", "chain_head_is_kept_truncate"}};

// The first trigger of a server store that is missing or disabled, said for a user; empty when
// all are there.
std::expected<std::string, error> find_server_trigger_problem(db::connection& conn) {
  auto st = conn.prepare(
      "SELECT t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = "
      "c.relnamespace WHERE n.nspname = 'pmdb' AND c.relname = ? AND t.tgname = ? AND NOT t.tgisinternal");
  if (!st) return std::unexpected(st.error());
  for (const auto& [table, name] : server_triggers) {
    st->reset();
    st->bind(1, table);
    st->bind(2, name);
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fmt::format("the trigger {} is missing: the store no longer refuses to change its history", name);
    if (st->text(0) == "D")
      return fmt::format("the trigger {} is disabled: the store no longer refuses to change its history", name);
  }
  return std::string();
}

// What opening a server store checks, cheaply: the triggers, and the log's positions run from 1
// to the chain head's.
std::expected<std::string, error> server_seal_problem(db::connection& conn) {
  auto triggers = find_server_trigger_problem(conn);
  if (!triggers || !triggers->empty()) return triggers;
  return positions_problem(conn);
}

// `file:` URI of a path, for SQLite's URI parameters.
std::string file_uri(std::string_view path) {
  std::string out = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    else out += c;
  }
  return out;
}

// Opens the connection. Readers of a WAL store share its -shm file, which a store on read-only
// media (or on a full disk) cannot get; when no writer left a WAL behind, the database file alone
// holds the whole store, and read-only it is then opened immutable (no lock, no -shm).
std::expected<void, error> open_connection(const std::string& path, bool read_only, bool memory, sqlite3*& db) {
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  const auto cannot = [&](sqlite3* h) {
    return std::unexpected(error(fmt::format("{}: cannot open: {}", path, h ? sqlite3_errmsg(h) : "out of memory")));
  };
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) return cannot(db);
  if (memory) return {};
  // Opening is lazy: the first read finds out whether the -shm could be had.
  if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) == SQLITE_OK) return {};
  const int code = sqlite3_extended_errcode(db) & 0xff;
  if (code != SQLITE_CANTOPEN && code != SQLITE_READONLY && code != SQLITE_IOERR && code != SQLITE_FULL) return {};
  if (!read_only) {
    const bool read_only_fs = ::access(path.c_str(), W_OK) != 0 && errno == EROFS;
    return std::unexpected(error(errc::read_only, fmt::format("{}: cannot open for writing: {}{}; `pmdb --readonly` reads it",
                                                              path, sqlite3_errmsg(db),
                                                              read_only_fs ? " (a read-only file system)" : "")));
  }
  std::error_code ec;
  const auto wal = std::filesystem::file_size(path + "-wal", ec);
  if (!ec && wal > 0)
    return std::unexpected(error(fmt::format(
        "{}: cannot open read-only: {}; its write-ahead log ({}-wal) holds writes not yet in the file, which only a "
        "writer can fold in",
        path, sqlite3_errmsg(db), path)));
  sqlite3_close(db);
  db = nullptr;
  if (sqlite3_open_v2((file_uri(path) + "?immutable=1").c_str(), &db, flags | SQLITE_OPEN_URI, nullptr) != SQLITE_OK)
    return cannot(db);
  return {};
}

// A new store is made whole in a temporary file beside `path`, then moved there without
// replacing anything: no reader ever sees a half-made store, two processes creating the same
// store agree on one, and an empty file is never one of pmdb's own.
std::expected<void, error> create_store_file(const std::string& path) {
  std::string tmp = path + ".new-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return std::unexpected(error(fmt::format("{}: cannot create: {}", path, std::strerror(errno))));
  const mode_t mask = ::umask(0);
  ::umask(mask);
  (void)::fchmod(fd, 0666 & ~mask);  // a store is shared like any file the user makes
  ::close(fd);
  struct remove_on_exit {
    std::string p;
    ~remove_on_exit() {
      for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((p + suffix).c_str());
    }
  } guard{tmp};
  sqlite3* db = nullptr;
  std::expected<void, error> r;
  if (sqlite3_open_v2(tmp.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    r = std::unexpected(error(db ? sqlite3_errmsg(db) : "out of memory"));
  if (r) r = sqlfn::register_functions(db);
  if (r) r = sqlite::exec(db, "PRAGMA journal_mode=WAL");
  if (r) r = sqlite::exec(db, "BEGIN IMMEDIATE");
  if (r) r = sqlite::exec(db, embedded_files().at("store.sql"));
  if (r) r = sqlite::exec(db, "COMMIT");
  if (sqlite3_close(db) != SQLITE_OK && r) r = std::unexpected(error("cannot close the new store"));
  if (!r) return std::unexpected(error(fmt::format("{}: cannot create: {}", path, r.error().message)));
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0 || errno == EEXIST) return {};
  // File systems without renameat2: a hard link does not replace an existing file either.
  if ((errno == EINVAL || errno == ENOSYS) && (::link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST)) return {};
  return std::unexpected(error(fmt::format("{}: cannot create: {}", path, std::strerror(errno))));
}

}  // namespace

struct event_store::impl {
  std::unique_ptr<db::connection> conn;
  sqlite3* db = nullptr;  // the SQLite handle (conn's), nullptr on a server
  sql_dialect dialect = sql_dialect::sqlite;
  std::string path;
  std::optional<int> upgraded_from;  // set when open() upgraded the store
  std::string recorded_by;           // kept with every event appended through this handle
  // Prepared once, reused by every append.
  db::statement insert, find_by_id, stream_version, refresh, hash_at, set_head;
  // The projection's maintenance (see core/projection.hpp).
  db::statement copy_versions, target_of, retraction_of, log_by_id, changes_of, drop_versions, insert_version;
  // The milestones read model: new events' keys, an incident's believed events, its rows.
  db::statement new_key_fields, incident_key_fields, drop_milestones, upsert_milestone;
  db::statement has_incident;  // prepared on first use (also on read-only stores)
  std::unordered_map<std::string, db::statement, string_hash, std::equal_to<>> query_cache;
  // While a bulk import defers the secondary indexes (defer_indexes): the statements that
  // recreate them, and the incidents whose read models are refreshed once they are back.
  std::vector<std::string> deferred_indexes;
  std::set<std::string, std::less<>> deferred_incidents;
  std::set<std::string, std::less<>> deferred_milestones;  // incidents whose milestones are recomputed whole

  ~impl() {
    insert = {};
    hash_at = {};
    set_head = {};
    find_by_id = {};
    stream_version = {};
    refresh = {};
    copy_versions = {};
    target_of = {};
    retraction_of = {};
    log_by_id = {};
    changes_of = {};
    drop_versions = {};
    insert_version = {};
    new_key_fields = {};
    incident_key_fields = {};
    drop_milestones = {};
    upsert_milestone = {};
    has_incident = {};
    query_cache.clear();
    conn.reset();
  }

  std::expected<void, error> prepare_writers() {
    auto prep = [&](db::statement& s, std::string_view sql) -> std::expected<void, error> {
      auto r = conn->prepare(sql);
      if (!r) return std::unexpected(r.error());
      s = std::move(*r);
      return {};
    };
    if (auto r = prep(insert, dialect == sql_dialect::postgresql ? insert_server_sql : insert_sql); !r) return r;
    if (auto r = prep(hash_at, "SELECT hash FROM events WHERE seq = ?"); !r) return r;
    // A server store's head row exists from the start (schemas/postgresql.sql).
    if (auto r = prep(set_head, dialect == sql_dialect::postgresql
                                    ? "UPDATE chain_head SET position = ?1, hash = ?2 WHERE one = 1"
                                    : set_head_sql);
        !r)
      return r;
    if (auto r = prep(find_by_id, "SELECT incident, type, at, source, approx, data FROM events WHERE id = ?"); !r)
      return r;
    if (auto r = prep(stream_version, "SELECT coalesce(max(version), 0) FROM events WHERE incident = ?"); !r) return r;
    if (auto r = prep(copy_versions, copy_versions_sql); !r) return r;
    if (auto r = prep(target_of, "SELECT seq, incident, type, target FROM events WHERE id = ?"); !r) return r;
    // Only a retraction of the target's own incident hides it (the fold ignores others, which a
    // store written before targets were checked may hold).
    if (auto r = prep(retraction_of, "SELECT id FROM events WHERE target = ? AND type = 'retraction' AND incident = ? "
                                     "ORDER BY seq LIMIT 1");
        !r)
      return r;
    if (auto r = prep(log_by_id, fmt::format("SELECT {} FROM events WHERE id = ?", select_event_columns)); !r) return r;
    if (auto r = prep(changes_of, fmt::format("SELECT {} FROM events WHERE target = ? AND type IN ('correction', "
                                              "'retraction') ORDER BY seq",
                                              select_event_columns));
        !r)
      return r;
    if (auto r = prep(drop_versions, "DELETE FROM event_versions WHERE seq = ?"); !r) return r;
    if (auto r = prep(insert_version, fmt::format("INSERT INTO event_versions ({}) VALUES ({})", version_columns,
                                                  "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"));
        !r)
      return r;
    if (auto r = prep(new_key_fields, fmt::format("SELECT {} FROM event_versions WHERE seq > ?1", key_field_columns));
        !r)
      return r;
    if (auto r = prep(incident_key_fields, fmt::format("SELECT {} FROM event_versions WHERE incident = ?1",
                                                       key_field_columns));
        !r)
      return r;
    if (auto r = prep(drop_milestones, "DELETE FROM milestones WHERE incident = ?1"); !r) return r;
    if (auto r = prep(upsert_milestone, upsert_milestone_sql); !r) return r;
    return prep(refresh, refresh_incident_sql(dialect));
  }

  // Folds the rows of a statement selecting key_field_columns into `spans`.
  static std::expected<void, error> fold_keys(db::statement& st, projection::milestone_spans& spans) {
    for (;;) {
      auto row = st.step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return {};
      add_milestone_fields(st, spans);
    }
  }

  // Merges `spans` into the milestones read model (first: the earlier position; last: the later).
  std::expected<void, error> write_milestones(const projection::milestone_spans& spans) {
    auto& st = upsert_milestone;
    for (const auto& [k, sp] : spans.spans()) {
      st.reset();
      st.bind_static(1, std::string_view(std::get<0>(k)));
      st.bind_static(2, std::string_view(std::get<1>(k)));
      st.bind_static(3, std::string_view(std::get<2>(k)));
      st.bind(4, sp.first.at);
      st.bind(5, sp.first.seq);
      st.bind(6, sp.last.at);
      st.bind(7, sp.last.seq);
      if (auto r = st.run(); !r) return r;
    }
    return {};
  }

  // The milestones of the events appended after position `after`, merged into the read model.
  // Only right for incidents none of whose older events changed (see recompute_milestones).
  std::expected<void, error> add_new_milestones(std::int64_t after) { return merge_milestones(new_key_fields, after); }

  // Merges the milestones of the rows `st` selects with parameter `param` into the read model.
  template <class Param>
  std::expected<void, error> merge_milestones(db::statement& st, const Param& param) {
    projection::milestone_spans spans;
    st.reset();
    st.bind(1, param);
    auto r = fold_keys(st, spans);
    st.reset();
    if (!r) return r;
    return write_milestones(spans);
  }

  // Recomputes one incident's milestones from its believed events (after a correction or a
  // retraction, which can move a first or last position backwards).
  std::expected<void, error> recompute_milestones(std::string_view incident) {
    drop_milestones.reset();
    drop_milestones.bind(1, incident);
    if (auto r = drop_milestones.run(); !r) return r;
    return merge_milestones(incident_key_fields, incident);
  }

  // Recomputes the whole milestones read model, one incident at a time (memory: one incident).
  std::expected<void, error> rebuild_milestones() {
    if (auto r = conn->exec("DELETE FROM milestones"); !r) return r;
    auto st = conn->prepare(fmt::format("SELECT {} FROM event_versions ORDER BY incident",
                                                         key_field_columns));
    if (!st) return std::unexpected(st.error());
    projection::milestone_spans spans;
    std::string current;
    for (;;) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row || st->text(0) != current) {
        if (auto r = write_milestones(spans); !r) return r;
        spans.clear();
        if (!*row) return {};
        current = st->text(0);
      }
      add_milestone_fields(*st, spans);
    }
  }

  // The versions of every event appended after position `after`, as appended.
  std::expected<void, error> copy_new_versions(std::int64_t after) {
    copy_versions.reset();
    copy_versions.bind(1, after);
    return copy_versions.run();
  }

  // Recomputes the versions of event `id` from the log: the event and every correction and
  // retraction aimed at it. Nothing happens when `id` is not stored or is itself a correction
  // or retraction (a store written before targets were checked may name such targets).
  std::expected<void, error> refold(std::string_view id) {
    log_by_id.reset();
    log_by_id.bind(1, id);
    auto found = log_by_id.step();
    if (!found) return std::unexpected(found.error());
    if (!*found) return {};
    const stored_event o = read_event(log_by_id);
    log_by_id.reset();
    if (projection::is_audit_type(o.ev.type)) return {};
    std::vector<stored_event> changes;
    changes_of.reset();
    changes_of.bind(1, id);
    for (;;) {
      auto row = changes_of.step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      changes.push_back(read_event(changes_of));
    }
    changes_of.reset();
    const auto versions = projection::fold(o, changes);
    drop_versions.reset();
    drop_versions.bind(1, o.seq);
    if (auto r = drop_versions.run(); !r) return r;
    for (const auto& v : versions) {
      auto& st = insert_version;
      const event& e = v.ev;
      st.reset();
      st.bind(1, o.seq);
      st.bind(2, v.made_by);
      st.bind(3, v.rank);
      st.bind(4, v.valid_from);
      if (v.valid_to) st.bind(5, *v.valid_to);
      else st.bind_null(5);
      st.bind(6, std::int64_t{v.corrected ? 1 : 0});
      st.bind_static(7, std::string_view(e.id));
      st.bind_static(8, std::string_view(e.incident));
      st.bind(9, o.version);
      st.bind_static(10, std::string_view(e.type));
      st.bind(11, e.at);
      st.bind(12, o.recorded_at);
      st.bind_static(13, std::string_view(e.source));
      st.bind(14, std::int64_t{e.approx ? 1 : 0});
      st.bind_static(15, std::string_view(e.data));
      bind_typed(st, 16, e);
      if (auto r = st.run(); !r) return r;
    }
    return {};
  }

  // Starts a write transaction. On a server it also takes the chain head's row lock, so that
  // appends from many clients take turns: each reads the last position and hash, and the
  // versions of its incidents, after the one before it committed.
  std::expected<void, error> begin_write() {
    if (dialect == sql_dialect::sqlite) return conn->exec("BEGIN IMMEDIATE");
    if (auto r = conn->exec("BEGIN"); !r) return r;
    return lock_head();
  }
  std::expected<void, error> lock_head() {
    if (dialect == sql_dialect::sqlite) return {};
    if (auto r = conn->exec("SELECT position FROM chain_head WHERE one = 1 FOR UPDATE"); !r) {
      (void)conn->exec("ROLLBACK");
      if (r.error().is(errc::read_only))  // no UPDATE privilege on the head: a reading role
        return std::unexpected(error(errc::read_only, fmt::format("{}: this role may read the store but not append to "
                                                                  "it (appending takes a member of pmdb_writer)",
                                                                  path)));
      return r;
    }
    return {};
  }

  std::expected<std::int64_t, error> version_of(const std::string& incident) {
    stream_version.reset();
    stream_version.bind(1, std::string_view(incident));
    auto r = stream_version.step();
    if (!r) return std::unexpected(r.error());
    const std::int64_t v = stream_version.int64(0);
    stream_version.reset();  // an unfinished statement would pin the connection's read snapshot
    return v;
  }

  // The content key of the stored event `id` (which must exist).
  std::expected<std::string, error> content_key_of(const std::string& id) {
    find_by_id.reset();
    find_by_id.bind(1, std::string_view(id));
    auto found = find_by_id.step();
    if (!found) return std::unexpected(found.error());
    if (!*found) return std::unexpected(error(fmt::format("event id {} vanished", id)));
    event stored;
    stored.incident = find_by_id.text(0);
    stored.type = find_by_id.text(1);
    stored.at = find_by_id.int64(2);
    stored.source = find_by_id.text(3);
    stored.approx = find_by_id.int64(4) != 0;
    stored.data = find_by_id.text(5);
    find_by_id.reset();  // an unfinished statement would pin the connection's read snapshot
    return stored.content_key();
  }

  // The chain's hash at `position` (position 0: the genesis). A row without a valid hash (a
  // damaged store) is an error: nothing is linked onto it.
  std::expected<chain::digest, error> hash_of(std::int64_t position) {
    if (position == 0) return chain::genesis();
    hash_at.reset();
    hash_at.bind(1, position);
    auto row = hash_at.step();
    if (!row) return std::unexpected(row.error());
    std::optional<chain::digest> d;
    if (*row) d = blob_digest(hash_at, 0);
    hash_at.reset();
    if (!d)
      return std::unexpected(error(errc::corrupt, fmt::format("position {}: no valid chain hash (run pmdb verify)", position)));
    return *d;
  }

  std::expected<void, error> store_head(std::int64_t position, const chain::digest& hash) {
    set_head.reset();
    set_head.bind(1, position);
    set_head.bind_blob(2, hash.data(), hash.size());
    return set_head.run();
  }

  // Computes the chain over the whole log, in store order, and writes each event's hash: the
  // upgrade of a store written before the chain existed (inside the caller's transaction, with
  // the append-only triggers dropped). Returns the head, for chain_head.
  std::expected<chain_head_value, error> compute_chain() {
    auto rows = conn->prepare(fmt::format("SELECT {} FROM events ORDER BY seq", chain::hashed_columns));
    if (!rows) return std::unexpected(rows.error());
    auto update = conn->prepare("UPDATE events SET hash = ?2 WHERE seq = ?1");
    if (!update) return std::unexpected(update.error());
    chain::digest prev = chain::genesis();
    chain::row_bytes bytes;
    std::int64_t position = 0;
    for (;;) {
      auto row = rows->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      bytes.clear();
      for (int c = 0; c < chain::hashed_column_count; ++c) bytes.column(*rows, c);
      prev = chain::link(prev, bytes.bytes());
      position = rows->int64(0);
      update->reset();
      update->bind(1, position);
      update->bind_blob(2, prev.data(), prev.size());
      if (auto r = update->run(); !r) return std::unexpected(r.error());
    }
    return chain_head_value{position, prev};
  }

  std::expected<std::int64_t, error> last_seq() {
    auto st = conn->prepare("SELECT coalesce(max(seq), 0) FROM events");
    if (!st) return std::unexpected(st.error());
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    return st->int64(0);
  }

  // Which of `ids` are stored (on a server: one query for them all).
  std::expected<std::unordered_set<std::string, string_hash, std::equal_to<>>, error> stored_among(
      std::span<const std::string_view> ids) {
    std::string array = "{";
    for (std::string_view id : ids) {
      if (array.size() > 1) array += ',';
      array += '"';
      for (char c : id) {
        if (c == '"' || c == '\\') array += '\\';
        array += c;
      }
      array += '"';
    }
    array += '}';
    auto st = conn->prepare("SELECT e.id FROM unnest(CAST(? AS text[])) AS u (id) JOIN events e ON e.id = u.id");
    if (!st) return std::unexpected(st.error());
    st->bind(1, std::string_view(array));
    std::unordered_set<std::string, string_hash, std::equal_to<>> out;
    for (;;) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return out;
      out.emplace(st->text(0));
    }
  }

  std::expected<bool, error> is_stored(std::string_view id) {
    find_by_id.reset();
    find_by_id.bind(1, id);
    auto found = find_by_id.step();
    find_by_id.reset();
    if (!found) return std::unexpected(found.error());
    return *found;
  }

  // Refuses a new correction or retraction `e` (id `id`) whose target is missing, belongs to
  // another incident, is itself a correction or retraction, or is retracted; and a correction
  // whose data.data is not valid for the target's type. `earlier` holds the batch's events
  // before `e`, `retracted_here` the targets of its retractions.
  template <class Seen>
  std::expected<void, error> check_target(const event& e, std::string_view id, const Seen& earlier,
                                          const std::unordered_map<std::string_view, std::string_view>& retracted_here) {
    const std::string& target = *e.target;
    const auto refuse = [&](const std::string& why) {
      return std::unexpected(error(errc::invalid, fmt::format("{} {} (incident {}) refused: {}", e.type, id, e.incident, why)));
    };
    std::string incident, type;
    if (auto it = earlier.find(std::string_view(target)); it != earlier.end()) {
      incident = it->second->incident;
      type = it->second->type;
    } else {
      target_of.reset();
      target_of.bind(1, std::string_view(target));
      auto found = target_of.step();
      if (!found) return std::unexpected(found.error());
      if (!*found) {
        target_of.reset();
        return refuse(fmt::format("its target {} does not exist (neither in the store nor earlier in this batch)", target));
      }
      incident = target_of.text(1);
      type = target_of.text(2);
      target_of.reset();
    }
    if (incident != e.incident)
      return refuse(fmt::format("its target {} belongs to incident {}, not to {}", target, incident, e.incident));
    if (projection::is_audit_type(type))
      return refuse(fmt::format("its target {} is itself a {}: {} the original event instead", target, type,
                                e.type == "correction" ? "correct" : "retract"));
    std::string by;
    if (auto it = retracted_here.find(std::string_view(target)); it != retracted_here.end()) {
      by = it->second;
    } else {
      retraction_of.reset();
      retraction_of.bind(1, std::string_view(target));
      retraction_of.bind(2, std::string_view(incident));
      auto found = retraction_of.step();
      if (!found) return std::unexpected(found.error());
      if (*found) by = retraction_of.text(0);
      retraction_of.reset();
    }
    if (!by.empty())
      return refuse(fmt::format("its target {} is already retracted (by {})", target, by));
    if (e.type == "correction") {
      rapidjson::Document d;
      d.Parse(e.data.c_str(), e.data.size());
      if (auto it = d.FindMember("data"); !d.HasParseError() && it != d.MemberEnd()) {
        event candidate;
        candidate.id = target;
        candidate.incident = incident;
        candidate.type = type;
        candidate.source = e.source;
        candidate.data = minified(it->value);
        if (auto v = validate_event(std::move(candidate)); !v)
          return refuse(fmt::format("its data.data is not valid for {}, a {} event: {}", target, type, v.error()));
      }
    }
    return {};
  }

  // Refuses a new update of an action item `e` (an action with `of`, id `id`) whose item is
  // missing, belongs to another incident, is not an action, is itself an update, or is
  // retracted. `earlier` holds the batch's events before `e`, `retracted_here` the targets of
  // its retractions.
  template <class Seen>
  std::expected<void, error> check_action_item(const event& e, std::string_view id, const Seen& earlier,
                                               const std::unordered_map<std::string_view, std::string_view>& retracted_here) {
    const std::string& item = *e.target;
    const auto refuse = [&](const std::string& why) {
      return std::unexpected(error(errc::invalid, fmt::format("action {} (incident {}) refused: its of: {}", id, e.incident, why)));
    };
    std::string incident, type;
    bool is_update = false;
    if (auto it = earlier.find(std::string_view(item)); it != earlier.end()) {
      incident = it->second->incident;
      type = it->second->type;
      is_update = type == "action" && it->second->target.has_value();
    } else {
      target_of.reset();
      target_of.bind(1, std::string_view(item));
      auto found = target_of.step();
      if (!found) return std::unexpected(found.error());
      if (!*found) {
        target_of.reset();
        return refuse(fmt::format("no event has the id {} (neither in the store nor earlier in this batch)", item));
      }
      incident = target_of.text(1);
      type = target_of.text(2);
      is_update = type == "action" && !target_of.is_null(3);
      target_of.reset();
    }
    if (incident != e.incident) return refuse(fmt::format("{} belongs to incident {}, not to {}", item, incident, e.incident));
    if (type != "action")
      return refuse(fmt::format("{} is {} {} event, not an action item", item,
                                type.find_first_of("aeiou") == 0 ? "an" : "a", type));
    if (is_update) return refuse(fmt::format("{} is itself an update: name the action item it updates", item));
    std::string by;
    if (auto it = retracted_here.find(std::string_view(item)); it != retracted_here.end()) {
      by = it->second;
    } else {
      retraction_of.reset();
      retraction_of.bind(1, std::string_view(item));
      retraction_of.bind(2, std::string_view(incident));
      auto found = retraction_of.step();
      if (!found) return std::unexpected(found.error());
      if (*found) by = retraction_of.text(0);
      retraction_of.reset();
    }
    if (!by.empty()) return refuse(fmt::format("the action item {} is retracted (by {})", item, by));
    return {};
  }

  // Recomputes every read model from the log, inside the caller's transaction.
  std::expected<void, error> rebuild_read_models() {
    if (auto r = conn->exec("DELETE FROM event_versions; DELETE FROM incidents;"); !r) return r;
    if (auto r = copy_new_versions(0); !r) return r;
    const auto column = [&](std::string_view sql) -> std::expected<std::vector<std::string>, error> {
      auto st = conn->prepare(sql);
      if (!st) return std::unexpected(st.error());
      std::vector<std::string> out;
      for (;;) {
        auto row = st->step();
        if (!row) return std::unexpected(row.error());
        if (!*row) return out;
        out.emplace_back(st->text(0));
      }
    };
    auto targets = column("SELECT DISTINCT target FROM events WHERE target IS NOT NULL AND type IN ('correction', "
                          "'retraction') ORDER BY target");
    if (!targets) return std::unexpected(targets.error());
    for (const auto& t : *targets)
      if (auto r = refold(t); !r) return r;
    auto incidents = column("SELECT DISTINCT incident FROM events ORDER BY incident");
    if (!incidents) return std::unexpected(incidents.error());
    for (const auto& i : *incidents)
      if (auto r = refresh_incident(i); !r) return r;
    return rebuild_milestones();
  }

  std::expected<void, error> refresh_incident(std::string_view incident) {
    refresh.reset();
    refresh.bind(1, incident);
    return refresh.run();
  }
};

namespace {
// On a server, reads run in a READ ONLY transaction of their own (one snapshot), unless the
// caller's transaction is open; it ends when this does. Nothing on SQLite.
struct server_read {
  db::connection* conn = nullptr;
  std::expected<void, error> begin(db::connection& c);
  ~server_read() {
    if (conn) (void)conn->exec("COMMIT");
  }
};
}  // namespace

std::expected<void, error> server_read::begin(db::connection& c) {
  if (c.dialect() == sql_dialect::sqlite || c.in_transaction()) return {};
  if (auto r = c.exec("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r;
  conn = &c;
  return {};
}

event_store::event_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
event_store::event_store(event_store&&) noexcept = default;
event_store& event_store::operator=(event_store&&) noexcept = default;
event_store::~event_store() = default;

const std::string& event_store::path() const { return impl_->path; }
std::optional<int> event_store::upgraded_from() const { return impl_->upgraded_from; }
const std::string& event_store::recorded_by() const { return impl_->recorded_by; }
::sqlite3* store_access::sqlite_handle(const event_store& s) { return s.impl_->db; }
sql_dialect event_store::dialect() const { return impl_->dialect; }
bool event_store::is_server(std::string_view target) { return db::is_server_url(target); }
std::string store_library_versions() { return db::library_versions(); }

namespace {
// `s` as one word of a shell command line, quoted when it must be.
std::string shell_word(const std::string& s) {
  return s.find_first_of(" &?'\"$;|<>()*") == std::string::npos ? s : "'" + s + "'";
}
}  // namespace

std::expected<event_store, error> event_store::open_server(const std::string& target, const open_options& opts) {
  const std::string name = db::display_name(target);
  const auto fail = [&](const error& e) { return std::unexpected(error(e.code, fmt::format("{}: {}", name, e.message))); };
  auto c = db::connect_postgresql(target);
  if (!c) return fail(c.error());
  auto p = std::make_unique<impl>();
  p->conn = std::move(*c);
  p->dialect = sql_dialect::postgresql;
  p->path = name;
  p->recorded_by = opts.recorded_by.empty() ? login_name() : opts.recorded_by;
  db::connection& conn = *p->conn;
  const auto meta = [&](const char* key) -> std::expected<std::optional<std::string>, error> {
    auto st = conn.prepare("SELECT value FROM pmdb.meta WHERE key = ?");
    if (!st) return std::unexpected(st.error());
    st->bind(1, std::string_view(key));
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::nullopt;
    return std::string(st->text(0));
  };
  const auto has_store = [&]() -> std::expected<bool, error> {
    auto st = conn.prepare("SELECT to_regclass('pmdb.meta') IS NOT NULL");
    if (!st) return std::unexpected(st.error());
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    return st->int64(0) != 0;
  };
  // The functions pmdb's SQL calls (schemas/postgresql-functions.sql) are (re)made when the
  // store is made and whenever this pmdb's differ from those the store has.
  const std::string_view functions = embedded_files().at("postgresql-functions.sql");
  const std::string functions_key = chain::hex(chain::link(chain::genesis(), functions)).substr(0, 16);
  auto found = has_store();
  if (!found) return fail(found.error());
  if (!*found) {
    if (!opts.create || opts.read_only)
      return std::unexpected(error(errc::not_found, fmt::format("{}: no pmdb store in this database (`pmdb init {}` "
                                                                "makes one)",
                                                                name, shell_word(name))));
    // One transaction, under a lock that serialises two clients making the same store.
    std::expected<void, error> r = conn.exec("BEGIN");
    if (r) r = conn.exec("SELECT pg_advisory_xact_lock(7020137458216658018)");  // "pmdb" and "make"
    if (r) r = conn.exec(embedded_files().at("postgresql.sql"));
    if (r) r = conn.exec(functions);
    if (r) r = conn.exec(fmt::format("INSERT INTO pmdb.meta (key, value) VALUES ('functions', '{}') ON CONFLICT (key) DO "
                                     "UPDATE SET value = excluded.value",
                                     functions_key));
    if (r) r = conn.exec("COMMIT");
    if (!r) {
      (void)conn.exec("ROLLBACK");
      return fail(error(r.error().code, "cannot make the store: " + r.error().message));
    }
  }
  auto app = meta("application");
  if (!app) return fail(app.error());
  if (*app != "pmdb")
    return std::unexpected(error(errc::corrupt, fmt::format("{}: the schema pmdb of this database is not a pmdb store", name)));
  auto version = meta("schema_version");
  if (!version) return fail(version.error());
  const int v = *version ? std::atoi((*version)->c_str()) : 0;
  if (v > store_schema_version)
    return std::unexpected(error(errc::corrupt, fmt::format(
        "{}: store schema version {} is newer than this pmdb supports ({}); upgrade pmdb", name, v, store_schema_version)));
  if (v < store_schema_version)
    return std::unexpected(error(errc::corrupt, fmt::format("{}: damaged pmdb store (schema version {})", name, v)));
  auto have = meta("functions");
  if (!have) return fail(have.error());
  if (*have != functions_key) {
    // Another pmdb made them: answers need this one's. Only the schema's owner may replace them.
    const error stale(errc::read_only, fmt::format("{}: the store's SQL functions are another pmdb version's: open it "
                                                   "once for writing as the owner of its schema (`pmdb init {}`) to "
                                                   "bring them up to date",
                                                   name, shell_word(name)));
    if (opts.read_only) return std::unexpected(stale);
    {
      // The older functions go first: CREATE OR REPLACE cannot change a function's parameters.
      // (The append-only triggers' own functions are schemas/postgresql.sql's, and stay.)
      std::expected<void, error> r = conn.exec("BEGIN");
      if (r) r = conn.exec(R"sql(DO $$
DECLARE f record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig, p.prokind FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'pmdb' AND p.proname NOT IN ('refuse_change', 'chain_head_only_advances')
           ORDER BY p.prokind = 'a' DESC
  LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE WHEN f.prokind = 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, f.sig);
  END LOOP;
END
$$)sql");
      if (r) r = conn.exec(functions);
      if (r) r = conn.exec(fmt::format("UPDATE pmdb.meta SET value = '{}' WHERE key = 'functions'", functions_key));
      if (r) r = conn.exec("COMMIT");
      if (!r) {
        (void)conn.exec("ROLLBACK");
        if (r.error().is(errc::read_only)) return std::unexpected(stale);
        return fail(r.error());
      }
    }
  }
  if (!opts.read_only) {
    if (auto r = p->prepare_writers(); !r) return fail(r.error());
  } else {
    if (auto r = conn.exec("SET default_transaction_read_only = on"); !r) return fail(r.error());
  }
  if (!opts.allow_damaged) {
    auto problem = server_seal_problem(conn);
    if (!problem) return fail(problem.error());
    if (!problem->empty())
      return std::unexpected(error(errc::corrupt, fmt::format("{}: the store was changed outside pmdb: {}; `pmdb verify "
                                                              "URL` checks the whole store",
                                                              name, *problem)));
  }
  return event_store(std::move(p));
}

std::expected<event_store, error> event_store::open(const std::string& path, const open_options& opts) {
  if (db::is_server_url(path)) return open_server(path, opts);
  const bool memory = path == ":memory:";
  if (!memory) {
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(st)) {
      if (!opts.create || opts.read_only) return std::unexpected(error(errc::not_found, fmt::format("{}: no such store", path)));
      if (auto r = create_store_file(path); !r) return std::unexpected(r.error());
    } else if (std::filesystem::is_directory(st)) {
      return std::unexpected(error(fmt::format("{}: is a directory, not a pmdb store", path)));
    } else if (std::filesystem::is_regular_file(st) && std::filesystem::file_size(path, ec) == 0 && !ec) {
      return std::unexpected(error(errc::corrupt, fmt::format(
          "{}: an empty file (0 bytes), not a pmdb store; remove it and pmdb makes a new store there", path)));
    }
  }
  auto p = std::make_unique<impl>();
  p->path = path;
  p->recorded_by = opts.recorded_by.empty() ? login_name() : opts.recorded_by;
  auto opened = open_connection(path, opts.read_only, memory, p->db);
  if (p->db) p->conn = db::wrap_sqlite(p->db);  // closes it, also when the open failed
  if (!opened) return std::unexpected(opened.error());
  if (auto r = sqlfn::register_functions(p->db); !r)
    return std::unexpected(error(fmt::format("{}: cannot open: {}", path, r.error().message)));
  sqlite3_extended_result_codes(p->db, 1);
  sqlite3_busy_timeout(p->db, opts.busy_timeout_ms);

  const auto fail = [&](const error& e) { return std::unexpected(error(fmt::format("{}: {}", path, e.message))); };
  const auto pragma_int = [&](const char* name) -> std::expected<std::int64_t, error> {
    auto s = p->conn->prepare(fmt::format("PRAGMA {}", name));
    if (!s) return std::unexpected(s.error());
    auto r = s->step();
    if (!r) return std::unexpected(r.error());
    return *r ? s->int64(0) : 0;
  };

  // Reading the header tells a pmdb store from another SQLite file or from a file that is
  // not a database at all.
  auto app = pragma_int("application_id");
  if (!app) return fail(app.error());
  auto version = pragma_int("user_version");
  if (!version) return fail(version.error());
  auto tables = pragma_int("schema_version");
  if (!tables) return fail(tables.error());

  if (*app == 0 && *version == 0 && *tables == 0) {
    // Files are made whole by create_store_file: a file here is another program's empty database.
    if (!memory) return std::unexpected(error(errc::corrupt, fmt::format("{}: an empty SQLite database, not a pmdb store", path)));
    // A new store. BEGIN IMMEDIATE serialises two processes creating the same file.
    if (auto r = p->conn->exec("BEGIN IMMEDIATE"); !r) return fail(r.error());
    auto again = pragma_int("schema_version");
    if (again && *again == 0) {
      if (auto r = p->conn->exec(embedded_files().at("store.sql")); !r) {
        (void)p->conn->exec("ROLLBACK");
        return fail(r.error());
      }
    }
    if (auto r = p->conn->exec("COMMIT"); !r) return fail(r.error());
    app = pragma_int("application_id");
    version = pragma_int("user_version");
    if (!app || !version) return fail(error("cannot read the new store's header"));
  }
  if (*app != application_id)
    return std::unexpected(
        error(errc::corrupt, fmt::format("{}: not a pmdb store (an SQLite database of another application)", path)));
  if (*version > store_schema_version)
    return std::unexpected(error(errc::corrupt, fmt::format(
        "{}: store schema version {} is newer than this pmdb supports ({}); upgrade pmdb", path, *version,
        store_schema_version)));
  if (*version < 1)
    return std::unexpected(error(errc::corrupt, fmt::format("{}: damaged pmdb store (no schema version)", path)));
  if (*version < store_schema_version && opts.read_only)
    return std::unexpected(error(errc::read_only, fmt::format(
        "{}: store schema version {} must be upgraded to {}: open it once for writing", path, *version,
        store_schema_version)));

  if (!memory && !opts.read_only) {
    if (auto r = p->conn->exec("PRAGMA journal_mode=WAL"); !r) return fail(r.error());
  }
  if (auto r = p->conn->exec(opts.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !r)
    return fail(r.error());
  // 32 MiB of page cache (SQLite's default is 2 MiB): random event ids make index inserts
  // touch pages all over the id index, and queries over many incidents reread the same pages.
  if (auto r = p->conn->exec("PRAGMA cache_size=-32768"); !r) return fail(r.error());
  // Every page read is checked for cells out of bounds: a damaged page fails the query that
  // reads it (SQLITE_CORRUPT) instead of answering from garbage. The cost is a few comparisons
  // per cell.
  if (auto r = p->conn->exec("PRAGMA cell_size_check=ON"); !r) return fail(r.error());
  // Readers map the file instead of copying pages into the cache: large scans (questions over
  // every incident) read the OS's page cache directly. Writers keep plain I/O, so an import's
  // resident memory stays that of its page cache.
  if (opts.mmap_reads)
    if (auto r = p->conn->exec("PRAGMA mmap_size=4294967296"); !r) return fail(r.error());
  if (!opts.read_only && *version < store_schema_version) {
    // One transaction: a failure leaves the old store as it was. store.sql (whose every CREATE
    // is IF NOT EXISTS, and which sets the new user_version) creates what is missing.
    // Version 1 → 2: the projection. The log is untouched; two of its query indexes move to the
    // versions table, and the read models are computed from the log.
    // Version 2 → 3: the hash chain. The log gains three columns: appended_at and recorded_by
    // (NULL: the old store did not keep them) and hash, computed over the log in store order;
    // the append-only triggers are dropped for that one update and recreated by store.sql.
    // Version 3 → 4: the milestones read model, computed from the versions.
    if (auto r = p->conn->exec("BEGIN IMMEDIATE"); !r) return fail(r.error());
    auto again = pragma_int("user_version");
    if (!again) {
      (void)p->conn->exec("ROLLBACK");
      return fail(again.error());
    }
    if (*again < store_schema_version) {  // another process may have upgraded it meanwhile
      std::expected<void, error> r;
      if (*again < 2)
        r = p->conn->exec("DROP INDEX IF EXISTS events_by_incident_at; DROP INDEX IF EXISTS events_by_type_at;");
      if (r && *again < 3)
        r = p->conn->exec("ALTER TABLE events ADD COLUMN appended_at INTEGER; "
                                "ALTER TABLE events ADD COLUMN recorded_by TEXT; "
                                "ALTER TABLE events ADD COLUMN hash BLOB; "
                                "DROP TRIGGER events_are_append_only_update; "
                                "DROP TRIGGER events_are_append_only_delete;");
      std::optional<chain_head_value> head;
      if (r && *again < 3) {
        auto h = p->compute_chain();
        if (h) head = *h;
        else r = std::unexpected(h.error());
      }
      if (r) r = p->conn->exec(embedded_files().at("store.sql"));
      if (r) r = p->prepare_writers();
      if (r && *again < 2) r = p->rebuild_read_models();
      else if (r && *again < 4) r = p->rebuild_milestones();
      if (r && head) r = p->store_head(head->position, head->hash);
      if (!r) {
        (void)p->conn->exec("ROLLBACK");
        return fail(r.error());
      }
      p->upgraded_from = static_cast<int>(*again);
    }
    if (auto r = p->conn->exec("COMMIT"); !r) return fail(r.error());
  } else if (!opts.read_only) {
    if (auto r = p->prepare_writers(); !r) return fail(r.error());
  }
  if (!opts.allow_damaged) {
    auto problem = seal_problem(p->db, *p->conn);
    if (!problem) return fail(problem.error());
    if (!problem->empty())
      return std::unexpected(error(errc::corrupt, fmt::format("{}: the store was changed outside pmdb: {}; `pmdb verify {}` "
                                                              "checks the whole store",
                                                              path, *problem, path)));
  }
  return event_store(std::move(p));
}

std::expected<append_result, error> event_store::append(std::span<const event> batch,
                                                        const std::map<std::string, std::int64_t>& expected_versions) {
  impl& s = *impl_;
  if (!s.insert.get()) return std::unexpected(error(errc::read_only, "the store is open read-only"));
  append_result result;
  const bool outer = !s.conn->in_transaction();
  // Inside a caller's transaction (a streaming import) a savepoint keeps the batch atomic.
  if (auto r = outer ? s.begin_write() : s.conn->exec("SAVEPOINT pmdb_append"); !r)
    return std::unexpected(r.error());
  if (!outer)
    if (auto r = s.lock_head(); !r) return std::unexpected(r.error());
  const auto rollback = [&](error e) -> std::expected<append_result, error> {
    (void)s.conn->exec(outer ? "ROLLBACK" : "ROLLBACK TO pmdb_append; RELEASE pmdb_append");
    return std::unexpected(std::move(e));
  };

  std::unordered_map<std::string, std::int64_t> versions;  // incident → current version
  // Ids seen in this batch, pointing at their event (content keys are built only on a clash).
  std::unordered_map<std::string_view, const event*> seen;
  std::deque<std::string> derived_ids;  // ids derived here, alive until the batch is written
  for (const auto& [incident, want] : expected_versions) {
    auto have = s.version_of(incident);
    if (!have) return rollback(have.error());
    if (*have != want)
      return rollback(
          error(errc::conflict, fmt::format("version conflict on {}: expected {}, found {}", incident, want, *have)));
    versions[incident] = *have;
  }

  auto before = s.last_seq();
  if (!before) return rollback(before.error());
  // The chain continues from the last stored event's hash.
  auto chained = s.hash_of(*before);
  if (!chained) return rollback(chained.error());
  chain::digest prev = *chained;
  chain::row_bytes row;
  // Events whose versions change: targets of this batch's corrections and retractions.
  std::vector<std::string> refold;
  // Retractions of this batch, by target.
  std::unordered_map<std::string_view, std::string_view> retracted_here;
  const std::int64_t now = now_ms();
  // Each event's id, derived once when it has none.
  std::vector<std::string_view> ids;
  ids.reserve(batch.size());
  for (const event& e : batch) ids.push_back(e.id.empty() ? std::string_view(derived_ids.emplace_back(e.derived_id())) : e.id);
  // On a server a batch of some size travels as one COPY (one round trip, where an INSERT per
  // event takes one each): the ids it holds that are already stored are looked up first, with
  // one query, and the others are written at the end, in the batch's order.
  const bool bulk = s.dialect == sql_dialect::postgresql && batch.size() >= 16;
  std::unordered_set<std::string, string_hash, std::equal_to<>> stored_ids;
  std::string copy_rows;
  if (bulk) {
    auto found = s.stored_among(ids);
    if (!found) return rollback(found.error());
    stored_ids = std::move(*found);
  }
  for (const event& e : batch) {
    const auto refuse = [&](error err) {
      err.item = static_cast<std::size_t>(&e - batch.data());
      return rollback(std::move(err));
    };
    const std::string_view id = ids[static_cast<std::size_t>(&e - batch.data())];
    if (auto it = seen.find(id); it != seen.end()) {
      if (it->second->content_key() != e.content_key())
        return refuse(error(errc::conflict,
                            fmt::format("event id {} is used twice in this batch with different content", id)));
      ++result.existing;
      continue;
    }
    if (projection::is_audit_type(e.type) && e.target) {
      auto stored = s.is_stored(id);
      if (!stored) return rollback(stored.error());
      if (!*stored) {  // a new correction or retraction: its target must allow it
        if (auto r = s.check_target(e, id, seen, retracted_here); !r) return refuse(r.error());
        refold.push_back(*e.target);
        if (e.type == "retraction") retracted_here.emplace(*e.target, id);
      }
    }
    if (e.type == "action" && e.target) {
      auto stored = s.is_stored(id);
      if (!stored) return rollback(stored.error());
      if (!*stored)  // a new update of an action item: its item must exist
        if (auto r = s.check_action_item(e, id, seen, retracted_here); !r) return refuse(r.error());
    }
    auto vit = versions.find(e.incident);
    if (vit == versions.end()) {
      auto have = s.version_of(e.incident);
      if (!have) return rollback(have.error());
      vit = versions.emplace(e.incident, *have).first;
    }
    const std::int64_t version = ++vit->second;
    const std::int64_t position = *before + static_cast<std::int64_t>(result.appended) + 1;
    const std::int64_t recorded_at = e.recorded_at.value_or(now);
    // The row's canonical bytes, column by column as bound below (chain::hashed_columns).
    row.clear();
    row.integer(position);
    row.text(id);
    row.text(std::string_view(e.incident));
    row.integer(version);
    row.text(std::string_view(e.type));
    row.integer(e.at);
    row.integer(recorded_at);
    row.text(std::string_view(e.source));
    row.integer(e.approx ? 1 : 0);
    row.text(std::string_view(e.data));
    for (const auto* f : {&e.text, &e.status, &e.channel, &e.author, &e.metric}) row.text(*f);
    row.real(e.value);
    for (const auto* f : {&e.unit, &e.component, &e.state, &e.kind, &e.target}) row.text(*f);
    row.integer(now);
    row.text(std::string_view(s.recorded_by));
    const chain::digest hash = chain::link(prev, row.bytes());
    bool already;  // the id is stored: the same event again is fine, the same id for other content is not
    if (bulk) {
      already = stored_ids.contains(id);
      if (!already) copy_row(copy_rows, position, id, version, recorded_at, now, s.recorded_by, e, hash);
    } else {
      // The batch outlives the statement's execution, so its strings are bound without a copy.
      auto& ins = s.insert;
      ins.reset();
      ins.bind(1, position);
      ins.bind_static(2, id);
      ins.bind_static(3, std::string_view(e.incident));
      ins.bind(4, version);
      ins.bind_static(5, std::string_view(e.type));
      ins.bind(6, e.at);
      ins.bind(7, recorded_at);
      ins.bind_static(8, std::string_view(e.source));
      ins.bind(9, std::int64_t{e.approx ? 1 : 0});
      ins.bind_static(10, std::string_view(e.data));
      bind_typed(ins, 11, e);
      ins.bind(22, now);
      ins.bind_static(23, std::string_view(s.recorded_by));
      ins.bind_blob(24, hash.data(), hash.size());
      if (auto r = ins.run(); !r) return rollback(r.error());
      already = s.conn->changes() == 0;  // the insert skipped it
    }
    if (already) {
      --vit->second;
      auto stored = s.content_key_of(std::string(id));
      if (!stored) return rollback(stored.error());
      if (*stored != e.content_key())
        return refuse(error(errc::conflict, fmt::format("event id {} is already stored with different content", id)));
      ++result.existing;
    } else {
      ++result.appended;
      prev = hash;
    }
    seen.emplace(id, &e);
  }
  if (!copy_rows.empty())
    if (auto r = s.conn->copy_in(fmt::format("COPY events ({}, hash) FROM STDIN", chain::hashed_columns), copy_rows); !r)
      return rollback(r.error());
  if (result.appended > 0)
    if (auto r = s.store_head(*before + static_cast<std::int64_t>(result.appended), prev); !r) return rollback(r.error());
  if (auto r = s.copy_new_versions(*before); !r) return rollback(r.error());
  for (const auto& target : refold)
    if (auto r = s.refold(target); !r) return rollback(r.error());
  for (const auto& [incident, _] : versions) {
    // Without the versions' indexes a refresh would scan them: it waits for restore_indexes.
    if (!s.deferred_indexes.empty()) {
      s.deferred_incidents.insert(incident);
      continue;
    }
    if (auto r = s.refresh_incident(incident); !r) return rollback(r.error());
  }
  // The milestones: the new events' keys merged in; an incident with a new correction or
  // retraction recomputed whole (its first or last positions may move back).
  if (result.appended > 0)
    if (auto r = s.add_new_milestones(*before); !r) return rollback(r.error());
  std::set<std::string_view> refolded;
  for (const event& e : batch)
    if (projection::is_audit_type(e.type) && e.target) refolded.insert(e.incident);
  for (std::string_view incident : refolded) {
    if (!s.deferred_indexes.empty()) {  // it reads the incident's versions by their index: later
      s.deferred_milestones.emplace(incident);
      continue;
    }
    if (auto r = s.recompute_milestones(incident); !r) return rollback(r.error());
  }
  if (auto r = s.conn->exec(outer ? "COMMIT" : "RELEASE pmdb_append"); !r) return rollback(r.error());
  result.last_seq = last_seq();
  return result;
}

std::expected<void, error> event_store::begin() {
  return impl_->begin_write();
}
std::expected<void, error> event_store::commit() {
  if (!impl_->deferred_indexes.empty())
    if (auto r = restore_indexes(); !r) return r;
  return impl_->conn->exec("COMMIT");
}
void event_store::rollback() {
  // The rollback brings the dropped indexes back with everything else.
  impl_->deferred_indexes.clear();
  impl_->deferred_incidents.clear();
  impl_->deferred_milestones.clear();
  (void)impl_->conn->exec("ROLLBACK");
}

std::expected<void, error> event_store::defer_indexes() {
  impl& s = *impl_;
  if (!s.insert.get()) return std::unexpected(error(errc::read_only, "the store is open read-only"));
  if (!s.conn->in_transaction())
    return std::unexpected(error("defer_indexes: only inside a transaction (begin)"));
  if (!s.deferred_indexes.empty()) return {};
  // On a server the indexes stay: appends from other clients go on meanwhile.
  if (s.dialect != sql_dialect::sqlite) return {};
  // Every index of the log and the projection that the appends themselves do not read: not
  // the unique ones (the constraints' own), nor events_by_target (a correction's checks and
  // refold look its target's changes up by it). The store's own statements recreate them, so
  // the file ends up as it would have without the deferral.
  auto st = s.conn->prepare(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('events', 'event_versions') "
      "AND sql IS NOT NULL AND name <> 'events_by_target' ORDER BY name");
  if (!st) return std::unexpected(st.error());
  std::vector<std::pair<std::string, std::string>> found;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    found.emplace_back(st->text(0), st->text(1));
  }
  *st = {};
  for (const auto& [name, sql] : found) {
    if (auto r = s.conn->exec(fmt::format("DROP INDEX \"{}\"", name)); !r) {
      // Those already dropped come back with the caller's rollback.
      s.deferred_indexes.clear();
      return r;
    }
    s.deferred_indexes.push_back(sql);
  }
  return {};
}

std::expected<void, error> event_store::restore_indexes() {
  impl& s = *impl_;
  // Built by sorting the whole table once, instead of one random insert per row and index.
  // SQLite's sorter keeps as much in memory as the page cache may hold, on top of the cache:
  // both are cut to a quarter meanwhile, so that the import's resident memory stays flat.
  if (!s.deferred_indexes.empty()) {
    if (auto r = s.conn->exec("PRAGMA cache_size=-8192"); !r) return r;
    for (const auto& sql : s.deferred_indexes)
      if (auto r = s.conn->exec(sql); !r) return r;
    if (auto r = s.conn->exec("PRAGMA cache_size=-32768"); !r) return r;
  }
  s.deferred_indexes.clear();
  for (const auto& incident : s.deferred_incidents)
    if (auto r = s.refresh_incident(incident); !r) return r;
  s.deferred_incidents.clear();
  for (const auto& incident : s.deferred_milestones)
    if (auto r = s.recompute_milestones(incident); !r) return r;
  s.deferred_milestones.clear();
  return {};
}

std::expected<void, error> event_store::rebuild() {
  impl& s = *impl_;
  if (!s.refresh.get()) return std::unexpected(error(errc::read_only, "the store is open read-only"));
  if (auto r = s.begin_write(); !r) return r;
  if (auto r = s.rebuild_read_models(); !r) {
    rollback();
    return r;
  }
  return commit();
}

std::expected<void, error> event_store::create_roles() {
  impl& s = *impl_;
  if (s.dialect == sql_dialect::sqlite)
    return std::unexpected(error(errc::invalid, "roles are a server's: a store file has the file's permissions"));
  if (auto r = s.conn->exec("BEGIN"); !r) return r;
  if (auto r = s.conn->exec(embedded_files().at("postgresql-roles.sql")); !r) {
    rollback();
    return r;
  }
  return s.conn->exec("COMMIT");
}

std::expected<std::int64_t, error> event_store::copy_from(const event_store& source,
                                                        const std::function<void(std::int64_t, std::int64_t)>& progress) {
  impl& s = *impl_;
  const impl& from = *source.impl_;
  if (!s.insert.get()) return std::unexpected(error(errc::read_only, "the store is open read-only"));
  if (auto r = s.begin_write(); !r) return std::unexpected(r.error());
  const auto fail = [&](error e) -> std::expected<std::int64_t, error> {
    rollback();
    return std::unexpected(std::move(e));
  };
  auto mine = s.last_seq();
  if (!mine) return fail(mine.error());
  if (*mine != 0)
    return fail(error(errc::conflict, fmt::format("{} already holds {} events: a store is copied into an empty one only",
                                                  path(), *mine)));
  const std::int64_t total = source.last_seq();
  // The source is read in runs of positions, each one short query (a server's results arrive
  // whole), inside one read snapshot.
  const bool server_source = from.dialect != sql_dialect::sqlite;
  if (auto r = from.conn->exec(server_source ? "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
      !r)
    return fail(r.error());
  struct end_read {
    db::connection* conn;
    ~end_read() { (void)conn->exec("ROLLBACK"); }
  } guard{from.conn.get()};
  auto rows = from.conn->prepare(fmt::format("SELECT {}, hash FROM events WHERE seq > ?1 ORDER BY seq LIMIT 4096",
                                             chain::hashed_columns));
  if (!rows) return fail(rows.error());
  chain::digest prev = chain::genesis();
  chain::row_bytes bytes;
  std::int64_t position = 0;
  for (bool more = true; more;) {
    more = false;
    rows->reset();
    rows->bind(1, position);
    for (;;) {
      auto row = rows->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      more = true;
      const std::int64_t seq = rows->int64(0);
      if (seq != position + 1)
        return fail(error(errc::corrupt, fmt::format("{}: position {} is followed by {}: `pmdb verify` says more",
                                                     source.path(), position, seq)));
      bytes.clear();
      for (int c = 0; c < chain::hashed_column_count; ++c) bytes.column(*rows, c);
      const chain::digest hash = chain::link(prev, bytes.bytes());
      if (blob_digest(*rows, chain::hashed_column_count) != hash)
        return fail(error(errc::corrupt, fmt::format("{}: position {} does not match the chain: `pmdb verify` says more",
                                                     source.path(), seq)));
      auto& ins = s.insert;
      ins.reset();
      for (int c = 0; c < chain::hashed_column_count; ++c) {
        const int i = c + 1;
        switch (rows->type(c)) {
          case db::storage::null: ins.bind_null(i); break;
          case db::storage::integer: ins.bind(i, rows->int64(c)); break;
          case db::storage::real: ins.bind(i, rows->real(c)); break;
          default: ins.bind(i, rows->text(c)); break;
        }
      }
      ins.bind_blob(chain::hashed_column_count + 1, hash.data(), hash.size());
      if (auto r = ins.run(); !r) return fail(r.error());
      if (s.conn->changes() != 1)
        return fail(error(errc::corrupt, fmt::format("{}: the id of position {} is used twice", source.path(), seq)));
      prev = hash;
      position = seq;
    }
    if (progress) progress(position, total);
  }
  if (position > 0)
    if (auto r = s.store_head(position, prev); !r) return fail(r.error());
  if (auto r = s.rebuild_read_models(); !r) return fail(r.error());
  if (auto r = commit(); !r) return fail(r.error());
  return position;
}

std::expected<void, error> event_store::scan(const std::vector<std::string>& incidents,
                                             const std::function<void(const stored_event&)>& sink) const {
  // A server's results arrive whole: there the log is read in runs of positions (keyset pages of
  // the seq index), in one read snapshot, so that memory stays that of one run.
  const bool server = impl_->dialect != sql_dialect::sqlite;
  std::string sql = fmt::format("SELECT {} FROM events WHERE seq > ?", select_event_columns);
  if (!incidents.empty()) {
    sql += " AND incident IN (";
    for (std::size_t i = 0; i < incidents.size(); ++i) sql += i ? ",?" : "?";
    sql += ")";
  }
  sql += server ? " ORDER BY seq LIMIT 4096" : " ORDER BY seq";
  auto st = impl_->conn->prepare(sql);
  if (!st) return std::unexpected(st.error());
  server_read guard;
  if (auto r = guard.begin(*impl_->conn); !r) return r;
  std::int64_t after = 0;
  for (bool more = true; more;) {
    more = false;
    st->reset();
    st->bind(1, after);
    for (std::size_t i = 0; i < incidents.size(); ++i) st->bind(static_cast<int>(i + 2), std::string_view(incidents[i]));
    for (;;) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      const stored_event e = read_event(*st);
      after = e.seq;
      more = server;
      sink(e);
    }
  }
  return {};
}

std::expected<result_set, error> event_store::query(std::string_view sql, std::span<const value> params,
                                                    std::span<const column> columns) const {
  result_set out;
  out.columns.assign(columns.begin(), columns.end());
  auto r = query_each(sql, params, columns, [&](std::vector<value>& row) {
    out.rows.push_back(std::move(row));
    return true;
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

std::expected<void, error> event_store::query_each(std::string_view sql, std::span<const value> params,
                                                   std::span<const column> columns,
                                                   const std::function<bool(std::vector<value>&)>& sink) const {
  // Statements are kept by their SQL text: every literal of a query is a bound parameter, so
  // the same question about another incident reuses the prepared statement.
  auto& cache = impl_->query_cache;
  auto it = cache.find(sql);
  if (it == cache.end()) {
    auto prepared = impl_->conn->prepare(sql);
    if (!prepared) return std::unexpected(prepared.error());
    if (cache.size() >= 64) cache.clear();
    it = cache.emplace(std::string(sql), std::move(*prepared)).first;
  }
  // The statement is taken out of the cache while it runs: a sink may run another query, even
  // the same one, without resetting this one under it.
  db::statement owned = std::move(it->second);
  cache.erase(it);
  db::statement* st = &owned;
  st->reset();
  // Resetting releases the read snapshot however this function returns; the statement goes back
  // to the cache.
  struct reset_on_exit {
    db::statement* s;
    std::string sql;
    decltype(impl_->query_cache)* cache;
    ~reset_on_exit() {
      s->reset();
      if (cache->size() < 64) cache->try_emplace(std::move(sql), std::move(*s));
    }
  } guard{st, std::string(sql), &cache};
  if (!st->read_only()) return std::unexpected(error("refused: a query may only read the store"));
  const bool server = impl_->dialect != sql_dialect::sqlite;
  const auto check_columns = [&]() -> std::expected<void, error> {
    if (st->column_count() != static_cast<int>(columns.size()))
      return std::unexpected(error(fmt::format("internal error: the query returns {} columns, {} declared",
                                               st->column_count(), columns.size())));
    return {};
  };
  // A server knows a statement's columns once it ran.
  if (!server)
    if (auto r = check_columns(); !r) return r;
  server_read read_guard;
  if (auto r = read_guard.begin(*impl_->conn); !r) return r;
  for (std::size_t i = 0; i < params.size(); ++i) st->bind(static_cast<int>(i + 1), params[i]);
  std::vector<value> cells;
  for (bool first = true;; first = false) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (server && first)
      if (auto r = check_columns(); !r) return r;
    if (!*row) break;
    cells.clear();
    cells.reserve(columns.size());
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const int i = static_cast<int>(c);
      if (st->is_null(i)) {
        cells.emplace_back(null_value{});
        continue;
      }
      switch (columns[c].type) {
        case value_type::integer: cells.emplace_back(st->int64(i)); break;
        case value_type::real: cells.emplace_back(st->real(i)); break;
        case value_type::timestamp: cells.emplace_back(timestamp{st->int64(i)}); break;
        case value_type::duration: cells.emplace_back(duration{st->int64(i)}); break;
        case value_type::text:
        case value_type::null: cells.emplace_back(std::string(st->text(i))); break;
      }
    }
    if (!sink(cells)) break;
  }
  return {};
}

void event_store::interrupt() const { impl_->conn->interrupt(); }

std::vector<std::string> event_store::incident_ids() const {
  std::vector<std::string> out;
  auto st = impl_->conn->prepare("SELECT id FROM incidents ORDER BY id");
  if (!st) return out;
  while (st->step().value_or(false)) out.emplace_back(st->text(0));
  return out;
}

bool event_store::has_incident(std::string_view id) const {
  auto& st = impl_->has_incident;
  if (!st.get()) {
    auto r = impl_->conn->prepare("SELECT 1 FROM incidents WHERE id = ?");
    if (!r) return false;
    st = std::move(*r);
  }
  st.reset();
  st.bind(1, id);
  const bool found = st.step().value_or(false);
  st.reset();
  return found;
}

std::vector<incident_summary> event_store::incidents() const {
  std::vector<incident_summary> out;
  auto st = impl_->conn->prepare(
      "SELECT id, title, org, severity, status, started, ended, events FROM incidents ORDER BY started, id");
  if (!st) return out;
  while (st->step().value_or(false)) {
    incident_summary s;
    s.id = st->text(0);
    s.title = st->text(1);
    s.org = st->text(2);
    s.severity = st->text(3);
    s.status = st->text(4);
    s.started = st->int64(5);
    s.ended = st->int64(6);
    s.events = st->int64(7);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {
std::int64_t single_int(db::connection& conn, const char* sql) {
  auto st = conn.prepare(sql);
  if (!st || !st->step().value_or(false)) return 0;
  return st->int64(0);
}
}  // namespace

// The log is append-only (triggers refuse DELETE) and positions are assigned without gaps, so
// the last position is the number of events: an index lookup instead of a scan of the log.
std::int64_t event_store::event_count() const { return last_seq(); }
std::int64_t event_store::incident_count() const { return single_int(*impl_->conn, "SELECT count(*) FROM incidents"); }
std::int64_t event_store::last_seq() const { return impl_->last_seq().value_or(0); }

}  // namespace pmdb

namespace pmdb {

chain_head event_store::head() const {
  chain_head out{0, chain::hex(chain::genesis())};
  auto st = impl_->conn->prepare("SELECT position, hash FROM chain_head");
  if (!st || !st->step().value_or(false)) return out;
  out.position = st->int64(0);
  if (auto d = blob_digest(*st, 1))
    out.hash = chain::hex(*d);
  return out;
}

namespace {

// Column names of a version row (version_columns), for messages.
constexpr std::string_view version_column_names[] = {
    "seq",    "made_by", "rank",    "valid_from", "valid_to", "corrected", "id",     "incident", "version",
    "type",   "at",      "recorded_at", "source", "approx",   "data",      "text",   "status",   "channel",
    "author", "metric",  "value",   "unit",       "component", "state",    "kind",   "target"};
constexpr int version_column_count = 26;

constexpr std::string_view incident_columns =
    "id, title, org, services, severity, summary, started, ended, status, events, version";
constexpr std::string_view incident_column_names[] = {"id",      "title",   "org",    "services", "severity", "summary",
                                                      "started", "ended",   "status", "events",   "version"};
constexpr int incident_column_count = 11;

// The canonical bytes of each column of a version row, as the projection makes it of event `o`.
std::vector<std::string> expected_version(const stored_event& o, const projection::version& v) {
  std::vector<std::string> cols;
  chain::row_bytes b;
  const auto push = [&] {
    cols.emplace_back(b.bytes());
    b.clear();
  };
  const event& e = v.ev;
  b.integer(o.seq), push();
  b.integer(v.made_by), push();
  b.integer(v.rank), push();
  b.integer(v.valid_from), push();
  v.valid_to ? b.integer(*v.valid_to) : b.null(), push();
  b.integer(v.corrected ? 1 : 0), push();
  b.text(std::string_view(e.id)), push();
  b.text(std::string_view(e.incident)), push();
  b.integer(o.version), push();
  b.text(std::string_view(e.type)), push();
  b.integer(e.at), push();
  b.integer(o.recorded_at), push();
  b.text(std::string_view(e.source)), push();
  b.integer(e.approx ? 1 : 0), push();
  b.text(std::string_view(e.data)), push();
  for (const auto* f : {&e.text, &e.status, &e.channel, &e.author, &e.metric}) b.text(*f), push();
  b.real(e.value), push();
  for (const auto* f : {&e.unit, &e.component, &e.state, &e.kind, &e.target}) b.text(*f), push();
  return cols;
}

std::vector<std::string> row_columns(const db::statement& st, int count) {
  std::vector<std::string> cols;
  chain::row_bytes b;
  for (int c = 0; c < count; ++c) {
    b.column(st, c);
    cols.emplace_back(b.bytes());
    b.clear();
  }
  return cols;
}

// The index, in the query's column order (select_event_columns, then appended_at, recorded_by),
// of each hashed column (chain::hashed_columns order).
constexpr int hashed_index[chain::hashed_column_count] = {0,  3,  4,  1,  5,  6,  2,  7,  8,  9,  10, 11,
                                                          12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};

}  // namespace

std::expected<verify_report, error> event_store::verify(const verify_options& opts) const {
  sqlite3* db = impl_->db;
  db::connection* conn = impl_->conn.get();
  const bool server = impl_->dialect != sql_dialect::sqlite;
  verify_report rep;
  // A missing or changed trigger is said after the first bad position, if there is one: what
  // was done to the log through the opening it left matters more.
  std::string trigger_problem;
  const auto bad = [&](std::optional<std::int64_t> position, std::string problem) {
    rep.ok = false;
    rep.position = position;
    rep.problem = std::move(problem);
    if (!trigger_problem.empty()) rep.also.push_back(trigger_problem);
    return rep;
  };
  const auto prepare = [&](std::string_view sql) { return conn->prepare(sql); };

  // 1. The file itself (a server checks its own pages).
  if (!server) {
    auto st = prepare("PRAGMA integrity_check(10)");
    if (!st) return std::unexpected(st.error());
    std::string found;
    while (true) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      if (st->text(0) != "ok") found += (found.empty() ? "" : "; ") + std::string(st->text(0));
    }
    if (!found.empty()) return bad(std::nullopt, "the database file is damaged (PRAGMA integrity_check): " + found);
  }

  // Everything else reads one snapshot of the store.
  if (auto r = conn->exec(server ? "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"); !r)
    return std::unexpected(r.error());
  struct end_read {
    db::connection* conn;
    ~end_read() { (void)conn->exec("ROLLBACK"); }
  } guard{conn};

  // 2. The triggers that keep the log append-only and the head advancing: those a new store has.
  {
    auto problem = server ? find_server_trigger_problem(*conn) : find_trigger_problem(db);
    if (!problem) return std::unexpected(problem.error());
    trigger_problem = std::move(*problem);
  }

  // 3. Corrections and retractions, by target: the projection is recomputed from them.
  std::unordered_map<std::string, std::vector<stored_event>> changes;
  {
    auto st = prepare(fmt::format("SELECT {} FROM events WHERE target IS NOT NULL AND type IN ('correction', "
                                  "'retraction') ORDER BY seq",
                                  select_event_columns));
    if (!st) return std::unexpected(st.error());
    while (true) {
      auto row = st->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      stored_event c = read_event(*st);
      changes[*c.ev.target].push_back(std::move(c));
    }
  }

  // 4. The log, in store order: each position in turn, each hash against the chain recomputed,
  // and the versions the projection makes of each event against the event_versions table.
  const std::int64_t total = single_int(*conn, "SELECT coalesce(max(seq), 0) FROM events");
  // The head kept beside the log: removing the last events leaves it past the log's end.
  std::int64_t head_position = 0;
  std::optional<chain::digest> head_hash = chain::genesis();
  {
    auto st = prepare("SELECT position, hash FROM chain_head");
    if (!st) return std::unexpected(st.error());
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (*row) {
      head_position = st->int64(0);
      head_hash = blob_digest(*st, 1);
    }
  }
  if (head_position > total)
    return bad(total + 1, fmt::format("missing: the chain head is at position {} but the log ends at position {}: "
                                      "events were removed from its end",
                                      head_position, total));
  auto log = prepare(fmt::format("SELECT {}, appended_at, recorded_by, hash FROM events ORDER BY seq", select_event_columns));
  if (!log) return std::unexpected(log.error());
  auto versions = prepare(fmt::format("SELECT {} FROM event_versions ORDER BY seq, made_by", version_columns));
  if (!versions) return std::unexpected(versions.error());
  bool versions_left = versions->step().value_or(false);
  std::optional<std::string> from;
  if (opts.from) {
    from = *opts.from;
    std::ranges::transform(*from, from->begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (from->size() < 16 || from->size() > 64 || from->find_first_not_of("0123456789abcdef") != std::string::npos)
      return std::unexpected(error(errc::invalid, fmt::format("--from {}: not a chain hash (16 to 64 hex digits)", *opts.from)));
    if (chain::hex(chain::genesis()).starts_with(*from)) rep.from_position = 0;
  }
  chain::digest prev = chain::genesis();
  chain::row_bytes bytes;
  std::int64_t position = 0;
  while (true) {
    auto row = log->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ++position;
    const stored_event o = read_event(*log);
    if (o.seq != position)
      return bad(position, o.seq > position
                               ? fmt::format("missing: the log goes from position {} to {}", position - 1, o.seq)
                               : fmt::format("out of order: position {} follows {}", o.seq, position - 1));
    bytes.clear();
    for (int c : hashed_index) bytes.column(*log, c);
    const chain::digest hash = chain::link(prev, bytes.bytes());
    const auto stored = blob_digest(*log, 23);
    if (!stored)
      return bad(position, fmt::format("event {} (incident {}) has no chain hash", o.ev.id, o.ev.incident));
    if (*stored != hash)
      return bad(position, fmt::format("event {} (incident {}) does not match the chain: the row, or one before it, "
                                       "was changed, moved or replaced since it was appended",
                                       o.ev.id, o.ev.incident));
    prev = hash;
    if (from && !rep.from_position && chain::hex(hash).starts_with(*from)) rep.from_position = position;

    // The versions of this event, as the projection makes them.
    std::vector<projection::version> expected;
    if (projection::is_audit_type(o.ev.type)) {
      expected.push_back({o.seq, 0, o.recorded_at, std::nullopt, false, o.ev});
    } else {
      auto it = changes.find(o.ev.id);
      expected = projection::fold(o, it == changes.end() ? std::span<const stored_event>{} : it->second);
      // The table's order (its primary key), not the corrections' order.
      std::ranges::sort(expected, {}, &projection::version::made_by);
    }
    for (const auto& v : expected) {
      const std::string what = fmt::format("the read model event_versions disagrees with the log for event {} "
                                           "(the version made by position {})",
                                           o.ev.id, v.made_by);
      if (!versions_left) return bad(position, what + ": the row is missing");
      const std::int64_t at_seq = versions->int64(0);
      if (at_seq < position)
        return bad(at_seq, fmt::format("the read model event_versions has a version (made by position {}) the log "
                                       "does not make",
                                       versions->int64(1)));
      const auto want = expected_version(o, v);
      const auto have = row_columns(*versions, version_column_count);
      for (int c = 0; c < version_column_count; ++c)
        if (want[c] != have[c])
          return bad(position, at_seq != position || c < 2 ? what + ": the row is missing"
                                                           : fmt::format("{}: column {} differs", what, version_column_names[c]));
      auto next = versions->step();
      if (!next) return std::unexpected(next.error());
      versions_left = *next;
    }
    if (versions_left && versions->int64(0) == position)
      return bad(position, fmt::format("the read model event_versions has a version of event {} (made by position "
                                       "{}) the log does not make",
                                       o.ev.id, versions->int64(1)));
    if (opts.progress && position % 65536 == 0) opts.progress(position, total);
  }
  rep.events = position;
  rep.head = {position, chain::hex(prev)};

  // 5. The head kept beside the log (checked against its end above).
  {
    if (head_position < position)
      return bad(head_position + 1, fmt::format("the chain head is at position {}: the events after it were added "
                                                "without advancing it",
                                                head_position));
    if (!head_hash || *head_hash != prev)
      return bad(position, "the chain head's hash differs from the hash of the log's last event");
  }
  if (versions_left)
    return bad(versions->int64(0), fmt::format("the read model event_versions has versions of position {}, which is "
                                               "not in the log",
                                               versions->int64(0)));

  // 6. The incidents read model against the incidents relation recomputed from the versions
  // (checked above).
  {
    auto want = prepare(fmt::format("SELECT {} FROM ({}) AS r WHERE events > 0 ORDER BY id", incident_columns,
                                    projection::incidents_of("(SELECT DISTINCT incident FROM events)", false).sql));
    if (!want) return std::unexpected(want.error());
    auto have = prepare(fmt::format("SELECT {} FROM incidents ORDER BY id", incident_columns));
    if (!have) return std::unexpected(have.error());
    while (true) {
      auto w = want->step();
      if (!w) return std::unexpected(w.error());
      auto h = have->step();
      if (!h) return std::unexpected(h.error());
      if (!*w && !*h) break;
      if (!*w || (*h && have->text(0) < want->text(0)))
        return bad(std::nullopt, fmt::format("the read model incidents has a row for {}, which the log does not make",
                                             have->text(0)));
      if (!*h || want->text(0) < have->text(0))
        return bad(std::nullopt, fmt::format("the read model incidents lacks the row of incident {}", want->text(0)));
      const auto a = row_columns(*want, incident_column_count);
      const auto b = row_columns(*have, incident_column_count);
      for (int c = 0; c < incident_column_count; ++c)
        if (a[c] != b[c])
          return bad(std::nullopt, fmt::format("the read model incidents disagrees with the log for incident {}: "
                                               "column {} differs",
                                               want->text(0), incident_column_names[c]));
    }
  }
  // 7. The milestones read model against the milestones recomputed from the versions, one
  // incident at a time.
  {
    auto rows = prepare(fmt::format("SELECT {} FROM event_versions ORDER BY incident", key_field_columns));
    if (!rows) return std::unexpected(rows.error());
    auto have = prepare("SELECT type, key, first_at, first_seq, last_at, last_seq FROM milestones WHERE incident = ?1 "
                        "ORDER BY type, key");
    if (!have) return std::unexpected(have.error());
    projection::milestone_spans want;
    std::string current;
    const auto compare = [&]() -> std::expected<std::string, error> {
      have->reset();
      have->bind(1, std::string_view(current));
      for (const auto& [k, sp] : want.spans()) {
        const auto& [incident, type, key] = k;
        auto row = have->step();
        if (!row) return std::unexpected(row.error());
        const std::string what = fmt::format("({}, {:?})", type, key);
        if (!*row || std::pair(have->text(0), have->text(1)) > std::pair(std::string_view(type), std::string_view(key)))
          return fmt::format("the read model milestones lacks the row {} of incident {}", what, incident);
        if (std::pair(have->text(0), have->text(1)) < std::pair(std::string_view(type), std::string_view(key)))
          return fmt::format("the read model milestones has a row ({}, {:?}) for incident {}, which the log does not "
                             "make",
                             have->text(0), have->text(1), incident);
        if (have->int64(2) != sp.first.at || have->int64(3) != sp.first.seq || have->int64(4) != sp.last.at ||
            have->int64(5) != sp.last.seq)
          return fmt::format("the read model milestones disagrees with the log for incident {}: row {}", incident, what);
      }
      auto extra = have->step();
      if (!extra) return std::unexpected(extra.error());
      if (*extra)
        return fmt::format("the read model milestones has a row ({}, {:?}) for incident {}, which the log does not make",
                           have->text(0), have->text(1), current);
      have->reset();
      return std::string();
    };
    for (;;) {
      auto row = rows->step();
      if (!row) return std::unexpected(row.error());
      if (!*row || rows->text(0) != current) {
        if (!want.empty()) {
          auto problem = compare();
          if (!problem) return std::unexpected(problem.error());
          if (!problem->empty()) return bad(std::nullopt, std::move(*problem));
        }
        want.clear();
        if (!*row) break;
        current = rows->text(0);
      }
      add_milestone_fields(*rows, want);
    }
    auto orphan = prepare("SELECT incident FROM (SELECT DISTINCT incident FROM milestones) AS m WHERE NOT EXISTS "
                          "(SELECT 1 FROM event_versions AS v WHERE v.incident = m.incident) "
                          "LIMIT 1");
    if (!orphan) return std::unexpected(orphan.error());
    auto o = orphan->step();
    if (!o) return std::unexpected(o.error());
    if (*o)
      return bad(std::nullopt, fmt::format("the read model milestones has rows for incident {}, which the log does not "
                                           "make",
                                           orphan->text(0)));
  }
  if (!trigger_problem.empty()) {
    const std::string problem = std::exchange(trigger_problem, {});
    return bad(std::nullopt, problem);
  }
  if (from && !rep.from_position)
    return bad(std::nullopt, fmt::format("the head {} is not in this store's chain: the timeline it pinned was "
                                         "rewritten, or it belongs to another store",
                                         *opts.from));
  if (opts.progress) opts.progress(position, total);
  return rep;
}

std::expected<std::string, error> event_store::resolve_event_id(std::string_view prefix) const {
  auto st = impl_->conn->prepare("SELECT id FROM events WHERE id = ?1 UNION ALL "
                                 "SELECT id FROM (SELECT id FROM events WHERE id > ?1 AND id < ?2 "
                                 "ORDER BY id LIMIT 6) AS p");
  if (!st) return std::unexpected(st.error());
  // Every id that starts with `prefix` sorts between it and it followed by the byte 0xff
  // (never part of valid UTF-8): a range of the id index. A server takes text as valid UTF-8
  // only: there the bound is the highest code point, U+10FFFF.
  const std::string upper =
      std::string(prefix) + (impl_->dialect == sql_dialect::sqlite ? "\xff" : "\xf4\x8f\xbf\xbf");
  st->bind(1, prefix);
  st->bind(2, std::string_view(upper));
  std::vector<std::string> found;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    found.emplace_back(st->text(0));
    if (found.front() == prefix) return found.front();
  }
  if (found.empty() || prefix.size() < 6)
    return std::unexpected(error(errc::not_found, fmt::format("no event has the id {}{}", prefix,
                                                              found.empty() ? "" : " (an id prefix needs 6 characters or more)")));
  if (found.size() > 1) {
    std::string list;
    for (std::size_t i = 0; i < std::min<std::size_t>(found.size(), 5); ++i) list += (i ? ", " : "") + found[i];
    return std::unexpected(error(errc::invalid, fmt::format("the id prefix {} is ambiguous: {}{}", prefix, list,
                                                            found.size() > 5 ? ", ..." : "")));
  }
  return found.front();
}

}  // namespace pmdb
