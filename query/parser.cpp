// The translation unit that instantiates the PMQL read grammar (the write statements are
// instantiated in write_parser.cpp), and the text-level functions around it: turning a
// recorded failure into a message, positions, and rendering.
#include "query/parser.hpp"

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/text.hpp"
#include "query/config.hpp"
#include "query/error_handler.hpp"
#include "query/parser_def.hpp"
#include "query/words.hpp"

namespace pmdb::query::parser {

// parse() below builds its context with x3::with<parse_state_tag>(state) inside
// x3::phrase_parse(..., skipper, ...): that must be the context instantiated here.
static_assert(std::is_same_v<decltype(x3::make_context<parse_state_tag>(std::declval<parse_state&>(),
                                                                         std::declval<phrase_context_type const&>())),
                             context_type>);

BOOST_SPIRIT_INSTANTIATE(script_type, iterator_type, context_type)

}  // namespace pmdb::query::parser

namespace pmdb::query {

namespace {

namespace errors = parser::errors;
namespace names = parser::names;

// The words `show` takes, read from its row of the table ("show incidents | types | sources
// [INCIDENT]: ..."): the lowercase words before the colon that are keywords.
std::vector<std::string_view> show_targets() {
  std::vector<std::string_view> out;
  auto const all = words::keyword_words();
  for (auto const& k : words::keywords()) {
    if (k.kind != words::word_kind::statement || k.word != "show") continue;
    std::string_view const form = k.summary.substr(0, k.summary.find(':'));
    std::size_t i = k.word.size();
    while (i < form.size()) {
      while (i < form.size() && (form[i] < 'a' || form[i] > 'z')) ++i;
      std::size_t j = i;
      while (j < form.size() && form[j] >= 'a' && form[j] <= 'z') ++j;
      std::string_view const w = form.substr(i, j - i);
      auto const known = std::ranges::find(all, w);
      if (!w.empty() && known != all.end() && std::ranges::find(out, w) == out.end()) out.push_back(*known);
      i = j;
    }
  }
  return out;
}

// Keywords a word at the error position may be a typo of, by what was expected there; all from
// the one table of PMQL's words (query/words.hpp).
std::span<const std::string_view> keywords_for(std::string_view which) {
  using k = words::word_kind;
  static std::vector<std::string_view> const statements = [] {
    auto out = words::words_of(k::statement);
    for (auto const w : words::words_of(k::source)) out.push_back(w);
    return out;
  }();
  static std::vector<std::string_view> const pipe_ops = words::words_of(k::pipe);
  static std::vector<std::string_view> const show_whats = show_targets();
  static std::vector<std::string_view> const patterns = words::words_of(k::pattern);
  // What `record` takes: the event types but the two that only correct and retract append.
  static std::vector<std::string_view> const record_types = [] {
    std::vector<std::string_view> out;
    for (auto const& t : words::event_types())
      if (t != "correction" && t != "retraction") out.emplace_back(t);
    return out;
  }();
  static std::vector<std::string_view> const incident_keyword{"incident"};
  if (which == names::statement) return statements;
  if (which == names::record_type) return record_types;
  if (which == names::incident_keyword) return incident_keyword;
  if (which == names::pipe_op) return pipe_ops;
  if (which == names::show_what) return show_whats;
  if (which == names::pattern) return patterns;
  return {};
}

// What the hints of errors::phrasing_hint need to know of what was expected.
errors::expected expected_kind(std::string_view which) {
  if (which == names::statement) return errors::expected::statement;
  if (which == names::terminator) return errors::expected::terminator;
  if (which == names::pipe_op) return errors::expected::pipe_op;
  if (which == names::show_what) return errors::expected::show_what;
  return errors::expected::other;
}

std::string quote_token(std::string_view token) {
  constexpr std::size_t max_shown = 30;
  if (token.size() <= max_shown) return std::string(token);
  return std::string(token.substr(0, max_shown - 3)) + "...";
}

// "expected WHAT [after 'PREV'][; HINT | ; did you mean 'KEYWORD'?]", and where to point: at
// the token where WHAT was expected, or just past the last token when the text ended early.
// HINT: the PMQL for a phrasing of SQL, KQL, a shell or English at or just before the error
// (errors::phrasing_hint); when there is none, a keyword the word at the error is likely a
// misspelling of.
std::string expectation_message(std::string_view text, std::size_t& offset, std::string const& which) {
  std::size_t const next = errors::skip_blank(text, offset);
  auto const prev = errors::token_before(text, next);
  offset = next >= text.size() && prev ? prev->end : next;

  std::string message = "expected " + which;
  bool const statement_level = which == names::statement || which == names::terminator;
  if (prev && !statement_level) {
    message += " after '" + quote_token(text.substr(prev->begin, prev->end - prev->begin)) + "'";
  }
  if (std::string const hint = errors::phrasing_hint(text, next, expected_kind(which)); !hint.empty()) {
    return message + "; " + hint;
  }
  if (auto const keywords = keywords_for(which); !keywords.empty() && next < text.size()) {
    std::size_t end = next;
    while (end < text.size() && errors::is_word_char(text[end])) ++end;
    std::string const suggestion = errors::closest_keyword(text.substr(next, end - next), keywords);
    if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
  }
  return message;
}

// Bytes that would move the terminal's cursor or start an escape sequence are shown as '?'.
// `line` as it is quoted under an error: control characters and every byte of an ill-formed
// UTF-8 sequence become '?', byte for byte, so that the terminal shows text and the caret's
// offsets still hold.
std::string printable(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  while (!line.empty()) {
    std::size_t const good = invalid_utf8(line).value_or(line.size());
    out.append(line.substr(0, good));
    if (good < line.size()) out += '?';
    line.remove_prefix(std::min(good + 1, line.size()));
  }
  for (char& c : out) {
    auto const u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

std::expected<ast::script, error> parse(std::string_view text, source_position origin) {
  if (text.size() > max_query_bytes) {
    return std::unexpected(error("query text too long (" + std::to_string(text.size()) + " bytes; the limit is " +
                                     std::to_string(max_query_bytes) + ")",
                                 position_at(text, 0, origin)));
  }

  parser::parse_state state;
  state.begin = text.begin();

  std::vector<ast::statement> statements;
  parser::iterator_type first = text.begin();
  auto const grammar = parser::x3::with<parser::parse_state_tag>(state)[parser::script];
  bool const ok = parser::x3::phrase_parse(first, text.end(), grammar, parser::skipper, statements);

  if (!ok || state.failed || first != text.end()) {
    std::size_t offset = state.failed ? state.error_offset : static_cast<std::size_t>(first - text.begin());
    std::string const message = state.failed && state.error_is_message
                                    ? state.error_which
                                    : expectation_message(text, offset, state.failed ? state.error_which
                                                                                     : std::string(names::terminator));
    return std::unexpected(error(message, position_at(text, offset, origin)));
  }
  return ast::script{std::move(statements)};
}

source_position position_at(std::string_view text, std::size_t offset, const source_position& origin) {
  offset = std::min(offset, text.size());
  std::string_view const before = text.substr(0, offset);
  auto const newlines = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), '\n'));
  std::uint32_t const origin_line = std::max<std::uint32_t>(origin.line, 1);
  std::uint32_t const origin_column = std::max<std::uint32_t>(origin.column, 1);

  source_position pos;
  pos.file = origin.file;
  pos.line = origin_line + newlines;
  std::size_t const line_start = before.rfind('\n');
  pos.column = line_start == std::string_view::npos ? static_cast<std::uint32_t>(origin_column + offset)
                                                    : static_cast<std::uint32_t>(offset - line_start);
  return pos;
}

std::string render_error(const error& e, std::string_view text, const source_position& origin) {
  if (!e.where) return "error: " + e.message + "\n";
  source_position const& where = *e.where;

  std::string out = where.file.empty()
                        ? "error: line " + std::to_string(where.line) + ", column " + std::to_string(where.column) +
                              ": " + e.message + "\n"
                        : where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                              ": error: " + e.message + "\n";

  std::uint32_t const origin_line = std::max<std::uint32_t>(origin.line, 1);
  std::uint32_t const origin_column = std::max<std::uint32_t>(origin.column, 1);
  if (where.line < origin_line) return out;

  // Find the line the position is on, within `text`.
  std::size_t line_start = 0;
  for (std::uint32_t l = origin_line; l < where.line; ++l) {
    std::size_t const nl = text.find('\n', line_start);
    if (nl == std::string_view::npos) return out;
    line_start = nl + 1;
  }
  std::size_t line_end = text.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = text.size();
  std::string_view line = text.substr(line_start, line_end - line_start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  std::uint32_t const first_column = where.line == origin_line ? origin_column : 1;
  if (where.column < first_column) return out;
  std::size_t const caret = where.column - first_column;  // bytes before the caret on this line

  // The caret lines up under the byte it points at: tabs are copied, a multi-byte UTF-8
  // character takes one column.
  std::string const shown = printable(line);
  line = shown;
  std::string padding;
  for (std::size_t i = 0; i < caret; ++i) {
    if (i >= line.size()) {
      padding += ' ';
      continue;
    }
    auto const u = static_cast<unsigned char>(line[i]);
    if (line[i] == '\t') {
      padding += '\t';
    } else if ((u & 0xC0) != 0x80) {
      padding += ' ';
    }
  }
  out += "  " + shown + "\n  " + padding + "^\n";
  return out;
}

}  // namespace pmdb::query
