#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "core/time.hpp"
#include "shell/render.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::shell;

namespace {

timestamp at(std::string_view iso) { return parse_timestamp(iso).value(); }

// The representative result of the golden files: every type, nulls, and text that stresses
// every mode (separators, quotes, newlines, escape sequences, accented and wide Unicode,
// Markdown syntax).
result_set sample() {
  result_set rs;
  rs.columns = {{"id", value_type::integer},  {"service", value_type::text}, {"started", value_type::timestamp},
                {"ttr", value_type::duration}, {"fixed", value_type::real},  {"note", value_type::text},
                {"owner", value_type::text}};
  rs.rows = {
      {std::int64_t{1}, std::string("api-gateway"), at("2024-12-11T23:17:00Z"), duration{(4 * 60 + 50) * 60'000}, 99.5,
       std::string("Café ✓"), std::string("alice")},
      {std::int64_t{2}, std::string("a|b, \"quoted\""), at("2024-12-11T23:17:05Z"), duration{45'000}, 0.125,
       std::string("line one\nline two"), null_value{}},
      {std::int64_t{-3}, std::string("\x1b[31mred"), null_value{}, duration{-40 * 60'000}, 99.0,
       std::string("東京 back\\slash *x* <b>"), std::string("")},
      {std::int64_t{4}, null_value{}, at("2024-12-12T04:07:00.250Z"), duration{1'500}, null_value{}, null_value{},
       std::string("a_b _c_ AT&T")},
  };
  return rs;
}

// Control characters made visible, for failure messages that must not garble the terminal.
std::string visible(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += ch;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto end = s.find('\n', start);
    if (end == std::string_view::npos) {
      lines.emplace_back(s.substr(start));
      break;
    }
    lines.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Compares `actual` with tests/golden/render/<name> byte for byte. PMDB_UPDATE_GOLDEN=1
// rewrites the file instead. On a mismatch the actual text is saved in the temp dir and
// the message names the first differing line and the `diff -u` to run.
void check_golden(const std::string& name, const std::string& actual) {
  const auto path = test::source_dir() / "tests" / "golden" / "render" / name;
  if (const char* update = std::getenv("PMDB_UPDATE_GOLDEN"); update && std::string_view(update) == "1") {
    test::write_file(path, actual);
    MESSAGE("rewrote " << path.string());
    return;
  }
  if (!std::filesystem::exists(path)) {
    FAIL_CHECK("missing golden file " << path.string() << " (run with PMDB_UPDATE_GOLDEN=1 to create it)");
    return;
  }
  const std::string expected = test::read_file(path);
  if (expected == actual) return;
  const auto saved = std::filesystem::temp_directory_path() / ("pmdb-render-" + name + ".actual");
  test::write_file(saved, actual);
  const auto want = split_lines(expected);
  const auto got = split_lines(actual);
  std::size_t line = 0;
  while (line < want.size() && line < got.size() && want[line] == got[line]) ++line;
  FAIL_CHECK("golden " << name << " differs at line " << line + 1 << "\n  expected: "
                       << (line < want.size() ? visible(want[line]) : "<end of file>")
                       << "\n  actual:   " << (line < got.size() ? visible(got[line]) : "<end of file>")
                       << "\n  see: diff -u " << path.string() << " " << saved.string()
                       << "\n  (PMDB_UPDATE_GOLDEN=1 rewrites the golden files)");
}

// Runs a shell command and returns its standard output.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  CHECK(::pclose(pipe) == 0);
  return out;
}

render_options with_mode(output_mode mode) {
  render_options o;
  o.mode = mode;
  return o;
}

// True when `s` holds a byte that would let text drive a terminal: C0 other than newline,
// DEL, or a UTF-8 encoded C1 control.
bool has_raw_control(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if ((u < 0x20 && u != '\n') || u == 0x7f) return true;
    if (u == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return true;
  }
  return false;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto u = static_cast<unsigned char>(s[i]);
    const std::size_t len = u < 0x80 ? 1 : (u & 0xE0) == 0xC0 ? 2 : (u & 0xF0) == 0xE0 ? 3 : (u & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST_SUITE("shell_render") {
  TEST_CASE("every mode renders the sample result as its golden file") {
    const auto rs = sample();
    for (const auto name : mode_names()) {
      CAPTURE(name);
      check_golden(fmt::format("basic.{}", name), render(rs, with_mode(parse_mode(name).value())));
    }
  }

  TEST_CASE("zero rows keep the header; zero columns still say something") {
    auto rs = sample();
    rs.rows.clear();
    for (const auto name : mode_names()) {
      CAPTURE(name);
      check_golden(fmt::format("empty.{}", name), render(rs, with_mode(parse_mode(name).value())));
    }
    const result_set none{{}, {{}, {}}};
    CHECK(render(none, with_mode(output_mode::table)) == "(no columns)\n");
    CHECK(render(none, with_mode(output_mode::box)) == "(no columns)\n");
    CHECK(render(none, with_mode(output_mode::markdown)) == "(no columns)\n");
    CHECK(render(none, with_mode(output_mode::line)) == "(no columns)\n");
    CHECK(render(none, with_mode(output_mode::json)) == "[\n{},\n{}\n]\n");
    CHECK(render(none, with_mode(output_mode::jsonl)) == "{}\n{}\n");
    CHECK(render(none, with_mode(output_mode::csv)).empty());
    CHECK(render(result_set{}, with_mode(output_mode::table)) == "(no columns)\n");
    CHECK(render(result_set{}, with_mode(output_mode::line)) == "(no columns)\n");
    CHECK(render(result_set{}, with_mode(output_mode::json)) == "[]\n");

    auto o = with_mode(output_mode::table);
    o.headers = false;
    CHECK(render(rs, o).empty());
  }

  TEST_CASE("headers off, colour, null text, widths and the time zone hook") {
    const auto rs = sample();
    auto o = with_mode(output_mode::csv);
    o.headers = false;
    check_golden("noheaders.csv", render(rs, o));
    o.mode = output_mode::table;
    check_golden("noheaders.table", render(rs, o));

    auto color = with_mode(output_mode::table);
    color.color = true;
    color.null_text = "NULL";
    check_golden("color.table", render(rs, color));
    color.mode = output_mode::line;
    check_golden("color.line", render(rs, color));

    auto narrow = with_mode(output_mode::box);
    narrow.widths = {0, 8, 0, 0, 0, 4};
    narrow.null_text = "∅";
    narrow.format_time = [](timestamp t) { return format_short(timestamp{t.ms - 8 * 3'600'000}).substr(0, 16) + " PST"; };
    check_golden("narrow.box", render(rs, narrow));
  }

  TEST_CASE("colour only when asked for") {
    const auto rs = sample();
    for (const auto name : mode_names()) {
      CAPTURE(name);
      const auto mode = parse_mode(name).value();
      const auto out = render(rs, with_mode(mode));
      CHECK(out.find("\x1b[1m") == std::string::npos);
      CHECK(out.find("\x1b[36m") == std::string::npos);
    }
    auto o = with_mode(output_mode::box);
    o.color = true;
    const auto out = render(rs, o);
    CHECK(out.find("\x1b[1mservice\x1b[0m") != std::string::npos);
    CHECK(out.find("\x1b[36m4h50m\x1b[0m") != std::string::npos);
    // The data's own escape sequence stays escaped even with colour on.
    CHECK(out.find("\x1b[31m") == std::string::npos);
    o.mode = output_mode::csv;
    CHECK(render(rs, o).find("\x1b[1m") == std::string::npos);
  }

  TEST_CASE("terminal modes never pass control characters through") {
    CHECK(escape_terminal("\x1b[31mred") == "\\x1b[31mred");
    CHECK(escape_terminal("a\r\b\x7f\t\n") == "a\\r\\x08\\x7f\\t\\n");
    CHECK(escape_terminal("a\nb", true) == "a\nb");
    CHECK(escape_terminal("\xc2\x9b" "2J") == "\\u009b2J");                 // C1 CSI, UTF-8 encoded
    CHECK(escape_terminal("\x9b" "2J") == "\\x9b2J");                       // a raw 8-bit CSI byte
    CHECK(escape_terminal("\xe2\x80\xae" "evil") == "\\u202eevil");         // right-to-left override
    CHECK(escape_terminal("\xc3\x28 \xe2\x82 ok") == "\\xc3( \\xe2\\x82 ok");  // invalid UTF-8
    CHECK(escape_terminal("\xc0\xaf") == "\\xc0\\xaf");                     // overlong `/`
    CHECK(escape_terminal("Café ✓ 東京 C:\\tmp") == "Café ✓ 東京 C:\\tmp");

    result_set rs{{{"t\x1b]0;title\x07", value_type::text}},
                  {{std::string("\x1b[2J\x1b[H\r\b\x7f\xc2\x85 bye")}, {std::string("\xff\xfe")}}};
    for (const auto mode : {output_mode::table, output_mode::box, output_mode::line}) {
      CAPTURE(mode_name(mode));
      const auto out = render(rs, with_mode(mode));
      CHECK_FALSE(has_raw_control(out));
      CHECK(valid_utf8(out));
      CHECK(out.find("\\x1b[2J\\x1b[H\\r\\x08\\x7f\\u0085 bye") != std::string::npos);
    }
    CHECK_FALSE(has_raw_control(render(sample(), with_mode(output_mode::json))));
    CHECK_FALSE(has_raw_control(render(sample(), with_mode(output_mode::jsonl))));
  }

  TEST_CASE("table cells are cut to their width without splitting characters") {
    const std::string long_text(100, 'x');
    result_set rs{{{"t", value_type::text}, {"n", value_type::integer}},
                  {{long_text, std::int64_t{1}}, {std::string("東京東京東京"), std::int64_t{22}}}};
    // No limit unless one is given: files and pipes get every character.
    const auto out = render(rs, with_mode(output_mode::table));
    CHECK(out.find("| " + long_text + " |  1 |") != std::string::npos);
    CHECK(out.find("…") == std::string::npos);

    auto o = with_mode(output_mode::table);
    o.widths = {5};
    const auto narrow = render(rs, o);
    CHECK(narrow == "+-------+----+\n"
                    "| t     |  n |\n"
                    "+-------+----+\n"
                    "| xxxx… |  1 |\n"
                    "| 東京… | 22 |\n"
                    "+-------+----+\n");
    CHECK(valid_utf8(narrow));
    o.widths = {1};
    CHECK(render(rs, o).find("| … |") != std::string::npos);
    o.widths = {};
    CHECK(render(rs, o).find(long_text) != std::string::npos);

    CHECK(display_width("Café ✓") == 6);
    CHECK(display_width("東京") == 4);
    CHECK(display_width("e\xcc\x81") == 1);  // e + combining acute
  }

  TEST_CASE("tables fit the terminal width: the widest text columns shrink, no row wraps") {
    const auto lines_fit = [](const std::string& out, std::size_t limit) {
      for (const auto& l : split_lines(out))
        if (display_width(l) > limit) return false;
      return true;
    };
    const std::string long_text(200, 'x');
    result_set rs{{{"at", value_type::timestamp}, {"text", value_type::text}, {"source", value_type::text},
                   {"n", value_type::integer}},
                  {{at("2024-12-11T23:17:00Z"), long_text, std::string("status page of the provider"), std::int64_t{7}},
                   {at("2024-12-11T23:18:00Z"), std::string("東京 ") + long_text, std::string("x"), std::int64_t{8}}}};
    for (const auto mode : {output_mode::table, output_mode::box}) {
      CAPTURE(mode_name(mode));
      auto o = with_mode(mode);
      o.terminal_width = 80;
      const auto out = render(rs, o);
      CHECK(lines_fit(out, 80));
      CHECK(display_width(split_lines(out)[0]) == 80);  // the room is used, not wasted
      CHECK(out.find("…") != std::string::npos);
      CHECK(out.find("2024-12-11 23:17Z") != std::string::npos);  // the timestamp is whole
      CHECK(valid_utf8(out));
      // Narrower than the columns can shrink to: every column gives way, still no wrap.
      o.terminal_width = 20;
      CHECK(lines_fit(render(rs, o), 20));
      // A width that fits changes nothing.
      o.terminal_width = 1000;
      CHECK(render(rs, o) == render(rs, with_mode(mode)));
    }
    // `.width` limits stay within the terminal's.
    auto o = with_mode(output_mode::table);
    o.widths = {0, 10};
    o.terminal_width = 200;
    CHECK(render(rs, o).find("| xxxxxxxxx… |") != std::string::npos);
  }

  TEST_CASE("machine modes: booleans true/false, durations in seconds, the time hook") {
    result_set rs{{{"ok", value_type::integer}, {"n", value_type::integer}, {"d", value_type::duration},
                   {"t", value_type::timestamp}},
                  {{std::int64_t{1}, std::int64_t{1}, duration{(4 * 60 + 22) * 60'000}, at("2024-12-11T23:17:00Z")},
                   {std::int64_t{0}, std::int64_t{0}, duration{1'500}, null_value{}},
                   {null_value{}, null_value{}, null_value{}, null_value{}}}};
    auto o = with_mode(output_mode::jsonl);
    o.booleans = {true};
    CHECK(render(rs, o) == "{\"ok\":true,\"n\":1,\"d\":15720,\"t\":\"2024-12-11T23:17:00Z\"}\n"
                           "{\"ok\":false,\"n\":0,\"d\":1.5,\"t\":null}\n"
                           "{\"ok\":null,\"n\":null,\"d\":null,\"t\":null}\n");
    o.mode = output_mode::csv;
    o.format_machine_time = [](timestamp t) { return format_iso(timestamp{t.ms - 8 * 3'600'000}).substr(0, 19) + "-08:00"; };
    CHECK(render(rs, o) == "ok,n,d,t\ntrue,1,15720,2024-12-11T15:17:00-08:00\nfalse,0,1.5,\n,,,\n");
    o.mode = output_mode::tsv;
    CHECK(render(rs, o) == "ok\tn\td\tt\ntrue\t1\t15720\t2024-12-11T15:17:00-08:00\nfalse\t0\t1.5\t\n\t\t\t\n");
    o.mode = output_mode::table;  // people read 0/1 and 4h22m
    CHECK(render(rs, o).find("|  1 | 1 | 4h22m | 2024-12-11 23:17Z |") != std::string::npos);
  }

  TEST_CASE("CSV reads back to the same cells with Python's csv module") {
    auto rs = sample();
    rs.rows.push_back({std::int64_t{5}, std::string(" padded "), null_value{}, null_value{}, 1e20,
                       std::string("cr\r\nlf"), std::string("x")});
    const auto csv = render(rs, with_mode(output_mode::csv));
    CHECK(csv.find(",\"\"\n") != std::string::npos);  // the empty string is quoted, null is not
    test::temp_dir dir;
    const auto file = dir.file("out.csv");
    test::write_file(file, csv);
    const auto json = run(fmt::format("python3 '{}' < '{}'", (test::source_dir() / "tests/tools/csv_cells.py").string(), file));
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    REQUIRE_MESSAGE(!doc.HasParseError(), rapidjson::GetParseError_En(doc.GetParseError()));
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == rs.rows.size() + 1);
    for (std::size_t c = 0; c < rs.columns.size(); ++c) CHECK(doc[0][c].GetString() == rs.columns[c].name);
    const std::vector<std::vector<std::string>> want = {
        {"1", "api-gateway", "2024-12-11T23:17:00Z", "17400", "99.5", "Café ✓", "alice"},
        {"2", "a|b, \"quoted\"", "2024-12-11T23:17:05Z", "45", "0.125", "line one\nline two", ""},
        {"-3", "\x1b[31mred", "", "-2400", "99", "東京 back\\slash *x* <b>", ""},
        {"4", "", "2024-12-12T04:07:00.250Z", "1.5", "", "", "a_b _c_ AT&T"},
        {"5", " padded ", "", "", "1e+20", "cr\r\nlf", "x"},
    };
    for (std::size_t r = 0; r < want.size(); ++r) {
      CAPTURE(r);
      REQUIRE(doc[r + 1].Size() == want[r].size());
      for (std::size_t c = 0; c < want[r].size(); ++c) CHECK(std::string(doc[r + 1][c].GetString()) == want[r][c]);
    }
  }

  TEST_CASE("TSV escapes tabs, newlines and backslashes") {
    result_set rs{{{"a\tb", value_type::text}, {"n", value_type::integer}},
                  {{std::string("x\ty\nz\\w\r"), null_value{}}}};
    CHECK(render(rs, with_mode(output_mode::tsv)) == "a\\tb\tn\nx\\ty\\nz\\\\w\\r\t\n");
    CHECK(parse_mode("tabs") == output_mode::tsv);
  }

  TEST_CASE("Markdown renders to an HTML table with cmark-gfm") {
    const auto rs = sample();
    const auto md = render(rs, with_mode(output_mode::markdown));
    test::temp_dir dir;
    const auto file = dir.file("out.md");
    test::write_file(file, md);
    const auto html = run(fmt::format("cmark-gfm --unsafe -e table '{}'", file));
    CAPTURE(visible(html));
    CHECK(html.starts_with("<table>"));
    const auto count = [&](std::string_view needle) {
      std::size_t n = 0;
      for (auto p = html.find(needle); p != std::string::npos; p = html.find(needle, p + 1)) ++n;
      return n;
    };
    CHECK(count("<tr>") == rs.rows.size() + 1);
    CHECK(count("</td>") == rs.rows.size() * rs.columns.size());  // no `|` in the data split a cell
    CHECK(count("</th>") == rs.columns.size());
    CHECK(html.find("<th align=\"right\">ttr</th>") != std::string::npos);
    CHECK(html.find("<td>Café ✓</td>") != std::string::npos);
    CHECK(html.find("<td>a|b, &quot;quoted&quot;</td>") != std::string::npos);
    CHECK(html.find("<td>line one<br>line two</td>") != std::string::npos);
    CHECK(html.find("<td>[31mred</td>") != std::string::npos);  // the ESC became a space, trimmed by GFM
    CHECK(html.find("<td>東京 back\\slash *x* &lt;b&gt;</td>") != std::string::npos);
    CHECK(html.find("<td>a_b _c_ AT&amp;T</td>") != std::string::npos);
    CHECK(html.find("<td align=\"right\">4h50m</td>") != std::string::npos);
    CHECK(html.find("<td>2024-12-11 23:17Z</td>") != std::string::npos);
  }

  TEST_CASE("JSON and JSON lines parse with RapidJSON and keep the values") {
    const auto rs = sample();
    const auto check_row = [](const rapidjson::Value& row, std::size_t r) {
      REQUIRE(row.IsObject());
      CHECK(row.MemberCount() == 7);
      if (r == 0) {
        CHECK(row["id"].GetInt64() == 1);
        CHECK(std::string(row["started"].GetString()) == "2024-12-11T23:17:00Z");
        CHECK(row["ttr"].GetDouble() == 17400);
        CHECK(row["fixed"].GetDouble() == 99.5);
        CHECK(std::string(row["note"].GetString()) == "Café ✓");
      } else if (r == 1) {
        CHECK(std::string(row["service"].GetString()) == "a|b, \"quoted\"");
        CHECK(std::string(row["note"].GetString()) == "line one\nline two");
        CHECK(row["owner"].IsNull());
      } else if (r == 2) {
        CHECK(std::string(row["service"].GetString()) == "\x1b[31mred");
        CHECK(row["started"].IsNull());
        CHECK(row["ttr"].GetDouble() == -2400);
        CHECK(row["fixed"].GetDouble() == 99);
        CHECK(std::string(row["owner"].GetString()).empty());
      } else {
        CHECK(std::string(row["started"].GetString()) == "2024-12-12T04:07:00.250Z");
        CHECK(row["ttr"].GetDouble() == 1.5);
        CHECK(row["fixed"].IsNull());
      }
    };

    const auto json = render(rs, with_mode(output_mode::json));
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.c_str(), json.size());
    REQUIRE_MESSAGE(!doc.HasParseError(), rapidjson::GetParseError_En(doc.GetParseError()));
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == rs.rows.size());
    for (std::size_t r = 0; r < rs.rows.size(); ++r) check_row(doc[static_cast<rapidjson::SizeType>(r)], r);

    const auto lines = split_lines(render(rs, with_mode(output_mode::jsonl)));
    REQUIRE(lines.size() == rs.rows.size());
    for (std::size_t r = 0; r < lines.size(); ++r) {
      rapidjson::Document one;
      one.Parse<rapidjson::kParseValidateEncodingFlag>(lines[r].c_str(), lines[r].size());
      REQUIRE(!one.HasParseError());
      check_row(one, r);
    }
  }

  TEST_CASE("JSON edge cases: non-finite reals, odd text, duplicate names") {
    result_set rs{{{"a", value_type::real}, {"a", value_type::real}, {"a_2", value_type::text}, {"a", value_type::text}},
                  {{std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity(),
                    std::string("\x01\x7f\xc2\x85\xe2\x80\xa8\xff\"\\"), std::string("")}}};
    CHECK(render(rs, with_mode(output_mode::jsonl)) ==
          "{\"a\":null,\"a_3\":null,\"a_2\":\"\\u0001\\u007f\\u0085\\u2028\\ufffd\\\"\\\\\",\"a_4\":\"\"}\n");
    CHECK(render(result_set{{{"d", value_type::duration}}, {{duration{-1}}, {duration{61'010}}}},
                 with_mode(output_mode::jsonl)) == "{\"d\":-0.001}\n{\"d\":61.01}\n");
  }

  TEST_CASE("mode names parse and list in one order") {
    REQUIRE(mode_names().size() == 8);
    for (std::size_t k = 0; k < mode_names().size(); ++k) {
      const auto mode = static_cast<output_mode>(k);
      CHECK(parse_mode(mode_names()[k]) == mode);
      CHECK(mode_name(mode) == mode_names()[k]);
    }
    CHECK(parse_mode("Markdown") == output_mode::markdown);
    CHECK(parse_mode("md") == output_mode::markdown);
    CHECK_FALSE(parse_mode("html"));
    CHECK_FALSE(parse_mode(""));
  }
}
