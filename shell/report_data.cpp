// The data the reports share: see report_data.hpp.
#include "shell/report_data.hpp"

#include <cctype>
#include <cmath>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/text.hpp"
#include "core/time.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"

namespace pmdb::shell::report_data {

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

namespace {

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

std::string take_text(value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return std::move(*s);
  return {};
}

}  // namespace

void bind_as_of(std::vector<value>& params, const projection::sql_text& t, std::optional<std::int64_t> as_of) {
  if (!as_of) return;
  for (int i = 0; i < t.as_of_params; ++i) params.emplace_back(timestamp{*as_of});
}

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

std::expected<incident_row, error> find_incident(const event_store& store, const std::string& id,
                                                 std::optional<std::int64_t> as_of) {
  auto inc = load_incident(store, id, as_of);
  if (!inc) return std::unexpected(inc.error());
  if (*inc) return std::move(**inc);
  if (as_of && store.has_incident(id))
    return std::unexpected(
        error(errc::not_found, fmt::format("no such incident '{}' as of {}", id, format_iso(timestamp{*as_of}))));
  const auto ids = store.incident_ids();
  const auto near = nearest(id, ids);
  return std::unexpected(error(errc::not_found, fmt::format("unknown incident '{}'{}", id,
                                                            near ? fmt::format("; did you mean '{}'?", *near) : "")));
}

std::expected<const date::time_zone*, error> find_zone(const std::string& tz) {
  if (tz.empty()) return nullptr;
  try {
    return date::locate_zone(tz);
  } catch (const std::exception&) {
    return std::unexpected(error(
        errc::invalid, fmt::format("unknown time zone '{}' (expected a tz database name such as America/Los_Angeles)", tz)));
  }
}

std::vector<column> version_cols(std::initializer_list<column> extra) {
  std::vector<column> cols = {
      {"seq", value_type::integer},       {"type", value_type::text},          {"at", value_type::timestamp},
      {"source", value_type::text},       {"approx", value_type::integer},     {"data", value_type::text},
      {"text", value_type::text},         {"status", value_type::text},        {"channel", value_type::text},
      {"author", value_type::text},       {"metric", value_type::text},        {"value", value_type::real},
      {"unit", value_type::text},         {"component", value_type::text},     {"state", value_type::text},
      {"kind", value_type::text},         {"target", value_type::text},        {"id", value_type::text},
      {"recorded_at", value_type::timestamp}, {"corrected", value_type::integer}, {"rank", value_type::integer},
      {"made_by", value_type::integer},   {"valid_from", value_type::timestamp}, {"valid_to", value_type::timestamp}};
  cols.insert(cols.end(), extra);
  return cols;
}

ev to_ev(std::vector<value>& r) {
  ev e;
  e.seq = int_of(r[0]);
  e.type = take_text(r[1]);
  e.at = int_of(r[2]);
  e.source = take_text(r[3]);
  e.approx = int_of(r[4]) != 0;
  e.data = take_text(r[5]);
  e.text = take_text(r[6]);
  e.status = take_text(r[7]);
  e.channel = take_text(r[8]);
  e.author = take_text(r[9]);
  e.metric = take_text(r[10]);
  e.value = real_of(r[11]);
  e.unit = take_text(r[12]);
  e.component = take_text(r[13]);
  e.state = take_text(r[14]);
  e.kind = take_text(r[15]);
  e.target = take_text(r[16]);
  e.id = take_text(r[17]);
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
      e.role = json_string(d, "role");
      e.people = json_strings(d, "people");
      e.document = json_string(d, "document");
      e.owner = json_string(d, "owner");
      e.tracker = json_string(d, "tracker");
      e.due = json_string(d, "due");
      e.of = json_string(d, "of");
      e.action_state = json_string(d, "state");
      e.reason = json_string(d, "reason");
    }
  }
  return e;
}

std::expected<void, error> each_version(const event_store& store, const std::string& where,
                                        const std::vector<value>& params, std::string_view order,
                                        const std::function<bool(ev&)>& sink) {
  static const std::vector<column> cols = version_cols();
  return store.query_each(fmt::format("SELECT {} FROM {} v WHERE {} ORDER BY {}", version_columns,
                                      projection::versions_table, where, order),
                          params, cols, [&](std::vector<value>& r) {
                            ev e = to_ev(r);
                            return sink(e);
                          });
}

std::expected<void, error> each_believed(const event_store& store, const std::string& incident,
                                         std::optional<std::int64_t> as_of, std::string_view cond,
                                         std::vector<value> cond_params, std::string_view order,
                                         const std::function<bool(ev&)>& sink) {
  const projection::sql_text b = projection::believed("v", as_of.has_value());
  std::vector<value> params = {incident};
  bind_as_of(params, b, as_of);
  for (auto& p : cond_params) params.push_back(std::move(p));
  return each_version(store, fmt::format("v.incident = ? AND {} AND ({})", b.sql, cond), params, order, sink);
}

pmql::pmql(const event_store& store, const std::string& incident, std::optional<std::int64_t> as_of)
    : store_(store), cat_(catalog_of(store)) {
  ctx_.current_incident = incident;
  ctx_.as_of = as_of;
  ctx_.dialect = store.dialect();
}

std::expected<std::optional<std::int64_t>, error> pmql::time(const std::string& statement) const {
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

error pmql::fail(const std::string& statement, const error& e) {
  return error(fmt::format("report: internal query `{}` failed: {}", statement, e.message));
}

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
  // A task line starting with a gantt keyword would be read as that directive (`call` and
  // `click` start a callback), one starting with a date `YYYY-MM-DD` as a date: Mermaid's lexer
  // tries those rules before a task's text.
  static constexpr std::string_view keywords[] = {"section",     "title",      "dateformat",  "axisformat",
                                                  "tickinterval", "excludes",  "includes",    "todaymarker",
                                                  "weekday",     "inclusiveenddates", "topaxis", "acctitle",
                                                  "accdescr",    "click",      "call",        "href",
                                                  "gantt"};
  std::string lower = out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto k : keywords)
    if (lower.starts_with(k)) return "· " + out;
  const auto digit = [&](std::size_t i) { return i < out.size() && out[i] >= '0' && out[i] <= '9'; };
  if (digit(0) && digit(1) && digit(2) && digit(3) && out.size() > 4 && out[4] == '-' && digit(5) && digit(6) &&
      out.size() > 7 && out[7] == '-' && digit(8) && digit(9))
    return "· " + out;
  return out;
}

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

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

int severity_rank(std::string_view state) {
  if (state == "major_outage") return 4;
  if (state == "partial_outage") return 3;
  if (state == "degraded_performance") return 2;
  if (state == "under_maintenance") return 1;
  return 0;  // operational
}

milestone ms_start() { return {"start", "start", [](const ev&) { return true; }}; }
milestone ms_type(const std::string& type) {
  return {"first " + type, "first " + type, [type](const ev& e) { return e.type == type; }};
}
milestone ms_status(const std::string& status, bool last) {
  const std::string which = last ? "last" : "first";
  return {which + " status " + status, which + " status " + status,
          [status](const ev& e) { return e.type == "status" && e.status == status; }, last};
}
milestone ms_fixed99() {
  return {"first 99% fixed", "first metric fixed ≥ 99",
          [](const ev& e) { return e.type == "metric" && e.metric == "fixed" && e.value && *e.value >= 99; }};
}

std::expected<std::vector<resolved_milestone>, error> resolve_milestones(const pmql& q, std::int64_t started) {
  std::vector<resolved_milestone> out;
  for (auto m : {ms_start(), ms_type("report"), ms_type("alert"), ms_type("change"), ms_status("investigating"), ms_status("identified"),
                 ms_status("monitoring"), ms_status("resolved"), ms_status("resolved", true), ms_fixed99()}) {
    auto off = q.time(fmt::format("time from start to {};", m.pmql));
    if (!off) return std::unexpected(off.error());
    resolved_milestone r{std::move(m), std::nullopt, std::nullopt};
    if (*off) r.at = started + **off;
    out.push_back(std::move(r));
  }
  return out;
}

void match_milestones(std::vector<resolved_milestone>& milestones, const ev& e) {
  for (auto& m : milestones)
    if (m.at && e.at == *m.at && (!m.event || m.m.last) && m.m.match(e)) m.event = e;
}

std::expected<incident_end, error> end_of(const pmql& q, const incident_row& inc) {
  incident_end end;
  end.statement = "time from start to first status resolved;";
  auto resolved = q.time(end.statement);
  if (!resolved) return std::unexpected(resolved.error());
  if (*resolved) {
    end.at = inc.started + **resolved;
    end.total = **resolved;
    end.label = "first resolved status";
    end.resolved = true;
    return end;
  }
  end.statement = "time from start to end;";
  auto last = q.time(end.statement);
  if (!last) return std::unexpected(last.error());
  end.total = last->value_or(0);
  end.at = inc.started + end.total;
  end.label = "last event; no resolved status";
  return end;
}

std::string disagreement_sql(std::string_view believed, sql_dialect dialect) {
  // The keys' parts only group (each within its kind `k`): a number is one of them as it is on
  // SQLite, which types each value, and as its exact text on a server, whose columns have one
  // type (double precision's text is the shortest that reads back the same number).
  const std::string_view number = dialect == sql_dialect::sqlite ? "{}" : "CAST({} AS text)";
  return fmt::format(
      "WITH f AS (SELECT v.seq, v.made_by, v.at, coalesce(v.source, '') AS src, v.type, v.metric, v.value, v.unit, "
      "v.status, v.component, v.state, v.data FROM {0} v WHERE v.incident = ? AND {1} AND "
      "v.type IN ('metric', 'status', 'component', 'report', 'note')), "
      "keys AS ("
      "SELECT seq, made_by, at, src, 0 AS ko, 'metric' AS k, coalesce(metric, '') AS a, {3} AS b, "
      "coalesce(unit, '') AS c FROM f WHERE type = 'metric' "
      "UNION ALL SELECT seq, made_by, at, src, 0, 'status', coalesce(status, ''), '', '' FROM f WHERE type = 'status' "
      "UNION ALL SELECT seq, made_by, at, src, 0, 'component', coalesce(component, ''), coalesce(state, ''), '' "
      "FROM f WHERE type = 'component' "
      "UNION ALL SELECT seq, made_by, at, src, 1, 'count', {4}, '', '' FROM f WHERE type = 'report' AND "
      "value IS NOT NULL "
      "UNION ALL SELECT seq, made_by, at, src, 2, 'impact', '', '', '' FROM f WHERE type = 'report' OR "
      "(type = 'note' AND json_valid(data) AND json_type(data, '$.tags') = 'array' AND EXISTS "
      "(SELECT 1 FROM json_each(f.data, '$.tags') t WHERE t.type = 'text' AND t.value = 'impact-start'))), "
      "obs AS (SELECT *, row_number() OVER (PARTITION BY k, a, b, c, src ORDER BY at, seq) AS nth FROM keys), "
      // One window over each key's observations in occurred order, its frame the whole key: one
      // sort where `min(at) OVER key` beside `first_value(seq) OVER (key ORDER BY at, seq)` took two.
      "firsts AS (SELECT *, count(*) OVER g AS n, first_value(at) OVER g AS lo, max(at) OVER g AS hi, "
      "first_value(seq) OVER g AS first_seq FROM obs WHERE nth = 1 "
      "WINDOW g AS (PARTITION BY k, a, b, c ORDER BY at, seq ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
      "FOLLOWING)) "
      "SELECT {2}, x.ko, x.lo, x.first_seq FROM firsts x JOIN {0} v ON v.seq = x.seq AND v.made_by = x.made_by "
      "WHERE x.n >= 2 AND x.lo <> x.hi ORDER BY x.lo, x.first_seq, x.ko, x.at, x.seq",
      projection::versions_table, believed, version_columns, fmt::format(fmt::runtime(number), "coalesce(value, 0.0)"),
      fmt::format(fmt::runtime(number), "value"));
}

const std::vector<column>& disagreement_cols() {
  static const std::vector<column> cols = version_cols(
      {{"ko", value_type::integer}, {"lo", value_type::timestamp}, {"first_seq", value_type::integer}});
  return cols;
}

}  // namespace pmdb::shell::report_data
