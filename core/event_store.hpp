#pragma once
// The append-only event store: on one SQLite file, or in the schema `pmdb` of a PostgreSQL
// database (a team server). The same operations and answers on both.
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dialect.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "core/value.hpp"

namespace pmdb {

inline constexpr int store_schema_version = 4;

struct open_options {
  bool create = true;       // create the file (and the schema) when missing
  bool read_only = false;   // open with SQLITE_OPEN_READONLY
  bool durable = true;      // synchronous=FULL; false: NORMAL (for bulk loads and tests)
  int busy_timeout_ms = 10'000;
  bool mmap_reads = true;   // memory-map the file for reading (off for bulk imports: flat RSS)
  // Who appends through this handle, kept with every event it appends (`recorded_by`). Empty:
  // $PMDB_USER, else the login name ($USER, $LOGNAME, the password database), else "unknown".
  std::string recorded_by{};
  // Open even when the cheap check every open makes (the triggers that keep the log append-only
  // are there, positions run from 1 to the chain head) fails: for `verify`, which says more.
  bool allow_damaged = false;
};

// The head of the store's hash chain: the position of the last event and the chain's hash
// there (64 lowercase hex digits). An empty store has position 0 and the hash of 32 zero bytes.
// The chain is defined in schemas/README.md, "The hash chain".
struct chain_head {
  std::int64_t position = 0;
  std::string hash;
};

struct verify_options {
  // A head published earlier (hex, at least 16 digits: a prefix of a full hash): the check
  // also says whether it is still the chain's hash at some position, i.e. whether the
  // timeline it pinned is a prefix of today's log.
  std::optional<std::string> from;
  // Called now and then with the events checked so far and the total.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

// What `verify` found. `ok` is false at the first problem: `position` names the log position
// where it is (nullopt when the problem is not at a position: a trigger, a read model row of an
// incident, the database file itself) and `problem` says what is wrong there.
struct verify_report {
  bool ok = true;
  std::int64_t events = 0;       // events checked
  chain_head head;               // the head the check computed (up to the first bad position)
  std::optional<std::int64_t> position;
  std::string problem;
  std::optional<std::int64_t> from_position;  // where the `from` head was found
  std::vector<std::string> also;             // further findings (a missing trigger), said after `problem`
};

struct append_result {
  std::size_t appended = 0;  // new events written
  std::size_t existing = 0;  // events whose id was already stored with identical content
  std::int64_t last_seq = 0; // the store's last position after the append
};

struct incident_summary {
  std::string id, title, org, severity, status;
  std::int64_t started = 0, ended = 0, events = 0;
};

// The store engines' library versions (SQLite's, libpq's), for `pmdb --version`.
std::string store_library_versions();

class event_store {
 public:
  // Opens (or creates) a store. ":memory:" gives a private in-memory store. A libpq URI
  // (postgresql://…, postgres://…) or keyword/value string (host=… dbname=…) opens the store in
  // the schema `pmdb` of that PostgreSQL database (libpq's PG* environment variables fill in
  // what it leaves out); `create` makes it there when missing (schemas/postgresql.sql). Fails
  // with a clear message when the file or database holds no pmdb store, one of a newer schema
  // version, or a corrupt one.
  static std::expected<event_store, error> open(const std::string& path, const open_options& opts = {});

  event_store(event_store&&) noexcept;
  event_store& operator=(event_store&&) noexcept;
  ~event_store();

  // Whether `target` names a server store (a libpq URI or keyword/value string), not a file.
  static bool is_server(std::string_view target);

  // The file's path, or the server's connection string without its password.
  const std::string& path() const;
  // The SQL engine the store is on (for code that writes SQL: the PMQL compiler, the reports).
  sql_dialect dialect() const;

  // The schema version the store had when open() upgraded it in place (one transaction: the
  // log untouched, the read models computed anew); nullopt when it was already current. A
  // store of an older version opened read-only is refused (errc::read_only) instead.
  std::optional<int> upgraded_from() const;

  // Appends a batch in one transaction: all events or none. Events without an id get their
  // derived id; an id already stored with identical content is skipped (counted in
  // `existing`); the same id with different content is an error naming the id.
  // `expected_versions` maps incident → the version the caller last saw (0: a new stream);
  // a mismatch fails with "version conflict on INCIDENT: expected N, found M" and writes nothing.
  // A new correction or retraction whose target is missing (neither stored nor earlier in the
  // batch), of another incident, itself a correction or retraction, or retracted, and a
  // correction whose data.data is invalid for its target's type, fail with errc::invalid naming
  // the event and the target. An error about one event of the batch has `item` set to its index.
  // The projection (core/projection.hpp) and the incidents read model
  // are updated in the same transaction.
  std::expected<append_result, error> append(std::span<const event> batch,
                                             const std::map<std::string, std::int64_t>& expected_versions = {});

  // An explicit transaction around several appends (a streaming import): appends inside it
  // are each atomic, and rollback() undoes them all. begin() waits for other writers.
  std::expected<void, error> begin();
  std::expected<void, error> commit();
  void rollback();
  // For an import large relative to the store, inside its transaction: drops the secondary
  // indexes of the log and the projection that appends do not read, and defers the read
  // models' refresh. restore_indexes() (or commit()) recreates them, each by one sort, and
  // refreshes every incident appended to meanwhile; rollback() undoes the drop.
  std::expected<void, error> defer_indexes();
  std::expected<void, error> restore_indexes();

  // Recomputes every read model from the log, in one transaction.
  std::expected<void, error> rebuild();

  // On a server: makes (or brings up to date) the roles pmdb_writer and pmdb_analyst and their
  // privileges on the store (schemas/postgresql-roles.sql). errc::invalid on a file.
  std::expected<void, error> create_roles();

  // Copies the whole log of `source` into this store, which must hold no event, in one
  // transaction: every row as it is (position, id, version, recorded time, who appended it and
  // when, and its chain hash, each hash checked against the chain recomputed on the way), then
  // the read models computed from it. Both stores then verify and export alike, whatever the
  // engine of each. `progress` gets the rows copied so far and the total.
  std::expected<std::int64_t, error> copy_from(const event_store& source,
                                               const std::function<void(std::int64_t, std::int64_t)>& progress = {});

  // Calls `sink` with every stored event of `incidents` (all when empty), in seq order.
  std::expected<void, error> scan(const std::vector<std::string>& incidents,
                                  const std::function<void(const stored_event&)>& sink) const;

  // Runs one read-only statement (anything that would write is refused) with `params` bound
  // in order, converting each column to its declared type (timestamp/duration columns hold
  // integer milliseconds). Safe to call from another thread's interrupt().
  std::expected<result_set, error> query(std::string_view sql, std::span<const value> params,
                                         std::span<const column> columns) const;
  // The same, row by row: `sink` gets each row (it may move the cells out) and returns false to
  // stop. Memory stays that of one row whatever the result's size; `sink` may run other queries.
  std::expected<void, error> query_each(std::string_view sql, std::span<const value> params,
                                        std::span<const column> columns,
                                        const std::function<bool(std::vector<value>&)>& sink) const;

  // Interrupts a running query (from a signal handler or another thread).
  void interrupt() const;

  std::vector<std::string> incident_ids() const;
  // Whether the store holds incident `id` (an indexed lookup on the read model).
  bool has_incident(std::string_view id) const;
  std::vector<incident_summary> incidents() const;
  std::int64_t event_count() const;     // O(log n): the log has no gaps
  std::int64_t incident_count() const;
  std::int64_t last_seq() const;

  // The chain's head as stored (the last event's hash): O(log n).
  chain_head head() const;
  // Who appends through this handle (open_options::recorded_by, resolved).
  const std::string& recorded_by() const;

  // Checks the whole store, read-only, in one read snapshot: PRAGMA integrity_check, the
  // append-only triggers, every event's hash against the chain recomputed from the log (and the
  // head kept beside it), and the read models against the projection recomputed from the log.
  // Fails (the expected's error) only when the check itself cannot run.
  std::expected<verify_report, error> verify(const verify_options& opts = {}) const;

  // Resolves an event id as a user types it: the exact id, else the one id starting with
  // `prefix` (at least 6 characters). errc::not_found when none, errc::invalid when several
  // (the message lists some).
  std::expected<std::string, error> resolve_event_id(std::string_view prefix) const;

 private:
  friend struct store_access;  // core/store_access.hpp: tests and benchmarks reach SQLite directly
  static std::expected<event_store, error> open_server(const std::string& target, const open_options& opts);
  struct impl;
  explicit event_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace pmdb
