// PMQL AST → SQLite SQL. See compiler.hpp for the contract.
//
// Shape of the generated SQL
// --------------------------
// * Every literal becomes a `?` with its value in compiled_query::params. SQL fragments carry
//   their own parameters (`frag`), so a fragment used twice (a milestone that is also the
//   reference of a `to` milestone) binds its values twice, in text order.
// * Names written in a query never reach SQL: fields map to the store's fixed column names
//   (catalog_fields.hpp); `let`/`select`/`summarize` columns get generated names (c0, c1, ...).
// * Events and incidents are read through the projection (core/projection.hpp): the table of
//   event versions with the "believed" condition (now: `valid_to IS NULL`; as of T: one bound
//   T), and the incidents read model (as of T: the projection's incidents relation). `log` reads
//   the log table. The relations' SQL comes from the projection, bound once per statement.
// * A milestone is a scalar subquery on `event_versions e` that walks the (incident, type,
//   at, seq, valid_to, ...) index: `(SELECT e.at FROM event_versions e WHERE e.incident = ? AND
//   e.valid_to IS NULL AND e.type = ? ... ORDER BY e.at, e.seq LIMIT 1)`. `start`/`end` are the
//   first/last event that is not a correction or retraction. "At or after" a milestone compares
//   positions (at, seq), so two events of one moment keep the store's order.
// * A milestone whose pattern is a key of the milestones read model (a type; a status, channel,
//   component [and state] or metric name; `start`/`end`) reads that row instead: one lookup for
//   its first or last position, the walk above only when an "at or after" reference falls
//   between the two. As of T, it serves the incidents last recorded by T (their @recorded row),
//   the walk the others. In a `let` span, the `from` milestone's row is a LEFT JOIN.
// * A pipeline is a chain of CTEs, one per step: `WITH s0 AS (source), s1 AS (step over s0),
//   ... SELECT <shown columns> FROM sN ORDER BY <order>`. Row order is a list of columns of the
//   current CTE (the source's natural order, then `order by` terms ahead of it, so sorting is
//   stable); `select` carries those columns along unseen, `limit` and the final SELECT apply
//   them. Percentiles are nearest-rank, computed by the aggregate pmdb_percentile.
//
// Choices the language leaves open
// --------------------------------
// * Default columns: incidents → id, title, org, severity, status, started, ended, events;
//   events → incident, seq, type, at, source, text; timeline → at, elapsed, type, source, text,
//   approx (catalog_fields.hpp). Fields read by a `where` or `order by` join them; `let`
//   columns are added after them.
// * Row order: incidents by (started, id), events and timeline by (at, seq), summarize by its
//   `by` columns; `order by` sorts stably on top of that. NULLs sort first ascending, as in SQLite.
// * Calendar buckets are sortable UTC text: year 2024, month 2024-12, week 2024-W50 (ISO 8601),
//   day 2024-12-11, hour 2024-12-11 23:00.
// * Unnamed columns take the field's or the function's name, else their source text; two
//   columns of one step with the same name are an error. A `let` of an existing name replaces it.
// * A bare word compared with an enumerated field (type, status, state, channel, org, ...) is
//   a text literal, lowercased for type/status/state/kind; `x = null` means `x is null`.
// * `show sources` without an incident uses the current one, else the whole store. `show types`
//   lists all 13 types, 0 included.
// * avg of durations is rounded to the millisecond; number / number is real.
#include "query/compiler.hpp"
#include "query/dialect.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/variant/apply_visitor.hpp>
#include <fmt/format.h>

#include "core/event.hpp"
#include "core/projection.hpp"
#include "core/sql_functions.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "query/catalog_fields.hpp"
#include "query/parser.hpp"
#include "query/words.hpp"

namespace pmdb::query {
namespace {

// Deeper expression trees (or `after` chains) are refused, before recursion gets costly.
constexpr int max_depth = 200;

// SQLite's parser has a fixed stack (100 entries in Debian's build); a statement that nests too
// deeply fails to prepare with "parser stack overflow". Each fragment estimates the entries its
// SQL needs (`frag::nest`, from the weights below, measured on SQLite 3.40 and rounded up), and
// an expression whose estimate exceeds this budget is refused with a clear message.
constexpr int sql_stack_budget = 80;
constexpr int w_lhs = 1, w_rhs = 3, w_unary = 2, w_first_arg = 3, w_other_arg = 5, w_in_item = 6,
              w_contains_lhs = 9, w_contains_rhs = 11, w_cast_round = 6,
              w_subquery = 12, w_context = 4;

// A statement about one incident that names none, with no current incident.
constexpr std::string_view no_incident = "no incident: name one or `use INCIDENT;` first";

enum class ty { null, integer, real, text, timestamp, duration, boolean };

std::string_view type_name(ty t) {
  switch (t) {
    case ty::null: return "null";
    case ty::integer:
    case ty::real: return "number";
    case ty::text: return "text";
    case ty::timestamp: return "timestamp";
    case ty::duration: return "duration";
    case ty::boolean: return "boolean";
  }
  return "?";
}

value_type to_value_type(ty t) {
  switch (t) {
    case ty::null: return value_type::null;
    case ty::integer:
    case ty::boolean: return value_type::integer;
    case ty::real: return value_type::real;
    case ty::text: return value_type::text;
    case ty::timestamp: return value_type::timestamp;
    case ty::duration: return value_type::duration;
  }
  return value_type::text;
}

ty from_field_type(fields::field_type t) {
  switch (t) {
    case fields::field_type::integer: return ty::integer;
    case fields::field_type::real: return ty::real;
    case fields::field_type::text: return ty::text;
    case fields::field_type::timestamp: return ty::timestamp;
    case fields::field_type::duration: return ty::duration;
    case fields::field_type::boolean: return ty::boolean;
  }
  return ty::text;
}

bool is_number(ty t) { return t == ty::integer || t == ty::real || t == ty::boolean; }

// Values of these two types can be compared with each other.
bool comparable(ty a, ty b) {
  if (a == ty::null || b == ty::null) return true;
  if (is_number(a) && is_number(b)) return true;
  return a == b;
}

// A compile-time failure, thrown inside the compiler and turned into a pmdb::error at the API.
struct failure {
  std::string message;
  std::uint32_t offset = 0;
  errc code = errc::invalid;
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string did_you_mean(const std::optional<std::string>& s) {
  return s ? fmt::format("; did you mean '{}'?", *s) : std::string();
}

// A piece of SQL with the values of its `?`s, in text order, and what it evaluates to.
struct frag {
  std::string sql;
  std::vector<value> params;
  ty type = ty::null;
  // Set when the fragment is a plain reference to a column of the current scope.
  bool is_column = false;
  std::string column_name;  // that column's name as the user sees it
  bool enumerated = false;  // compared with a bare word, the word is a literal
  bool lower_words = false;
  int nest = 0;   // estimated SQLite parser stack entries (see sql_stack_budget)
  int chain = 0;  // a "(l OP r)" of a left-associative group (1 or, 2 and, 3 + -, 4 *): may be extended flat
  // PostgreSQL: the SQL is a boolean (a comparison, AND, EXISTS...). A boolean value at rest (a
  // column, a literal) is the integer 0 or 1 there as in SQLite; cond_of and value_of convert.
  bool pg_bool = false;

  frag() = default;
  explicit frag(std::string s, ty t = ty::null) : sql(std::move(s)), type(t) {}

  frag& add(std::string_view s) {
    sql += s;
    return *this;
  }
  frag& add(const frag& f) {
    sql += f.sql;
    params.insert(params.end(), f.params.begin(), f.params.end());
    nest = std::max(nest, f.nest);
    return *this;
  }
  frag& bind(value v) {
    sql += '?';
    params.push_back(std::move(v));
    return *this;
  }
  // Records that `child` sits `weight` parser-stack entries deep inside this fragment.
  frag& within(const frag& child, int weight) {
    nest = std::max(nest, child.nest + weight);
    return *this;
  }
};

struct col {
  std::string name;  // as the user sees it
  std::string sql;   // its name in the current CTE (or a qualified column for pattern scopes)
  ty type = ty::text;
  bool enumerated = false;
  bool lower_words = false;
  bool shown = true;  // part of the output when no `select`/`summarize` says otherwise
};

struct order_term {
  std::string column;  // a column of the current CTE
  bool descending = false;
};

struct scope {
  std::vector<col> cols;
  ast::source_kind source = ast::source_kind::incidents;
  bool has_key = false;           // the CTE has the incidents' `id` column: per-incident measures work
  bool has_incident = false;      // the CTE has the events' `incident` column: prev/next partition by it
  bool one_per_incident = true;   // no `per` split the incident rows
  bool rows = true;               // a pipeline's rows (not one event inside a pattern): prev/next work
  std::vector<order_term> order;  // the current row order
};

scope scope_of(std::span<const fields::field> fs, std::string_view qualifier = {}) {
  scope s;
  for (const auto& f : fs)
    s.cols.push_back({std::string(f.name), std::string(qualifier) + std::string(f.column), from_field_type(f.type),
                      f.enumerated, f.lower_words, f.shown});
  s.rows = qualifier.empty();
  return s;
}

// Aggregates seen while compiling one `summarize`.
struct aggregation {
  scope* rows = nullptr;                                // what the aggregates' arguments are evaluated over
  std::vector<std::pair<std::string, frag>> computed;   // columns computed before grouping (name, expr)
  std::vector<std::string> groups;                      // the group columns among them
  std::string ordinal;                                  // the rows' position in the current order (first, last)
};

const ast::tagged& tag_of(const ast::expr& e) {
  return boost::apply_visitor(
      [](const auto& n) -> const ast::tagged& {
        if constexpr (requires { n.get(); }) return n.get();
        else return n;
      },
      e.get());
}

const ast::identifier* as_identifier(const ast::expr& e) { return boost::get<ast::identifier>(&e.get()); }

// Calendar buckets (sortable text) and calendar numbers, each with an optional zone.
constexpr std::string_view calendar_buckets[] = {"year", "quarter", "month", "week", "day", "hour"};
constexpr std::string_view calendar_numbers[] = {"weekday",      "hour_of_day",   "day_of_month",
                                                 "week_of_year", "month_of_year", "quarter_of_year"};

// The functions are query/words.hpp's: their names, kinds and argument counts.
bool is_aggregate(std::string_view f) {
  const words::function* fn = words::find_function(f);
  return fn && fn->kind == words::fn_kind::aggregate;
}
bool is_scalar(std::string_view f) {
  const words::function* fn = words::find_function(f);
  return fn && fn->kind != words::fn_kind::aggregate;
}

std::string_view pattern_type(ast::pattern_kind k) {
  switch (k) {
    case ast::pattern_kind::any: return "";
    case ast::pattern_kind::report: return "report";
    case ast::pattern_kind::alert: return "alert";
    case ast::pattern_kind::change: return "change";
    case ast::pattern_kind::cause: return "cause";
    case ast::pattern_kind::action: return "action";
    case ast::pattern_kind::note: return "note";
    case ast::pattern_kind::incident: return "incident";
    case ast::pattern_kind::correction: return "correction";
    case ast::pattern_kind::retraction: return "retraction";
    case ast::pattern_kind::status: return "status";
    case ast::pattern_kind::comm: return "comm";
    case ast::pattern_kind::component: return "component";
    case ast::pattern_kind::metric: return "metric";
  }
  return "";
}

std::string_view comparison_sql(ast::binary_op op) {
  switch (op) {
    case ast::binary_op::eq: return " = ";
    case ast::binary_op::ne: return " <> ";
    case ast::binary_op::lt: return " < ";
    case ast::binary_op::le: return " <= ";
    case ast::binary_op::gt: return " > ";
    case ast::binary_op::ge: return " >= ";
    default: return " = ";
  }
}

// The ways an operator may be spelled, to find it in the source text between its operands.
std::vector<std::string_view> op_spellings(ast::binary_op op) {
  switch (op) {
    case ast::binary_op::ne: return {"!=", "<>"};
    default: return {ast::spelling(op)};
  }
}

bool is_comparison(ast::binary_op op) {
  return op == ast::binary_op::eq || op == ast::binary_op::ne || op == ast::binary_op::lt ||
         op == ast::binary_op::le || op == ast::binary_op::gt || op == ast::binary_op::ge;
}

class compiler {
 public:
  compiler(const catalog& cat, const context& ctx, std::string_view text) : cat_(cat), ctx_(ctx), text_(text) {}

  action statement(const ast::statement& s) {
    return boost::apply_visitor([this](const auto& n) -> action { return stmt(n); }, s.get());
  }

 private:
  bool pg() const { return ctx_.dialect == sql_dialect::postgresql; }

  // A condition of `f` (a boolean): on PostgreSQL, an integer 0/1 is compared with 0.
  frag cond_of(frag f) const {
    if (!pg() || f.pg_bool || f.type == ty::null) return f;
    frag c("(");
    c.add(f).add(" <> 0)").within(f, w_unary);
    c.type = f.type;
    c.pg_bool = true;
    return c;
  }

  // The value of `f`: on PostgreSQL, a boolean becomes the integer 1 or 0 (NULL stays NULL).
  frag value_of(frag f) const {
    if (!f.pg_bool) return f;
    frag v("(CASE WHEN ");
    v.add(f).add(" THEN 1 WHEN NOT ").add(f).add(" THEN 0 END)").within(f, w_rhs);
    v.type = f.type;
    return v;
  }

  // A PostgreSQL boolean of type boolean.
  frag boolean(frag f) const {
    f.type = ty::boolean;
    f.pg_bool = pg();
    return f;
  }

  const catalog& cat_;
  const context& ctx_;
  std::string_view text_;
  int depth_ = 0;
  int next_name_ = 0;
  aggregation* agg_ = nullptr;  // set while compiling summarize's aggregate list
  bool in_aggregate_ = false;   // compiling an aggregate's argument
  bool mark_used_ = false;      // referenced fields join the default output (where, order by)
  std::set<std::string> read_cols_;  // every column an identifier resolved to (see source_columns)
  std::optional<std::int64_t> as_of_;  // the statement's view: nullopt = what is believed now
  std::string rel_;                    // the CTE a step reads (what `count of overlapping` counts among)
  std::vector<std::pair<std::string, frag>> windows_;  // prev()/next() columns waiting for their stage
  std::vector<std::pair<std::string, frag>> side_stages_;  // named CTEs a measure reads (`count of overlapping`)
  std::vector<case_hint> case_hints_;                  // text equalities the shell checks (case_hint)
  std::optional<std::string> settled_column_;          // as of T, in a `let` span: see settled()

  // Binds the statement's view: its own `as of`, else the session's.
  void view(const std::optional<ast::timestamp_lit>& t) {
    as_of_ = t ? std::optional<std::int64_t>(t->ms) : ctx_.as_of;
  }

  // Projection SQL whose every `?` is the view's time.
  frag at_view(const projection::sql_text& t) const {
    frag f;
    std::size_t from = 0;
    for (int i = 0; i < t.as_of_params; ++i) {
      const std::size_t q = t.sql.find('?', from);
      f.add(std::string_view(t.sql).substr(from, q - from)).bind(timestamp{*as_of_});
      from = q + 1;
    }
    f.add(std::string_view(t.sql).substr(from));
    return f;
  }

  // "alias is believed in the view".
  frag believed(std::string_view alias) const { return at_view(projection::believed(alias, as_of_.has_value())); }

  // The incidents relation of the view, as a FROM item.
  // `source`: the pipeline's source, computing only the columns it reads (source_columns_mark).
  frag incidents_rel(bool source = false) const {
    if (!as_of_) return frag(std::string(projection::incidents_table));
    frag f("(");
    f.add(at_view(projection::incidents_as_of(source ? source_columns_mark : std::string_view()))).add(")");
    return f;
  }

  // The events relation of the view, as `FROM event_versions alias WHERE <believed>`.
  frag events_from(std::string_view alias) const {
    frag f(fmt::format(" FROM {} {} WHERE ", projection::versions_table, alias));
    f.add(believed(alias));
    return f;
  }

  struct depth_guard {
    compiler& c;
    depth_guard(compiler& cc, std::uint32_t offset) : c(cc) {
      if (++c.depth_ > max_depth)
        throw failure{fmt::format("query too deeply nested (more than {} levels)", max_depth), offset};
    }
    ~depth_guard() { --c.depth_; }
    depth_guard(const depth_guard&) = delete;
    depth_guard& operator=(const depth_guard&) = delete;
  };

  std::string fresh(char prefix) { return fmt::format("{}{}", prefix, next_name_++); }

  [[noreturn]] static void fail(std::string message, std::uint32_t offset) { throw failure{std::move(message), offset}; }

  // ------------------------------------------------------------ incidents

  void check_incident(const ast::incident_ref& r) const {
    if (!cat_.has_incident(r.id))
      throw failure{fmt::format("unknown incident '{}'{}", r.id, did_you_mean(nearest(r.id, cat_.incident_ids()))),
                    r.offset, errc::not_found};
    check_existed(r.id, r.offset);
  }

  // In an `as of` view, an incident none of whose events had been recorded did not exist yet.
  void check_existed(const std::string& id, std::uint32_t offset) const {
    if (as_of_ && cat_.had_incident && !cat_.had_incident(id, *as_of_))
      throw failure{fmt::format("no such incident '{}' as of {}", id, format_iso(timestamp{*as_of_})), offset,
                    errc::not_found};
  }

  // The incident a statement is about: the one it names, else the current one (`offset`: the
  // statement's, for an error about the current one).
  std::optional<std::string> incident_of(const std::optional<ast::incident_ref>& r, std::uint32_t offset) const {
    if (r) {
      check_incident(*r);
      return r->id;
    }
    if (ctx_.current_incident) check_existed(*ctx_.current_incident, offset);
    return ctx_.current_incident;
  }

  // ------------------------------------------------------------ statements

  action stmt(const ast::use_stmt& s) {
    view(std::nullopt);
    check_incident(s.incident);
    return set_incident{s.incident.id};
  }

  action stmt(const ast::report_stmt& s) {
    view(s.as_of);
    auto inc = incident_of(s.incident, s.offset);
    if (!inc) fail(std::string(no_incident), s.offset);
    std::optional<std::string> format = s.format;
    if (format)
      for (auto& c : *format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return make_report{*inc, s.path, as_of_, std::move(format)};
  }

  // Write statements change the store: the shell binds them to events (query/write.hpp) and
  // appends those; there is no SQL to compile.
  action stmt(const ast::write_stmt& s) {
    throw failure{"a write statement (new, record, correct, retract) is run by the shell, not compiled", s.offset,
                  errc::invalid};
  }

  // Every version of one event, from the log: the event as recorded, each correction and its
  // retraction, in the order they are believed (recorded_at, position), with what each made
  // believed and during which interval of recorded time.
  action stmt(const ast::history_stmt& s) {
    view(std::nullopt);
    if (cat_.has_event && !cat_.has_event(s.event_id))
      throw failure{fmt::format("unknown event '{}'", s.event_id), s.offset, errc::not_found};
    frag f(fmt::format(
        "SELECT l.recorded_at, CASE l.type WHEN 'correction' THEN 'corrected' WHEN 'retraction' THEN 'retracted' "
        "ELSE 'recorded' END, v.at, v.text, v.valid_from, v.valid_to, json_extract(l.data, '$.reason'), l.source, "
        "l.id FROM {0} l LEFT JOIN {1} v ON v.made_by = l.seq AND v.id = ",
        projection::log_table, projection::versions_table));
    f.bind(s.event_id).add(" WHERE l.id = ").bind(s.event_id);
    f.add(" OR (l.target = ").bind(s.event_id).add(" AND l.type IN ('correction', 'retraction'))");
    f.add(" ORDER BY l.recorded_at, l.seq");
    compiled_query q;
    q.sql = std::move(f.sql);
    q.params = std::move(f.params);
    q.columns = {{"recorded", value_type::timestamp},      {"change", value_type::text},
                 {"at", value_type::timestamp},            {"text", value_type::text},
                 {"believed_from", value_type::timestamp}, {"believed_until", value_type::timestamp},
                 {"reason", value_type::text},             {"source", value_type::text},
                 {"event", value_type::text}};
    return run_query{std::move(q)};
  }

  action stmt(const ast::time_stmt& s) {
    view(s.as_of);
    compiled_query q;
    if (auto inc = incident_of(s.incident, s.offset)) {
      frag id;
      id.bind(*inc);
      frag f("SELECT ");
      f.add(span(s.span, id)).add(" AS duration");
      q.sql = std::move(f.sql);
      q.params = std::move(f.params);
      q.columns = {{"duration", value_type::duration}};
    } else {
      frag f("SELECT i.id AS incident, ");
      f.add(span(s.span, frag("i.id"))).add(" AS duration FROM ").add(incidents_rel()).add(" AS i ORDER BY i.started, i.id");
      q.sql = std::move(f.sql);
      q.params = std::move(f.params);
      q.columns = {{"incident", value_type::text}, {"duration", value_type::duration}};
    }
    return run_query{std::move(q)};
  }

  action stmt(const ast::show_stmt& s) {
    view(s.as_of);
    compiled_query q;
    switch (s.what) {
      case ast::show_kind::incidents: {
        frag f("SELECT id, title, org, severity, status, started, ended, events FROM ");
        f.add(incidents_rel()).add(" AS i ORDER BY started, id");
        q.sql = std::move(f.sql);
        q.params = std::move(f.params);
        q.columns = {{"id", value_type::text},        {"title", value_type::text},
                     {"org", value_type::text},       {"severity", value_type::text},
                     {"status", value_type::text},
                     {"started", value_type::timestamp}, {"ended", value_type::timestamp},
                     {"events", value_type::integer}};
        break;
      }
      case ast::show_kind::types: {
        // Every event type, in the canonical order, with its count (0 included).
        frag f("WITH t(type, ord) AS (VALUES ");
        int ord = 0;
        for (auto t : event_types) {
          if (ord) f.add(", ");
          f.add("(").bind(std::string(t)).add(fmt::format(", {})", ++ord));
        }
        f.add(") SELECT t.type, (SELECT count(*)").add(events_from("e")).add(" AND e.type = t.type) FROM t ORDER BY t.ord");
        q.sql = std::move(f.sql);
        q.params = std::move(f.params);
        q.columns = {{"type", value_type::text}, {"events", value_type::integer}};
        break;
      }
      case ast::show_kind::sources: {
        frag f("SELECT e.source, count(*), min(e.at), max(e.at)");
        f.add(events_from("e"));
        if (auto inc = incident_of(s.incident, s.offset)) f.add(" AND e.incident = ").bind(*inc);
        f.add(" GROUP BY e.source ORDER BY count(*) DESC, e.source");
        q.sql = std::move(f.sql);
        q.params = std::move(f.params);
        q.columns = {{"source", value_type::text}, {"events", value_type::integer},
                     {"first", value_type::timestamp}, {"last", value_type::timestamp}};
        break;
      }
    }
    return run_query{std::move(q)};
  }

  // ------------------------------------------------------------ milestones

  // `e.type = ? AND ...` for a pattern, over the event versions `e`; empty when the pattern matches any event.
  // The values of a closed set (status names, component states, channels) are lowercase in
  // the store; a pattern word is matched in any case, and a word outside the set is an error
  // rather than a milestone that silently never happens.
  // The closed sets are the event schemas' (query/words.hpp).
  std::string closed_word(std::string_view word, std::span<const std::string> allowed, std::string_view what,
                          std::uint32_t offset) const {
    std::string w = lower(word);
    if (std::ranges::find(allowed, w) != allowed.end()) return w;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(fmt::format("unknown {} '{}'{} (one of: {})", what, word, did_you_mean(nearest(w, allowed)), list), offset);
  }

  frag pattern_condition(const ast::pattern& p) {
    const auto statuses = words::statuses();
    const auto states = words::component_states();
    const auto channels = words::channels();
    frag f;
    auto and_ = [&f] {
      if (!f.sql.empty()) f.add(" AND ");
    };
    if (p.kind != ast::pattern_kind::any) f.add("e.type = ").bind(std::string(pattern_type(p.kind)));
    else f.add(audit_excluded);
    switch (p.kind) {
      case ast::pattern_kind::status:
        if (!p.name.empty()) f.add(" AND e.status = ").bind(closed_word(p.name, statuses, "status", p.offset));
        break;
      case ast::pattern_kind::comm:
        if (!p.channel.empty()) f.add(" AND e.channel = ").bind(closed_word(p.channel, channels, "channel", p.offset));
        if (p.author) f.add(" AND e.author = ").bind(*p.author);
        break;
      case ast::pattern_kind::component:
        if (!p.component.empty()) f.add(" AND e.component = ").bind(p.component);
        if (!p.state.empty()) f.add(" AND e.state = ").bind(closed_word(p.state, states, "state", p.offset));
        break;
      case ast::pattern_kind::metric:
        // `99% Fixed` is `99% fixed` (ASCII case folding: NOCASE, lower() under COLLATE "C")
        if (pg()) f.add(" AND lower(e.metric) = lower(").bind(p.metric).add(" COLLATE \"C\")");
        else f.add(" AND e.metric = ").bind(p.metric).add(" COLLATE NOCASE");
        if (p.op) {
          if (!is_comparison(*p.op)) fail("a metric threshold needs a comparison (=, !=, <, <=, >, >=)", p.offset);
          f.add(" AND e.value").add(comparison_sql(*p.op)).bind(p.threshold);
        }
        break;
      default: break;
    }
    if (p.where) {
      scope ev = scope_of(fields::event_fields, "e.");
      const bool saved_mark = std::exchange(mark_used_, false);
      aggregation* saved_agg = std::exchange(agg_, nullptr);
      frag w = expr(*p.where, ev);
      mark_used_ = saved_mark;
      agg_ = saved_agg;
      expect_condition(w, *p.where);
      w = cond_of(std::move(w));
      and_();
      f.add("(").add(w).add(")").within(w, w_rhs);
    }
    return f;
  }

  // Corrections and retractions are facts about the record: `any`, `start` and `end` skip them.
  static constexpr std::string_view audit_excluded = "e.type NOT IN ('correction', 'retraction')";

  // `FROM event_versions e WHERE <believed> AND e.incident = <inc> [AND <pattern>]`
  // Its `nest` counts the subquery it is the body of.
  frag events_of(const frag& inc, const ast::pattern* p) {
    frag f = events_from("e");
    f.add(" AND e.incident = ").add(inc);
    f.nest = w_subquery;
    if (p) {
      frag c = pattern_condition(*p);
      if (!c.sql.empty()) f.add(" AND ").add(c).within(c, w_subquery);
    }
    return f;
  }

  // A milestone of incident `inc`, as `what` of its event (`e.at`, `e.seq`, or the position
  // `e.at, e.seq` for a row-value comparison), NULL when it never happened. `ref` is the
  // position (at, seq) a bare pattern (`next`) is measured from (the `from` milestone in `to`
  // position); `after M` measures from M's position. "At or after" compares positions.
  frag milestone(const ast::milestone& m, const frag& inc, const frag* ref, std::string_view what) {
    depth_guard g(*this, m.offset);
    const bool edge = m.kind == ast::milestone_kind::start || m.kind == ast::milestone_kind::end;
    frag after;
    const frag* from = nullptr;
    if (!edge && m.after) {
      after = milestone(m.after->get(), inc, nullptr, position_columns);
      from = &after;
    } else if (!edge && m.kind == ast::milestone_kind::next) {
      from = ref;
    }
    const bool last = m.kind == ast::milestone_kind::last || m.kind == ast::milestone_kind::end;
    auto key = read_model_key(m, edge);
    if (key && !as_of_) return read_model_milestone(m, *key, last, inc, from, what);
    if (!key || what == position_columns) return log_milestone(m, edge, last, inc, from, what);
    // As of T: the read model for an incident last recorded by T (believed then as now), the
    // versions as of T for the others.
    frag f("(CASE WHEN ");
    f.add(settled(inc)).add(" THEN ").add(read_model_milestone(m, *key, last, inc, from, what));
    f.add(" ELSE ").add(log_milestone(m, edge, last, inc, from, what)).add(" END)");
    f.nest = w_subquery;
    if (from) f.within(*from, w_subquery);
    f.type = ty::timestamp;
    return f;
  }

  // "Incident `inc` was last recorded at or before the view's time": the column of the stage
  // that computed it, else a lookup of its @recorded row (core/projection.hpp).
  frag settled(const frag& inc) const {
    if (settled_column_) return frag(*settled_column_);
    frag f(fmt::format("(SELECT rk.last_at FROM {} rk WHERE rk.type = '{}' AND rk.key = '' AND rk.incident = ",
                       projection::milestones_table, projection::recorded_key_type));
    f.add(inc).add(") <= ").bind(timestamp{*as_of_});
    return f;
  }

  // The events of `m` walked in the incident's (at, seq) order: the first (or last) match at or
  // after `from`, when given.
  frag log_milestone(const ast::milestone& m, bool edge, bool last, const frag& inc, const frag* from,
                     std::string_view what) {
    frag f("(SELECT ");
    f.add(what == position_columns ? "e.at AS at, e.seq AS seq" : what);
    if (edge) f.add(events_of(inc, nullptr)).add(" AND ").add(audit_excluded);
    else f.add(events_of(inc, &m.pat));
    if (from) f.add(" AND (e.at, e.seq) >= ").add(*from).within(*from, w_subquery);
    f.add(last ? " ORDER BY e.at DESC, e.seq DESC LIMIT 1)" : " ORDER BY e.at, e.seq LIMIT 1)");
    f.type = ty::timestamp;
    return f;
  }

  // The key of the milestones read model (core/projection.hpp) that `m`'s pattern is, if it is
  // one (the read model holds what is believed now: as of T, it serves the incidents last
  // recorded by T). Words of closed sets are checked as pattern_condition checks them.
  std::optional<std::pair<std::string, std::string>> read_model_key(const ast::milestone& m, bool edge) const {
    if (edge) return std::pair(std::string(projection::any_event_key_type), std::string());
    const ast::pattern& p = m.pat;
    if (p.where) return std::nullopt;
    std::string type(pattern_type(p.kind));
    switch (p.kind) {
      case ast::pattern_kind::any: return std::pair(std::string(projection::any_event_key_type), std::string());
      case ast::pattern_kind::status:
        if (p.name.empty()) break;
        return std::pair(type, closed_word(p.name, words::statuses(), "status", p.offset));
      case ast::pattern_kind::comm:
        if (p.author) return std::nullopt;
        if (p.channel.empty()) break;
        return std::pair(type, closed_word(p.channel, words::channels(), "channel", p.offset));
      case ast::pattern_kind::component:
        if (p.component.empty()) break;
        return std::pair(type, projection::component_key(p.component, p.state.empty() ? std::string() :
                                                             closed_word(p.state, words::component_states(), "state", p.offset)));
      case ast::pattern_kind::metric:
        if (p.op) return std::nullopt;  // a threshold: the log (the read model keeps no values)
        return std::pair(type, projection::metric_key(p.metric));
      default: break;
    }
    return std::pair(type, std::string());
  }

  // A milestone with no reference position (start, end, first P, last P) whose pattern is a key of
  // the milestones read model, as a LEFT JOIN of that row to the incidents of a stage (`inc`
  // names their id): one lookup for its at and its position together.
  struct joined_row {
    std::string alias;
    std::string_view end;  // "first" or "last": the columns to read
    frag join;             // " LEFT JOIN milestones alias ON ..."
  };
  std::optional<joined_row> joined_milestone(const ast::milestone& m, const frag& inc) {
    const bool edge = m.kind == ast::milestone_kind::start || m.kind == ast::milestone_kind::end;
    if (!edge && m.after) return std::nullopt;
    auto key = read_model_key(m, edge);
    if (!key) return std::nullopt;
    depth_guard g(*this, m.offset);
    joined_row out;
    out.alias = fresh('m');
    out.end = m.kind == ast::milestone_kind::last || m.kind == ast::milestone_kind::end ? "last" : "first";
    out.join.add(fmt::format(" LEFT JOIN {0} {1} ON {1}.type = ", projection::milestones_table, out.alias))
        .bind(key->first)
        .add(fmt::format(" AND {}.key = ", out.alias))
        .bind(key->second)
        .add(fmt::format(" AND {}.incident = ", out.alias))
        .add(inc);
    return out;
  }

  // What a milestone is asked for when it is a position: a row value (at, seq).
  static constexpr std::string_view position_columns = "e.at, e.seq";

  // Whether the position `from` is a subquery (one row of columns `at` and `seq`, or none) rather
  // than a row value of columns computed in an earlier stage.
  static bool is_position_query(const frag& from) { return from.sql.starts_with("(SELECT "); }

  // `m` read from the milestones row of `key`: one lookup. The first match at or after `from`
  // is the key's first position when that is at or after `from`, nothing when its last position
  // is before `from`, and otherwise (`from` between the two) found in the log; the last match
  // at or after `from` is the key's last position, when that is.
  frag read_model_milestone(const ast::milestone& m, const std::pair<std::string, std::string>& key, bool last,
                            const frag& inc, const frag* from, std::string_view what) {
    const auto column = [&](std::string_view end, std::string_view part) {
      return fmt::format("mk.{}_{}", end, part.substr(2));  // e.at → mk.first_at
    };
    std::vector<std::string_view> parts;
    for (std::size_t pos = 0; pos <= what.size();) {
      const std::size_t comma = std::min(what.find(", ", pos), what.size());
      parts.push_back(what.substr(pos, comma - pos));
      pos = comma + 2;
    }
    // A position subquery is computed once, as a FROM item (no row: the milestone never
    // happened, and neither does this one); computed columns are used in place.
    const bool joined = from && is_position_query(*from);
    const frag at_r("(r.at, r.seq)");
    const frag* ref = joined ? &at_r : from;
    frag f("(SELECT ");
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i) f.add(", ");
      const std::string_view alias = parts.size() == 2 ? (i ? " AS seq" : " AS at") : "";
      if (!from || last) {
        f.add(column(last ? "last" : "first", parts[i])).add(alias);
        continue;
      }
      f.add("CASE WHEN (mk.first_at, mk.first_seq) >= ").add(*ref).add(" THEN ").add(column("first", parts[i]));
      f.add(" WHEN (mk.last_at, mk.last_seq) >= ").add(*ref).add(" THEN ");
      f.add(log_milestone(m, false, false, inc, ref, parts[i])).add(" END").add(alias);
    }
    f.add(fmt::format(" FROM {} mk", projection::milestones_table));
    if (joined) f.add(", ").add(*from).add(" AS r");
    f.add(" WHERE mk.incident = ").add(inc);
    f.add(" AND mk.type = ").bind(key.first).add(" AND mk.key = ").bind(key.second);
    if (from && last) f.add(" AND (mk.last_at, mk.last_seq) >= ").add(*ref);
    f.add(")");
    f.nest = w_subquery;
    if (from) f.within(*from, w_subquery);
    f.type = ty::timestamp;
    return f;
  }

  // A `from` milestone computed once in a stage of its own: its at and its position.
  struct computed_milestone {
    frag at, position;
  };

  // `time from A to B` for incident `inc`: B's at − A's at, NULL when either never happened.
  // `from`, when given, is A already computed (columns), so that it is not computed twice.
  frag span(const ast::time_between& t, const frag& inc, const computed_milestone* computed_from = nullptr) {
    frag from = computed_from ? computed_from->at : milestone(t.from, inc, nullptr, "e.at");
    frag from_pos = computed_from ? computed_from->position : milestone(t.from, inc, nullptr, position_columns);
    frag to = milestone(t.to, inc, &from_pos, "e.at");
    frag f("(");
    f.add(to).add(" - ").add(from).add(")").within(to, w_lhs).within(from, w_rhs);
    f.type = ty::duration;
    check_nest(f, 0, t.offset);
    return f;
  }

  // ------------------------------------------------------------ expressions

  // Refuses an expression SQLite could not parse (see sql_stack_budget); `base` is the depth of
  // the place it goes to.
  static void check_nest(const frag& f, int base, std::uint32_t offset) {
    if (f.nest + base + w_context > sql_stack_budget)
      fail("expression too deeply nested to run: split it (several `where` steps, or `let`)", offset);
  }

  // An expression at the top of a clause (where, let, select, order by, by, aggregate argument).
  frag top(const ast::expr& e, scope& sc) {
    frag f = expr(e, sc);
    check_nest(f, 0, tag_of(e).offset);
    return f;
  }

  // "(l OP r)"; a left operand of the same left-associative group is extended flat,
  // "(a OP b OP c)", so that long chains do not nest in SQLite's parser.
  static frag flat(const frag& l, std::string_view o, const frag& r, int group, ty t) {
    frag f("(");
    if (l.chain == group) {
      frag inner(l.sql.substr(1, l.sql.size() - 2));
      inner.params = l.params;
      inner.nest = l.nest;
      f.add(inner);
    } else {
      f.add(l).within(l, w_lhs);
    }
    f.add(o).add(r).add(")").within(r, w_rhs);
    f.type = t;
    f.chain = group;
    return f;
  }

  void expect_condition(const frag& f, const ast::expr& e) const {
    if (f.type != ty::boolean && f.type != ty::null)
      fail(fmt::format("expected a condition, found {}", type_name(f.type)), tag_of(e).offset);
  }

  frag expr(const ast::expr& e, scope& sc) {
    depth_guard g(*this, tag_of(e).offset);
    return boost::apply_visitor(
        [&](const auto& n) -> frag {
          if constexpr (requires { n.get(); }) return node(n.get(), sc);
          else return node(n, sc);
        },
        e.get());
  }

  frag node(const ast::null_lit&, scope&) { return frag("NULL", ty::null); }

  frag node(const ast::bool_lit& b, scope&) {
    frag f;
    f.bind(std::int64_t{b.value ? 1 : 0});
    f.type = ty::boolean;
    return f;
  }

  frag node(const ast::number_lit& n, scope&) {
    frag f;
    if (n.is_integer) {
      f.bind(n.integer);
      f.type = ty::integer;
    } else {
      f.bind(n.value);
      f.type = ty::real;
    }
    return f;
  }

  frag node(const ast::string_lit& s, scope&) {
    frag f;
    f.bind(s.value);
    f.type = ty::text;
    return f;
  }

  frag node(const ast::duration_lit& d, scope&) {
    frag f;
    f.bind(duration{d.ms});
    f.type = ty::duration;
    return f;
  }

  frag node(const ast::timestamp_lit& t, scope&) {
    frag f;
    f.bind(timestamp{t.ms});
    f.type = ty::timestamp;
    return f;
  }

  const col* find(const scope& sc, std::string_view name) const {
    for (const auto& c : sc.cols)
      if (iequals(c.name, name)) return &c;
    return nullptr;
  }

  frag node(const ast::identifier& id, scope& sc) {
    if (agg_ && !in_aggregate_)
      fail(fmt::format("'{}' must be inside an aggregate (count, min, max, sum, avg, median, ...) or after `by`", id.name),
           id.offset);
    col* c = nullptr;
    for (auto& x : sc.cols)
      if (iequals(x.name, id.name)) {
        c = &x;
        break;
      }
    if (!c && iequals(id.name, "reopened") && sc.has_key && sc.rows) return reopened(frag("p.id"));
    if (!c) {
      std::vector<std::string> names;
      for (const auto& x : sc.cols) names.push_back(x.name);
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      fail(fmt::format("unknown field '{}'{} (fields: {})", id.name, did_you_mean(nearest(id.name, names)), list),
           id.offset);
    }
    if (mark_used_) c->shown = true;
    read_cols_.insert(c->sql);
    frag f(c->sql, c->type);
    f.is_column = true;
    f.column_name = c->name;
    f.enumerated = c->enumerated;
    f.lower_words = c->lower_words;
    return f;
  }

  // `field = "Text"` on a column the source reads from the store: a probe for the value as the
  // store spells it, when no row has it as written but one has it in another case.
  void case_hint_for(const frag& l, const frag& r, const scope& sc) {
    if (!sc.rows || !l.is_column || l.type != ty::text || r.params.size() != 1 || r.sql != "?") return;
    const auto* written = std::get_if<std::string>(&r.params[0]);
    if (!written || (l.lower_words && lower(*written) == *written)) return;
    std::span<const fields::field> base;
    frag rel;
    switch (sc.source) {
      case ast::source_kind::incidents:
        base = fields::incident_fields;
        rel.add("FROM ").add(incidents_rel()).add(pg() ? " AS e WHERE true" : " AS e WHERE 1");
        break;
      case ast::source_kind::log:
        base = fields::log_fields;
        rel.add(fmt::format("FROM {} AS e WHERE {}", projection::log_table, pg() ? "true" : "1"));
        break;
      default:
        base = fields::event_fields;
        rel = events_from("e");
        rel.sql = rel.sql.substr(1);
        break;
    }
    if (std::ranges::none_of(base, [&](const fields::field& f) { return f.column == l.sql; })) return;
    // Only when no row has the value as written: the exact lookup runs first, and the scan
    // ignoring case only when it finds nothing.
    frag probe(fmt::format("SELECT (SELECT e.{0} ", l.sql));
    probe.add(rel).add(fmt::format(" AND lower(e.{0}) = lower(", l.sql)).bind(*written).add(pg() ? " COLLATE \"C\") LIMIT 1)" : ") LIMIT 1)");
    probe.add(fmt::format(" WHERE NOT EXISTS (SELECT 1 ")).add(rel).add(fmt::format(" AND e.{0} = ", l.sql)).bind(*written).add(")");
    case_hints_.push_back({std::move(probe.sql), std::move(probe.params), l.column_name, *written});
  }

  // A bare word compared with an enumerated field: a text literal.
  static frag word(const ast::identifier& id, bool lowercase) {
    frag f;
    f.bind(lowercase ? lower(id.name) : id.name);
    f.type = ty::text;
    return f;
  }

  // Compiles the two sides of a comparison, reading a bare word on one side as a literal when
  // the other side is an enumerated field (`type = comm`, `resolved = status`).
  std::pair<frag, frag> operands(const ast::expr& lhs, const ast::expr& rhs, scope& sc) {
    const ast::identifier* li = as_identifier(lhs);
    const ast::identifier* ri = as_identifier(rhs);
    const bool lhs_unknown = li && !find(sc, li->name);
    if (lhs_unknown && ri && find(sc, ri->name)) {
      frag r = expr(rhs, sc);
      if (r.enumerated) return {word(*li, r.lower_words), std::move(r)};
    }
    frag l = expr(lhs, sc);
    if (l.enumerated && ri) return {std::move(l), word(*ri, l.lower_words)};
    frag r = expr(rhs, sc);
    return {std::move(l), std::move(r)};
  }

  std::uint32_t operator_offset(const ast::binary& b) const {
    const ast::tagged& l = tag_of(b.lhs);
    std::size_t i = std::size_t{l.offset} + l.length;
    if (l.length == 0 || i >= text_.size()) return b.offset;
    while (i < text_.size() && (std::isspace(static_cast<unsigned char>(text_[i])) || text_[i] == ')')) ++i;
    for (auto s : op_spellings(b.op))
      if (i + s.size() <= text_.size() && iequals(text_.substr(i, s.size()), s)) return static_cast<std::uint32_t>(i);
    return b.offset;
  }

  static frag nullif_zero(frag r) {
    frag n("NULLIF(");
    n.add(r).add(", 0)").within(r, w_first_arg);
    n.type = r.type;
    return n;
  }

  frag node(const ast::unary& u, scope& sc) {
    frag a = expr(u.operand, sc);
    frag f;
    if (u.op == ast::unary_op::logical_not) {
      expect_condition(a, u.operand);
      a = cond_of(std::move(a));
      f.add("(NOT ").add(a).add(")").within(a, w_unary);
      return boolean(std::move(f));
    }
    a = value_of(std::move(a));
    if (!is_number(a.type) && a.type != ty::duration && a.type != ty::null)
      fail(fmt::format("cannot negate {}", type_name(a.type)), u.offset);
    f.add("(-").add(a).add(")").within(a, w_unary);
    f.type = a.type == ty::boolean ? ty::integer : a.type;
    return f;
  }

  frag node(const ast::binary& b, scope& sc) {
    using op = ast::binary_op;
    frag f;
    if (b.op == op::logical_and || b.op == op::logical_or) {
      frag l = expr(b.lhs, sc);
      expect_condition(l, b.lhs);
      frag r = expr(b.rhs, sc);
      expect_condition(r, b.rhs);
      l = cond_of(std::move(l));
      r = cond_of(std::move(r));
      return boolean(flat(l, b.op == op::logical_and ? " AND " : " OR ", r, b.op == op::logical_and ? 2 : 1, ty::boolean));
    }
    if (is_comparison(b.op) || b.op == op::contains || b.op == op::not_contains || b.op == op::matches || b.op == op::has) {
      auto [l0, r0] = operands(b.lhs, b.rhs, sc);
      frag l = value_of(std::move(l0)), r = value_of(std::move(r0));
      if (b.op == op::contains || b.op == op::not_contains || b.op == op::matches || b.op == op::has) {
        for (const frag* x : {&l, &r})
          if (x->type != ty::text && x->type != ty::null)
            fail(fmt::format("'{}' needs text on both sides, not {}", ast::spelling(b.op), type_name(x->type)), operator_offset(b));
        if (b.op == op::matches || b.op == op::has) {
          // A regular expression (PCRE2: case-sensitive unless it says `(?i)`), or a whole word
          // or phrase in any case; a literal pattern is checked here, so that a typo in it is
          // an error with a caret rather than a failure of the whole query.
          if (const auto* lit = boost::get<ast::string_lit>(&b.rhs.get()); lit && b.op == op::matches)
            if (auto problem = sqlfn::regex_error(lit->value))
              fail(fmt::format("invalid regular expression: {}", *problem), lit->offset);
          f.add(b.op == op::matches ? "pmdb_regexp(" : "pmdb_has_word(");
          if (b.op == op::matches) f.add(r).add(", ").add(l);
          else f.add(l).add(", ").add(r);
          f.add(")").within(l, w_other_arg).within(r, w_other_arg);
          return boolean(std::move(f));
        }
        // Case-insensitive substring (ASCII case folding, as SQLite's lower()).
        // PostgreSQL: lower() under COLLATE "C" folds ASCII only, whatever the database's collation.
        const std::string_view c = pg() ? " COLLATE \"C\"" : "";
        f.add(b.op == op::contains ? "(instr(lower(" : "(NOT instr(lower(").add(l).add(c).add("), lower(").add(r).add(c).add(")) > 0)");
        f.within(l, w_contains_lhs).within(r, w_contains_rhs);
        return boolean(std::move(f));
      }
      if (!comparable(l.type, r.type)) {
        std::string hint;
        if ((l.type == ty::timestamp && r.type == ty::text) || (l.type == ty::text && r.type == ty::timestamp))
          hint = " (write a timestamp without quotes, e.g. 2024-06-01)";
        else if ((l.type == ty::duration && r.type == ty::text) || (l.type == ty::text && r.type == ty::duration))
          hint = "";
        else if ((l.type == ty::duration && is_number(r.type)) || (is_number(l.type) && r.type == ty::duration))
          hint = " (write a duration with its unit, e.g. 90m)";
        fail(fmt::format("cannot compare {} with {}{}", type_name(l.type), type_name(r.type), hint), operator_offset(b));
      }
      if (b.op == op::eq) case_hint_for(l, r, sc);
      const bool l_null = l.sql == "NULL", r_null = r.sql == "NULL";
      if ((l_null || r_null) && (b.op == op::eq || b.op == op::ne)) {
        // `x = null` means `x is null`, not SQL's always-unknown comparison.
        f.add("(").add(l_null ? r : l).add(b.op == op::eq ? " IS NULL)" : " IS NOT NULL)").within(l_null ? r : l, w_unary);
      } else {
        f.add("(").add(l).add(comparison_sql(b.op)).add(r).add(")").within(l, w_lhs).within(r, w_rhs);
      }
      return boolean(std::move(f));
    }
    frag l = value_of(expr(b.lhs, sc));
    frag r = value_of(expr(b.rhs, sc));
    auto bad = [&]() -> frag {
      fail(fmt::format("cannot apply '{}' to {} and {}", ast::spelling(b.op), type_name(l.type), type_name(r.type)),
           operator_offset(b));
    };
    const ty lt = l.type == ty::boolean ? ty::integer : l.type;
    const ty rt = r.type == ty::boolean ? ty::integer : r.type;
    const bool ln = lt == ty::integer || lt == ty::real, rn = rt == ty::integer || rt == ty::real;
    const int group = b.op == op::add || b.op == op::sub ? 3 : 4;
    auto simple = [&](std::string_view o, ty t) { return flat(l, o, r, group, t); };
    if (lt == ty::null || rt == ty::null) {
      if (lt == ty::text || rt == ty::text) return bad();
      f.add("(").add(l).add(fmt::format(" {} ", ast::spelling(b.op))).add(r).add(")").within(l, w_lhs).within(r, w_rhs);
      f.type = lt == ty::null ? rt : lt;
      return f;
    }
    switch (b.op) {
      case op::add:
        if (ln && rn) return simple(" + ", lt == ty::real || rt == ty::real ? ty::real : ty::integer);
        if (lt == ty::timestamp && rt == ty::duration) return simple(" + ", ty::timestamp);
        if (lt == ty::duration && rt == ty::timestamp) return simple(" + ", ty::timestamp);
        if (lt == ty::duration && rt == ty::duration) return simple(" + ", ty::duration);
        return bad();
      case op::sub:
        if (ln && rn) return simple(" - ", lt == ty::real || rt == ty::real ? ty::real : ty::integer);
        if (lt == ty::timestamp && rt == ty::timestamp) return simple(" - ", ty::duration);
        if (lt == ty::timestamp && rt == ty::duration) return simple(" - ", ty::timestamp);
        if (lt == ty::duration && rt == ty::duration) return simple(" - ", ty::duration);
        return bad();
      case op::mul:
        if (ln && rn) return simple(" * ", lt == ty::real || rt == ty::real ? ty::real : ty::integer);
        if ((lt == ty::duration && rn) || (ln && rt == ty::duration)) {
          if (lt == ty::integer || rt == ty::integer) return simple(" * ", ty::duration);
          f.add("CAST(round(").add(l).add(" * ").add(r).add(") AS INTEGER)").within(l, w_cast_round).within(r, w_cast_round + w_rhs);
          f.type = ty::duration;
          return f;
        }
        return bad();
      case op::div:
        if (pg()) r = nullif_zero(std::move(r));  // x / 0 is NULL in SQLite, an error in PostgreSQL
        if (ln && rn) {
          f.add("(CAST(").add(l).add(" AS REAL) / ").add(r).add(")").within(l, w_first_arg + w_lhs).within(r, w_rhs);
          f.type = ty::real;
          return f;
        }
        if (lt == ty::duration && rn) {
          f.add("CAST(round(").add(l).add(" / CAST(").add(r).add(" AS REAL)) AS INTEGER)");
          f.within(l, w_cast_round).within(r, w_cast_round + w_rhs + w_first_arg);
          f.type = ty::duration;
          return f;
        }
        if (lt == ty::duration && rt == ty::duration) {
          f.add("(CAST(").add(l).add(" AS REAL) / ").add(r).add(")").within(l, w_first_arg + w_lhs).within(r, w_rhs);
          f.type = ty::real;
          return f;
        }
        return bad();
      default: return bad();
    }
  }

  frag node(const ast::in_list& in, scope& sc) {
    frag a = value_of(expr(in.operand, sc));
    if (in.list) {
      // `"API" in services`: membership in a list (a JSON array of text), by exact name.
      const col* c = find(sc, in.list->name);
      if (!c) fail(fmt::format("unknown field '{}' (a list field: services)", in.list->name), in.list->offset);
      if (a.type != ty::text && a.type != ty::null)
        fail(fmt::format("`in {}` needs text on its left, not {}", in.list->name, type_name(a.type)), tag_of(in.operand).offset);
      read_cols_.insert(c->sql);
      frag f(in.negated ? "(NOT EXISTS (SELECT 1 FROM json_each(" : "(EXISTS (SELECT 1 FROM json_each(");
      f.add(c->sql).add(") j WHERE j.value = ").add(a).add("))").within(a, w_subquery);
      return boolean(std::move(f));
    }
    frag f("(");
    f.add(a).add(in.negated ? " NOT IN (" : " IN (");
    if (in.items.empty()) return frag(in.negated ? "1" : "0", ty::boolean);
    bool first = true;
    for (const auto& item : in.items) {
      frag v;
      const ast::identifier* w = as_identifier(item);
      if (a.enumerated && w) v = word(*w, a.lower_words);
      else v = value_of(expr(item, sc));
      if (!comparable(a.type, v.type))
        fail(fmt::format("cannot compare {} with {}", type_name(a.type), type_name(v.type)), tag_of(item).offset);
      if (!first) f.add(", ");
      first = false;
      f.add(v).within(v, w_in_item);
    }
    f.within(a, w_unary);
    f.add("))");
    return boolean(std::move(f));
  }

  frag node(const ast::is_null& n, scope& sc) {
    frag a = value_of(expr(n.operand, sc));
    frag f("(");
    f.add(a).add(n.negated ? " IS NOT NULL)" : " IS NULL)").within(a, w_unary);
    return boolean(std::move(f));
  }

  void arity(const ast::call& c, std::string_view name, std::size_t lo, std::size_t hi) const {
    const std::size_t n = c.args.size();
    if (n >= lo && n <= hi) return;
    std::string want = lo == hi ? fmt::format("{} argument{}", lo, lo == 1 ? "" : "s")
                       : hi == SIZE_MAX ? fmt::format("at least {} argument{}", lo, lo == 1 ? "" : "s")
                       : hi == lo + 1   ? fmt::format("{} or {} arguments", lo, hi)
                                        : fmt::format("{} to {} arguments", lo, hi);
    fail(fmt::format("{}() takes {}, got {}", name, want, n), c.offset);
  }

  frag node(const ast::call& c, scope& sc) {
    const std::string name = lower(c.function.name);
    if (is_aggregate(name)) return aggregate_call(c, name);
    if (!is_scalar(name)) {
      const std::vector<std::string_view> all = words::function_names();
      const std::vector<std::string> close = words::close_to(c.function.name, all);
      std::string hint;
      for (std::size_t i = 0; i < close.size(); ++i)
        hint += fmt::format("{}'{}'", i == 0 ? "; did you mean " : i + 1 == close.size() ? " or " : ", ", close[i]);
      std::string list;
      if (close.empty())
        for (const auto n : all) list += (list.empty() ? " (functions: " : ", ") + std::string(n);
      fail(fmt::format("unknown function '{}'{}{}", c.function.name, hint.empty() ? "" : hint + "?",
                       list.empty() ? "" : list + ")"),
           c.function.offset);
    }
    if (c.where) fail(fmt::format("{}() takes no `where`: only count(where ...) and share(where ...) do", name), c.function.offset);
    const bool calendar = std::ranges::find(calendar_buckets, name) != std::end(calendar_buckets) ||
                          std::ranges::find(calendar_numbers, name) != std::end(calendar_numbers);
    if (name == "prev" || name == "next") return window_call(c, name, sc);
    std::vector<frag> args;
    arity(c, name, 1, name == "coalesce" ? SIZE_MAX : calendar ? 2 : 1);
    for (std::size_t i = 0; i < c.args.size(); ++i)
      if (!(calendar && i == 1)) args.push_back(value_of(expr(c.args[i], sc)));
    auto need = [&](std::size_t i, std::initializer_list<ty> ok, std::string_view what) {
      const ty t = args[i].type;
      if (t == ty::null) return;
      for (ty o : ok)
        if (t == o) return;
      fail(fmt::format("{}() needs {}, not {}", name, what, type_name(t)), tag_of(c.args[i]).offset);
    };
    frag f;
    if (calendar) {
      // Buckets are sortable text (2024, 2024-Q4, 2024-12, 2024-W50, 2024-12-11, 2024-12-11 23:00),
      // numbers are integers (weekday 1 = Monday), both in the zone: the argument's, else the
      // session's `.tz`, else UTC.
      need(0, {ty::timestamp}, "a timestamp");
      const std::string zone = c.args.size() > 1 ? zone_argument(c.args[1], name) : ctx_.zone;
      const bool bucket = std::ranges::find(calendar_buckets, name) != std::end(calendar_buckets);
      // A PostgreSQL function has one result type: pmdb_cal gives text, pmdb_cal_number numbers.
      f.add(pg() && !bucket ? "pmdb_cal_number(" : "pmdb_cal(").add(args[0]).add(", ").bind(std::string(name)).add(", ").bind(zone).add(")");
      f.within(args[0], w_first_arg);
      f.type = bucket ? ty::text : ty::integer;
    } else if (name == "lower" || name == "upper") {
      need(0, {ty::text}, "text");
      f.add(name).add("(").add(args[0]).add(pg() ? " COLLATE \"C\")" : ")").within(args[0], w_first_arg);  // ASCII only, as SQLite
      f.type = ty::text;
    } else if (name == "length") {
      need(0, {ty::text}, "text");
      f.add("length(").add(args[0]).add(")").within(args[0], w_first_arg);
      f.type = ty::integer;
    } else if (name == "abs") {
      need(0, {ty::integer, ty::real, ty::duration}, "a number or a duration");
      f.add("abs(").add(args[0]).add(")").within(args[0], w_first_arg);
      f.type = args[0].type;
    } else {  // coalesce
      ty t = ty::null;
      for (std::size_t i = 0; i < args.size(); ++i) {
        if (!comparable(t, args[i].type))
          fail(fmt::format("coalesce() mixes {} and {}", type_name(t), type_name(args[i].type)), tag_of(c.args[i]).offset);
        if (t == ty::null) t = args[i].type;
      }
      if (args.size() == 1) return args[0];
      f.add("coalesce(");
      for (std::size_t i = 0; i < args.size(); ++i)
        f.add(i ? ", " : "").add(args[i]).within(args[i], i ? w_other_arg : w_first_arg);
      f.add(")");
      f.type = t;
    }
    return f;
  }

  // A calendar function's zone: a string literal naming an IANA zone (or "UTC").
  std::string zone_argument(const ast::expr& e, std::string_view fn) const {
    const auto* z = boost::get<ast::string_lit>(&e.get());
    if (!z) fail(fmt::format("{}()'s second argument is a time zone in quotes, e.g. \"America/Los_Angeles\"", fn), tag_of(e).offset);
    check_zone(z->value, z->offset);
    return z->value;
  }

  static void check_zone(const std::string& zone, std::uint32_t offset) {
    if (sqlfn::known_zone(zone)) return;
    const std::vector<std::string> names = sqlfn::zone_names();
    fail(fmt::format("unknown time zone '{}'{} (an IANA name such as \"America/Los_Angeles\", or \"UTC\")", zone,
                     did_you_mean(nearest(zone, names))),
         offset);
  }

  // prev(x) / next(x): x in the previous / next row, within one incident for events, timeline
  // and log (rows in (at, seq) order: the store's order within one moment), among all rows for
  // incidents (in (started, id) order), over the rows as they stand at this step. The window is
  // computed in a stage of its own (SQLite allows no window function in WHERE), added by the
  // step before its own (flush_windows).
  frag window_call(const ast::call& c, const std::string& name, scope& sc) {
    arity(c, name, 1, 1);
    if (!sc.rows) fail(fmt::format("{}() reads the pipeline's rows: it has no meaning inside a pattern", name), c.function.offset);
    const bool incidents = sc.source == ast::source_kind::incidents;
    if (incidents ? !sc.has_key : !sc.has_incident)
      fail(fmt::format("{}() reads rows of incidents or events: after `summarize` a row is a group", name), c.function.offset);
    frag arg = value_of(expr(c.args[0], sc));
    if (incidents) read_cols_.insert({"started", "id"});
    else read_cols_.insert({"incident", "at", "seq"});
    frag w(name == "prev" ? "lag(" : "lead(");
    w.add(arg).add(incidents ? ") OVER (ORDER BY started, id)" : ") OVER (PARTITION BY incident ORDER BY at, seq)");
    const std::string column = fresh('w');
    windows_.emplace_back(column, std::move(w));
    frag f(column, arg.type);
    f.enumerated = arg.enumerated;
    f.lower_words = arg.lower_words;
    return f;
  }

  // ------------------------------------------------------------ measures

  // The incident a measure is about: the row's `id`, which only incident rows have.
  frag measured_incident(const scope& sc, std::uint32_t offset, std::string_view what) const {
    if (sc.rows && !sc.has_key && sc.source == ast::source_kind::incidents)
      fail(fmt::format("{} measures each incident: it must come before `summarize`", what), offset);
    if (!sc.has_key || !sc.rows)
      fail(fmt::format("{} measures an incident: it needs incident rows (`incidents | ...`)", what), offset);
    return frag("p.id");
  }

  // A column of the incident rows the measure reads (`started`, `ended`).
  frag incident_column(const scope& sc, std::string_view name, std::uint32_t offset, std::string_view what) {
    const col* c = find(sc, name);
    if (!c || c->type != ty::timestamp)
      fail(fmt::format("{} needs the incidents' `{}` (a `select` dropped it)", what, name), offset);
    read_cols_.insert(c->sql);
    return frag("p." + c->sql, ty::timestamp);
  }

  // What `now` is for an incident still open: the view's time, else the session's now.
  frag now_value() const {
    frag f;
    f.bind(timestamp{as_of_ ? *as_of_ : ctx_.now ? *ctx_.now : now_ms()});
    f.type = ty::timestamp;
    return f;
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  frag moment(const ast::expr& e, scope& sc, std::string_view what) {
    frag t = expr(e, sc);
    if (t.type != ty::timestamp && t.type != ty::null)
      fail(fmt::format("{} needs a timestamp, not {}", what, type_name(t.type)), tag_of(e).offset);
    return t;
  }

  frag node(const ast::measure& m, scope& sc) {
    // In measure_kind's order.
    static constexpr std::string_view names[] = {"time from", "count of", "min value of", "max value of",
                                                 "first value of", "last value of", "", "min gap of",
                                                 "max gap of", "avg gap of", "count of status changes",
                                                 "time in", "count of overlapping", "status at",
                                                 "state of component", "open at"};
    const std::string_view what = names[static_cast<int>(m.kind)];
    const frag inc = measured_incident(sc, m.offset, fmt::format("`{}`", what));
    frag v;
    switch (m.kind) {
      case ast::measure_kind::time: v = span(m.span, inc); break;
      case ast::measure_kind::count:
      case ast::measure_kind::min_value:
      case ast::measure_kind::max_value:
      case ast::measure_kind::first_value:
      case ast::measure_kind::last_value: v = event_measure(m.kind, m.pat, inc); break;
      case ast::measure_kind::min_gap:
      case ast::measure_kind::max_gap:
      case ast::measure_kind::avg_gap: {
        // Consecutive events matching P, in (at, seq) order.
        const std::string_view agg = m.kind == ast::measure_kind::min_gap ? "min" : m.kind == ast::measure_kind::max_gap ? "max" : "avg";
        v.add(fmt::format("(SELECT CAST(round({}(g)) AS INTEGER) FROM (SELECT e.at - lag(e.at) OVER (ORDER BY e.at, e.seq) AS g", agg))
            .add(events_of(inc, &m.pat)).add("))");
        v.nest = w_subquery * 2;
        v.type = ty::duration;
        break;
      }
      case ast::measure_kind::status_changes:
        // A status post whose status differs from the previous status post's.
        v.add("(SELECT count(*) FROM (SELECT e.status AS s, lag(e.status) OVER (ORDER BY e.at, e.seq) AS b")
            .add(events_of(inc, nullptr)).add(" AND e.type = 'status') WHERE b IS NOT NULL AND s <> b)");
        v.nest = w_subquery * 2;
        v.type = ty::integer;
        break;
      case ast::measure_kind::time_in: {
        // From each status post matching P to the next status post (of any status), the last
        // one to the incident's end (its last event).
        if (m.pat.kind != ast::pattern_kind::status)
          fail("`time in` needs a status pattern: `time in status investigating`", m.pat.offset);
        frag cond = pattern_condition(m.pat);
        ast::milestone end;
        end.kind = ast::milestone_kind::end;
        frag last = milestone(end, inc, nullptr, "e.at");
        v.add("(SELECT coalesce(sum(coalesce(n, ").add(last).add(") - at), 0) FROM (SELECT e.at AS at, (")
            .add(cond).add(") AS m, lead(e.at) OVER (ORDER BY e.at, e.seq) AS n")
            .add(events_of(inc, nullptr)).add(" AND e.type = 'status') WHERE m)");
        v.nest = w_subquery * 3;
        v.type = ty::duration;
        break;
      }
      case ast::measure_kind::overlapping: {
        // The other incidents among the current rows whose span [started, ended] meets this
        // one's (an open incident's runs to now).
        const frag started = incident_column(sc, "started", m.offset, "`count of overlapping`");
        const frag ended = incident_column(sc, "ended", m.offset, "`count of overlapping`");
        const std::string s_col = started.sql.substr(2), e_col = ended.sql.substr(2);
        const frag now = now_value();
        if (!sc.one_per_incident) {
          // Rows split by `per`: several rows of one incident; compare every pair.
          v.add(fmt::format("(SELECT count(DISTINCT q.id) FROM {} q WHERE q.id <> p.id AND q.{} <= coalesce(p.{}, ",
                            rel_, s_col, e_col))
              .add(now).add(fmt::format(") AND coalesce(q.{}, ", e_col)).add(now).add(fmt::format(") >= p.{})", s_col));
          v.nest = w_subquery;
          v.type = ty::integer;
          break;
        }
        // One row per incident: in one sweep over the starts and ends sorted by time (a start
        // before an end of the same moment), the incidents that started by this one's end,
        // less those that ended before its start, less itself. n log n rather than n².
        const std::string sweep = fresh('v');
        frag side(fmt::format(
            "SELECT id, max(CASE WHEN k = 1 THEN starts END) - max(CASE WHEN k = 0 THEN ends END) - 1 AS n FROM "
            "(SELECT id, k, sum(1 - k) OVER (ORDER BY t, k) AS starts, sum(k) OVER (ORDER BY t, k) AS ends FROM "
            "(SELECT id, {0} AS t, 0 AS k FROM {2} WHERE {0} IS NOT NULL UNION ALL "
            "SELECT id, coalesce({1}, ",
            s_col, e_col, rel_));
        side.add(now).add(fmt::format(") AS t, 1 AS k FROM {} WHERE {} IS NOT NULL)) GROUP BY id", rel_, s_col));
        side_stages_.emplace_back(sweep, std::move(side));
        v.add(fmt::format("coalesce((SELECT o.n FROM {} o WHERE o.id = p.id), 0)", sweep));
        v.nest = w_subquery;
        v.type = ty::integer;
        break;
      }
      case ast::measure_kind::status_at:
      case ast::measure_kind::state_at: {
        // The latest status post (component event) at or before T.
        const bool status = m.kind == ast::measure_kind::status_at;
        frag t = moment(m.at, sc, status ? "`status at`" : "`state of component ... at`");
        v.add(status ? "(SELECT e.status" : "(SELECT e.state").add(events_of(inc, nullptr));
        if (status) v.add(" AND e.type = 'status'");
        else v.add(" AND e.type = 'component' AND e.component = ").bind(m.component);
        v.add(" AND e.at <= ").add(t).add(" ORDER BY e.at DESC, e.seq DESC LIMIT 1)").within(t, w_subquery);
        v.type = ty::text;
        v.enumerated = v.lower_words = true;
        break;
      }
      case ast::measure_kind::open_at: {
        // Started at or before T, and not ended by T.
        frag t = moment(m.at, sc, "`open at`");
        const frag started = incident_column(sc, "started", m.offset, "`open at`");
        const frag ended = incident_column(sc, "ended", m.offset, "`open at`");
        v.add("(").add(started).add(" <= ").add(t).add(" AND (").add(ended).add(" IS NULL OR ").add(ended).add(" > ").add(t)
            .add("))").within(t, w_rhs + w_lhs);
        v.type = ty::boolean;
        v.pg_bool = pg();
        break;
      }
      case ast::measure_kind::expression: break;
    }
    return v;
  }

  // count of P, min/max/first/last value of P.
  frag event_measure(ast::measure_kind kind, const ast::pattern& pat, const frag& inc) {
    frag v;
    switch (kind) {
      case ast::measure_kind::count:
        v.add("(SELECT count(*)").add(events_of(inc, &pat)).add(")");
        v.type = ty::integer;
        break;
      case ast::measure_kind::min_value:
      case ast::measure_kind::max_value:
        v.add(kind == ast::measure_kind::min_value ? "(SELECT min(e.value)" : "(SELECT max(e.value)").add(events_of(inc, &pat)).add(")");
        v.type = ty::real;
        break;
      default:
        v.add("(SELECT e.value").add(events_of(inc, &pat));
        v.add(kind == ast::measure_kind::first_value ? " ORDER BY e.at, e.seq LIMIT 1)" : " ORDER BY e.at DESC, e.seq DESC LIMIT 1)");
        v.type = ty::real;
        break;
    }
    return v;
  }

  // `reopened`: a status post that is not an end (resolved, postmortem, completed) after the
  // first `resolved` post, in (at, seq) order.
  frag reopened(const frag& inc) {
    frag v("EXISTS (SELECT 1");
    v.add(events_of(inc, nullptr)).add(" AND e.type = 'status' AND e.status NOT IN ('resolved', 'postmortem', 'completed')");
    v.add(" AND (e.at, e.seq) > (SELECT r.at, r.seq FROM ").add(std::string(projection::versions_table)).add(" r WHERE ");
    v.add(believed("r")).add(" AND r.incident = ").add(inc).add(" AND r.type = 'status' AND r.status = 'resolved' ORDER BY r.at, r.seq LIMIT 1))");
    v.nest = w_subquery * 2;
    return boolean(std::move(v));
  }

  // The column of the summarize's pre-grouping stage that holds `arg` (shared by aggregates of
  // the same argument: `median(ttr), p90(ttr)` share one column, and so one percentile window).
  std::string computed_column(frag arg) {
    arg = value_of(std::move(arg));
    for (const auto& [name_, prev] : agg_->computed)
      if (prev.sql == arg.sql && prev.params == arg.params) return name_;
    std::string a = fresh('a');
    agg_->computed.emplace_back(a, std::move(arg));
    return a;
  }

  frag aggregate_argument(const ast::expr& e) {
    in_aggregate_ = true;
    frag arg = top(e, *agg_->rows);
    in_aggregate_ = false;
    return arg;
  }

  frag aggregate_call(const ast::call& c, const std::string& name) {
    if (!agg_) fail(fmt::format("aggregate {}() is only allowed in summarize", name), c.function.offset);
    if (in_aggregate_) fail(fmt::format("aggregate {}() cannot be nested in another aggregate", name), c.function.offset);
    if (c.where && name != "count" && name != "share")
      fail(fmt::format("{}() takes no `where`: only count(where ...) and share(where ...) do", name), c.function.offset);
    if (name == "count") arity(c, name, 0, 1);
    else if (name == "percentile" || name == "downtime") arity(c, name, 2, 2);
    else arity(c, name, 1, 1);
    frag f;
    if (c.args.empty()) {  // count()
      f.add("count(*)");
      f.type = ty::integer;
      return f;
    }
    if (c.where || name == "share") {
      // A condition counted over every row of the group: a row where it is null (a measure
      // that has no value) counts as false, not as absent.
      frag cond = aggregate_argument(c.args[0]);
      expect_condition(cond, c.args[0]);
      cond = cond_of(std::move(cond));
      frag flag("(CASE WHEN ");
      flag.add(cond).add(" THEN 1 ELSE 0 END)").within(cond, w_rhs);
      const std::string a = computed_column(std::move(flag));
      if (name == "count") {
        f.add("coalesce(sum(").add(a).add("), 0)");
        f.type = ty::integer;
      } else {
        f.add("avg(").add(a).add(")");
        f.type = ty::real;
      }
      return f;
    }
    if (name == "downtime") {
      // The length of the union of the rows' [start, end) intervals: overlaps count once.
      frag from = aggregate_argument(c.args[0]);
      frag to = aggregate_argument(c.args[1]);
      for (std::size_t i = 0; i < 2; ++i)
        if (const ty t = (i ? to : from).type; t != ty::timestamp && t != ty::null)
          fail(fmt::format("downtime() needs two timestamps (start, end), not {}", type_name(t)), tag_of(c.args[i]).offset);
      const std::string a = computed_column(std::move(from)), b = computed_column(std::move(to));
      f.add("pmdb_union_length(").add(a).add(", ").add(b).add(")");
      f.type = ty::duration;
      return f;
    }
    frag arg = aggregate_argument(c.args[0]);
    const ty t = arg.type;
    const std::string a = computed_column(std::move(arg));
    if (name == "first" || name == "last") {
      // The value in the group's first / last row, in the current row order.
      if (agg_->ordinal.empty()) {
        agg_->ordinal = fresh('n');
        const std::string order = order_by(*agg_->rows);
        frag n(fmt::format("row_number() OVER ({})", order.empty() ? order : order.substr(1)));
        agg_->computed.emplace_back(agg_->ordinal, std::move(n));
      }
      f.add(name == "first" ? "pmdb_first_by(" : "pmdb_last_by(").add(a).add(", ").add(agg_->ordinal).add(")");
      f.type = t;
      return f;
    }
    auto need = [&](std::initializer_list<ty> ok, std::string_view what) {
      if (t == ty::null) return;
      for (ty o : ok)
        if (t == o) return;
      fail(fmt::format("{}() needs {}, not {}", name, what, type_name(t)), tag_of(c.args[0]).offset);
    };
    if (name == "count") {
      f.add("count(").add(a).add(")");
      f.type = ty::integer;
    } else if (name == "min" || name == "max") {
      f.add(name).add("(").add(a).add(")");
      f.type = t;
    } else if (name == "sum") {
      need({ty::integer, ty::real, ty::boolean, ty::duration}, "numbers or durations");
      f.add("sum(").add(a).add(")");
      f.type = t == ty::boolean ? ty::integer : t;
    } else if (name == "avg") {
      need({ty::integer, ty::real, ty::boolean, ty::duration}, "numbers or durations");
      if (t == ty::duration) f.add("CAST(round(avg(").add(a).add(")) AS INTEGER)");
      else f.add("avg(").add(a).add(")");
      f.type = t == ty::duration ? ty::duration : ty::real;
    } else {
      need({ty::integer, ty::real, ty::boolean, ty::duration, ty::timestamp}, "numbers, durations or timestamps");
      frag percent;
      if (name == "percentile") {
        const auto* n = boost::get<ast::number_lit>(&c.args[1].get());
        if (!n || n->value < 0 || n->value > 100)
          fail("percentile()'s second argument must be a number from 0 to 100", tag_of(c.args[1]).offset);
        if (n->is_integer) percent.bind(n->integer);
        else percent.bind(n->value);
      } else {
        percent.bind(std::int64_t{name == "median" ? 50 : std::stoi(name.substr(1))});
      }
      // Nearest rank: the value at 1-based rank ceil(p/100 · n) (at least 1) of the n non-null
      // values in ascending order (core/sql_functions.cpp).
      f.add("pmdb_percentile(").add(a).add(", ").add(percent).add(")");
      f.type = t == ty::boolean ? ty::integer : t;
    }
    return f;
  }

  // ------------------------------------------------------------ pipelines

  struct chain {
    frag with;
    std::string last;
    int n = 0;
    // A stage `computed_once` is not flattened into the next: SQLite would copy its correlated
    // subqueries into every later reference (each aggregate of a measure, a `where` and a
    // `select` of it...). An OFFSET keeps it whole (SQLite never flattens a subquery with one):
    // read once, it runs as a co-routine whose rows the next stage reads as they come; read
    // twice (a side stage reads it too), SQLite materializes it. Either way each row's values
    // are computed once, and a co-routine stores none of them.
    void stage(const frag& body, bool computed_once = false) {
      last = fmt::format("s{}", n++);
      with.add(n == 1 ? "WITH " : ", ").add(last).add(" AS (").add(body).add(computed_once ? " LIMIT -1 OFFSET 0)" : ")");
    }
    // A CTE of its own name that later stages read, computed once; the rows stay `last`'s.
    void side(const std::string& name, const frag& body) {
      with.add(n++ == 0 ? "WITH " : ", ").add(name).add(" AS MATERIALIZED (").add(body).add(")");
    }
  };

  // Adds the stages the step being compiled reads: the named CTEs of its measures, and the
  // stage computing its prev()/next() columns.
  void flush_windows(chain& ch) {
    for (auto& [name, body] : side_stages_) ch.side(name, body);
    side_stages_.clear();
    if (windows_.empty()) return;
    frag body("SELECT p.*");
    for (const auto& [name, w] : windows_) body.add(", ").add(w).add(" AS ").add(name);
    body.add(" FROM ").add(ch.last).add(" AS p");
    windows_.clear();
    ch.stage(body);
  }

  // The output name of an unnamed column: the field it is, the function it calls, else its text.
  std::string default_name(const ast::named_expr& item, const frag& f) const {
    if (item.name) return item.name->name;
    if (f.is_column) return f.column_name;
    if (const auto* c = boost::get<ast::x3::forward_ast<ast::call>>(&item.value.get())) return lower(c->get().function.name);
    const ast::tagged& t = tag_of(item.value);
    if (t.length > 0 && std::size_t{t.offset} + t.length <= text_.size()) return std::string(text_.substr(t.offset, t.length));
    return "expr";
  }

  static void check_unique(const std::vector<std::pair<std::string, std::uint32_t>>& names) {
    for (std::size_t i = 0; i < names.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (iequals(names[i].first, names[j].first))
          fail(fmt::format("duplicate column name '{}': name the column (`name = ...`)", names[i].first), names[i].second);
  }

  // Columns a step that replaces the column list must carry along: the incident key and the
  // columns the current order reads.
  static std::vector<std::string> carried(const scope& sc) {
    std::vector<std::string> r;
    if (sc.has_key) r.push_back("id");
    if (sc.has_incident) r.push_back("incident");
    for (const auto& o : sc.order)
      if (std::ranges::find(r, o.column) == r.end()) r.push_back(o.column);
    return r;
  }

  std::string order_by(const scope& sc) const {
    std::string r;
    for (const auto& o : sc.order) {
      r += (r.empty() ? " ORDER BY " : ", ") + o.column;
      // PostgreSQL: text in byte order, as SQLite's BINARY, whatever the database's collation.
      if (pg())
        if (const auto c = std::ranges::find(sc.cols, o.column, &col::sql); c != sc.cols.end() && c->type == ty::text)
          r += " COLLATE \"C\"";
      if (o.descending) r += " DESC";
    }
    return r;
  }

  void source(const ast::source& s, chain& ch, scope& sc) {
    frag body;
    view(s.as_of);
    switch (s.kind) {
      case ast::source_kind::incidents:
        sc = scope_of(fields::incident_fields);
        sc.has_key = true;
        sc.order = {{"started", false}, {"id", false}};
        body.add("SELECT ").add(source_columns_mark).add(" FROM ").add(incidents_rel(true)).add(" AS i");
        if (s.incident || s.overlapping) {
          const auto inc = incident_of(s.incident, s.offset);  // `overlapping` alone: the current one
          if (!inc) fail(std::string(no_incident), s.offset);
          // Incidents other than X whose span [started, ended] intersects X's.
          body.add(" WHERE id <> ").bind(*inc);
          body.add(" AND started <= (SELECT x.ended FROM ").add(incidents_rel()).add(" x WHERE x.id = ").bind(*inc);
          body.add(") AND ended >= (SELECT x.started FROM ").add(incidents_rel()).add(" x WHERE x.id = ");
          body.bind(*inc).add(")");
        }
        break;
      case ast::source_kind::events:
        sc = scope_of(fields::event_fields);
        sc.order = {{"at", false}, {"seq", false}};
        body.add("SELECT ").add(source_columns_mark).add(events_from("e"));
        break;
      case ast::source_kind::log:
        sc = scope_of(fields::log_fields);
        sc.order = {{"at", false}, {"seq", false}};
        body.add("SELECT ").add(source_columns_mark).add(fmt::format(" FROM {}", projection::log_table));
        if (as_of_) body.add(" WHERE recorded_at <= ").bind(timestamp{*as_of_});
        break;
      case ast::source_kind::timeline: {
        sc = scope_of(fields::timeline_fields);
        sc.order = {{"at", false}, {"seq", false}};
        // `timeline` alone: the current incident (`use INCIDENT;`).
        const auto inc = incident_of(s.incident, s.offset);
        if (!inc) fail(std::string(no_incident), s.offset);
        // elapsed: from the incident's start (its first fact, corrections and retractions aside).
        body.add("SELECT e.*, e.at - (SELECT x.at").add(events_from("x"));
        body.add(" AND x.incident = ").bind(*inc);
        body.add(" AND x.type NOT IN ('correction', 'retraction') ORDER BY x.at, x.seq LIMIT 1)");
        body.add(" AS elapsed").add(events_from("e")).add(" AND e.incident = ").bind(*inc);
        break;
      }
    }
    sc.source = s.kind;
    sc.has_incident = s.kind != ast::source_kind::incidents;
    ch.stage(body);
    if (s.where) where(*s.where, ch, sc);
  }

  void where(const ast::expr& cond, chain& ch, scope& sc) {
    mark_used_ = true;
    rel_ = ch.last;
    frag c = top(cond, sc);
    mark_used_ = false;
    expect_condition(c, cond);
    c = cond_of(std::move(c));
    flush_windows(ch);
    frag body("SELECT p.* FROM ");
    body.add(ch.last).add(" AS p WHERE ").add(c);
    ch.stage(body);
  }

  void step(const ast::where_op& w, chain& ch, scope& sc) { where(w.condition, ch, sc); }

  void step(const ast::let_op& l, chain& ch, scope& sc) {
    if (sc.source != ast::source_kind::incidents)
      fail(fmt::format("`let` needs an `incidents` source, not `{}`",
                       sc.source == ast::source_kind::events ? "events"
                       : sc.source == ast::source_kind::log  ? "log"
                                                             : "timeline"),
           l.offset);
    for (const auto& b : l.bindings) {
      frag v;
      // `let x = time from A to B` computes A in a stage of its own (below); every other value,
      // measures included, is an expression.
      const auto* m = boost::get<ast::x3::forward_ast<ast::measure>>(&b.value.get());
      const bool time = b.kind == ast::measure_kind::time || (m && m->get().kind == ast::measure_kind::time && sc.has_key);
      const ast::time_between& span_ = b.kind == ast::measure_kind::time || !m ? b.span : m->get().span;
      rel_ = ch.last;
      if (!time && b.kind == ast::measure_kind::expression) {
        v = value_of(top(b.value, sc));
        flush_windows(ch);
      } else {
        if (!sc.has_key)
          fail("this `let` measures each incident: it must come before `summarize`", b.offset);
        const frag inc("p.id");
        if (time) {
          // A's at and position in a stage of their own: B's lookup and the subtraction read them.
          const std::string at_col = fresh('f'), seq_col = fresh('f');
          frag pre("SELECT p.*, ");
          std::optional<std::string> settled_col;
          if (auto joined = joined_milestone(span_.from, inc); joined && !as_of_) {
            // One row of the milestones read model, joined: its columns are plain columns, so
            // the stage needs no materializing.
            pre.add(joined->alias).add(".").add(joined->end).add("_at AS ").add(at_col).add(", ");
            pre.add(joined->alias).add(".").add(joined->end).add("_seq AS ").add(seq_col);
            pre.add(" FROM ").add(ch.last).add(" AS p").add(joined->join);
            ch.stage(pre);
          } else if (joined) {
            // As of T: the row when the incident was last recorded by T (its @recorded row,
            // joined too, says so in a column the `to` milestone reads), else the versions.
            settled_col = fresh('k');
            const std::string rk = fresh('m');
            frag is_settled(fmt::format("{}.last_at <= ", rk));
            is_settled.bind(timestamp{*as_of_});
            pre.add(is_settled).add(" AS ").add(*settled_col);
            for (const auto& [part, col] : {std::pair("e.at", at_col), std::pair("e.seq", seq_col)}) {
              pre.add(", CASE WHEN ").add(is_settled).add(" THEN ").add(joined->alias).add(".").add(joined->end);
              pre.add("_").add(std::string_view(part).substr(2)).add(" ELSE ");
              pre.add(log_milestone(span_.from, span_.from.kind == ast::milestone_kind::start ||
                                                    span_.from.kind == ast::milestone_kind::end,
                                    joined->end == "last", inc, nullptr, part));
              pre.add(" END AS ").add(col);
            }
            pre.add(" FROM ").add(ch.last).add(" AS p");
            pre.add(fmt::format(" LEFT JOIN {0} {1} ON {1}.type = '{2}' AND {1}.key = '' AND {1}.incident = ",
                                projection::milestones_table, rk, projection::recorded_key_type))
                .add(inc)
                .add(joined->join);
            ch.stage(pre, true);
          } else {
            pre.add(milestone(span_.from, inc, nullptr, "e.at")).add(" AS ").add(at_col).add(", ");
            pre.add(milestone(span_.from, inc, nullptr, "e.seq")).add(" AS ").add(seq_col);
            pre.add(" FROM ").add(ch.last).add(" AS p");
            ch.stage(pre, true);
          }
          computed_milestone from{frag("p." + at_col, ty::timestamp), frag(fmt::format("(p.{}, p.{})", at_col, seq_col))};
          if (settled_col) settled_column_ = "p." + *settled_col;
          v = span(span_, inc, &from);
          settled_column_.reset();
        } else {
          v = event_measure(b.kind, b.pat, inc);
        }
        check_nest(v, 0, b.offset);
      }
      const std::string name = fresh('c');
      frag body("SELECT p.*, ");
      body.add(v).add(" AS ").add(name).add(" FROM ").add(ch.last).add(" AS p");
      ch.stage(body, b.kind != ast::measure_kind::expression || m);
      col c{b.name.name, name, v.type, v.enumerated, v.lower_words, true};
      auto it = std::ranges::find_if(sc.cols, [&](const col& x) { return iequals(x.name, b.name.name); });
      if (it != sc.cols.end()) *it = std::move(c);  // a `let` of an existing name replaces that column
      else sc.cols.push_back(std::move(c));
    }
  }

  void step(const ast::order_op& o, chain& ch, scope& sc) {
    std::vector<order_term> terms;
    frag computed;
    mark_used_ = true;
    rel_ = ch.last;
    for (const auto& item : o.items) {
      frag f = value_of(top(item.value, sc));
      if (f.type == ty::boolean && !f.is_column) f.type = ty::integer;
      if (f.is_column) {
        terms.push_back({f.sql, item.descending});
      } else {
        const std::string name = fresh('o');
        computed.add(", ").add(f).add(" AS ").add(name);
        terms.push_back({name, item.descending});
      }
    }
    mark_used_ = false;
    flush_windows(ch);
    if (!computed.sql.empty()) {
      frag body("SELECT p.*");
      body.add(computed).add(" FROM ").add(ch.last).add(" AS p");
      ch.stage(body);
    }
    // Ties keep the previous order (a stable sort).
    for (const auto& old : sc.order)
      if (std::ranges::none_of(terms, [&](const order_term& t) { return t.column == old.column; })) terms.push_back(old);
    sc.order = std::move(terms);
  }

  void step(const ast::limit_op& l, chain& ch, scope& sc) {
    if (l.count < 0) fail("limit must be 0 or more", l.offset);
    frag body("SELECT * FROM ");
    body.add(ch.last).add(order_by(sc)).add(" LIMIT ").bind(l.count);
    ch.stage(body);
  }

  // `per component`: one row per (incident, component), the components being the incident's
  // `services` and those its component events name; an incident with none keeps one row, whose
  // component is null.
  // `per UNIT [ZONE]`: one row per calendar bucket the incident's [started, ended) touches (an
  // open incident's runs to now), with `started` and `ended` clipped to the bucket, its label
  // (a column named as the unit) and its real length (`period`).
  void step(const ast::per_op& p, chain& ch, scope& sc) {
    if (sc.source != ast::source_kind::incidents || !sc.has_key)
      fail("`per` splits incident rows: it needs an `incidents` source, before `summarize`", p.offset);
    if (find(sc, p.unit)) fail(fmt::format("the rows already have a column '{}'", p.unit), p.offset);
    sc.one_per_incident = false;
    if (p.unit == "component") {
      if (p.zone) fail("`per component` takes no zone", p.zone->offset);
      read_cols_.insert("services");
      const std::string name = fresh('c');
      frag body("SELECT p.*, k.component AS ");
      body.add(name).add(" FROM ").add(ch.last).add(" AS p LEFT JOIN (SELECT i.id AS incident, j.value AS component FROM ");
      body.add(incidents_rel()).add(" AS i, json_each(i.services) j UNION SELECT e.incident, e.component").add(events_from("e"));
      body.add(" AND e.type = 'component' AND e.component IS NOT NULL) k ON k.incident = p.id");
      ch.stage(body);
      sc.cols.push_back({"component", name, ty::text, true, false, true});
      sc.order.push_back({name, false});
      return;
    }
    std::string zone = ctx_.zone;
    if (p.zone) {
      check_zone(p.zone->value, p.zone->offset);
      zone = p.zone->value;
    }
    const frag started = incident_column(sc, "started", p.offset, "`per`");
    const frag ended = incident_column(sc, "ended", p.offset, "`per`");
    frag unit, z;
    unit.bind(p.unit);
    z.bind(zone);
    frag end("coalesce(");
    end.add(ended).add(", ").add(now_value()).add(")");
    frag next("pmdb_bucket_next(b.value, ");
    next.add(unit).add(", ").add(z).add(")");
    const std::string label = fresh('c'), from = fresh('c'), to = fresh('c'), length = fresh('c');
    frag body("SELECT p.*, pmdb_cal(b.value, ");
    body.add(unit).add(", ").add(z).add(") AS ").add(label);
    body.add(", max(").add(started).add(", b.value) AS ").add(from);
    body.add(", min(").add(end).add(", ").add(next).add(") AS ").add(to);
    body.add(", ").add(next).add(" - b.value AS ").add(length);
    // PostgreSQL: the buckets as rows of a set-returning function, not a JSON array's elements.
    body.add(" FROM ").add(ch.last).add(pg() ? " AS p, pmdb_bucket_series(" : " AS p, json_each(pmdb_buckets(");
    body.add(started).add(", ").add(end).add(", ").add(unit).add(", ").add(z).add(pg() ? ") AS b(value)" : ")) AS b");
    ch.stage(body);
    for (auto& c : sc.cols) {
      if (iequals(c.name, "started")) c.sql = from;
      else if (iequals(c.name, "ended")) c.sql = to;
    }
    sc.cols.push_back({p.unit, label, ty::text, false, false, true});
    sc.cols.push_back({"period", length, ty::duration, false, false, true});
    sc.order.push_back({label, false});
  }

  void step(const ast::select_op& s, chain& ch, scope& sc) {
    scope out;
    out.source = sc.source;
    out.has_key = sc.has_key;
    out.has_incident = sc.has_incident;
    out.one_per_incident = sc.one_per_incident;
    out.order = sc.order;
    frag body("SELECT ");
    bool first = true;
    for (const auto& c : carried(sc)) {
      body.add(first ? "" : ", ").add(c);
      first = false;
    }
    std::vector<std::pair<std::string, std::uint32_t>> names;
    rel_ = ch.last;
    for (const auto& item : s.items) {
      frag f = value_of(top(item.value, sc));
      const std::string name = fresh('c');
      body.add(first ? "" : ", ").add(f).add(" AS ").add(name);
      first = false;
      names.emplace_back(default_name(item, f), item.offset);
      out.cols.push_back({names.back().first, name, f.type, f.enumerated, f.lower_words, true});
    }
    check_unique(names);
    flush_windows(ch);
    body.add(" FROM ").add(ch.last).add(" AS p");
    ch.stage(body);
    sc = std::move(out);
  }

  void step(const ast::summarize_op& s, chain& ch, scope& sc) {
    if (s.aggregates.empty() && s.by.empty()) fail("summarize needs an aggregate or `by`", s.offset);
    aggregation ag;
    ag.rows = &sc;
    scope out;
    out.source = sc.source;
    std::vector<std::pair<std::string, std::uint32_t>> names;
    frag select;
    rel_ = ch.last;
    for (const auto& item : s.by) {
      frag f = value_of(top(item.value, sc));
      if (f.type == ty::boolean && !f.is_column) f.type = ty::integer;
      const std::string g = fresh('g'), name = fresh('c');
      names.emplace_back(default_name(item, f), item.offset);
      out.cols.push_back({names.back().first, name, f.type, f.enumerated, f.lower_words, true});
      out.order.push_back({name, false});
      select.add(select.sql.empty() ? "" : ", ").add(g).add(" AS ").add(name);
      ag.groups.push_back(g);
      ag.computed.emplace_back(g, std::move(f));
    }
    agg_ = &ag;
    for (const auto& item : s.aggregates) {
      frag f = value_of(top(item.value, sc));
      const std::string name = fresh('c');
      names.emplace_back(default_name(item, f), item.offset);
      out.cols.push_back({names.back().first, name, f.type, false, false, true});
      select.add(select.sql.empty() ? "" : ", ").add(f).add(" AS ").add(name);
    }
    agg_ = nullptr;
    check_unique(names);
    flush_windows(ch);

    if (!ag.computed.empty()) {
      frag pre("SELECT p.*");
      for (const auto& [name, f] : ag.computed) pre.add(", ").add(f).add(" AS ").add(name);
      pre.add(" FROM ").add(ch.last).add(" AS p");
      ch.stage(pre);
    }
    frag body("SELECT ");
    body.add(select).add(" FROM ").add(ch.last);
    if (!ag.groups.empty()) {
      body.add(" GROUP BY ");
      for (std::size_t i = 0; i < ag.groups.size(); ++i) body.add(i ? ", " : "").add(ag.groups[i]);
    }
    ch.stage(body);
    sc = std::move(out);
  }

  // Stands for the source's column list until the whole pipeline is compiled and the columns
  // it reads are known (a NUL byte cannot occur in generated SQL otherwise).
  static constexpr std::string_view source_columns_mark{"\0cols\0", 6};

  // The columns of `fs` that the compiled pipeline reads (and its keys and natural order),
  // so that later stages, materialized ones above all, do not copy wide unread columns such as
  // the events' `data` or an incident's `summary`.
  std::string source_columns(std::span<const fields::field> fs, const scope& final_scope) const {
    std::string list;
    for (const auto& f : fs) {
      const std::string col(f.column);
      const bool shown = std::ranges::any_of(final_scope.cols, [&](const auto& c) { return c.shown && c.sql == col; });
      const bool key = col == "id" || col == "started" || col == "at" || col == "seq" || col == "incident";
      if (key || shown || read_cols_.contains(col)) list += (list.empty() ? "" : ", ") + col;
    }
    return list;
  }

  action stmt(const ast::pipeline& p) {
    chain ch;
    scope sc;
    read_cols_.clear();
    source(p.from, ch, sc);
    for (const auto& op : p.ops)
      boost::apply_visitor([&](const auto& o) { step(o, ch, sc); }, op.get());
    const std::string columns =
        source_columns(p.from.kind == ast::source_kind::incidents ? std::span<const fields::field>(fields::incident_fields)
                       : p.from.kind == ast::source_kind::log     ? fields::log_fields
                                                                  : std::span<const fields::field>(fields::event_fields),
                       sc);
    for (auto mark = ch.with.sql.find(source_columns_mark); mark != std::string::npos;
         mark = ch.with.sql.find(source_columns_mark, mark + columns.size()))
      ch.with.sql.replace(mark, source_columns_mark.size(), columns);
    compiled_query q;
    frag f = std::move(ch.with);
    f.add(" SELECT ");
    bool first = true;
    for (const auto& c : sc.cols) {
      if (!c.shown) continue;
      f.add(first ? "" : ", ").add(c.sql);
      first = false;
      q.columns.push_back({c.name, to_value_type(c.type)});
      q.booleans.push_back(c.type == ty::boolean);
    }
    f.add(" FROM ").add(ch.last).add(order_by(sc));
    q.sql = std::move(f.sql);
    q.params = std::move(f.params);
    q.case_hints = std::move(case_hints_);
    return run_query{std::move(q)};
  }
};

}  // namespace

std::expected<action, error> compile(const ast::statement& stmt, const catalog& cat, const context& ctx,
                                     std::string_view text, const source_position& origin) {
  try {
    compiler c(cat, ctx, text);
    action a = c.statement(stmt);
    if (auto* r = std::get_if<run_query>(&a)) {
      r->query.sql = in_dialect(r->query.sql, ctx.dialect);
      for (auto& h : r->query.case_hints) h.sql = in_dialect(h.sql, ctx.dialect);
    }
    return a;
  } catch (const failure& f) {
    error e(f.message, position_at(text, f.offset, origin));
    e.code = f.code;
    return std::unexpected(std::move(e));
  }
}

}  // namespace pmdb::query
