// query/words.hpp, the one list of PMQL's words, against what it stands for: the event schemas
// (read here from the source tree, not from the copy compiled into the binary), the reference
// (docs/pmql.md), the grammar and the compiler (through query::parse and query::compile), and
// tab completion, which draws from it.
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "core/event.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "query/words.hpp"
#include "shell/completion.hpp"
#include "shell/session.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;
namespace words = pmdb::query::words;

namespace {

rapidjson::Document schema(std::string_view file) {
  const std::string text = read_file(source_dir() / "schemas" / "events" / std::string(file));
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), file);
  REQUIRE(doc.IsObject());
  return doc;
}

// The `enum` of `property` in schemas/events/`file`.
std::vector<std::string> schema_enum(std::string_view file, const char* property) {
  const auto doc = schema(file);
  std::vector<std::string> out;
  const auto& values = doc["properties"][property]["enum"];
  REQUIRE(values.IsArray());
  for (const auto& v : values.GetArray()) out.emplace_back(v.GetString());
  return out;
}

std::vector<std::string> strings(std::span<const std::string> s) { return {s.begin(), s.end()}; }

std::vector<std::string> strings(const std::vector<std::string_view>& s) { return {s.begin(), s.end()}; }

// The lines of docs/pmql.md from the heading `from` (a line starting with it) to the next
// heading of level `level` or higher ("## " or "### ").
std::vector<std::string> docs_section(std::string_view after, std::string_view from, int level) {
  std::istringstream in(read_file(source_dir() / "docs" / "pmql.md"));
  std::vector<std::string> out;
  bool seen_after = after.empty(), inside = false;
  std::string line;
  bool fenced = false;
  while (std::getline(in, line)) {
    if (line.starts_with("```")) fenced = !fenced;
    if (!fenced && !seen_after && line.starts_with(after)) {
      seen_after = true;
      continue;
    }
    if (!fenced && seen_after && !inside && line.starts_with(from)) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (!fenced && line.starts_with("#")) {
      const auto hashes = line.find_first_not_of('#');
      if (hashes != std::string::npos && static_cast<int>(hashes) <= level && line[hashes] == ' ') break;
    }
    out.push_back(line);
  }
  return out;
}

// The backquoted spans of `text`.
std::vector<std::string> code_spans(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t i = text.find('`'); i != std::string_view::npos; i = text.find('`', i)) {
    const std::size_t j = text.find('`', i + 1);
    if (j == std::string_view::npos) break;
    out.emplace_back(text.substr(i + 1, j - i - 1));
    i = j + 1;
  }
  return out;
}

// The first cells of the rows of the table in `lines` whose header row starts with `header`.
std::vector<std::string> first_cells(const std::vector<std::string>& lines, std::string_view header) {
  std::vector<std::string> out;
  bool in_table = false;
  for (const auto& l : lines) {
    if (!in_table) {
      in_table = l.starts_with(header);
      continue;
    }
    if (!l.starts_with("|")) break;
    if (l.starts_with("|---") || l.starts_with("| ---")) continue;
    const std::size_t end = l.find(" |", 1);
    out.push_back(l.substr(1, end == std::string::npos ? std::string::npos : end - 1));
  }
  return out;
}

// The function names documented: in the first column of section 6's "Functions" table and of
// 5.4's aggregate table, each `NAME(...)` code span.
std::set<std::string> documented_functions() {
  std::vector<std::string> cells = first_cells(docs_section("## 6.", "### Functions", 3), "| function |");
  const auto aggregates = first_cells(docs_section("", "### 5.4", 3), "| aggregate |");
  cells.insert(cells.end(), aggregates.begin(), aggregates.end());
  std::set<std::string> names;
  for (const auto& cell : cells)
    for (const auto& span : code_spans(cell)) {
      const std::size_t paren = span.find('(');
      if (paren != std::string::npos && paren > 0) names.insert(span.substr(0, paren));
    }
  return names;
}

// Whether the grammar takes `word` as a NAME: `let WORD = 1` parses.
bool grammar_takes_as_name(std::string_view word) {
  return query::parse("events | let " + std::string(word) + " = 1").has_value();
}

const std::vector<std::string_view> reserved_today = {"and", "or",  "not",  "in",   "is",    "null",
                                                      "true", "false", "by", "asc", "desc", "where",
                                                      "to",  "after", "as"};
const std::vector<std::string_view> reserved_new = {"matches", "has", "contains"};

}  // namespace

TEST_SUITE("words") {
  TEST_CASE("the closed sets are the schemas' enums, in schema order") {
    CHECK(strings(words::statuses()) == schema_enum("status.schema.json", "status"));
    CHECK(strings(words::component_states()) == schema_enum("component.schema.json", "state"));
    CHECK(strings(words::channels()) == schema_enum("comm.schema.json", "channel"));
    CHECK(strings(words::event_types()) == schema_enum("envelope.schema.json", "type"));
    CHECK(words::statuses().size() == 9);
    CHECK(words::channels().front() == "x");
  }

  TEST_CASE("the event types are the schema files, and core's list") {
    std::set<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(source_dir() / "schemas" / "events")) {
      const std::string name = e.path().filename().string();
      if (name.ends_with(".schema.json") && name != "envelope.schema.json")
        files.insert(name.substr(0, name.size() - std::string_view(".schema.json").size()));
    }
    const auto types = strings(words::event_types());
    CHECK(std::set<std::string>(types.begin(), types.end()) == files);
    CHECK(types.size() == files.size());
    CHECK(types == std::vector<std::string>(std::begin(pmdb::event_types), std::end(pmdb::event_types)));
  }

  TEST_CASE("the payload fields are the recordable types' data properties") {
    std::vector<std::string> expected;
    for (const auto& type : schema_enum("envelope.schema.json", "type")) {
      if (type == "correction" || type == "retraction") continue;
      const auto doc = schema(type + ".schema.json");
      for (const auto& m : doc["properties"].GetObject())
        if (std::ranges::find(expected, m.name.GetString()) == expected.end()) expected.emplace_back(m.name.GetString());
    }
    CHECK(strings(words::payload_fields()) == expected);
    for (const auto f : {"text", "owner", "due", "tracker", "tags", "title", "org", "services", "severity", "summary",
                         "shortlink", "url", "lang", "name", "value", "unit", "count", "status", "channel", "author",
                         "component", "state", "kind"})
      CHECK_MESSAGE(std::ranges::find(words::payload_fields(), std::string(f)) != words::payload_fields().end(), f);
  }

  TEST_CASE("keywords: lowercase words, one row per role, reserved the same in every row") {
    std::set<std::pair<std::string_view, words::word_kind>> rows;
    for (const auto& kw : words::keywords()) {
      INFO(kw.word);
      CHECK(!kw.word.empty());
      CHECK(std::ranges::all_of(kw.word, [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }));
      CHECK(!kw.summary.empty());
      CHECK(rows.insert({kw.word, kw.kind}).second);
      CHECK(kw.reserved == words::is_reserved(kw.word));
    }
    // The grammar's words, read and write (query/parser_def.hpp, query/write_parser_def.hpp),
    // and those the parallel work adds.
    const auto all = words::keyword_words();
    for (const auto w :
         {"use", "time", "from", "to", "in", "as", "of", "show", "incidents", "types", "sources", "report", "history",
          "events", "log", "timeline", "overlapping", "where", "let", "summarize", "by", "order", "asc", "desc", "limit",
          "select", "start", "end", "first", "last", "after", "any", "alert", "change", "cause", "action", "note",
          "incident", "correction", "retraction", "status", "comm", "component", "metric", "on", "and", "or", "not",
          "is", "null", "true", "false", "value", "count", "min", "max", "new", "record", "correct", "retract",
          "because", "set", "now", "source", "id", "at", "per", "matches", "has", "contains", "gap", "changes",
          "reopened", "open", "state"})
      CHECK_MESSAGE(std::ranges::find(all, std::string_view(w)) != all.end(), w);
    CHECK(words::words_of(words::word_kind::statement) ==
          std::vector<std::string_view>{"use", "time", "show", "report", "history", "new", "record", "correct",
                                        "retract"});
    CHECK(words::words_of(words::word_kind::source) ==
          std::vector<std::string_view>{"incidents", "events", "log", "timeline"});
    CHECK(words::words_of(words::word_kind::pipe) ==
          std::vector<std::string_view>{"where", "let", "summarize", "order", "limit", "select", "per"});
    CHECK(words::words_of(words::word_kind::setting) ==
          std::vector<std::string_view>{"at", "source", "id", "in", "set", "because"});
    // The patterns are the event types but status/comm/component/metric's arguments, and `any`.
    auto patterns = strings(words::words_of(words::word_kind::pattern));
    std::ranges::sort(patterns);
    auto types = strings(words::event_types());
    types.emplace_back("any");
    std::ranges::sort(types);
    CHECK(patterns == types);
  }

  TEST_CASE("reserved words: the grammar's of today, and the word operators") {
    std::set<std::string_view> reserved;
    for (const auto& kw : words::keywords())
      if (kw.reserved) reserved.insert(kw.word);
    std::set<std::string_view> expected(reserved_today.begin(), reserved_today.end());
    expected.insert(reserved_new.begin(), reserved_new.end());
    CHECK(reserved == expected);
    CHECK(words::is_reserved("AND"));
    CHECK(!words::is_reserved("per"));
    CHECK(!words::is_reserved("andy"));
  }

  TEST_CASE("the grammar reserves the words reserved today") {
    for (const auto w : reserved_today) CHECK_MESSAGE(!grammar_takes_as_name(w), w);
    CHECK(grammar_takes_as_name("ttr"));
  }

  // Unskip when query/grammar_common.hpp builds its reserved words from words::keywords().
  TEST_CASE("the grammar's reserved words are the table's") {
    for (const auto w : words::keyword_words()) {
      INFO(w);
      CHECK(grammar_takes_as_name(w) == !words::is_reserved(w));
    }
  }

  TEST_CASE("functions: names, kinds and arities") {
    std::set<std::string_view> names;
    for (const auto& fn : words::functions()) {
      INFO(fn.name);
      CHECK(names.insert(fn.name).second);
      CHECK(fn.min_args >= 0);
      CHECK((fn.max_args == -1 || fn.max_args >= fn.min_args));
      CHECK(fn.signature.starts_with(std::string(fn.name) + "("));
      CHECK(!fn.summary.empty());
      CHECK(words::find_function(fn.name) == &fn);
    }
    using fk = words::fn_kind;
    CHECK(strings(words::function_names(fk::scalar)) ==
          std::vector<std::string>{"year", "quarter", "month", "week", "day", "hour", "weekday", "hour_of_day",
                                   "day_of_month", "week_of_year", "month_of_year", "quarter_of_year", "lower",
                                   "upper", "length", "coalesce", "abs"});
    CHECK(strings(words::function_names(fk::window)) == std::vector<std::string>{"prev", "next"});
    CHECK(strings(words::function_names(fk::aggregate)) ==
          std::vector<std::string>{"count", "share", "min", "max", "sum", "avg", "median", "p50", "p75", "p90", "p95",
                                   "p99", "percentile", "downtime", "first", "last"});
    REQUIRE(words::find_function("PerCentile") != nullptr);
    CHECK(words::find_function("PerCentile")->name == "percentile");
    CHECK(words::find_function("percentile")->min_args == 2);
    CHECK(words::find_function("coalesce")->max_args == -1);
    CHECK(words::find_function("count")->min_args == 0);
    CHECK(words::find_function("year")->max_args == 2);
    CHECK(words::find_function("nope") == nullptr);
  }

  TEST_CASE("docs name no function PMQL lacks") {
    const auto documented = documented_functions();
    CHECK(documented.size() >= 10);  // the tables were found
    for (const auto& name : documented) CHECK_MESSAGE(words::find_function(name) != nullptr, name);
  }

  // Unskip when docs/pmql.md documents the functions the parallel work adds.
  TEST_CASE("docs name every function") {
    const auto documented = documented_functions();
    for (const auto& fn : words::functions())
      CHECK_MESSAGE(documented.contains(std::string(fn.name)), fn.name << " is not in docs/pmql.md 5.4 or 6");
  }

  // Unskip when docs/pmql.md's NAME token lists the table's reserved words.
  TEST_CASE("docs list the reserved words") {
    std::set<std::string> listed;
    for (const auto& l : docs_section("", "## 2. Grammar", 2))
      if (l.starts_with("| `NAME` |")) {
        const std::size_t at = l.find("reserved words");
        REQUIRE(at != std::string::npos);
        const auto spans = code_spans(std::string_view(l).substr(at));
        REQUIRE(!spans.empty());
        std::istringstream in(spans.front());
        for (std::string w; in >> w;) listed.insert(w);
      }
    std::set<std::string> reserved;
    for (const auto& kw : words::keywords())
      if (kw.reserved) reserved.insert(std::string(kw.word));
    const auto join = [](const std::set<std::string>& w) {
      std::string out;
      for (const auto& x : w) out += (out.empty() ? "" : " ") + x;
      return out;
    };
    CHECK_MESSAGE(listed == reserved, "docs: " << join(listed) << "\ntable: " << join(reserved));
  }

  // Unskip when query/compiler.cpp takes its functions from words::functions().
  TEST_CASE("the compiler knows every function") {
    const auto cat = query::catalog::of({});
    for (const auto& fn : words::functions()) {
      std::string args;
      for (int i = 0; i < fn.min_args; ++i) args += i == 0 ? "at" : ", at";
      const std::string text = fn.kind == words::fn_kind::aggregate
                                   ? fmt::format("events | summarize x = {}({})", fn.name, args)
                                   : fmt::format("events | select x = {}({})", fn.name, args);
      INFO(text);
      auto script = query::parse(text);
      REQUIRE(script);
      auto compiled = query::compile(script->statements.at(0), cat, {}, text);
      if (!compiled) CHECK(compiled.error().message.find("unknown function") == std::string::npos);
    }
  }

  TEST_CASE("close_to: likely typos, best first, never a misleading name") {
    const auto names = words::function_names();
    const std::span<const std::string_view> among(names);
    const auto weekdy = words::close_to("weekdy", among);
    REQUIRE(!weekdy.empty());
    CHECK(weekdy.front() == "weekday");
    CHECK(weekdy.size() <= 3);

    std::vector<std::string_view> without;
    for (const auto n : names)
      if (n != "weekday") without.push_back(n);
    CHECK(words::close_to("weekday", without).empty());
    CHECK(words::close_to("weekday", std::vector<std::string_view>{"week"}).empty());

    CHECK(words::close_to("percentil", among) == std::vector<std::string>{"percentile"});
    CHECK(words::close_to("Median", among) == std::vector<std::string>{"median"});
    CHECK(words::close_to("mediam", among).front() == "median");
    CHECK(words::close_to("xyzzy", among).empty());
    CHECK(words::close_to("", among).empty());
    CHECK(words::close_to("x", std::vector<std::string_view>{"on", "by"}).empty());

    CHECK(words::close_to("resolvd", words::statuses()) == std::vector<std::string>{"resolved"});
    CHECK(words::close_to("major_outtage", words::component_states()) == std::vector<std::string>{"major_outage"});
    CHECK(words::close_to("statuspgae", words::channels()) == std::vector<std::string>{"statuspage"});
    CHECK(words::close_to("fixed", words::statuses()).empty());

    // At most three, fewest edits first.
    CHECK(words::close_to("p9", among) == std::vector<std::string>{"p90", "p95", "p99"});
    CHECK(words::close_to("p9", std::vector<std::string_view>{"p50", "p999", "p91", "p92", "p93", "p94"}) ==
          std::vector<std::string>{"p91", "p92", "p93"});
    CHECK(words::close_to("avgg", std::vector<std::string_view>{"sum", "avgs", "avg"}) ==
          std::vector<std::string>{"avgs", "avg"});
  }

  TEST_CASE("completion offers the words of the table") {
    std::ostringstream out, err;
    shell::session s(memory_store(), ":memory:", shell::settings{}, out, err);
    const auto offered = [&](std::string_view before, std::string_view word) {
      return shell::completions(s, before, word).words;
    };
    const auto all = offered("", "");
    const auto has = [&](std::string_view w) { return std::ranges::find(all, std::string(w)) != all.end(); };
    for (const auto w : words::keyword_words()) CHECK_MESSAGE(has(w), w);
    for (const auto& fn : words::functions()) CHECK_MESSAGE(has(fn.name), fn.name);
    for (const auto& v : words::statuses()) CHECK_MESSAGE(has(v), v);
    for (const auto& v : words::component_states()) CHECK_MESSAGE(has(v), v);
    for (const auto& v : words::channels()) CHECK_MESSAGE(has(v), v);
    for (const auto& v : words::payload_fields()) CHECK_MESSAGE(has(v), v);
    CHECK(std::ranges::is_sorted(all));
    CHECK(std::ranges::adjacent_find(all) == all.end());

    CHECK(offered("events | summarize n = ", "perc") == std::vector<std::string>{"percentile"});
    CHECK(offered("", "weekd") == std::vector<std::string>{"weekday"});
    CHECK(offered("time from first alert to status ", "RESOL") == std::vector<std::string>{"resolved"});
    CHECK(offered("", "major") == std::vector<std::string>{"major_outage"});
    auto types = strings(words::event_types());
    std::ranges::sort(types);
    CHECK(offered(".schema ", "") == types);
  }
}
