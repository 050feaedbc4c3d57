#pragma once
// Import of incident timelines written as CSV (a spreadsheet's export), one event per row.
#include <expected>
#include <istream>
#include <string_view>
#include <vector>

#include "core/import.hpp"

namespace pmdb {

// Imports a CSV timeline (RFC 4180: comma-separated, fields in double quotes may hold commas,
// doubled quotes and line breaks; LF or CRLF line ends; an optional UTF-8 BOM). The file is
// read record by record (memory stays flat) and appended in batches inside one transaction.
//
// The header names the columns, matched ignoring case, surrounding spaces, and ' '/'-' vs '_':
//   - the envelope: incident (incident_id), at (time, timestamp, date, datetime, when), type
//     (event_type; `kind` when no column gives the type), source; optional id, recorded_at,
//     approx (true/false/yes/no/1/0/~, empty: false);
//   - any payload field of any type (text, status, channel, author, name (metric), value, unit,
//     component, state, count, kind, owner, tracker, title, org, services, severity, summary,
//     url, shortlink, lang, tags, target, reason); message, description and body mean text.
//   - opts.map (header → field, any case) overrides all of these; an empty field (or "-")
//     ignores the column. Any other column is an error.
// incident, at, type and source columns are required. An empty cell is an absent field. A
// cell's value takes its field's JSON type from the type's schema: numbers for value and count,
// `;`-separated lists for services and tags; a value of an enumerated field (status, state,
// channel, kind) is lowercased with ' ' → '_' when that makes it valid. A row's non-empty cell
// for a field its type does not have is an error. Incident rows without services get [].
//
// Times: ISO 8601 with Z or an offset, or a local `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` in the zone
// opts.tz (IANA name; DST-aware). A local time that occurs twice (the hour repeated when the
// clocks go back) is the earlier instant; one that does not exist (skipped when they go
// forward) is an error. Without opts.tz a local time is an error.
//
// Errors name the file, the line where the record starts, the record (row 1 is the header;
// blank lines are not rows) and the column's header, e.g.
// `timeline.csv:7: row 6, column "at": not a timestamp (...): found "yesterday"` (where =
// {file, line}, the rest in the message). Every bad row is reported; nothing is written.
std::expected<import_file_result, std::vector<error>> import_csv(event_store& store, std::istream& in,
                                                                 std::string_view name,
                                                                 const import_options& opts = {});

}  // namespace pmdb
