#pragma once
// The types the PMQL grammar is instantiated with. parser_def.hpp defines the rules against
// them and parser.cpp instantiates the top rule for exactly this iterator and context: the
// context built at the call site in parser.cpp must match `context_type` type for type.
//
// Only parser_def.hpp, error_handler.hpp and parser.cpp include this header.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/spirit/home/x3.hpp>

namespace pmdb::query::parser {

namespace x3 = boost::spirit::x3;

using iterator_type = std::string_view::const_iterator;

// Whitespace and `--` comments to the end of the line separate tokens.
inline auto const skipper = x3::space | (x3::lit("--") >> *(x3::char_ - x3::eol));
using skipper_type = std::remove_cv_t<decltype(skipper)>;

// Mutable state shared by the whole parse of one text, reached from any parser through the
// context under `parse_state_tag`:
//   - `begin` turns iterators into the byte offsets stored in every AST node;
//   - `depth` counts the nesting constructs currently open (parentheses, calls, `in` lists,
//     unary `-` and `not`, `after` chains), so that pathological input fails cleanly long
//     before the recursion could exhaust the stack;
//   - `operators` counts the operator nodes of the current statement, which bounds the height
//     of left-deep chains such as `a + a + a + ...` (their destruction and compilation recurse);
//   - the error fields are filled by the top rule's on_error handler.
struct parse_state {
  iterator_type begin{};
  int depth = 0;
  int operators = 0;

  bool failed = false;
  std::size_t error_offset = 0;
  std::string error_which;     // the expected thing in words, or the whole message when `error_is_message`
  bool error_is_message = false;
};

struct parse_state_tag;

using phrase_context_type = x3::phrase_parse_context<skipper_type>::type;
using context_type = x3::context<parse_state_tag, parse_state, phrase_context_type>;

}  // namespace pmdb::query::parser
