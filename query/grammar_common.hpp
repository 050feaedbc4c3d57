#pragma once
// The lexical layer both parts of the PMQL grammar share: the names used in messages, the
// hand-written literal parsers (strings, numbers, durations, timestamps), the `build` and
// `nested` directives, span annotation, keywords and reserved words. The read grammar
// (parser_def.hpp, instantiated in parser.cpp) and the write grammar (write_parser_def.hpp,
// instantiated in write_parser.cpp) include it; nothing else does. Nothing here is a rule with
// a BOOST_SPIRIT_DEFINE, so each heavy translation unit compiles only its own rules.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "query/ast.hpp"
#include "query/config.hpp"
#include "query/words.hpp"
#include "query/error_handler.hpp"
#include "query/parser.hpp"

namespace pmdb::query::parser {

// ---------------------------------------------------------------- names used in messages

namespace names {
inline constexpr char const statement[] =
    "a statement (time, incidents, events, timeline, log, use, show, report, history, new, record, correct, retract)";
inline constexpr char const terminator[] = "';' or end of input";
inline constexpr char const pattern[] = "a pattern (report, status NAME, N% METRIC, ...)";
inline constexpr char const milestone[] = "a milestone (start, end, first PATTERN, last PATTERN, PATTERN)";
inline constexpr char const pipe_op[] = "a pipe operator (where, let, summarize, order by, limit, select, per)";
inline constexpr char const show_what[] = "incidents, types or sources";
inline constexpr char const expression[] = "an expression";
inline constexpr char const operand[] = "a duration, a number, a string or a field";
inline constexpr char const incident[] = "an incident id";
inline constexpr char const binding[] = "a binding (NAME = MEASURE)";
inline constexpr char const measure[] =
    "a measure (time from A to B, count of PATTERN, min/max/first/last value of PATTERN, or an expression)";
}  // namespace names

// Operators allowed in one statement: bounds the height of operator chains, whose
// destruction and compilation recurse.
inline constexpr int max_operators = 1000;

// ---------------------------------------------------------------- helpers

namespace detail {

template <typename Context>
parse_state& state_of(Context const& context) {
  return x3::get<parse_state_tag>(context);
}

inline void set_span(ast::tagged& node, parse_state const& state, iterator_type first, iterator_type last) {
  node.offset = static_cast<std::uint32_t>(first - state.begin);
  node.length = static_cast<std::uint32_t>(last - first);
}

struct tag_visitor {
  using result_type = ast::tagged*;
  template <typename T>
  ast::tagged* operator()(x3::forward_ast<T>& node) const {
    return &node.get();
  }
  template <typename T>
  ast::tagged* operator()(T& node) const {
    return &node;
  }
};

// The span of whatever node an expression holds.
inline ast::tagged& tag_of(ast::expr& e) { return *boost::apply_visitor(tag_visitor{}, e.get()); }

inline std::uint32_t end_of(ast::expr& e) {
  ast::tagged const& t = tag_of(e);
  return t.offset + t.length;
}

// Counts one operator node; `offset` is where to point if that is one too many.
template <typename Context>
void count_operator(Context const& context, std::uint32_t offset) {
  parse_state& state = state_of(context);
  if (++state.operators > max_operators) {
    throw message_failure<iterator_type>(
        state.begin + offset, "expression too long (limit " + std::to_string(max_operators) + " operators)");
  }
}

inline bool is_word_char(char c) { return errors::is_word_char(c); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  std::int64_t const era = (y >= 0 ? y : y - 399) / 400;
  auto const yoe = static_cast<unsigned>(y - era * 400);
  unsigned const doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

inline unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool const leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

// Reads exactly `n` digits at `it` into `out`.
inline bool read_digits(iterator_type& it, iterator_type last, int n, unsigned& out) {
  unsigned v = 0;
  iterator_type i = it;
  for (int k = 0; k < n; ++k, ++i) {
    if (i == last || !is_digit(*i)) return false;
    v = v * 10 + static_cast<unsigned>(*i - '0');
  }
  it = i;
  out = v;
  return true;
}

// The end of the unsigned decimal number at `i`: digits, an optional fraction, an optional
// exponent (`i` itself when there is no digit). `integer`: it has neither fraction nor exponent.
template <typename Iterator>
Iterator scan_number(Iterator i, Iterator last, bool& integer) {
  integer = true;
  while (i != last && is_digit(*i)) ++i;
  if (i != last && *i == '.' && i + 1 != last && is_digit(*(i + 1))) {
    integer = false;
    for (++i; i != last && is_digit(*i); ++i) {
    }
  }
  if (i != last && (*i == 'e' || *i == 'E')) {
    Iterator j = i + 1;
    if (j != last && (*j == '+' || *j == '-')) ++j;
    if (j != last && is_digit(*j)) {
      integer = false;
      for (i = j; i != last && is_digit(*i); ++i) {
      }
    }
  }
  return i;
}

inline std::string token_text(iterator_type first, iterator_type last) {
  std::string_view const rest(first, static_cast<std::size_t>(last - first));
  return std::string(rest.substr(0, errors::token_length(rest, 0)));
}

}  // namespace detail

// ---------------------------------------------------------------- lexical parsers
// Hand-written primitives for the literals: exact about their forms, and cheap to compile.

// The X3 side of a hand-written lexical parser: blanks skipped, `Derived::scan(first, end,
// last)` reads one token at `first` and returns its value, setting `end` past it (nullopt: no
// such token here; malformed input throws a message_failure pointing at `first`).
template <typename Derived, typename Value>
struct lexical_parser : x3::parser<Derived> {
  using attribute_type = Value;
  static bool const has_attribute = true;

  template <typename Iterator, typename Context, typename RContext, typename Attribute>
  bool parse(Iterator& first, Iterator const& last, Context const& context, RContext&, Attribute& attr) const {
    x3::skip_over(first, last, context);
    Iterator end = first;
    std::optional<Value> value = static_cast<Derived const&>(*this).scan(first, end, last);
    if (!value) return false;
    first = end;
    x3::traits::move_to(std::move(*value), attr);
    return true;
  }
};

// A string in double or single quotes; `\"`, `\'`, `\\`, `\n`, `\t` are escapes, any other
// backslash is kept as written. A string ends on its line: a missing closing quote is an
// "unterminated string" error at the opening quote.
struct quoted_parser : lexical_parser<quoted_parser, std::string> {
  template <typename Iterator>
  std::optional<std::string> scan(Iterator const first, Iterator& end, Iterator const last) const {
    if (first == last || (*first != '"' && *first != '\'')) return std::nullopt;
    char const quote = *first;
    std::string value;
    Iterator i = first + 1;
    for (;;) {
      if (i == last || *i == '\n' || *i == '\r') throw message_failure<Iterator>(first, "unterminated string");
      char const c = *i++;
      if (c == quote) break;
      if (c == '\\' && i != last && *i != '\n' && *i != '\r') {
        char const e = *i++;
        switch (e) {
          case 'n': value += '\n'; break;
          case 't': value += '\t'; break;
          case '"': case '\'': case '\\': value += e; break;
          default: value += '\\'; value += e; break;
        }
        continue;
      }
      value += c;
    }
    end = i;
    return value;
  }
};

// An unsigned decimal number: digits, optional fraction, optional exponent. In expressions
// (`strict`) it is tried after durations, so digits followed by a letter are a malformed
// duration; in patterns (`99% fixed`, `metric x > 5`) the number just ends there.
struct number_parser : lexical_parser<number_parser, ast::number_lit> {
  bool strict = true;

  template <typename Iterator>
  std::optional<ast::number_lit> scan(Iterator const first, Iterator& end, Iterator const last) const {
    bool integer = true;
    Iterator const i = detail::scan_number(first, last, integer);
    if (i == first) return std::nullopt;
    if (strict && i != last && (std::isalpha(static_cast<unsigned char>(*i)) != 0 || *i == '_')) {
      // `90min`, `1.5h`: digits glued to a word are neither a number nor a duration.
      throw message_failure<Iterator>(first, "invalid duration '" + detail::token_text(first, last) +
                                                 "' (a duration is one or more INTEGER UNIT, unit d, h, m, s or ms)");
    }
    ast::number_lit n;
    n.is_integer = integer;
    const char* const b = &*first;
    const char* const e = b + (i - first);
    // A literal that does not fit is an error, never a wrapped or clamped value.
    if (integer) {
      if (std::from_chars(b, e, n.integer).ec != std::errc{})
        throw message_failure<Iterator>(first, "integer out of range '" + detail::token_text(first, last) +
                                                   "' (integers are 64-bit: at most 9223372036854775807)");
      n.value = static_cast<double>(n.integer);
    } else if (std::from_chars(b, e, n.value).ec != std::errc{} || !std::isfinite(n.value)) {
      throw message_failure<Iterator>(first, "number out of range '" + detail::token_text(first, last) +
                                                 "' (at most about 1.8e308)");
    }
    end = i;
    return n;
  }
};

// A duration: one or more `<integer><unit>` with unit d, h, m, s or ms, not followed by a
// letter, digit or `_` (`90m`, `4h36m`, `1d2h3m`, `500ms`).
struct duration_parser : lexical_parser<duration_parser, ast::duration_lit> {
  template <typename Iterator>
  std::optional<ast::duration_lit> scan(Iterator const first, Iterator& end, Iterator const last) const {
    Iterator i = first;
    std::int64_t total = 0;
    bool overflow = false;
    int parts = 0;
    while (i != last && detail::is_digit(*i)) {
      std::int64_t n = 0;
      for (; i != last && detail::is_digit(*i); ++i)
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *i - '0', &n)) overflow = true;
      std::int64_t unit = 0;
      if (i != last && *i == 'm' && i + 1 != last && *(i + 1) == 's') {
        unit = 1;
        i += 2;
      } else if (i != last && (*i == 'd' || *i == 'h' || *i == 'm' || *i == 's')) {
        unit = *i == 'd' ? 86'400'000 : *i == 'h' ? 3'600'000 : *i == 'm' ? 60'000 : 1'000;
        ++i;
      } else {
        return std::nullopt;
      }
      if (__builtin_mul_overflow(n, unit, &n) || __builtin_add_overflow(total, n, &total)) overflow = true;
      ++parts;
    }
    if (parts == 0 || (i != last && detail::is_word_char(*i))) return std::nullopt;
    if (overflow)
      throw message_failure<Iterator>(first, "duration out of range '" + detail::token_text(first, last) +
                                                 "' (at most 106751991167d, about 292 million years)");
    ast::duration_lit d;
    d.ms = total;
    end = i;
    return d;
  }
};

// A timestamp: `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]`, UTC when no zone is given.
// Anything that starts like a date (`dddd-dd-dd`) must be a valid timestamp: otherwise it is
// an "invalid timestamp" error rather than a subtraction.
struct timestamp_parser : lexical_parser<timestamp_parser, ast::timestamp_lit> {
  template <typename Iterator>
  std::optional<ast::timestamp_lit> scan(Iterator const first, Iterator& end, Iterator const last) const {
    Iterator i = first;
    unsigned y = 0, mo = 0, d = 0;
    if (!detail::read_digits(i, last, 4, y) || i == last || *i != '-') return std::nullopt;
    ++i;
    if (!detail::read_digits(i, last, 2, mo) || i == last || *i != '-') return std::nullopt;
    ++i;
    if (!detail::read_digits(i, last, 2, d)) return std::nullopt;

    auto const invalid = [&] {
      return message_failure<Iterator>(first, "invalid timestamp '" + detail::token_text(first, last) +
                                                  "' (the form is YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM])");
    };
    if (mo < 1 || mo > 12 || d < 1 || d > detail::days_in_month(y, mo)) throw invalid();

    std::int64_t ms_of_day = 0;
    std::int64_t zone_minutes = 0;
    if (i != last && (*i == 'T' || *i == 't')) {
      ++i;
      unsigned hh = 0, mi = 0, ss = 0;
      if (!detail::read_digits(i, last, 2, hh) || i == last || *i != ':') throw invalid();
      ++i;
      if (!detail::read_digits(i, last, 2, mi) || hh > 23 || mi > 59) throw invalid();
      std::int64_t fraction = 0;
      if (i != last && *i == ':') {
        ++i;
        if (!detail::read_digits(i, last, 2, ss) || ss > 59) throw invalid();
        if (i != last && *i == '.') {
          ++i;
          if (i == last || !detail::is_digit(*i)) throw invalid();
          int digits = 0;
          for (; i != last && detail::is_digit(*i); ++i, ++digits) {
            if (digits < 3) fraction = fraction * 10 + (*i - '0');
          }
          for (; digits < 3; ++digits) fraction *= 10;
        }
      }
      ms_of_day = ((static_cast<std::int64_t>(hh) * 60 + mi) * 60 + ss) * 1000 + fraction;
      if (i != last && (*i == 'Z' || *i == 'z')) {
        ++i;
      } else if (i != last && (*i == '+' || *i == '-')) {
        int const sign = *i == '-' ? -1 : 1;
        ++i;
        unsigned zh = 0, zm = 0;
        if (!detail::read_digits(i, last, 2, zh)) throw invalid();
        if (i != last && *i == ':') ++i;
        if (!detail::read_digits(i, last, 2, zm) || zh > 23 || zm > 59) throw invalid();
        zone_minutes = sign * static_cast<std::int64_t>(zh * 60 + zm);
      }
    }
    if (i != last && (detail::is_word_char(*i) || *i == ':' || *i == '.')) throw invalid();

    ast::timestamp_lit t;
    t.ms = detail::days_from_civil(y, mo, d) * 86'400'000 + ms_of_day - zone_minutes * 60'000;
    end = i;
    return t;
  }
};

// Zero-width: resets the per-statement counters.
struct statement_start_parser : x3::parser<statement_start_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;

  template <typename Iterator, typename Context, typename RContext, typename Attribute>
  bool parse(Iterator&, Iterator const&, Context const& context, RContext&, Attribute&) const {
    parse_state& state = detail::state_of(context);
    state.depth = 0;
    state.operators = 0;
    return true;
  }
};

inline constexpr quoted_parser quoted{};
inline constexpr number_parser number{{}, true};
inline constexpr number_parser pattern_number{{}, false};
inline constexpr duration_parser duration{};
inline constexpr timestamp_parser timestamp{};
inline constexpr statement_start_parser statement_start{};

// ---------------------------------------------------------------- directives

// build[p]: `p` fills the enclosing rule's attribute through semantic actions (`_val`). The
// rule still hands its attribute to on_success, so the node gets its span; plain X3 would
// hand on_success nothing for a rule whose right-hand side holds actions.
template <typename Subject>
struct build_directive : x3::unary_parser<Subject, build_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, build_directive<Subject>>;
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  static bool const has_action = false;

  constexpr explicit build_directive(Subject const& s) : base_type(s) {}

  template <typename Iterator, typename Context, typename RContext, typename Attribute>
  bool parse(Iterator& first, Iterator const& last, Context const& context, RContext& rcontext, Attribute&) const {
    return this->subject.parse(first, last, context, rcontext, x3::unused);
  }
};

struct build_gen {
  template <typename Subject>
  constexpr build_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](Subject const& s) const {
    return build_directive<typename x3::extension::as_parser<Subject>::value_type>(x3::as_parser(s));
  }
};
inline constexpr build_gen build{};

// nested(n)[p]: one more level of nesting while `p` runs; over max_nesting_depth it is an
// error pointing at the opening token (the `n` bytes just before `p`).
template <typename Subject>
struct nested_directive : x3::unary_parser<Subject, nested_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, nested_directive<Subject>>;
  static bool const is_pass_through_unary = true;

  constexpr nested_directive(Subject const& s, int opener) : base_type(s), opener_length(opener) {}

  template <typename Iterator, typename Context, typename RContext, typename Attribute>
  bool parse(Iterator& first, Iterator const& last, Context const& context, RContext& rcontext, Attribute& attr) const {
    parse_state& state = detail::state_of(context);
    if (state.depth >= max_nesting_depth) {
      throw message_failure<Iterator>(first - opener_length, "expression nested too deeply (limit " +
                                                                 std::to_string(max_nesting_depth) + ")");
    }
    ++state.depth;
    bool ok = false;
    try {
      ok = this->subject.parse(first, last, context, rcontext, attr);
    } catch (...) {
      --state.depth;
      throw;
    }
    --state.depth;
    return ok;
  }

  int opener_length;
};

struct nested_gen {
  int opener_length;
  template <typename Subject>
  constexpr nested_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](Subject const& s) const {
    return {x3::as_parser(s), opener_length};
  }
};
constexpr nested_gen nested(int opener_length) { return {opener_length}; }

}  // namespace pmdb::query::parser

namespace boost::spirit::x3 {
// An expectation on nested(n)[p] reports p's name.
template <typename Subject>
struct get_info<pmdb::query::parser::nested_directive<Subject>> {
  using result_type = std::string;
  std::string operator()(pmdb::query::parser::nested_directive<Subject> const& p) const { return what(p.subject); }
};
}  // namespace boost::spirit::x3

namespace pmdb::query::parser {

// ---------------------------------------------------------------- annotation

// on_success for every rule: the node's span is the matched text without leading blanks.
struct annotate_span {
  template <typename Iterator, typename Attribute, typename Context>
  void on_success(Iterator const& first, Iterator const& last, Attribute& attr, Context const& context) const {
    if constexpr (std::is_base_of_v<ast::tagged, Attribute>) {
      detail::set_span(attr, detail::state_of(context), first, last);
    }
  }
};

// A parenthesised expression's node spans the parentheses too, so that an operator node
// built on it (`(a + b) * c`) covers its whole text.
struct annotate_paren {
  template <typename Iterator, typename Context>
  void on_success(Iterator const& first, Iterator const& last, ast::expr& attr, Context const& context) const {
    detail::set_span(detail::tag_of(attr), detail::state_of(context), first, last);
  }
};

// ---------------------------------------------------------------- keywords and symbols

inline auto kw(char const* k) { return x3::lexeme[x3::no_case[x3::lit(k)] >> !(x3::alnum | x3::lit('_'))]; }

// Words that end an expression: never identifiers (query/words.hpp marks them reserved). `to`
// and `after` end a pattern's `where` condition inside a milestone (`first report where x to ...`).
struct reserved_words_t : x3::symbols<x3::unused_type> {
  reserved_words_t() {
    for (auto const& k : words::keywords())
      if (k.reserved) add(k.word);
  }
};
inline reserved_words_t const reserved_words;
inline auto const reserved = x3::lexeme[x3::no_case[reserved_words] >> !(x3::alnum | x3::lit('_'))];

// Words that continue a statement after a pattern: never a status, channel, metric or state name.
struct stop_words_t : x3::symbols<x3::unused_type> {
  stop_words_t() { add("to")("in")("after")("where")("and")("or")("by")("on")("not"); }
};
inline stop_words_t const stop_words;
inline auto const stop_word = x3::lexeme[x3::no_case[stop_words] >> !(x3::alnum | x3::lit('_'))];

// A bare word: a letter or `_`, then letters, digits and `_`.
auto const bare_word = x3::rule<struct bare_word_id, std::string>{"a name"} =
    x3::lexeme[(x3::alpha | x3::char_('_')) >> *(x3::alnum | x3::char_('_'))];

// An incident id: a slug of lowercase letters, digits, `.`, `_`, `-` (never `--`, which starts a comment).
auto const slug = x3::lexeme[(x3::char_('a', 'z') | x3::char_('0', '9')) >>
                             *((x3::char_('a', 'z') | x3::char_('0', '9') | x3::char_('.') | x3::char_('_') |
                                x3::char_('-')) -
                               x3::lit("--"))];

}  // namespace pmdb::query::parser
