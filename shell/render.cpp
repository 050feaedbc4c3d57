#include "shell/render.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <set>

#include <fmt/format.h>

#include "core/time.hpp"

namespace pmdb::shell {
namespace {

constexpr std::array<std::string_view, 8> names = {"table", "box", "markdown", "csv", "tsv", "json", "jsonl", "line"};

constexpr std::string_view sgr_bold = "\x1b[1m";
constexpr std::string_view sgr_dim = "\x1b[2m";
constexpr std::string_view sgr_cyan = "\x1b[36m";
constexpr std::string_view sgr_reset = "\x1b[0m";

// One decoded UTF-8 sequence; `len == 0` marks a byte that starts no valid sequence.
struct code_point {
  char32_t cp = 0;
  std::size_t len = 0;
};

// Decodes the sequence at `s[i]`, rejecting overlong forms, surrogates and values past U+10FFFF.
code_point decode(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (i + len > s.size()) return {};
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, len};
}

bool in(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

int char_width(char32_t c) {
  if (in(c, 0x0300, 0x036F) || in(c, 0x0483, 0x0489) || in(c, 0x0591, 0x05BD) || in(c, 0x0610, 0x061A) ||
      in(c, 0x064B, 0x065F) || in(c, 0x1AB0, 0x1AFF) || in(c, 0x1DC0, 0x1DFF) || in(c, 0x200B, 0x200F) ||
      in(c, 0x2060, 0x2064) || in(c, 0x20D0, 0x20FF) || in(c, 0x3099, 0x309A) || in(c, 0xFE00, 0xFE0F) ||
      in(c, 0xFE20, 0xFE2F) || in(c, 0xE0100, 0xE01EF))
    return 0;
  if (in(c, 0x1100, 0x115F) || in(c, 0x231A, 0x231B) || in(c, 0x2329, 0x232A) || in(c, 0x23E9, 0x23EC) ||
      c == 0x23F0 || c == 0x23F3 || in(c, 0x25FD, 0x25FE) || in(c, 0x2614, 0x2615) || in(c, 0x2648, 0x2653) ||
      c == 0x267F || c == 0x2693 || c == 0x26A1 || in(c, 0x26AA, 0x26AB) || in(c, 0x26BD, 0x26BE) ||
      in(c, 0x26C4, 0x26C5) || c == 0x26CE || c == 0x26D4 || c == 0x26EA || in(c, 0x26F2, 0x26F3) || c == 0x26F5 ||
      c == 0x26FA || c == 0x26FD || c == 0x2705 || in(c, 0x270A, 0x270B) || c == 0x2728 || c == 0x274C ||
      c == 0x274E || in(c, 0x2753, 0x2755) || c == 0x2757 || in(c, 0x2795, 0x2797) || c == 0x27B0 || c == 0x27BF ||
      in(c, 0x2B1B, 0x2B1C) || c == 0x2B50 || c == 0x2B55 || in(c, 0x2E80, 0x303E) || in(c, 0x3041, 0x33FF) ||
      in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) || in(c, 0xA000, 0xA4CF) || in(c, 0xA960, 0xA97F) ||
      in(c, 0xAC00, 0xD7A3) || in(c, 0xF900, 0xFAFF) || in(c, 0xFE10, 0xFE19) || in(c, 0xFE30, 0xFE6F) ||
      in(c, 0xFF00, 0xFF60) || in(c, 0xFFE0, 0xFFE6) || in(c, 0x1B000, 0x1B2FF) || c == 0x1F004 || c == 0x1F0CF ||
      c == 0x1F18E || in(c, 0x1F191, 0x1F19A) || in(c, 0x1F200, 0x1F251) || in(c, 0x1F300, 0x1F64F) ||
      in(c, 0x1F680, 0x1F6FF) || in(c, 0x1F900, 0x1F9FF) || in(c, 0x1FA70, 0x1FAFF) || in(c, 0x20000, 0x3FFFD))
    return 2;
  return 1;
}

// Cuts `text` to at most `limit` display columns, ending in `…` when anything was dropped.
std::string cut(std::string_view text, std::size_t limit) {
  if (display_width(text) <= limit) return std::string(text);
  std::string out;
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto d = decode(text, i);
    const std::size_t len = d.len ? d.len : 1;
    const std::size_t w = d.len ? static_cast<std::size_t>(char_width(d.cp)) : 1;
    if (width + w + 1 > limit) break;
    out.append(text.substr(i, len));
    width += w;
    i += len;
  }
  return out + "…";
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t k = 0; k < n; ++k) out += s;
  return out;
}

std::string format_real(double d) { return fmt::format("{}", d); }

// Exact seconds of a duration: `17400`, `1.5`, `-0.001`.
std::string duration_seconds(duration d) {
  const bool negative = d.ms < 0;
  const auto abs_ms = negative ? -static_cast<std::uint64_t>(d.ms) : static_cast<std::uint64_t>(d.ms);
  std::string out = fmt::format("{}{}", negative ? "-" : "", abs_ms / 1000);
  if (const auto frac = abs_ms % 1000) {
    std::string digits = fmt::format("{:03}", frac);
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

bool right_aligned(value_type t) {
  return t == value_type::integer || t == value_type::real || t == value_type::duration;
}

// ---- terminal modes: table, box, line --------------------------------------------------------

enum class cell_kind { plain, null, duration };

struct cell {
  std::string text;  // escaped, ready to print
  cell_kind kind = cell_kind::plain;
};

std::string human_time(timestamp t, const render_options& o) { return o.format_time ? o.format_time(t) : format_short(t); }

// A value as people read it; `text_escape` turns raw text into what the mode may print.
template <class Escape>
cell human_cell(const value& v, const render_options& o, Escape text_escape) {
  switch (type_of(v)) {
    case value_type::null: return {text_escape(o.null_text), cell_kind::null};
    case value_type::integer: return {fmt::format("{}", std::get<std::int64_t>(v)), cell_kind::plain};
    case value_type::real: return {format_real(std::get<double>(v)), cell_kind::plain};
    case value_type::text: return {text_escape(std::get<std::string>(v)), cell_kind::plain};
    case value_type::timestamp: return {text_escape(human_time(std::get<timestamp>(v), o)), cell_kind::plain};
    case value_type::duration: return {format_duration(std::get<duration>(v)), cell_kind::duration};
  }
  return {};
}

std::string paint(std::string text, cell_kind kind, bool header, const render_options& o) {
  if (!o.color || text.empty()) return text;
  if (header) return fmt::format("{}{}{}", sgr_bold, text, sgr_reset);
  if (kind == cell_kind::duration) return fmt::format("{}{}{}", sgr_cyan, text, sgr_reset);
  if (kind == cell_kind::null) return fmt::format("{}{}{}", sgr_dim, text, sgr_reset);
  return text;
}

std::string pad(const std::string& text, std::size_t text_width, std::size_t width, bool right) {
  const std::string fill(width > text_width ? width - text_width : 0, ' ');
  return right ? fill + text : text + fill;
}

struct border_style {
  std::string_view horizontal, vertical;
  std::array<std::string_view, 3> top, middle, bottom;  // left, junction, right
};

constexpr border_style ascii_borders{"-", "|", {"+", "+", "+"}, {"+", "+", "+"}, {"+", "+", "+"}};
constexpr border_style box_borders{"─", "│", {"┌", "┬", "┐"}, {"├", "┼", "┤"}, {"└", "┴", "┘"}};

// Shrinks `width` so that a grid line (`| a | b |`: 3 columns of border and padding per column,
// plus 1) fits in `limit` display columns; 0 means no limit. The widest column of a pass
// loses one column at a time: text columns first, down to 8; then any column down to 3; then
// down to 1, so that a row never wraps however narrow the terminal.
void fit(std::vector<std::size_t>& width, const std::vector<column>& columns, int limit) {
  if (limit <= 0) return;
  std::size_t total = 1;
  for (const auto w : width) total += w + 3;
  const auto target = static_cast<std::size_t>(limit);
  struct pass {
    bool text_only;
    std::size_t floor;
  };
  for (const pass p : {pass{true, 8}, pass{false, 3}, pass{false, 1}}) {
    while (total > target) {
      std::size_t widest = width.size();
      for (std::size_t c = 0; c < width.size(); ++c) {
        if (p.text_only && columns[c].type != value_type::text) continue;
        if (width[c] <= p.floor) continue;
        if (widest == width.size() || width[c] > width[widest]) widest = c;
      }
      if (widest == width.size()) break;
      // Down to the next narrower column's width at once (or the target), not one by one.
      std::size_t next = p.floor;
      for (std::size_t c = 0; c < width.size(); ++c)
        if (c != widest && width[c] < width[widest] && (!p.text_only || columns[c].type == value_type::text))
          next = std::max(next, width[c]);
      const std::size_t step = std::max<std::size_t>(1, std::min(width[widest] - next, total - target));
      width[widest] -= step;
      total -= step;
    }
  }
}

std::string render_grid(const result_set& rs, const render_options& o, const border_style& b) {
  const std::size_t ncols = rs.columns.size();
  if (ncols == 0) return "(no columns)\n";
  if (rs.rows.empty() && !o.headers) return "";

  const auto esc = [](std::string_view s) { return escape_terminal(s); };
  std::vector<std::string> header(ncols);
  std::vector<std::vector<cell>> body;
  body.reserve(rs.rows.size());
  for (std::size_t c = 0; c < ncols; ++c) header[c] = esc(rs.columns[c].name);
  for (const auto& row : rs.rows) {
    auto& out = body.emplace_back(ncols);
    for (std::size_t c = 0; c < ncols && c < row.size(); ++c) out[c] = human_cell(row[c], o, esc);
  }

  std::vector<std::size_t> width(ncols, 1);
  for (std::size_t c = 0; c < ncols; ++c) {
    std::size_t natural = o.headers ? display_width(header[c]) : 0;
    for (const auto& row : body) natural = std::max(natural, display_width(row[c].text));
    const int given = c < o.widths.size() ? o.widths[c] : 0;
    width[c] = std::max<std::size_t>(given > 0 ? std::min(natural, static_cast<std::size_t>(given)) : natural, 1);
  }
  fit(width, rs.columns, o.terminal_width);

  const auto rule = [&](const std::array<std::string_view, 3>& corners) {
    std::string line(corners[0]);
    for (std::size_t c = 0; c < ncols; ++c) {
      if (c) line += corners[1];
      line += repeat(b.horizontal, width[c] + 2);
    }
    return line + std::string(corners[2]) + "\n";
  };
  const auto line = [&](auto&& text_of) {
    std::string out(b.vertical);
    for (std::size_t c = 0; c < ncols; ++c) {
      const auto [text, kind, is_header] = text_of(c);
      const std::string shown = cut(text, width[c]);
      out += " ";
      out += pad(paint(shown, kind, is_header, o), display_width(shown), width[c], right_aligned(rs.columns[c].type));
      out += " ";
      out += b.vertical;
    }
    return out + "\n";
  };

  std::string out = rule(b.top);
  if (o.headers) {
    out += line([&](std::size_t c) { return std::tuple{header[c], cell_kind::plain, true}; });
    if (!body.empty()) out += rule(b.middle);
  }
  for (const auto& row : body)
    out += line([&](std::size_t c) { return std::tuple{row[c].text, row[c].kind, false}; });
  return out + rule(b.bottom);
}

std::string render_line(const result_set& rs, const render_options& o) {
  const std::size_t ncols = rs.columns.size();
  if (ncols == 0) return "(no columns)\n";
  std::vector<std::string> name(ncols);
  std::size_t name_width = 0;
  for (std::size_t c = 0; c < ncols; ++c) {
    name[c] = escape_terminal(rs.columns[c].name);
    name_width = std::max(name_width, display_width(name[c]));
  }
  const std::string continuation = "\n" + std::string(name_width + 3, ' ');
  const auto esc = [&](std::string_view s) {
    std::string text = escape_terminal(s, true);
    std::string out;
    for (const char ch : text) {
      if (ch == '\n')
        out += continuation;
      else
        out += ch;
    }
    return out;
  };
  std::string out;
  for (std::size_t r = 0; r < rs.rows.size(); ++r) {
    if (r) out += "\n";
    for (std::size_t c = 0; c < ncols; ++c) {
      const auto cv = c < rs.rows[r].size() ? human_cell(rs.rows[r][c], o, esc) : cell{};
      out += std::string(name_width - display_width(name[c]), ' ');
      out += paint(name[c], cell_kind::plain, true, o);
      out += " =";
      if (!cv.text.empty()) out += " " + paint(cv.text, cv.kind, false, o);
      out += "\n";
    }
  }
  return out;
}

// ---- markdown ----------------------------------------------------------------------------------

// An ASCII letter or digit. A `_` between two of them cannot open or close emphasis, so it is
// kept. Next to any other character it is escaped: next to non-ASCII punctuation (`“_em_”`,
// `«_em_»`, `（_em_）`) CommonMark would take it for emphasis, and telling punctuation from
// letters beyond ASCII takes Unicode's tables (an escaped `\_` renders as `_` all the same).
bool word_byte(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

std::string render_markdown(const result_set& rs, const render_options& o) {
  const std::size_t ncols = rs.columns.size();
  if (ncols == 0) return "(no columns)\n";
  const auto esc = [](std::string_view s) { return escape_markdown(s); };
  std::vector<std::string> header(ncols);
  std::vector<std::vector<std::string>> body;
  std::vector<std::size_t> width(ncols, 3);
  for (std::size_t c = 0; c < ncols; ++c) {
    header[c] = esc(rs.columns[c].name);
    width[c] = std::max(width[c], display_width(header[c]));
  }
  for (const auto& row : rs.rows) {
    auto& out = body.emplace_back(ncols);
    for (std::size_t c = 0; c < ncols && c < row.size(); ++c) {
      out[c] = human_cell(row[c], o, esc).text;
      width[c] = std::max(width[c], display_width(out[c]));
    }
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (std::size_t c = 0; c < ncols; ++c)
      out += " " + pad(cells[c], display_width(cells[c]), width[c], right_aligned(rs.columns[c].type)) + " |";
    return out + "\n";
  };
  std::string out = line(header);
  out += "|";
  for (std::size_t c = 0; c < ncols; ++c)
    out += right_aligned(rs.columns[c].type) ? std::string(width[c] + 1, '-') + ":|" : std::string(width[c] + 2, '-') + "|";
  out += "\n";
  for (const auto& row : body) out += line(row);
  return out;
}

// ---- csv, tsv ------------------------------------------------------------------------------

bool is_boolean(const render_options& o, std::size_t c) { return c < o.booleans.size() && o.booleans[c]; }

std::string machine_time(timestamp t, const render_options& o) {
  return o.format_machine_time ? o.format_machine_time(t) : format_iso(t);
}

// Machine text of a non-null value (csv, tsv): the convention of render.hpp.
std::string plain_text(const value& v, bool boolean, const render_options& o) {
  switch (type_of(v)) {
    case value_type::null: return "";
    case value_type::integer: {
      const auto n = std::get<std::int64_t>(v);
      if (boolean) return n ? "true" : "false";
      return fmt::format("{}", n);
    }
    case value_type::real: return format_real(std::get<double>(v));
    case value_type::text: return std::get<std::string>(v);
    case value_type::timestamp: return machine_time(std::get<timestamp>(v), o);
    case value_type::duration: return duration_seconds(std::get<duration>(v));
  }
  return "";
}

// RFC 4180 field. The empty string is quoted (`""`) so it stays distinct from null, which is
// an empty unquoted field (the PostgreSQL COPY convention).
std::string csv_field(std::string_view s) {
  const bool quote = s.empty() || s.find_first_of(",\"\r\n") != std::string_view::npos || s.front() == ' ' ||
                     s.back() == ' ' || s.front() == '\t' || s.back() == '\t';
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string tsv_field(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    switch (ch) {
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string render_separated(const result_set& rs, const render_options& o, bool csv) {
  const std::size_t ncols = rs.columns.size();
  if (ncols == 0) return "";
  const char sep = csv ? ',' : '\t';
  std::string out;
  if (o.headers) {
    for (std::size_t c = 0; c < ncols; ++c) {
      if (c) out += sep;
      out += csv ? csv_field(rs.columns[c].name) : tsv_field(rs.columns[c].name);
    }
    out += "\n";
  }
  for (const auto& row : rs.rows) {
    for (std::size_t c = 0; c < ncols; ++c) {
      if (c) out += sep;
      if (c >= row.size() || type_of(row[c]) == value_type::null) continue;
      const std::string text = plain_text(row[c], is_boolean(o, c), o);
      out += csv ? csv_field(text) : tsv_field(text);
    }
    out += "\n";
  }
  return out;
}

// ---- json, jsonl ---------------------------------------------------------------------------

// A JSON string literal. Controls (C0, DEL, C1), U+2028/U+2029 and the quote and backslash are
// escaped, so the output is both exact and safe to print; invalid UTF-8 becomes U+FFFD.
void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto d = decode(s, i);
    if (!d.len) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    const char32_t c = d.cp;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || in(c, 0x7F, 0x9F) || c == 0x2028 || c == 0x2029)
          out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(c));
        else
          out.append(s.substr(i, d.len));
    }
    i += d.len;
  }
  out += '"';
}

void json_value(std::string& out, const value& v, bool boolean, const render_options& o) {
  switch (type_of(v)) {
    case value_type::null: out += "null"; return;
    case value_type::integer: {
      const auto n = std::get<std::int64_t>(v);
      out += boolean ? (n ? "true" : "false") : fmt::format("{}", n);
      return;
    }
    case value_type::real: {
      const double d = std::get<double>(v);
      out += std::isfinite(d) ? format_real(d) : "null";
      return;
    }
    case value_type::text: json_string(out, std::get<std::string>(v)); return;
    case value_type::timestamp: json_string(out, machine_time(std::get<timestamp>(v), o)); return;
    case value_type::duration: out += duration_seconds(std::get<duration>(v)); return;
  }
}

// Column names as object keys, each unique: a repeated `name` becomes `name_2`, `name_3`, ….
std::vector<std::string> json_keys(const result_set& rs) {
  std::set<std::string> taken;
  for (const auto& c : rs.columns) taken.insert(c.name);
  std::set<std::string> used;
  std::vector<std::string> keys;
  for (const auto& c : rs.columns) {
    std::string key = c.name;
    // A generated key also avoids every original name, so a later column keeps its own.
    for (int n = 2; used.contains(key); ++n) {
      key = fmt::format("{}_{}", c.name, n);
      if (taken.contains(key)) key = c.name;
    }
    used.insert(key);
    std::string literal;
    json_string(literal, key);
    keys.push_back(std::move(literal));
  }
  return keys;
}

std::string json_object(const std::vector<std::string>& keys, const std::vector<value>& row, const render_options& o) {
  std::string out = "{";
  for (std::size_t c = 0; c < keys.size(); ++c) {
    if (c) out += ',';
    out += keys[c];
    out += ':';
    if (c < row.size())
      json_value(out, row[c], is_boolean(o, c), o);
    else
      out += "null";
  }
  return out + "}";
}

std::string render_json(const result_set& rs, const render_options& o, bool lines) {
  const auto keys = json_keys(rs);
  std::string out;
  if (lines) {
    for (const auto& row : rs.rows) out += json_object(keys, row, o) + "\n";
    return out;
  }
  if (rs.rows.empty()) return "[]\n";
  out = "[\n";
  for (std::size_t r = 0; r < rs.rows.size(); ++r) {
    out += json_object(keys, rs.rows[r], o);
    out += r + 1 < rs.rows.size() ? ",\n" : "\n";
  }
  return out + "]\n";
}

}  // namespace

std::span<const std::string_view> mode_names() { return names; }

std::string_view mode_name(output_mode mode) { return names[static_cast<std::size_t>(mode)]; }

std::optional<output_mode> parse_mode(std::string_view name) {
  std::string lower(name);
  std::ranges::transform(lower, lower.begin(), [](char ch) { return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch; });
  if (lower == "md") return output_mode::markdown;
  if (lower == "tabs") return output_mode::tsv;
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == lower) return static_cast<output_mode>(k);
  return std::nullopt;
}

std::string render(const result_set& rs, const render_options& options) {
  switch (options.mode) {
    case output_mode::table: return render_grid(rs, options, ascii_borders);
    case output_mode::box: return render_grid(rs, options, box_borders);
    case output_mode::markdown: return render_markdown(rs, options);
    case output_mode::csv: return render_separated(rs, options, true);
    case output_mode::tsv: return render_separated(rs, options, false);
    case output_mode::json: return render_json(rs, options, false);
    case output_mode::jsonl: return render_json(rs, options, true);
    case output_mode::line: return render_line(rs, options);
  }
  return "";
}

std::string escape_terminal(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto d = decode(text, i);
    if (!d.len) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    const char32_t c = d.cp;
    if (c == '\n' && keep_newlines)
      out += '\n';
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c < 0x20 || c == 0x7F)
      out += fmt::format("\\x{:02x}", static_cast<std::uint32_t>(c));
    else if (in(c, 0x80, 0x9F) || in(c, 0x202A, 0x202E) || in(c, 0x2066, 0x2069))
      out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(c));
    else
      out.append(text.substr(i, d.len));
    i += d.len;
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto d = decode(text, i);
    if (!d.len) {
      ++width;
      ++i;
      continue;
    }
    width += static_cast<std::size_t>(char_width(d.cp));
    i += d.len;
  }
  return width;
}

std::string escape_markdown(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  s.remove_prefix(start);
  if (!s.empty()) {
    // (A leading `>` needs nothing: it becomes `&gt;`, which opens no block quote.)
    if (s[0] == '#' || s[0] == '-' || s[0] == '+' || s[0] == '=') {
      out += '\\';
    } else {
      std::size_t d = 0;
      while (d < s.size() && d < 10 && s[d] >= '0' && s[d] <= '9') ++d;
      if (d > 0 && d < s.size() && (s[d] == '.' || s[d] == ')')) {
        out.append(s.substr(0, d));
        out += '\\';
        s.remove_prefix(d);
      }
    }
  }
  // Bytes that need nothing are copied a run at a time: most text has none of the others, and
  // a report escapes every event's text.
  const auto plain = [](char ch) {
    switch (ch) {
      case '\\': case '|': case '`': case '*': case '[': case ']': case '~': case '_': case '<': case '>': case '&':
        return false;
      default: return static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f;
    }
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (plain(s[i])) {
      std::size_t j = i + 1;
      while (j < s.size() && plain(s[j])) ++j;
      out.append(s.substr(i, j - i));
      i = j - 1;
      continue;
    }
    const char ch = s[i];
    const char prev = i ? s[i - 1] : ' ';
    const char next = i + 1 < s.size() ? s[i + 1] : ' ';
    switch (ch) {
      case '\\':
      case '|':
      case '`':
      case '*':
      case '[':
      case ']':
      case '~':
        out += '\\';
        out += ch;
        break;
      case '_':
        if (!(word_byte(prev) && word_byte(next))) out += '\\';
        out += ch;
        break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\r':
        if (next == '\n') ++i;
        out += "<br>";
        break;
      case '\n': out += "<br>"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) out += ' ';
        else out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}


}  // namespace pmdb::shell
