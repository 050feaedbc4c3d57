#pragma once
// The PMQL read grammar (Spirit X3). Included by parser.cpp only. The grammar has two heavy
// translation units, one per part: this one (queries) and write_parser.cpp (the write
// statements, write_parser_def.hpp), reached from `statement` through the declared top rule
// `write_stmt` (write_parser.hpp). The lexical layer both share (literal parsers, `kw`,
// `build`, `nested`, span annotation, reserved words, message names) is grammar_common.hpp.
//
// Reading guide:
//   - `kw("x")` is a case-insensitive keyword that does not match a prefix of a longer word.
//   - `a > b` is an expectation point: if `b` fails, parsing stops with "expected B" where B
//     is the human name of rule `b` (every target of `>` is a named rule for that reason).
//   - Rules whose node is filled member by member from a sequence use plain attribute
//     propagation (see ast_adapted.hpp); the others are written `build[ ... ]` and fill
//     their node (`_val`) in semantic actions.
//   - Every rule ID derives from `annotate_span`, whose on_success stores the byte offset and
//     length of the matched text in the node (leading blanks excluded). Interior expression
//     nodes (binary, in, is null) are spanned from their operands' spans.
//   - `nested(n)[p]` counts one level of nesting while `p` runs (n = length of the opening
//     token just parsed, so the "nested too deeply" error points at it).
//
// Grammar (EBNF-ish; {x} = repetition, [x] = option, keywords case-insensitive):
//   script      = {';'} {statement (';' {';'} | end)} end
//   statement   = use | time | show | report | history | write | pipeline
//   write       = new | record | correct | retract     (write_parser_def.hpp has their grammar)
//   use         = 'use' INCIDENT
//   time        = 'time' 'from' milestone 'to' milestone ['in' INCIDENT] [as_of]
//   show        = 'show' ('incidents' | 'types' | 'sources' [INCIDENT]) [as_of]
//   report      = 'report' [INCIDENT] ['format' ('markdown' | 'html')] ['to' STRING] [as_of]
//   history     = 'history' (EVENT_ID | STRING)
//   as_of       = 'as' 'of' TIMESTAMP
//   pipeline    = source {'|' pipe_op}
//   source      = ('incidents' ['overlapping' [INCIDENT]] | 'events' | 'log' | 'timeline' [INCIDENT]) [as_of]
//                 ['where' expr]
//   pipe_op     = 'where' expr | 'let' binding {',' binding} | 'summarize' [named {',' named}] ['by' named {',' named}]
//               | 'order' 'by' expr ['asc'|'desc'] {',' ...} | 'limit' INTEGER | 'select' named {',' named}
//   binding     = NAME '=' ('time' 'from' milestone 'to' milestone | 'count' 'of' pattern
//                          | ('min'|'max'|'first'|'last') 'value' 'of' pattern | expr)
//   named       = [NAME '='] expr
//   milestone   = 'start' | 'end' | ('first' pattern | 'last' pattern | pattern) ['after' milestone]
//   pattern     = ( 'any' | 'report' | 'alert' | 'change' | 'cause' | 'action' | 'note' | 'incident'
//                 | 'correction' | 'retraction' | 'status' [WORD] | 'comm' ['on' WORD] ['by' STRING]
//                 | 'component' [STRING [WORD]] | 'metric' WORD [OP NUMBER] | NUMBER '%' WORD ) ['where' expr]
//   expr        = and {'or' and};   and = not {'and' not};   not = 'not' not | cmp
//   cmp         = sum [OP sum | ['not'] 'in' '(' expr {',' expr} ')' | 'is' ['not'] 'null']
//   sum         = product {('+'|'-') product};   product = unary {('*'|'/') unary}
//   unary       = '-' unary | primary
//   primary     = '(' expr ')' | TIMESTAMP | DURATION | NUMBER | STRING | 'null' | 'true' | 'false'
//               | NAME '(' [expr {',' expr}] ')' | NAME
#include <cstdint>
#include <string>

#include <boost/fusion/include/at_c.hpp>

#include "query/ast.hpp"
#include "query/ast_adapted.hpp"
#include "query/grammar_common.hpp"
#include "query/write_parser.hpp"

namespace pmdb::query::parser {

namespace fusion = boost::fusion;

// ---------------------------------------------------------------- symbols of the read grammar

struct simple_patterns_t : x3::symbols<ast::pattern_kind> {
  simple_patterns_t() {
    using k = ast::pattern_kind;
    add("any", k::any)("report", k::report)("alert", k::alert)("change", k::change)("cause", k::cause)(
        "action", k::action)("note", k::note)("incident", k::incident)("correction", k::correction)(
        "retraction", k::retraction);
  }
};
inline simple_patterns_t const simple_patterns;

struct value_functions_t : x3::symbols<ast::measure_kind> {
  value_functions_t() {
    using k = ast::measure_kind;
    add("min", k::min_value)("max", k::max_value)("first", k::first_value)("last", k::last_value);
  }
};
inline value_functions_t const value_functions;

struct gap_functions_t : x3::symbols<ast::measure_kind> {
  gap_functions_t() {
    using k = ast::measure_kind;
    add("min", k::min_gap)("max", k::max_gap)("avg", k::avg_gap);
  }
};
inline gap_functions_t const gap_functions;

// Text operators written as words: `title contains "x"`, `text matches "err(or)?"`, `text has "db"`.
struct word_ops_t : x3::symbols<ast::binary_op> {
  word_ops_t() {
    using o = ast::binary_op;
    add("contains", o::contains)("matches", o::matches)("has", o::has);
  }
};
inline word_ops_t const word_ops;

// `per component`, `per month`: what a row is split by.
struct per_units_t : x3::symbols<std::string> {
  per_units_t() {
    for (char const* u : {"component", "year", "quarter", "month", "week", "day", "hour"}) add(u, u);
  }
};
inline per_units_t const per_units;

// `2 hours`, `1.5 days`: a number and a unit word, in milliseconds per unit.
struct duration_units_t : x3::symbols<double> {
  duration_units_t() {
    for (char const* u : {"week", "weeks"}) add(u, 604'800'000.0);
    for (char const* u : {"day", "days"}) add(u, 86'400'000.0);
    for (char const* u : {"hour", "hours", "hr", "hrs"}) add(u, 3'600'000.0);
    for (char const* u : {"minute", "minutes", "min", "mins"}) add(u, 60'000.0);
    for (char const* u : {"second", "seconds", "sec", "secs"}) add(u, 1'000.0);
    for (char const* u : {"millisecond", "milliseconds"}) add(u, 1.0);
  }
};
inline duration_units_t const duration_units;

struct comparison_ops_t : x3::symbols<ast::binary_op> {
  comparison_ops_t() {
    using o = ast::binary_op;
    add("=", o::eq)("==", o::eq)("!=", o::ne)("<>", o::ne)("<", o::lt)("<=", o::le)(">", o::gt)(">=", o::ge)("~", o::contains)(
        "!~", o::not_contains);
  }
};
inline comparison_ops_t const comparison_ops;

struct metric_ops_t : x3::symbols<ast::binary_op> {
  metric_ops_t() {
    using o = ast::binary_op;
    add("=", o::eq)("!=", o::ne)("<>", o::ne)("<", o::lt)("<=", o::le)(">", o::gt)(">=", o::ge);
  }
};
inline metric_ops_t const metric_ops;

struct additive_ops_t : x3::symbols<ast::binary_op> {
  additive_ops_t() { add("+", ast::binary_op::add)("-", ast::binary_op::sub); }
};
inline additive_ops_t const additive_ops;

struct multiplicative_ops_t : x3::symbols<ast::binary_op> {
  multiplicative_ops_t() { add("*", ast::binary_op::mul)("/", ast::binary_op::div); }
};
inline multiplicative_ops_t const multiplicative_ops;


// ---------------------------------------------------------------- rule declarations

struct script_class : error_handler_base, annotate_span {};
struct statement_class : annotate_span {};
struct use_stmt_class : annotate_span {};
struct time_stmt_class : annotate_span {};
struct show_stmt_class : annotate_span {};
struct show_what_class : annotate_span {};
struct report_stmt_class : annotate_span {};
struct history_stmt_class : annotate_span {};
struct as_of_class : annotate_span {};
struct pipeline_class : annotate_span {};
struct source_class : annotate_span {};
struct pipe_op_class : annotate_span {};
struct where_op_class : annotate_span {};
struct let_op_class : annotate_span {};
struct let_binding_class : annotate_span {};
struct measure_class : annotate_span {};
struct summarize_op_class : annotate_span {};
struct named_list_class : annotate_span {};
struct named_expr_class : annotate_span {};
struct order_op_class : annotate_span {};
struct order_item_class : annotate_span {};
struct limit_op_class : annotate_span {};
struct select_op_class : annotate_span {};
struct per_op_class : annotate_span {};
struct measure_expr_class : annotate_span {};
struct spelled_duration_class : annotate_span {};
struct time_span_class : annotate_span {};
struct milestone_class : annotate_span {};
struct pattern_class : annotate_span {};
struct incident_ref_class : annotate_span {};
struct expr_class : annotate_span {};
struct and_expr_class : annotate_span {};
struct not_expr_class : annotate_span {};
struct logical_not_class : annotate_span {};
struct cmp_expr_class : annotate_span {};
struct in_tail_class : annotate_span {};
struct is_tail_class : annotate_span {};
struct add_expr_class : annotate_span {};
struct mul_expr_class : annotate_span {};
struct unary_expr_class : annotate_span {};
struct negation_class : annotate_span {};
struct primary_class : annotate_span {};
struct paren_class : annotate_paren {};
struct call_class : annotate_span {};
struct arg_list_class : annotate_span {};
struct identifier_class : annotate_span {};
struct string_lit_class : annotate_span {};
struct number_lit_class : annotate_span {};
struct duration_lit_class : annotate_span {};
struct timestamp_lit_class : annotate_span {};
struct null_lit_class : annotate_span {};
struct bool_lit_class : annotate_span {};

using script_type = x3::rule<script_class, std::vector<ast::statement>>;
BOOST_SPIRIT_DECLARE(script_type)

script_type const script = names::statement;
x3::rule<statement_class, ast::statement> const statement = names::statement;
x3::rule<use_stmt_class, ast::use_stmt> const use_stmt = "use";
x3::rule<time_stmt_class, ast::time_stmt> const time_stmt = "time";
x3::rule<show_stmt_class, ast::show_stmt> const show_stmt = "show";
x3::rule<show_what_class, ast::show_stmt> const show_what = names::show_what;
x3::rule<report_stmt_class, ast::report_stmt> const report_stmt = "report";
x3::rule<history_stmt_class, ast::history_stmt> const history_stmt = "history";
x3::rule<as_of_class, ast::timestamp_lit> const as_of = "as of TIMESTAMP";
x3::rule<pipeline_class, ast::pipeline> const pipeline = "pipeline";
x3::rule<source_class, ast::source> const source = "a source (incidents, events, timeline, log)";
x3::rule<pipe_op_class, ast::pipe_op> const pipe_op = names::pipe_op;
x3::rule<where_op_class, ast::where_op> const where_op = "where";
x3::rule<let_op_class, ast::let_op> const let_op = "let";
x3::rule<let_binding_class, ast::let_binding> const let_binding = names::binding;
x3::rule<measure_class, ast::expr> const measure = names::measure;
x3::rule<summarize_op_class, ast::summarize_op> const summarize_op = "summarize";
x3::rule<named_list_class, std::vector<ast::named_expr>> const named_list = names::expression;
x3::rule<named_expr_class, ast::named_expr> const named_expr = names::expression;
x3::rule<order_op_class, ast::order_op> const order_op = "order by";
x3::rule<order_item_class, ast::order_item> const order_item = names::expression;
x3::rule<limit_op_class, ast::limit_op> const limit_op = "limit";
x3::rule<select_op_class, ast::select_op> const select_op = "select";
x3::rule<per_op_class, ast::per_op> const per_op = "per";
x3::rule<measure_expr_class, ast::measure> const measure_expr = "a measure";
x3::rule<spelled_duration_class, ast::duration_lit> const spelled_duration = "a duration";
x3::rule<time_span_class, ast::time_between> const time_span = "time from A to B";
x3::rule<milestone_class, ast::milestone> const milestone = names::milestone;
x3::rule<pattern_class, ast::pattern> const pattern = names::pattern;
x3::rule<incident_ref_class, ast::incident_ref> const incident_ref = names::incident;
x3::rule<expr_class, ast::expr> const expr = names::expression;
x3::rule<and_expr_class, ast::expr> const and_expr = names::expression;
x3::rule<not_expr_class, ast::expr> const not_expr = names::expression;
x3::rule<logical_not_class, ast::unary> const logical_not = names::expression;
x3::rule<cmp_expr_class, ast::expr> const cmp_expr = names::expression;
x3::rule<in_tail_class, ast::in_list> const in_tail = "in (...)";
x3::rule<is_tail_class, ast::is_null> const is_tail = "is null";
x3::rule<add_expr_class, ast::expr> const add_expr = names::expression;
x3::rule<mul_expr_class, ast::expr> const mul_expr = names::expression;
x3::rule<unary_expr_class, ast::expr> const unary_expr = names::expression;
x3::rule<negation_class, ast::unary> const negation = names::expression;
x3::rule<primary_class, ast::expr> const primary = names::expression;
x3::rule<paren_class, ast::expr> const paren = names::expression;
x3::rule<call_class, ast::call> const call = "a function call";
x3::rule<arg_list_class, std::vector<ast::expr>> const arg_list = names::expression;
x3::rule<identifier_class, ast::identifier> const identifier = "a name";
x3::rule<string_lit_class, ast::string_lit> const string_lit = "a string";
x3::rule<number_lit_class, ast::number_lit> const number_lit = "a number";
x3::rule<duration_lit_class, ast::duration_lit> const duration_lit = "a duration";
x3::rule<timestamp_lit_class, ast::timestamp_lit> const timestamp_lit = "a timestamp";
x3::rule<null_lit_class, ast::null_lit> const null_lit = "null";
x3::rule<bool_lit_class, ast::bool_lit> const bool_lit = "true or false";

// ---------------------------------------------------------------- small named pieces
// Targets of `>` that need a name of their own.


auto const terminator = x3::rule<struct terminator_id>{names::terminator} = +x3::lit(';') | x3::eoi;
auto const end_of_script = x3::rule<struct end_of_script_id>{names::statement} = x3::eoi;
auto const from_kw = x3::rule<struct from_kw_id>{"'from'"} = kw("from");
auto const to_kw = x3::rule<struct to_kw_id>{"'to'"} = kw("to");
auto const of_kw = x3::rule<struct of_kw_id>{"'of'"} = kw("of");
auto const by_kw = x3::rule<struct by_kw_id>{"'by'"} = kw("by");
auto const component_kw = x3::rule<struct component_kw_id>{"'component'"} = kw("component");
auto const at_kw = x3::rule<struct at_kw_id>{"'at'"} = kw("at");
auto const equals = x3::rule<struct equals_id>{"'='"} = x3::lit('=');
auto const close_paren = x3::rule<struct close_paren_id>{"')'"} = x3::lit(')');
auto const null_tail = x3::rule<struct null_tail_id, bool>{"'null' or 'not null'"} =
    (kw("not") >> kw("null") >> x3::attr(true)) | (kw("null") >> x3::attr(false));
// A bare word naming a status, channel, metric or state; never a word that continues the statement.
auto const name_word = !stop_word >> bare_word;
auto const status_name = x3::rule<struct status_name_id, std::string>{"a status name"} = name_word;
auto const channel_name = x3::rule<struct channel_name_id, std::string>{"a channel name"} = name_word | quoted;
auto const author_name = x3::rule<struct author_name_id, std::string>{"an author in quotes"} = quoted;
auto const component_name = x3::rule<struct component_name_id, std::string>{"a component name in quotes"} = quoted;
auto const metric_name = x3::rule<struct metric_name_id, std::string>{"a metric name"} = name_word | quoted;
auto const file_name = x3::rule<struct file_name_id, std::string>{"a file name in quotes"} = quoted;
auto const component_state = name_word;
auto const signed_number = x3::rule<struct signed_number_id, double>{"a number"} =
    x3::lexeme[-x3::char_('-') >> pattern_number][([](auto& ctx) {
      auto& a = x3::_attr(ctx);
      double const v = fusion::at_c<1>(a).value;
      x3::_val(ctx) = fusion::at_c<0>(a) ? -v : v;
    })];
auto const integer = x3::rule<struct integer_id, std::int64_t>{"an integer"} =
    x3::lexeme[x3::uint_parser<std::int64_t>{} >> !(x3::alnum | x3::char_("_."))];
auto const operand = x3::rule<struct operand_id, ast::expr>{names::operand} = add_expr;

// ---------------------------------------------------------------- semantic actions

namespace act {

using x3::_attr;
using x3::_val;

inline auto const assign = [](auto& ctx) { _val(ctx) = std::move(_attr(ctx)); };

template <typename Context>
void append_binary(Context const& ctx, ast::binary_op op, ast::expr&& rhs) {
  ast::expr& lhs = _val(ctx);
  std::uint32_t const begin = detail::tag_of(lhs).offset;
  std::uint32_t const end = detail::end_of(rhs);
  detail::count_operator(ctx, detail::tag_of(rhs).offset);
  ast::binary b;
  b.offset = begin;
  b.length = end - begin;
  b.op = op;
  b.lhs = std::move(lhs);
  b.rhs = std::move(rhs);
  lhs = std::move(b);
}

// `*(kw("or") > operand)`: the operator is fixed.
template <ast::binary_op Op>
struct fold_fixed {
  template <typename Context>
  void operator()(Context const& ctx) const {
    append_binary(ctx, Op, std::move(_attr(ctx)));
  }
};

// `*(operator_symbol > operand)`: the operator comes with the operand.
inline auto const fold = [](auto& ctx) {
  auto& a = _attr(ctx);
  append_binary(ctx, fusion::at_c<0>(a), std::move(fusion::at_c<1>(a)));
};

// `a not contains b`: the operator's node under a `not` spanning the same text.
inline auto const fold_negated = [](auto& ctx) {
  fold(ctx);
  ast::expr& e = _val(ctx);
  ast::unary u;
  u.offset = detail::tag_of(e).offset;
  u.length = detail::tag_of(e).length;
  u.op = ast::unary_op::logical_not;
  u.operand = std::move(e);
  e = std::move(u);
};

// Attaches `in (...)` / `is null` (parsed into _attr, spanning the tail only) to the operand in _val.
inline auto const attach_tail = [](auto& ctx) {
  auto& tail = _attr(ctx);
  ast::expr& operand = _val(ctx);
  std::uint32_t const begin = detail::tag_of(operand).offset;
  detail::count_operator(ctx, tail.offset);
  tail.length = tail.offset + tail.length - begin;
  tail.offset = begin;
  tail.operand = std::move(operand);
  operand = std::move(tail);
};

template <ast::unary_op Op>
struct make_unary {
  template <typename Context>
  void operator()(Context const& ctx) const {
    detail::count_operator(ctx, detail::tag_of(_attr(ctx)).offset);
    _val(ctx).op = Op;
    _val(ctx).operand = std::move(_attr(ctx));
  }
};

template <typename T>
struct set_kind {
  T kind;
  template <typename Context>
  void operator()(Context const& ctx) const {
    _val(ctx).kind = kind;
  }
};
template <typename T>
set_kind<T> kind(T k) {
  return {k};
}

inline std::string lowercase(std::string s) { return errors::lowercase(s); }

}  // namespace act

// ---------------------------------------------------------------- statements

auto const script_def = *x3::lit(';') >> *(statement > terminator) > end_of_script;

auto const statement_def =
    statement_start >> (use_stmt | time_stmt | show_stmt | report_stmt | history_stmt | write_stmt | pipeline);

// `as of 2024-12-11T23:30Z`: the view a statement reads (what had been recorded by then).
auto const as_of_def = kw("as") > of_kw > timestamp_lit;

// An event id: a quoted string, or a bare run of the characters ids are made of.
auto const event_id = x3::rule<struct event_id_id, std::string>{"an event id"} =
    quoted | x3::lexeme[+(x3::alnum | x3::char_("_.:/@+-"))];

auto const history_stmt_def = build[(kw("history") > event_id)[([](auto& ctx) {
  x3::_val(ctx).event_id = std::move(x3::_attr(ctx));
})]];

auto const use_stmt_def = build[(kw("use") > incident_ref)[([](auto& ctx) {
  x3::_val(ctx).incident = std::move(x3::_attr(ctx));
})]];

auto const time_stmt_def = time_span >> -(kw("in") > incident_ref) >> -as_of;

auto const show_stmt_def = kw("show") > show_what;

auto const show_what_def = build[
  ( kw("incidents")[([](auto& ctx) { x3::_val(ctx).what = ast::show_kind::incidents; })]
  | kw("types")[([](auto& ctx) { x3::_val(ctx).what = ast::show_kind::types; })]
  | (kw("sources")[([](auto& ctx) { x3::_val(ctx).what = ast::show_kind::sources; })] >>
     -incident_ref[([](auto& ctx) { x3::_val(ctx).incident = std::move(x3::_attr(ctx)); })])
  ) >> -as_of[([](auto& ctx) { x3::_val(ctx).as_of = std::move(x3::_attr(ctx)); })]];

// `format` is no reserved word: `report format html;` is the current incident's report, and
// `report format-test;` the report of incident `format-test`.
auto const format_word = x3::lexeme[x3::no_case[x3::lit("format")] >> !(x3::alnum | x3::char_("_.-"))];
auto const report_format =
    x3::rule<struct report_format_id, std::string>{"a report format: markdown or html"} =
        x3::raw[kw("markdown") | kw("html")];
auto const report_stmt_def =
    kw("report") >> -(!format_word >> incident_ref) >> -(format_word > report_format) >> -(kw("to") > file_name) >>
    -as_of;

// An incident id is a slug; the reserved words are not (`report to "x.md"`).
auto const incident_ref_def = build[(!reserved >> x3::raw[slug])[([](auto& ctx) {
  auto const& r = x3::_attr(ctx);
  x3::_val(ctx).id.assign(r.begin(), r.end());
})]];

// ---------------------------------------------------------------- pipelines

auto const pipeline_def = source >> *(x3::lit('|') > pipe_op);

auto const source_def = build[
    ( (kw("incidents")[act::kind(ast::source_kind::incidents)] >>
       -(kw("overlapping")[([](auto& ctx) { x3::_val(ctx).overlapping = true; })] >>  // no INCIDENT: the current one
         -incident_ref[([](auto& ctx) { x3::_val(ctx).incident = std::move(x3::_attr(ctx)); })]))
    | kw("events")[act::kind(ast::source_kind::events)]
    | kw("log")[act::kind(ast::source_kind::log)]
    | (kw("timeline") >> -incident_ref)[([](auto& ctx) {  // no INCIDENT: the current one
        x3::_val(ctx).kind = ast::source_kind::timeline;
        if (auto& r = x3::_attr(ctx)) x3::_val(ctx).incident = std::move(*r);
      })]
    )
    >> -as_of[([](auto& ctx) { x3::_val(ctx).as_of = std::move(x3::_attr(ctx)); })]
    >> -(kw("where") > expr)[([](auto& ctx) { x3::_val(ctx).where = std::move(x3::_attr(ctx)); })]];

auto const pipe_op_def = where_op | let_op | summarize_op | order_op | limit_op | select_op | per_op;

auto const where_op_def = build[(kw("where") > expr)[([](auto& ctx) {
  x3::_val(ctx).condition = std::move(x3::_attr(ctx));
})]];

inline auto const push_binding = [](auto& ctx) { x3::_val(ctx).bindings.push_back(std::move(x3::_attr(ctx))); };
auto const let_op_def =
    build[kw("let") >> x3::expect[let_binding][push_binding] >> *(',' > let_binding)[push_binding]];

auto const let_binding_def = build[(identifier > equals > measure)[([](auto& ctx) {
  auto& v = x3::_val(ctx);
  auto& a = x3::_attr(ctx);
  v.name = std::move(fusion::at_c<0>(a));
  v.kind = ast::measure_kind::expression;
  v.value = std::move(fusion::at_c<1>(a));
})]];

// A binding's value: any expression, measures included (`time from A to B`, `count of P`, ...).
auto const measure_def = expr;

// `summarize by org` (no aggregate) lists the groups, one row each.
auto const summarize_op_def = kw("summarize") >>
                              ((&kw("by") >> x3::attr(std::vector<ast::named_expr>{})) | x3::expect[named_list]) >>
                              -(kw("by") > named_list);

auto const named_list_def = named_expr >> *(',' > named_expr);

// `name = expr` binds a name; an expression never starts with `NAME =` here.
auto const named_expr_def = build[
    -(identifier >> '=')[([](auto& ctx) { x3::_val(ctx).name = std::move(x3::_attr(ctx)); })]
    >> expr[([](auto& ctx) { x3::_val(ctx).value = std::move(x3::_attr(ctx)); })]];

inline auto const push_item = [](auto& ctx) { x3::_val(ctx).items.push_back(std::move(x3::_attr(ctx))); };
auto const order_op_def = build[kw("order") >> x3::expect[by_kw] >> x3::expect[order_item][push_item] >>
                                 *(',' > order_item)[push_item]];

auto const order_item_def = build[
    expr[([](auto& ctx) { x3::_val(ctx).value = std::move(x3::_attr(ctx)); })]
    >> -(kw("asc") | kw("desc")[([](auto& ctx) { x3::_val(ctx).descending = true; })])];

auto const limit_op_def = build[(kw("limit") > integer)[([](auto& ctx) { x3::_val(ctx).count = x3::_attr(ctx); })]];

auto const select_op_def = build[(kw("select") > named_list)[([](auto& ctx) {
  x3::_val(ctx).items = std::move(x3::_attr(ctx));
})]];

auto const per_unit = x3::rule<struct per_unit_id, std::string>{"component, year, quarter, month, week, day or hour"} =
    x3::lexeme[x3::no_case[per_units] >> !(x3::alnum | x3::lit('_'))];
auto const per_op_def = build[(kw("per") > per_unit)[([](auto& ctx) { x3::_val(ctx).unit = x3::_attr(ctx); })] >>
                              -string_lit[([](auto& ctx) { x3::_val(ctx).zone = std::move(x3::_attr(ctx)); })]];

// ---------------------------------------------------------------- milestones and patterns

auto const time_span_def = kw("time") > from_kw > milestone > to_kw > milestone;

// A milestone that is not start/end is a pattern, so a bad milestone reports the pattern
// that was expected ("expected a pattern (...) after 'to'").
auto const milestone_def = build[
    kw("start")[act::kind(ast::milestone_kind::start)]
  | kw("end")[act::kind(ast::milestone_kind::end)]
  | ( ( (kw("first") > pattern)[([](auto& ctx) {
          x3::_val(ctx).kind = ast::milestone_kind::first;
          x3::_val(ctx).pat = std::move(x3::_attr(ctx));
        })]
      | (kw("last") > pattern)[([](auto& ctx) {
          x3::_val(ctx).kind = ast::milestone_kind::last;
          x3::_val(ctx).pat = std::move(x3::_attr(ctx));
        })]
      | x3::expect[pattern][([](auto& ctx) {
          x3::_val(ctx).kind = ast::milestone_kind::next;
          x3::_val(ctx).pat = std::move(x3::_attr(ctx));
        })]
      )
      >> -(kw("after") >> nested(5)[x3::expect[milestone]])[([](auto& ctx) {
           x3::_val(ctx).after = x3::forward_ast<ast::milestone>(std::move(x3::_attr(ctx)));
         })]
    )];

auto const pattern_def = build[
    ( x3::lexeme[x3::no_case[simple_patterns] >> !(x3::alnum | x3::lit('_'))][([](auto& ctx) {
        x3::_val(ctx).kind = x3::_attr(ctx);
      })]
    | (kw("status") >> -status_name)[([](auto& ctx) {
        x3::_val(ctx).kind = ast::pattern_kind::status;
        if (auto& n = x3::_attr(ctx)) x3::_val(ctx).name = act::lowercase(std::move(*n));
      })]
    | ( kw("comm")[act::kind(ast::pattern_kind::comm)]
        >> -(kw("on") > channel_name)[([](auto& ctx) { x3::_val(ctx).channel = std::move(x3::_attr(ctx)); })]
        >> -(kw("by") > author_name)[([](auto& ctx) { x3::_val(ctx).author = std::move(x3::_attr(ctx)); })])
    // `component` alone is any component event; a bare word after it is a name left unquoted.
    | ( kw("component")[act::kind(ast::pattern_kind::component)]
        >> ( (!name_word >> -( component_name[([](auto& ctx) { x3::_val(ctx).component = std::move(x3::_attr(ctx)); })]
                               >> -component_state[([](auto& ctx) { x3::_val(ctx).state = std::move(x3::_attr(ctx)); })]))
           | x3::expect[component_name]))
    | (kw("metric") >> x3::expect[metric_name] >> -(metric_ops > signed_number))[([](auto& ctx) {
        auto& a = x3::_attr(ctx);
        x3::_val(ctx).kind = ast::pattern_kind::metric;
        x3::_val(ctx).metric = std::move(fusion::at_c<0>(a));
        if (auto& cmp = fusion::at_c<1>(a)) {
          x3::_val(ctx).op = fusion::at_c<0>(*cmp);
          x3::_val(ctx).threshold = fusion::at_c<1>(*cmp);
        }
      })]
    | (x3::lexeme[pattern_number >> '%'] > metric_name)[([](auto& ctx) {
        auto& a = x3::_attr(ctx);
        x3::_val(ctx).kind = ast::pattern_kind::metric;
        x3::_val(ctx).threshold = fusion::at_c<0>(a).value;
        x3::_val(ctx).op = ast::binary_op::ge;
        x3::_val(ctx).metric = std::move(fusion::at_c<1>(a));
      })]
    )
    >> -(kw("where") > expr)[([](auto& ctx) { x3::_val(ctx).where = std::move(x3::_attr(ctx)); })]];

// ---------------------------------------------------------------- expressions

auto const expr_def = build[and_expr[act::assign] >> *(kw("or") > and_expr)[act::fold_fixed<ast::binary_op::logical_or>{}]];

auto const and_expr_def =
    build[not_expr[act::assign] >> *(kw("and") > not_expr)[act::fold_fixed<ast::binary_op::logical_and>{}]];

auto const not_expr_def = logical_not | cmp_expr;

auto const logical_not_def = build[(kw("not") > nested(3)[not_expr])[act::make_unary<ast::unary_op::logical_not>{}]];

auto const cmp_expr_def = build[
    add_expr[act::assign]
    >> -( (comparison_ops > operand)[act::fold]
        | (x3::lexeme[x3::no_case[word_ops] >> !(x3::alnum | x3::lit('_'))] > operand)[act::fold]
        | (kw("not") >> x3::lexeme[x3::no_case[word_ops] >> !(x3::alnum | x3::lit('_'))] > operand)[act::fold_negated]
        | in_tail[act::attach_tail]
        | is_tail[act::attach_tail])];

// `in` needs its `(` or a list field (`"API" in services`): otherwise the word ends the
// expression (`... in INCIDENT`).
auto const in_tail_def = build[
    (-(kw("not") >> x3::attr(true)) >> kw("in") >>
     ( ('(' >> nested(1)[x3::expect[arg_list] > close_paren])[([](auto& ctx) {
          x3::_val(ctx).items = std::move(x3::_attr(ctx));
        })]
     | (&kw("services") >> identifier)[([](auto& ctx) { x3::_val(ctx).list = std::move(x3::_attr(ctx)); })]
     ))[([](auto& ctx) { x3::_val(ctx).negated = fusion::at_c<0>(x3::_attr(ctx)).has_value(); })]];

auto const is_tail_def = build[(kw("is") > null_tail)[([](auto& ctx) { x3::_val(ctx).negated = x3::_attr(ctx); })]];

auto const add_expr_def = build[mul_expr[act::assign] >> *(additive_ops > mul_expr)[act::fold]];

auto const mul_expr_def = build[unary_expr[act::assign] >> *(multiplicative_ops > unary_expr)[act::fold]];

auto const unary_expr_def = negation | primary;

auto const negation_def = build[(x3::lit('-') > nested(1)[unary_expr])[act::make_unary<ast::unary_op::negate>{}]];

// Timestamps and durations before numbers: they start with digits. Measures before calls and
// names: they start with words (`count of`, `status at`).
auto const primary_def = paren | timestamp_lit | duration_lit | spelled_duration | number_lit | string_lit | null_lit |
                         bool_lit | measure_expr | call | identifier;

auto const paren_def = '(' >> nested(1)[x3::expect[expr] > close_paren];

// `f(a, b)`, or `count(where CONDITION)`.
auto const call_def = build[
    (identifier >> '(')[([](auto& ctx) { x3::_val(ctx).function = std::move(x3::_attr(ctx)); })]
    >> nested(1)[
         -( (kw("where") > expr)[([](auto& ctx) {
              x3::_val(ctx).where = true;
              x3::_val(ctx).args.push_back(std::move(x3::_attr(ctx)));
            })]
          | arg_list[([](auto& ctx) { x3::_val(ctx).args = std::move(x3::_attr(ctx)); })])
         > close_paren]];

// `2 hours`, `1 hour 30 minutes`, `1.5 days`: a number and a unit word, not followed by `(`.
auto const spelled_duration_def = build[+(number >> x3::lexeme[x3::no_case[duration_units] >>
                                                              !(x3::alnum | x3::char_("_("))])[([](auto& ctx) {
  auto& a = x3::_attr(ctx);
  const double ms = static_cast<double>(x3::_val(ctx).ms) + fusion::at_c<0>(a).value * fusion::at_c<1>(a) + 0.5;
  // 2^63 ms and beyond do not fit: an error, not a wrapped value.
  if (!(ms < 9.2233720368547758e18))
    throw message_failure<iterator_type>(x3::_where(ctx).begin(),
                                         "duration out of range (at most 106751991167 days, about 292 million years)");
  x3::_val(ctx).ms = static_cast<std::int64_t>(ms);
})]];

// Measures of an incident (compiler: they need incident rows).
auto const moment = x3::rule<struct moment_id, ast::expr>{"a moment (a timestamp or an expression)"} = add_expr;
auto const measure_expr_def = build[
    (&(kw("time") >> kw("from")) >> time_span)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::measure_kind::time;
      x3::_val(ctx).span = std::move(x3::_attr(ctx));
    })]
  | (kw("time") >> kw("in") > pattern)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::measure_kind::time_in;
      x3::_val(ctx).pat = std::move(x3::_attr(ctx));
    })]
  | (kw("count") >> kw("of") >> kw("status") >> kw("changes"))[act::kind(ast::measure_kind::status_changes)]
  | (kw("count") >> kw("of") >> kw("overlapping"))[act::kind(ast::measure_kind::overlapping)]
  | (kw("count") >> kw("of") > pattern)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::measure_kind::count;
      x3::_val(ctx).pat = std::move(x3::_attr(ctx));
    })]
  | (x3::lexeme[x3::no_case[value_functions] >> !(x3::alnum | x3::lit('_'))] >> kw("value") > of_kw > pattern)[(
      [](auto& ctx) {
        x3::_val(ctx).kind = fusion::at_c<0>(x3::_attr(ctx));
        x3::_val(ctx).pat = std::move(fusion::at_c<1>(x3::_attr(ctx)));
      })]
  | (x3::lexeme[x3::no_case[gap_functions] >> !(x3::alnum | x3::lit('_'))] >> kw("gap") > of_kw > pattern)[(
      [](auto& ctx) {
        x3::_val(ctx).kind = fusion::at_c<0>(x3::_attr(ctx));
        x3::_val(ctx).pat = std::move(fusion::at_c<1>(x3::_attr(ctx)));
      })]
  | (kw("status") >> kw("at") > moment)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::measure_kind::status_at;
      x3::_val(ctx).at = std::move(x3::_attr(ctx));
    })]
  | (kw("state") >> kw("of") > component_kw > component_name > at_kw > moment)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::measure_kind::state_at;
      x3::_val(ctx).component = std::move(fusion::at_c<0>(x3::_attr(ctx)));
      x3::_val(ctx).at = std::move(fusion::at_c<1>(x3::_attr(ctx)));
    })]
  | (kw("open") >> kw("at") > moment)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::measure_kind::open_at;
      x3::_val(ctx).at = std::move(x3::_attr(ctx));
    })]];

auto const arg_list_def = expr >> *(',' > expr);

auto const identifier_def = build[(!reserved >> x3::raw[bare_word])[([](auto& ctx) {
  auto const& r = x3::_attr(ctx);
  x3::_val(ctx).name.assign(r.begin(), r.end());
})]];

auto const string_lit_def = build[quoted[([](auto& ctx) { x3::_val(ctx).value = std::move(x3::_attr(ctx)); })]];
auto const number_lit_def = number;
auto const duration_lit_def = duration;
auto const timestamp_lit_def = timestamp;
auto const null_lit_def = build[kw("null")];
auto const bool_lit_def = build[kw("true")[([](auto& ctx) { x3::_val(ctx).value = true; })] |
                                kw("false")[([](auto& ctx) { x3::_val(ctx).value = false; })]];

BOOST_SPIRIT_DEFINE(script, statement, use_stmt, time_stmt, show_stmt, show_what, report_stmt, history_stmt, as_of,
                    incident_ref, pipeline,
                    source, pipe_op, where_op, let_op, let_binding, measure, summarize_op, named_list, named_expr,
                    order_op, order_item, limit_op, select_op, per_op, measure_expr, spelled_duration, time_span, milestone, pattern, expr, and_expr, not_expr,
                    logical_not, cmp_expr, in_tail, is_tail, add_expr, mul_expr, unary_expr, negation, primary, paren,
                    call, arg_list, identifier, string_lit, number_lit, duration_lit, timestamp_lit, null_lit, bool_lit)

}  // namespace pmdb::query::parser
