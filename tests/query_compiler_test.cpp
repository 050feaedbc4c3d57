// query::compile: the SQL it produces is run on real stores (the demo incidents and a generated
// one) and the answers are checked; errors are checked with their exact message and position.
// Most ASTs are built by hand here (offsets into the query text where a position matters), so
// that the compiler is tested on its own; the last cases go through query::parse, and the
// golden scripts of tests/golden/queries run the whole path in the pmdb binary.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "core/event_store.hpp"
#include "core/store_access.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "golden.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "test_util.hpp"

using namespace pmdb;
namespace q = pmdb::query;
namespace ast = pmdb::query::ast;
using ast::binary_op;
using ast::milestone_kind;
using ast::pattern_kind;

namespace {

// ------------------------------------------------------------------ AST builders

template <class N>
N tagged_at(N n, std::string_view text, std::string_view piece, std::size_t from = 0) {
  const auto off = text.find(piece, from);
  REQUIRE_MESSAGE(off != std::string_view::npos, piece);
  n.offset = static_cast<std::uint32_t>(off);
  n.length = static_cast<std::uint32_t>(piece.size());
  return n;
}

ast::identifier ident(std::string name) {
  ast::identifier i;
  i.name = std::move(name);
  return i;
}
ast::expr id(std::string name) { return ast::expr(ident(std::move(name))); }
ast::expr id_at(std::string name, std::string_view text, std::size_t from = 0) {
  return ast::expr(tagged_at(ident(name), text, name, from));
}
ast::expr str(std::string v) {
  ast::string_lit s;
  s.value = std::move(v);
  return ast::expr(s);
}
ast::expr num(double v, bool integer = true) {
  ast::number_lit n;
  n.value = v;
  n.is_integer = integer;
  return ast::expr(n);
}
ast::expr dur(std::int64_t ms) {
  ast::duration_lit d;
  d.ms = ms;
  return ast::expr(d);
}
ast::expr ts_lit(std::int64_t ms) {
  ast::timestamp_lit t;
  t.ms = ms;
  return ast::expr(t);
}
ast::expr bin(ast::expr l, binary_op op, ast::expr r, std::uint32_t offset = 0, std::uint32_t length = 0) {
  ast::binary b;
  b.lhs = std::move(l);
  b.op = op;
  b.rhs = std::move(r);
  b.offset = offset;
  b.length = length;
  return ast::expr(ast::x3::forward_ast<ast::binary>(std::move(b)));
}
ast::expr call(std::string f, std::vector<ast::expr> args, std::uint32_t offset = 0) {
  ast::call c;
  c.function = ident(std::move(f));
  c.function.offset = offset;
  c.function.length = static_cast<std::uint32_t>(c.function.name.size());
  c.args = std::move(args);
  c.offset = offset;
  return ast::expr(ast::x3::forward_ast<ast::call>(std::move(c)));
}
ast::expr in(ast::expr operand, std::vector<ast::expr> items, bool negated = false) {
  ast::in_list l;
  l.operand = std::move(operand);
  l.items = std::move(items);
  l.negated = negated;
  return ast::expr(ast::x3::forward_ast<ast::in_list>(std::move(l)));
}
ast::expr not_(ast::expr e) {
  ast::unary u;
  u.op = ast::unary_op::logical_not;
  u.operand = std::move(e);
  return ast::expr(ast::x3::forward_ast<ast::unary>(std::move(u)));
}
ast::named_expr named(ast::expr e, std::string name = {}) {
  ast::named_expr n;
  n.value = std::move(e);
  if (!name.empty()) n.name = ident(std::move(name));
  return n;
}

ast::pattern pat(pattern_kind k) {
  ast::pattern p;
  p.kind = k;
  return p;
}
ast::pattern status_pat(std::string name) {
  ast::pattern p = pat(pattern_kind::status);
  p.name = std::move(name);
  return p;
}
ast::pattern metric_pat(std::string name, binary_op op, double threshold) {
  ast::pattern p = pat(pattern_kind::metric);
  p.metric = std::move(name);
  p.op = op;
  p.threshold = threshold;
  return p;
}
ast::milestone ms(milestone_kind k, ast::pattern p = {}) {
  ast::milestone m;
  m.kind = k;
  m.pat = std::move(p);
  return m;
}
ast::milestone after(ast::milestone m, ast::milestone ref) {
  m.after = ast::x3::forward_ast<ast::milestone>(std::move(ref));
  return m;
}
ast::time_between span(ast::milestone from, ast::milestone to) {
  ast::time_between t;
  t.from = std::move(from);
  t.to = std::move(to);
  return t;
}
ast::incident_ref incident(std::string id) {
  ast::incident_ref r;
  r.id = std::move(id);
  return r;
}
ast::statement time_stmt(ast::time_between t, std::optional<std::string> in = {}) {
  ast::time_stmt s;
  s.span = std::move(t);
  if (in) s.incident = incident(*in);
  return ast::statement(s);
}

ast::pipeline pipe(ast::source_kind k, std::optional<std::string> inc = {}, std::optional<ast::expr> where = {}) {
  ast::pipeline p;
  p.from.kind = k;
  if (inc) p.from.incident = incident(*inc);
  p.from.where = std::move(where);
  return p;
}
ast::pipe_op where_(ast::expr e) {
  ast::where_op w;
  w.condition = std::move(e);
  return ast::pipe_op(w);
}
ast::pipe_op limit_(std::int64_t n) {
  ast::limit_op l;
  l.count = n;
  return ast::pipe_op(l);
}
ast::pipe_op select_(std::vector<ast::named_expr> items) {
  ast::select_op s;
  s.items = std::move(items);
  return ast::pipe_op(s);
}
ast::pipe_op summarize_(std::vector<ast::named_expr> aggs, std::vector<ast::named_expr> by = {}) {
  ast::summarize_op s;
  s.aggregates = std::move(aggs);
  s.by = std::move(by);
  return ast::pipe_op(s);
}
ast::pipe_op order_(std::vector<std::pair<ast::expr, bool>> items) {
  ast::order_op o;
  for (auto& [e, desc] : items) {
    ast::order_item i;
    i.value = std::move(e);
    i.descending = desc;
    o.items.push_back(std::move(i));
  }
  return ast::pipe_op(o);
}
ast::let_binding let_time(std::string name, ast::time_between t) {
  ast::let_binding b;
  b.name = ident(std::move(name));
  b.kind = ast::measure_kind::time;
  b.span = std::move(t);
  return b;
}
ast::let_binding let_measure(std::string name, ast::measure_kind k, ast::pattern p) {
  ast::let_binding b;
  b.name = ident(std::move(name));
  b.kind = k;
  b.pat = std::move(p);
  return b;
}
ast::let_binding let_expr(std::string name, ast::expr e) {
  ast::let_binding b;
  b.name = ident(std::move(name));
  b.kind = ast::measure_kind::expression;
  b.value = std::move(e);
  return b;
}
ast::pipe_op let_(std::vector<ast::let_binding> bs) {
  ast::let_op l;
  l.bindings = std::move(bs);
  return ast::pipe_op(l);
}

// ------------------------------------------------------------------ stores and running

std::int64_t at(std::string_view iso) { return parse_timestamp(iso).value().ms; }
constexpr std::int64_t minutes(std::int64_t n) { return n * 60'000; }
constexpr std::int64_t hours(std::int64_t n) { return n * 3'600'000; }

void import_text(event_store& s, const std::string& text, std::string_view name) {
  std::istringstream in(text);
  auto r = import_jsonl(s, in, name);
  REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
}

event_store& demo() {
  static event_store s = [] {
    auto st = event_store::open(":memory:", {.durable = false}).value();
    for (const char* f : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl"})
      import_text(st, test::read_file(test::source_dir() / f), f);
    return st;
  }();
  return s;
}

const q::catalog& demo_catalog() {
  static const q::catalog c = q::catalog::of(demo().incident_ids());
  return c;
}

constexpr const char* openai = "openai-2024-12-11";
constexpr const char* meta = "meta-2024-12-11";

q::compiled_query compiled(const ast::statement& st, const q::catalog& cat, const q::context& ctx = {},
                           std::string_view text = "") {
  auto a = q::compile(st, cat, ctx, text);
  REQUIRE_MESSAGE(a, (a ? "" : a.error().message));
  const auto* rq = std::get_if<q::run_query>(&*a);
  REQUIRE(rq);
  return rq->query;
}

result_set run(const event_store& s, const q::compiled_query& cq) {
  auto r = s.query(cq.sql, cq.params, cq.columns);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message + "\nSQL: " + cq.sql));
  return *r;
}

result_set run(const ast::statement& st, const q::context& ctx = {}) {
  return run(demo(), compiled(st, demo_catalog(), ctx));
}

std::vector<std::string> names(const result_set& r) {
  std::vector<std::string> n;
  for (const auto& c : r.columns) n.push_back(c.name);
  return n;
}

bool is_null(const value& v) { return std::holds_alternative<null_value>(v); }
std::int64_t dur_ms(const value& v) { return std::get<duration>(v).ms; }
const std::string& text_of(const value& v) { return std::get<std::string>(v); }

// The one duration a single-incident `time` returns (-1 for NULL).
std::int64_t time_of(ast::time_between t, std::optional<std::string> in, const q::context& ctx = {}) {
  auto r = run(time_stmt(std::move(t), std::move(in)), ctx);
  REQUIRE(r.rows.size() == 1);
  REQUIRE(r.columns.size() == 1);
  CHECK(r.columns[0].name == "duration");
  CHECK(r.columns[0].type == value_type::duration);
  return is_null(r.rows[0][0]) ? -1 : dur_ms(r.rows[0][0]);
}

error compile_error(const ast::statement& st, std::string_view text, const q::context& ctx = {},
                    const source_position& origin = {"", 1, 1}) {
  auto a = q::compile(st, demo_catalog(), ctx, text, origin);
  REQUIRE_FALSE(a);
  return a.error();
}

// Checks message and (line, column) of an error.
void check_error(const error& e, std::string_view message, std::uint32_t line, std::uint32_t column) {
  CHECK(e.message == message);
  REQUIRE(e.where);
  CHECK(e.where->line == line);
  CHECK(e.where->column == column);
}

// Statement kinds convert to ast::statement only explicitly.
template <class S>
  requires(!std::same_as<S, ast::statement>)
result_set run(const S& st, const q::context& ctx = {}) {
  return run(ast::statement(st), ctx);
}
template <class S>
  requires(!std::same_as<S, ast::statement>)
q::compiled_query compiled(const S& st, const q::catalog& cat) {
  return compiled(ast::statement(st), cat);
}
template <class S>
  requires(!std::same_as<S, ast::statement>)
error compile_error(const S& st, std::string_view text, const q::context& ctx = {}, const source_position& origin = {"", 1, 1}) {
  return compile_error(ast::statement(st), text, ctx, origin);
}

}  // namespace

TEST_SUITE("query_compiler") {
  TEST_CASE("time on the demo store: the reference durations") {
    // time from first report to 99% fixed in meta-2024-12-11
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::report)),
                       ms(milestone_kind::next, metric_pat("fixed", binary_op::ge, 99))),
                  meta) == hours(4) + minutes(50));
    const q::context ctx{openai, std::nullopt, {}, {}};
    // use openai-2024-12-11; time from first alert to status identified
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::alert)),
                       ms(milestone_kind::next, status_pat("identified"))),
                  {}, ctx) == minutes(40));
    // time from first status investigating to status monitoring
    CHECK(time_of(span(ms(milestone_kind::first, status_pat("investigating")),
                       ms(milestone_kind::next, status_pat("monitoring"))),
                  {}, ctx) == hours(4) + minutes(36));
    // time from first report to last status resolved
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::report)),
                       ms(milestone_kind::last, status_pat("resolved"))),
                  {}, ctx) == hours(7) + minutes(16));
    // `in X` wins over the current incident.
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::end)), meta, ctx) == hours(6) + minutes(45));
  }

  TEST_CASE("milestones: start, end, first, last, next, after, qualifiers and where") {
    // start/end = min/max at: 2024-12-11T22:23 → 2024-12-13T01:19.
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::end)), openai) == hours(26) + minutes(56));
    // A bare pattern in `to` position is the first match at or after `from`: the investigating
    // posts are at 23:17, 23:42, 23:45; from the alert (23:13) the next one is 23:17...
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::alert)), ms(milestone_kind::next, status_pat("investigating"))),
                  openai) == minutes(4));
    // ...while `last` ignores `from`: 23:45.
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::alert)), ms(milestone_kind::last, status_pat("investigating"))),
                  openai) == minutes(32));
    // `at >=`: the next identified post from the first identified post is itself (0s).
    CHECK(time_of(span(ms(milestone_kind::first, status_pat("identified")), ms(milestone_kind::next, status_pat("identified"))),
                  openai) == 0);
    // A bare pattern in `from` position means `first`: first report 23:07 → next alert 23:13.
    CHECK(time_of(span(ms(milestone_kind::next, pat(pattern_kind::report)), ms(milestone_kind::next, pat(pattern_kind::alert))),
                  openai) == minutes(6));
    // first P after M: the first comm at or after the monitoring post (03:53, same minute).
    CHECK(time_of(span(ms(milestone_kind::start), after(ms(milestone_kind::first, pat(pattern_kind::comm)),
                                                        ms(milestone_kind::next, status_pat("monitoring")))),
                  openai) == hours(5) + minutes(30));
    // last P after M: the last investigating post after the alert is 23:45.
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::alert)),
                       after(ms(milestone_kind::last, status_pat("investigating")), ms(milestone_kind::first, pat(pattern_kind::alert)))),
                  openai) == minutes(32));
    // P after M in `to` position measures from M, not from `from`.
    CHECK(time_of(span(ms(milestone_kind::start),
                       after(ms(milestone_kind::next, status_pat("identified")), ms(milestone_kind::first, status_pat("monitoring")))),
                  openai) == -1);
    // A milestone that never happens gives NULL: no report after the 99% fixed metric.
    CHECK(time_of(span(ms(milestone_kind::start), after(ms(milestone_kind::first, pat(pattern_kind::report)),
                                                        ms(milestone_kind::first, metric_pat("fixed", binary_op::ge, 99)))),
                  meta) == -1);
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, status_pat("resolved"))), meta) == -1);
    // Metric thresholds: 75% affected at 23:40; nothing is above 80.
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, metric_pat("affected", binary_op::ge, 75))), openai) ==
          hours(1) + minutes(17));
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, metric_pat("affected", binary_op::gt, 80))), openai) == -1);
    // comm on CHANNEL by "author": the statuspage post is 03:53; Meta's post on x is 18:48.
    ast::pattern comm = pat(pattern_kind::comm);
    comm.channel = "statuspage";
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, comm)), openai) == hours(5) + minutes(30));
    comm.channel = "x";
    comm.author = "Meta";
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, comm)), meta) == hours(1) + minutes(12));
    comm.author = "OpenAI";
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, comm)), meta) == -1);
    // component "API" major_outage: 23:40; component "Sora" (any state) first at 23:16.
    ast::pattern comp = pat(pattern_kind::component);
    comp.component = "API";
    comp.state = "major_outage";
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, comp)), openai) == hours(1) + minutes(17));
    comp.component = "Sora";
    comp.state = "";
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, comp)), openai) == minutes(53));
    // A pattern's `where`: the first report with more than 50,000 reports is the 18:00 peak.
    ast::pattern big = pat(pattern_kind::report);
    big.where = bin(id("value"), binary_op::gt, num(50000));
    CHECK(time_of(span(ms(milestone_kind::start), ms(milestone_kind::next, big)), meta) == minutes(24));
    // `any`: the first event after the alert is the alert itself.
    CHECK(time_of(span(ms(milestone_kind::first, pat(pattern_kind::alert)), ms(milestone_kind::next, pat(pattern_kind::any))),
                  openai) == 0);
  }

  TEST_CASE("time without an incident: one row per incident, NULL kept") {
    auto r = run(time_stmt(span(ms(milestone_kind::first, pat(pattern_kind::report)), ms(milestone_kind::next, status_pat("resolved")))));
    CHECK(names(r) == std::vector<std::string>{"incident", "duration"});
    CHECK(r.columns[1].type == value_type::duration);
    REQUIRE(r.rows.size() == 2);
    CHECK(text_of(r.rows[0][0]) == meta);  // ordered by start
    CHECK(is_null(r.rows[0][1]));
    CHECK(text_of(r.rows[1][0]) == openai);
    CHECK(dur_ms(r.rows[1][1]) == hours(7) + minutes(16));
  }

  TEST_CASE("a single-incident question reads only that incident, through the indexes") {
    auto cq = compiled(time_stmt(span(ms(milestone_kind::first, pat(pattern_kind::alert)), ms(milestone_kind::next, status_pat("identified"))),
                                 openai),
                       demo_catalog());
    sqlite3* db = pmdb::store_access::sqlite_handle(demo());
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + cq.sql).c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string plan;
    while (sqlite3_step(st) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "\n";
    sqlite3_finalize(st);
    INFO(plan);
    CHECK(plan.find("versions_by_incident_type") != std::string::npos);
    CHECK(plan.find("SCAN e") == std::string::npos);
    CHECK(plan.find("SCAN events") == std::string::npos);
  }

  TEST_CASE("statements: use, report, show") {
    auto use = q::compile(ast::statement(ast::use_stmt{{}, incident(openai)}), demo_catalog(), {}, "");
    REQUIRE(use);
    CHECK(std::get<q::set_incident>(*use).incident == openai);

    ast::report_stmt rep;
    rep.path = "pm.md";
    auto r1 = q::compile(ast::statement(rep), demo_catalog(), {meta, std::nullopt, {}, {}}, "");
    REQUIRE(r1);
    CHECK(std::get<q::make_report>(*r1).incident == meta);
    CHECK(std::get<q::make_report>(*r1).path == "pm.md");
    rep.incident = incident(openai);
    auto r2 = q::compile(ast::statement(rep), demo_catalog(), {meta, std::nullopt, {}, {}}, "");
    REQUIRE(r2);
    CHECK(std::get<q::make_report>(*r2).incident == openai);

    ast::show_stmt show;
    show.what = ast::show_kind::incidents;
    auto inc = run(show);
    CHECK(names(inc) ==
          std::vector<std::string>{"id", "title", "org", "severity", "status", "started", "ended", "events"});
    REQUIRE(inc.rows.size() == 2);
    CHECK(text_of(inc.rows[1][0]) == openai);
    CHECK(text_of(inc.rows[1][3]) == "critical");
    CHECK(text_of(inc.rows[1][4]) == "postmortem");
    CHECK(std::get<timestamp>(inc.rows[1][5]).ms == at("2024-12-11T22:23:00Z"));
    CHECK(std::get<std::int64_t>(inc.rows[0][7]) == 13);

    show.what = ast::show_kind::types;
    auto types = run(show);
    REQUIRE(types.rows.size() == 13);
    CHECK(text_of(types.rows[0][0]) == "incident");
    CHECK(std::get<std::int64_t>(types.rows[0][1]) == 2);
    CHECK(text_of(types.rows[12][0]) == "retraction");
    CHECK(std::get<std::int64_t>(types.rows[12][1]) == 0);

    show.what = ast::show_kind::sources;
    show.incident = incident(meta);
    auto src = run(show);
    CHECK(names(src) == std::vector<std::string>{"source", "events", "first", "last"});
    REQUIRE(src.rows.size() == 7);
    CHECK(text_of(src.rows[0][0]) == "Downdetector via worldnl.com");
    CHECK(std::get<std::int64_t>(src.rows[0][1]) == 4);
    CHECK(std::get<timestamp>(src.rows[0][3]).ms == at("2024-12-11T18:00:00Z"));
    show.incident.reset();
    CHECK(run(show).rows.size() > 7);  // no incident named nor in use: every source of the store
  }

  TEST_CASE("pipelines: sources and their default columns") {
    auto all = run(pipe(ast::source_kind::incidents));
    CHECK(names(all) == std::vector<std::string>{"id", "title", "org", "severity", "status", "started", "ended", "events"});
    REQUIRE(all.rows.size() == 2);
    CHECK(text_of(all.rows[0][0]) == meta);
    CHECK(all.columns[5].type == value_type::timestamp);
    CHECK(all.columns[7].type == value_type::integer);

    auto over = run(pipe(ast::source_kind::incidents, openai));
    REQUIRE(over.rows.size() == 1);
    CHECK(text_of(over.rows[0][0]) == meta);

    // Fields a `where` reads join the default output.
    auto ev = run(pipe(ast::source_kind::events, {}, bin(id("metric"), binary_op::eq, str("fixed"))));
    CHECK(names(ev) == std::vector<std::string>{"incident", "seq", "type", "at", "source", "text", "metric"});
    CHECK(ev.rows.size() == 2);

    ast::pipeline tl = pipe(ast::source_kind::timeline, openai);
    tl.ops.push_back(where_(in(id("type"), {id("status"), id("comm")})));
    tl.ops.push_back(limit_(3));
    auto t = run(tl);
    CHECK(names(t) == std::vector<std::string>{"at", "elapsed", "type", "source", "text", "approx"});
    CHECK(t.columns[1].type == value_type::duration);
    REQUIRE(t.rows.size() == 3);
    CHECK(std::get<timestamp>(t.rows[0][0]).ms == at("2024-12-11T23:17:00Z"));
    CHECK(dur_ms(t.rows[0][1]) == minutes(54));
    CHECK(text_of(t.rows[0][2]) == "status");
    CHECK(dur_ms(t.rows[2][1]) == minutes(82));
  }

  TEST_CASE("pipelines: bare words compared with enumerated fields are literals") {
    // type = comm and channel = x, summarized by incident
    ast::pipeline p = pipe(ast::source_kind::events, {},
                           bin(bin(id("type"), binary_op::eq, id("comm")), binary_op::logical_and,
                               bin(id("channel"), binary_op::eq, id("x"))));
    p.ops.push_back(summarize_({named(call("count", {}))}, {named(id("incident"))}));
    auto r = run(p);
    CHECK(names(r) == std::vector<std::string>{"incident", "count"});
    REQUIRE(r.rows.size() == 2);
    CHECK(text_of(r.rows[0][0]) == meta);
    CHECK(std::get<std::int64_t>(r.rows[0][1]) == 1);
    CHECK(std::get<std::int64_t>(r.rows[1][1]) == 2);
    // `type = incident`: `incident` is a field too, but next to `type` it is the word.
    ast::pipeline p2 = pipe(ast::source_kind::events, {}, bin(id("type"), binary_op::eq, id("incident")));
    CHECK(run(p2).rows.size() == 2);
    // Reversed, and `state = major_outage`, and `not in`.
    ast::pipeline p3 = pipe(ast::source_kind::events, {},
                            bin(bin(id("major_outage"), binary_op::eq, id("state")), binary_op::logical_and,
                                in(id("component"), {str("Sora"), str("Labs")}, true)));
    CHECK(run(p3).rows.size() == 3);
  }

  TEST_CASE("pipelines: let measures, select, order, limit") {
    ast::pipeline p = pipe(ast::source_kind::incidents);
    p.ops.push_back(let_({let_time("ttr", span(ms(milestone_kind::start), ms(milestone_kind::next, status_pat("resolved")))),
                          let_measure("reports", ast::measure_kind::count, pat(pattern_kind::report)),
                          let_measure("peak", ast::measure_kind::max_value, pat(pattern_kind::report)),
                          let_measure("fixed", ast::measure_kind::first_value, metric_pat("fixed", binary_op::ge, 0))}));
    p.ops.push_back(select_({named(id("id")), named(id("ttr")), named(id("reports")), named(id("peak")), named(id("fixed")),
                             named(bin(id("ended"), binary_op::sub, id("started")), "span")}));
    auto r = run(p);
    CHECK(names(r) == std::vector<std::string>{"id", "ttr", "reports", "peak", "fixed", "span"});
    CHECK(r.columns[1].type == value_type::duration);
    CHECK(r.columns[2].type == value_type::integer);
    CHECK(r.columns[3].type == value_type::real);
    CHECK(r.columns[5].type == value_type::duration);
    REQUIRE(r.rows.size() == 2);
    CHECK(is_null(r.rows[0][1]));
    CHECK(std::get<std::int64_t>(r.rows[0][2]) == 6);
    CHECK(std::get<double>(r.rows[0][3]) == 107005);
    CHECK(std::get<double>(r.rows[0][4]) == 99);
    CHECK(dur_ms(r.rows[0][5]) == hours(6) + minutes(45));
    CHECK(dur_ms(r.rows[1][1]) == hours(8));
    CHECK(std::get<std::int64_t>(r.rows[1][2]) == 3);
    CHECK(is_null(r.rows[1][4]));

    // The order survives `select` even when the sort key is not selected; ties keep the
    // previous order (stable), `limit` applies it.
    ast::pipeline o = pipe(ast::source_kind::events, {}, bin(id("incident"), binary_op::eq, str(openai)));
    o.ops.push_back(order_({{id("type"), true}, {bin(id("at"), binary_op::sub, dur(hours(1))), false}}));
    o.ops.push_back(limit_(4));
    o.ops.push_back(select_({named(id("type")), named(id("at"), "when")}));
    auto s = run(o);
    CHECK(names(s) == std::vector<std::string>{"type", "when"});
    REQUIRE(s.rows.size() == 4);
    CHECK(text_of(s.rows[0][0]) == "status");
    CHECK(std::get<timestamp>(s.rows[0][1]).ms == at("2024-12-11T23:17:00Z"));
    CHECK(std::get<timestamp>(s.rows[3][1]).ms == at("2024-12-11T23:53:00Z"));

    // A duration comparison with a duration literal, and a timestamp with a timestamp literal.
    ast::pipeline d = pipe(ast::source_kind::incidents);
    d.ops.push_back(let_({let_expr("len", bin(id("ended"), binary_op::sub, id("started")))}));
    d.ops.push_back(where_(bin(bin(id("len"), binary_op::gt, dur(hours(7))), binary_op::logical_and,
                               bin(id("started"), binary_op::ge, ts_lit(at("2024-12-11T20:00:00Z"))))));
    auto dr = run(d);
    CHECK(names(dr).back() == "len");
    REQUIRE(dr.rows.size() == 1);
    CHECK(text_of(dr.rows[0][0]) == openai);
    // ~ is a case-insensitive substring test; !~ its negation.
    ast::pipeline c = pipe(ast::source_kind::incidents, {}, bin(id("title"), binary_op::contains, str("SORA")));
    CHECK(run(c).rows.size() == 1);
    ast::pipeline nc = pipe(ast::source_kind::incidents, {}, bin(id("title"), binary_op::not_contains, str("SORA")));
    CHECK(run(nc).rows.size() == 1);
  }

  TEST_CASE("summarize: groups, calendar buckets, naming") {
    ast::pipeline p = pipe(ast::source_kind::events);
    p.ops.push_back(summarize_({named(call("count", {}), "n"), named(call("min", {id("at")})), named(call("count", {id("status")}))},
                               {named(call("month", {id("at")})), named(id("incident"))}));
    auto r = run(p);
    CHECK(names(r) == std::vector<std::string>{"month", "incident", "n", "min", "count"});
    CHECK(r.columns[0].type == value_type::text);
    CHECK(r.columns[3].type == value_type::timestamp);
    REQUIRE(r.rows.size() == 2);
    CHECK(text_of(r.rows[0][0]) == "2024-12");
    CHECK(text_of(r.rows[0][1]) == meta);
    CHECK(std::get<std::int64_t>(r.rows[0][2]) == 13);
    CHECK(std::get<std::int64_t>(r.rows[1][4]) == 13);

    ast::pipeline w = pipe(ast::source_kind::events);
    w.ops.push_back(summarize_({named(call("count", {}))}, {named(call("day", {id("at")})), named(call("hour", {id("at")}))}));
    auto wr = run(w);
    CHECK(text_of(wr.rows[0][0]) == "2024-12-11");
    CHECK(text_of(wr.rows[0][1]) == "2024-12-11 17:00");
  }

  TEST_CASE("percentiles are nearest-rank, over durations, per group (generated store)") {
    auto s = event_store::open(":memory:", {.durable = false}).value();
    std::mt19937_64 rng(20241211);
    std::map<std::string, std::vector<std::int64_t>> ttr;  // org → durations
    std::vector<std::int64_t> starts;
    std::string lines;
    const std::int64_t base = at("2019-12-20T05:00:00Z");
    const std::vector<std::int64_t> fixed_starts = {at("2021-01-01T00:30:00Z"), at("2024-12-30T12:00:00Z"),
                                                    at("2027-01-03T23:59:00Z"), at("2020-12-31T23:59:59Z")};
    const int n = 250;
    for (int i = 0; i < n; ++i) {
      const std::string id = fmt::format("gen-{:03}", i);
      const std::string org = i % 3 == 0 ? "beta" : "alpha";
      const std::int64_t start = i < 4 ? fixed_starts[i] : base + i * (3 * 86'400'000LL + 7'919'000LL);
      starts.push_back(start);
      lines += test::line(id, "incident", format_iso(timestamp{start}),
                          fmt::format(R"({{"title":"t{}","org":"{}","services":[]}})", i, org)) + "\n";
      if (rng() % 10 == 0) continue;  // unresolved: NULL, not counted
      // Some durations repeat, to exercise ties.
      const std::int64_t d = rng() % 4 == 0 ? minutes(30) : static_cast<std::int64_t>(60'000 + rng() % (2 * 86'400'000LL));
      lines += test::line(id, "status", format_iso(timestamp{start + d}), R"({"status":"resolved"})") + "\n";
      ttr[org].push_back(d);
    }
    import_text(s, lines, "generated");
    const q::catalog cat = q::catalog::of(s.incident_ids());

    ast::pipeline p = pipe(ast::source_kind::incidents);
    p.ops.push_back(let_({let_time("ttr", span(ms(milestone_kind::start), ms(milestone_kind::next, status_pat("resolved"))))}));
    p.ops.push_back(summarize_({named(call("count", {id("ttr")}), "n"), named(call("median", {id("ttr")})),
                                named(call("p90", {id("ttr")})), named(call("p99", {id("ttr")})),
                                named(call("percentile", {id("ttr"), num(37.5, false)}), "p37_5"),
                                named(call("percentile", {id("ttr"), num(0)}), "p0"),
                                named(call("min", {id("ttr")})), named(call("max", {id("ttr")})),
                                named(call("avg", {id("ttr")})), named(call("sum", {id("ttr")}))},
                               {named(id("org"))}));
    auto r = run(s, compiled(p, cat));
    CHECK(names(r) == std::vector<std::string>{"org", "n", "median", "p90", "p99", "p37_5", "p0", "min", "max", "avg", "sum"});
    for (std::size_t i = 1; i < r.columns.size(); ++i)
      CHECK(r.columns[i].type == (i == 1 ? value_type::integer : value_type::duration));
    REQUIRE(r.rows.size() == 2);
    for (const auto& row : r.rows) {
      auto v = ttr.at(text_of(row[0]));
      std::ranges::sort(v);
      const auto nv = static_cast<std::int64_t>(v.size());
      REQUIRE(nv >= 60);
      // rank = ceil(p·n/100), at least 1, in exact integer arithmetic (p in thousandths).
      auto nearest = [&](std::int64_t p_milli) {
        const std::int64_t rank = std::max<std::int64_t>(1, (p_milli * nv + 99'999) / 100'000);
        return v[static_cast<std::size_t>(rank - 1)];
      };
      INFO(text_of(row[0]));
      CHECK(std::get<std::int64_t>(row[1]) == nv);
      CHECK(dur_ms(row[2]) == nearest(50'000));
      CHECK(dur_ms(row[3]) == nearest(90'000));
      CHECK(dur_ms(row[4]) == nearest(99'000));
      CHECK(dur_ms(row[5]) == nearest(37'500));
      CHECK(dur_ms(row[6]) == v.front());
      CHECK(dur_ms(row[7]) == v.front());
      CHECK(dur_ms(row[8]) == v.back());
      std::int64_t sum = 0;
      for (auto x : v) sum += x;
      CHECK(dur_ms(row[10]) == sum);
      CHECK(std::abs(dur_ms(row[9]) - static_cast<double>(sum) / static_cast<double>(nv)) <= 0.5);
    }

    // Without `by`: one row over every incident.
    ast::pipeline all = pipe(ast::source_kind::incidents);
    all.ops.push_back(let_({let_time("ttr", span(ms(milestone_kind::start), ms(milestone_kind::next, status_pat("resolved"))))}));
    all.ops.push_back(summarize_({named(call("p95", {id("ttr")}))}));
    auto ar = run(s, compiled(all, cat));
    CHECK(names(ar) == std::vector<std::string>{"p95"});
    std::vector<std::int64_t> every;
    for (const auto& [org, v] : ttr) every.insert(every.end(), v.begin(), v.end());
    std::ranges::sort(every);
    REQUIRE(ar.rows.size() == 1);
    const auto ne = static_cast<std::int64_t>(every.size());
    CHECK(dur_ms(ar.rows[0][0]) == every[static_cast<std::size_t>((95 * ne + 99) / 100 - 1)]);

    // Calendar buckets against std::chrono: ISO weeks across year ends.
    ast::pipeline cal = pipe(ast::source_kind::incidents);
    cal.ops.push_back(select_({named(id("started")), named(call("week", {id("started")})), named(call("month", {id("started")})),
                               named(call("year", {id("started")}))}));
    auto cr = run(s, compiled(cal, cat));
    REQUIRE(cr.rows.size() == static_cast<std::size_t>(n));
    using namespace std::chrono;
    int checked_53 = 0;
    for (const auto& row : cr.rows) {
      const sys_days d = floor<days>(sys_time<milliseconds>(milliseconds(std::get<timestamp>(row[0]).ms)));
      const sys_days thursday = d - days(weekday(d).iso_encoding() - 1) + days(3);
      const year_month_day ty{thursday};
      const auto week = (thursday - sys_days(ty.year() / January / 1)).count() / 7 + 1;
      const year_month_day ymd{d};
      CHECK(text_of(row[1]) == fmt::format("{}-W{:02}", static_cast<int>(ty.year()), week));
      CHECK(text_of(row[2]) == fmt::format("{}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month())));
      CHECK(text_of(row[3]) == fmt::format("{}", static_cast<int>(ymd.year())));
      if (week == 53) ++checked_53;
    }
    CHECK(checked_53 >= 3);
    for (const auto& row : cr.rows) {
      const auto t = std::get<timestamp>(row[0]).ms;
      if (t == at("2020-12-31T23:59:59Z")) CHECK(text_of(row[1]) == "2020-W53");
      if (t == at("2024-12-30T12:00:00Z")) CHECK(text_of(row[1]) == "2025-W01");
      if (t == at("2027-01-03T23:59:00Z")) CHECK(text_of(row[1]) == "2026-W53");
    }
  }

  TEST_CASE("literals are parameters, never SQL text") {
    const std::string evil = "'); DROP TABLE events; --";
    ast::pipeline p = pipe(ast::source_kind::events, {},
                           bin(bin(id("text"), binary_op::eq, str(evil)), binary_op::logical_or,
                               bin(id("source"), binary_op::contains, str(evil))));
    p.ops.push_back(select_({named(id("seq")), named(str(evil), "x")}));
    auto cq = compiled(p, demo_catalog());
    CHECK(cq.sql.find("DROP") == std::string::npos);
    CHECK(cq.sql.find(evil) == std::string::npos);
    CHECK(std::ranges::count(cq.params, value(evil)) == 3);
    CHECK(std::ranges::count(cq.sql, '?') == static_cast<std::ptrdiff_t>(cq.params.size()));
    CHECK(run(demo(), cq).rows.empty());
    CHECK(demo().event_count() == 66);

    // Names written in the query (let/select names) do not reach the SQL either.
    ast::pipeline n = pipe(ast::source_kind::incidents);
    n.ops.push_back(let_({let_expr("x\"; DROP TABLE incidents; --", num(1))}));
    auto nq = compiled(n, demo_catalog());
    CHECK(nq.sql.find("DROP") == std::string::npos);
    CHECK(nq.columns.back().name == "x\"; DROP TABLE incidents; --");
    CHECK(run(demo(), nq).rows.size() == 2);

    // Patterns and incident ids too (a status outside the closed set is refused outright).
    auto tq = compiled(time_stmt(span(ms(milestone_kind::first, metric_pat(evil, binary_op::ge, 1)), ms(milestone_kind::end)), openai),
                       demo_catalog());
    CHECK(std::ranges::count(tq.params, value(evil)) == 1);
    CHECK(compile_error(time_stmt(span(ms(milestone_kind::first, status_pat(evil)), ms(milestone_kind::end)), openai), "")
              .message.starts_with("unknown status ''); DROP TABLE events; --' (one of: investigating"));
    CHECK(tq.sql.find("DROP") == std::string::npos);
    CHECK(tq.sql.find(openai) == std::string::npos);
  }

  TEST_CASE("semantic errors: exact message and position") {
    {
      const std::string text = "use openai-2024-12-12;";
      ast::use_stmt u;
      u.incident = tagged_at(incident("openai-2024-12-12"), text, "openai");
      check_error(compile_error(u, text), "unknown incident 'openai-2024-12-12'; did you mean 'openai-2024-12-11'?", 1, 5);
    }
    {
      const std::string text = "time from start to end\n  in zzz;";
      ast::time_stmt t;
      t.incident = tagged_at(incident("zzz"), text, "zzz");
      check_error(compile_error(t, text), "unknown incident 'zzz'", 2, 6);
    }
    {
      // The origin makes positions absolute in a script file.
      const std::string text = "timeline mta-2024-12-11";
      ast::pipeline p = pipe(ast::source_kind::timeline);
      p.from.incident = tagged_at(incident("mta-2024-12-11"), text, "mta");
      check_error(compile_error(p, text, {}, {"f.pmq", 7, 3}), "unknown incident 'mta-2024-12-11'; did you mean 'meta-2024-12-11'?", 7,
                  12);
    }
    {
      const std::string text = "report;";
      ast::report_stmt r;
      check_error(compile_error(r, text), "no incident: name one or `use INCIDENT;` first", 1, 1);
    }
    {
      // `timeline` and `incidents overlapping` without an incident, and none current.
      for (const auto kind : {ast::source_kind::timeline, ast::source_kind::incidents}) {
        const std::string text = kind == ast::source_kind::timeline ? "timeline;" : "incidents overlapping;";
        ast::pipeline p;
        p.from.kind = kind;
        p.from.overlapping = kind == ast::source_kind::incidents;
        check_error(compile_error(p, text), "no incident: name one or `use INCIDENT;` first", 1, 1);
      }
    }
    {
      const std::string text = "incidents | where sevrity = 'critical'";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(where_(bin(id_at("sevrity", text), binary_op::eq, str("critical"))));
      check_error(compile_error(p, text),
                  "unknown field 'sevrity'; did you mean 'severity'? (fields: id, title, org, services, severity, status, started, "
                  "ended, events, summary, version)",
                  1, 19);
    }
    {
      const std::string text = "incidents | let ttr = time from start to end | where ttr > 'long'";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(let_({let_time("ttr", span(ms(milestone_kind::start), ms(milestone_kind::end)))}));
      const auto lhs = id_at("ttr", text, text.find("where"));
      ast::expr s(tagged_at(ast::string_lit{}, text, "'long'"));
      p.ops.push_back(where_(bin(lhs, binary_op::gt, s, static_cast<std::uint32_t>(text.find("ttr >")), 14)));
      check_error(compile_error(p, text), "cannot compare duration with text", 1, 58);
    }
    {
      const std::string text = "incidents | where started > 60";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(where_(bin(id_at("started", text), binary_op::gt, num(60), static_cast<std::uint32_t>(text.find("started")), 12)));
      check_error(compile_error(p, text), "cannot compare timestamp with number", 1, 27);
    }
    {
      const std::string text = "incidents | summarize medain(ended - started)";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(summarize_({named(call("medain", {bin(id("ended"), binary_op::sub, id("started"))},
                                             static_cast<std::uint32_t>(text.find("medain"))))}));
      check_error(compile_error(p, text), "unknown function 'medain'; did you mean 'median'?", 1, 23);
    }
    {
      const std::string text = "events | where count() > 2";
      ast::pipeline p = pipe(ast::source_kind::events);
      p.ops.push_back(where_(bin(call("count", {}, static_cast<std::uint32_t>(text.find("count"))), binary_op::gt, num(2))));
      check_error(compile_error(p, text), "aggregate count() is only allowed in summarize", 1, 16);
    }
    {
      const std::string text = "events | let n = 1";
      ast::pipeline p = pipe(ast::source_kind::events);
      ast::let_op l;
      l.bindings.push_back(let_expr("n", num(1)));
      p.ops.push_back(ast::pipe_op(tagged_at(l, text, "let")));
      check_error(compile_error(p, text), "`let` needs an `incidents` source, not `events`", 1, 10);
    }
    {
      const std::string text = "incidents | summarize n = count() | let t = time from start to end";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(summarize_({named(call("count", {}), "n")}));
      auto b = let_time("t", span(ms(milestone_kind::start), ms(milestone_kind::end)));
      p.ops.push_back(let_({tagged_at(b, text, "t = time")}));
      check_error(compile_error(p, text), "this `let` measures each incident: it must come before `summarize`", 1, 41);
    }
    {
      const std::string text = "incidents | select id, id";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(select_({tagged_at(named(id("id")), text, "id"), tagged_at(named(id("id")), text, "id", 21)}));
      check_error(compile_error(p, text), "duplicate column name 'id': name the column (`name = ...`)", 1, 24);
    }
    {
      const std::string text = "events | where text ~ 5";
      ast::pipeline p = pipe(ast::source_kind::events);
      p.ops.push_back(where_(bin(id_at("text", text, 10), binary_op::contains, num(5))));
      check_error(compile_error(p, text), "'~' needs text on both sides, not number", 1, 21);
    }
    {
      const std::string text = "incidents | summarize median(title)";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(summarize_({named(call("median", {id_at("title", text)}))}));
      check_error(compile_error(p, text), "median() needs numbers, durations or timestamps, not text", 1, 30);
    }
    {
      const std::string text = "incidents | summarize percentile(events, 120)";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      ast::number_lit q120;
      q120.value = 120;
      q120.is_integer = true;
      p.ops.push_back(summarize_({named(call("percentile", {id("events"), ast::expr(tagged_at(q120, text, "120"))}))}));
      check_error(compile_error(p, text), "percentile()'s second argument must be a number from 0 to 100", 1, 42);
    }
    {
      const std::string text = "events | summarize n = count() + seq";
      ast::pipeline p = pipe(ast::source_kind::events);
      p.ops.push_back(summarize_({named(bin(call("count", {}), binary_op::add, id_at("seq", text)), "n")}));
      check_error(compile_error(p, text),
                  "'seq' must be inside an aggregate (count, min, max, sum, avg, median, ...) or after `by`", 1, 34);
    }
    {
      const std::string text = "incidents | where title";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(where_(id_at("title", text)));
      check_error(compile_error(p, text), "expected a condition, found text", 1, 19);
    }
    {
      const std::string text = "incidents | select x = started + started";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(select_({named(bin(id_at("started", text), binary_op::add, id("started")), "x")}));
      check_error(compile_error(p, text), "cannot apply '+' to timestamp and timestamp", 1, 32);
    }
    {
      const std::string text = "incidents | limit -1";
      ast::pipeline p = pipe(ast::source_kind::incidents);
      p.ops.push_back(ast::pipe_op(tagged_at(ast::limit_op{{}, -1}, text, "limit")));
      check_error(compile_error(p, text), "limit must be 0 or more", 1, 13);
    }
    {
      // A nested pattern's `where` resolves against event fields.
      const std::string text = "time from first report where vlaue > 5 to end";
      ast::pattern pr = pat(pattern_kind::report);
      pr.where = bin(id_at("vlaue", text), binary_op::gt, num(5));
      auto e = compile_error(time_stmt(span(ms(milestone_kind::first, pr), ms(milestone_kind::end)), openai), text);
      CHECK(e.message.starts_with("unknown field 'vlaue'; did you mean 'value'? (fields: incident, seq, id,"));
      CHECK(e.where->column == 30);
    }
  }

  TEST_CASE("nesting is capped: what compiles also prepares in SQLite") {
    ast::expr deep = bin(id("events"), binary_op::gt, num(0));
    for (int i = 0; i < 300; ++i) deep = not_(std::move(deep));
    CHECK(compile_error(pipe(ast::source_kind::incidents, {}, deep), "").message ==
          "query too deeply nested (more than 200 levels)");

    // For each way of nesting, the deepest expression the compiler accepts must run; one level
    // more is refused with a message, never with SQLite's "parser stack overflow".
    const auto cond = [] { return bin(id("events"), binary_op::gt, num(0)); };
    const std::vector<std::pair<std::string, std::function<ast::statement(int)>>> shapes = {
        {"not", [&](int k) {
           ast::expr e = cond();
           for (int i = 0; i < k; ++i) e = not_(std::move(e));
           return ast::statement(pipe(ast::source_kind::incidents, {}, e));
         }},
        {"right-nested or", [&](int k) {
           ast::expr e = cond();
           for (int i = 0; i < k; ++i) e = bin(cond(), binary_op::logical_or, std::move(e));
           return ast::statement(pipe(ast::source_kind::incidents, {}, e));
         }},
        {"left-nested or (flat in SQL)", [&](int k) {
           ast::expr e = cond();
           for (int i = 0; i < k; ++i) e = bin(std::move(e), binary_op::logical_or, cond());
           return ast::statement(pipe(ast::source_kind::incidents, {}, e));
         }},
        {"contains", [&](int k) {
           ast::expr e = id("title");
           for (int i = 0; i < k; ++i) e = call(i % 2 ? "lower" : "upper", {std::move(e)});
           return ast::statement(pipe(ast::source_kind::incidents, {}, bin(e, binary_op::not_contains, e)));
         }},
        {"in", [&](int k) {
           ast::expr e = id("events");
           for (int i = 0; i < k; ++i) e = call("abs", {call("coalesce", {num(1), std::move(e)})});
           return ast::statement(pipe(ast::source_kind::incidents, {}, in(num(1), {num(2), std::move(e)})));
         }},
        {"arithmetic", [&](int k) {
           ast::expr e = bin(id("ended"), binary_op::sub, id("started"));
           for (int i = 0; i < k; ++i) e = bin(dur(1), binary_op::add, bin(std::move(e), binary_op::div, num(2)));
           ast::pipeline p = pipe(ast::source_kind::incidents);
           p.ops.push_back(select_({named(bin(id("started"), binary_op::add, std::move(e)), "t")}));
           return ast::statement(p);
         }},
        {"calendar", [&](int k) {
           ast::expr e = id("started");
           for (int i = 0; i < k; ++i) e = bin(dur(1), binary_op::add, std::move(e));
           ast::pipeline p = pipe(ast::source_kind::incidents);
           p.ops.push_back(select_({named(call("week", {std::move(e)}), "w")}));
           return ast::statement(p);
         }},
        {"after chain", [&](int k) {
           ast::milestone m = ms(milestone_kind::first, pat(pattern_kind::report));
           for (int i = 0; i < k; ++i) m = after(ms(milestone_kind::next, status_pat("identified")), std::move(m));
           ast::pattern pw = pat(pattern_kind::any);
           pw.where = not_(not_(bin(id("seq"), binary_op::gt, num(0))));
           return time_stmt(span(ms(milestone_kind::first, pw), std::move(m)), openai);
         }},
    };
    for (const auto& [name, build] : shapes) {
      INFO(name);
      int k = 0;
      while (k < 150 && q::compile(build(k + 1), demo_catalog(), {}, "")) ++k;
      CHECK(k >= 3);
      const auto cq = compiled(build(k), demo_catalog());
      auto r = demo().query(cq.sql, cq.params, cq.columns);
      CHECK_MESSAGE(r, (r ? "" : r.error().message));
      if (k < 150)
        CHECK(q::compile(build(k + 1), demo_catalog(), {}, "").error().message ==
              "expression too deeply nested to run: split it (several `where` steps, or `let`)");
    }
  }
}

namespace {

// Parses one statement and compiles it against the demo store.
std::expected<q::action, error> parse_compile(std::string_view text, const q::context& ctx = {},
                                              const source_position& origin = {"", 1, 1}) {
  auto script = q::parse(text, origin);
  REQUIRE_MESSAGE(script, (script ? "" : script.error().message));
  REQUIRE(script->statements.size() == 1);
  return q::compile(script->statements[0], demo_catalog(), ctx, text, origin);
}

result_set parse_run(std::string_view text, const q::context& ctx = {}) {
  auto a = parse_compile(text, ctx);
  REQUIRE_MESSAGE(a, (a ? "" : a.error().message));
  const auto* rq = std::get_if<q::run_query>(&*a);
  REQUIRE(rq);
  return run(demo(), rq->query);
}

}  // namespace

TEST_SUITE("query_compiler") {
  TEST_CASE("parsed statements: the reference durations and positions in scripts") {
    auto one = [](std::string_view text, const q::context& ctx = {}) {
      auto r = parse_run(text, ctx);
      REQUIRE(r.rows.size() == 1);
      return dur_ms(r.rows[0][0]);
    };
    CHECK(one("time from first report to 99% fixed in meta-2024-12-11") == hours(4) + minutes(50));
    const q::context ctx{openai, std::nullopt, {}, {}};
    CHECK(one("time from first alert to status identified", ctx) == minutes(40));
    CHECK(one("time from first status investigating to status monitoring", ctx) == hours(4) + minutes(36));
    CHECK(one("time from first report to last status resolved", ctx) == hours(7) + minutes(16));

    auto r = parse_run("incidents\n| let ttr = time from first report to status resolved\n| summarize n = count(), median(ttr) by org");
    CHECK(names(r) == std::vector<std::string>{"org", "n", "median"});

    // Positions are absolute in the file the statement comes from.
    const std::string text = "incidents\n| where started >= 2024-12-01\n  and sevrity = major";
    auto e = parse_compile(text, {}, {"s.pmq", 10, 1});
    REQUIRE_FALSE(e);
    CHECK(e.error().message.starts_with("unknown field 'sevrity'; did you mean 'severity'?"));
    REQUIRE(e.error().where);
    CHECK(e.error().where->file == "s.pmq");
    CHECK(e.error().where->line == 12);
    CHECK(e.error().where->column == 7);

    auto c = parse_compile("incidents | let ttr = time from start to end | where ttr > \"long\"");
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "cannot compare duration with text");
    CHECK(c.error().where->column == 58);
  }
}

// Golden scripts: tests/golden/queries/*.pmq run through the pmdb binary on the demo store,
// compared with NAME.expected (PMDB_UPDATE_GOLDEN=1 rewrites them). A first line
// `-- args: ...` adds command-line options.
TEST_SUITE("query_golden") {
  TEST_CASE("query scripts") { test::run_golden_scripts("tests/golden/queries", "tests/golden/queries", 5); }
}
