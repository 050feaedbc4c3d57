#pragma once
// The top rule of PMQL's write statements (`new incident`, `record`, `correct`, `retract`),
// declared for the read grammar's `statement` alternative. The rules are defined in
// write_parser_def.hpp and instantiated in write_parser.cpp, their own heavy translation unit,
// for exactly config.hpp's iterator_type and context_type (the context every rule below the
// top `script` rule is called with).
//
// Included by parser_def.hpp and write_parser_def.hpp only.
#include "query/ast.hpp"
#include "query/grammar_common.hpp"

namespace pmdb::query::parser {

namespace names {
inline constexpr char const record_type[] =
    "an event type (status, alert, report, metric, comm, component, change, cause, action, note, incident)";
inline constexpr char const incident_keyword[] = "'incident'";
inline constexpr char const write_value[] = "a value (a string, a word, a number, N%, a date or a list)";
inline constexpr char const time[] = "a time (now, now - 5m, HH:MM, or a timestamp; ~ before it for an estimate)";
inline constexpr char const record_item[] =
    "a value, a field (NAME VALUE), at TIME, source \"...\", id \"...\", in INCIDENT or ';'";
inline constexpr char const write_end[] = "source \"...\", id \"...\" or ';'";
inline constexpr char const event_ref[] = "an event id (or last)";
inline constexpr char const correct_change[] = "at TIME or set FIELD = VALUE";
inline constexpr char const because[] = "'because' and the reason in quotes";
inline constexpr char const assignment[] = "FIELD = VALUE";
}  // namespace names

struct write_stmt_class : annotate_span {};
using write_stmt_type = x3::rule<write_stmt_class, ast::write_stmt>;
BOOST_SPIRIT_DECLARE(write_stmt_type)

write_stmt_type const write_stmt = "a write statement";

}  // namespace pmdb::query::parser
