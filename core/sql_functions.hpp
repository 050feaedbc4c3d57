#pragma once
// pmdb's own SQL functions, registered on every store connection (event_store::open). The PMQL
// compiler emits SQL calling them, so their names, arguments and results are a contract:
//
// Times are INTEGER milliseconds since the Unix epoch (UTC); `zone` is '' or 'UTC' for UTC,
// otherwise an IANA name ('America/Los_Angeles'). A NULL argument gives NULL, and so does a
// time outside the years 0000 to 9999 (SQLite's strftime's range). An unknown zone, part or
// unit is an error naming it. Zone rules come from the system's tz database through Howard
// Hinnant's date library, which does not read the files' rule for future years: past their last
// transition (2037 in Debian's tzdata) a zone keeps its last offset, without DST.
//
//   pmdb_cal(ms, part, zone)            the local calendar value of the instant:
//       INTEGER parts: weekday (1 = Monday ... 7 = Sunday), hour_of_day (0-23), day_of_month,
//       week_of_year (ISO 8601), month_of_year, quarter_of_year, year_number (calendar year);
//       TEXT buckets that sort in time order: year '2024', quarter '2024-Q4', month '2024-12',
//       week '2024-W50' (ISO week-year and week), day '2024-12-11', hour '2024-12-11 23:00'.
//   pmdb_bucket_start(ms, unit, zone)   the first instant of the local bucket containing ms
//   pmdb_bucket_next(ms, unit, zone)    the first instant of the bucket after it
//       unit: year, quarter, month, week (ISO: from Monday), day, hour. A local start that does
//       not exist (a DST gap) is the first instant after it that does; an ambiguous one is the
//       earlier instant, except that the next bucket always starts after ms. A bucket is
//       [start, next): 23 or 25 hours on DST days.
//   pmdb_buckets(start_ms, end_ms, unit, zone)  TEXT, a JSON array of the starts of every bucket
//       that [start, end) touches (the one containing start when end <= start); more than
//       100000 buckets is an error.
//   pmdb_regexp(pattern, subject)       1 if the PCRE2 pattern matches somewhere in subject
//       (UTF-8, Unicode classes, case-sensitive unless (?i)); invalid UTF-8 in subject never
//       matches a character; an error when the backtracking limit is reached.
//   pmdb_has_word(subject, phrase)      1 if the phrase occurs in subject, case-insensitive
//       (Unicode), with no letter, digit or '_' right before or after it; the phrase is literal.
//   Aggregates:
//   pmdb_union_length(start_ms, end_ms) the length of the union of the rows' [start, end)
//       (rows with a NULL bound or end < start ignored; NULL when no row is left)
//   pmdb_first_by(value, key), pmdb_last_by(value, key)  the value (with its type) of the row
//       with the least / greatest INTEGER key, the first such row on ties; NULL keys ignored.
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "core/error.hpp"

namespace pmdb::sqlfn {

// Registers every function above on the connection.
std::expected<void, error> register_functions(sqlite3* db);

// True for '', "UTC" and every IANA zone name the system's tz database knows.
bool known_zone(std::string_view name);

// Every IANA zone name (links included), sorted: for "did you mean".
std::vector<std::string> zone_names();

// nullopt when the pattern compiles as pmdb_regexp compiles it; otherwise PCRE2's message with
// the offset: "at offset 3: missing closing parenthesis".
std::optional<std::string> regex_error(std::string_view pattern);

}  // namespace pmdb::sqlfn
