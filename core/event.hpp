#pragma once
// The event model: one immutable fact about an incident, and its JSON Lines form.
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace pmdb {

// The event types, in the order `show types` lists them.
inline constexpr std::string_view event_types[] = {
    "incident", "status", "report", "alert", "change", "metric", "comm",
    "component", "cause", "action", "note", "correction", "retraction"};

bool is_event_type(std::string_view type);

// An event as written by a producer, validated. `data` is the payload as minified JSON in the
// writer's key order; the typed fields below are extracted from it.
struct event {
  std::string id;                         // empty until assigned (given or derived)
  std::string incident;
  std::string type;
  std::int64_t at = 0;                    // ms since the epoch, UTC
  std::optional<std::int64_t> recorded_at;// absent: the moment of append
  std::string source;
  bool approx = false;
  std::string data;                       // minified JSON object

  // Extracted from data at validation (empty / nullopt when the type has no such field).
  std::optional<std::string> text, status, channel, author, metric, unit, component, state, kind, target;
  std::optional<double> value;

  // The canonical identity of the fact (everything but id and recorded_at): two events with
  // the same id are the same event only if their content_key()s are equal.
  std::string content_key() const;
  // A stable id derived from content_key(): "e" followed by 32 hex digits.
  std::string derived_id() const;
};

// An event of the log with its positions: in the store (seq) and in its incident's stream.
struct stored_event {
  std::int64_t seq = 0;
  std::int64_t version = 0;
  std::int64_t recorded_at = 0;
  event ev;
};

// Parses and validates one JSON Lines record (envelope and the type's JSON Schema). On
// failure returns a message naming the field, the expected form and the value found, e.g.
// `at: not a timestamp (expected ISO 8601 with Z or an offset, e.g. 2024-12-11T23:17:00Z): "yesterday"`.
// The returned event has its id set (given, or derived).
std::expected<event, std::string> parse_event(std::string_view json_line);

// Validates an event built in code (the importers build events directly): the same checks as
// parse_event, applied to the fields and to `data`. Sets the extracted fields and the id.
std::expected<event, std::string> validate_event(event e);

// The JSON Lines form of a stored event: {"id","incident","type","at","recorded_at","source",
// ["approx":true,] "data"} with times in format_iso. Parsing it back yields the same event.
std::string to_jsonl(const event& e, std::int64_t recorded_at);

}  // namespace pmdb
