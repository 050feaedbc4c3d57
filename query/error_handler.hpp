#pragma once
// How PMQL syntax errors are produced.
//
// Every error is an x3::expectation_failure: the `>` expectation points throw one naming the
// rule that was expected ("an incident id", "'to'", ...), and the few errors that are not
// "expected X" (an unterminated string, nesting too deep, a malformed timestamp) throw a
// `message_failure`, whose `which()` is the whole message. The top rule's on_error handler
// (error_handler_base) records the failure in the parse_state; parse() in parser.cpp then
// turns it into the user-facing message with `expectation_message`, which adds "after 'PREV'"
// (the token before the error) and either a hint for a phrasing of another language
// (errors::phrasing_hint: SQL's `select ... from`, KQL's `| take 10`, `&&`, `like`, a reserved
// word used as a name, `quit`, ...) or a "did you mean" for a misspelt keyword.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.hpp"

#include "query/config.hpp"
#include "query/words.hpp"

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

// The keyword among `keywords` that `word` is likely a misspelling of (words::close_to: never a
// misleading one); empty when none is, and when the word is the keyword itself.
inline std::string closest_keyword(std::string_view word, std::span<const std::string_view> keywords) {
  auto const close = words::close_to(word, keywords);
  if (close.empty() || lowercase(close.front()) == lowercase(word)) return {};
  return close.front();
}

// ---------------------------------------------------------------- hints for other languages' phrasings
// When the text at (or just before) a syntax error reads like SQL, KQL, a shell or English, the
// message gets a hint with the PMQL for it ("expected X; HINT"), in place of "did you mean".

// What the grammar expected at the error, as far as the hints care.
enum class expected { statement, pipe_op, show_what, terminator, other };

// The tokens of a text (token_length's), in order.
class token_list {
 public:
  explicit token_list(std::string_view text) : text_(text) {
    for (std::size_t i = skip_blank(text, 0); i < text.size(); i = skip_blank(text, i)) {
      std::size_t const n = token_length(text, i);
      tokens_.push_back({i, i + n});
      i += n;
    }
  }
  std::size_t size() const { return tokens_.size(); }
  // The index of the first token that starts at or after `offset`.
  std::size_t first_from(std::size_t offset) const {
    std::size_t i = 0;
    while (i < tokens_.size() && tokens_[i].begin < offset) ++i;
    return i;
  }
  // Token k as written; empty when there is none (k may be "negative", i.e. wrapped around).
  std::string_view raw(std::size_t k) const {
    return k < tokens_.size() ? text_.substr(tokens_[k].begin, tokens_[k].end - tokens_[k].begin) : std::string_view();
  }
  // Token k in lowercase.
  std::string word(std::size_t k) const { return lowercase(raw(k)); }
  // Whether token k + 1 follows token k with nothing between them.
  bool glued(std::size_t k) const { return k + 1 < tokens_.size() && tokens_[k].end == tokens_[k + 1].begin; }
  // The index of the first token of the statement token k is in (the one after the last ';' before k).
  std::size_t statement_start(std::size_t k) const {
    std::size_t s = std::min(k, tokens_.size());
    while (s > 0 && raw(s - 1) != ";") --s;
    return s;
  }

 private:
  std::string_view text_;
  std::vector<token> tokens_;
};

namespace hints {

inline constexpr std::size_t none = static_cast<std::size_t>(-1);

inline bool one_of(std::string_view w, std::initializer_list<std::string_view> among) {
  return std::ranges::find(among, w) != among.end();
}

inline bool is_name(std::string_view w) {
  return !w.empty() && (std::isalpha(static_cast<unsigned char>(w.front())) != 0 || w.front() == '_') &&
         std::ranges::all_of(w, is_word_char) && !words::is_reserved(w);
}

inline bool is_integer(std::string_view w) {
  return !w.empty() && std::ranges::all_of(w, [](char c) { return c >= '0' && c <= '9'; });
}

inline bool is_source(std::string_view w) {
  auto const sources = words::words_of(words::word_kind::source);
  return std::ranges::find(sources, lowercase(w)) != sources.end();
}

// Token k as a placeholder in a hint: itself when it is a plain name (a field), else `fallback`.
inline std::string name_or(token_list const& t, std::size_t k, std::string_view fallback) {
  return is_name(t.raw(k)) ? std::string(t.raw(k)) : std::string(fallback);
}

// `select ... from SOURCE [where ...]` at statement start (token i): the pipeline it would be.
inline std::string sql_select(token_list const& t, std::size_t i) {
  std::size_t from = none;
  bool where = false;
  int depth = 0;
  std::size_t k = i + 1;
  for (; k < t.size() && t.raw(k) != ";"; ++k) {
    std::string const w = t.word(k);
    if (w == "(") ++depth;
    if (w == ")") --depth;
    if (depth != 0) continue;
    if (w == "from" && from == none) from = k;
    if (w == "where" && from != none) where = true;
  }
  // The source: a PMQL source, or a near miss of one (`from incident`).
  std::string source;
  if (from != none && from + 1 < k) {
    auto const sources = words::words_of(words::word_kind::source);
    if (auto const close = words::close_to(t.raw(from + 1), sources); !close.empty()) source = close.front();
    if (source == "timeline") {
      std::string const id = from + 2 < k ? std::string(t.raw(from + 2)) : std::string();
      source += " " + (id.empty() || words::is_reserved(id) ? std::string("INCIDENT") : id);
    }
  }
  if (source.empty()) {
    return "PMQL starts with a source and pipes its rows on: `incidents | where ... | select ...` (see .help)";
  }
  std::string const head = source + (where ? " | where ..." : "");
  std::size_t const columns = from - (i + 1);
  if (columns == 1 && t.raw(i + 1) == "*") return "PMQL starts with the source: `" + head + "` gives every column";
  if (columns >= 3 && t.word(i + 1) == "count" && t.raw(i + 2) == "(" && t.raw(from - 1) == ")") {
    return "PMQL starts with the source: `" + head + " | summarize n = count()`";
  }
  return "PMQL starts with the source: `" + head + " | select ...`";
}

// A statement that does not start with a statement keyword (token i).
inline std::string statement_hint(token_list const& t, std::size_t i) {
  std::string const w = t.word(i);
  if (w == "\\" || one_of(w, {"quit", "exit", "help"})) return "type .quit to leave, .help for help";
  if (w == "select") return sql_select(t, i);
  if (w == "how" && t.word(i + 1) == "many") {
    return "ask in PMQL: `incidents | summarize n = count()` for how many (`events | ...` for events); "
           "`show incidents` lists them";
  }
  if (one_of(w, {"how", "when", "what", "which", "who", "why", "list", "find", "get", "give"})) {
    return "ask in PMQL: `time from A to B [in INCIDENT]` for how long, `show incidents` for which incidents, "
           "`timeline INCIDENT` for what happened when (see .help)";
  }
  if (w == "where") return "a condition follows a source: `incidents where ...`, `events | where ...`";
  if (w == "from") {
    std::string const source = is_source(t.raw(i + 1)) ? t.word(i + 1) : std::string("incidents");
    return "PMQL starts with the source itself: `" + source + " | ...`";
  }
  if (w == "insert") return "to add an event, `record TYPE ...`; to start an incident, `new incident INCIDENT ...`";
  if (w == "create") return "to start an incident, `new incident INCIDENT ...`";
  if (w == "update") {
    return "events are corrected, not updated: `correct EVENT_ID set FIELD = VALUE because \"REASON\"`";
  }
  if (w == "delete") return "events are retracted, not deleted: `retract EVENT_ID because \"REASON\"`";
  return {};
}

// `show tables`, `show events`.
inline std::string show_hint(token_list const& t, std::size_t i) {
  std::string const w = t.word(i);
  if (is_source(w)) return "`" + w + "` is a statement of its own, without `show`";
  if (one_of(w, {"me", "all", "the", "my"})) {
    return "`show incidents` lists the incidents (`show types`, `show sources`)";
  }
  if (one_of(w, {"tables", "databases", "schemas", "columns", "fields"})) {
    return "the sources are incidents, events, timeline INCIDENT and log; `show types` lists the event types, "
           ".schema their fields";
  }
  return {};
}

// A pipe operator of another language, at token i (after `|`, or where a step ended).
inline std::string pipe_alias_hint(token_list const& t, std::size_t i) {
  std::string const w = t.word(i);
  std::string const n = is_integer(t.raw(i + 1)) ? std::string(t.raw(i + 1)) : std::string("N");
  if (one_of(w, {"take", "head"})) {
    return "`" + w + " " + n + "` is `limit " + n + "` in PMQL (`order by X desc | limit " + n + "` for the top " +
           n + ")";
  }
  if (w == "top") {
    std::size_t const by = n == "N" ? i + 1 : i + 2;
    std::string const x = t.word(by) == "by" ? name_or(t, by + 1, "X") : std::string("X");
    return "`top " + n + " by " + x + "` is `order by " + x + " desc | limit " + n + "` in PMQL";
  }
  if (w.starts_with("project")) return "`project` is `select` in PMQL (`select a, b, c = EXPR`)";
  if (w == "extend") return "`extend` is `let` in PMQL (`let NAME = EXPR` adds a column to incident rows)";
  if (w == "filter") return "`filter` is `where` in PMQL";
  if (w == "sort") return "`sort by` is `order by` in PMQL";
  if (w == "count") return "to count the rows, `summarize n = count()`";
  if (w == "group") {
    std::size_t const by = t.word(i + 1) == "by" ? i + 2 : i + 1;
    return "to group, `summarize AGGREGATE by KEY` (e.g. `summarize n = count() by " + name_or(t, by, "org") + "`)";
  }
  if (w == "distinct") {
    std::string const x = name_or(t, i + 1, "X");
    return "`distinct " + x + "` is `summarize by " + x + "` in PMQL";
  }
  if (one_of(w, {"mv-expand", "mvexpand", "mv_expand", "explode", "unnest", "expand"})) {
    return "for one row per component of an incident, `per component`";
  }
  return {};
}

// The text of a quoted token when it is plain (letters, digits, spaces, `-`, `.`, `,`: nothing a
// regular expression or a `like` pattern would read otherwise), or empty.
inline std::string plain_string(std::string_view quoted) {
  bool const quotes = quoted.size() >= 3 && (quoted.front() == '"' || quoted.front() == '\'') &&
                      quoted.back() == quoted.front();
  if (!quotes) return {};
  std::string_view const text = quoted.substr(1, quoted.size() - 2);
  bool const plain = std::ranges::all_of(text, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == ' ' || c == '-' || c == '.' || c == ',';
  });
  return plain ? std::string(text) : std::string();
}

// The substring a `like` pattern looks for (`'%Sora%'` -> `Sora`), or empty when it is not just
// one (no quotes, other wildcards).
inline std::string like_substring(std::string_view quoted) {
  if (quoted.size() < 5 || quoted.substr(1, 1) != "%" || quoted.substr(quoted.size() - 2, 1) != "%") return {};
  std::string stripped;
  stripped += quoted.front();
  stripped += quoted.substr(2, quoted.size() - 4);
  stripped += quoted.back();
  return plain_string(stripped);
}

// An operator of another language at token i (or ending just before it).
inline std::string operator_hint(token_list const& t, std::size_t i) {
  std::string_view const at = t.raw(i);
  std::string const w = t.word(i);
  std::string const x = i > 0 ? name_or(t, i - 1, "x") : std::string("x");
  if (one_of(w, {"like", "ilike"})) {
    std::string const text = like_substring(t.raw(i + 1));
    return "PMQL has no `" + w + "`: `" + x + " ~ \"" + (text.empty() ? "..." : text) +
           "\"` is a substring test (any case, no %), `" + x + " matches \"regex\"` a regular expression";
  }
  if (w == "not" && one_of(t.word(i + 1), {"like", "ilike"})) {
    std::string const text = like_substring(t.raw(i + 2));
    return "PMQL has no `not " + t.word(i + 1) + "`: `" + x + " !~ \"" + (text.empty() ? "..." : text) +
           "\"` (no such substring, any case) or `" + x + " not matches \"regex\"`";
  }
  if (one_of(w, {"regexp", "rlike", "regex", "similar"})) {
    return "`" + w + "` is `matches` in PMQL: `" + x + " matches \"regex\"`";
  }
  if (one_of(w, {"startswith", "endswith"})) {
    std::string text = plain_string(t.raw(i + 1));
    if (text.empty()) text = "text";
    return "`" + w + "` is a regular expression in PMQL: `" + x + " matches \"" +
           (w == "startswith" ? "^" + text : text + "$") + "\"`";
  }
  if (w == "between") return "`" + x + " between A and B` is `" + x + " >= A and " + x + " <= B` in PMQL";
  if (at == "~" && i > 0 && t.raw(i - 1) == "=" && t.glued(i - 1)) {
    std::string const lhs = i > 1 ? name_or(t, i - 2, "x") : std::string("x");
    return "`=~` is `matches` in PMQL: `" + lhs + " matches \"regex\"` (`~` alone is a substring test, any case)";
  }
  if (at == "&") return "`&&` is `and` in PMQL";
  if (at == "|" && ((t.raw(i + 1) == "|" && t.glued(i)) || (i > 0 && t.raw(i - 1) == "|" && t.glued(i - 1)))) {
    return "`||` is `or` in PMQL";
  }
  if (at == "!") {
    std::string const next = t.glued(i) ? t.word(i + 1) : std::string();
    if (one_of(next, {"contains", "has", "matches", "in"})) return "`!" + next + "` is `not " + next + "` in PMQL";
    return "`!` is `not` in PMQL (`not A`, `x != y`, `x !~ \"...\"`)";
  }
  if (at == "*" && i > 0 && t.raw(i - 1) == "(" && i > 1 && t.word(i - 2) == "count") {
    return "`count()` counts the rows: PMQL has no `*`";
  }
  if (at == "*" && i > 0 && t.word(i - 1) == "select") return "without `select`, every column is kept: PMQL has no `*`";
  return {};
}

// A reserved word where a name was expected, written as `WORD =` (`select after = 1`, `let to =
// 1`, `summarize by = count()`): the error is at the word, or at the `=` after it.
inline std::string reserved_name_hint(token_list const& t, std::size_t i) {
  auto const binds = [&](std::size_t k) {
    return k < t.size() && words::is_reserved(t.raw(k)) && t.raw(k + 1) == "=" && t.raw(k + 2) != "=" && k > 0 &&
           (one_of(t.word(k - 1), {"select", "let", "summarize", ","}) ||
            (t.word(k - 1) == "by" && k > 1 && !one_of(t.word(k - 2), {"order", "comm"})));
  };
  std::size_t const k = binds(i) ? i : i > 0 && binds(i - 1) && t.raw(i) == "=" ? i - 1 : none;
  if (k == none) return {};
  std::string const w(t.raw(k));
  return "'" + w + "' is a reserved word: choose another name (e.g. " + w + "_)";
}

// At a statement's end: the next step of a pipeline without its `|`, or a `|` after a statement
// that is not a pipeline.
inline std::string terminator_hint(token_list const& t, std::size_t i) {
  std::size_t const start = t.statement_start(i);
  bool const pipeline = is_source(t.raw(start));
  std::string const w = t.word(i);
  auto const pipe_words = words::words_of(words::word_kind::pipe);
  bool const pipe_word = std::ranges::find(pipe_words, w) != pipe_words.end();
  std::string const first = t.word(start);
  if (first == "show" && t.word(start + 1) == "incidents" && (w == "|" || pipe_word)) {
    std::string const step = w == "|" ? "..." : w + " ...";
    return "`show incidents` takes no `" + std::string(t.raw(i)) + "`: `incidents | " + step + "` does";
  }
  if (w == "|" && !pipeline) {
    if (first == "time") {
      return "`time` takes no `|`: for one row per incident, `incidents | let d = time from A to B | ...`";
    }
    return "only a pipeline (incidents, events, timeline INCIDENT, log) continues with `|`";
  }
  if (!pipeline) return {};
  if (pipe_word) return "the steps of a pipeline are joined with `|`: `... | " + std::string(t.raw(i)) + " ...`";
  if (w == "group" && t.word(i + 1) == "by" && i > start) {
    for (std::size_t k = i; k-- > start;) {
      if (t.raw(k) == "|") break;
      if (t.word(k) == "summarize") return "`summarize ... by KEY` groups: no `group` before `by`";
    }
  }
  return pipe_alias_hint(t, i);
}

}  // namespace hints

// The hint for the phrasing at or just before `at` (where the error is), or empty.
inline std::string phrasing_hint(std::string_view text, std::size_t at, expected what) {
  token_list const t(text);
  std::size_t const i = t.first_from(at);
  if (i >= t.size()) return {};
  switch (what) {
    case expected::statement: return hints::statement_hint(t, i);
    case expected::show_what: return hints::show_hint(t, i);
    default: break;
  }
  // The write statements have values, not expressions: none of the hints below is about them.
  if (hints::one_of(t.word(t.statement_start(i)), {"new", "record", "correct", "retract"})) return {};
  if (auto h = hints::reserved_name_hint(t, i); !h.empty()) return h;
  if (auto h = hints::operator_hint(t, i); !h.empty()) return h;
  if (what == expected::pipe_op) return hints::pipe_alias_hint(t, i);
  if (what == expected::terminator) return hints::terminator_hint(t, i);
  return {};
}

}  // namespace errors
}  // namespace pmdb::query::parser
