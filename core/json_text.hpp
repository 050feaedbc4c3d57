#pragma once
// JSON values as text: the canonical (minified) form stored for payloads, the short form
// quoted in error messages, and the one way pmdb parses JSON it is given (held to the limits
// of core/limits.hpp).
#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/limits.hpp"
#include "core/text.hpp"

namespace pmdb {

// `v` as minified JSON, members in their original order: the canonical form of a payload.
// Bytes that are not UTF-8 are kept as they are, so that the event validator (parse_json) sees
// and refuses them rather than storing a silently repaired text; what pmdb writes for users
// (to_jsonl, json_excerpt) replaces them, so its JSON is always valid.
inline std::string minified(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// `s` cut to at most `n` bytes without splitting a UTF-8 character.
inline std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// `v` as minified JSON cut to 60 characters, for quoting the value found in an error message.
inline std::string json_excerpt(const rapidjson::Value& v) {
  std::string s = minified(v);
  if (invalid_utf8(s)) s = valid_utf8(s);
  if (s.size() > 60) s = std::string(utf8_prefix(s, 57)) + "...";
  return s;
}

// Where and why parse_json refused its input. `offset` counts bytes from the start of the
// input (0-based); `message` says what is wrong and names the limit when one was broken.
struct json_problem {
  std::size_t offset = 0;
  std::string message;
  bool syntax = false;  // the text is not JSON (message: rapidjson's reason), rather than JSON pmdb refuses

  // "not valid JSON at byte N: REASON" or "at byte N: MESSAGE" (N 1-based), for error messages.
  std::string at_byte() const {
    return syntax ? fmt::format("not valid JSON at byte {}: {}", offset + 1, message)
                  : fmt::format("at byte {}: {}", offset + 1, message);
  }
};

// What parse_json counts besides the limits every JSON input has: the elements of the arrays
// that are the value of a member named `key` (a Statuspage document's "incident_updates"), at
// most `limit` of them in the whole document, `what` naming them in the error.
struct json_counted {
  const char* key = nullptr;
  std::size_t limit = 0;
  const char* what = "";
};

namespace detail {

// A SAX handler in front of a Document that refuses, as they are read, nesting deeper than
// limits::json_depth, a string (or member name) longer than limits::field_bytes, a NUL in a
// string, and a string that is not UTF-8 (an escape such as \udc00 decodes to a surrogate
// that the reader's own check lets through). The reader is iterative, so nothing recurses.
template <typename Stream>
class bounded_handler {
 public:
  bounded_handler(rapidjson::Document& doc, Stream& in, const json_counted& counted)
      : doc_(doc), in_(in), counted_(counted) {}

  bool Null() { return value() && doc_.Null(); }
  bool Bool(bool b) { return value() && doc_.Bool(b); }
  bool Int(int i) { return value() && doc_.Int(i); }
  bool Uint(unsigned u) { return value() && doc_.Uint(u); }
  bool Int64(std::int64_t i) { return value() && doc_.Int64(i); }
  bool Uint64(std::uint64_t u) { return value() && doc_.Uint64(u); }
  bool Double(double d) { return value() && doc_.Double(d); }
  // Numbers come as text (kParseNumbersAsStringsFlag) and are converted here with
  // std::from_chars, correctly rounded, into the same kinds of value the reader would make.
  // (RapidJSON 1.1.0's own full-precision conversion calls __builtin_clzll(0) for a zero
  // significand with an exponent such as `0e38`: undefined behaviour, fixed upstream by
  // Tencent/rapidjson PR #1290 but not in the packaged version.)
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return value() && number(s, s + n); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return value() && text(s, n, "the string") && doc_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    if (!text(s, n, "the member name")) return false;
    key_matches_ = counted_.key && n == std::strlen(counted_.key) && std::memcmp(s, counted_.key, n) == 0;
    return doc_.Key(s, n, copy);
  }
  bool StartObject() { return value() && enter(false) && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return leave() && doc_.EndObject(n); }
  bool StartArray() { return value() && enter(true) && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return leave() && doc_.EndArray(n); }

  const std::optional<json_problem>& problem() const { return problem_; }

 private:
  // The reader calls StartObject and StartArray with the bracket not yet consumed, and
  // String and Key with the closing quote consumed: `back` steps back onto that quote.
  bool fail(std::string message, std::size_t back = 0) {
    problem_ = json_problem{in_.Tell() - back, std::move(message)};
    return false;
  }
  // Every value: counted when it is an element of a counted array.
  bool value() {
    if (counting_[depth_] && ++count_ > counted_.limit)
      return fail(fmt::format("more than the limit of {} {} (limits: docs/limits.md)", counted_.limit, counted_.what));
    return true;
  }
  bool enter(bool array) {
    if (depth_ >= limits::json_depth)
      return fail(fmt::format("nested deeper than the limit of {} levels of arrays and objects (limits: docs/limits.md)",
                              limits::json_depth));
    ++depth_;
    counting_[depth_] = array && key_matches_;
    key_matches_ = false;
    return true;
  }
  bool leave() {
    counting_[depth_] = false;
    --depth_;
    key_matches_ = false;
    return true;
  }
  // The text [b, e) of a number the reader has checked against JSON's grammar, just read.
  bool number(const char* b, const char* e) {
    const bool negative = *b == '-';
    if (std::find_if(b, e, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == e) {
      if (negative) {
        std::int64_t i = 0;
        if (std::from_chars(b, e, i).ec == std::errc{})
          return i >= std::numeric_limits<int>::min() ? doc_.Int(static_cast<int>(i)) : doc_.Int64(i);
      } else {
        std::uint64_t u = 0;
        if (std::from_chars(b, e, u).ec == std::errc{})
          return u <= std::numeric_limits<unsigned>::max() ? doc_.Uint(static_cast<unsigned>(u)) : doc_.Uint64(u);
      }
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(b, e, d);
    if (ec == std::errc{} && end == e) return doc_.Double(d);
    if (ec == std::errc::result_out_of_range && !overflows(b, e)) return doc_.Double(negative ? -0.0 : 0.0);
    return fail(fmt::format("the number that starts here is beyond the range of a double ({}{})",
                            std::string_view(b, std::min<std::ptrdiff_t>(e - b, 40)), e - b > 40 ? "..." : ""),
                static_cast<std::size_t>(e - b));
  }
  // Whether the out-of-range number [b, e) is too large rather than too close to zero, by the
  // power of ten of its first significant digit (the bounds are near 1e308 and 1e-324).
  static bool overflows(const char* b, const char* e) {
    const char* exp = std::find_if(b, e, [](char c) { return c == 'e' || c == 'E'; });
    const char* point = std::find(b, exp, '.');
    const char* first = std::find_if(b, exp, [](char c) { return c >= '1' && c <= '9'; });
    if (first == exp) return false;
    long long power = first < point ? point - first - 1 : -(first - point);
    if (exp != e) {
      const char* q = exp + 1;
      const bool minus = *q == '-';
      if (*q == '+' || *q == '-') ++q;
      long long x = 0;
      for (; q != e && x < 1'000'000'000; ++q) x = x * 10 + (*q - '0');
      power += minus ? -x : x;
    }
    return power > 0;
  }
  // A string or member name, just read (the offset is its closing quote).
  bool text(const char* s, rapidjson::SizeType n, const char* what) {
    key_matches_ = false;
    if (n > limits::field_bytes)
      return fail(fmt::format("{} that ends here is longer than the {} MiB limit on a field (limits: docs/limits.md)",
                              what, limits::field_bytes >> 20), 1);
    if (std::memchr(s, '\0', n))
      return fail(fmt::format("{} that ends here holds a NUL character (\\u0000), which pmdb does not store", what), 1);
    if (invalid_utf8({s, n}))
      return fail(fmt::format("{} that ends here is not valid UTF-8 (it has a lone surrogate escape)", what), 1);
    return true;
  }

  rapidjson::Document& doc_;
  Stream& in_;
  const json_counted& counted_;
  std::size_t depth_ = 0, count_ = 0;
  bool key_matches_ = false;
  std::array<bool, limits::json_depth + 1> counting_{};
  std::optional<json_problem> problem_;
};

}  // namespace detail

// Parses one JSON value from `in` (a rapidjson input stream with Tell()) into `doc`, held to
// pmdb's limits: nesting up to limits::json_depth, strings up to limits::field_bytes, UTF-8
// only, no NUL in strings, and `counted` when given. The parse is iterative (no recursion,
// linear in the input) and stops at the first problem. `Flags` adds rapidjson parse flags
// (e.g. kParseStopWhenDoneFlag to read one of several documents). On failure `doc` is null.
template <unsigned Flags = 0, typename Stream>
std::optional<json_problem> parse_json_stream(rapidjson::Document& doc, Stream& in, const json_counted& counted = {}) {
  detail::bounded_handler<Stream> handler(doc, in, counted);
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document&) {
    rapidjson::Reader reader;
    result = reader.Parse<Flags | rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                          rapidjson::kParseNumbersAsStringsFlag>(in, handler);
    return !result.IsError();
  };
  doc.SetNull();
  doc.Populate(generate);
  if (handler.problem()) return handler.problem();
  if (result.IsError()) {
    const auto code = result.Code();
    if (code == rapidjson::kParseErrorStringInvalidEncoding) return json_problem{result.Offset(), "not valid UTF-8"};
    return json_problem{result.Offset(), rapidjson::GetParseError_En(code), true};
  }
  return std::nullopt;
}

// The same for JSON held in memory: all of `text` is one value. (The reader takes a NUL byte
// for the end of its input, so one is refused here by its offset.)
inline std::optional<json_problem> parse_json(rapidjson::Document& doc, std::string_view text) {
  rapidjson::MemoryStream in(text.data(), text.size());
  auto problem = parse_json_stream(doc, in);
  const auto nul = [&](std::size_t at) { return at < text.size() && text[at] == '\0'; };
  if (problem && problem->syntax && nul(problem->offset)) problem->message = "a NUL byte.";
  // A raw control character in a string: rapidjson calls it an invalid escape, though there
  // is no backslash; say what it is and how JSON writes it.
  if (problem && problem->syntax && problem->offset < text.size() &&
      problem->message == rapidjson::GetParseError_En(rapidjson::kParseErrorStringEscapeInvalid)) {
    const auto c = static_cast<unsigned char>(text[problem->offset]);
    if (c > 0 && c < 0x20)
      problem->message = fmt::format("a control character (U+{:04X}) in a string, which JSON writes escaped (\\u{:04x}).", c, c);
  }
  // The reader tells where it found a bad byte (the first that cannot follow); the offset
  // given is where the ill-formed character starts (all before it was checked).
  if (problem && problem->message == "not valid UTF-8")
    problem->offset = invalid_utf8(text.substr(0, problem->offset + 1)).value_or(problem->offset);
  if (!problem && in.Tell() < text.size()) {
    doc.SetNull();
    problem = json_problem{in.Tell(), nul(in.Tell()) ? "a NUL byte." : "text after the value.", true};
  }
  return problem;
}

}  // namespace pmdb
