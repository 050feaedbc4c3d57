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
// Escaping: text from events is untrusted. In Markdown text and table cells, `\ | * _ [ ] ~ ``
// are backslash-escaped, `< > &` become entities (no HTML can be injected), line breaks become
// `<br>`, other control characters a space, and a line-start marker (`#`, `>`, `-`, `+`, `=`,
// `1.`) is escaped. In the Mermaid block, names keep only characters Mermaid cannot misread.
#include "shell/postmortem.hpp"

#include "shell/catalog.hpp"
#include "shell/render.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
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
  std::string owner, tracker;                 // action
  std::string reason;                         // correction, retraction
  bool has_tag(std::string_view t) const { return std::ranges::find(tags, t) != tags.end(); }
  bool is_audit() const { return projection::is_audit_type(type); }
};

struct incident_row {
  std::string id, title, org, severity, summary, status;
  std::vector<std::string> services;
  std::int64_t started = 0, ended = 0, events = 0;
};

std::string text_of(const value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}

std::int64_t int_of(const value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* t = std::get_if<timestamp>(&v)) return t->ms;
  if (const auto* d = std::get_if<duration>(&v)) return d->ms;
  if (const auto* r = std::get_if<double>(&v)) return static_cast<std::int64_t>(*r);
  return 0;
}

std::optional<double> real_of(const value& v) {
  if (const auto* r = std::get_if<double>(&v)) return *r;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

std::string json_string(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::vector<std::string> json_strings(const rapidjson::Value& obj, const char* key) {
  std::vector<std::string> out;
  if (!obj.IsObject()) return out;
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& s : it->value.GetArray())
    if (s.IsString()) out.emplace_back(s.GetString(), s.GetStringLength());
  return out;
}

// Appends the parameters of projection SQL `t`: T once per `?` (it has none in the view of now).
void bind_as_of(std::vector<value>& params, const projection::sql_text& t, std::optional<std::int64_t> as_of) {
  if (!as_of) return;
  for (int i = 0; i < t.as_of_params; ++i) params.emplace_back(timestamp{*as_of});
}

// The incident's row of the incidents relation of the view: the read model now, the
// projection's relation as of T. nullopt when the incident has no believed event in the view.
std::expected<std::optional<incident_row>, error> load_incident(const event_store& store, const std::string& id,
                                                                std::optional<std::int64_t> as_of) {
  static const std::vector<column> cols = {
      {"title", value_type::text},        {"org", value_type::text},         {"services", value_type::text},
      {"severity", value_type::text},     {"summary", value_type::text},     {"status", value_type::text},
      {"started", value_type::timestamp}, {"ended", value_type::timestamp}, {"events", value_type::integer}};
  static constexpr std::string_view columns = "title, org, services, severity, summary, status, started, ended, events";
  std::vector<value> params;
  std::string sql;
  if (!as_of) {
    sql = fmt::format("SELECT {} FROM {} WHERE id = ?", columns, projection::incidents_table);
    params.emplace_back(id);
  } else {
    // The id comes first, in a CTE, so that every `?` of the relation's text is T wherever
    // the relation places its FROM item.
    const projection::sql_text rel = projection::incidents_of("wanted", true);
    sql = fmt::format("WITH wanted(incident) AS (SELECT ?) SELECT {} FROM ({}) WHERE events > 0", columns, rel.sql);
    params.emplace_back(id);
    bind_as_of(params, rel, as_of);
  }
  auto rs = store.query(sql, params, cols);
  if (!rs) return std::unexpected(rs.error());
  if (rs->rows.empty()) return std::optional<incident_row>{};
  const auto& r = rs->rows.front();
  incident_row inc;
  inc.id = id;
  inc.title = text_of(r[0]);
  inc.org = text_of(r[1]);
  if (const std::string services = text_of(r[2]); !services.empty()) {
    rapidjson::Document d;
    d.Parse(services.c_str(), services.size());
    if (!d.HasParseError() && d.IsArray())
      for (const auto& s : d.GetArray())
        if (s.IsString()) inc.services.emplace_back(s.GetString(), s.GetStringLength());
  }
  inc.severity = text_of(r[3]);
  inc.summary = text_of(r[4]);
  inc.status = text_of(r[5]);
  inc.started = int_of(r[6]);
  inc.ended = int_of(r[7]);
  inc.events = int_of(r[8]);
  return inc;
}

// Rows of event_versions `v` that satisfy `where` (its `?`s bound by `params`), in `order`.
std::expected<std::vector<ev>, error> load_versions(const event_store& store, const std::string& where,
                                                    const std::vector<value>& params, std::string_view order) {
  static const std::vector<column> cols = {
      {"seq", value_type::integer},       {"type", value_type::text},          {"at", value_type::timestamp},
      {"source", value_type::text},       {"approx", value_type::integer},     {"data", value_type::text},
      {"text", value_type::text},         {"status", value_type::text},        {"channel", value_type::text},
      {"author", value_type::text},       {"metric", value_type::text},        {"value", value_type::real},
      {"unit", value_type::text},         {"component", value_type::text},     {"state", value_type::text},
      {"kind", value_type::text},         {"target", value_type::text},        {"id", value_type::text},
      {"recorded_at", value_type::timestamp}, {"corrected", value_type::integer}, {"rank", value_type::integer},
      {"made_by", value_type::integer},   {"valid_from", value_type::timestamp}, {"valid_to", value_type::timestamp}};
  auto rs = store.query(
      fmt::format("SELECT v.seq, v.type, v.at, v.source, v.approx, v.data, v.text, v.status, v.channel, v.author, "
                  "v.metric, v.value, v.unit, v.component, v.state, v.kind, v.target, v.id, v.recorded_at, "
                  "v.corrected, v.rank, v.made_by, v.valid_from, v.valid_to FROM {} v WHERE {} ORDER BY {}",
                  projection::versions_table, where, order),
      params, cols);
  if (!rs) return std::unexpected(rs.error());
  std::vector<ev> out;
  out.reserve(rs->rows.size());
  for (const auto& r : rs->rows) {
    ev e;
    e.seq = int_of(r[0]);
    e.type = text_of(r[1]);
    e.at = int_of(r[2]);
    e.source = text_of(r[3]);
    e.approx = int_of(r[4]) != 0;
    e.data = text_of(r[5]);
    e.text = text_of(r[6]);
    e.status = text_of(r[7]);
    e.channel = text_of(r[8]);
    e.author = text_of(r[9]);
    e.metric = text_of(r[10]);
    e.value = real_of(r[11]);
    e.unit = text_of(r[12]);
    e.component = text_of(r[13]);
    e.state = text_of(r[14]);
    e.kind = text_of(r[15]);
    e.target = text_of(r[16]);
    e.id = text_of(r[17]);
    e.recorded_at = int_of(r[18]);
    e.corrected = int_of(r[19]) != 0;
    e.rank = int_of(r[20]);
    e.made_by = int_of(r[21]);
    e.valid_from = int_of(r[22]);
    if (!std::holds_alternative<null_value>(r[23])) e.valid_to = int_of(r[23]);
    if (e.type == "note" || e.type == "action" || e.is_audit()) {
      rapidjson::Document d;
      d.Parse(e.data.c_str(), e.data.size());
      if (!d.HasParseError() && d.IsObject()) {
        e.tags = json_strings(d, "tags");
        e.owner = json_string(d, "owner");
        e.tracker = json_string(d, "tracker");
        e.reason = json_string(d, "reason");
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

// The incident's events believed in the view (corrected, retracted ones left out), in occurred
// order (at, seq); corrections and retractions among them.
std::expected<std::vector<ev>, error> load_events(const event_store& store, const std::string& id,
                                                  std::optional<std::int64_t> as_of) {
  const projection::sql_text b = projection::believed("v", as_of.has_value());
  std::vector<value> params = {id};
  bind_as_of(params, b, as_of);
  return load_versions(store, "v.incident = ? AND " + b.sql, params, "v.at, v.seq");
}

// One correction or retraction, with the version of its target it replaced and the one it made.
struct change {
  ev audit;                  // the correction or retraction
  std::optional<ev> before;  // the target as believed just before it; nullopt: target not found
  std::optional<ev> after;   // the version it made; nullopt: a retraction, or nothing usable in it
};

// `audits` (corrections and retractions) with what each changed, in recorded order
// (recorded_at, seq): the order the projection applies them in.
std::expected<std::vector<change>, error> load_changes(const event_store& store, const std::vector<ev>& audits) {
  std::vector<change> out;
  for (const auto& a : audits) out.push_back({a, std::nullopt, std::nullopt});
  std::ranges::stable_sort(out, {}, [](const change& c) { return std::pair(c.audit.recorded_at, c.audit.seq); });
  for (auto& c : out) {
    const std::vector<value> params = {c.audit.target};
    auto versions = load_versions(store, "v.id = ?", params, "v.rank");
    if (!versions) return std::unexpected(versions.error());
    if (versions->empty()) continue;
    const auto made = std::ranges::find(*versions, c.audit.seq, &ev::made_by);
    if (c.audit.type == "correction" && made != versions->end() && made->rank > 0) {
      c.after = *made;
      c.before = *std::prev(made);  // ranks are 0, 1, 2… in the order the corrections apply
      continue;
    }
    // A retraction, or a correction that changed nothing: the target as believed when it was
    // recorded (the last version believed for a while from before then).
    c.before = versions->front();
    for (const auto& v : *versions)
      if (v.valid_from <= c.audit.recorded_at && (!v.valid_to || v.valid_from < *v.valid_to)) c.before = v;
  }
  return out;
}

// ------------------------------------------------------------------ PMQL

// Runs PMQL statements with the incident as the current one, as `use INCIDENT;` would.
class pmql {
 public:
  pmql(const event_store& store, const std::string& incident, std::optional<std::int64_t> as_of)
      : store_(store), cat_(catalog_of(store)) {
    ctx_.current_incident = incident;
    ctx_.as_of = as_of;
  }

  // The one duration cell of a `time from A to B;` statement; nullopt when a milestone never happened.
  std::expected<std::optional<std::int64_t>, error> time(const std::string& statement) const {
    auto script = query::parse(statement);
    if (!script) return std::unexpected(fail(statement, script.error()));
    if (script->statements.size() != 1)
      return std::unexpected(error(fmt::format("report: internal query `{}` is not one statement", statement)));
    auto act = query::compile(script->statements.front(), cat_, ctx_, statement);
    if (!act) return std::unexpected(fail(statement, act.error()));
    const auto* run = std::get_if<query::run_query>(&*act);
    if (!run) return std::unexpected(error(fmt::format("report: internal query `{}` is not a query", statement)));
    auto rs = store_.query(run->query.sql, run->query.params, run->query.columns);
    if (!rs) return std::unexpected(fail(statement, rs.error()));
    if (rs->rows.size() != 1 || rs->rows.front().size() != 1)
      return std::unexpected(error(fmt::format("report: internal query `{}` did not return one value", statement)));
    const value& v = rs->rows.front().front();
    if (std::holds_alternative<null_value>(v)) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{int_of(v)};
  }

 private:
  static error fail(const std::string& statement, const error& e) {
    return error(fmt::format("report: internal query `{}` failed: {}", statement, e.message));
  }
  const event_store& store_;
  query::catalog cat_;
  query::context ctx_;
};

// ------------------------------------------------------------------ formatting

// A name for the Mermaid block: no `:`, `#`, `;` (Mermaid's separators and comments), no
// quotes, backquotes or angle brackets, no control characters; whitespace collapsed.
std::string mermaid_name(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const bool drop = ch == ':' || ch == '#' || ch == ';' || ch == '"' || ch == '`' || ch == '<' || ch == '>' ||
                      ch == '{' || ch == '}' || ch == '%' || static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
    if (drop || ch == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.empty()) return "unnamed";
  // A task line starting with a gantt keyword would be read as that directive.
  static constexpr std::string_view keywords[] = {"section",     "title",      "dateformat",  "axisformat",
                                                  "tickinterval", "excludes",  "includes",    "todaymarker",
                                                  "weekday",     "inclusiveenddates", "topaxis", "acctitle",
                                                  "accdescr",    "click",      "gantt"};
  std::string lower = out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto k : keywords)
    if (lower.starts_with(k)) return "· " + out;
  return out;
}

// `2024-12-11 23:17` (seconds only when not zero): the report's UTC times.
std::string utc(std::int64_t ms) {
  std::string s = format_short(timestamp{ms});
  if (!s.empty() && s.back() == 'Z') s.pop_back();
  return s;
}

// An event's time, `~` in front when it is an estimate.
std::string when(const ev& e) { return (e.approx ? "~" : "") + utc(e.at); }

// `2024-12-11T23:17` for the Mermaid chart (dateFormat YYYY-MM-DDTHH:mm; seconds dropped).
std::string gantt_time(std::int64_t ms) { return format_iso(timestamp{ms}).substr(0, 16); }

std::string dur(std::int64_t ms) { return format_duration(duration{ms}); }

std::string elapsed(std::int64_t ms) { return ms < 0 ? dur(ms) : "+" + dur(ms); }

// `1,500`, `107,005`.
std::string group_digits(double v) {
  if (v != std::floor(v) || std::fabs(v) >= 1e15) return fmt::format("{}", v);
  std::string digits = fmt::format("{}", static_cast<std::int64_t>(std::fabs(v)));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

// `99%`, `250 ms`, `0.5`.
std::string metric_value(const ev& e) {
  const std::string v = e.value ? fmt::format("{}", *e.value) : std::string("?");
  if (e.unit.empty()) return v;
  if (e.unit == "%") return v + "%";
  return v + " " + escape_markdown(e.unit);
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
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

// A GFM table. Cells are already Markdown (escaped where they carry untrusted text).
class table {
 public:
  explicit table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  std::string str() const {
    std::string out = line(header_, false);
    out += "|";
    for (std::size_t i = 0; i < header_.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& r : rows_) out += line(r, true);
    return out;
  }

 private:
  // An empty data cell shows `—`; an empty header cell stays empty.
  static std::string line(const std::vector<std::string>& cells, bool data) {
    std::string out = "|";
    for (const auto& c : cells) out += c.empty() ? (data ? std::string(" — |") : std::string(" |")) : " " + c + " |";
    return out + "\n";
  }
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// ------------------------------------------------------------------ component states

int severity_rank(std::string_view state) {
  if (state == "major_outage") return 4;
  if (state == "partial_outage") return 3;
  if (state == "degraded_performance") return 2;
  if (state == "under_maintenance") return 1;
  return 0;  // operational
}

struct state_span {
  std::string state;
  std::int64_t from = 0, to = 0;
  bool open = false;  // never left: counted to the incident's end
};

struct component_history {
  std::string name;
  std::vector<state_span> spans;           // non-operational spans, in time order
  std::optional<std::int64_t> recovered;   // when it last became operational after an outage
  std::string worst = "operational";
};

// Per component (in order of first mention), the spans spent in each non-operational state,
// from its component events in occurred order. A state lasts until the component's next
// different state; one never left lasts to the incident's end and is marked open.
std::vector<component_history> component_histories(const std::vector<ev>& events, std::int64_t incident_end) {
  std::vector<component_history> out;
  std::map<std::string, std::size_t> index;
  std::vector<std::pair<std::string, std::int64_t>> current;  // per component: state, since
  for (const auto& e : events) {
    if (e.type != "component") continue;
    auto [it, added] = index.try_emplace(e.component, out.size());
    if (added) {
      out.push_back({e.component, {}, std::nullopt, "operational"});
      current.emplace_back("operational", e.at);
    }
    auto& h = out[it->second];
    auto& [state, since] = current[it->second];
    if (e.state == state) continue;
    if (state != "operational") h.spans.push_back({state, since, e.at, false});
    if (e.state == "operational" && !h.spans.empty()) h.recovered = e.at;
    if (e.state != "operational") h.recovered.reset();
    if (severity_rank(e.state) > severity_rank(h.worst)) h.worst = e.state;
    state = e.state;
    since = e.at;
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (current[i].first != "operational")
      out[i].spans.push_back({current[i].first, current[i].second, std::max(incident_end, current[i].second), true});
  return out;
}

// ------------------------------------------------------------------ key durations

struct milestone {
  std::string pmql;    // `first alert`, `start`, `last status resolved`
  std::string label;   // how the report names it
  std::function<bool(const ev&)> match;  // the events PMQL's pattern matches (to name the source)
  bool last = false;
};

milestone ms_start() { return {"start", "start", [](const ev&) { return true; }}; }
milestone ms_type(const std::string& type) {
  return {"first " + type, "first " + type, [type](const ev& e) { return e.type == type; }};
}
milestone ms_status(const std::string& status, bool last = false) {
  const std::string which = last ? "last" : "first";
  return {which + " status " + status, which + " status " + status,
          [status](const ev& e) { return e.type == "status" && e.status == status; }, last};
}

struct resolved_milestone {
  std::optional<std::int64_t> at;
  const ev* event = nullptr;
};

class durations {
 public:
  durations(const pmql& q, const std::vector<ev>& events, std::int64_t started)
      : q_(q), events_(events), started_(started) {}

  // The time of a milestone, through PMQL (`time from start to M`), and the event it is.
  std::expected<resolved_milestone, error> resolve(const milestone& m) {
    auto off = q_.time(statement("start", m.pmql));
    if (!off) return std::unexpected(off.error());
    resolved_milestone r;
    if (!*off) return r;
    r.at = started_ + **off;
    const ev* found = nullptr;
    for (const auto& e : events_) {
      if (e.at != *r.at || !m.match(e)) continue;
      found = &e;
      if (!m.last) break;
    }
    r.event = found;
    return r;
  }

  std::expected<std::optional<std::int64_t>, error> span(const milestone& from, const milestone& to) {
    const std::string s = statement(from.pmql, to.pmql);
    statements_.push_back(s);
    return q_.time(s);
  }

  const std::vector<std::string>& statements() const { return statements_; }

 private:
  static std::string statement(const std::string& from, const std::string& to) {
    return fmt::format("time from {} to {};", from, to);
  }
  const pmql& q_;
  const std::vector<ev>& events_;
  std::int64_t started_;
  std::vector<std::string> statements_;
};

std::string milestone_cell(const milestone& m, const resolved_milestone& r) {
  if (!r.at) return fmt::format("{}: not recorded", m.label);
  std::string s = fmt::format("{} · {}", m.label, r.event ? when(*r.event) : utc(*r.at));
  if (r.event) s += " · " + escape_markdown(r.event->source);
  return s;
}

// ------------------------------------------------------------------ disagreements

// Where sources disagree: the rule.
//   Events state the same fact when they share a key: a metric's (name, value, unit), a
//   status, a component's (component, state), a report's count; and "the start of impact",
//   which is every source's first `report` together with the notes tagged `impact-start`.
//   For each key, each source's earliest event is its observation (a source repeating itself
//   is not a disagreement). A key is shown when two or more sources observed it and their
//   times differ; the rows are its observations in time order, with each one's gap from the
//   earliest. Keys are listed by their earliest observation.
struct fact_group {
  std::string label;
  std::vector<const ev*> observations;  // one per source, in time order
  std::set<std::string> sources;
};

std::vector<fact_group> disagreements(const std::vector<ev>& events) {
  std::vector<fact_group> groups;
  std::map<std::string, std::size_t> index;
  const auto add = [&](const std::string& key, const std::string& label, const ev& e) {
    auto [it, added] = index.try_emplace(key, groups.size());
    if (added) groups.push_back({label, {}, {}});
    auto& g = groups[it->second];
    if (g.sources.insert(e.source).second) g.observations.push_back(&e);
  };
  std::set<std::string> reporting_sources;
  for (const auto& e : events) {  // occurred order: the first event per source is its earliest
    if (e.type == "metric")
      add(fmt::format("metric\x1f{}\x1f{}\x1f{}", e.metric, e.value.value_or(0), e.unit),
          fmt::format("metric {} = {}", escape_markdown(e.metric), metric_value(e)), e);
    else if (e.type == "status")
      add("status\x1f" + e.status, "status " + escape_markdown(e.status), e);
    else if (e.type == "component")
      add(fmt::format("component\x1f{}\x1f{}", e.component, e.state),
          escape_markdown(e.component) + " → " + escape_markdown(e.state), e);
    if (e.type == "report" && e.value)
      add(fmt::format("count\x1f{}", *e.value), group_digits(*e.value) + " reports", e);
    if ((e.type == "report" && reporting_sources.insert(e.source).second) ||
        (e.type == "note" && e.has_tag("impact-start")))
      add("impact-start", "start of impact (first report, impact-start note)", e);
  }
  std::vector<fact_group> out;
  for (auto& g : groups) {
    if (g.observations.size() < 2) continue;
    if (g.observations.front()->at == g.observations.back()->at) continue;
    out.push_back(std::move(g));
  }
  std::ranges::stable_sort(out, {}, [](const fact_group& g) { return g.observations.front()->at; });
  return out;
}

// ------------------------------------------------------------------ the report

struct concurrent {
  std::string id, title;
  std::int64_t started = 0, ended = 0;
};

std::expected<std::vector<concurrent>, error> concurrent_incidents(const event_store& store, const incident_row& inc,
                                                                   std::optional<std::int64_t> as_of) {
  // The same rule as PMQL's `incidents overlapping ID`: other incidents whose [started, ended]
  // intersects this one's, in the incidents relation of the view.
  static const std::vector<column> cols = {{"id", value_type::text},
                                           {"title", value_type::text},
                                           {"started", value_type::timestamp},
                                           {"ended", value_type::timestamp}};
  std::vector<value> params;
  std::string relation(projection::incidents_table);
  if (as_of) {
    const projection::sql_text rel = projection::incidents_as_of();
    relation = "(" + rel.sql + ")";
    bind_as_of(params, rel, as_of);
  }
  params.insert(params.end(), {inc.id, timestamp{inc.ended}, timestamp{inc.started}});
  auto rs = store.query(fmt::format("SELECT id, title, started, ended FROM {} WHERE id <> ? AND started <= ? AND "
                                    "ended >= ? ORDER BY started, id",
                                    relation),
                        params, cols);
  if (!rs) return std::unexpected(rs.error());
  std::vector<concurrent> out;
  for (const auto& r : rs->rows) out.push_back({text_of(r[0]), text_of(r[1]), int_of(r[2]), int_of(r[3])});
  return out;
}

class report_writer {
 public:
  // `events`: the incident's believed facts in occurred order; `changes`: the corrections and
  // retractions believed in the view, in recorded order.
  report_writer(const event_store& store, incident_row inc, std::vector<ev> events, std::vector<change> changes,
                const postmortem_options& opts, const date::time_zone* zone)
      : store_(store), inc_(std::move(inc)), events_(std::move(events)), changes_(std::move(changes)), opts_(opts),
        zone_(zone), q_(store, inc_.id, opts.as_of), durations_(q_, events_, inc_.started) {}

  std::expected<std::string, error> run() {
    components_ = component_histories(events_, inc_.ended);
    if (auto r = compute_end(); !r) return std::unexpected(r.error());
    header();
    summary();
    impact();
    if (auto r = key_durations(); !r) return std::unexpected(r.error());
    causes();
    detection();
    response();
    disagreement();
    if (auto r = concurrency(); !r) return std::unexpected(r.error());
    actions();
    timeline();
    corrections();
    gantt();
    footer();
    return std::move(out_);
  }

 private:
  std::string local(std::int64_t ms) const {
    const date::sys_time<std::chrono::milliseconds> t{std::chrono::milliseconds{ms}};
    return date::format("%Y-%m-%d %H:%M %Z", date::zoned_time<std::chrono::milliseconds>{zone_, t});
  }

  std::string utc_and_local(std::int64_t ms) const {
    std::string s = utc(ms) + " UTC";
    if (zone_) s += " (" + local(ms) + ")";
    return s;
  }

  void section(std::string_view title) { out_ += fmt::format("\n## {}\n\n", title); }

  // End: the first `resolved` status when there is one, else the incident's last event; the
  // total duration is PMQL's `time from start to ...` to that milestone.
  std::expected<void, error> compute_end() {
    auto resolved = q_.time("time from start to first status resolved;");
    if (!resolved) return std::unexpected(resolved.error());
    if (*resolved) {
      end_ = inc_.started + **resolved;
      total_ = **resolved;
      end_label_ = "first resolved status";
      resolved_ = true;
      total_statement_ = "time from start to first status resolved;";
      return {};
    }
    auto last = q_.time("time from start to end;");
    if (!last) return std::unexpected(last.error());
    total_ = last->value_or(0);
    end_ = inc_.started + total_;
    end_label_ = "last event; no resolved status";
    total_statement_ = "time from start to end;";
    return {};
  }

  void header() {
    out_ += "# " + escape_markdown(inc_.title.empty() ? inc_.id : inc_.title) + "\n\n";
    table t({"", ""});
    t.row({"Incident", "`" + inc_.id + "`"});
    if (opts_.as_of) t.row({"As of", utc_and_local(*opts_.as_of) + ": only what had been recorded by then"});
    if (!inc_.org.empty()) t.row({"Organisation", escape_markdown(inc_.org)});
    std::vector<std::string> services;
    for (const auto& s : inc_.services) services.push_back(escape_markdown(s));
    if (!services.empty()) t.row({"Services", join(services, ", ")});
    std::vector<std::string> comps;
    for (const auto& c : components_)
      if (!c.spans.empty()) comps.push_back(escape_markdown(c.name));
    if (!comps.empty()) t.row({"Components affected", join(comps, ", ")});
    if (!inc_.severity.empty()) t.row({"Severity", escape_markdown(inc_.severity)});
    if (!inc_.status.empty()) t.row({"Status", escape_markdown(inc_.status)});
    t.row({"Start", utc_and_local(inc_.started) + ", first event"});
    t.row({"End", utc_and_local(end_) + ", " + end_label_});
    t.row({"Duration", dur(total_)});
    std::set<std::string> sources;
    for (const auto& e : events_) sources.insert(e.source);
    std::string counted =
        fmt::format("{} from {} source{}", events_.size(), sources.size(), sources.size() == 1 ? "" : "s");
    const auto n_retractions = std::ranges::count_if(changes_, [](const change& c) { return c.audit.type == "retraction"; });
    const auto n_corrections = std::ssize(changes_) - n_retractions;
    std::vector<std::string> audits;
    if (n_corrections) audits.push_back(fmt::format("{} correction{}", n_corrections, n_corrections == 1 ? "" : "s"));
    if (n_retractions) audits.push_back(fmt::format("{} retraction{}", n_retractions, n_retractions == 1 ? "" : "s"));
    if (!audits.empty()) counted += "; " + join(audits, ", ");
    t.row({"Events", counted});
    out_ += t.str();
  }

  const ev* peak_metric(std::string_view name) const {
    const ev* best = nullptr;
    for (const auto& e : events_)
      if (e.type == "metric" && e.metric == name && e.value && (!best || *e.value > *best->value)) best = &e;
    return best;
  }

  const ev* peak_report() const {
    const ev* best = nullptr;
    for (const auto& e : events_)
      if (e.type == "report" && e.value && (!best || *e.value > *best->value)) best = &e;
    return best;
  }

  void summary() {
    section("Summary");
    if (!inc_.summary.empty()) {
      out_ += escape_markdown(inc_.summary) + "\n";
      return;
    }
    std::vector<std::string> what;
    for (const auto& s : inc_.services) what.push_back(escape_markdown(s));
    if (what.empty())
      for (const auto& c : components_)
        if (!c.spans.empty()) what.push_back(escape_markdown(c.name));
    std::string s = inc_.title.empty() ? "Incident `" + inc_.id + "`" : "“" + escape_markdown(inc_.title) + "”";
    if (!what.empty()) s += " affected " + join(what, ", ") + ". It";
    s += " started at " + utc(inc_.started) + " UTC";
    if (total_ > 0)
      s += fmt::format(" and {} {}", resolved_ ? "was resolved after" : "has been recorded over", dur(total_));
    s += ".";
    if (const ev* p = peak_metric("affected"))
      s += fmt::format(" At the peak, {} affected ({}).", metric_value(*p), escape_markdown(p->source));
    if (const ev* r = peak_report()) s += fmt::format(" Up to {} reports ({}).", group_digits(*r->value), escape_markdown(r->source));
    out_ += s + "\n";
  }

  void impact() {
    std::string body;
    // Components.
    std::vector<std::string> states;
    for (const auto& c : components_)
      for (const auto& sp : c.spans)
        if (std::ranges::find(states, sp.state) == states.end()) states.push_back(sp.state);
    std::ranges::stable_sort(states, std::greater{}, [](const std::string& s) { return severity_rank(s); });
    bool any_open = false;
    if (!states.empty()) {
      std::vector<std::string> header = {"component", "worst state"};
      for (const auto& s : states) header.push_back("time in " + escape_markdown(s));
      header.push_back("back to operational");
      table t(header);
      for (const auto& c : components_) {
        if (c.spans.empty()) continue;
        std::vector<std::string> row = {escape_markdown(c.name), escape_markdown(c.worst)};
        bool open = false;
        for (const auto& s : states) {
          std::int64_t total = 0;
          bool seen = false;
          for (const auto& sp : c.spans)
            if (sp.state == s) {
              total += sp.to - sp.from;
              seen = true;
              open = open || sp.open;
            }
          row.push_back(seen ? dur(total) : "");
        }
        row.push_back(c.recovered && !open ? utc(*c.recovered) : "not recorded \\*");
        any_open = any_open || open;
        t.row(row);
      }
      body += "Time in each state, from the component events:\n\n" + t.str();
      if (any_open)
        body += fmt::format(
            "\n\\* never recorded as operational again: its last state is counted to the incident's {} ({}).\n",
            !events_.empty() && inc_.ended < events_.back().at ? "resolution" : "last event", utc(inc_.ended));
    }
    // Peak metrics: the highest value of each metric, at its first occurrence.
    std::vector<std::string> names;
    for (const auto& e : events_)
      if (e.type == "metric" && e.value && std::ranges::find(names, e.metric) == names.end()) names.push_back(e.metric);
    if (!names.empty()) {
      table t({"metric", "peak", "at (UTC)", "source"});
      for (const auto& n : names) {
        const ev* p = peak_metric(n);
        t.row({escape_markdown(n), metric_value(*p), when(*p), escape_markdown(p->source)});
      }
      if (!body.empty()) body += "\n";
      body += "Peak of each metric:\n\n" + t.str();
    }
    // Report counts, the largest first.
    std::vector<const ev*> counts;
    for (const auto& e : events_)
      if (e.type == "report" && e.value) counts.push_back(&e);
    std::ranges::stable_sort(counts, std::greater{}, [](const ev* e) { return *e->value; });
    constexpr std::size_t max_counts = 5;
    if (!counts.empty()) {
      table t({"reports", "at (UTC)", "source", "what"});
      for (std::size_t i = 0; i < counts.size() && i < max_counts; ++i)
        t.row({group_digits(*counts[i]->value), when(*counts[i]), escape_markdown(counts[i]->source), escape_markdown(counts[i]->text)});
      if (!body.empty()) body += "\n";
      body += counts.size() > max_counts ? fmt::format("Largest report counts ({} of {}):\n\n", max_counts, counts.size())
                                         : std::string("Report counts:\n\n");
      body += t.str();
    }
    if (body.empty()) return;
    section("Impact");
    out_ += body;
  }

  // Missing milestones: a row whose two ends are both missing is left out (the incident has
  // nothing to say about that phase); a row with one end recorded stays, the missing end
  // reads "not recorded" and the duration "—", since that gap is itself a finding. `start`
  // (the first event) always exists, so it does not count as a recorded end: a row from
  // `start` stays only when its other end is recorded. The 99%-fixed row appears only when
  // such a metric exists: few incidents report one.
  std::expected<void, error> key_durations() {
    const bool has_report = std::ranges::any_of(events_, [](const ev& e) { return e.type == "report"; });
    const milestone first_report = has_report ? ms_type("report") : ms_start();
    const milestone fixed99{"first 99% fixed", "first metric fixed ≥ 99", [](const ev& e) {
                              return e.type == "metric" && e.metric == "fixed" && e.value && *e.value >= 99;
                            }};
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
        {"Time to 99% fixed", first_report, fixed99, true},
        {"Time to resolve", ms_status("investigating"), ms_status("resolved")},
        {has_report ? "First report to resolution" : "Start to resolution", first_report, ms_status("resolved", true)},
    };
    table t({"metric", "from", "to", "duration"});
    for (const auto& r : rows) {
      auto from = durations_.resolve(r.from);
      if (!from) return std::unexpected(from.error());
      auto to = durations_.resolve(r.to);
      if (!to) return std::unexpected(to.error());
      const bool from_recorded = from->at && r.from.pmql != "start";
      if (!from_recorded && !to->at) continue;
      if (r.need_to && !to->at) continue;
      auto d = durations_.span(r.from, r.to);
      if (!d) return std::unexpected(d.error());
      t.row({r.name, milestone_cell(r.from, *from), milestone_cell(r.to, *to), *d ? "**" + dur(**d) + "**" : ""});
    }
    if (t.empty()) return {};
    section("Key durations");
    out_ += t.str();
    out_ += "\nEach duration is a PMQL query on this incident:\n\n```\nuse " + inc_.id + ";\n";
    for (const auto& s : durations_.statements()) out_ += s + "\n";
    out_ += total_statement_ + "\n```\n";
    return {};
  }

  void causes() {
    static constexpr std::pair<std::string_view, std::string_view> kinds[] = {
        {"trigger", "Trigger"}, {"root_cause", "Root cause"}, {"contributing", "Contributing factors"}, {"", "Other causes"}};
    std::string body;
    for (const auto& [kind, title] : kinds) {
      std::string items;
      for (const auto& e : events_) {
        if (e.type != "cause") continue;
        const bool known = e.kind == "trigger" || e.kind == "root_cause" || e.kind == "contributing";
        if (kind.empty() ? known : e.kind != kind) continue;
        items += fmt::format("- {} — {}, {}\n", escape_markdown(e.text), escape_markdown(e.source), when(e));
      }
      if (!items.empty()) body += fmt::format("### {}\n\n{}\n", title, items);
    }
    if (body.empty()) return;
    body.pop_back();
    section("Trigger, root cause and contributing factors");
    out_ += body;
  }

  static std::string bullet(const ev& e, const std::string& what) {
    return fmt::format("- {} · {} — {}\n", when(e), what, escape_markdown(e.source));
  }

  void detection() {
    std::vector<std::pair<const ev*, std::string>> facts;
    const auto first = [&](std::string_view type, std::string_view label) {
      for (const auto& e : events_)
        if (e.type == type) {
          facts.emplace_back(&e, std::string(label) + (e.text.empty() ? "" : ": " + escape_markdown(e.text)));
          return;
        }
    };
    first("report", "first outside report");
    first("alert", "first alert");
    for (const auto& e : events_)
      if (e.type == "note" && e.has_tag("impact-start"))
        facts.emplace_back(&e, "impact starts" + (e.text.empty() ? "" : ": " + escape_markdown(e.text)));
    for (const auto& e : events_)
      if (e.type == "status") {
        facts.emplace_back(&e, "first status post, **" + escape_markdown(e.status) + "**" + (e.text.empty() ? "" : ": " + escape_markdown(e.text)));
        break;
      }
    for (const auto& e : events_)
      if (e.type == "comm") {
        facts.emplace_back(&e, "first communication: " + describe(e));
        break;
      }
    if (facts.empty()) return;
    std::ranges::stable_sort(facts, {}, [](const auto& f) { return std::pair{f.first->at, f.first->seq}; });
    section("Detection");
    for (const auto& [e, what] : facts) out_ += bullet(*e, what);
  }

  void response() {
    std::string body;
    std::string status;
    std::map<std::string, std::string> state;
    for (const auto& e : events_) {
      if (e.type == "status") {
        if (e.status != status) body += bullet(e, "status **" + escape_markdown(e.status) + "**" + (e.text.empty() ? "" : ": " + escape_markdown(e.text)));
        status = e.status;
      } else if (e.type == "component") {
        auto& prev = state[e.component];
        if (!prev.empty() && severity_rank(e.state) < severity_rank(prev)) body += bullet(e, describe(e));
        prev = e.state;
      } else if (e.type == "note" && (e.has_tag("mitigation") || e.has_tag("recovery") || e.has_tag("impact-end"))) {
        body += bullet(e, describe(e));
      }
    }
    if (body.empty()) return;
    section("Response and recovery");
    out_ += body;
  }

  void disagreement() {
    const auto groups = disagreements(events_);
    if (groups.empty()) return;
    section("Where sources disagree");
    out_ +=
        "The same fact observed by two or more sources at different times (each source's earliest observation). "
        "The store keeps every observation and chooses none.\n\n";
    table t({"fact", "source", "at (UTC)", "event", "after the earliest"});
    for (const auto& g : groups) {
      const std::int64_t first = g.observations.front()->at;
      for (const ev* e : g.observations)
        t.row({g.label, escape_markdown(e->source), when(*e), escape_markdown(e->type) + ": " + describe(*e),
               e->at == first ? "" : elapsed(e->at - first)});
    }
    out_ += t.str();
  }

  std::expected<void, error> concurrency() {
    auto others = concurrent_incidents(store_, inc_, opts_.as_of);
    if (!others) return std::unexpected(others.error());
    if (others->empty()) return {};
    section("Concurrent incidents");
    out_ += "Other incidents in the store whose span overlaps this one's (" + utc(inc_.started) + " to " +
            utc(inc_.ended) + "):\n\n";
    table t({"incident", "title", "started (UTC)", "ended (UTC)", "overlap"});
    for (const auto& o : *others) {
      const std::int64_t overlap = std::min(o.ended, inc_.ended) - std::max(o.started, inc_.started);
      t.row({"`" + o.id + "`", escape_markdown(o.title), utc(o.started), utc(o.ended), dur(overlap)});
    }
    out_ += t.str();
    return {};
  }

  void actions() {
    table t({"item", "kind", "owner", "tracker"});
    for (const auto& e : events_)
      if (e.type == "action") t.row({escape_markdown(e.text), escape_markdown(e.kind), escape_markdown(e.owner), escape_markdown(e.tracker)});
    if (t.empty()) return;
    section("Action items");
    out_ += t.str();
  }

  void timeline() {
    section("Timeline");
    out_ += "Every event in occurred order. `~` marks an estimated time; elapsed time is from the first event.";
    if (std::ranges::any_of(events_, &ev::corrected))
      out_ += " *(corrected)* marks an event whose time or content a later correction changed (see Corrections).";
    out_ += "\n\n";
    std::vector<std::string> header = {"at (UTC)"};
    if (zone_) header.push_back("local");
    for (const char* h : {"elapsed", "type", "source", "event"}) header.emplace_back(h);
    table t(header);
    for (const auto& e : events_) {
      std::vector<std::string> row = {when(e)};
      if (zone_) row.push_back((e.approx ? "~" : "") + local(e.at));
      row.push_back(elapsed(e.at - inc_.started));
      row.push_back(escape_markdown(e.type));
      row.push_back(escape_markdown(e.source));
      row.push_back(describe(e) + (e.corrected ? " *(corrected)*" : ""));
      t.row(std::move(row));
    }
    out_ += t.str();
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

  // The corrections and retractions believed in the view: an audit of the record, so that a
  // reader sees what the timeline shows differently from what was first recorded, and why.
  void corrections() {
    if (changes_.empty()) return;
    section("Corrections");
    out_ +=
        "Corrections and retractions of this incident's events, in the order they were recorded. The report shows "
        "each event as corrected and leaves retracted events out; the log keeps every original.\n\n";
    table t({"recorded (UTC)", "event", "change", "reason", "source"});
    for (const auto& c : changes_) {
      const std::string target = c.before ? escape_markdown(c.before->type) + ": " + describe(*c.before)
                                          : escape_markdown(c.audit.target) + " (not found)";
      t.row({utc(c.audit.recorded_at), target, what_changed(c), escape_markdown(c.audit.reason),
             escape_markdown(c.audit.source)});
    }
    out_ += t.str();
  }

  // Status phases: each status change lasts until the next one; `resolved`, `completed` and
  // `postmortem` are points (postmortem is left out: it is not a phase of the outage), and a
  // last open phase runs to the incident's last event. Component outages: every
  // non-operational span.
  void gantt() {
    std::string status_tasks;
    std::vector<const ev*> changes;
    for (const auto& e : events_)
      if (e.type == "status" && e.status != "postmortem" && (changes.empty() || changes.back()->status != e.status))
        changes.push_back(&e);
    for (std::size_t i = 0; i < changes.size(); ++i) {
      const ev& e = *changes[i];
      const std::string name = mermaid_name(e.status);
      if (e.status == "resolved" || e.status == "completed") {
        status_tasks += fmt::format("    {} :milestone, {}, 0m\n", name, gantt_time(e.at));
      } else {
        const std::int64_t to = i + 1 < changes.size() ? changes[i + 1]->at : inc_.ended;
        status_tasks += fmt::format("    {} :{}, {}\n", name, gantt_time(e.at), gantt_time(to));
      }
    }
    std::string component_sections;
    for (const auto& c : components_) {
      if (c.spans.empty()) continue;
      component_sections += "    section " + mermaid_name(c.name) + "\n";
      for (const auto& sp : c.spans) {
        const std::string_view tag = sp.state == "major_outage" ? "crit, " : sp.state == "partial_outage" ? "active, " : "";
        component_sections += fmt::format("    {} :{}{}, {}\n", mermaid_name(sp.state) + (sp.open ? " (open)" : ""), tag,
                                          gantt_time(sp.from), gantt_time(sp.to));
      }
    }
    if (status_tasks.empty() && component_sections.empty()) return;
    section("Phases");
    out_ += "Status phases and component outages (UTC).\n\n```mermaid\ngantt\n";
    out_ += "    title " + mermaid_name(inc_.title.empty() ? inc_.id : inc_.title) + "\n";
    out_ += "    dateFormat YYYY-MM-DDTHH:mm\n    axisFormat %H:%M\n";
    if (!status_tasks.empty()) out_ += "    section Status\n" + status_tasks;
    out_ += component_sections;
    out_ += "```\n";
  }

  void footer() {
    const std::int64_t now = opts_.now_ms.value_or(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    // The chain head pins the log this report was made from: `pmdb verify --from` checks later
    // that those events are still the store's first ones, unchanged.
    const chain_head head = store_.head();
    out_ += fmt::format("\n---\n\nGenerated by pmdb {} at {} from the store at position {}{}.\n\n"
                        "Chain head: `{}` (`pmdb verify STORE --from HASH` checks that the events it was made from "
                        "are unchanged).\n",
                        PMDB_VERSION, format_iso(timestamp{now}), head.position,
                        opts_.as_of ? ", as of " + format_iso(timestamp{*opts_.as_of}) : std::string(), head.hash);
  }

  const event_store& store_;
  incident_row inc_;
  std::vector<ev> events_;
  std::vector<change> changes_;
  const postmortem_options& opts_;
  const date::time_zone* zone_;
  pmql q_;
  durations durations_;
  std::vector<component_history> components_;
  std::int64_t end_ = 0, total_ = 0;
  bool resolved_ = false;
  std::string end_label_, total_statement_;
  std::string out_;
};

}  // namespace

std::expected<std::string, pmdb::error> render_postmortem(const pmdb::event_store& store, const std::string& incident,
                                                          const postmortem_options& opts) {
  const date::time_zone* zone = nullptr;
  if (!opts.tz.empty()) {
    try {
      zone = date::locate_zone(opts.tz);
    } catch (const std::exception&) {
      return std::unexpected(
          error(errc::invalid,
                fmt::format("unknown time zone '{}' (expected a tz database name such as America/Los_Angeles)", opts.tz)));
    }
  }
  auto inc = load_incident(store, incident, opts.as_of);
  if (!inc) return std::unexpected(inc.error());
  if (!*inc) {
    if (opts.as_of && store.has_incident(incident))
      return std::unexpected(error(errc::not_found, fmt::format("no such incident '{}' as of {}", incident,
                                                                format_iso(timestamp{*opts.as_of}))));
    const auto ids = store.incident_ids();
    const auto near = nearest(incident, ids);
    return std::unexpected(error(errc::not_found, fmt::format("unknown incident '{}'{}", incident,
                                                              near ? fmt::format("; did you mean '{}'?", *near) : "")));
  }
  auto believed = load_events(store, incident, opts.as_of);
  if (!believed) return std::unexpected(believed.error());
  std::vector<ev> facts, audits;
  for (auto& e : *believed) (e.is_audit() ? audits : facts).push_back(std::move(e));
  auto changes = load_changes(store, audits);
  if (!changes) return std::unexpected(changes.error());
  try {
    report_writer w(store, std::move(**inc), std::move(facts), std::move(*changes), opts, zone);
    return w.run();
  } catch (const std::exception& e) {
    return std::unexpected(error(fmt::format("report: {}", e.what())));
  }
}

}  // namespace pmdb::shell
