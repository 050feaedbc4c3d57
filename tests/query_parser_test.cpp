// PMQL parser: the AST of every construct (printed as an S-expression so that a test reads
// like the tree it expects), source spans, literals, limits, positions and error rendering.
// Syntax errors are pinned as data in tests/golden/parse_errors/*.txt.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "query/parser.hpp"

namespace {

using namespace pmdb;
using namespace pmdb::query;

// ---------------------------------------------------------------- AST printer

std::string dump(const ast::expr& e);

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

struct expr_printer {
  using result_type = std::string;
  std::string operator()(const ast::null_lit&) const { return "null"; }
  std::string operator()(const ast::bool_lit& b) const { return b.value ? "true" : "false"; }
  std::string operator()(const ast::number_lit& n) const {
    return (n.is_integer ? "(int " : "(real ") + number_text(n.value) + ")";
  }
  std::string operator()(const ast::string_lit& s) const { return "\"" + s.value + "\""; }
  std::string operator()(const ast::duration_lit& d) const { return "(ms " + std::to_string(d.ms) + ")"; }
  std::string operator()(const ast::timestamp_lit& t) const { return "(at " + std::to_string(t.ms) + ")"; }
  std::string operator()(const ast::identifier& i) const { return i.name; }
  std::string operator()(const ast::unary& u) const {
    return std::string(u.op == ast::unary_op::negate ? "(neg " : "(not ") + dump(u.operand) + ")";
  }
  std::string operator()(const ast::binary& b) const {
    return std::string("(") + std::string(ast::spelling(b.op)) + " " + dump(b.lhs) + " " + dump(b.rhs) + ")";
  }
  std::string operator()(const ast::call& c) const {
    std::string out = "(" + c.function.name + "()" + (c.where ? " where" : "");
    for (const auto& a : c.args) out += " " + dump(a);
    return out + ")";
  }
  std::string operator()(const ast::in_list& l) const {
    std::string out = std::string(l.negated ? "(not-in " : "(in ") + dump(l.operand);
    if (l.list) out += " list " + l.list->name;
    for (const auto& a : l.items) out += " " + dump(a);
    return out + ")";
  }
  std::string operator()(const ast::measure& m) const;
  std::string operator()(const ast::is_null& n) const {
    return std::string(n.negated ? "(is-not-null " : "(is-null ") + dump(n.operand) + ")";
  }
  template <typename T>
  std::string operator()(const boost::spirit::x3::forward_ast<T>& f) const {
    return (*this)(f.get());
  }
};

std::string dump(const ast::expr& e) { return boost::apply_visitor(expr_printer{}, e.get()); }

std::string dump(const ast::pattern& p) {
  std::string out = "[";
  switch (p.kind) {
    case ast::pattern_kind::any: out += "any"; break;
    case ast::pattern_kind::report: out += "report"; break;
    case ast::pattern_kind::alert: out += "alert"; break;
    case ast::pattern_kind::change: out += "change"; break;
    case ast::pattern_kind::cause: out += "cause"; break;
    case ast::pattern_kind::action: out += "action"; break;
    case ast::pattern_kind::note: out += "note"; break;
    case ast::pattern_kind::incident: out += "incident"; break;
    case ast::pattern_kind::correction: out += "correction"; break;
    case ast::pattern_kind::retraction: out += "retraction"; break;
    case ast::pattern_kind::status: out += "status " + p.name; break;
    case ast::pattern_kind::comm:
      out += "comm";
      if (!p.channel.empty()) out += " on " + p.channel;
      if (p.author) out += " by \"" + *p.author + "\"";
      break;
    case ast::pattern_kind::component:
      out += "component \"" + p.component + "\"";
      if (!p.state.empty()) out += " " + p.state;
      break;
    case ast::pattern_kind::metric:
      out += "metric " + p.metric;
      if (p.op) out += std::string(" ") + std::string(ast::spelling(*p.op)) + " " + number_text(p.threshold);
      break;
  }
  if (p.where) out += " where " + dump(*p.where);
  return out + "]";
}

std::string dump(const ast::milestone& m) {
  switch (m.kind) {
    case ast::milestone_kind::start: return "start";
    case ast::milestone_kind::end: return "end";
    default: break;
  }
  std::string out = m.kind == ast::milestone_kind::first ? "first " : m.kind == ast::milestone_kind::last ? "last " : "next ";
  out += dump(m.pat);
  if (m.after) out = "(" + out + " after " + dump(m.after->get()) + ")";
  return out;
}

std::string dump(const ast::time_between& t) { return "time " + dump(t.from) + " to " + dump(t.to); }

// A measure as the `let` dump shows it: `time ... to ...`, `count [P]`, `max-gap [P]`, `status-at T`.
std::string expr_printer::operator()(const ast::measure& m) const {
  switch (m.kind) {
    case ast::measure_kind::time: return dump(m.span);
    case ast::measure_kind::count: return "count " + dump(m.pat);
    case ast::measure_kind::min_value: return "min " + dump(m.pat);
    case ast::measure_kind::max_value: return "max " + dump(m.pat);
    case ast::measure_kind::first_value: return "first " + dump(m.pat);
    case ast::measure_kind::last_value: return "last " + dump(m.pat);
    case ast::measure_kind::min_gap: return "min-gap " + dump(m.pat);
    case ast::measure_kind::max_gap: return "max-gap " + dump(m.pat);
    case ast::measure_kind::avg_gap: return "avg-gap " + dump(m.pat);
    case ast::measure_kind::status_changes: return "status-changes";
    case ast::measure_kind::time_in: return "time-in " + dump(m.pat);
    case ast::measure_kind::overlapping: return "overlapping";
    case ast::measure_kind::status_at: return "status-at " + dump(m.at);
    case ast::measure_kind::state_at: return "state-at \"" + m.component + "\" " + dump(m.at);
    case ast::measure_kind::open_at: return "open-at " + dump(m.at);
    case ast::measure_kind::expression: break;
  }
  return "?";
}

std::string dump(const std::vector<ast::named_expr>& items) {
  std::string out;
  for (const auto& n : items) {
    if (!out.empty()) out += ", ";
    if (n.name) out += n.name->name + "=";
    out += dump(n.value);
  }
  return out;
}

struct op_printer {
  using result_type = std::string;
  std::string operator()(const ast::where_op& w) const { return "where " + dump(w.condition); }
  std::string operator()(const ast::let_op& l) const {
    std::string out = "let";
    for (const auto& b : l.bindings) {
      out += " " + b.name.name + "=";
      switch (b.kind) {
        case ast::measure_kind::time: out += "{" + dump(b.span) + "}"; break;
        case ast::measure_kind::count: out += "{count " + dump(b.pat) + "}"; break;
        case ast::measure_kind::min_value: out += "{min " + dump(b.pat) + "}"; break;
        case ast::measure_kind::max_value: out += "{max " + dump(b.pat) + "}"; break;
        case ast::measure_kind::first_value: out += "{first " + dump(b.pat) + "}"; break;
        case ast::measure_kind::last_value: out += "{last " + dump(b.pat) + "}"; break;
        default: out += "{" + dump(b.value) + "}"; break;
      }
    }
    return out;
  }
  std::string operator()(const ast::summarize_op& s) const {
    std::string out = "summarize " + dump(s.aggregates);
    if (!s.by.empty()) out += " by " + dump(s.by);
    return out;
  }
  std::string operator()(const ast::order_op& o) const {
    std::string out = "order";
    for (const auto& i : o.items) out += " " + dump(i.value) + (i.descending ? " desc" : " asc");
    return out;
  }
  std::string operator()(const ast::limit_op& l) const { return "limit " + std::to_string(l.count); }
  std::string operator()(const ast::select_op& s) const { return "select " + dump(s.items); }
  std::string operator()(const ast::per_op& p) const { return "per " + p.unit + (p.zone ? " \"" + p.zone->value + "\"" : ""); }
};

std::string as_of(const std::optional<ast::timestamp_lit>& t) {
  return t ? " as of " + std::to_string(t->ms) : "";
}

std::string dump(const ast::write_value& v) {
  switch (v.kind) {
    case ast::value_kind::string: return "\"" + v.text + "\"";
    case ast::value_kind::word: return v.text;
    case ast::value_kind::number: return (v.is_integer ? "(int " : "(real ") + number_text(v.number) + ")";
    case ast::value_kind::percent: return "(pct " + number_text(v.number) + ")";
    case ast::value_kind::date: return "(date " + v.text + ")";
    case ast::value_kind::list: {
      std::string out = "(list";
      for (const auto& i : v.items) out += " \"" + i + "\"";
      return out + ")";
    }
  }
  return "?";
}

std::string dump(const ast::time_spec& t) {
  std::string out = t.approx ? "~" : "";
  switch (t.kind) {
    case ast::time_kind::now:
      return out + "now" + (t.offset == 0 ? "" : (t.offset > 0 ? "+" : "") + std::to_string(t.offset));
    case ast::time_kind::timestamp: return out + "(ts " + std::to_string(t.ms) + ")";
    case ast::time_kind::time_of_day: return out + "(tod " + std::to_string(t.ms) + ")";
  }
  return "?";
}

// `(record status investigating "text" (at (tod 36120000)) (owner "ana"))`
std::string dump(const ast::write_stmt& w) {
  std::string out;
  switch (w.kind) {
    case ast::write_kind::record: out = "(record " + w.type.name; break;
    case ast::write_kind::new_incident: out = "(new " + w.type.name + " " + w.incident->id; break;
    case ast::write_kind::correct: out = "(correct "; break;
    case ast::write_kind::retract: out = "(retract "; break;
  }
  if (w.kind == ast::write_kind::correct || w.kind == ast::write_kind::retract)
    out += w.target.last ? std::string("last") : "<" + w.target.id + ">";
  for (const auto& i : w.items) {
    switch (i.kind) {
      case ast::item_kind::value: out += " " + dump(i.value); break;
      case ast::item_kind::field: out += " (" + i.name.name + " " + dump(i.value) + ")"; break;
      case ast::item_kind::at: out += " (at " + dump(i.time) + ")"; break;
      case ast::item_kind::source: out += " (source \"" + i.text.value + "\")"; break;
      case ast::item_kind::id: out += " (id \"" + i.text.value + "\")"; break;
      case ast::item_kind::in: out += " (in " + i.incident.id + ")"; break;
    }
  }
  if (w.reason) out += " (because \"" + w.reason->value + "\")";
  return out + ")";
}

struct statement_printer {
  using result_type = std::string;
  std::string operator()(const ast::write_stmt& w) const { return dump(w); }
  std::string operator()(const ast::use_stmt& u) const { return "use " + u.incident.id; }
  std::string operator()(const ast::time_stmt& t) const {
    return dump(t.span) + (t.incident ? " in " + t.incident->id : "") + as_of(t.as_of);
  }
  std::string operator()(const ast::show_stmt& s) const {
    std::string out = s.what == ast::show_kind::incidents ? "show incidents"
                      : s.what == ast::show_kind::types   ? "show types"
                                                          : "show sources";
    return out + (s.incident ? " " + s.incident->id : "") + as_of(s.as_of);
  }
  std::string operator()(const ast::report_stmt& r) const {
    return std::string("report") + (r.incident ? " " + r.incident->id : "") +
           (r.path ? " to \"" + *r.path + "\"" : "") + as_of(r.as_of);
  }
  std::string operator()(const ast::history_stmt& h) const { return "history <" + h.event_id + ">"; }
  std::string operator()(const ast::pipeline& p) const {
    std::string out = p.from.kind == ast::source_kind::incidents ? "incidents"
                      : p.from.kind == ast::source_kind::events  ? "events"
                      : p.from.kind == ast::source_kind::log     ? "log"
                                                                 : "timeline";
    if (p.from.incident) out += p.from.kind == ast::source_kind::incidents ? " overlapping " + p.from.incident->id
                                                                           : " " + p.from.incident->id;
    out += as_of(p.from.as_of);
    if (p.from.where) out += " where " + dump(*p.from.where);
    for (const auto& op : p.ops) out += " | " + boost::apply_visitor(op_printer{}, op.get());
    return out;
  }
};

std::string dump(const ast::statement& s) { return boost::apply_visitor(statement_printer{}, s.get()); }

// Parses `text`, which must hold exactly one statement, and prints it.
std::string one(std::string_view text) {
  auto r = parse(text);
  if (!r) return "ERROR " + render_error(r.error(), text);
  if (r->statements.size() != 1) return "STATEMENTS " + std::to_string(r->statements.size());
  return dump(r->statements.front());
}

// Parses `where EXPR` and prints the expression.
std::string expr(std::string_view condition) {
  std::string text = "events where " + std::string(condition);
  auto r = parse(text);
  if (!r) return "ERROR " + render_error(r.error(), text);
  return dump(*boost::get<ast::pipeline>(r->statements.at(0).get()).from.where);
}

// The error `text` renders to, or "" when it parses.
std::string failure(std::string_view text, source_position origin = {"", 1, 1}) {
  auto r = parse(text, origin);
  if (r) return "";
  return render_error(r.error(), text, origin);
}

std::string_view span_text(std::string_view text, const ast::tagged& node) {
  return text.substr(node.offset, node.length);
}

struct tag_visitor {
  using result_type = const ast::tagged*;
  template <typename T>
  const ast::tagged* operator()(const boost::spirit::x3::forward_ast<T>& f) const {
    return &f.get();
  }
  template <typename T>
  const ast::tagged* operator()(const T& t) const {
    return &t;
  }
};

const ast::tagged& tag_of(const ast::expr& e) { return *boost::apply_visitor(tag_visitor{}, e.get()); }

int64_t utc_ms(int64_t days, int64_t h = 0, int64_t m = 0, int64_t s = 0, int64_t ms = 0) {
  return (((days * 24 + h) * 60 + m) * 60 + s) * 1000 + ms;
}

// ---------------------------------------------------------------- golden error cases

struct error_case {
  std::string file;
  std::string name;
  std::string query;
  std::string expected;
};

// Format: `=== NAME`, the query (one or more lines), `---`, the exact render_error output;
// lines starting with `#` before the first case are comments.
std::vector<error_case> load_error_cases() {
  std::vector<error_case> cases;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(PMDB_SOURCE_DIR "/tests/golden/parse_errors")) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string line;
    error_case* current = nullptr;
    bool in_expected = false;
    while (std::getline(in, line)) {
      if (line.rfind("=== ", 0) == 0) {
        cases.push_back({path.filename().string(), line.substr(4), "", ""});
        current = &cases.back();
        in_expected = false;
      } else if (current == nullptr) {
        continue;
      } else if (!in_expected && line == "---") {
        in_expected = true;
      } else if (in_expected) {
        current->expected += line + "\n";
      } else {
        current->query += (current->query.empty() ? "" : "\n") + line;
      }
    }
  }
  for (auto& c : cases) {
    while (c.expected.size() >= 2 && c.expected.ends_with("\n\n")) c.expected.pop_back();
  }
  return cases;
}

}  // namespace

TEST_SUITE("query_parser") {

TEST_CASE("the documented examples parse") {
  const char* examples[] = {
      "time from first report to 99% fixed in meta-2024-12-11;",
      "use openai-2024-12-11;",
      "time from first alert to status identified;",
      "time from first status investigating to status monitoring;",
      "time from first report to last status resolved;",
      "time from first report where source ~ \"Downdetector\" to first status resolved after first alert;",
      "time from start to end;",
      "incidents\n"
      "| where org = \"OpenAI\" and started >= 2024-06-01\n"
      "| let ttr = time from first report to status resolved, peak = max value of metric affected, posts = count of comm\n"
      "| where ttr > 1h\n"
      "| summarize n = count(), median(ttr), p90(ttr), max(ttr) by month(started)\n"
      "| order by month desc\n"
      "| limit 12;",
      "events where type = comm and channel = \"x\" and text ~ \"fix\" | select incident, at, author, text;",
      "timeline openai-2024-12-11 where type in (status, comm);",
      "incidents overlapping openai-2024-12-11;",
      "show incidents;  show types;  show sources openai-2024-12-11;",
      "events where value is not null and not (value < 10 or value > 90) | summarize percentile(value, 75), avg(value) "
      "by incident;",
      "time from first comm on x by \"OpenAI\" to component \"ChatGPT\" operational in openai-2024-12-11;",
      "report openai-2024-12-11 to \"out.md\";",
  };
  for (const char* text : examples) {
    INFO(text);
    auto r = parse(text);
    REQUIRE_MESSAGE(r.has_value(), render_error(r.error(), text));
    CHECK(r->statements.size() == (std::string_view(text).starts_with("show") ? 3u : 1u));
  }
}

TEST_CASE("the AST of the documented examples") {
  CHECK(one("time from first report to 99% fixed in meta-2024-12-11;") ==
        "time first [report] to next [metric fixed >= 99] in meta-2024-12-11");
  CHECK(one("use openai-2024-12-11;") == "use openai-2024-12-11");
  CHECK(one("time from first alert to status identified") == "time first [alert] to next [status identified]");
  CHECK(one("time from first report to last status resolved;") == "time first [report] to last [status resolved]");
  CHECK(one("time from first report where source ~ \"Downdetector\" to first status resolved after first alert;") ==
        "time first [report where (~ source \"Downdetector\")] to (first [status resolved] after first [alert])");
  CHECK(one("time from start to end;") == "time start to end");
  CHECK(one("incidents\n"
            "| where org = \"OpenAI\" and started >= 2024-06-01\n"
            "| let ttr = time from first report to status resolved, peak = max value of metric affected, "
            "posts = count of comm\n"
            "| where ttr > 1h\n"
            "| summarize n = count(), median(ttr), p90(ttr), max(ttr) by month(started)\n"
            "| order by month desc\n"
            "| limit 12;") ==
        "incidents | where (and (= org \"OpenAI\") (>= started (at 1717200000000)))"
        " | let ttr={time first [report] to next [status resolved]} peak={max [metric affected]} posts={count [comm]}"
        " | where (> ttr (ms 3600000))"
        " | summarize n=(count()), (median() ttr), (p90() ttr), (max() ttr) by (month() started)"
        " | order month desc | limit 12");
  CHECK(one("events where type = comm and channel = \"x\" and text ~ \"fix\" | select incident, at, author, text;") ==
        "events where (and (and (= type comm) (= channel \"x\")) (~ text \"fix\")) | select incident, at, author, text");
  CHECK(one("timeline openai-2024-12-11 where type in (status, comm);") ==
        "timeline openai-2024-12-11 where (in type status comm)");
  CHECK(one("incidents overlapping openai-2024-12-11;") == "incidents overlapping openai-2024-12-11");
  CHECK(one("events where value is not null and not (value < 10 or value > 90) | summarize percentile(value, 75), "
            "avg(value) by incident;") ==
        "events where (and (is-not-null value) (not (or (< value (int 10)) (> value (int 90)))))"
        " | summarize (percentile() value (int 75)), (avg() value) by incident");
  CHECK(one("time from first comm on x by \"OpenAI\" to component \"ChatGPT\" operational in openai-2024-12-11;") ==
        "time first [comm on x by \"OpenAI\"] to next [component \"ChatGPT\" operational] in openai-2024-12-11");
  CHECK(one("report openai-2024-12-11 to \"out.md\";") == "report openai-2024-12-11 to \"out.md\"");
}

TEST_CASE("show, use and report statements") {
  auto r = parse("show incidents;  show types;  show sources openai-2024-12-11;");
  REQUIRE(r);
  REQUIRE(r->statements.size() == 3);
  CHECK(dump(r->statements[0]) == "show incidents");
  CHECK(dump(r->statements[1]) == "show types");
  CHECK(dump(r->statements[2]) == "show sources openai-2024-12-11");
  CHECK(one("show sources") == "show sources");
  CHECK(one("report") == "report");
  CHECK(one("report to \"x.md\"") == "report to \"x.md\"");
  CHECK(one("report meta-2024-12-11") == "report meta-2024-12-11");
  CHECK(one("use a.b_c-9") == "use a.b_c-9");
  // 2024-12-11T23:30Z is 1733959800000 ms.
  CHECK(one("show incidents as of 2024-12-11T23:30Z") == "show incidents as of 1733959800000");
  CHECK(one("report a-1 to \"x.md\" AS OF 2024-12-11T23:30Z") == "report a-1 to \"x.md\" as of 1733959800000");
  CHECK(one("report as of 2024-12-11T23:30Z") == "report as of 1733959800000");
  CHECK(one("time from start to end in a-1 as of 2024-12-11T23:30Z") == "time start to end in a-1 as of 1733959800000");
  CHECK(one("history a-1/status-resolved") == "history <a-1/status-resolved>");
  CHECK(one("history 'sp:abc/incident-0f'") == "history <sp:abc/incident-0f>");
  CHECK(one("history e0123abc") == "history <e0123abc>");
}

TEST_CASE("write statements: every form of new incident, record, correct and retract") {
  // The examples of docs/pmql.md, section 13. Times: 10:02 is 36120000 ms after midnight;
  // 2026-11-30T10:53Z is 1796035980000 ms.
  CHECK(one("new incident acme-2026-11-30 title \"Checkout errors\" org \"Acme\" services (\"api\", \"web\") "
            "severity major") ==
        "(new incident acme-2026-11-30 (title \"Checkout errors\") (org \"Acme\") (services (list \"api\" \"web\")) "
        "(severity major))");
  CHECK(one("record status investigating \"We are looking into it\"") ==
        "(record status investigating \"We are looking into it\")");
  CHECK(one("record alert \"p99 > 2s\" at 10:02 source \"pagerduty\"") ==
        "(record alert \"p99 > 2s\" (at (tod 36120000)) (source \"pagerduty\"))");
  CHECK(one("record report count 1500 \"Downdetector peak\" at ~10:40 source \"downdetector\"") ==
        "(record report (count (int 1500)) \"Downdetector peak\" (at ~(tod 38400000)) (source \"downdetector\"))");
  CHECK(one("record metric fixed 99% at now - 5m source \"press\"") ==
        "(record metric fixed (pct 99) (at now-300000) (source \"press\"))");
  CHECK(one("record comm on x by \"Acme\" \"We have identified the issue\" at 2026-11-30T10:53Z") ==
        "(record comm (on x) (by \"Acme\") \"We have identified the issue\" (at (ts 1796035980000)))");
  CHECK(one("record component \"api\" major_outage") == "(record component \"api\" major_outage)");
  CHECK(one("record change \"Deploy 4512\" at 09:58 source \"deploy log\"") ==
        "(record change \"Deploy 4512\" (at (tod 35880000)) (source \"deploy log\"))");
  CHECK(one("record cause root_cause \"Retry storm\"") == "(record cause root_cause \"Retry storm\")");
  CHECK(one("record action \"Add a breaker\" owner \"ana\" due 2026-12-15") ==
        "(record action \"Add a breaker\" (owner \"ana\") (due (date 2026-12-15)))");
  CHECK(one("record note \"x\" tags (\"a\", b) in acme-1 id \"bot/42\"") ==
        "(record note \"x\" (tags (list \"a\" \"b\")) (in acme-1) (id \"bot/42\"))");
  CHECK(one("record incident title 'T' services ()") == "(record incident (title \"T\") (services (list)))");
  CHECK(one("correct e3f1a2b4c5d6 at 10:01 because \"clock skew\"") ==
        "(correct <e3f1a2b4c5d6> (at (tod 36060000)) (because \"clock skew\"))");
  CHECK(one("correct 'openai-2024-12-11/alert' set text = \"…\", value = -2.5 because \"r\"") ==
        "(correct <openai-2024-12-11/alert> (text \"…\") (value (real -2.5)) (because \"r\"))");
  CHECK(one("correct last set text = \"a\" at now + 1h because \"r\" source \"me\"") ==
        "(correct last (text \"a\") (at now+3600000) (source \"me\") (because \"r\"))");
  CHECK(one("retract e3f1a2b4c5d6 because \"belongs to another incident\"") ==
        "(retract <e3f1a2b4c5d6> (because \"belongs to another incident\"))");
  CHECK(one("retract last because \"x\" id \"r/1\"") == "(retract last (id \"r/1\") (because \"x\"))");
  // Keywords, type names and enumerated words are case-insensitive; seconds, zones, H:MM.
  CHECK(one("RECORD Status Resolved AT 10:02:30") == "(record status Resolved (at (tod 36150000)))");
  CHECK(one("record note 'x' at 9:05") == "(record note \"x\" (at (tod 32700000)))");
  CHECK(one("record note 'x' at 2026-11-30T10:53-08:00") == "(record note \"x\" (at (ts 1796064780000)))");
  // A word that is a field name is a field; a quoted one is a value.
  CHECK(one("record metric \"count\" 5") == "(record metric \"count\" (int 5))");
}

TEST_CASE("write statements: spans") {
  const std::string text = "use a;\nrecord  alert \"x\" at ~10:02 owner \"o\";\ncorrect   last at now because 'y';";
  auto r = parse(text);
  REQUIRE(r);
  REQUIRE(r->statements.size() == 3);
  const auto& rec = boost::get<ast::write_stmt>(r->statements[1].get());
  CHECK(span_text(text, rec) == "record  alert \"x\" at ~10:02 owner \"o\"");
  CHECK(span_text(text, rec.type) == "alert");
  REQUIRE(rec.items.size() == 3);
  CHECK(span_text(text, rec.items[0]) == "\"x\"");
  CHECK(span_text(text, rec.items[0].value) == "\"x\"");
  CHECK(span_text(text, rec.items[1]) == "at ~10:02");
  CHECK(span_text(text, rec.items[1].time) == "~10:02");
  CHECK(span_text(text, rec.items[2].name) == "owner");
  CHECK(span_text(text, rec.items[2].value) == "\"o\"");
  const auto& cor = boost::get<ast::write_stmt>(r->statements[2].get());
  CHECK(span_text(text, cor.target) == "last");
  REQUIRE(cor.reason);
  CHECK(span_text(text, *cor.reason) == "'y'");
}

TEST_CASE("every pattern") {
  auto to = [](std::string_view pattern) { return one("time from start to " + std::string(pattern)); };
  for (const char* simple :
       {"any", "report", "alert", "change", "cause", "action", "note", "incident", "correction", "retraction"}) {
    CHECK(to(simple) == "time start to next [" + std::string(simple) + "]");
  }
  CHECK(to("status Resolved") == "time start to next [status resolved]");
  CHECK(to("comm") == "time start to next [comm]");
  CHECK(to("comm on statuspage") == "time start to next [comm on statuspage]");
  CHECK(to("comm on \"status page\"") == "time start to next [comm on status page]");
  CHECK(to("comm by \"OpenAI\"") == "time start to next [comm by \"OpenAI\"]");
  CHECK(to("component \"API\"") == "time start to next [component \"API\"]");
  CHECK(to("component \"API\" major_outage") == "time start to next [component \"API\" major_outage]");
  CHECK(to("metric affected") == "time start to next [metric affected]");
  CHECK(to("metric affected <= 10") == "time start to next [metric affected <= 10]");
  CHECK(to("metric error_rate <> -2.5") == "time start to next [metric error_rate != -2.5]");
  CHECK(to("metric x = 1") == "time start to next [metric x = 1]");
  CHECK(to("metric x != 1") == "time start to next [metric x != 1]");
  CHECK(to("metric x < 1") == "time start to next [metric x < 1]");
  CHECK(to("metric x > 1") == "time start to next [metric x > 1]");
  CHECK(to("metric x >= 1") == "time start to next [metric x >= 1]");
  CHECK(to("99.5% fixed") == "time start to next [metric fixed >= 99.5]");
  CHECK(to("alert where severity = \"high\"") == "time start to next [alert where (= severity \"high\")]");
  CHECK(to("comm on x where text ~ \"fixed\"") == "time start to next [comm on x where (~ text \"fixed\")]");
}

TEST_CASE("milestones") {
  CHECK(one("time from report to status resolved") == "time next [report] to next [status resolved]");
  CHECK(one("time from last alert to end") == "time last [alert] to end");
  CHECK(one("time from first alert after first report after start to end") ==
        "time (first [alert] after (first [report] after start)) to end");
  CHECK(one("time from start to status resolved after last change") ==
        "time start to (next [status resolved] after last [change])");
  CHECK(one("time from first report where x = 1 to status resolved where y in (1) in meta-1") ==
        "time first [report where (= x (int 1))] to next [status resolved where (in y (int 1))] in meta-1");
  // A component state is optional: the next keyword is not taken for one.
  CHECK(one("time from component \"A\" to component \"B\" in x") ==
        "time next [component \"A\"] to next [component \"B\"] in x");
  CHECK(one("time from component \"A\" after start to end") == "time (next [component \"A\"] after start) to end");
}

TEST_CASE("pipelines: sources and every operator") {
  CHECK(one("incidents") == "incidents");
  CHECK(one("events") == "events");
  CHECK(one("incidents where org = 'Meta'") == "incidents where (= org \"Meta\")");
  CHECK(one("incidents overlapping a-1 where x") == "incidents overlapping a-1 where x");
  CHECK(one("timeline a-1") == "timeline a-1");
  CHECK(one("log") == "log");
  CHECK(one("log as of 2024-12-11T23:30Z where type = correction") ==
        "log as of 1733959800000 where (= type correction)");
  CHECK(one("timeline a-1 as of 2024-12-11T23:30Z") == "timeline a-1 as of 1733959800000");
  CHECK(one("incidents as of 2024-12-11T23:30Z | limit 1") == "incidents as of 1733959800000 | limit 1");
  CHECK(one("events | where a | where b") == "events | where a | where b");
  CHECK(one("incidents | let a = count of status resolved, b = min value of metric x, c = first value of 50% y, "
            "d = last value of metric z where source = \"s\", e = ttr / 2, f = max(ttr), g = time * 2") ==
        "incidents | let a={count [status resolved]} b={min [metric x]} c={first [metric y >= 50]}"
        " d={last [metric z where (= source \"s\")]} e={(/ ttr (int 2))} f={(max() ttr)} g={(* time (int 2))}");
  CHECK(one("incidents | let t = time from start to end") == "incidents | let t={time start to end}");
  CHECK(one("events | summarize count()") == "events | summarize (count())");
  CHECK(one("events | summarize n = count(), s = sum(value) by type, m = month(at)") ==
        "events | summarize n=(count()), s=(sum() value) by type, m=(month() at)");
  CHECK(one("events | summarize by type") == "events | summarize  by type");  // no aggregates
  CHECK(one("events | order by at") == "events | order at asc");
  CHECK(one("events | order by at asc, seq desc, x") == "events | order at asc seq desc x asc");
  CHECK(one("events | limit 0") == "events | limit 0");
  CHECK(one("events | select a, b = a + 1, c = (a = 1)") == "events | select a, b=(+ a (int 1)), c=(= a (int 1))");
}

TEST_CASE("expression precedence and associativity") {
  CHECK(expr("a - b - c") == "(- (- a b) c)");
  CHECK(expr("a / b * c") == "(* (/ a b) c)");
  CHECK(expr("a + b * c") == "(+ a (* b c))");
  CHECK(expr("(a + b) * c") == "(* (+ a b) c)");
  CHECK(expr("-a * b") == "(* (neg a) b)");
  CHECK(expr("- - a") == "(neg (neg a))");
  CHECK(expr("a or b and c") == "(or a (and b c))");
  CHECK(expr("a or b or c") == "(or (or a b) c)");
  CHECK(expr("a and b and c") == "(and (and a b) c)");
  CHECK(expr("not a = b") == "(not (= a b))");
  CHECK(expr("not not a") == "(not (not a))");
  CHECK(expr("a + 1 > b * 2") == "(> (+ a (int 1)) (* b (int 2)))");
  CHECK(expr("a = 1 or not b is null and c ~ 'x'") == "(or (= a (int 1)) (and (not (is-null b)) (~ c \"x\")))");
  CHECK(expr("x not in (1, 2 + 3)") == "(not-in x (int 1) (+ (int 2) (int 3)))");
  CHECK(expr("x + 1 in (y)") == "(in (+ x (int 1)) y)");
  CHECK(expr("x is not null") == "(is-not-null x)");
  CHECK(expr("a != b") == "(!= a b)");
  CHECK(expr("a <> b") == "(!= a b)");
  CHECK(expr("a < b") == "(< a b)");
  CHECK(expr("a <= b") == "(<= a b)");
  CHECK(expr("a > b") == "(> a b)");
  CHECK(expr("a >= b") == "(>= a b)");
  CHECK(expr("a ~ b") == "(~ a b)");
  CHECK(expr("a !~ b") == "(!~ a b)");
  CHECK(expr("f(g(x), (1))") == "(f() (g() x) (int 1))");
  CHECK(expr("true and false or null") == "(or (and true false) null)");
}

TEST_CASE("keywords are case-insensitive, words that are not reserved are fields") {
  CHECK(one("TIME From FIRST Report TO Status RESOLVED In meta-1") == "time first [report] to next [status resolved] in meta-1");
  CHECK(one("Incidents | WHERE a AND NOT b | ORDER BY a DESC | LIMIT 3") ==
        "incidents | where (and a (not b)) | order a desc | limit 3");
  CHECK(expr("type in (status, comm, report, metric, change)") == "(in type status comm report metric change)");
  CHECK(expr("time > 1 and first = last") == "(and (> time (int 1)) (= first last))");
  CHECK(expr("timeline_x = 1") == "(= timeline_x (int 1))");
  CHECK(expr("NULL is NULL") == "(is-null null)");
  // Keywords do not match a prefix of a longer word.
  CHECK(expr("order_id = 1 and android = 2 or ornament") == "(or (and (= order_id (int 1)) (= android (int 2))) ornament)");
  CHECK(expr("isx = notx") == "(= isx notx)");
}

TEST_CASE("literals") {
  CHECK(expr("a = 90m") == "(= a (ms 5400000))");
  CHECK(expr("a = 4h36m") == "(= a (ms 16560000))");
  CHECK(expr("a = 2d") == "(= a (ms 172800000))");
  CHECK(expr("a = 45s") == "(= a (ms 45000))");
  CHECK(expr("a = 500ms") == "(= a (ms 500))");
  CHECK(expr("a = 1d2h3m") == "(= a (ms 93780000))");
  CHECK(expr("a = 1m30s") == "(= a (ms 90000))");
  CHECK(expr("a = 12") == "(= a (int 12))");
  CHECK(expr("a = 12.5") == "(= a (real 12.5))");
  CHECK(expr("a = 1e3") == "(= a (real 1000))");
  CHECK(expr("a = -3") == "(= a (neg (int 3)))");
  CHECK(expr("a = 2024-06-01") == "(= a (at " + std::to_string(utc_ms(19875)) + "))");
  CHECK(expr("a = 2024-12-11T23:07Z") == "(= a (at " + std::to_string(utc_ms(20068, 23, 7)) + "))");
  CHECK(expr("a = 2024-12-11T23:07") == "(= a (at " + std::to_string(utc_ms(20068, 23, 7)) + "))");
  CHECK(expr("a = 2024-12-11T23:07:00.5-08:00") == "(= a (at " + std::to_string(utc_ms(20069, 7, 7, 0, 500)) + "))");
  CHECK(expr("a = 2024-12-11T23:07:09.123456+0530") ==
        "(= a (at " + std::to_string(utc_ms(20068, 17, 37, 9, 123)) + "))");
  CHECK(expr("a = 1970-01-01T00:00:00Z") == "(= a (at 0))");
  CHECK(expr("a = 1969-12-31") == "(= a (at -86400000))");
  CHECK(expr("a = 2024-02-29") == "(= a (at " + std::to_string(utc_ms(19782)) + "))");
  // A date minus a duration is a subtraction, not a zone.
  CHECK(expr("a > 2024-06-01 - 1d") == "(> a (- (at " + std::to_string(utc_ms(19875)) + ") (ms 86400000)))");
  CHECK(expr("a = \"say \\\"hi\\\" \\\\ o'k\"") == "(= a \"say \"hi\" \\ o'k\")");
  CHECK(expr("a = 'it''s'") == "ERROR error: line 1, column 22: expected ';' or end of input\n"
                                "  events where a = 'it''s'\n"
                                "                       ^\n");
  CHECK(expr("a = 'it\\'s'") == "(= a \"it's\")");
  CHECK(expr("a = \"tab\\there\"") == "(= a \"tab\there\")");
  CHECK(expr("a = \"C:\\dir\"") == "(= a \"C:\\dir\")");
  CHECK(expr("a = \"\"") == "(= a \"\")");
}

TEST_CASE("comments, whitespace and several statements") {
  auto r = parse("-- the first query\n"
                 "show types; -- trailing comment\n"
                 "\n"
                 "  events -- a comment between tokens\n"
                 "  | limit 1 ;;\n"
                 ";  use x--with-comment\n");
  REQUIRE_MESSAGE(r, render_error(r.error(), "..."));
  REQUIRE(r->statements.size() == 3);
  CHECK(dump(r->statements[0]) == "show types");
  CHECK(dump(r->statements[1]) == "events | limit 1");
  CHECK(dump(r->statements[2]) == "use x");

  CHECK(parse("")->statements.empty());
  CHECK(parse("  \n\t ")->statements.empty());
  CHECK(parse("-- nothing but a comment")->statements.empty());
  CHECK(parse(";;")->statements.empty());
  CHECK(parse("show types")->statements.size() == 1);
  CHECK(parse("show types;show incidents")->statements.size() == 2);
  CHECK(parse("show types\r\n;\r\nshow incidents\r\n")->statements.size() == 2);
  // `--` inside an expression is a comment, so `a--b` is `a`.
  CHECK(expr("a--b") == "a");
  CHECK(expr("a - -b") == "(- a (neg b))");
}

TEST_CASE("spans: offsets and lengths relative to the text") {
  const std::string text = "show types;\n  time from  first report to 99% fixed in meta-2024-12-11 ;";
  auto r = parse(text);
  REQUIRE(r);
  REQUIRE(r->statements.size() == 2);
  const auto& show = boost::get<ast::show_stmt>(r->statements[0].get());
  CHECK(span_text(text, show) == "show types");
  CHECK(show.offset == 0);
  const auto& t = boost::get<ast::time_stmt>(r->statements[1].get());
  CHECK(span_text(text, t) == "time from  first report to 99% fixed in meta-2024-12-11");
  CHECK(t.offset == 14);
  CHECK(span_text(text, t.span) == "time from  first report to 99% fixed");
  CHECK(span_text(text, t.span.from) == "first report");
  CHECK(span_text(text, t.span.from.pat) == "report");
  CHECK(span_text(text, t.span.to) == "99% fixed");
  CHECK(span_text(text, t.span.to.pat) == "99% fixed");
  REQUIRE(t.incident);
  CHECK(span_text(text, *t.incident) == "meta-2024-12-11");

  const std::string q = "events where (a + b) * c > 1 and d in (1, 2) | select n = f(x, y) -- c\n| order by n desc";
  auto p = parse(q);
  REQUIRE(p);
  const auto& pl = boost::get<ast::pipeline>(p->statements.at(0).get());
  CHECK(span_text(q, pl) == "events where (a + b) * c > 1 and d in (1, 2) | select n = f(x, y) -- c\n| order by n desc");
  CHECK(span_text(q, pl.from) == "events where (a + b) * c > 1 and d in (1, 2)");
  const ast::expr& cond = *pl.from.where;
  CHECK(span_text(q, tag_of(cond)) == "(a + b) * c > 1 and d in (1, 2)");
  const auto& conj = boost::get<boost::spirit::x3::forward_ast<ast::binary>>(cond.get()).get();
  CHECK(span_text(q, tag_of(conj.lhs)) == "(a + b) * c > 1");
  CHECK(span_text(q, tag_of(conj.rhs)) == "d in (1, 2)");
  const auto& gt = boost::get<boost::spirit::x3::forward_ast<ast::binary>>(conj.lhs.get()).get();
  const auto& mul = boost::get<boost::spirit::x3::forward_ast<ast::binary>>(gt.lhs.get()).get();
  CHECK(span_text(q, tag_of(mul.lhs)) == "(a + b)");
  CHECK(span_text(q, tag_of(mul.rhs)) == "c");
  REQUIRE(pl.ops.size() == 2);
  const auto& sel = boost::get<ast::select_op>(pl.ops[0].get());
  CHECK(span_text(q, sel) == "select n = f(x, y)");
  CHECK(span_text(q, sel.items.at(0)) == "n = f(x, y)");
  CHECK(span_text(q, *sel.items.at(0).name) == "n");
  CHECK(span_text(q, tag_of(sel.items.at(0).value)) == "f(x, y)");
  const auto& call = boost::get<boost::spirit::x3::forward_ast<ast::call>>(sel.items.at(0).value.get()).get();
  CHECK(span_text(q, call.function) == "f");
  CHECK(span_text(q, tag_of(call.args.at(1))) == "y");
  const auto& ord = boost::get<ast::order_op>(pl.ops[1].get());
  CHECK(span_text(q, ord) == "order by n desc");
  CHECK(span_text(q, ord.items.at(0)) == "n desc");

  const std::string u = "events where -x + 1";
  auto ue = parse(u);
  REQUIRE(ue);
  const auto& add = boost::get<boost::spirit::x3::forward_ast<ast::binary>>(
                        boost::get<ast::pipeline>(ue->statements.at(0).get()).from.where->get())
                        .get();
  CHECK(span_text(u, tag_of(add.lhs)) == "-x");

  const std::string l = "incidents | let ttr = time from start to end, n = count of comm";
  auto lr = parse(l);
  REQUIRE(lr);
  const auto& let = boost::get<ast::let_op>(boost::get<ast::pipeline>(lr->statements.at(0).get()).ops.at(0).get());
  CHECK(span_text(l, let) == "let ttr = time from start to end, n = count of comm");
  CHECK(span_text(l, let.bindings.at(0)) == "ttr = time from start to end");
  CHECK(span_text(l, let.bindings.at(0).name) == "ttr");
  const auto measure_of = [&](const ast::let_binding& b) -> const ast::measure& {
    return boost::get<boost::spirit::x3::forward_ast<ast::measure>>(b.value.get()).get();
  };
  CHECK(span_text(l, measure_of(let.bindings.at(0))) == "time from start to end");
  CHECK(span_text(l, measure_of(let.bindings.at(0)).span) == "time from start to end");
  CHECK(span_text(l, measure_of(let.bindings.at(1)).pat) == "comm");
}

TEST_CASE("nesting limits: deep input fails cleanly") {
  auto parens = [](int n) { return std::string(n, '(') + "x" + std::string(n, ')'); };
  CHECK(expr(parens(max_nesting_depth)) == "x");
  auto r = parse("events where " + parens(max_nesting_depth + 1));
  REQUIRE(!r);
  CHECK(r.error().message == "expression nested too deeply (limit 64)");
  CHECK(r.error().where->column == 14 + max_nesting_depth);  // the 65th '('

  std::string huge = "events where " + std::string(100'000, '(');
  auto h = parse(huge);
  REQUIRE(!h);
  CHECK(h.error().message == "expression nested too deeply (limit 64)");

  std::string calls = "events where ";
  for (int i = 0; i < 200; ++i) calls += "f(";
  CHECK(parse(calls).error().message == "expression nested too deeply (limit 64)");
  CHECK(parse("events where x " + std::string(50'000, '-')).has_value());  // one long comment
  std::string negations = "events where ";
  for (int i = 0; i < 10'000; ++i) negations += "- ";
  CHECK(parse(negations + "x").error().message == "expression nested too deeply (limit 64)");
  std::string nots = "events where ";
  for (int i = 0; i < 10'000; ++i) nots += "not ";
  CHECK(parse(nots + "x").error().message == "expression nested too deeply (limit 64)");
  std::string lists = "events where ";
  for (int i = 0; i < 1'000; ++i) lists += "x in (";
  CHECK(parse(lists).error().message == "expression nested too deeply (limit 64)");

  std::string afters = "time from first report";
  for (int i = 0; i < max_nesting_depth; ++i) afters += " after first report";
  CHECK(parse(afters + " to end").has_value());
  auto a = parse(afters + " after first report to end");
  REQUIRE(!a);
  CHECK(a.error().message == "expression nested too deeply (limit 64)");
  CHECK(a.error().where->column == afters.size() + 2);  // the 65th 'after'
  for (int i = 0; i < 20'000; ++i) afters += " after report";
  CHECK(parse(afters).error().message == "expression nested too deeply (limit 64)");

  // The depth is per statement: a second statement starts from zero.
  CHECK(parse("events where " + parens(60) + "; events where " + parens(60)).has_value());
}

TEST_CASE("operator chains are bounded") {
  std::string chain = "events where x";
  for (int i = 0; i < 1000; ++i) chain += " + x";
  CHECK(parse(chain).has_value());
  auto r = parse(chain + " + y");
  REQUIRE(!r);
  CHECK(r.error().message == "expression too long (limit 1000 operators)");
  CHECK(r.error().where->column == chain.size() + 4);  // the 'y'
  std::string huge = "events where x";
  for (int i = 0; i < 200'000; ++i) huge += "+x";
  CHECK(parse(huge).error().message == "expression too long (limit 1000 operators)");
  // The budget is per statement.
  CHECK(parse(chain + ";" + chain).has_value());
  std::string items = "events where x in (0";
  for (int i = 1; i < 5'000; ++i) items += ", " + std::to_string(i);
  CHECK(parse(items + ")").has_value());
}

TEST_CASE("text over max_query_bytes is refused") {
  std::string text(max_query_bytes, ' ');
  CHECK(parse(text).has_value());
  text += ' ';
  auto r = parse(text);
  REQUIRE(!r);
  CHECK(r.error().message == "query text too long (1048577 bytes; the limit is 1048576)");
}

TEST_CASE("position_at honours the origin") {
  const std::string text = "ab\ncd\n\nef";
  auto at = [&](std::size_t offset, source_position origin) {
    auto p = position_at(text, offset, origin);
    return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  };
  CHECK(at(0, {"", 1, 1}) == ":1:1");
  CHECK(at(1, {"", 1, 1}) == ":1:2");
  CHECK(at(2, {"", 1, 1}) == ":1:3");
  CHECK(at(3, {"", 1, 1}) == ":2:1");
  CHECK(at(4, {"", 1, 1}) == ":2:2");
  CHECK(at(6, {"", 1, 1}) == ":3:1");
  CHECK(at(8, {"", 1, 1}) == ":4:2");
  CHECK(at(99, {"", 1, 1}) == ":4:3");
  CHECK(at(0, {"s.pmq", 10, 5}) == "s.pmq:10:5");
  CHECK(at(1, {"s.pmq", 10, 5}) == "s.pmq:10:6");
  CHECK(at(4, {"s.pmq", 10, 5}) == "s.pmq:11:2");
}

TEST_CASE("errors carry the absolute position in the origin's file") {
  const std::string text = "show types;\n  events where x >";
  auto r = parse(text, {"queries/a.pmq", 7, 3});
  REQUIRE(!r);
  REQUIRE(r.error().where);
  CHECK(r.error().where->file == "queries/a.pmq");
  CHECK(r.error().where->line == 8);
  CHECK(r.error().where->column == 19);
  CHECK(render_error(r.error(), text, {"queries/a.pmq", 7, 3}) ==
        "queries/a.pmq:8:19: error: expected a duration, a number, a string or a field after '>'\n"
        "    events where x >\n"
        "                    ^\n");

  // On the origin's first line the column is offset by the origin's column.
  const std::string one_line = "time from first report to 9 fixed";
  auto o = parse(one_line, {"", 3, 11});
  REQUIRE(!o);
  CHECK(o.error().where->line == 3);
  CHECK(o.error().where->column == 37);
  CHECK(render_error(o.error(), one_line, {"", 3, 11}) ==
        "error: line 3, column 37: expected a pattern (report, status NAME, N% METRIC, ...) after 'to'\n"
        "  time from first report to 9 fixed\n"
        "                            ^\n");
}

TEST_CASE("render_error") {
  CHECK(failure("time from first report to 9 fixed in meta-2024-12-11") ==
        "error: line 1, column 27: expected a pattern (report, status NAME, N% METRIC, ...) after 'to'\n"
        "  time from first report to 9 fixed in meta-2024-12-11\n"
        "                            ^\n");
  // Tabs before the caret are copied so that it lines up in a terminal.
  CHECK(failure("events\n\t| where\tx >\t;") ==
        "error: line 2, column 14: expected a duration, a number, a string or a field after '>'\n"
        "  \t| where\tx >\t;\n"
        "  \t       \t   \t^\n");
  // A multi-byte character takes one column of padding; the column number counts bytes.
  CHECK(failure("events where \"é\" = ") ==
        "error: line 1, column 20: expected a duration, a number, a string or a field after '='\n"
        "  events where \"é\" = \n"
        "                    ^\n");
  // Control characters are not echoed to the terminal.
  CHECK(failure("events where x = \x1b[31m") ==
        "error: line 1, column 18: expected a duration, a number, a string or a field after '='\n"
        "  events where x = ?[31m\n"
        "                   ^\n");
  // Nor are bytes that are not UTF-8: each shows as '?', so the caret still lines up.
  CHECK(failure("events where \"\xff\xe2\x82\" = ") ==
        "error: line 1, column 21: expected a duration, a number, a string or a field after '='\n"
        "  events where \"???\" = \n"
        "                      ^\n");
  CHECK(render_error(error("no position"), "text") == "error: no position\n");
  error e("somewhere", {"f.pmq", 2, 1});
  CHECK(render_error(e, "a\nb", {"f.pmq", 1, 1}) == "f.pmq:2:1: error: somewhere\n  b\n  ^\n");
}

TEST_CASE("syntax errors (tests/golden/parse_errors)") {
  auto cases = load_error_cases();
  CHECK(cases.size() >= 25);
  for (const auto& c : cases) {
    INFO(c.file << ": " << c.name << "\n" << c.query);
    auto r = parse(c.query);
    CHECK_FALSE(r.has_value());
    if (!r) CHECK(render_error(r.error(), c.query) == c.expected);
  }
}

}  // TEST_SUITE
