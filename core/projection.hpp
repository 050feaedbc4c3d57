#pragma once
// What the store believes about an incident, now or as of an earlier recorded time: the one
// rule every reader goes through (PMQL, `show`, timelines, postmortems, the importers' edit
// detection). The normative text is schemas/README.md, "What the store believes"; this file is
// that rule in code: the fold of an event's corrections and retraction into versions, each
// believed during an interval of recorded time, and the SQL that reads those versions.
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/event.hpp"

namespace pmdb::projection {

// Corrections and retractions are facts about the record, never about the incident: they are
// no milestone, and an incident's start, end and span never count them.
bool is_audit_type(std::string_view type);

// Statuses that close an incident, and statuses that say it is (again) open. `postmortem`
// is neither: a postmortem published a week later does not move the incident's end.
inline constexpr std::string_view resolution_statuses[] = {"resolved", "completed"};
inline constexpr std::string_view open_statuses[] = {"investigating", "identified", "monitoring",
                                                     "scheduled",     "in_progress", "verifying"};

// One version of an event: what is believed about it from `valid_from` (inclusive) to
// `valid_to` (exclusive; nullopt: still believed). An interval with valid_from == valid_to is
// never believed (a correction superseded before it was, or one recorded before its target).
struct version {
  std::int64_t made_by = 0;  // the log position of the event or correction that made it
  std::int64_t rank = 0;     // 0: as appended; k: after the k-th correction, in (recorded_at, seq) order
  std::int64_t valid_from = 0;
  std::optional<std::int64_t> valid_to;
  bool corrected = false;    // some correction set `at` or `data`
  event ev;                  // the believed event: the original's id, type, source; corrected at and data
};

// The versions of `original` given every correction and retraction in the log that targets it
// (any order). The rule: corrections apply in (recorded_at, seq) order, each replacing the
// fields it gives (data.at, data.data: the whole payload), so for each field the latest
// believed correction wins; a version is believed from max(its recorded_at, the original's);
// the first retraction ends the last version. A change of another incident, or a correction
// whose data.data is not valid for the target's type, is ignored (the store refuses both at
// append; a store written by an older pmdb may hold them). `original` must not itself be a
// correction or a retraction (those have exactly one version).
std::vector<version> fold(const stored_event& original, std::span<const stored_event> changes);

// ---------------------------------------------------------------- SQL (SQLite dialect)

// The relations, by table: the log as appended, the versions, the incidents read model.
inline constexpr std::string_view log_table = "events";
inline constexpr std::string_view versions_table = "event_versions";
inline constexpr std::string_view incidents_table = "incidents";

// A piece of SQL whose `?`s all stand for the as-of time T, `as_of_params` of them.
struct sql_text {
  std::string sql;
  int as_of_params = 0;
};

// The condition "row `alias` of event_versions is believed": now (valid_to IS NULL), or as of T
// (one `?`: T falls in [valid_from, valid_to)).
sql_text believed(std::string_view alias, bool as_of);

// The incidents relation: one row per incident with a believed event, columns id, title, org,
// services, severity, summary, started, ended, status, events, version, computed from the
// believed versions. `ids` is a FROM item with one column `incident` listing the incidents to
// compute (each once). started: the first fact's at; ended: the resolution's at (the first
// resolution status after the last open status), else the last fact's; both leave out
// corrections and retractions. title, org, services, severity, summary: the latest `incident`
// event; status: the latest `status` event (occurred order: at, seq). events: the believed
// events, corrections and retractions included. version: the stream's version (as of T: the
// number of its events recorded by T). `lazy`: a query that reads some columns only computes
// those (each field of the description is then looked up on its own).
sql_text incidents_of(std::string_view ids, bool as_of, bool lazy = false);

// The incidents relation as of T, over every incident with an event believed at T: the read
// model's rows of the incidents last recorded at or before T (milestones' @recorded row), the
// relation computed from the versions for the others.
// `columns`: the columns to compute (a comma-separated list of its column names; empty: all).
sql_text incidents_as_of(std::string_view columns = {});


// ---------------------------------------------------------------- the milestones read model

// For each incident and milestone key, the position (at, seq) of the first and of the last
// believed event with that key (schemas/store.sql, `milestones`). A key is a (type, key) pair:
//   ("*", "")               every event that is not a correction or retraction (start, end)
//   (TYPE, "")              every event of the type
//   ("status", STATUS)      a status post of that status
//   ("comm", CHANNEL)       a communication on that channel
//   ("component", component_key(NAME, "")) and ("component", component_key(NAME, STATE))
//   ("metric", metric_key(NAME))            any value of the metric (names match in any ASCII case)
// and one row that is no milestone: ("@recorded", ""), whose first and last positions are the
// earliest and latest (recorded_at, seq) of all the incident's events in the log (corrections,
// retractions and retracted events included). When its last recorded_at is at or before T,
// nothing about the incident changed after T: what was believed as of T is what is believed now,
// and an `as of T` question reads the read models for it.
// PMQL's `first P`, `last P`, `start`, `end` and "the first P at or after M" read it instead of
// walking the incident's events, for every pattern that is one such key (query/compiler.cpp).
inline constexpr std::string_view milestones_table = "milestones";
inline constexpr std::string_view any_event_key_type = "*";
inline constexpr std::string_view recorded_key_type = "@recorded";

std::string component_key(std::string_view name, std::string_view state);
std::string metric_key(std::string_view name);

// The fields of a believed event that its keys are made of.
struct key_fields {
  std::string_view incident, type;
  const std::optional<std::string>* status = nullptr;
  const std::optional<std::string>* channel = nullptr;
  const std::optional<std::string>* component = nullptr;
  const std::optional<std::string>* state = nullptr;
  const std::optional<std::string>* metric = nullptr;
};

// First and last positions per (incident, type, key), folded from believed events in any order.
class milestone_spans {
 public:
  struct position {
    std::int64_t at = 0, seq = 0;
    auto operator<=>(const position&) const = default;
  };
  struct span {
    position first, last;
  };
  using key = std::tuple<std::string, std::string, std::string>;  // incident, type, key

  // One version row of the incident's event at log position `seq`: its keys when it is believed
  // now, and its recorded time always.
  void add(const key_fields& f, std::int64_t at, std::int64_t seq, std::int64_t recorded_at, bool believed);
  const std::map<key, span>& spans() const { return spans_; }
  bool empty() const { return spans_.empty(); }
  void clear() { spans_.clear(); }

 private:
  void add_key(std::string_view incident, std::string_view type, std::string key, position p);
  std::map<key, span> spans_;
};

}  // namespace pmdb::projection
