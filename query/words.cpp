#include "query/words.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include <rapidjson/document.h>

#include "core/embedded.hpp"
#include "core/text.hpp"

namespace pmdb::query::words {

namespace {

using k = word_kind;

// One row per (word, role). Reserved words (never a NAME) are those of the grammar's
// reserved_words (query/grammar_common.hpp) plus the word operators matches, has, contains.
constexpr keyword keyword_table[] = {
    // statements
    {"use", k::statement, false, "use INCIDENT: make INCIDENT the current incident"},
    {"time", k::statement, false, "time from A to B [in INCIDENT]: the time between two milestones"},
    {"show", k::statement, false, "show incidents | types | sources [INCIDENT]: what the store holds"},
    {"report", k::statement, false,
     "report [INCIDENT] [format markdown | html] [to FILE]: the postmortem of an incident"},
    {"history", k::statement, false, "history EVENT_ID: every version of an event, as recorded"},
    {"new", k::statement, false, "new incident INCIDENT FIELD VALUE ...: record a new incident"},
    {"record", k::statement, false, "record TYPE [at T] [in INCIDENT] FIELD VALUE ...: append an event"},
    {"correct", k::statement, false, "correct TARGET at T | set FIELD = VALUE because REASON: correct an event"},
    {"retract", k::statement, false, "retract TARGET because REASON: withdraw an event"},

    // sources
    {"incidents", k::source, false, "incidents [overlapping INCIDENT]: one row per incident"},
    {"events", k::source, false, "events: one row per believed event"},
    {"log", k::source, false, "log: the stored events as appended"},
    {"timeline", k::source, false, "timeline INCIDENT: an incident's events, with the time elapsed"},

    // pipe operators
    {"where", k::pipe, true, "where COND: keep the rows where COND holds (also after a source or a pattern)"},
    {"let", k::pipe, false, "let NAME = MEASURE, ...: per-incident measures"},
    {"summarize", k::pipe, false, "summarize AGGREGATE, ... [by GROUP, ...]: one row per group"},
    {"order", k::pipe, false, "order by EXPR [asc | desc], ...: sort the rows"},
    {"limit", k::pipe, false, "limit N: the first N rows"},
    {"select", k::pipe, false, "select [NAME =] EXPR, ...: the columns"},
    {"per", k::pipe, false, "per component | per BUCKET: one row per component, or per calendar bucket"},

    // clauses
    {"from", k::clause, false, "time from A to B: the first milestone"},
    {"to", k::clause, true, "time from A to B: the second milestone; report INCIDENT to FILE"},
    {"format", k::clause, false, "report INCIDENT format markdown | html: the report's format"},
    {"markdown", k::clause, false, "report INCIDENT format markdown: the Markdown postmortem (the default)"},
    {"html", k::clause, false, "report INCIDENT format html: one self-contained HTML page with a timeline picture"},
    {"in", k::clause, true, "time ... in INCIDENT: the incident a statement is about"},
    {"as", k::clause, true, "as of T: what was known at T"},
    {"of", k::clause, false, "as of T; count of PATTERN; min value of PATTERN; state of component"},
    {"by", k::clause, true, "summarize ... by GROUP; order by EXPR; comm by AUTHOR"},
    {"asc", k::clause, true, "order by EXPR asc: ascending (the default)"},
    {"desc", k::clause, true, "order by EXPR desc: descending"},
    {"after", k::clause, true, "PATTERN after MILESTONE: the first match at or after the milestone"},
    {"on", k::clause, false, "comm on CHANNEL: a communication on that channel"},
    {"types", k::clause, false, "show types: the event types"},
    {"sources", k::clause, false, "show sources [INCIDENT]: who said what"},
    {"overlapping", k::clause, false, "incidents overlapping INCIDENT: the incidents whose span meets INCIDENT's"},
    {"at", k::clause, false, "open at T; state of component \"X\" at T: the moment asked about"},

    // patterns
    {"any", k::pattern, false, "any: any event"},
    {"report", k::pattern, false, "report: an outside report that something is wrong"},
    {"alert", k::pattern, false, "alert: monitoring fired, an engineer was paged"},
    {"change", k::pattern, false, "change: a deploy or a configuration change"},
    {"cause", k::pattern, false, "cause: a cause of the incident"},
    {"action", k::pattern, false, "action: an action item"},
    {"note", k::pattern, false, "note: any other fact or remark"},
    {"incident", k::pattern, false, "incident: what the incident is (also new incident INCIDENT)"},
    {"correction", k::pattern, false, "correction: a correction of an earlier event"},
    {"retraction", k::pattern, false, "retraction: the withdrawal of an earlier event"},
    {"status", k::pattern, false, "status NAME: a status page post with that status"},
    {"comm", k::pattern, false, "comm [on CHANNEL] [by \"AUTHOR\"]: a communication"},
    {"component", k::pattern, false, "component \"NAME\" [STATE]: a component entering a state"},
    {"metric", k::pattern, false, "metric NAME [OP NUMBER]: a measured quantity"},

    // measures and milestones
    {"time", k::measure, false, "time from A to B: the time between two milestones"},
    {"start", k::measure, false, "start: the incident's first event"},
    {"end", k::measure, false, "end: the incident's resolution, else its last event"},
    {"first", k::measure, false, "first PATTERN: the first match; first value of PATTERN"},
    {"last", k::measure, false, "last PATTERN: the last match; last value of PATTERN; correct | retract last: the last event recorded"},
    {"count", k::measure, false, "count of PATTERN; count of status changes; count of overlapping"},
    {"min", k::measure, false, "min value of PATTERN: the least value of a metric"},
    {"max", k::measure, false, "max value of PATTERN; max gap of PATTERN"},
    {"value", k::measure, false, "min | max | first | last value of PATTERN"},
    {"gap", k::measure, false, "max gap of PATTERN: the longest time between two consecutive matches"},
    {"changes", k::measure, false, "count of status changes: how many times the status changed"},
    {"reopened", k::measure, false, "reopened: whether the incident was resolved and then not"},
    {"open", k::measure, false, "open at T: whether the incident was open at T"},
    {"state", k::measure, false, "state of component \"X\" at T: the state a component was in at T"},
    {"overlapping", k::measure, false, "count of overlapping: how many incidents overlap this one"},

    // literals
    {"null", k::literal, true, "null: no value"},
    {"true", k::literal, true, "true"},
    {"false", k::literal, true, "false"},
    {"now", k::literal, false, "now [+|- DURATION]: the time a write statement runs"},

    // operators
    {"and", k::operator_word, true, "A and B: both conditions"},
    {"or", k::operator_word, true, "A or B: either condition"},
    {"not", k::operator_word, true, "not A; not in (...); is not null"},
    {"in", k::operator_word, true, "x in (a, b, ...): equal to one of"},
    {"is", k::operator_word, true, "x is [not] null: the null test"},
    {"matches", k::operator_word, true, "s matches RE: s matches the regular expression"},
    {"has", k::operator_word, true, "s has WORD: s contains WORD as a whole word"},
    {"contains", k::operator_word, true, "s contains t: s contains t, case-insensitive (= ~)"},

    // write items
    {"at", k::setting, false, "at T: when the event happened (record, correct)"},
    {"source", k::setting, false, "source \"WHO\": who said so"},
    {"id", k::setting, false, "id \"ID\": the event's id"},
    {"in", k::setting, true, "in INCIDENT: the incident the event belongs to"},
    {"set", k::setting, false, "set FIELD = VALUE, ...: the corrected payload"},
    {"because", k::setting, false, "because \"REASON\": why a correction or retraction is made"},
};

using f = fn_kind;

constexpr function function_table[] = {
    // calendar buckets: sortable text
    {"year", f::scalar, 1, 2, "year(t [, zone])", "the year of t, as text (\"2024\"), in the zone (default: .tz, else UTC)"},
    {"quarter", f::scalar, 1, 2, "quarter(t [, zone])", "the quarter of t, as text (\"2024-Q4\")"},
    {"month", f::scalar, 1, 2, "month(t [, zone])", "the month of t, as text (\"2024-12\")"},
    {"week", f::scalar, 1, 2, "week(t [, zone])", "the ISO 8601 week of t, as text (\"2024-W50\")"},
    {"day", f::scalar, 1, 2, "day(t [, zone])", "the day of t, as text (\"2024-12-11\")"},
    {"hour", f::scalar, 1, 2, "hour(t [, zone])", "the hour of t, as text (\"2024-12-11 23:00\")"},
    // calendar parts: numbers
    {"weekday", f::scalar, 1, 2, "weekday(t [, zone])", "the day of the week of t, 1 = Monday .. 7 = Sunday"},
    {"hour_of_day", f::scalar, 1, 2, "hour_of_day(t [, zone])", "the hour of t, 0-23"},
    {"day_of_month", f::scalar, 1, 2, "day_of_month(t [, zone])", "the day of the month of t, 1-31"},
    {"week_of_year", f::scalar, 1, 2, "week_of_year(t [, zone])", "the ISO 8601 week number of t, 1-53"},
    {"month_of_year", f::scalar, 1, 2, "month_of_year(t [, zone])", "the month of t, 1-12"},
    {"quarter_of_year", f::scalar, 1, 2, "quarter_of_year(t [, zone])", "the quarter of t, 1-4"},
    // text and numbers
    {"lower", f::scalar, 1, 1, "lower(s)", "s in lower case (ASCII)"},
    {"upper", f::scalar, 1, 1, "upper(s)", "s in upper case (ASCII)"},
    {"length", f::scalar, 1, 1, "length(s)", "the number of characters of s"},
    {"coalesce", f::scalar, 1, -1, "coalesce(x, ...)", "the first argument that is not null (all of one type)"},
    {"abs", f::scalar, 1, 1, "abs(x)", "the absolute value of a number or a duration"},
    // window
    {"prev", f::window, 1, 1, "prev(x)", "x in the previous row of the same incident, in the source's order"},
    {"next", f::window, 1, 1, "next(x)", "x in the next row of the same incident, in the source's order"},
    // aggregates
    {"count", f::aggregate, 0, 1, "count([x] | where COND)", "the number of rows (where x is not null, or COND holds)"},
    {"share", f::aggregate, 1, 1, "share(COND | where COND)",
     "the rows where COND holds / all rows, from 0 to 1 (null counts as false)"},
    {"min", f::aggregate, 1, 1, "min(x)", "the least value"},
    {"max", f::aggregate, 1, 1, "max(x)", "the greatest value"},
    {"sum", f::aggregate, 1, 1, "sum(x)", "the sum of numbers or durations"},
    {"avg", f::aggregate, 1, 1, "avg(x)", "the mean of numbers or durations"},
    {"median", f::aggregate, 1, 1, "median(x)", "the 50th percentile"},
    {"p50", f::aggregate, 1, 1, "p50(x)", "the 50th percentile"},
    {"p75", f::aggregate, 1, 1, "p75(x)", "the 75th percentile"},
    {"p90", f::aggregate, 1, 1, "p90(x)", "the 90th percentile"},
    {"p95", f::aggregate, 1, 1, "p95(x)", "the 95th percentile"},
    {"p99", f::aggregate, 1, 1, "p99(x)", "the 99th percentile"},
    {"percentile", f::aggregate, 2, 2, "percentile(x, N)", "the N-th percentile, N a number from 0 to 100"},
    {"downtime", f::aggregate, 2, 2, "downtime(start, end)", "the length of the union of the intervals [start, end)"},
    {"first", f::aggregate, 1, 1, "first(x)", "x in the group's first row, in row order"},
    {"last", f::aggregate, 1, 1, "last(x)", "x in the group's last row, in row order"},
};

char lower_char(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_char(x) == lower_char(y); });
}

template <typename Range>
std::vector<std::string> close_in(std::string_view word, const Range& among) {
  if (word.empty()) return {};
  for (const auto& name : among)
    if (iequals(word, name)) return {std::string(name)};
  const std::size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  struct scored {
    std::size_t distance;
    std::size_t index;
    std::string_view name;
  };
  std::vector<scored> found;
  std::size_t index = 0;
  for (const auto& candidate : among) {
    const std::string_view name(candidate);
    const std::size_t d = edit_distance(word, name);
    if (d <= limit && d < std::min(word.size(), name.size())) found.push_back({d, index, name});
    ++index;
  }
  std::ranges::sort(found, [](const scored& a, const scored& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.index < b.index;
  });
  std::vector<std::string> out;
  for (const auto& s : found) {
    if (out.size() == 3) break;
    if (std::ranges::none_of(out, [&](const std::string& o) { return iequals(o, s.name); })) out.emplace_back(s.name);
  }
  return out;
}

// Calls `visit` with the `properties` object of the embedded schema `file`, when it has one.
template <typename Visit>
void with_properties(std::string_view file, Visit visit) {
  const auto& files = embedded_files();
  const auto it = files.find(file);
  if (it == files.end()) return;
  rapidjson::Document doc;
  doc.Parse(it->second.data(), it->second.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  const auto props = doc.FindMember("properties");
  if (props != doc.MemberEnd() && props->value.IsObject()) visit(props->value);
}

// The `enum` of `property` in the embedded schema `file` ("status.schema.json").
std::vector<std::string> schema_enum(std::string_view file, const char* property) {
  std::vector<std::string> out;
  with_properties(file, [&](const rapidjson::Value& props) {
    const auto prop = props.FindMember(property);
    if (prop == props.MemberEnd() || !prop->value.IsObject()) return;
    const auto values = prop->value.FindMember("enum");
    if (values == prop->value.MemberEnd() || !values->value.IsArray()) return;
    for (const auto& v : values->value.GetArray())
      if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  });
  return out;
}

// The property names of the embedded schema `file`, in file order.
std::vector<std::string> schema_properties(const std::string& file) {
  std::vector<std::string> out;
  with_properties(file, [&](const rapidjson::Value& props) {
    for (const auto& m : props.GetObject()) out.emplace_back(m.name.GetString(), m.name.GetStringLength());
  });
  return out;
}

template <typename Pred>
std::vector<std::string_view> distinct_keywords(Pred keep) {
  std::vector<std::string_view> out;
  for (const auto& kw : keyword_table)
    if (keep(kw) && std::ranges::find(out, kw.word) == out.end()) out.push_back(kw.word);
  return out;
}

}  // namespace

std::span<const keyword> keywords() { return keyword_table; }

std::vector<std::string_view> words_of(word_kind kind) {
  return distinct_keywords([kind](const keyword& kw) { return kw.kind == kind; });
}

std::vector<std::string_view> keyword_words() {
  return distinct_keywords([](const keyword&) { return true; });
}

bool is_reserved(std::string_view word) {
  return std::ranges::any_of(keyword_table, [&](const keyword& kw) { return kw.reserved && iequals(kw.word, word); });
}

std::span<const function> functions() { return function_table; }

const function* find_function(std::string_view name) {
  const auto it = std::ranges::find_if(function_table, [&](const function& fn) { return iequals(fn.name, name); });
  return it == std::end(function_table) ? nullptr : &*it;
}

std::vector<std::string_view> function_names() {
  std::vector<std::string_view> out;
  for (const auto& fn : function_table) out.push_back(fn.name);
  return out;
}

std::vector<std::string_view> function_names(fn_kind kind) {
  std::vector<std::string_view> out;
  for (const auto& fn : function_table)
    if (fn.kind == kind) out.push_back(fn.name);
  return out;
}

std::vector<std::string> close_to(std::string_view word, std::span<const std::string_view> among) {
  return close_in(word, among);
}

std::vector<std::string> close_to(std::string_view word, std::span<const std::string> among) {
  return close_in(word, among);
}

namespace {
// The closed sets, read from the embedded schemas once.
struct closed_sets {
  std::vector<std::string> statuses = schema_enum("status.schema.json", "status");
  std::vector<std::string> states = schema_enum("component.schema.json", "state");
  std::vector<std::string> channels = schema_enum("comm.schema.json", "channel");
  std::vector<std::string> types = schema_enum("envelope.schema.json", "type");
};
const closed_sets& sets() {
  static const closed_sets s;
  return s;
}
}  // namespace

std::span<const std::string> statuses() { return sets().statuses; }
std::span<const std::string> component_states() { return sets().states; }
std::span<const std::string> channels() { return sets().channels; }
std::span<const std::string> event_types() { return sets().types; }

std::span<const std::string> payload_fields() {
  static const std::vector<std::string> values = [] {
    std::vector<std::string> out;
    for (const auto& type : event_types()) {
      if (type == "correction" || type == "retraction") continue;
      for (auto& field : schema_properties(type + ".schema.json"))
        if (std::ranges::find(out, field) == out.end()) out.push_back(std::move(field));
    }
    return out;
  }();
  return values;
}

}  // namespace pmdb::query::words
