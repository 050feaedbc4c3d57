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
// `<br>`, other control characters a space, and a line-start marker (`#`, `-`, `+`, `=`,
// `1.`) is escaped (`>` is already `&gt;`). In the Mermaid block, names keep only characters Mermaid cannot misread.
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

// `in_progress` → `in progress`, `wont_do` → `won't do`: a state or status word as prose.
std::string state_label(std::string_view s) {
  if (s == "wont_do") return "won't do";
  std::string out(s);
  std::ranges::replace(out, '_', ' ');
  return out;
}

// `incident_commander` → `incident commander`.
std::string role_label(std::string_view role) {
  std::string out(role);
  std::ranges::replace(out, '_', ' ');
  return out;
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
    std::vector<std::string> what;
    if (!e.action_state.empty()) what.push_back("state " + escape_markdown(state_label(e.action_state)));
    if (!e.owner.empty()) what.push_back("owner " + escape_markdown(e.owner));
    if (!e.due.empty()) what.push_back("due " + escape_markdown(e.due));
    if (!e.tracker.empty() && !e.of.empty()) what.push_back("tracker " + escape_markdown(e.tracker));
    std::string head = e.of.empty() ? "action item" : "action item update";
    if (!what.empty()) head += " (" + join(what, ", ") + ")";
    return with_text(head);
  }
  if (e.type == "note") {
    std::vector<std::string> tags, heads;
    for (const auto& t : e.tags) tags.push_back(escape_markdown(t));
    if (!tags.empty()) heads.push_back(join(tags, ", "));
    if (!e.role.empty()) {
      std::vector<std::string> people;
      for (const auto& p : e.people) people.push_back(escape_markdown(p));
      heads.push_back("**" + escape_markdown(role_label(e.role)) + "**: " +
                      (people.empty() ? std::string("unassigned") : join(people, ", ")));
    }
    if (!e.document.empty()) heads.push_back("postmortem document **" + escape_markdown(state_label(e.document)) + "**");
    return with_text(join(heads, "; "));
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
    std::size_t size = 2;
    for (const auto& c : cells) size += c.size() + 5;
    std::string out;
    out.reserve(size);
    out += '|';
    for (const auto& c : cells) {
      if (c.empty()) {
        out += data ? " — |" : " |";
        continue;
      }
      out += ' ';
      out += c;
      out += " |";
    }
    out += '\n';
    return out;
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

// `s` as a PMQL string literal (`"..."`, with `\"`, `\\`, `\n`, `\t`); nullopt when PMQL cannot
// write it (a carriage return: a string stays on one line and has no escape for it).
std::optional<std::string> pmql_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '\r') return std::nullopt;
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out + "\"";
}

// SQL on event_versions `v`: a note tagged `tag` (one of the report's own tags: no quote in it).
std::string tag_condition(std::string_view tag) {
  return fmt::format("v.type = 'note' AND json_valid(v.data) AND json_type(v.data, '$.tags') = 'array' AND EXISTS "
                     "(SELECT 1 FROM json_each(v.data, '$.tags') t WHERE t.type = 'text' AND t.value = '{}')",
                     tag);
}

// A fenced code block of `lines`: its fence is longer than any run of backquotes in them, so
// that no text in a statement (a component's name, an event's id) can close it.
std::string code_block(const std::vector<std::string>& lines) {
  std::size_t longest = 0;
  for (const auto& l : lines) {
    std::size_t run = 0;
    for (const char c : l) {
      run = c == '`' ? run + 1 : 0;
      longest = std::max(longest, run);
    }
  }
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  std::string out = fence + "\n";
  for (const auto& l : lines) out += l + "\n";
  return out + fence + "\n";
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
class report_writer : report_data::block_writer {
 public:
  report_writer(const event_store& store, incident_row inc, const postmortem_options& opts,
                const date::time_zone* zone, std::ostream& out)
      : block_writer(out), store_(store), inc_(std::move(inc)), opts_(opts), zone_(zone), q_(store, inc_.id, opts.as_of) {
    now_ = opts.now_ms.value_or(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    view_now_ = opts.as_of.value_or(now_);
  }

  // The customer impact alone: what the header's Duration says, nothing written.
  std::expected<std::optional<customer_impact>, error> impact_only() {
    if (auto r = resolve_milestones(); !r) return std::unexpected(r.error());
    if (auto r = gather(); !r) return std::unexpected(r.error());
    if (auto r = compute_impact(); !r) return std::unexpected(r.error());
    if (!impact_from_) return std::nullopt;
    // Named as milestone_cell names them, in plain text (the caller escapes it for its format).
    const auto plain = [](const resolved_milestone& r) {
      std::string n = fmt::format("{} · {}", r.m.label, r.event ? when(*r.event) : utc(*r.at));
      return r.event ? n + " · " + r.event->source : n;
    };
    customer_impact c;
    c.from = *impact_from_->at;
    c.from_label = plain(*impact_from_);
    if (impact_ms_) {
      c.to = *impact_to_->at;
      c.to_label = plain(*impact_to_);
      c.ms = *impact_ms_;
    } else {
      c.ms = std::max<std::int64_t>(0, view_now_ - c.from);
    }
    c.statement = impact_statement_;
    return c;
  }

  std::expected<void, error> run() {
    // Every PMQL query runs before the first byte is written: a failing one writes nothing.
    if (auto r = resolve_milestones(); !r) return r;
    if (auto r = gather(); !r) return r;
    if (auto r = compute_impact(); !r) return r;
    if (auto r = gather_document(); !r) return r;
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
                         &report_writer::lessons, &report_writer::timeline, &report_writer::corrections}) {
      if (auto r = (this->*section)(); !r) return r;
    }
    footer();
    flush();
    return written();
  }

 private:
  // ---------------------------------------------------------------- output


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

  // The first event of the incident believed in the view that satisfies `cond` (SQL on `v`, its
  // `?`s bound by `cond_params`) in `order`; nullopt when none does.
  std::expected<std::optional<ev>, error> first_event(std::string_view cond, std::vector<value> cond_params,
                                                      std::string_view order) const {
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    for (auto& p : cond_params) params.push_back(std::move(p));
    return first_version(store_, fmt::format("v.incident = ? AND {} AND ({})", b.sql, cond), params, order);
  }

  // A milestone that is one event: `first TYPE where id = "ID"` (no PMQL form when the id
  // cannot be written as a PMQL string).
  static resolved_milestone event_milestone(ev e, std::string label) {
    const auto id = pmql_string(e.id);
    std::string statement = id ? fmt::format("first {} where id = {}", e.type, *id) : std::string();
    const std::int64_t at = e.at;
    return {milestone{std::move(statement), std::move(label), {}}, at, std::move(e)};
  }

  // The resolution: the first `resolved` (or `completed`) status after the last open one, as
  // the incidents read model's `ended` says (core/projection.cpp). Its PMQL names only the
  // statuses the incident has, which gives the same event and reads better.
  std::expected<std::optional<resolved_milestone>, error> find_resolution() const {
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    static const std::vector<column> cols = {{"status", value_type::text}};
    auto rs = store_.query(fmt::format("SELECT DISTINCT v.status FROM {} v WHERE v.incident = ? AND {} AND "
                                       "v.type = 'status' AND v.status IS NOT NULL",
                                       projection::versions_table, b.sql),
                           params, cols);
    if (!rs) return std::unexpected(rs.error());
    const auto present = [&](std::span<const std::string_view> among) {
      std::vector<std::string> out;
      for (const auto st : among)
        if (std::ranges::any_of(rs->rows, [&](const auto& r) { return text_of(r.front()) == st; }))
          out.emplace_back(st);
      return out;
    };
    const std::vector<std::string> done = present(projection::resolution_statuses);
    const std::vector<std::string> open = present(projection::open_statuses);
    if (done.empty()) return std::optional<resolved_milestone>{};
    const auto quoted_sql = [](const std::vector<std::string>& words) {
      std::vector<std::string> q;
      for (const auto& w : words) q.push_back("'" + w + "'");  // schema words: no quote in them
      return join(q, ", ");
    };
    const auto pattern = [](const std::vector<std::string>& words) {
      return words.size() == 1 ? "status " + words.front() : "status where status in (" + join(words, ", ") + ")";
    };
    std::string cond = fmt::format("v.type = 'status' AND v.status IN ({})", quoted_sql(done));
    std::vector<value> cond_params;
    std::string statement = "first " + pattern(done);
    if (!open.empty()) {
      const projection::sql_text w = projection::believed("w", opts_.as_of.has_value());
      cond += fmt::format(" AND NOT EXISTS (SELECT 1 FROM {} w WHERE w.incident = v.incident AND {} AND "
                          "w.type = 'status' AND w.status IN ({}) AND (w.at, w.seq) > (v.at, v.seq))",
                          projection::versions_table, w.sql, quoted_sql(open));
      bind_as_of(cond_params, w, opts_.as_of);
      statement += " after last " + pattern(open);
    }
    auto e = first_event(cond, std::move(cond_params), "v.at, v.seq");
    if (!e) return std::unexpected(e.error());
    if (!*e) return std::optional<resolved_milestone>{};
    const std::int64_t at = (*e)->at;
    return std::optional<resolved_milestone>{
        resolved_milestone{milestone{std::move(statement), "resolution (status " + escape_markdown((*e)->status) + ")", {}},
                           at, std::move(**e)}};
  }

  // The customer impact, which the header's Duration is. The rule (also in postmortem.hpp and
  // docs/pmql.md):
  //   first impact: the first of these the incident records: a note tagged `impact-start`; a
  //     component entering degraded_performance, partial_outage or major_outage; an outside
  //     report; an alert; else its first event.
  //   end of impact: the first of these that is recorded at or after the last start (the last
  //     `impact-start` note, else the first impact): the last note tagged `impact-end`; when
  //     every component that left operational is back, the last one's return; the resolution.
  //   None: the incident is ongoing, counted to the report's time (as of T: to T).
  // The Duration is PMQL's `time from FIRST to END`, listed with the key durations.
  std::expected<void, error> compute_impact() {
    // First impact.
    auto note = first_event(tag_condition("impact-start"), {}, "v.at, v.seq");
    if (!note) return std::unexpected(note.error());
    if (*note) {
      impact_from_ = event_milestone(std::move(**note), "first note tagged impact-start");
    } else {
      struct tier {
        std::string_view cond, pmql, label;
      };
      static constexpr tier tiers[] = {
          {"v.type = 'component' AND v.state IN ('degraded_performance', 'partial_outage', 'major_outage')",
           "first component where state in (degraded_performance, partial_outage, major_outage)",
           "first component outage"},
          {"v.type = 'report'", "first report", "first report"},
          {"v.type = 'alert'", "first alert", "first alert"},
          {"v.type NOT IN ('correction', 'retraction')", "start", "first event (no impact recorded)"},
      };
      for (const auto& t : tiers) {
        auto e = first_event(t.cond, {}, "v.at, v.seq");
        if (!e) return std::unexpected(e.error());
        if (!*e) continue;
        const std::int64_t at = (*e)->at;
        impact_from_ = resolved_milestone{milestone{std::string(t.pmql), std::string(t.label), {}}, at, std::move(**e)};
        break;
      }
    }
    if (!impact_from_) return {};  // nothing but corrections and retractions in the view
    std::int64_t latest_start = *impact_from_->at;
    auto last_start = first_event(tag_condition("impact-start"), {}, "v.at DESC, v.seq DESC");
    if (!last_start) return std::unexpected(last_start.error());
    if (*last_start) latest_start = std::max(latest_start, (*last_start)->at);

    // Its end.
    auto resolution = find_resolution();
    if (!resolution) return std::unexpected(resolution.error());
    resolution_ = std::move(*resolution);
    auto end_note = first_event(tag_condition("impact-end"), {}, "v.at DESC, v.seq DESC");
    if (!end_note) return std::unexpected(end_note.error());
    if (*end_note && (*end_note)->at >= latest_start)
      impact_to_ = event_milestone(std::move(**end_note), "last note tagged impact-end");
    if (!impact_to_) {
      const component_history* last = nullptr;
      bool affected = false, open = false;
      for (const auto& c : components_) {
        if (!c.affected()) continue;
        affected = true;
        if (c.open() || !c.recovered) open = true;
        else if (!last || *c.recovered > *last->recovered) last = &c;
      }
      if (affected && !open && last && *last->recovered >= latest_start) {
        auto back = first_event("v.type = 'component' AND v.component = ? AND v.state = 'operational' AND v.at = ?",
                                {last->name, timestamp{*last->recovered}}, "v.at, v.seq");
        if (!back) return std::unexpected(back.error());
        const auto name = pmql_string(last->name);
        std::string statement =
            name ? fmt::format("first component {0} operational after last component {0} where state <> operational",
                               *name)
                 : std::string();
        impact_to_ = resolved_milestone{
            milestone{std::move(statement), "last component back to operational (" + escape_markdown(last->name) + ")", {}},
            *last->recovered, std::move(*back)};
      }
    }
    if (!impact_to_ && resolution_ && *resolution_->at >= latest_start) impact_to_ = resolution_;
    if (!impact_to_) return {};  // ongoing

    impact_ms_ = *impact_to_->at - *impact_from_->at;
    if (impact_from_->m.pmql.empty() || impact_to_->m.pmql.empty()) return {};  // no PMQL form
    const std::string statement = time_statement(impact_from_->m.pmql, impact_to_->m.pmql);
    auto d = q_.time(statement);
    if (!d) return std::unexpected(d.error());
    if (*d && **d == *impact_ms_) impact_statement_ = statement;
    return {};
  }

  // The postmortem document's status and who holds each role: the notes that record them, in
  // occurred order, the last one of each winning.
  std::expected<void, error> gather_document() {
    return each_event(
        "v.type = 'note' AND json_valid(v.data) AND (json_extract(v.data, '$.role') IS NOT NULL OR "
        "json_extract(v.data, '$.document') IS NOT NULL)",
        {}, [&](ev& e) {
          if (!e.document.empty()) document_ = e;
          if (e.role.empty()) return;
          auto it = std::ranges::find(roles_, e.role, &role_holders::role);
          if (it == roles_.end()) it = roles_.insert(roles_.end(), role_holders{e.role, {}});
          it->people = e.people;
        });
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
    auto r = each_event("TRUE", {}, [&](ev& e) {
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

  // The UTC date of `ms`: `2025-01-01`.
  static std::string date_of(std::int64_t ms) { return utc(ms).substr(0, 10); }

  // The header: the document (its status, date, authors and the roles recorded), then the
  // incident, its customer impact and the events it is made of.
  void header() {
    put("# " + escape_markdown(inc_.title.empty() ? inc_.id : inc_.title) + "\n\n");
    table t({"", ""});
    const std::string status = document_ ? document_->document : std::string("draft");
    t.row({"Postmortem", "**" + escape_markdown(state_label(status)) + "**" +
                             (document_ ? ", since " + when(*document_) : std::string(" (no document status recorded)"))});
    t.row({"Report date", date_of(now_)});
    const auto people = [](const std::vector<std::string>& names) {
      std::vector<std::string> out;
      for (const auto& p : names) out.push_back(escape_markdown(p));
      return out.empty() ? std::string("unassigned") : join(out, ", ");
    };
    const auto author = std::ranges::find(roles_, std::string("author"), &role_holders::role);
    t.row({"Authors", author == roles_.end() ? std::string("not recorded") : people(author->people)});
    // The usual roles first, in this order; then the others in order of first mention.
    static constexpr std::string_view usual[] = {"incident_commander", "communications_lead", "operations_lead",
                                                 "scribe", "reviewer"};
    const auto role_row = [&](const role_holders& r) {
      std::string label = role_label(r.role);
      if (!label.empty()) label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
      t.row({escape_markdown(label), people(r.people)});
    };
    for (const auto u : usual)
      if (auto it = std::ranges::find(roles_, std::string(u), &role_holders::role); it != roles_.end()) role_row(*it);
    for (const auto& r : roles_)
      if (r.role != "author" && std::ranges::find(usual, std::string_view(r.role)) == std::end(usual)) role_row(r);
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
    if (!inc_.status.empty()) t.row({"Incident status", escape_markdown(inc_.status)});
    if (impact_from_) {
      t.row({"Customer impact", impact_to_ ? utc_and_local(*impact_from_->at) + " to " + utc_and_local(*impact_to_->at)
                                           : "since " + utc_and_local(*impact_from_->at)});
      // An open end says how long ago the record fell silent: an incident whose last event is
      // days old is more likely unrecorded than still going on.
      t.row({"Duration", impact_ms_ ? "**" + dur(*impact_ms_) + "**"
                                    : fmt::format("**ongoing** (no end recorded), {} so far; last event {} after "
                                                  "the first impact",
                                                  so_far(), dur(last_at_.value_or(inc_.started) - *impact_from_->at))});
    }
    if (resolution_) t.row({"Resolved", utc_and_local(*resolution_->at)});
    t.row({"First event", utc_and_local(inc_.started)});
    std::string counted = fmt::format("{} from {} source{}", n_events_, n_sources_, n_sources_ == 1 ? "" : "s");
    std::vector<std::string> audits;
    if (n_corrections_)
      audits.push_back(fmt::format("{} correction{}", n_corrections_, n_corrections_ == 1 ? "" : "s"));
    if (n_retractions_)
      audits.push_back(fmt::format("{} retraction{}", n_retractions_, n_retractions_ == 1 ? "" : "s"));
    if (!audits.empty()) counted += "; " + join(audits, ", ");
    t.row({"Events", counted});
    put(t.str());
    if (!impact_from_) return;
    // What the Duration counts, under the figure.
    const auto named = [](const resolved_milestone& m) { return milestone_cell(m); };
    if (impact_ms_) {
      put(fmt::format("\nDuration is the customer impact: from the first impact ({}) to its end ({}). The rule and "
                      "its PMQL are under Key durations.\n",
                      named(*impact_from_), named(*impact_to_)));
    } else {
      put(fmt::format("\nDuration: no end of the customer impact is recorded (no note tagged impact-end after it "
                      "started, no return of every component that left operational, no resolution), so the "
                      "incident counts as ongoing: {} from the first impact ({}) to {} ({}); its last event is at "
                      "{}, {} after the first impact.\n",
                      so_far(), named(*impact_from_), opts_.as_of ? "the time of this view" : "the report's time",
                      utc(view_now_), utc(last_at_.value_or(inc_.started)),
                      dur(last_at_.value_or(inc_.started) - *impact_from_->at)));
    }
  }

  // An ongoing impact's time so far: from the first impact to the report's time (as of T: T).
  std::string so_far() const {
    const std::int64_t ms = view_now_ - *impact_from_->at;
    return ms < 0 ? "0s (the first impact is after " + utc(view_now_) + ")" : dur(ms);
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
    if (impact_ms_) s += fmt::format("; its customer impact lasted {}", dur(*impact_ms_));
    else if (impact_from_) s += fmt::format(" and is ongoing ({} so far)", so_far());
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
    // Time since the first change (a deploy, a configuration change): to the impact, and to the
    // resolution. Not the Duration: a change can wait hours before it hurts.
    const resolved_milestone& change = milestone_of(ms_type("change"));
    for (const auto& [name, to] : {std::pair<std::string, const resolved_milestone*>{"First change to impact", impact_from_ ? &*impact_from_ : nullptr},
                                   {"First change to resolution", resolution_ ? &*resolution_ : nullptr}}) {
      if (!change.at || !to || to->m.pmql.empty()) continue;
      const std::string s = time_statement(change.m.pmql, to->m.pmql);
      statements_.push_back(s);
      auto d = q_.time(s);
      if (!d) return std::unexpected(d.error());
      key_rows_.push_back({name, milestone_cell(change), milestone_cell(*to), *d ? "**" + dur(**d) + "**" : ""});
    }
    // The customer impact first: it is the header's Duration.
    if (impact_from_) {
      std::vector<std::string> row = {"Customer impact (the Duration)", milestone_cell(*impact_from_)};
      if (impact_to_) {
        row.push_back(milestone_cell(*impact_to_));
        row.push_back("**" + dur(*impact_ms_) + "**");
        if (!impact_statement_.empty()) statements_.insert(statements_.begin(), impact_statement_);
      } else {
        row.push_back("ongoing: no end recorded");
        row.push_back("**" + so_far() + " so far**");
      }
      key_rows_.insert(key_rows_.begin(), std::move(row));
    }
    return {};
  }

  void key_durations() {
    if (key_rows_.empty()) return;
    table t({"metric", "from", "to", "duration"});
    for (auto& r : key_rows_) t.row(std::move(r));
    section("Key durations");
    put(t.str());
    if (impact_from_)
      put("\nThe customer impact (the header's Duration) starts at the first of these recorded: a note tagged "
          "`impact-start`; a component entering degraded\\_performance, partial\\_outage or major\\_outage; an "
          "outside report; an alert; else the first event. It ends at the first of these recorded at or after the "
          "last start (the last `impact-start` note, else the first impact): the last note tagged `impact-end`; once "
          "every component that left operational is back, the last one's return; the resolution (the first resolved "
          "status after the last open one). Without an end it is ongoing, counted to the report's time.\n");
    std::vector<std::string> lines = {"use " + inc_.id + ";"};
    lines.insert(lines.end(), statements_.begin(), statements_.end());
    if (statements_.empty()) return;
    put(fmt::format("\n{} a PMQL query on this incident:\n\n", statements_.size() == 1 ? "This duration is" : "Each duration is"));
    put(code_block(lines));
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
    // Only notes and the first event of the other types are read. The first of each type is one
    // index seek, made once: a NOT EXISTS per event would seek again for every report and status.
    const projection::sql_text b = projection::believed("w", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    const std::string cond = fmt::format(
        "v.type = 'note' OR v.seq IN (SELECT (SELECT w.seq FROM {} w WHERE w.incident = ? AND w.type = t.column1 AND "
        "{} ORDER BY w.at, w.seq LIMIT 1) FROM (VALUES ('report'), ('alert'), ('status'), ('comm')) t)",
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
    auto r = store_.query_each(disagreement_sql(b.sql, store_.dialect()), params, cols, [&](std::vector<value>& row) {
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

  // Action items with their latest state, owner and due date. Items are read first (in occurred
  // order), then their updates (an action with `of`), each field's last update winning; an
  // update may be dated before its item, so the two are read apart. What is held is one entry
  // per item (all shown) and at most `max_unknown` updates naming no item of this view (the
  // store refuses such an `of`, but a retraction of the item, or a correction of the update,
  // can leave one behind).
  std::expected<void, error> actions() {
    struct item {
      ev e;  // the item, its fields updated
      std::string state = "open";
      std::optional<std::int64_t> state_at;  // when an update set the state
    };
    std::vector<item> items;
    auto r = each_event("v.type = 'action' AND (NOT json_valid(v.data) OR json_extract(v.data, '$.of') IS NULL)", {},
                        [&](ev& e) {
                          item i{std::move(e), "open", std::nullopt};
                          if (!i.e.action_state.empty()) i.state = i.e.action_state;
                          items.push_back(std::move(i));
                        });
    if (!r) return r;
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < items.size(); ++i) index.emplace(items[i].e.id, i);
    std::vector<ev> unknown;
    std::size_t n_unknown = 0;
    r = each_event("v.type = 'action' AND json_valid(v.data) AND json_extract(v.data, '$.of') IS NOT NULL", {},
                   [&](ev& u) {
                     const auto it = index.find(u.of);
                     if (it == index.end()) {
                       if (++n_unknown <= max_unknown) unknown.push_back(std::move(u));
                       return;
                     }
                     item& i = items[it->second];
                     if (!u.action_state.empty()) {
                       i.state = u.action_state;
                       i.state_at = u.at;
                     }
                     if (!u.owner.empty()) i.e.owner = u.owner;
                     if (!u.due.empty()) i.e.due = u.due;
                     if (!u.tracker.empty()) i.e.tracker = u.tracker;
                     if (!u.kind.empty()) i.e.kind = u.kind;
                   });
    if (!r) return r;
    if (items.empty() && unknown.empty()) return {};
    section("Action items");
    const std::string today = date_of(view_now_);
    std::size_t done = 0, overdue = 0;
    if (!items.empty()) {
      put(table::head({"item", "kind", "owner", "due", "state", "tracker"}));
      for (const auto& i : items) {
        const bool closed = i.state == "done" || i.state == "wont_do";
        done += closed ? 1 : 0;
        std::string due = escape_markdown(i.e.due);
        if (!closed && !i.e.due.empty() && i.e.due < today) {
          due += " · **overdue**";
          ++overdue;
        }
        std::string state = escape_markdown(state_label(i.state));
        if (i.state_at) state += " · " + date_of(*i.state_at);
        put(table::line({escape_markdown(i.e.text), escape_markdown(i.e.kind), escape_markdown(i.e.owner), due, state,
                         escape_markdown(i.e.tracker)}));
      }
      put(fmt::format("\n{} of {} closed (done or won't do){}, on {}. Each item shows its last update's state, owner "
                      "and due date; an item is overdue when it is still open after its due date.\n",
                      done, items.size(), overdue ? fmt::format("; {} overdue", overdue) : std::string(), today));
    }
    if (!unknown.empty()) {
      put(fmt::format("\nUpdates that name no action item of this {} (retracted, or the update corrected to "
                      "another id):\n\n",
                      opts_.as_of ? "view" : "incident"));
      for (const auto& u : unknown) put(bullet(u, "update of unknown item " + escape_markdown(u.of) + ": " + describe(u)));
      if (n_unknown > unknown.size()) put(fmt::format("- and {} more\n", n_unknown - unknown.size()));
    }
    return written();
  }

  // Lessons learned, from the notes tagged `went-well`, `went-wrong` and `lucky`, in occurred
  // order; the section is left out when there is none, a heading without one says so.
  std::expected<void, error> lessons() {
    static constexpr std::pair<std::string_view, std::string_view> kinds[] = {
        {"went-well", "What went well"}, {"went-wrong", "What went wrong"}, {"lucky", "Where we got lucky"}};
    std::string any_cond;
    for (const auto& [tag, title] : kinds) any_cond += (any_cond.empty() ? "(" : ") OR (") + tag_condition(tag);
    auto one = first_event(any_cond + ")", {}, "v.at, v.seq");
    if (!one) return std::unexpected(one.error());
    if (!*one) return {};
    section("Lessons learned");
    bool first = true;
    for (const auto& [tag, title] : kinds) {
      put(fmt::format("{}### {}\n\n", std::exchange(first, false) ? "" : "\n", title));
      bool listed = false;
      auto r = each_event(tag_condition(tag), {}, [&](const ev& e) {
        listed = true;
        put(fmt::format("- {} — {}, {}\n", e.text.empty() ? describe(e) : escape_markdown(e.text),
                        escape_markdown(e.source), when(e)));
      });
      if (!r) return r;
      if (!listed) put("Nothing recorded.\n");
    }
    return {};
  }

  std::expected<void, error> timeline() {
    section("Timeline");
    put("Every event in occurred order. `~` marks an estimated time; elapsed time is from the first event.");
    if ((impact_from_ && impact_from_->m.pmql != "start") || impact_to_)
      put(" The events that bound the customer impact are marked.");
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
      std::string what = describe(e) + (e.corrected ? " *(corrected)*" : "");
      // The events that bound the Duration, as Google's template marks "OUTAGE BEGINS".
      const auto bounds = [&](const std::optional<resolved_milestone>& m) {
        return m && m->event && m->m.pmql != "start" && m->event->seq == e.seq;
      };
      if (bounds(impact_from_)) what += " · **customer impact begins**";
      if (bounds(impact_to_)) what += " · **customer impact ends**";
      row.push_back(std::move(what));
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
    const std::int64_t now = now_;
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
  static constexpr std::size_t max_unknown = 20;  // updates of unknown action items listed

  const event_store& store_;
  incident_row inc_;
  const postmortem_options& opts_;
  const date::time_zone* zone_;
  pmql q_;
  // The report's time: its date and the footer's time; `view_now_` is what "so far" and
  // "overdue" count to: the view's time as of T, else the report's time.
  std::int64_t now_ = 0, view_now_ = 0;
  // From PMQL.
  std::vector<resolved_milestone> milestones_;
  // The customer impact (see compute_impact) and the resolution.
  std::optional<resolved_milestone> impact_from_, impact_to_, resolution_;
  std::optional<std::int64_t> impact_ms_;  // nullopt: ongoing
  std::string impact_statement_;           // its PMQL; empty when ongoing or when PMQL cannot write it
  // The document: the last note giving its status, and who holds each role (in order of first mention).
  struct role_holders {
    std::string role;
    std::vector<std::string> people;
  };
  std::optional<ev> document_;
  std::vector<role_holders> roles_;
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

std::expected<std::optional<customer_impact>, pmdb::error> compute_customer_impact(
    const pmdb::event_store& store, const std::string& incident, const postmortem_options& opts) {
  auto inc = find_incident(store, incident, opts.as_of);
  if (!inc) return std::unexpected(inc.error());
  try {
    std::ostringstream nothing;
    report_writer w(store, std::move(*inc), opts, nullptr, nothing);
    return w.impact_only();
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
