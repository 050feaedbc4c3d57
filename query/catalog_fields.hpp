#pragma once
// The fields PMQL names, per source, and the store column each one reads. The compiler puts
// only these column names into SQL: a name written in a query is looked up here (or among the
// query's own `let`/`select` names, which become generated column names), never spliced.
#include <algorithm>
#include <array>
#include <iterator>
#include <span>
#include <string_view>

#include "core/value.hpp"

namespace pmdb::query::fields {

// The type a field has inside the compiler. `boolean` is stored as 0/1 and returned as an
// integer column.
enum class field_type { integer, real, text, timestamp, duration, boolean };

struct field {
  std::string_view name;    // as written in PMQL
  std::string_view column;  // the store's column (same as `name` for every field today)
  field_type type;
  bool enumerated;          // compared with a bare word (`type = comm`), the word is a text literal
  bool lower_words;         // ...and that word is lowercased (the store keeps these lowercase)
  bool shown;               // part of the default output of the source
};

// `events`: one row per believed event, in occurred order (at, seq); `corrected` is true when a
// correction set its `at` or payload.
inline constexpr field event_fields[] = {
    {"incident", "incident", field_type::text, false, false, true},
    {"seq", "seq", field_type::integer, false, false, true},
    {"id", "id", field_type::text, false, false, false},
    {"version", "version", field_type::integer, false, false, false},
    {"type", "type", field_type::text, true, true, true},
    {"at", "at", field_type::timestamp, false, false, true},
    {"recorded_at", "recorded_at", field_type::timestamp, false, false, false},
    {"source", "source", field_type::text, true, false, true},
    {"approx", "approx", field_type::boolean, false, false, false},
    {"text", "text", field_type::text, false, false, true},
    {"status", "status", field_type::text, true, true, false},
    {"channel", "channel", field_type::text, true, true, false},
    {"author", "author", field_type::text, false, false, false},
    {"metric", "metric", field_type::text, true, false, false},
    {"value", "value", field_type::real, false, false, false},
    {"unit", "unit", field_type::text, true, false, false},
    {"component", "component", field_type::text, true, false, false},
    {"state", "state", field_type::text, true, true, false},
    {"kind", "kind", field_type::text, true, true, false},
    {"target", "target", field_type::text, false, false, false},
    // Last: the log (`log`) has every field but this one.
    {"corrected", "corrected", field_type::boolean, false, false, false},
};

// `log`: the stored events as appended, with the fields of `events` but `corrected`, and what
// the store keeps of each append: when, and by whom (null for the events of a store upgraded
// from schema 1 or 2).
inline constexpr field append_fields[] = {
    {"appended_at", "appended_at", field_type::timestamp, false, false, false},
    {"recorded_by", "recorded_by", field_type::text, true, false, false},
};
inline constexpr auto log_field_array = [] {
  std::array<field, std::size(event_fields) - 1 + std::size(append_fields)> out{};
  auto it = std::copy(std::begin(event_fields), std::end(event_fields) - 1, out.begin());
  std::copy(std::begin(append_fields), std::end(append_fields), it);
  return out;
}();
inline constexpr std::span<const field> log_fields{log_field_array};

// `timeline X`: X's events in occurred order, with `elapsed` = at − the incident's first `at`.
// Shown by default: at, elapsed, type, source, text, approx.
inline constexpr field timeline_fields[] = {
    {"at", "at", field_type::timestamp, false, false, true},
    {"elapsed", "elapsed", field_type::duration, false, false, true},
    {"type", "type", field_type::text, true, true, true},
    {"source", "source", field_type::text, true, false, true},
    {"text", "text", field_type::text, false, false, true},
    {"approx", "approx", field_type::boolean, false, false, true},
    {"incident", "incident", field_type::text, false, false, false},
    {"seq", "seq", field_type::integer, false, false, false},
    {"id", "id", field_type::text, false, false, false},
    {"version", "version", field_type::integer, false, false, false},
    {"recorded_at", "recorded_at", field_type::timestamp, false, false, false},
    {"status", "status", field_type::text, true, true, false},
    {"channel", "channel", field_type::text, true, true, false},
    {"author", "author", field_type::text, false, false, false},
    {"metric", "metric", field_type::text, true, false, false},
    {"value", "value", field_type::real, false, false, false},
    {"unit", "unit", field_type::text, true, false, false},
    {"component", "component", field_type::text, true, false, false},
    {"state", "state", field_type::text, true, true, false},
    {"kind", "kind", field_type::text, true, true, false},
    {"target", "target", field_type::text, false, false, false},
    {"corrected", "corrected", field_type::boolean, false, false, false},
};

// `incidents`: one row per incident (the read model), ordered by started, id.
inline constexpr field incident_fields[] = {
    {"id", "id", field_type::text, false, false, true},
    {"title", "title", field_type::text, false, false, true},
    {"org", "org", field_type::text, true, false, true},
    {"services", "services", field_type::text, false, false, false},
    {"severity", "severity", field_type::text, true, false, true},
    {"status", "status", field_type::text, true, true, true},
    {"started", "started", field_type::timestamp, false, false, true},
    {"ended", "ended", field_type::timestamp, false, false, true},
    {"events", "events", field_type::integer, false, false, true},
    {"summary", "summary", field_type::text, false, false, false},
    {"version", "version", field_type::integer, false, false, false},
};

}  // namespace pmdb::query::fields
