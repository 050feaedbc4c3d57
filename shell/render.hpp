#pragma once
// Result rendering: a pure function of (result set, output spec) to text. Nothing here touches
// a terminal, a file or a store; the shell decides where the text goes and prints row counts.
//
// Modes, in brief (each rule is pinned by tests/golden/render/):
//   table, box  aligned grid (ASCII `+-|` or Unicode box drawing); numbers and durations
//               right-aligned, text left. Cells are cut with `…` only to a `.width` limit, or
//               to fit `terminal_width` (the widest text columns shrink first); a row never wraps.
//   line        `name = value`, names right-aligned, a blank line between rows.
//   markdown    a GFM pipe table (always with a header row, GFM needs one).
//   csv         RFC 4180 quoting, records end with `\n` (not `\r\n`).
//   tsv         tab-separated, `\t` `\n` `\r` `\\` escaped inside cells.
//   json        `[` newline, one compact object per line, `]`.
//   jsonl       one compact object per line.
//
// Cell values by mode. The machine modes (csv, tsv, json, jsonl) share one convention, so a
// program reads them without knowing pmdb (docs/pmql.md, "Machine-readable output"):
//                 table/box/line/markdown      csv/tsv                json/jsonl
//   null          null_text (default empty)    empty field            null
//   integer       decimal                      decimal                number
//   boolean       0 / 1                        true / false           true / false
//   real          shortest round-trip (`99`,   same                   number; NaN/±inf → null
//                 `99.5`, `1e+20`)
//   text          terminal modes: escape_terminal; markdown: escape_markdown; others: exact
//   timestamp     format_time (format_short)   format_machine_time (ISO 8601, `Z` or the
//                                              `.tz` offset; default format_iso)
//   duration      format_duration (`4h50m`)    seconds as a number (`17400`, `1.5`)
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.hpp"

namespace pmdb::shell {

enum class output_mode { table, box, markdown, csv, tsv, json, jsonl, line };

// The canonical mode names, in enum order: what `.mode` lists in help and completion.
std::span<const std::string_view> mode_names();

// The canonical name of a mode (`table`, `box`, …).
std::string_view mode_name(output_mode mode);

// A mode from its name, case-insensitively; also accepts the aliases `md` (markdown) and
// `tabs` (tsv, as sqlite3 calls it). Returns nullopt for anything else.
std::optional<output_mode> parse_mode(std::string_view name);

struct render_options {
  output_mode mode = output_mode::table;
  // Header row in table, box, csv and tsv. markdown always has one (GFM requires it); line
  // mode always names each value; json keys are always the column names.
  bool headers = true;
  // table/box only: per-column maximum display width (`.width`); 0, a negative number or a
  // missing entry means no limit of its own. Cells wider than their column are cut and end in `…`.
  std::vector<int> widths;
  // table/box only: the display width a whole line must fit in (the terminal's); 0 means no
  // limit. Columns shrink, the widest text columns first, so that no row is wider.
  int terminal_width = 0;
  // Per column: whether its integer cells are booleans (0/1), written `true`/`false` in the
  // machine modes. A missing entry means not.
  std::vector<bool> booleans;
  // table/box/line only: ANSI SGR colours (bold headers and names, cyan durations, dim
  // null_text). Never emitted unless set; machine formats never carry colour.
  bool color = false;
  // How null shows in table, box, line and markdown (sqlite3's `.nullvalue`).
  std::string null_text;
  // How timestamps show in table, box, line and markdown (`.tz`); empty means format_short
  // (UTC).
  std::function<std::string(timestamp)> format_time;
  // How timestamps show in csv, tsv, json and jsonl: ISO 8601 that datetime.fromisoformat and
  // pandas read; empty means format_iso (UTC, `Z`).
  std::function<std::string(timestamp)> format_machine_time;
};

// Renders `rs` in `options.mode`. Every non-empty output ends with a newline. Zero columns
// render as `(no columns)` in table, box, line and markdown, as `{}` objects in json/jsonl and
// as nothing in csv/tsv; zero rows render the header alone (table, box, markdown, csv, tsv;
// nothing when headers are off), `[]` (json) or nothing (jsonl, line). Cells are read by their own type; the declared column
// type only decides alignment. Duplicate column names become `name_2`, `name_3`, … as json keys.
std::string render(const result_set& rs, const render_options& options);

// Makes untrusted text safe to print on a terminal, so it cannot move the cursor, change
// colours or reorder the line: C0 controls and DEL become `\t`, `\n`, `\r` or `\xNN`; C1
// controls (U+0080–U+009F) and bidirectional overrides (U+202A–U+202E, U+2066–U+2069) become
// `\uNNNN`; bytes that are not valid UTF-8 become `\xNN`. With `keep_newlines`, `\n` passes
// through unchanged. Backslashes are not doubled: the result is for reading, not parsing.
std::string escape_terminal(std::string_view text, bool keep_newlines = false);

// Untrusted text as inline Markdown that renders as the text itself, in a GFM table cell, a
// list item or a paragraph: inline syntax and a leading block marker are backslash-escaped,
// `<`, `>` and `&` become entities (no HTML gets through), line breaks become `<br>`, other
// control characters spaces. `_` between ASCII letters or digits is kept (`api_gateway` stays
// readable); elsewhere it is escaped.
std::string escape_markdown(std::string_view text);

// Width of text on a terminal: code points, with East Asian wide and fullwidth characters
// (and most emoji) counting 2 and combining marks 0. Invalid bytes count 1 each.
std::size_t display_width(std::string_view text);

}  // namespace pmdb::shell
