#pragma once
// AST → SQL text (SQLite's, or PostgreSQL's: context::dialect) plus bound parameters. The
// compiler never opens a database: what it needs to know of the store comes in a `catalog`.
#include <algorithm>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string_view>
#include <variant>
#include <optional>
#include <string>
#include <vector>

#include "core/dialect.hpp"
#include "core/error.hpp"
#include "core/value.hpp"
#include "query/ast.hpp"

namespace pmdb::query {

// What the compiler knows of the store: which incidents it holds (for "unknown incident"
// errors and "did you mean" suggestions). Membership is asked for every incident a statement
// names, so it should be an indexed lookup; the full list only after a miss.
struct catalog {
  std::function<bool(std::string_view id)> has_incident;
  std::function<std::vector<std::string>()> incident_ids;
  // Whether the incident had a believed event at `as_of` (ms); when empty, has_incident.
  std::function<bool(std::string_view id, std::int64_t as_of)> had_incident;
  // Whether an event with this id is stored; when empty, every id is taken as stored.
  std::function<bool(std::string_view id)> has_event;

  // A catalog over a fixed list of ids.
  static catalog of(std::vector<std::string> ids) {
    auto shared = std::make_shared<const std::vector<std::string>>(std::move(ids));
    return {[shared](std::string_view id) { return std::ranges::find(*shared, id) != shared->end(); },
            [shared] { return *shared; }, {}, {}};
  }
};

// Session state a statement is compiled in.
struct context {
  std::optional<std::string> current_incident;  // set by `use`
  std::optional<std::int64_t> as_of;            // `.asof T`: the default view (ms); a statement's own `as of` wins
  std::string zone;                             // `.tz`: the default zone of calendar functions; empty = UTC
  // What `now` is for an incident still open (`per month`, `count of overlapping`): the view's
  // time when there is one, else this (ms), else the clock.
  std::optional<std::int64_t> now;
  // The SQL the statement is written in: the store's (event_store::dialect()).
  sql_dialect dialect = sql_dialect::sqlite;
};

// A read-only SELECT with one `?` per parameter, and the declared type of each column.
// Every literal of the query is a parameter; no literal text is spliced into `sql`.
// Timestamps and durations are bound, and come back, as integer milliseconds.
// A text comparison (`org = "GitHub"`) that the shell checks after the query: `sql` returns
// how the store spells the value when no row has it as written but one has it in another case.
struct case_hint {
  std::string sql;
  std::vector<value> params;
  std::string field;    // as written
  std::string written;  // the value as written
};

struct compiled_query {
  std::string sql;
  std::vector<value> params;
  std::vector<column> columns;
  // Per column: whether it is a boolean (its cells are the integers 0 and 1); empty when none is.
  std::vector<bool> booleans;
  std::vector<case_hint> case_hints;
};

// What the shell must do for one statement.
struct set_incident { std::string incident; };   // `use`
struct run_query { compiled_query query; };        // time, pipelines, show
struct make_report {                               // `report`
  std::string incident;
  std::optional<std::string> path;
  std::optional<std::int64_t> as_of;               // the statement's `as of`, else the context's
  std::optional<std::string> format;               // `markdown` or `html` (lower case); nullopt: not said
};
using action = std::variant<set_incident, run_query, make_report>;

// Every read of events and incidents goes through the projection (core/projection.hpp): the
// present belief, or with `as of T` (the statement's, else context::as_of) what had been
// recorded by T. `log` reads the stored events as appended.
//
// Compiles one statement. `text` is the statement's source (the text given to parse) and
// `origin` its position, so that errors carry an absolute line and column. Fails on unknown
// incidents and fields (suggesting the nearest name), type errors (a duration compared with
// a text), misplaced constructs (`let` after `events`), and limits.
std::expected<action, error> compile(const ast::statement& stmt, const catalog& cat, const context& ctx,
                                     std::string_view text, const source_position& origin = {"", 1, 1});

}  // namespace pmdb::query
