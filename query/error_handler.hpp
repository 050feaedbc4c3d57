#pragma once
// How PMQL syntax errors are produced.
//
// Every error is an x3::expectation_failure: the `>` expectation points throw one naming the
// rule that was expected ("an incident id", "'to'", ...), and the few errors that are not
// "expected X" (an unterminated string, nesting too deep, a malformed timestamp) throw a
// `message_failure`, whose `which()` is the whole message. The top rule's on_error handler
// (error_handler_base) records the failure in the parse_state; parse() in parser.cpp then
// turns it into the user-facing message with `expectation_message`, which adds
// "after 'PREV'" (the token before the error) and "did you mean" hints.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.hpp"

#include "query/config.hpp"

namespace pmdb::query::parser {

template <typename Iterator>
struct message_failure : x3::expectation_failure<Iterator> {
  message_failure(Iterator where, std::string const& message) : x3::expectation_failure<Iterator>(where, message) {}
};

// Base of the top rule's ID: catches every failure below it, records it and fails the parse.
struct error_handler_base {
  template <typename Iterator, typename Exception, typename Context>
  x3::error_handler_result on_error(Iterator& /*first*/, Iterator const& /*last*/, Exception const& x,
                                    Context const& context) const {
    parse_state& state = x3::get<parse_state_tag>(context);
    state.failed = true;
    state.error_offset = static_cast<std::size_t>(x.where() - state.begin);
    state.error_which = x.which();
    state.error_is_message = dynamic_cast<message_failure<Iterator> const*>(&x) != nullptr;
    return x3::error_handler_result::fail;
  }
};

// ---------------------------------------------------------------- message composition
// Plain text functions (no X3): they re-scan the query with PMQL's lexical rules.

namespace errors {

inline bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// The offset of the first byte at or after `pos` that is neither whitespace nor inside a
// `--` comment (what the skipper would skip).
inline std::size_t skip_blank(std::string_view text, std::size_t pos) {
  while (pos < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[pos])) != 0) {
      ++pos;
    } else if (text.substr(pos, 2) == "--") {
      while (pos < text.size() && text[pos] != '\n' && text[pos] != '\r') ++pos;
    } else {
      break;
    }
  }
  return pos;
}

struct token {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// The length of the token starting at `pos` (which is not blank).
inline std::size_t token_length(std::string_view text, std::size_t pos) {
  std::size_t i = pos;
  char const c = text[i];
  if (c == '"' || c == '\'') {
    for (++i; i < text.size() && text[i] != '\n'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
      } else if (text[i] == c) {
        return i + 1 - pos;
      }
    }
    return i - pos;
  }
  if (is_word_char(c)) {
    // Words, numbers, durations, timestamps (`2024-12-11T23:07:00.5-08:00`), incident ids
    // (`openai-2024-12-11`) and `99%` are one token each.
    while (i < text.size()) {
      char const d = text[i];
      if (is_word_char(d) || d == '.' || d == ':' || d == '%') {
        ++i;
      } else if ((d == '-' || d == '+') && i + 1 < text.size() && is_word_char(text[i + 1]) &&
                 text.substr(i, 2) != "--") {
        ++i;
      } else {
        break;
      }
    }
    return i - pos;
  }
  static constexpr std::string_view two_char_ops[] = {"<=", ">=", "!=", "<>", "!~"};
  for (auto op : two_char_ops) {
    if (text.substr(pos, 2) == op) return 2;
  }
  return 1;
}

// The last token that ends at or before `pos`, if any.
inline std::optional<token> token_before(std::string_view text, std::size_t pos) {
  std::optional<token> last;
  std::size_t i = skip_blank(text, 0);
  while (i < text.size() && i < pos) {
    std::size_t const n = token_length(text, i);
    if (i + n > pos) break;
    last = token{i, i + n};
    i = skip_blank(text, i + n);
  }
  return last;
}

inline std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The keyword closest to `word` when it is a plausible typo of it (see pmdb::nearest); empty
// otherwise, and when the word is the keyword itself.
inline std::string closest_keyword(std::string_view word, std::vector<std::string_view> const& keywords) {
  if (word.empty()) return {};
  std::string const w = lowercase(word);
  auto const best = pmdb::nearest(w, std::span<const std::string_view>(keywords));
  return best && *best != w ? *best : std::string();
}

}  // namespace errors
}  // namespace pmdb::query::parser
