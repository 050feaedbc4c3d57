#pragma once
// PMQL's abstract syntax tree: names as written, nothing resolved. The compiler
// (compiler.hpp) resolves names against the catalog and produces SQL.
//
// Every node derives from `tagged`: the byte offset and length of the source text it was
// parsed from, relative to the start of the text given to query::parse. The parser fills
// them; the compiler uses them to point at the offending text in semantic errors.
//
// The tree uses x3::variant/x3::forward_ast (as Spirit X3's own examples do) so that the
// grammar can build it; only these light support headers are included here.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/optional.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>

namespace pmdb::query::ast {

namespace x3 = boost::spirit::x3;

struct tagged {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

// ---------------------------------------------------------------- expressions

struct identifier : tagged {
  std::string name;  // as written (case preserved); keywords are matched case-insensitively
};
struct string_lit : tagged {
  std::string value;  // unescaped
};
struct number_lit : tagged {
  double value = 0;
  bool is_integer = false;   // written without '.', exponent
  std::int64_t integer = 0;  // its exact value when is_integer
};
struct duration_lit : tagged {
  std::int64_t ms = 0;  // `90m`, `4h36m`, `2d`, `45s`
};
struct timestamp_lit : tagged {
  std::int64_t ms = 0;  // `2024-12-11`, `2024-12-11T23:07Z`, `2024-12-11T15:07-08:00` (UTC ms)
};
struct null_lit : tagged {};
// An incident id as written (`openai-2024-12-11`): a slug of lowercase letters, digits, `.`, `_`, `-`.
struct incident_ref : tagged {
  std::string id;
};
struct bool_lit : tagged {
  bool value = false;
};

struct unary;
struct binary;
struct call;
struct in_list;
struct is_null;
struct measure;

using expr = x3::variant<null_lit, bool_lit, number_lit, string_lit, duration_lit, timestamp_lit, identifier,
                         x3::forward_ast<unary>, x3::forward_ast<binary>, x3::forward_ast<call>,
                         x3::forward_ast<in_list>, x3::forward_ast<is_null>, x3::forward_ast<measure>>;

enum class unary_op { negate, logical_not };

// `contains` is `~` (case-insensitive substring); `not_contains` is `!~`; `matches` a regular
// expression; `has` a whole word or phrase (case-insensitive).
enum class binary_op { logical_or, logical_and, eq, ne, lt, le, gt, ge, contains, not_contains, matches, has, add, sub,
                       mul, div };

// How an operator is written in PMQL (`!=` also has the spelling `<>`). Arithmetic operators
// are written the same way in SQL.
inline std::string_view spelling(binary_op op) {
  switch (op) {
    case binary_op::logical_or: return "or";
    case binary_op::logical_and: return "and";
    case binary_op::eq: return "=";
    case binary_op::ne: return "!=";
    case binary_op::lt: return "<";
    case binary_op::le: return "<=";
    case binary_op::gt: return ">";
    case binary_op::ge: return ">=";
    case binary_op::contains: return "~";
    case binary_op::not_contains: return "!~";
    case binary_op::matches: return "matches";
    case binary_op::has: return "has";
    case binary_op::add: return "+";
    case binary_op::sub: return "-";
    case binary_op::mul: return "*";
    case binary_op::div: return "/";
  }
  return "?";
}

struct unary : tagged {
  unary_op op = unary_op::negate;
  expr operand;
};
// A tree, left-associative for chains of the same precedence (a - b - c = (a - b) - c).
// Precedence, loosest first: or, and, not, comparison/in/is null/~, + -, * /, unary minus.
struct binary : tagged {
  expr lhs;
  binary_op op = binary_op::eq;
  expr rhs;
};
// `count()`, `median(ttr)`, `percentile(ttr, 90)`, `month(started)`, `count(where x > 1h)`.
struct call : tagged {
  identifier function;
  std::vector<expr> args;
  bool where = false;  // the argument was written `where CONDITION`
};
// `x in (a, b)`, `x not in (a, b)`. Bare words in the list are identifiers (`type in (status, comm)`).
// `"API" in services`: membership in a list field (`list` names it; `items` is empty).
struct in_list : tagged {
  expr operand;
  bool negated = false;
  std::vector<expr> items;
  std::optional<identifier> list;
};
// `x is null`, `x is not null`.
struct is_null : tagged {
  expr operand;
  bool negated = false;
};

// ---------------------------------------------------------------- patterns and milestones

enum class pattern_kind {
  any, report, alert, change, cause, action, note, incident, correction, retraction,
  status,     // status [NAME]             (name; empty = any status)
  comm,       // comm [on CHANNEL] [by "author"]   (channel, author)
  component,  // component ["NAME" [STATE]] (component, state; empty = any)
  metric      // metric NAME OP NUMBER, or N% NAME  (= metric NAME >= N)  (metric, op, threshold)
};

// One event pattern: a type, its type-specific qualifiers, and an optional `where` condition
// on the event's fields.
struct pattern : tagged {
  pattern_kind kind = pattern_kind::any;
  std::string name;                  // status: the status name, lowercased
  std::string channel;               // comm: `on CHANNEL`, empty when absent
  std::optional<std::string> author; // comm: `by "author"`
  std::string component;             // component: the component's name
  std::string state;                 // component: the state, empty when absent
  std::string metric;                // metric: the metric's name
  std::optional<binary_op> op;       // metric: eq, ne, lt, le, gt, ge; absent = any value
  double threshold = 0;              // metric: the number compared with
  std::optional<expr> where;         // `where CONDITION`
};

// start / end: the incident's first / last event.
// first P / last P: the first / last event matching P (ties broken by seq).
// next P: a bare pattern: the first event matching P at or after the reference milestone
//   (the `from` milestone when it stands in `to` position, or the `after` milestone).
//   A bare pattern in `from` position means `first P`.
enum class milestone_kind { start, end, first, last, next };

struct milestone : tagged {
  milestone_kind kind = milestone_kind::start;
  pattern pat;                                         // unused for start / end
  // `first P after M`. boost::optional, as std::optional rejects the incomplete `milestone`.
  boost::optional<x3::forward_ast<milestone>> after;
};

// `time from A to B`
struct time_between : tagged {
  milestone from;
  milestone to;
};

// ---------------------------------------------------------------- pipelines

// `incidents`, `events` and `timeline` read what the store believes (the projection); `log`
// reads every stored event as appended, corrections and retractions included.
enum class source_kind { incidents, events, timeline, log };

// `incidents [overlapping [ID]]`, `events`, `timeline [ID]` (no ID: the current incident), `log`, each with an optional
// `as of TIMESTAMP` and an optional `where`.
struct source : tagged {
  source_kind kind = source_kind::incidents;
  std::optional<incident_ref> incident;  // timeline ID, or incidents overlapping ID
  bool overlapping = false;              // `incidents overlapping` (with no ID: the current incident)
  std::optional<timestamp_lit> as_of;
  std::optional<expr> where;
};

// A per-incident measure, in `let` or in any expression over incident rows.
enum class measure_kind {
  time,            // time from A to B
  count,           // count of P
  min_value,       // min value of P
  max_value,       // max value of P
  first_value,     // first value of P
  last_value,      // last value of P
  expression,      // let only: any other expression over the row's fields
  min_gap,         // min gap of P: the shortest time between two consecutive events matching P
  max_gap,         // max gap of P: the longest
  avg_gap,         // avg gap of P
  status_changes,  // count of status changes
  time_in,         // time in status X: the time from each post of status X to the next status post
  overlapping,     // count of overlapping: the other incidents among the rows whose span meets this one's
  status_at,       // status at T
  state_at,        // state of component "X" at T
  open_at          // open at T
};

// A measure written as an expression: `time from A to B`, `count of P`, `status at T`, ...
struct measure : tagged {
  measure_kind kind = measure_kind::count;
  time_between span;      // time
  pattern pat;            // count, *_value, *_gap, time_in
  std::string component;  // state_at
  expr at;                // status_at, state_at, open_at: the moment
};

struct let_binding : tagged {
  identifier name;
  measure_kind kind = measure_kind::expression;
  time_between span;  // kind == time
  pattern pat;        // kind == count, *_value
  expr value;         // kind == expression
};

// `[name =] expr` in select, summarize and `by` lists. An unnamed column takes the name of
// the field it is, or of its function (`month(started)` → `month`, `median(ttr)` → `median`).
struct named_expr : tagged {
  std::optional<identifier> name;
  expr value;
};

struct order_item : tagged {
  expr value;
  bool descending = false;
};

struct where_op : tagged { expr condition; };
struct let_op : tagged { std::vector<let_binding> bindings; };
struct summarize_op : tagged {
  std::vector<named_expr> aggregates;
  std::vector<named_expr> by;
};
struct order_op : tagged { std::vector<order_item> items; };
struct limit_op : tagged { std::int64_t count = 0; };
struct select_op : tagged { std::vector<named_expr> items; };
// `per component`: one row per (incident, component). `per month [ZONE]` (year, quarter, month,
// week, day, hour): one row per calendar bucket an incident's span touches, clipped to it.
struct per_op : tagged {
  std::string unit;                // `component`, or a calendar unit, lowercased
  std::optional<string_lit> zone;  // calendar units: the zone, else the session's
};

using pipe_op = x3::variant<where_op, let_op, summarize_op, order_op, limit_op, select_op, per_op>;

struct pipeline : tagged {
  source from;
  std::vector<pipe_op> ops;
};

// ---------------------------------------------------------------- statements

// `use INCIDENT;`
struct use_stmt : tagged { incident_ref incident; };

// `time from A to B [in INCIDENT];`
// `time from A to B [in INCIDENT] [as of TIMESTAMP];`
struct time_stmt : tagged {
  time_between span;
  std::optional<incident_ref> incident;
  std::optional<timestamp_lit> as_of;
};

// `show incidents;`, `show types;`, `show sources [INCIDENT];`, each `[as of TIMESTAMP]`
enum class show_kind { incidents, types, sources };
struct show_stmt : tagged {
  show_kind what = show_kind::incidents;
  std::optional<incident_ref> incident;
  std::optional<timestamp_lit> as_of;
};

// `report [INCIDENT] [format markdown | html] [to "file.md"] [as of TIMESTAMP];`
struct report_stmt : tagged {
  std::optional<incident_ref> incident;
  std::optional<std::string> format;  // `markdown` or `html`, as written
  std::optional<std::string> path;
  std::optional<timestamp_lit> as_of;
};

// `history EVENT_ID;`: every version of one event, from the log.
struct history_stmt : tagged {
  std::string event_id;
};

// ---------------------------------------------------------------- write statements
// `new incident`, `record`, `correct` and `retract` (query/write_parser_def.hpp). The parser
// keeps what was written, with spans; query/write.hpp binds it to an event, checking it
// against the type's schema.

// When a fact happened: `now`, `now - 5m`, a timestamp, or a time of day, with `~` for an
// estimate.
enum class time_kind { now, timestamp, time_of_day };
struct time_spec : tagged {
  bool approx = false;        // written with a leading `~`
  time_kind kind = time_kind::now;
  std::int64_t ms = 0;        // timestamp: UTC ms; time_of_day: ms since midnight
  std::int64_t offset = 0;    // now: the signed offset of `now + D` / `now - D` (ms)
};

// A value of a field: `"text"`, a bare word, a number (`1500`, `-2.5`), `99%`, a date or
// timestamp (`2026-12-15`, kept as written), or a list of strings (`("api", "web")`).
enum class value_kind { string, word, number, percent, date, list };
struct write_value : tagged {
  value_kind kind = value_kind::string;
  std::string text;                // string: unescaped; word, date, number, percent: as written
  double number = 0;               // number, percent
  bool is_integer = false;         // number, percent: written without '.' or exponent
  std::vector<std::string> items;  // list
};

// One item of a `record` or `new incident` (in any order), or of a `correct`:
//   value   a positional value, mapped to the type's fields by kind (`investigating`, `"text"`)
//   field   NAME VALUE (`owner "ana"`), or `set NAME = VALUE` in a correction
//   at      `at TIME`;  source  `source "..."`;  id  `id "..."`;  in  `in INCIDENT`
enum class item_kind { value, field, at, source, id, in };
struct write_item : tagged {
  item_kind kind = item_kind::value;
  identifier name;       // field: the field's name as written
  write_value value;     // value, field
  time_spec time;        // at
  string_lit text;       // source, id
  incident_ref incident; // in
};

// The event a correction or retraction is about: an id (bare or quoted, whole or a unique
// prefix) or `last`, the session's last recorded event.
struct event_ref : tagged {
  bool last = false;
  std::string id;
};

enum class write_kind { record, new_incident, correct, retract };

// `record TYPE ITEM...`, `new incident ID ITEM...`, `correct EVENT (at TIME | set F = V, ...)...
// because "..." [source ..] [id ..]`, `retract EVENT because "..." [source ..] [id ..]`.
struct write_stmt : tagged {
  write_kind kind = write_kind::record;
  identifier type;                        // record: the type as written; new incident: `incident`
  std::optional<incident_ref> incident;   // new incident: its id
  event_ref target;                       // correct, retract
  std::vector<write_item> items;          // in the order written
  std::optional<string_lit> reason;       // correct, retract: `because "..."`
};

using statement = x3::variant<use_stmt, time_stmt, pipeline, show_stmt, report_stmt, history_stmt, write_stmt>;

struct script {
  std::vector<statement> statements;
};

}  // namespace pmdb::query::ast
