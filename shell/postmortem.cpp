// Markdown postmortems from the event log. See postmortem.hpp for the contract.
//
// Where the numbers come from
// ---------------------------
// * The report reads the projection (core/projection.hpp), in one view: what is believed now,
//   or as of T (`postmortem_options::as_of`: what had been recorded by T). An event shows its
//   corrected time and content, a retracted event is left out, and the corrections and
//   retractions themselves are no events of the timeline: they are listed in "Corrections",
//   each with the version of its target it replaced (the target's previous rank).
// * Key durations (and the incident's total duration) are PMQL `time from A to B` statements,
//   parsed, compiled and run exactly as the shell runs them, with the incident as the current
//   one (`use INCIDENT`) and the same view (`.asof T`). The report lists those statements, so
//   every figure can be re-asked. A milestone's own time is `time from start to M` added to
//   the incident's start.
// * Everything else is read with plain read-only SQL with bound parameters: the incident's row
//   of the incidents relation of the view (the read model now, the projection's relation as
//   of T), its believed event versions in occurred order (at, seq), and the versions of each
//   corrected or retracted event.
//
// Memory
// ------
// The report is written as it is read: no section holds the incident's events. One pass over
// them gathers what the sections before the timeline need (per component, per metric name, per
// milestone, the five largest report counts); each listing (causes, detection, response, action
// items, timeline, corrections, chart) then reads its events again, a row at a time, and writes
// them. Where sources disagree is grouped by SQL. What stays in memory grows with the number of
// components and of metric names (both shown whole in the report), never with the events.
//
// Escaping: text from events is untrusted. In Markdown text and table cells, `\ | * _ [ ] ~ ``
// are backslash-escaped, `< > &` become entities (no HTML can be injected), line breaks become
// `<br>`, other control characters a space, and a line-start marker (`#`, `>`, `-`, `+`, `=`,
// `1.`) is escaped. In the Mermaid block, names keep only characters Mermaid cannot misread.
#include "shell/postmortem.hpp"

#include "shell/render.hpp"
#include "shell/report_chart.hpp"
#include "shell/report_data.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <date/tz.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/projection.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "core/value.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"

namespace pmdb::shell {
namespace {

using namespace report_data;

// ------------------------------------------------------------------ corrections

// One correction or retraction, with the version of its target it replaced and the one it made.
struct change {
  ev audit;                  // the correction or retraction
  std::optional<ev> before;  // the target as believed just before it; nullopt: target not found
  std::optional<ev> after;   // the version it made; nullopt: a retraction, or nothing usable in it
};

// The first row of event_versions `v` that satisfies `where`, in `order` (their `?`s bound by
// `params`, in that order); nullopt when none does.
std::expected<std::optional<ev>, error> first_version(const event_store& store, const std::string& where,
                                                      const std::vector<value>& params, std::string_view order) {
  std::optional<ev> out;
  auto r = each_version(store, where, params, std::string(order) + " LIMIT 1", [&](ev& v) {
    out = std::move(v);
    return false;
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

// What correction or retraction `audit` changed. Each version it needs is one query: a target
// corrected many times is neither held whole nor read whole once per correction.
std::expected<change, error> load_change(const event_store& store, ev audit) {
  change c{std::move(audit), std::nullopt, std::nullopt};
  if (c.audit.type == "correction") {
    auto made = first_version(store, "v.id = ? AND v.made_by = ?", {c.audit.target, c.audit.seq}, "v.rank");
    if (!made) return std::unexpected(made.error());
    if (*made && (*made)->rank > 0) {
      // Ranks are 0, 1, 2… in the order the corrections apply: the one before is what it replaced.
      auto before = first_version(store, "v.seq = ? AND v.rank < ?", {(*made)->seq, (*made)->rank}, "v.rank DESC");
      if (!before) return std::unexpected(before.error());
      if (*before) {
        c.after = std::move(**made);
        c.before = std::move(**before);
        return c;
      }
    }
  }
  // A retraction, or a correction that changed nothing: the target as believed when it was
  // recorded (the last version believed for a while from before then; else its first version).
  // Not found: no version at all.
  static constexpr std::string_view believed_then =
      "(v.valid_from <= ? AND (v.valid_to IS NULL OR v.valid_from < v.valid_to))";
  auto before = first_version(store, "v.id = ?",
                              {c.audit.target, timestamp{c.audit.recorded_at}, timestamp{c.audit.recorded_at}},
                              fmt::format("CASE WHEN {0} THEN 1 ELSE 0 END DESC, CASE WHEN {0} THEN v.rank ELSE "
                                          "-v.rank END DESC",
                                          believed_then));
  if (!before) return std::unexpected(before.error());
  c.before = std::move(*before);
  return c;
}

// ------------------------------------------------------------------ formatting

// `99%`, `250 ms`, `0.5`.
std::string metric_value(const ev& e) {
  const std::string v = e.value ? fmt::format("{}", *e.value) : std::string("?");
  if (e.unit.empty()) return v;
  if (e.unit == "%") return v + "%";
  return v + " " + escape_markdown(e.unit);
}

std::string_view cause_label(std::string_view kind) {
  if (kind == "trigger") return "trigger";
  if (kind == "root_cause") return "root cause";
  if (kind == "contributing") return "contributing factor";
  return "cause";
}

// What one event says, as Markdown for a table cell.
std::string describe(const ev& e) {
  const auto with_text = [&](std::string head) {
    if (e.text.empty()) return head;
    return head.empty() ? escape_markdown(e.text) : head + ": " + escape_markdown(e.text);
  };
  if (e.type == "status") return with_text("**" + escape_markdown(e.status) + "**");
  if (e.type == "metric") return with_text("**" + escape_markdown(e.metric) + " = " + metric_value(e) + "**");
  if (e.type == "component") return with_text("**" + escape_markdown(e.component) + " → " + escape_markdown(e.state) + "**");
  if (e.type == "report") return with_text(e.value ? "**" + group_digits(*e.value) + " reports**" : "");
  if (e.type == "cause") return with_text(std::string(cause_label(e.kind)));
  if (e.type == "action") {
    std::string head = "action item";
    if (!e.owner.empty()) head += " (owner " + escape_markdown(e.owner) + ")";
    return with_text(head);
  }
  if (e.type == "note") {
    std::vector<std::string> tags;
    for (const auto& t : e.tags) tags.push_back(escape_markdown(t));
    return with_text(join(tags, ", "));
  }
  if (e.type == "comm") {
    std::string who = escape_markdown(e.author);
    if (!e.channel.empty() && e.channel != "other") who += (who.empty() ? "on " : " on ") + escape_markdown(e.channel);
    const std::string quote = "“" + escape_markdown(e.text) + "”";
    return who.empty() ? quote : who + ": " + quote;
  }
  return escape_markdown(e.text);  // incident (its title), alert, change
}

// A GFM table. Cells are already Markdown (escaped where they carry untrusted text). Markdown
// needs no padding, so a long table is written a row at a time: `head()`, then `line()` per row.
class table {
 public:
  explicit table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  std::string str() const {
    std::string out = head(header_);
    for (const auto& r : rows_) out += line(r);
    return out;
  }

  // The header line and the delimiter line.
  static std::string head(const std::vector<std::string>& header) {
    std::string out = cells_line(header, false);
    out += "|";
    for (std::size_t i = 0; i < header.size(); ++i) out += "---|";
    return out + "\n";
  }
  static std::string line(const std::vector<std::string>& cells) { return cells_line(cells, true); }

 private:
  // An empty data cell shows `—`; an empty header cell stays empty.
  static std::string cells_line(const std::vector<std::string>& cells, bool data) {
    std::string out = "|";
    for (const auto& c : cells) out += c.empty() ? (data ? std::string(" — |") : std::string(" |")) : " " + c + " |";
    return out + "\n";
  }
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// ------------------------------------------------------------------ component states

// What the report says of one component: the time in each non-operational state, not the spans
// (the chart reads those again), so its size does not grow with the component's events.
struct component_history {
  struct total {
    std::string state;
    std::int64_t ms = 0;
    bool open = false;
  };
  std::string name;
  span_folder spans;
  std::vector<total> totals;               // per non-operational state, in order of its first span
  std::optional<std::int64_t> recovered;   // when it last became operational after an outage
  std::string worst = "operational";

  void add_span(const std::string& state, std::int64_t from, std::int64_t to, bool open) {
    auto it = std::ranges::find(totals, state, &total::state);
    if (it == totals.end()) it = totals.insert(totals.end(), total{state, 0, false});
    it->ms += to - from;
    it->open = it->open || open;
  }
  void next(const ev& e) {
    if (!spans.next(e, [&](const std::string& s, std::int64_t f, std::int64_t t, bool o) { add_span(s, f, t, o); }))
      return;
    if (e.state == "operational" && !totals.empty()) recovered = e.at;
    if (e.state != "operational") recovered.reset();
    if (severity_rank(e.state) > severity_rank(worst)) worst = e.state;
  }
  void finish(std::int64_t incident_end) {
    spans.finish(incident_end,
                 [&](const std::string& s, std::int64_t f, std::int64_t t, bool o) { add_span(s, f, t, o); });
  }
  bool affected() const { return !totals.empty(); }
  bool open() const { return std::ranges::any_of(totals, &total::open); }
};

// ------------------------------------------------------------------ key durations

std::string milestone_cell(const resolved_milestone& r) {
  if (!r.at) return fmt::format("{}: not recorded", r.m.label);
  std::string s = fmt::format("{} · {}", r.m.label, r.event ? when(*r.event) : utc(*r.at));
  if (r.event) s += " · " + escape_markdown(r.event->source);
  return s;
}

std::string time_statement(const std::string& from, const std::string& to) {
  return fmt::format("time from {} to {};", from, to);
}

// The label of a key, from its earliest observation.
std::string fact_label(std::int64_t ko, const ev& e) {
  if (ko == 1) return group_digits(e.value.value_or(0)) + " reports";
  if (ko == 2) return "start of impact (first report, impact-start note)";
  if (e.type == "metric") return fmt::format("metric {} = {}", escape_markdown(e.metric), metric_value(e));
  if (e.type == "status") return "status " + escape_markdown(e.status);
  return escape_markdown(e.component) + " → " + escape_markdown(e.state);
}

// ------------------------------------------------------------------ the report

// Writes the report section by section. The incident's events are never held together: each
// section that lists events reads them again from the store, one row at a time, in the order it
// shows them (SQLite walks the incident's index; a section sorted otherwise lets SQLite sort).
// What is kept across rows is bounded by what the report shows, not by the number of events:
// per component (its time in each state), per metric name (its peak), per milestone (its event),
// the five largest report counts, the current status and each component's current state.
class report_writer {
 public:
  report_writer(const event_store& store, incident_row inc, const postmortem_options& opts,
                const date::time_zone* zone, std::ostream& out)
      : store_(store), inc_(std::move(inc)), opts_(opts), zone_(zone), out_(out), q_(store, inc_.id, opts.as_of) {}

  std::expected<void, error> run() {
    // Every PMQL query runs before the first byte is written: a failing one writes nothing.
    if (auto r = compute_end(); !r) return r;
    if (auto r = resolve_milestones(); !r) return r;
    if (auto r = gather(); !r) return r;
    if (auto r = key_duration_rows(); !r) return r;
    header();
    summary();
    if (auto r = write_mermaid_chart({store_, inc_, opts_.as_of, milestones_, top_counts_},
                                     [this](std::string_view text) { put(text); }, [this] { return out_.good(); });
        !r)
      return r;
    impact();
    key_durations();
    for (auto section : {&report_writer::causes, &report_writer::detection, &report_writer::response,
                         &report_writer::disagreement, &report_writer::concurrency, &report_writer::actions,
                         &report_writer::timeline, &report_writer::corrections}) {
      if (auto r = (this->*section)(); !r) return r;
    }
    footer();
    flush();
    return written();
  }

 private:
  // ---------------------------------------------------------------- output

  // Text goes to `buf_` and on to the stream in blocks.
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

  void section(std::string_view title) { put(fmt::format("\n## {}\n\n", title)); }

  // ---------------------------------------------------------------- reading

  // Calls `sink` with the incident's events believed in the view that satisfy `cond` (SQL on
  // `v`, its `?`s bound by `cond_params`), in `order`; stops early when the output failed.
  std::expected<void, error> each_event(std::string_view cond, std::vector<value> cond_params,
                                        const std::function<void(ev&)>& sink, std::string_view order = "v.at, v.seq") {
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    for (auto& p : cond_params) params.push_back(std::move(p));
    auto r = each_version(store_, fmt::format("v.incident = ? AND {} AND ({})", b.sql, cond), params, order,
                          [&](ev& e) {
                            sink(e);
                            return out_.good();
                          });
    if (!r) return r;
    return written();
  }

  // ---------------------------------------------------------------- what the header needs

  std::string local(std::int64_t ms) const {
    const date::sys_time<std::chrono::milliseconds> t{std::chrono::milliseconds{ms}};
    return date::format("%Y-%m-%d %H:%M %Z", date::zoned_time<std::chrono::milliseconds>{zone_, t});
  }

  std::string utc_and_local(std::int64_t ms) const {
    std::string s = utc(ms) + " UTC";
    if (zone_) s += " (" + local(ms) + ")";
    return s;
  }

  // End: the first `resolved` status when there is one, else the incident's last event; the
  // total duration is PMQL's `time from start to ...` to that milestone.
  std::expected<void, error> compute_end() {
    auto end = end_of(q_, inc_);
    if (!end) return std::unexpected(end.error());
    end_ = end->at;
    total_ = end->total;
    end_label_ = std::move(end->label);
    resolved_ = end->resolved;
    total_statement_ = std::move(end->statement);
    return {};
  }

  std::expected<void, error> resolve_milestones() {
    auto resolved = report_data::resolve_milestones(q_, inc_.started);
    if (!resolved) return std::unexpected(resolved.error());
    milestones_ = std::move(*resolved);
    return {};
  }

  const resolved_milestone& milestone_of(const milestone& m) const {
    return *std::ranges::find(milestones_, m.pmql, [](const resolved_milestone& r) { return r.m.pmql; });
  }

  // One pass over the incident's believed events, in occurred order, for what the sections
  // before the timeline need.
  std::expected<void, error> gather() {
    std::map<std::string, std::size_t> component_index;
    auto r = each_event("1", {}, [&](ev& e) {
      if (e.is_audit()) {
        ++(e.type == "retraction" ? n_retractions_ : n_corrections_);
        return;
      }
      ++n_events_;
      last_at_ = e.at;
      any_corrected_ = any_corrected_ || e.corrected;
      match_milestones(milestones_, e);
      if (e.type == "component") {
        auto [it, added] = component_index.try_emplace(e.component, components_.size());
        if (added) components_.push_back({e.component, span_folder(e.at), {}, std::nullopt, "operational"});
        components_[it->second].next(e);
      } else if (e.type == "metric" && e.value) {
        auto [it, added] = peaks_.try_emplace(e.metric, e);
        if (added) metric_names_.push_back(e.metric);
        else if (*e.value > *it->second.value) it->second = e;
      } else if (e.type == "report") {
        has_report_ = true;
        if (!e.value) return;
        if (!peak_report_ || *e.value > *peak_report_->value) peak_report_ = e;
        // The largest counts, the earlier first among equal ones.
        ++n_counts_;
        const auto at = std::ranges::find_if(top_counts_, [&](const ev& t) { return *t.value < *e.value; });
        if (at - top_counts_.begin() < static_cast<std::ptrdiff_t>(max_counts)) {
          top_counts_.insert(at, e);
          if (top_counts_.size() > max_counts) top_counts_.pop_back();
        }
      }
    });
    if (!r) return r;
    for (auto& c : components_) c.finish(inc_.ended);
    // The number of sources, counted by SQL: a set of them would grow with the incident.
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    static const std::vector<column> cols = {{"n", value_type::integer}};
    auto rs = store_.query(fmt::format("SELECT count(DISTINCT v.source) FROM {} v WHERE v.incident = ? AND {} AND "
                                       "v.type NOT IN ('correction', 'retraction')",
                                       projection::versions_table, b.sql),
                           params, cols);
    if (!rs) return std::unexpected(rs.error());
    if (!rs->rows.empty()) n_sources_ = int_of(rs->rows.front().front());
    return {};
  }

  // ---------------------------------------------------------------- sections

  void header() {
    put("# " + escape_markdown(inc_.title.empty() ? inc_.id : inc_.title) + "\n\n");
    table t({"", ""});
    t.row({"Incident", "`" + inc_.id + "`"});
    if (opts_.as_of) t.row({"As of", utc_and_local(*opts_.as_of) + ": only what had been recorded by then"});
    if (!inc_.org.empty()) t.row({"Organisation", escape_markdown(inc_.org)});
    std::vector<std::string> services;
    for (const auto& s : inc_.services) services.push_back(escape_markdown(s));
    if (!services.empty()) t.row({"Services", join(services, ", ")});
    std::vector<std::string> comps;
    for (const auto& c : components_)
      if (c.affected()) comps.push_back(escape_markdown(c.name));
    if (!comps.empty()) t.row({"Components affected", join(comps, ", ")});
    if (!inc_.severity.empty()) t.row({"Severity", escape_markdown(inc_.severity)});
    if (!inc_.status.empty()) t.row({"Status", escape_markdown(inc_.status)});
    t.row({"Start", utc_and_local(inc_.started) + ", first event"});
    t.row({"End", utc_and_local(end_) + ", " + end_label_});
    t.row({"Duration", dur(total_)});
    std::string counted = fmt::format("{} from {} source{}", n_events_, n_sources_, n_sources_ == 1 ? "" : "s");
    std::vector<std::string> audits;
    if (n_corrections_)
      audits.push_back(fmt::format("{} correction{}", n_corrections_, n_corrections_ == 1 ? "" : "s"));
    if (n_retractions_)
      audits.push_back(fmt::format("{} retraction{}", n_retractions_, n_retractions_ == 1 ? "" : "s"));
    if (!audits.empty()) counted += "; " + join(audits, ", ");
    t.row({"Events", counted});
    put(t.str());
  }

  const ev* peak_metric(const std::string& name) const {
    const auto it = peaks_.find(name);
    return it == peaks_.end() ? nullptr : &it->second;
  }

  void summary() {
    section("Summary");
    if (!inc_.summary.empty()) {
      put(escape_markdown(inc_.summary) + "\n");
      return;
    }
    std::vector<std::string> what;
    for (const auto& s : inc_.services) what.push_back(escape_markdown(s));
    if (what.empty())
      for (const auto& c : components_)
        if (c.affected()) what.push_back(escape_markdown(c.name));
    std::string s = inc_.title.empty() ? "Incident `" + inc_.id + "`" : "“" + escape_markdown(inc_.title) + "”";
    if (!what.empty()) s += " affected " + join(what, ", ") + ". It";
    s += " started at " + utc(inc_.started) + " UTC";
    if (total_ > 0)
      s += fmt::format(" and {} {}", resolved_ ? "was resolved after" : "has been recorded over", dur(total_));
    s += ".";
    if (const ev* p = peak_metric("affected"))
      s += fmt::format(" At the peak, {} affected ({}).", metric_value(*p), escape_markdown(p->source));
    if (peak_report_)
      s += fmt::format(" Up to {} reports ({}).", group_digits(*peak_report_->value),
                       escape_markdown(peak_report_->source));
    put(s + "\n");
  }

  void impact() {
    std::string body;
    // Components.
    std::vector<std::string> states;
    for (const auto& c : components_)
      for (const auto& t : c.totals)
        if (std::ranges::find(states, t.state) == states.end()) states.push_back(t.state);
    std::ranges::stable_sort(states, std::greater{}, [](const std::string& s) { return severity_rank(s); });
    bool any_open = false;
    if (!states.empty()) {
      std::vector<std::string> header = {"component", "worst state"};
      for (const auto& s : states) header.push_back("time in " + escape_markdown(s));
      header.push_back("back to operational");
      table t(header);
      for (const auto& c : components_) {
        if (!c.affected()) continue;
        std::vector<std::string> row = {escape_markdown(c.name), escape_markdown(c.worst)};
        for (const auto& s : states) {
          const auto it = std::ranges::find(c.totals, s, &component_history::total::state);
          row.push_back(it != c.totals.end() ? dur(it->ms) : "");
        }
        const bool open = c.open();
        row.push_back(c.recovered && !open ? utc(*c.recovered) : "not recorded \\*");
        any_open = any_open || open;
        t.row(row);
      }
      body += "Time in each state, from the component events:\n\n" + t.str();
      if (any_open)
        body += fmt::format(
            "\n\\* never recorded as operational again: its last state is counted to the incident's {} ({}).\n",
            last_at_ && inc_.ended < *last_at_ ? "resolution" : "last event", utc(inc_.ended));
    }
    // Peak metrics: the highest value of each metric, at its first occurrence.
    if (!metric_names_.empty()) {
      table t({"metric", "peak", "at (UTC)", "source"});
      for (const auto& n : metric_names_) {
        const ev* p = peak_metric(n);
        t.row({escape_markdown(n), metric_value(*p), when(*p), escape_markdown(p->source)});
      }
      if (!body.empty()) body += "\n";
      body += "Peak of each metric:\n\n" + t.str();
    }
    // Report counts, the largest first.
    if (!top_counts_.empty()) {
      table t({"reports", "at (UTC)", "source", "what"});
      for (const auto& c : top_counts_)
        t.row({group_digits(*c.value), when(c), escape_markdown(c.source), escape_markdown(c.text)});
      if (!body.empty()) body += "\n";
      body += n_counts_ > max_counts ? fmt::format("Largest report counts ({} of {}):\n\n", max_counts, n_counts_)
                                     : std::string("Report counts:\n\n");
      body += t.str();
    }
    if (body.empty()) return;
    section("Impact");
    put(body);
  }

  // Missing milestones: a row whose two ends are both missing is left out (the incident has
  // nothing to say about that phase); a row with one end recorded stays, the missing end
  // reads "not recorded" and the duration "—", since that gap is itself a finding. `start`
  // (the first event) always exists, so it does not count as a recorded end: a row from
  // `start` stays only when its other end is recorded. The 99%-fixed row appears only when
  // such a metric exists: few incidents report one.
  std::expected<void, error> key_duration_rows() {
    const milestone first_report = has_report_ ? ms_type("report") : ms_start();
    struct row {
      std::string name;
      milestone from, to;
      bool need_to = false;
    };
    const std::vector<row> rows = {
        {"Time to detect", first_report, ms_type("alert")},
        {"Time to acknowledge", ms_type("alert"), ms_status("investigating")},
        {"Time to identify", ms_type("alert"), ms_status("identified")},
        {"Time to mitigate", ms_status("investigating"), ms_status("monitoring")},
        {"Time to 99% fixed", first_report, ms_fixed99(), true},
        {"Time to resolve", ms_status("investigating"), ms_status("resolved")},
        {has_report_ ? "First report to resolution" : "Start to resolution", first_report, ms_status("resolved", true)},
    };
    for (const auto& r : rows) {
      const resolved_milestone& from = milestone_of(r.from);
      const resolved_milestone& to = milestone_of(r.to);
      const bool from_recorded = from.at && r.from.pmql != "start";
      if (!from_recorded && !to.at) continue;
      if (r.need_to && !to.at) continue;
      const std::string s = time_statement(r.from.pmql, r.to.pmql);
      statements_.push_back(s);
      auto d = q_.time(s);
      if (!d) return std::unexpected(d.error());
      key_rows_.push_back({r.name, milestone_cell(from), milestone_cell(to), *d ? "**" + dur(**d) + "**" : ""});
    }
    return {};
  }

  void key_durations() {
    if (key_rows_.empty()) return;
    table t({"metric", "from", "to", "duration"});
    for (auto& r : key_rows_) t.row(std::move(r));
    section("Key durations");
    put(t.str());
    put("\nEach duration is a PMQL query on this incident:\n\n```\nuse " + inc_.id + ";\n");
    for (const auto& s : statements_) put(s + "\n");
    put(total_statement_ + "\n```\n");
  }

  std::expected<void, error> causes() {
    static constexpr std::pair<std::string_view, std::string_view> kinds[] = {
        {"trigger", "Trigger"}, {"root_cause", "Root cause"}, {"contributing", "Contributing factors"}, {"", "Other causes"}};
    bool any = false;
    for (const auto& [kind, title] : kinds) {
      bool listed = false;
      auto r = each_event("v.type = 'cause'", {}, [&](const ev& e) {
        const bool known = e.kind == "trigger" || e.kind == "root_cause" || e.kind == "contributing";
        if (kind.empty() ? known : e.kind != kind) return;
        if (!listed) {
          if (!any) section("Trigger, root cause and contributing factors");
          else put("\n");  // the blank line after the previous kind's list
          put(fmt::format("### {}\n\n", title));
          any = listed = true;
        }
        put(fmt::format("- {} — {}, {}\n", escape_markdown(e.text), escape_markdown(e.source), when(e)));
      });
      if (!r) return r;
    }
    return {};
  }

  static std::string bullet(const ev& e, const std::string& what) {
    return fmt::format("- {} · {} — {}\n", when(e), what, escape_markdown(e.source));
  }

  // The first report, alert, status post and communication, and every impact-start note: read in
  // occurred order, which is the order they are listed in.
  std::expected<void, error> detection() {
    bool any = false, report = false, alert = false, status = false, comm = false;
    const auto fact = [&](const ev& e, const std::string& what) {
      if (!any) section("Detection");
      any = true;
      put(bullet(e, what));
    };
    const auto with_text = [](const ev& e) { return e.text.empty() ? std::string() : ": " + escape_markdown(e.text); };
    // Only notes and the first event of the other types are read: an index seek each.
    const projection::sql_text b = projection::believed("w", opts_.as_of.has_value());
    std::vector<value> params;
    bind_as_of(params, b, opts_.as_of);
    const std::string cond = fmt::format(
        "v.type = 'note' OR (v.type IN ('report', 'alert', 'status', 'comm') AND NOT EXISTS (SELECT 1 FROM {} w "
        "WHERE w.incident = v.incident AND w.type = v.type AND (w.at, w.seq) < (v.at, v.seq) AND {}))",
        projection::versions_table, b.sql);
    return each_event(cond, std::move(params), [&](const ev& e) {
      if (e.type == "report" && !std::exchange(report, true)) fact(e, "first outside report" + with_text(e));
      else if (e.type == "alert" && !std::exchange(alert, true)) fact(e, "first alert" + with_text(e));
      else if (e.type == "note" && e.has_tag("impact-start")) fact(e, "impact starts" + with_text(e));
      else if (e.type == "status" && !std::exchange(status, true))
        fact(e, "first status post, **" + escape_markdown(e.status) + "**" + with_text(e));
      else if (e.type == "comm" && !std::exchange(comm, true)) fact(e, "first communication: " + describe(e));
    });
  }

  // State: the current status and each component's last state (O(components)).
  std::expected<void, error> response() {
    bool any = false;
    std::string status;
    std::map<std::string, std::string> state;
    const auto add = [&](const ev& e, const std::string& what) {
      if (!any) section("Response and recovery");
      any = true;
      put(bullet(e, what));
    };
    return each_event("v.type IN ('status', 'component', 'note')", {}, [&](const ev& e) {
      if (e.type == "status") {
        if (e.status != status)
          add(e, "status **" + escape_markdown(e.status) + "**" +
                     (e.text.empty() ? "" : ": " + escape_markdown(e.text)));
        status = e.status;
      } else if (e.type == "component") {
        auto& prev = state[e.component];
        if (!prev.empty() && severity_rank(e.state) < severity_rank(prev)) add(e, describe(e));
        prev = e.state;
      } else if (e.type == "note" && (e.has_tag("mitigation") || e.has_tag("recovery") || e.has_tag("impact-end"))) {
        add(e, describe(e));
      }
    });
  }

  std::expected<void, error> disagreement() {
    if (n_sources_ < 2) return {};  // one source cannot disagree with itself
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    static const std::vector<column> cols = version_cols(
        {{"ko", value_type::integer}, {"lo", value_type::timestamp}, {"first_seq", value_type::integer}});
    bool any = false;
    std::optional<std::pair<std::int64_t, std::int64_t>> group;  // (first_seq, ko) of the key being listed
    std::string label;
    auto r = store_.query_each(disagreement_sql(b.sql), params, cols, [&](std::vector<value>& row) {
      const std::int64_t ko = int_of(row[n_version_columns]);
      const std::int64_t first = int_of(row[n_version_columns + 1]);
      const std::int64_t first_seq = int_of(row[n_version_columns + 2]);
      const ev e = to_ev(row);
      if (!any) {
        section("Where sources disagree");
        put("The same fact observed by two or more sources at different times (each source's earliest observation). "
            "The store keeps every observation and chooses none.\n\n");
        put(table::head({"fact", "source", "at (UTC)", "event", "after the earliest"}));
        any = true;
      }
      if (group != std::pair(first_seq, ko)) {
        group = std::pair(first_seq, ko);
        label = fact_label(ko, e);  // the first row of a key is its earliest observation
      }
      put(table::line({label, escape_markdown(e.source), when(e), escape_markdown(e.type) + ": " + describe(e),
                       e.at == first ? "" : elapsed(e.at - first)}));
      return out_.good();
    });
    if (!r) return r;
    return written();
  }

  // The same rule as PMQL's `incidents overlapping ID`: other incidents whose [started, ended]
  // intersects this one's, in the incidents relation of the view.
  std::expected<void, error> concurrency() {
    static const std::vector<column> cols = {{"id", value_type::text},
                                             {"title", value_type::text},
                                             {"started", value_type::timestamp},
                                             {"ended", value_type::timestamp}};
    std::vector<value> params;
    std::string relation(projection::incidents_table);
    if (opts_.as_of) {
      const projection::sql_text rel = projection::incidents_as_of();
      relation = "(" + rel.sql + ")";
      bind_as_of(params, rel, opts_.as_of);
    }
    params.insert(params.end(), {inc_.id, timestamp{inc_.ended}, timestamp{inc_.started}});
    bool any = false;
    auto r = store_.query_each(fmt::format("SELECT id, title, started, ended FROM {} WHERE id <> ? AND started <= ? "
                                           "AND ended >= ? ORDER BY started, id",
                                           relation),
                               params, cols, [&](std::vector<value>& row) {
                                 if (!any) {
                                   section("Concurrent incidents");
                                   put("Other incidents in the store whose span overlaps this one's (" +
                                       utc(inc_.started) + " to " + utc(inc_.ended) + "):\n\n");
                                   put(table::head({"incident", "title", "started (UTC)", "ended (UTC)", "overlap"}));
                                   any = true;
                                 }
                                 const std::int64_t started = int_of(row[2]), ended = int_of(row[3]);
                                 const std::int64_t overlap =
                                     std::min(ended, inc_.ended) - std::max(started, inc_.started);
                                 put(table::line({"`" + text_of(row[0]) + "`", escape_markdown(text_of(row[1])),
                                                  utc(started), utc(ended), dur(overlap)}));
                                 return out_.good();
                               });
    if (!r) return r;
    return written();
  }

  std::expected<void, error> actions() {
    bool any = false;
    return each_event("v.type = 'action'", {}, [&](const ev& e) {
      if (!std::exchange(any, true)) {
        section("Action items");
        put(table::head({"item", "kind", "owner", "tracker"}));
      }
      put(table::line(
          {escape_markdown(e.text), escape_markdown(e.kind), escape_markdown(e.owner), escape_markdown(e.tracker)}));
    });
  }

  std::expected<void, error> timeline() {
    section("Timeline");
    put("Every event in occurred order. `~` marks an estimated time; elapsed time is from the first event.");
    if (any_corrected_)
      put(" *(corrected)* marks an event whose time or content a later correction changed (see Corrections).");
    put("\n\n");
    std::vector<std::string> header = {"at (UTC)"};
    if (zone_) header.push_back("local");
    for (const char* h : {"elapsed", "type", "source", "event"}) header.emplace_back(h);
    put(table::head(header));
    std::vector<std::string> row;
    return each_event("v.type NOT IN ('correction', 'retraction')", {}, [&](const ev& e) {
      row.clear();
      row.push_back(when(e));
      if (zone_) row.push_back((e.approx ? "~" : "") + local(e.at));
      row.push_back(elapsed(e.at - inc_.started));
      row.push_back(escape_markdown(e.type));
      row.push_back(escape_markdown(e.source));
      row.push_back(describe(e) + (e.corrected ? " *(corrected)*" : ""));
      put(table::line(row));
    });
  }

  // What one correction changed in its target: the time, the text, or else what the report
  // shows of the event.
  static std::string what_changed(const change& c) {
    if (c.audit.type == "retraction") return "retracted";
    if (!c.after) return "nothing (no usable time or data in it)";
    const ev& old = *c.before;
    const ev& now = *c.after;
    std::vector<std::string> parts;
    if (old.at != now.at || old.approx != now.approx) parts.push_back("time " + when(old) + " → " + when(now));
    if (old.data != now.data) {
      ev old_bare = old, now_bare = now;
      old_bare.text.clear();
      now_bare.text.clear();
      if (old.text != now.text && describe(old_bare) == describe(now_bare))
        parts.push_back("text “" + escape_markdown(old.text) + "” → “" + escape_markdown(now.text) + "”");
      else if (describe(old) != describe(now))
        parts.push_back(describe(old) + " → " + describe(now));
      else
        parts.push_back("data (nothing this report shows)");
    }
    return parts.empty() ? std::string("nothing (the same time and data)") : join(parts, "; ");
  }

  // The corrections and retractions believed in the view, in recorded order (the order the
  // projection applies them in): an audit of the record, so that a reader sees what the timeline
  // shows differently from what was first recorded, and why.
  std::expected<void, error> corrections() {
    bool any = false;
    std::optional<error> failed;
    auto r = each_event(
        "v.type IN ('correction', 'retraction')", {},
        [&](ev& a) {
          if (failed) return;
          auto c = load_change(store_, std::move(a));
          if (!c) {
            failed = c.error();
            return;
          }
          if (!std::exchange(any, true)) {
            section("Corrections");
            put("Corrections and retractions of this incident's events, in the order they were recorded. The report "
                "shows each event as corrected and leaves retracted events out; the log keeps every original.\n\n");
            put(table::head({"recorded (UTC)", "event", "change", "reason", "source"}));
          }
          const std::string target = c->before ? escape_markdown(c->before->type) + ": " + describe(*c->before)
                                               : escape_markdown(c->audit.target) + " (not found)";
          put(table::line({utc(c->audit.recorded_at), target, what_changed(*c), escape_markdown(c->audit.reason),
                           escape_markdown(c->audit.source)}));
        },
        "v.recorded_at, v.seq");
    if (failed) return std::unexpected(*failed);
    return r;
  }

  void footer() {
    const std::int64_t now = opts_.now_ms.value_or(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    // The chain head pins the log this report was made from: `pmdb verify --from` checks later
    // that those events are still the store's first ones, unchanged.
    const chain_head head = store_.head();
    put(fmt::format("\n---\n\nGenerated by pmdb {} at {} from the store at position {}{}.\n\n"
                    "Chain head: `{}` (`pmdb verify STORE --from HASH` checks that the events it was made from "
                    "are unchanged).\n",
                    PMDB_VERSION, format_iso(timestamp{now}), head.position,
                    opts_.as_of ? ", as of " + format_iso(timestamp{*opts_.as_of}) : std::string(), head.hash));
  }

  static constexpr std::size_t max_counts = 5;

  const event_store& store_;
  incident_row inc_;
  const postmortem_options& opts_;
  const date::time_zone* zone_;
  std::ostream& out_;
  pmql q_;
  std::string buf_;
  // From PMQL.
  std::int64_t end_ = 0, total_ = 0;
  bool resolved_ = false;
  std::string end_label_, total_statement_;
  std::vector<resolved_milestone> milestones_;
  std::vector<std::vector<std::string>> key_rows_;
  std::vector<std::string> statements_;
  // From one pass over the events (see gather).
  std::int64_t n_events_ = 0, n_sources_ = 0, n_corrections_ = 0, n_retractions_ = 0;
  std::optional<std::int64_t> last_at_;
  bool any_corrected_ = false, has_report_ = false;
  std::vector<component_history> components_;  // in order of first mention
  std::vector<std::string> metric_names_;      // metrics with a value, in order of first mention
  std::map<std::string, ev> peaks_;            // per metric name: its first highest value
  std::optional<ev> peak_report_;              // the first highest report count
  std::vector<ev> top_counts_;                 // the largest report counts (max_counts at most)
  std::size_t n_counts_ = 0;
};

}  // namespace

std::expected<void, pmdb::error> render_postmortem(const pmdb::event_store& store, const std::string& incident,
                                                   const postmortem_options& opts, std::ostream& out) {
  auto zone = find_zone(opts.tz);
  if (!zone) return std::unexpected(zone.error());
  auto inc = find_incident(store, incident, opts.as_of);
  if (!inc) return std::unexpected(inc.error());
  try {
    report_writer w(store, std::move(*inc), opts, *zone, out);
    return w.run();
  } catch (const std::exception& e) {
    return std::unexpected(error(fmt::format("report: {}", e.what())));
  }
}

std::expected<std::string, pmdb::error> render_postmortem(const pmdb::event_store& store, const std::string& incident,
                                                          const postmortem_options& opts) {
  std::ostringstream out;
  if (auto r = render_postmortem(store, incident, opts, out); !r) return std::unexpected(r.error());
  return std::move(out).str();
}

}  // namespace pmdb::shell
