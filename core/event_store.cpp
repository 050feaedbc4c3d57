#include "core/event_store.hpp"

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <fmt/format.h>

#include "core/embedded.hpp"
#include "core/json_text.hpp"
#include "core/projection.hpp"
#include "core/sqlite.hpp"
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
std::string refresh_incident_sql() {
  return fmt::format(
      "INSERT OR REPLACE INTO incidents (id, title, org, services, severity, summary, started, ended, status, events, "
      "version) SELECT * FROM ({}) WHERE events > 0",
      projection::incidents_of("(SELECT ?1 AS incident)", false).sql);
}

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

constexpr std::string_view insert_sql = R"sql(
INSERT INTO events (id, incident, version, type, at, recorded_at, source, approx, data,
                    text, status, channel, author, metric, value, unit, component, state, kind, target)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING
)sql";

constexpr std::string_view select_event_columns =
    "seq, version, recorded_at, id, incident, type, at, source, approx, data, "
    "text, status, channel, author, metric, value, unit, component, state, kind, target";

// Binds the typed columns text, status, channel, author, metric, value, unit, component, state,
// kind, target of `e` to parameters first, first + 1, … (without a copy: `e` must outlive the
// statement's execution).
void bind_typed(sqlite::statement& st, int first, const event& e) {
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
  std::optional<int> upgraded_from;  // set when open() upgraded the store
  // Prepared once, reused by every append.
  sqlite::statement insert, find_by_id, stream_version, refresh;
  // The projection's maintenance (see core/projection.hpp).
  sqlite::statement copy_versions, target_of, retraction_of, log_by_id, changes_of, drop_versions, insert_version;
  sqlite::statement has_incident;  // prepared on first use (also on read-only stores)
  std::unordered_map<std::string, sqlite::statement, string_hash, std::equal_to<>> query_cache;

  ~impl() {
    insert = {};
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
    if (auto r = prep(copy_versions, copy_versions_sql); !r) return r;
    if (auto r = prep(target_of, "SELECT seq, incident, type FROM events WHERE id = ?"); !r) return r;
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
    return prep(refresh, refresh_incident_sql());
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

  std::expected<std::int64_t, error> last_seq() {
    auto st = sqlite::statement::prepare(db, "SELECT coalesce(max(seq), 0) FROM events");
    if (!st) return std::unexpected(st.error());
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    return st->int64(0);
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

  // Recomputes every read model from the log, inside the caller's transaction.
  std::expected<void, error> rebuild_read_models() {
    if (auto r = sqlite::exec(db, "DELETE FROM event_versions; DELETE FROM incidents;"); !r) return r;
    if (auto r = copy_new_versions(0); !r) return r;
    const auto column = [&](std::string_view sql) -> std::expected<std::vector<std::string>, error> {
      auto st = sqlite::statement::prepare(db, sql);
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
    return {};
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
std::optional<int> event_store::upgraded_from() const { return impl_->upgraded_from; }
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
  if (!opts.read_only && *version < store_schema_version) {
    // Version 1 → 2: the projection. The log is untouched; two of its query indexes move to the
    // versions table, the missing tables and indexes are created by store.sql (whose every
    // CREATE is IF NOT EXISTS, and which sets the new user_version), and the read models are
    // computed from the log. One transaction: a failure leaves the version-1 store as it was.
    if (auto r = sqlite::exec(p->db, "BEGIN IMMEDIATE"); !r) return fail(r.error());
    auto again = pragma_int("user_version");
    if (!again) {
      (void)sqlite::exec(p->db, "ROLLBACK");
      return fail(again.error());
    }
    if (*again < store_schema_version) {  // another process may have upgraded it meanwhile
      auto r = sqlite::exec(p->db,
                            "DROP INDEX IF EXISTS events_by_incident_at; DROP INDEX IF EXISTS events_by_type_at;");
      if (r) r = sqlite::exec(p->db, embedded_files().at("store.sql"));
      if (r) r = p->prepare_writers();
      if (r) r = p->rebuild_read_models();
      if (!r) {
        (void)sqlite::exec(p->db, "ROLLBACK");
        return fail(r.error());
      }
      p->upgraded_from = static_cast<int>(*again);
    }
    if (auto r = sqlite::exec(p->db, "COMMIT"); !r) return fail(r.error());
  } else if (!opts.read_only) {
    if (auto r = p->prepare_writers(); !r) return fail(r.error());
  }
  return event_store(std::move(p));
}

std::expected<append_result, error> event_store::append(std::span<const event> batch,
                                                        const std::map<std::string, std::int64_t>& expected_versions) {
  impl& s = *impl_;
  if (!s.insert.get()) return std::unexpected(error(errc::read_only, "the store is open read-only"));
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
      return rollback(
          error(errc::conflict, fmt::format("version conflict on {}: expected {}, found {}", incident, want, *have)));
    versions[incident] = *have;
  }

  auto before = s.last_seq();
  if (!before) return rollback(before.error());
  // Events whose versions change: targets of this batch's corrections and retractions.
  std::vector<std::string> refold;
  // Retractions of this batch, by target.
  std::unordered_map<std::string_view, std::string_view> retracted_here;
  const std::int64_t now = now_ms();
  for (const event& e : batch) {
    const auto refuse = [&](error err) {
      err.item = static_cast<std::size_t>(&e - batch.data());
      return rollback(std::move(err));
    };
    std::string_view id = e.id;
    if (id.empty()) id = derived_ids.emplace_back(e.derived_id());
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
    bind_typed(ins, 10, e);
    if (auto r = ins.run(); !r) return rollback(r.error());
    if (sqlite3_changes(s.db) == 0) {
      // The id is already stored (the insert's ON CONFLICT skipped it): the same event again
      // is fine, the same id for other content is not.
      --vit->second;
      auto stored = s.content_key_of(std::string(id));
      if (!stored) return rollback(stored.error());
      if (*stored != e.content_key())
        return refuse(error(errc::conflict, fmt::format("event id {} is already stored with different content", id)));
      ++result.existing;
    } else {
      ++result.appended;
    }
    seen.emplace(id, &e);
  }
  if (auto r = s.copy_new_versions(*before); !r) return rollback(r.error());
  for (const auto& target : refold)
    if (auto r = s.refold(target); !r) return rollback(r.error());
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
  if (!s.refresh.get()) return std::unexpected(error(errc::read_only, "the store is open read-only"));
  if (auto r = sqlite::exec(s.db, "BEGIN IMMEDIATE"); !r) return r;
  if (auto r = s.rebuild_read_models(); !r) {
    rollback();
    return r;
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
std::int64_t event_store::last_seq() const { return impl_->last_seq().value_or(0); }

}  // namespace pmdb

namespace pmdb {

chain_head event_store::head() const { return {}; }

std::expected<verify_report, error> event_store::verify(const verify_options&) const {
  return std::unexpected(error("verify: not yet"));
}

std::expected<std::string, error> event_store::resolve_event_id(std::string_view prefix) const {
  auto st = sqlite::statement::prepare(impl_->db, "SELECT id FROM events WHERE id = ?1 UNION ALL "
                                                  "SELECT id FROM (SELECT id FROM events WHERE id > ?1 AND id < ?2 "
                                                  "ORDER BY id LIMIT 6)");
  if (!st) return std::unexpected(st.error());
  // Every id that starts with `prefix` sorts between it and it followed by the byte 0xff
  // (never part of valid UTF-8): a range of the id index.
  const std::string upper = std::string(prefix) + "\xff";
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
