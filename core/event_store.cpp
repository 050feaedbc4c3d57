#include "core/event_store.hpp"

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <fmt/format.h>

#include "core/embedded.hpp"
#include "core/sqlite.hpp"
#include "core/time.hpp"

namespace pmdb {

namespace {

constexpr std::int64_t application_id = 0x706d6462;  // "pmdb"

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Recomputes one incident's read-model row from the log; every subquery is an index lookup.
constexpr std::string_view refresh_incident_sql = R"sql(
INSERT OR REPLACE INTO incidents (id, title, org, services, severity, summary, started, ended, status, events, version)
SELECT ?1,
  json_extract(d.data, '$.title'), json_extract(d.data, '$.org'), json_extract(d.data, '$.services'),
  json_extract(d.data, '$.severity'), json_extract(d.data, '$.summary'),
  (SELECT min(at) FROM events WHERE incident = ?1),
  (SELECT max(at) FROM events WHERE incident = ?1),
  (SELECT status FROM events WHERE incident = ?1 AND type = 'status' ORDER BY at DESC, seq DESC LIMIT 1),
  v.version, v.version
FROM (SELECT max(version) AS version FROM events WHERE incident = ?1) AS v
LEFT JOIN (SELECT data FROM events WHERE incident = ?1 AND type = 'incident' ORDER BY at DESC, seq DESC LIMIT 1) AS d
WHERE v.version IS NOT NULL
)sql";

constexpr std::string_view insert_sql = R"sql(
INSERT INTO events (id, incident, version, type, at, recorded_at, source, approx, data,
                    text, status, channel, author, metric, value, unit, component, state, kind, target)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING
)sql";

constexpr std::string_view select_event_columns =
    "seq, version, recorded_at, id, incident, type, at, source, approx, data, "
    "text, status, channel, author, metric, value, unit, component, state, kind, target";

stored_event read_event(const sqlite::statement& s) {
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

// Lets an unordered_map keyed by std::string be searched with a string_view.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct event_store::impl {
  sqlite3* db = nullptr;
  std::string path;
  // Prepared once, reused by every append.
  sqlite::statement insert, find_by_id, stream_version, refresh;
  sqlite::statement has_incident;  // prepared on first use (also on read-only stores)
  std::unordered_map<std::string, sqlite::statement, string_hash, std::equal_to<>> query_cache;

  ~impl() {
    insert = {};
    find_by_id = {};
    stream_version = {};
    refresh = {};
    has_incident = {};
    query_cache.clear();
    sqlite3_close_v2(db);
  }

  std::expected<void, error> prepare_writers() {
    auto prep = [&](sqlite::statement& s, std::string_view sql) -> std::expected<void, error> {
      auto r = sqlite::statement::prepare(db, sql);
      if (!r) return std::unexpected(r.error());
      s = std::move(*r);
      return {};
    };
    if (auto r = prep(insert, insert_sql); !r) return r;
    if (auto r = prep(find_by_id, "SELECT incident, type, at, source, approx, data FROM events WHERE id = ?"); !r)
      return r;
    if (auto r = prep(stream_version, "SELECT coalesce(max(version), 0) FROM events WHERE incident = ?"); !r) return r;
    return prep(refresh, refresh_incident_sql);
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

  std::expected<void, error> refresh_incident(std::string_view incident) {
    refresh.reset();
    refresh.bind(1, incident);
    return refresh.run();
  }
};

event_store::event_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
event_store::event_store(event_store&&) noexcept = default;
event_store& event_store::operator=(event_store&&) noexcept = default;
event_store::~event_store() = default;

const std::string& event_store::path() const { return impl_->path; }
::sqlite3* event_store::raw_handle() const { return impl_->db; }

std::expected<event_store, error> event_store::open(const std::string& path, const open_options& opts) {
  const bool memory = path == ":memory:";
  if (!memory && !opts.create && !std::filesystem::exists(path))
    return std::unexpected(error(fmt::format("{}: no such store", path)));
  auto p = std::make_unique<impl>();
  p->path = path;
  int flags = opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (opts.create ? SQLITE_OPEN_CREATE : 0);
  flags |= SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &p->db, flags, nullptr) != SQLITE_OK)
    return std::unexpected(error(fmt::format("{}: cannot open: {}", path, p->db ? sqlite3_errmsg(p->db) : "out of memory")));
  sqlite3_extended_result_codes(p->db, 1);
  sqlite3_busy_timeout(p->db, opts.busy_timeout_ms);

  const auto fail = [&](const error& e) { return std::unexpected(error(fmt::format("{}: {}", path, e.message))); };
  const auto pragma_int = [&](const char* name) -> std::expected<std::int64_t, error> {
    auto s = sqlite::statement::prepare(p->db, fmt::format("PRAGMA {}", name));
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
    if (opts.read_only) return std::unexpected(error(fmt::format("{}: empty file, not a pmdb store", path)));
    // A new store. BEGIN IMMEDIATE serialises two processes creating the same file.
    if (auto r = sqlite::exec(p->db, "BEGIN IMMEDIATE"); !r) return fail(r.error());
    auto again = pragma_int("schema_version");
    if (again && *again == 0) {
      if (auto r = sqlite::exec(p->db, embedded_files().at("store.sql")); !r) {
        (void)sqlite::exec(p->db, "ROLLBACK");
        return fail(r.error());
      }
    }
    if (auto r = sqlite::exec(p->db, "COMMIT"); !r) return fail(r.error());
    app = pragma_int("application_id");
    version = pragma_int("user_version");
    if (!app || !version) return fail(error("cannot read the new store's header"));
  }
  if (*app != application_id)
    return std::unexpected(error(fmt::format("{}: not a pmdb store (an SQLite database of another application)", path)));
  if (*version > store_schema_version)
    return std::unexpected(error(fmt::format(
        "{}: store schema version {} is newer than this pmdb supports ({}); upgrade pmdb", path, *version,
        store_schema_version)));
  if (*version < 1) return std::unexpected(error(fmt::format("{}: damaged pmdb store (no schema version)", path)));

  if (!memory && !opts.read_only) {
    if (auto r = sqlite::exec(p->db, "PRAGMA journal_mode=WAL"); !r) return fail(r.error());
  }
  if (auto r = sqlite::exec(p->db, opts.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !r)
    return fail(r.error());
  // 32 MiB of page cache (SQLite's default is 2 MiB): random event ids make index inserts
  // touch pages all over the id index, and queries over many incidents reread the same pages.
  if (auto r = sqlite::exec(p->db, "PRAGMA cache_size=-32768"); !r) return fail(r.error());
  // Readers map the file instead of copying pages into the cache: large scans (questions over
  // every incident) read the OS's page cache directly. Writers keep plain I/O, so an import's
  // resident memory stays that of its page cache.
  if (opts.mmap_reads)
    if (auto r = sqlite::exec(p->db, "PRAGMA mmap_size=4294967296"); !r) return fail(r.error());
  if (!opts.read_only) {
    if (auto r = p->prepare_writers(); !r) return fail(r.error());
  }
  return event_store(std::move(p));
}

std::expected<append_result, error> event_store::append(std::span<const event> batch,
                                                        const std::map<std::string, std::int64_t>& expected_versions) {
  impl& s = *impl_;
  if (!s.insert.get()) return std::unexpected(error("the store is open read-only"));
  append_result result;
  const bool outer = sqlite3_get_autocommit(s.db) != 0;
  // Inside a caller's transaction (a streaming import) a savepoint keeps the batch atomic.
  if (auto r = sqlite::exec(s.db, outer ? "BEGIN IMMEDIATE" : "SAVEPOINT pmdb_append"); !r)
    return std::unexpected(r.error());
  const auto rollback = [&](error e) -> std::expected<append_result, error> {
    (void)sqlite::exec(s.db, outer ? "ROLLBACK" : "ROLLBACK TO pmdb_append; RELEASE pmdb_append");
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
      return rollback(error(fmt::format("version conflict on {}: expected {}, found {}", incident, want, *have)));
    versions[incident] = *have;
  }

  const std::int64_t now = now_ms();
  for (const event& e : batch) {
    std::string_view id = e.id;
    if (id.empty()) id = derived_ids.emplace_back(e.derived_id());
    if (auto it = seen.find(id); it != seen.end()) {
      if (it->second->content_key() != e.content_key())
        return rollback(error(fmt::format("event id {} is used twice in this batch with different content", id)));
      ++result.existing;
      continue;
    }
    auto vit = versions.find(e.incident);
    if (vit == versions.end()) {
      auto have = s.version_of(e.incident);
      if (!have) return rollback(have.error());
      vit = versions.emplace(e.incident, *have).first;
    }
    const std::int64_t version = ++vit->second;
    // The batch outlives the statement's execution, so its strings are bound without a copy.
    auto& ins = s.insert;
    ins.reset();
    ins.bind_static(1, id);
    ins.bind_static(2, std::string_view(e.incident));
    ins.bind(3, version);
    ins.bind_static(4, std::string_view(e.type));
    ins.bind(5, e.at);
    ins.bind(6, e.recorded_at.value_or(now));
    ins.bind_static(7, std::string_view(e.source));
    ins.bind(8, std::int64_t{e.approx ? 1 : 0});
    ins.bind_static(9, std::string_view(e.data));
    ins.bind_static(10, e.text);
    ins.bind_static(11, e.status);
    ins.bind_static(12, e.channel);
    ins.bind_static(13, e.author);
    ins.bind_static(14, e.metric);
    ins.bind(15, e.value);
    ins.bind_static(16, e.unit);
    ins.bind_static(17, e.component);
    ins.bind_static(18, e.state);
    ins.bind_static(19, e.kind);
    ins.bind_static(20, e.target);
    if (auto r = ins.run(); !r) return rollback(r.error());
    if (sqlite3_changes(s.db) == 0) {
      // The id is already stored (the insert's ON CONFLICT skipped it): the same event again
      // is fine, the same id for other content is not.
      --vit->second;
      auto stored = s.content_key_of(std::string(id));
      if (!stored) return rollback(stored.error());
      if (*stored != e.content_key())
        return rollback(error(fmt::format("event id {} is already stored with different content", id)));
      ++result.existing;
    } else {
      ++result.appended;
    }
    seen.emplace(id, &e);
  }
  for (const auto& [incident, _] : versions) {
    if (auto r = s.refresh_incident(incident); !r) return rollback(r.error());
  }
  if (auto r = sqlite::exec(s.db, outer ? "COMMIT" : "RELEASE pmdb_append"); !r) return rollback(r.error());
  result.last_seq = last_seq();
  return result;
}

std::expected<void, error> event_store::begin() {
  return sqlite::exec(impl_->db, "BEGIN IMMEDIATE");
}
std::expected<void, error> event_store::commit() { return sqlite::exec(impl_->db, "COMMIT"); }
void event_store::rollback() { (void)sqlite::exec(impl_->db, "ROLLBACK"); }

std::expected<void, error> event_store::rebuild() {
  impl& s = *impl_;
  if (!s.refresh.get()) return std::unexpected(error("the store is open read-only"));
  if (auto r = sqlite::exec(s.db, "BEGIN IMMEDIATE; DELETE FROM incidents;"); !r) return r;
  auto ids = sqlite::statement::prepare(s.db, "SELECT DISTINCT incident FROM events ORDER BY incident");
  if (!ids) {
    rollback();
    return std::unexpected(ids.error());
  }
  for (;;) {
    auto row = ids->step();
    if (!row) {
      rollback();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    if (auto r = s.refresh_incident(ids->text(0)); !r) {
      rollback();
      return r;
    }
  }
  return commit();
}

std::expected<void, error> event_store::scan(const std::vector<std::string>& incidents,
                                             const std::function<void(const stored_event&)>& sink) const {
  std::string sql = fmt::format("SELECT {} FROM events", select_event_columns);
  if (!incidents.empty()) {
    sql += " WHERE incident IN (";
    for (std::size_t i = 0; i < incidents.size(); ++i) sql += i ? ",?" : "?";
    sql += ")";
  }
  sql += " ORDER BY seq";
  auto st = sqlite::statement::prepare(impl_->db, sql);
  if (!st) return std::unexpected(st.error());
  for (std::size_t i = 0; i < incidents.size(); ++i) st->bind(static_cast<int>(i + 1), std::string_view(incidents[i]));
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
    sink(read_event(*st));
  }
}

std::expected<result_set, error> event_store::query(std::string_view sql, std::span<const value> params,
                                                    std::span<const column> columns) const {
  // Statements are kept by their SQL text: every literal of a query is a bound parameter, so
  // the same question about another incident reuses the prepared statement.
  auto& cache = impl_->query_cache;
  auto it = cache.find(sql);
  if (it == cache.end()) {
    auto prepared = sqlite::statement::prepare(impl_->db, sql);
    if (!prepared) return std::unexpected(prepared.error());
    if (cache.size() >= 64) cache.clear();
    it = cache.emplace(std::string(sql), std::move(*prepared)).first;
  }
  sqlite::statement* st = &it->second;
  st->reset();
  // Resetting releases the read snapshot however this function returns.
  struct reset_on_exit {
    sqlite::statement* s;
    ~reset_on_exit() { s->reset(); }
  } guard{st};
  if (!sqlite3_stmt_readonly(st->get())) return std::unexpected(error("refused: a query may only read the store"));
  if (st->column_count() != static_cast<int>(columns.size()))
    return std::unexpected(error(fmt::format("internal error: the query returns {} columns, {} declared",
                                             st->column_count(), columns.size())));
  for (std::size_t i = 0; i < params.size(); ++i) st->bind(static_cast<int>(i + 1), params[i]);
  result_set out;
  out.columns.assign(columns.begin(), columns.end());
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    std::vector<value> cells;
    cells.reserve(columns.size());
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const int i = static_cast<int>(c);
      const int t = sqlite3_column_type(st->get(), i);
      if (t == SQLITE_NULL) {
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
    out.rows.push_back(std::move(cells));
  }
  return out;
}

void event_store::interrupt() const { sqlite3_interrupt(impl_->db); }

std::vector<std::string> event_store::incident_ids() const {
  std::vector<std::string> out;
  auto st = sqlite::statement::prepare(impl_->db, "SELECT id FROM incidents ORDER BY id");
  if (!st) return out;
  while (st->step().value_or(false)) out.emplace_back(st->text(0));
  return out;
}

bool event_store::has_incident(std::string_view id) const {
  auto& st = impl_->has_incident;
  if (!st.get()) {
    auto r = sqlite::statement::prepare(impl_->db, "SELECT 1 FROM incidents WHERE id = ?");
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
  auto st = sqlite::statement::prepare(
      impl_->db, "SELECT id, title, org, severity, status, started, ended, events FROM incidents ORDER BY started, id");
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
std::int64_t single_int(sqlite3* db, const char* sql) {
  auto st = sqlite::statement::prepare(db, sql);
  if (!st || !st->step().value_or(false)) return 0;
  return st->int64(0);
}
}  // namespace

// The log is append-only (triggers refuse DELETE) and positions are assigned without gaps, so
// the last position is the number of events: an index lookup instead of a scan of the log.
std::int64_t event_store::event_count() const { return last_seq(); }
std::int64_t event_store::incident_count() const { return single_int(impl_->db, "SELECT count(*) FROM incidents"); }
std::int64_t event_store::last_seq() const { return single_int(impl_->db, "SELECT coalesce(max(seq), 0) FROM events"); }

}  // namespace pmdb
