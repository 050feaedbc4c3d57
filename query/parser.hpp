#pragma once
// PMQL text → AST. No Spirit X3 type appears in this header.
#include <expected>
#include <string_view>

#include "core/error.hpp"
#include "query/ast.hpp"

namespace pmdb::query {

// Limits that turn pathological input into an error instead of a crash.
inline constexpr std::size_t max_query_bytes = 1 << 20;  // 1 MiB of text
inline constexpr int max_nesting_depth = 64;               // parentheses, nested expressions, `after` chains

// Parses zero or more `;`-terminated statements (the last `;` may be omitted). `--` starts a
// comment to the end of the line. Keywords are case-insensitive.
//
// `origin` is the position of text[0] in its file (line 1, column 1 for a whole file or a
// typed statement); the error's `where` is absolute in that file, so a shell that parses one
// statement of a script at a time still reports FILE:LINE:COLUMN correctly. AST offsets stay
// relative to `text`.
//
// On failure the error message says what was expected in words, e.g.
// "expected a pattern (report, status NAME, N% METRIC, ...) after 'to'".
std::expected<ast::script, error> parse(std::string_view text, source_position origin = {"", 1, 1});

// The position (in the sense of `parse`'s `origin`) of byte `offset` of `text`.
source_position position_at(std::string_view text, std::size_t offset, const source_position& origin);

// Renders an error the way the shell prints it interactively:
//   error: line 1, column 24: expected a pattern (...) after 'to'
//     time from first report to 9 fixed in meta-2024-12-11
//                               ^
// `text` is the text the position refers to (line numbers relative to `origin`).
std::string render_error(const error& e, std::string_view text, const source_position& origin = {"", 1, 1});

}  // namespace pmdb::query
