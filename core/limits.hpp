#pragma once
// The limits pmdb puts on what it reads, in one place. Every one is enforced where the input is
// read, before anything is written, with an error that names the limit, the file and where in it
// (docs/limits.md lists them for users). They bound memory and stack whatever the input.
#include <cstddef>

namespace pmdb::limits {

// Nesting of arrays and objects in any JSON input (a JSONL line, an event's data, a Statuspage
// document). Real status pages nest 5 levels; event data a few more.
inline constexpr std::size_t json_depth = 64;

// Bytes in one string value: an event's text, a CSV cell, a Statuspage update body.
inline constexpr std::size_t field_bytes = std::size_t{1} << 20;  // 1 MiB

// Bytes in one event as stored (its JSON, data included), and in one input line (a JSONL line,
// a CSV record).
inline constexpr std::size_t event_bytes = std::size_t{4} << 20;  // 4 MiB
inline constexpr std::size_t line_bytes = std::size_t{4} << 20;   // 4 MiB

// One Statuspage document (it is parsed whole): its bytes, and its incident updates.
inline constexpr std::size_t statuspage_bytes = std::size_t{256} << 20;  // 256 MiB
inline constexpr std::size_t statuspage_updates = 200'000;

}  // namespace pmdb::limits
