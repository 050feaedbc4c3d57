// Importers and the event validator against hostile input: deep nesting, NUL characters,
// invalid UTF-8, inputs over the limits of core/limits.hpp, lenient syntax, and a round trip of
// hostile-but-valid text through every importer and `pmdb export`.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "core/import.hpp"
#include "core/json_text.hpp"
#include "core/jsonl.hpp"
#include "core/limits.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

// Imports `in` as a file named `name` into `store`: "" when accepted, else the errors as the
// shell prints them, one a line.
std::string import_errors(event_store& store, std::istream& in, std::string_view name,
                          import_format format = import_format::auto_detect) {
  import_options opts;
  opts.format = format;
  auto r = import_file(store, in, name, opts);
  if (r) return "";
  std::string out;
  for (const auto& e : r.error()) out += format_import_error(e) + "\n";
  return out;
}

std::string import_errors(event_store& store, std::string_view text, std::string_view name,
                          import_format format = import_format::auto_detect) {
  std::istringstream in{std::string(text)};
  return import_errors(store, in, name, format);
}

// The same into a new store, which must stay empty: for `text`, or for input made while read.
std::string import_errors(std::string_view text, std::string_view name,
                          import_format format = import_format::auto_detect) {
  event_store store = memory_store();
  auto out = import_errors(store, text, name, format);
  CHECK(store.event_count() == 0);
  return out;
}

std::string import_errors(std::streambuf& generated, std::string_view name,
                          import_format format = import_format::auto_detect) {
  std::istream in(&generated);
  event_store store = memory_store();
  auto out = import_errors(store, in, name, format);
  CHECK(store.event_count() == 0);
  return out;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// CHECK(contains(TEXT, PART)), showing TEXT when it fails.
#define CHECK_CONTAINS(text, part)                      \
  do {                                                  \
    const std::string checked_text_ = (text);           \
    CHECK_MESSAGE(contains(checked_text_, part), checked_text_); \
  } while (false)

// A stream of `head`, then `n` copies of `fill`, then `tail`, made as it is read: inputs of
// hundreds of MiB without holding them.
class generated_buf : public std::streambuf {
 public:
  generated_buf(std::string head, char fill, std::size_t n, std::string tail)
      : head_(std::move(head)), tail_(std::move(tail)), left_(n) {
    chunk_.assign(1 << 16, fill);
  }

 protected:
  int_type underflow() override {
    if (stage_ == 0) {
      stage_ = 1;
      if (!head_.empty()) return serve(head_);
    }
    if (stage_ == 1) {
      if (left_ > 0) {
        const std::size_t n = std::min(left_, chunk_.size());
        left_ -= n;
        setg(chunk_.data(), chunk_.data(), chunk_.data() + n);
        return traits_type::to_int_type(chunk_[0]);
      }
      stage_ = 2;
      if (!tail_.empty()) return serve(tail_);
    }
    return traits_type::eof();
  }

 private:
  int_type serve(std::string& s) {
    setg(s.data(), s.data(), s.data() + s.size());
    return traits_type::to_int_type(s[0]);
  }
  std::string head_, tail_, chunk_;
  std::size_t left_;
  int stage_ = 0;
};

// A stream that fails while being read, with exceptions enabled on it.
class failing_buf : public std::streambuf {
 public:
  explicit failing_buf(std::string head) : head_(std::move(head)) { setg(head_.data(), head_.data(), head_.data() + head_.size()); }

 protected:
  int_type underflow() override { throw std::runtime_error("the disk went away"); }

 private:
  std::string head_;
};

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string note(std::string_view incident, std::string_view text, std::string_view extra = "") {
  return line(incident, "note", "2024-12-11T10:00:00Z", fmt::format(R"({{"text":"{}"}})", text), extra);
}

// `s` as a JSON string literal.
std::string json_literal(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

// `s` as an RFC 4180 field: quoted, each quote doubled.
std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

constexpr const char* csv_header = "incident,at,type,source,text\n";

}  // namespace

TEST_SUITE("hostile_import") {

// --- 1. nesting ---

TEST_CASE("deeply nested JSON is refused with the limit named, not a stack overflow") {
  temp_dir d;
  write_file(d.path / "deep.json", nested(70000) + "\n");
  const auto r = run_pmdb({"import", d.file("s.pmdb"), d.file("deep.json")});
  CHECK(r.status == 1);
  CHECK_CONTAINS(r.err, "deep.json:1: at column 65 (byte 65): nested deeper than the limit of 64 levels");
  // The same through the library, as JSONL and as Statuspage JSON.
  CHECK_CONTAINS(import_errors(nested(70000), "deep.json", import_format::statuspage), "limit of 64 levels");
  CHECK_CONTAINS(import_errors(nested(70000), "deep.jsonl", import_format::jsonl),
                 "deep.jsonl:1: at byte 65: nested deeper than the limit of 64 levels");
}

TEST_CASE("a JSONL line with a deeply nested unknown field in data is refused at once, naming the line and byte") {
  const std::string deep = note("acme-1", "x").substr(0, note("acme-1", "x").size() - 2) + R"(,"junk":)" + nested(100000) + "}}";
  const auto start = std::chrono::steady_clock::now();
  const auto errors = import_errors(note("acme-1", "fine") + "\n" + deep + "\n", "t.jsonl");
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK_CONTAINS(errors, "t.jsonl:2: at byte ");
  CHECK_CONTAINS(errors, "nested deeper than the limit of 64 levels");
  CHECK(took < std::chrono::seconds(2));
  // Nesting within the limit reaches the schema, which names the unknown field.
  const std::string ok_depth = note("acme-1", "x").substr(0, note("acme-1", "x").size() - 2) + R"(,"junk":)" + nested(60) + "}}";
  CHECK_CONTAINS(import_errors(ok_depth, "t.jsonl"), "data.junk: unknown field");
}

TEST_CASE("an event built in code (shell `record`) with deeply nested data is refused by the validator") {
  event e;
  e.incident = "acme-1";
  e.type = "note";
  e.at = 0;
  e.source = "test";
  e.data = R"({"text":"x","junk":)" + nested(100000) + "}";
  auto v = validate_event(e);
  REQUIRE(!v);
  CHECK_CONTAINS(v.error(), "data: at byte 83: nested deeper than the limit of 64 levels");
}

TEST_CASE("format detection reads a deeply nested first line without recursion") {
  CHECK(detect_format("{\"a\":" + nested(200000) + "}\n") == import_format::statuspage);
  CHECK(detect_format(std::string(200000, '{')) == import_format::statuspage);
}

TEST_CASE("JSON numbers are read correctly rounded, as the reader's kinds, and a zero with an exponent is zero") {
  rapidjson::Document d;
  REQUIRE(!parse_json(d, R"([0e38, 0.000e-400, -0E+5, 1e-400, 18446744073709551615, 18446744073709551616,
      -9223372036854775808, -9223372036854775809, 4294967295, 4294967296, -2147483648, -2147483649,
      0.1, 1.7976931348623157e308, 5e-324, 2.2250738585072011e-308, 123.456e-7, -0, 7])"));
  const auto& a = d.GetArray();
  CHECK(a[0].IsDouble());
  CHECK(a[0].GetDouble() == 0.0);
  CHECK(a[1].GetDouble() == 0.0);
  CHECK(a[2].GetDouble() == 0.0);
  CHECK(a[3].GetDouble() == 0.0);  // below the smallest double: zero, as strtod gives
  CHECK(a[4].IsUint64());
  CHECK(a[4].GetUint64() == 18446744073709551615ull);
  CHECK(a[5].IsDouble());
  CHECK(a[6].IsInt64());
  CHECK(a[6].GetInt64() == std::numeric_limits<std::int64_t>::min());
  CHECK(a[7].IsDouble());
  CHECK(a[8].IsUint());
  CHECK(!a[8].IsInt());
  CHECK(a[9].IsUint64());
  CHECK(a[10].IsInt());
  CHECK(a[11].IsInt64());
  CHECK(!a[11].IsInt());
  CHECK(a[12].GetDouble() == 0.1);
  CHECK(a[13].GetDouble() == std::numeric_limits<double>::max());
  CHECK(a[14].GetDouble() == std::numeric_limits<double>::denorm_min());
  CHECK(a[15].GetDouble() == 2.2250738585072011e-308);  // the classic slow-path case, exact
  CHECK(a[16].GetDouble() == 123.456e-7);
  CHECK(a[17].IsInt());
  CHECK(a[18].IsUint());
  CHECK(minified(d) == "[0.0,0.0,-0.0,0.0,18446744073709551615,18446744073709553000.0,-9223372036854775808,"
                       "-9223372036854776000.0,4294967295,4294967296,-2147483648,-2147483649,0.1,"
                       "1.7976931348623157e308,5e-324,2.225073858507201e-308,0.0000123456,0,7]");
  // Too large for a double: refused where the number starts.
  const auto big = parse_json(d, R"({"n": 12e400})");
  REQUIRE(big);
  CHECK(big->at_byte() == "not valid JSON at byte 7: Number too big to be stored in double.");
  const auto wide = parse_json(d, "[-1000000000000000000000000000000000000000e300]");
  REQUIRE(wide);
  CHECK(wide->at_byte() == "at byte 2: the number that starts here is beyond the range of a double "
                           "(-100000000000000000000000000000000000000...)");
  CHECK(!parse_json(d, "[0.0000000000000000000000000000000000000001e-300]"));
}

// --- 2. NUL ---

TEST_CASE("a NUL in an envelope string is refused with the file, line and byte, not cut short") {
  const auto errors = import_errors(note("ok-1", "x") + "\n" +
                                        line(R"(openai-2024-12-11\u0000evil)", "note", "2024-12-11T10:00:00Z", R"({"text":"x"})"),
                                    "t.jsonl");
  CHECK(errors == "t.jsonl:2: at byte 41: the string that ends here holds a NUL character (\\u0000), which pmdb does not store\n");
  // Two ids that differ after a NUL do not collide: both are refused.
  const auto ids = import_errors(note("acme-1", "one", R"("id":"a\u0000one")") + "\n" +
                                     note("acme-1", "two", R"("id":"a\u0000two")") + "\n",
                                 "t.jsonl");
  CHECK_CONTAINS(ids, "t.jsonl:1: at byte");
  CHECK_CONTAINS(ids, "t.jsonl:2: at byte");
  // A source with a NUL is not taken for the source before it.
  event_store store = memory_store();
  CHECK(import_errors(store, line("acme-1", "note", "2024-12-11T10:00:00Z", R"({"text":"x"})"), "a.jsonl") == "");
  const std::string other = R"({"incident":"acme-1","type":"note","at":"2024-12-11T10:00:00Z","source":"test\u0000x","data":{"text":"x"}})";
  CHECK_CONTAINS(import_errors(store, other, "b.jsonl"), "b.jsonl:1: at byte 85: the string that ends here holds a NUL character");
  CHECK(store.event_count() == 1);
}

TEST_CASE("a NUL in text is refused alike by every importer and by the event validator") {
  CHECK_CONTAINS(import_errors(note("acme-1", R"(hello\u0000world)"), "t.jsonl"), "t.jsonl:1: at byte");
  CHECK_CONTAINS(import_errors(std::string(csv_header) + "acme-1,2024-12-11T10:00:00Z,note,t,hel" + std::string(1, '\0') + "lo\n",
                               "t.csv"),
                 "t.csv:2: row 2, column 5: a NUL byte (byte 68 of the file), which pmdb does not store");
  CHECK_CONTAINS(import_errors(R"({"incident":{"id":"x1","name":"Down","incident_updates":[{"id":"u1","status":"investigating",)"
                               R"("body":"a\u0000b","created_at":"2024-12-11T10:00:00Z"}]}})",
                               "page.json"),
                 "page.json:1: at column 110 (byte 110): the string that ends here holds a NUL character");
  event e;
  e.incident = std::string("acme-1\0evil", 11);
  e.type = "note";
  e.source = "t";
  e.data = R"({"text":"x"})";
  auto v = validate_event(e);
  REQUIRE(!v);
  CHECK(v.error() == "incident: a NUL character (\\u0000) at byte 7 of the value, which pmdb does not store");
  e.incident = "acme-1";
  e.data = R"({"text":"a\u0000b"})";
  v = validate_event(e);
  REQUIRE(!v);
  CHECK_CONTAINS(v.error(), "data: at byte 18: the string that ends here holds a NUL character");
}

TEST_CASE("a CSV cell with a NUL and an invalid byte is refused, so export and import agree") {
  const std::string csv = std::string(csv_header) + "acme-\xff" + std::string(1, '\0') + "zz,2024-12-11T10:00:00Z,note,t,hello\n";
  CHECK(import_errors(csv, "t.csv") == "t.csv:2: row 2, column 1: not valid UTF-8 (the character at byte 35 of the file)\n");
}

// --- 3. UTF-8 ---

TEST_CASE("invalid UTF-8 in an incident id is refused by every importer and the validator, wherever the byte is") {
  const std::string evil = "acme-\xff/../../Evil Incident; DROP";
  CHECK(import_errors(note(evil, "x"), "t.jsonl") == "t.jsonl:1: at byte 19: not valid UTF-8\n");
  CHECK(import_errors(std::string(csv_header) + evil + ",2024-12-11T10:00:00Z,note,t,hello\n", "t.csv") ==
        "t.csv:2: row 2, column 1: not valid UTF-8 (the character at byte 35 of the file)\n");
  event e;
  e.incident = evil;
  e.type = "note";
  e.source = "t";
  e.data = R"({"text":"x"})";
  auto v = validate_event(e);
  REQUIRE(!v);
  CHECK(v.error() == "incident: not valid UTF-8 at byte 6 of the value");
  // Valid UTF-8 that is not a slug is refused whatever comes before the bad part.
  e.incident = "acme-\u00e9/../../evil";
  v = validate_event(e);
  REQUIRE(!v);
  CHECK_CONTAINS(v.error(), "incident: does not match ^[a-z0-9][a-z0-9._-]*$");
}

TEST_CASE("invalid UTF-8 in text is refused with its line and byte: raw bytes, overlong forms, surrogates") {
  CHECK(import_errors(note("acme-1", "caf\xe9"), "t.jsonl") == "t.jsonl:1: at byte 99: not valid UTF-8\n");
  CHECK_CONTAINS(import_errors(note("acme-1", "\xc0\xaf"), "t.jsonl"), "not valid UTF-8");
  CHECK_CONTAINS(import_errors(note("acme-1", "\xed\xa0\x80"), "t.jsonl"), "not valid UTF-8");
  CHECK_CONTAINS(import_errors(note("acme-1", R"(\udc00)"), "t.jsonl"), "t.jsonl:1: at byte");
  CHECK_CONTAINS(import_errors(note("acme-1", R"(\ud800)"), "t.jsonl"), "t.jsonl:1: not valid JSON at byte");
  CHECK_CONTAINS(import_errors(std::string(csv_header) + "acme-1,2024-12-11T10:00:00Z,note,t,\"caf\xe9\"\n", "t.csv"),
                 "t.csv:2: row 2, column 5: not valid UTF-8 (the character at byte 69 of the file)");
  event e;
  e.incident = "acme-1";
  e.type = "note";
  e.source = "t\xfe";
  e.data = R"({"text":"x"})";
  auto v = validate_event(e);
  REQUIRE(!v);
  CHECK(v.error() == "source: not valid UTF-8 at byte 2 of the value");
}

TEST_CASE("shell `record` of text that is not UTF-8 is refused, not stored repaired") {
  temp_dir d;
  const auto db = d.file("live.pmdb");
  REQUIRE(run_pmdb({db, "-c", "new incident acme-1 title 'Down' org 'Acme' services ('api');"}).status == 0);
  const auto r = run_pmdb({db, "-c", "use acme-1; record note 'caf\xe9';"});
  CHECK(r.status == 1);
  CHECK_CONTAINS(r.err, "not valid UTF-8");
  CHECK(run_pmdb({db, "-c", "events | summarize n = count();", "--mode", "csv", "--headers", "off"}).out == "1\n");
}

TEST_CASE("the UTF-8 check follows RFC 3629") {
  CHECK(!invalid_utf8("plain, caf\u00e9, \u20ac, \U0001F600, \u200f"));
  CHECK(invalid_utf8("ab\x80") == 2u);
  CHECK(invalid_utf8("a\xc0\x80") == 1u);           // overlong NUL
  CHECK(invalid_utf8("a\xe0\x80\xaf") == 1u);       // overlong '/'
  CHECK(invalid_utf8("a\xed\xa0\x80") == 1u);       // surrogate
  CHECK(invalid_utf8("a\xf4\x90\x80\x80") == 1u);   // above U+10FFFF
  CHECK(invalid_utf8("ab\xe2\x82") == 2u);          // cut short
  CHECK(valid_utf8("a\xffz\xe2\x82") == "a\ufffdz\ufffd");
}

TEST_CASE("JSON output of strings is valid UTF-8 whatever was stored") {
  event e;
  e.id = "e1";
  e.incident = "acme-1";
  e.type = "note";
  e.source = "bad\xff";
  e.data = "{\"text\":\"caf\xe9\"}";
  const std::string out = to_jsonl(e, 0);
  CHECK(!invalid_utf8(out));
  rapidjson::Document doc;
  CHECK(!parse_json(doc, out));
  // An excerpt in a message never cuts a character in two.
  rapidjson::Value v(std::string(56, 'a').append("\u00e9\u00e9").c_str(), doc.GetAllocator());
  CHECK(!invalid_utf8(json_excerpt(v)));
}

// --- 4. limits ---

TEST_CASE("a JSONL line over the line limit is refused without being held whole") {
  const std::string big = note("acme-1", std::string(limits::line_bytes, 'a'));
  CHECK(import_errors(note("acme-1", "x") + "\n" + big + "\n" + note("acme-1", "y"), "t.jsonl", import_format::jsonl) ==
        "t.jsonl:2: longer than the 4 MiB limit on a line (limits: docs/limits.md)\n");
  // Auto-detected from its first line alike.
  CHECK(import_errors(big, "t.jsonl") == "t.jsonl:1: longer than the 4 MiB limit on a line (limits: docs/limits.md)\n");
  // 300 MiB in one line (made while read): refused, and read in bounded memory.
  generated_buf huge(R"({"incident":"acme-1","type":"note","at":"2024-12-11T10:00:00Z","source":"t","data":{"text":")", 'a',
                     std::size_t{300} << 20, "\"}}\n");
  CHECK(import_errors(huge, "huge.jsonl") == "huge.jsonl:1: longer than the 4 MiB limit on a line (limits: docs/limits.md)\n");
}

TEST_CASE("a string over the field limit is refused by every importer") {
  const std::string big(limits::field_bytes + 1, 'b');
  CHECK_CONTAINS(import_errors(note("acme-1", big), "t.jsonl"),
                 "t.jsonl:1: at byte 1048673: the string that ends here is longer than the 1 MiB limit on a field (limits: docs/limits.md)");
  CHECK(import_errors(std::string(csv_header) + "acme-1,2024-12-11T10:00:00Z,note,t," + big + "\n", "t.csv") ==
        "t.csv:2: row 2, column 5: longer than the 1 MiB limit on a field (limits: docs/limits.md)\n");
  CHECK_CONTAINS(import_errors(R"({"incident":{"id":"x1","name":")" + big + R"(","incident_updates":[]}})", "page.json"),
                 "the string that ends here is longer than the 1 MiB limit on a field");
  event e;
  e.incident = "acme-1";
  e.type = "note";
  e.source = big;
  e.data = R"({"text":"x"})";
  auto v = validate_event(e);
  REQUIRE(!v);
  CHECK(v.error() == "source: longer than the 1 MiB limit on a field (limits: docs/limits.md)");
}

TEST_CASE("a CSV record over the line limit is refused, however it is split into fields") {
  std::string row = "acme-1,2024-12-11T10:00:00Z,note,t,";
  for (int i = 0; i < 5; ++i) row += "," + std::string(limits::field_bytes - 10, 'c');
  row += "\n";
  CHECK(import_errors(std::string(csv_header) + row, "t.csv") ==
        "t.csv:2: row 2, longer than the 4 MiB limit on a record (limits: docs/limits.md)\n");
  // Millions of empty fields are counted, not kept.
  generated_buf commas(std::string(csv_header) + "acme-1,2024-12-11T10:00:00Z,note,t,x", ',', std::size_t{64} << 20, "\n");
  CHECK(import_errors(commas, "commas.csv") ==
        "commas.csv:2: row 2, longer than the 4 MiB limit on a record (limits: docs/limits.md)\n");
}

TEST_CASE("an event over the event limit as stored is refused, though its input was smaller") {
  // Control characters are one byte in CSV and six in JSON.
  const std::string controls(800 * 1024, '\x01');
  CHECK_CONTAINS(import_errors(std::string(csv_header) + "acme-1,2024-12-11T10:00:00Z,note,t," + controls + "\n", "t.csv"),
                 "bytes as JSON, over the 4 MiB limit on an event (limits: docs/limits.md)");
}

TEST_CASE("a Statuspage document over the size or update limits is refused, naming the limit") {
  std::string ups = R"({"incident":{"id":"x1","name":"Down","incident_updates":[)";
  for (std::size_t i = 0; i <= limits::statuspage_updates; ++i) ups += i ? ",{}" : "{}";
  ups += "]}}";
  const auto errors = import_errors(ups, "page.json");
  CHECK_CONTAINS(errors, "page.json:1: at column ");
  CHECK_CONTAINS(errors, "more than the limit of 200000 incident updates in a document (limits: docs/limits.md)");
  // 257 MiB of blanks inside one document (made while read).
  generated_buf big(R"({"page":)", ' ', limits::statuspage_bytes + (std::size_t{1} << 20), R"({}, "incidents":[]})");
  CHECK(import_errors(big, "big.json", import_format::statuspage) ==
        "big.json:1: document 1 (line 1): longer than the 256 MiB limit on a Statuspage document (limits: docs/limits.md)\n");
}

TEST_CASE("a stream that fails with an exception gives an import error, not an exception") {
  for (const auto format : {import_format::auto_detect, import_format::jsonl, import_format::csv, import_format::statuspage}) {
    CAPTURE(format_name(format));
    failing_buf buf(format == import_format::csv ? std::string(csv_header) : note("acme-1", "x") + "\n");
    std::istream in(&buf);
    in.exceptions(std::ios::badbit);
    event_store store = memory_store();
    import_options opts;
    opts.format = format;
    std::expected<import_file_result, std::vector<error>> r;
    CHECK_NOTHROW(r = import_file(store, in, "t.in", opts));
    CHECK(!r);
    CHECK(store.event_count() == 0);
  }
}

// --- 5. lenient parsing ---

TEST_CASE("a quote inside an unquoted CSV field is refused with its line and column") {
  CHECK(import_errors(std::string(csv_header) + "acme-1,2024-12-11T10:00:00Z,note,t,ab\"c\"d\n", "t.csv") ==
        "t.csv:2: row 2, column 5: a quote inside a field that is not quoted (line 2, byte 38 of the line): such a "
        "field is written in quotes with each quote doubled, e.g. \"ab\"\"c\"\n");
}

TEST_CASE("a JSONL file whose first line is over 1 MiB is detected as JSONL") {
  const std::string half(limits::field_bytes - 100, 'h');
  const std::string first = line("acme-1", "note", "2024-12-11T10:00:00Z",
                                 fmt::format(R"({{"text":"{}","tags":["{}"]}})", half, half));
  REQUIRE(first.size() > (std::size_t{1} << 20));
  CHECK(detect_format(first + "\n") == import_format::jsonl);
  event_store store = memory_store();
  CHECK(import_errors(store, first + "\n" + note("acme-1", "x") + "\n", "t.jsonl") == "");
  CHECK(store.event_count() == 2);
  // An event whose first member is its data is told by a later member.
  CHECK(detect_format(R"({"data":{"text":"x"},"type":"note"})") == import_format::jsonl);
  CHECK(detect_format(R"({"incident":{"id":"x1"}})") == import_format::statuspage);
  // A malformed first line that is plainly an event is reported as JSONL, at its line.
  CHECK(import_errors(R"({"incident":"acme-1","type":"note",oops})", "t.jsonl") ==
        "t.jsonl:1: not valid JSON at byte 36: Missing a name for object member.\n");
}

// --- round trip ---

TEST_CASE("hostile but valid text survives JSONL and CSV import, export, import, export byte for byte") {
  std::vector<std::string> texts;
  std::string controls;
  for (int c = 1; c < 0x20; ++c) controls += static_cast<char>(c);
  controls += '\x7f';
  texts.push_back("controls: " + controls + " end");
  texts.push_back("quotes \" '' \"\" and backslashes \\ \\\\ \\u0041 \\n");
  texts.push_back("emoji \U0001F600\U0001F469\u200D\U0001F4BB flags \U0001F1F3\U0001F1F1");
  texts.push_back("rtl \u200F\u202Eevil\u202C \u05E9\u05DC\u05D5\u05DD \u0627\u0644\u0633\u0644\u0627\u0645 \u2028\u2029 \uFEFF");
  texts.push_back("csv, commas, \"quoted\", and\r\nline\nbreaks\r");
  texts.push_back(std::string(limits::field_bytes - 64, 'L') + "\u00e9");
  std::string mixed;
  while (mixed.size() < limits::field_bytes / 2) mixed += "\"\\\x01\t\U0001F600\u200F";
  texts.push_back(mixed);

  temp_dir d;
  std::string jsonl, csv = "incident,at,type,source,text\n";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    jsonl += line("acme-1", "note", fmt::format("2024-12-11T10:00:{:02}Z", i), fmt::format(R"({{"text":{}}})", json_literal(texts[i])),
                  fmt::format(R"("source":{})", json_literal("src " + std::string(utf8_prefix(texts[i], 40))))) + "\n";
    csv += fmt::format("acme-2,2024-12-11T10:00:{:02}Z,note,{},{}\n", i, csv_field("csv " + std::string(utf8_prefix(texts[i], 40))),
                       csv_field(texts[i]));
  }
  // line() writes a source of its own: the one given in `extra` replaces it.
  std::string fixed;
  std::istringstream lines(jsonl);
  for (std::string l; std::getline(lines, l);) {
    const auto at = l.find(R"("source":"test",)");
    REQUIRE(at != std::string::npos);
    fixed += l.erase(at, std::string_view(R"("source":"test",)").size()) + "\n";
  }
  write_file(d.path / "in.jsonl", fixed);
  write_file(d.path / "in.csv", csv);

  const auto first = run_pmdb({"import", d.file("a.pmdb"), d.file("in.jsonl"), d.file("in.csv")});
  INFO(first.err);
  REQUIRE(first.status == 0);
  const auto export1 = run_pmdb({"export", d.file("a.pmdb")});
  REQUIRE(export1.status == 0);
  write_file(d.path / "out1.jsonl", export1.out);
  REQUIRE(run_pmdb({"import", d.file("b.pmdb"), d.file("out1.jsonl")}).status == 0);
  const auto export2 = run_pmdb({"export", d.file("b.pmdb")});
  REQUIRE(export2.status == 0);
  CHECK(export2.out == export1.out);
  CHECK(!invalid_utf8(export1.out));

  // The text as imported, read back by another JSON parser.
  write_file(d.path / "check.py", R"(import json, sys
texts = []
for raw in open(sys.argv[1], 'rb').read().split(b'\n'):
    if raw:
        texts.append(json.loads(raw.decode('utf-8'))['data']['text'])
print(len(texts))
)");
  const auto py = run_command({"python3", d.file("check.py"), d.file("out1.jsonl")});
  INFO(py.err);
  CHECK(py.status == 0);
  CHECK(py.out == fmt::format("{}\n", 2 * texts.size()));
  // And every JSONL text is kept exactly.
  event_store store = memory_store();
  CHECK(import_errors(store, export1.out, "out1.jsonl") == "");
  std::vector<std::string> stored;
  REQUIRE(store.scan({"acme-1"}, [&](const stored_event& s) { stored.push_back(s.ev.text.value_or("")); }));
  CHECK(stored == texts);
}

}  // TEST_SUITE
