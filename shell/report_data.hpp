#pragma once
// What the reports read from the store and how, shared by the Markdown postmortem
// (shell/postmortem.cpp), its Mermaid chart (shell/report_chart.cpp) and the HTML report
// (shell/report_html.cpp), so that they cannot disagree: the incident's row, its events in the
// view (core/projection.hpp: now, or as of T; corrections applied, retracted events left out),
// the milestones of the key durations through PMQL, component spans, where sources disagree.
// Internal to the shell.
#include <algorithm>
#include <cstdint>
#include <expected>
#include <functional>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <date/tz.h>

#include "core/dialect.hpp"
#include "core/error.hpp"
#include "core/event_store.hpp"
#include "core/projection.hpp"
#include "core/value.hpp"
#include "query/compiler.hpp"

namespace pmdb::shell::report_data {

// ------------------------------------------------------------------ the incident's data

struct ev {
  std::int64_t seq = 0;  // the original event's log position
  std::int64_t at = 0;   // the believed time (corrected when a correction gave one)
  std::int64_t recorded_at = 0;
  std::string id, type, source;
  bool approx = false;
  bool corrected = false;  // a correction set its time or its data
  std::string data;        // the believed payload, minified JSON
  std::string text, status, channel, author, metric, unit, component, state, kind, target;
  std::optional<double> value;
  std::int64_t rank = 0, made_by = 0;          // which version of the event this is
  std::int64_t valid_from = 0;
  std::optional<std::int64_t> valid_to;
  // From `data`, for the types that have them.
  std::vector<std::string> tags;              // note
  std::string role, document;                 // note: a role and its people, the document's status
  std::vector<std::string> people;
  std::string owner, tracker, due, of, action_state;  // action (`of`: the item an update updates)
  std::string reason;                         // correction, retraction
  bool has_tag(std::string_view t) const { return std::ranges::find(tags, t) != tags.end(); }
  bool is_audit() const { return projection::is_audit_type(type); }
};

struct incident_row {
  std::string id, title, org, severity, summary, status;
  std::vector<std::string> services;
  std::int64_t started = 0, ended = 0, events = 0;
};

std::string text_of(const value& v);
std::int64_t int_of(const value& v);
std::optional<double> real_of(const value& v);

// Appends the parameters of projection SQL `t`: T once per `?` (it has none in the view of now).
void bind_as_of(std::vector<value>& params, const projection::sql_text& t, std::optional<std::int64_t> as_of);

// The incident's row of the incidents relation of the view: the read model now, the
// projection's relation as of T. nullopt when the incident has no believed event in the view.
std::expected<std::optional<incident_row>, error> load_incident(const event_store& store, const std::string& id,
                                                                std::optional<std::int64_t> as_of);

// The incident a report is about, with the errors a report gives: "unknown incident 'X'; did you
// mean 'Y'?" (the suggestion only when one is close) and "no such incident 'X' as of T", both
// errc::not_found, or a store failure.
std::expected<incident_row, error> find_incident(const event_store& store, const std::string& id,
                                                 std::optional<std::int64_t> as_of);

// The zone named `tz` for local times; nullptr for an empty name. Error: "unknown time zone 'Z'
// (...)", errc::invalid.
std::expected<const date::time_zone*, error> find_zone(const std::string& tz);

// The columns every event_versions read takes, in the order `to_ev` reads them.
inline constexpr std::string_view version_columns =
    "v.seq, v.type, v.at, v.source, v.approx, v.data, v.text, v.status, v.channel, v.author, v.metric, v.value, "
    "v.unit, v.component, v.state, v.kind, v.target, v.id, v.recorded_at, v.corrected, v.rank, v.made_by, "
    "v.valid_from, v.valid_to";
inline constexpr std::size_t n_version_columns = 24;

// The declared types of `version_columns`, then `extra` columns.
std::vector<column> version_cols(std::initializer_list<column> extra = {});

// One row of `version_columns` (its cells moved out).
ev to_ev(std::vector<value>& r);

// Calls `sink` with each row of event_versions `v` that satisfies `where` (its `?`s bound by
// `params`), in `order`, one row in memory at a time; `sink` returns false to stop.
std::expected<void, error> each_version(const event_store& store, const std::string& where,
                                        const std::vector<value>& params, std::string_view order,
                                        const std::function<bool(ev&)>& sink);

// Calls `sink` with the events of `incident` believed in the view (now, or as of `as_of`) that
// satisfy `cond` (SQL on `v`, its `?`s bound by `cond_params`), in `order`, one row in memory at
// a time; `sink` returns false to stop. Corrections and retractions are events here too: `cond`
// leaves them out where they are not wanted.
std::expected<void, error> each_believed(const event_store& store, const std::string& incident,
                                         std::optional<std::int64_t> as_of, std::string_view cond,
                                         std::vector<value> cond_params, std::string_view order,
                                         const std::function<bool(ev&)>& sink);

// ------------------------------------------------------------------ PMQL

// Runs PMQL statements with the incident as the current one, as `use INCIDENT;` would.
class pmql {
 public:
  pmql(const event_store& store, const std::string& incident, std::optional<std::int64_t> as_of);

  // The one duration cell of a `time from A to B;` statement; nullopt when a milestone never happened.
  std::expected<std::optional<std::int64_t>, error> time(const std::string& statement) const;

 private:
  static error fail(const std::string& statement, const error& e);
  const event_store& store_;
  query::catalog cat_;
  query::context ctx_;
};

// ------------------------------------------------------------------ output

// What a report writes goes to a buffer and on to the stream in blocks of 64 KiB. A writer that
// fails stays failed; `written` says so as the report's error, and the stream keeps its failed
// state for the caller to say why.
class block_writer {
 public:
  explicit block_writer(std::ostream& out) : out_(out) {}

 protected:
  void put(std::string_view s) {
    buf_ += s;
    if (buf_.size() >= 64 * 1024) flush();
  }
  void flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
  }
  std::expected<void, error> written() const {
    if (!out_) return std::unexpected(error("report: cannot write the report (the output failed)"));
    return {};
  }
  std::ostream& out_;

 private:
  std::string buf_;
};

// ------------------------------------------------------------------ formatting

// A name for the Mermaid block: no `:`, `#`, `;` (Mermaid's separators and comments), no
// quotes, backquotes or angle brackets, no control characters; whitespace collapsed.
std::string mermaid_name(std::string_view s);

// `2024-12-11 23:17` (seconds only when not zero): the report's UTC times.
std::string utc(std::int64_t ms);

// An event's time, `~` in front when it is an estimate.
std::string when(const ev& e);

// `2024-12-11T23:17` for the Mermaid chart (dateFormat YYYY-MM-DDTHH:mm; seconds dropped).
std::string gantt_time(std::int64_t ms);

std::string dur(std::int64_t ms);

std::string elapsed(std::int64_t ms);

// `1,500`, `107,005`.
std::string group_digits(double v);

std::string join(const std::vector<std::string>& items, std::string_view sep);

// ------------------------------------------------------------------ component states

int severity_rank(std::string_view state);

// One component's spans in non-operational states, folded from its component events in occurred
// order: a state lasts until the component's next different state; one never left lasts to the
// incident's end and is open. `on_span(state, from, to, open)` gets each span as it ends.
class span_folder {
 public:
  explicit span_folder(std::int64_t first_at) : since_(first_at) {}
  const std::string& state() const { return state_; }

  // Returns false when `e` repeats the current state (it changes nothing).
  template <class F>
  bool next(const ev& e, F&& on_span) {
    if (e.state == state_) return false;
    if (state_ != "operational") on_span(state_, since_, e.at, false);
    state_ = e.state;
    since_ = e.at;
    return true;
  }
  template <class F>
  void finish(std::int64_t incident_end, F&& on_span) const {
    if (state_ != "operational") on_span(state_, since_, std::max(incident_end, since_), true);
  }

 private:
  std::string state_ = "operational";
  std::int64_t since_ = 0;
};

// ------------------------------------------------------------------ key durations

struct milestone {
  std::string pmql;    // `first alert`, `start`, `last status resolved`
  std::string label;   // how the report names it
  std::function<bool(const ev&)> match;  // the events PMQL's pattern matches (to name the source)
  bool last = false;
};

milestone ms_start();
milestone ms_type(const std::string& type);
milestone ms_status(const std::string& status, bool last = false);
milestone ms_fixed99();

// A milestone, its time through PMQL (`time from start to M`) and the event it is (the first,
// or for a `last` milestone the last, event at that time that PMQL's pattern matches).
struct resolved_milestone {
  milestone m;
  std::optional<std::int64_t> at;
  std::optional<ev> event;
};

// The milestones the key durations run between, each timed by PMQL (`time from start to M`, added
// to the incident's start); their events are found by `match_milestone` as the events are read.
std::expected<std::vector<resolved_milestone>, error> resolve_milestones(const pmql& q, std::int64_t started);

// Takes `e` as the event of each milestone it is (call with the events in occurred order).
void match_milestones(std::vector<resolved_milestone>& milestones, const ev& e);

// Where the incident ends: the first `resolved` status when there is one, else the incident's
// last event; the total duration is PMQL's `time from start to ...` to that milestone.
struct incident_end {
  std::int64_t at = 0, total = 0;
  bool resolved = false;
  std::string label;      // "first resolved status", "last event; no resolved status"
  std::string statement;  // the PMQL statement that gave `total`
};
std::expected<incident_end, error> end_of(const pmql& q, const incident_row& inc);

// ------------------------------------------------------------------ disagreements

// Where sources disagree: the rule.
//   Events state the same fact when they share a key: a metric's (name, value, unit), a
//   status, a component's (component, state), a report's count; and "the start of impact",
//   which is every source's first `report` together with the notes tagged `impact-start`.
//   For each key, each source's earliest event is its observation (a source repeating itself
//   is not a disagreement). A key is shown when two or more sources observed it and their
//   times differ; the rows are its observations in time order, with each one's gap from the
//   earliest. Keys are listed by their earliest observation (then by that event's position,
//   then metric/status/component before count before start of impact).
// The keys can be as many as the events, so SQL groups them (SQLite's sorter spills to disk)
// and a report reads the observations of the shown keys one row at a time: `version_columns`,
// then `ko` (0: metric, status or component; 1: count; 2: start of impact), `lo` (the key's
// earliest observation) and `first_seq` (the position of that event). Its parameters: the
// incident, then those of `believed` (bind_as_of).
std::string disagreement_sql(std::string_view believed, sql_dialect dialect);

// The columns of `disagreement_sql`.
const std::vector<column>& disagreement_cols();

}  // namespace pmdb::shell::report_data
