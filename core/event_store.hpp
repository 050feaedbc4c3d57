#pragma once
// The append-only event store on one SQLite file.
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

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/value.hpp"

struct sqlite3;

namespace pmdb {

inline constexpr int store_schema_version = 2;

struct open_options {
  bool create = true;       // create the file (and the schema) when missing
  bool read_only = false;   // open with SQLITE_OPEN_READONLY
  bool durable = true;      // synchronous=FULL; false: NORMAL (for bulk loads and tests)
  int busy_timeout_ms = 10'000;
  bool mmap_reads = true;   // memory-map the file for reading (off for bulk imports: flat RSS)
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

class event_store {
 public:
  // Opens (or creates) a store. ":memory:" gives a private in-memory store. Fails with a clear
  // message when the file is not a pmdb store, is of a newer schema version, or is corrupt.
  static std::expected<event_store, error> open(const std::string& path, const open_options& opts = {});

  event_store(event_store&&) noexcept;
  event_store& operator=(event_store&&) noexcept;
  ~event_store();

  const std::string& path() const;

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

  // Recomputes every read model from the log, in one transaction.
  std::expected<void, error> rebuild();

  // Calls `sink` with every stored event of `incidents` (all when empty), in seq order.
  std::expected<void, error> scan(const std::vector<std::string>& incidents,
                                  const std::function<void(const stored_event&)>& sink) const;

  // Runs one read-only statement (anything that would write is refused) with `params` bound
  // in order, converting each column to its declared type (timestamp/duration columns hold
  // integer milliseconds). Safe to call from another thread's interrupt().
  std::expected<result_set, error> query(std::string_view sql, std::span<const value> params,
                                         std::span<const column> columns) const;

  // Interrupts a running query (from a signal handler or another thread).
  void interrupt() const;

  std::vector<std::string> incident_ids() const;
  // Whether the store holds incident `id` (an indexed lookup on the read model).
  bool has_incident(std::string_view id) const;
  std::vector<incident_summary> incidents() const;
  std::int64_t event_count() const;     // O(log n): the log has no gaps
  std::int64_t incident_count() const;
  std::int64_t last_seq() const;

  // The underlying connection, for tests and benchmarks that must reach SQLite directly.
  ::sqlite3* raw_handle() const;

 private:
  struct impl;
  explicit event_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace pmdb
