#pragma once
// Binding PMQL's write statements (ast::write_stmt: `new incident`, `record`, `correct`,
// `retract`) to the events they append. Binding maps positional values to the type's fields,
// builds the JSON payload (in the order of the type's JSON Schema), resolves times and sources,
// and then validates with pmdb::validate_event: exactly what an import does, so a recorded event
// and an imported one are indistinguishable. Errors point at the offending token (`where`, like
// the compiler's), and nothing is read from or written to a store here: what binding needs of
// the store (a correction's target and its believed payload) is passed in; the shell appends.
//
// Positional values, by type (a STRING is quoted, a WORD bare; any order, with named fields
// `NAME VALUE` and the options `at`, `source`, `id`, `in` in between):
//   status NAME [TEXT]          alert [TEXT]               report [COUNT] [TEXT]
//   metric NAME VALUE[%] [TEXT] (`99%`: value 99, unit "%")
//   comm [CHANNEL] TEXT         (also `on CHANNEL`, `by AUTHOR`)
//   component "NAME" STATE [TEXT]                          change TEXT
//   cause KIND TEXT             action TEXT                note TEXT
//   incident                    (named fields only: title, org, services, ...)
// A positional value goes to the first of its type's slots that is still free and takes its
// kind of value.
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/event.hpp"
#include "query/ast.hpp"

namespace pmdb::query {

// The session state a write statement is bound in.
struct write_context {
  std::optional<std::string> current_incident;  // set by `use`
  std::int64_t now_ms = 0;                      // what `now` is (ms since the epoch)
  std::string tz;                               // the zone of a time of day (`10:02`); empty: UTC
  std::string source;                           // the source when the statement names none
};

// The time `t` names, in ms since the epoch: `now [± D]`; a timestamp; a time of day, today
// (the day `now` falls on in ctx.tz) in ctx.tz (DST-aware: a time the clocks skip is an error,
// a time they repeat is its first occurrence).
std::expected<std::int64_t, error> resolve_time(const ast::time_spec& t, const write_context& ctx,
                                                std::string_view text, const source_position& origin);

// The incident a `record` goes to: its `in INCIDENT`, else the current incident; for `new
// incident ID`, ID. Without either, an error that says how to choose one. `where` is set to the
// node naming it (the `in` item or the id), for the caller's "unknown incident" error.
struct incident_choice {
  std::string id;
  const ast::tagged* where = nullptr;  // nullptr: the current incident
};
std::expected<incident_choice, error> incident_of(const ast::write_stmt& s, const write_context& ctx,
                                                  std::string_view text, const source_position& origin);

// `record` and `new incident`: the event to append to `incident`, validated (id set: given, or
// derived). `at` defaults to now, `source` to ctx.source; recorded_at is left to the store.
std::expected<event, error> bind_record(const ast::write_stmt& s, const std::string& incident,
                                        const write_context& ctx, std::string_view text,
                                        const source_position& origin);

// What a correction or retraction needs of its target, read from the store by the caller.
struct target_event {
  std::string id;
  std::string incident;
  std::string type;
  std::string data;  // the payload believed now (JSON); needed by `correct ... set`
};

// `correct` and `retract`: the correction or retraction of `target`, in its incident, at now,
// validated. `correct ... set F = V` replaces fields of the believed payload and puts the whole
// new payload in data.data; `at T` puts T in data.at (a `~` is an error: a correction cannot
// change approx).
std::expected<event, error> bind_change(const ast::write_stmt& s, const target_event& target,
                                        const write_context& ctx, std::string_view text,
                                        const source_position& origin);

// Whether the statement gives its event's id (`id "..."`).
bool has_explicit_id(const ast::write_stmt& s);

// The id the shell prints for an event: a derived id's first 12 characters (enough for
// `correct` and `retract`, which take a unique prefix), an explicitly given id whole.
std::string short_id(std::string_view id, bool explicit_id);

// An error about the source text of `node`.
error error_at(std::string message, const ast::tagged& node, std::string_view text, const source_position& origin);

}  // namespace pmdb::query
