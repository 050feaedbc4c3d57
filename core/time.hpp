#pragma once
// Timestamps and durations as text: parsing ISO 8601, formatting for people and for JSON.
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "core/value.hpp"

namespace pmdb {

// Parses an ISO 8601 timestamp with an explicit zone: `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM)`
// (a space may stand for `T`; `±HHMM` is accepted). Fractions beyond milliseconds are
// truncated. When `allow_date_only` is true, `YYYY-MM-DD` alone means midnight UTC, and a
// missing zone means UTC. Returns a message naming the expected form on failure.
std::expected<timestamp, std::string> parse_timestamp(std::string_view text, bool allow_date_only = false);

// Days since 1970-01-01 of a proleptic Gregorian date (no validation).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

// `2024-12-11T23:17:00Z`, with `.123` before the Z when the milliseconds are not zero.
// This is the canonical form used by export and JSON output.
std::string format_iso(timestamp t);

// `2024-12-11 23:17Z` (seconds shown only when not zero): the form used in tables.
std::string format_short(timestamp t);

// `4h50m`, `1d2h3m`, `45s`, `0s`, `-40m`, `1.5s` (milliseconds only when not zero).
std::string format_duration(duration d);

// Parses the duration literals PMQL accepts: one or more `<integer><unit>` with unit in
// d, h, m, s, ms (`90m`, `4h36m`, `2d`, `1d2h3m`).
std::expected<duration, std::string> parse_duration(std::string_view text);

}  // namespace pmdb
