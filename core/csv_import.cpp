#include "core/csv_import.hpp"

#include "core/byte_reader.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>

#include <date/tz.h>
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/embedded.hpp"
#include "core/limits.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace pmdb {

namespace {

namespace rj = rapidjson;

// --- RFC 4180 records ---

class csv_reader {
 public:
  explicit csv_reader(std::istream& in) : in_(in) {
    if (peek() == 0xEF) {  // a UTF-8 byte order mark
      get();
      if (peek() == 0xBB) get();
      if (peek() == 0xBF) get();
    }
  }

  // Reads the next record into `fields`; false at the end of the input. `start_line` is the
  // line where the record starts; `problem` is set (and reading goes on to the record's end,
  // keeping nothing more of it) when its quoting is malformed, when it is not UTF-8 or holds a
  // NUL byte, or when a field or the record is over its limit: memory stays bounded whatever
  // the input.
  bool next(std::vector<std::string>& fields, std::uint32_t& start_line, std::string& problem) {
    fields.clear();
    problem.clear();
    start_line = line_;
    if (eof()) return false;
    std::string field;
    bool in_quotes = false, quoted = false, after_quote = false;
    std::uint32_t quote_line = 0;
    std::size_t record_bytes = 0, column_no = 1;
    std::size_t field_len = 0;  // bytes of the field so far, kept or not
    const auto fail = [&](std::string what) {
      if (problem.empty()) problem = fmt::format("column {}: {}", column_no, what);
    };
    const auto add = [&](char ch) {
      ++field_len;
      if (!problem.empty()) return;  // the record is refused: keep nothing more of it
      if (field_len > limits::field_bytes)
        return fail(fmt::format("longer than the {} MiB limit on a field (limits: docs/limits.md)",
                                limits::field_bytes >> 20));
      field += ch;
    };
    for (;;) {
      const int c = get();
      if (c < 0) {
        if (utf8_.pending())
          fail(fmt::format("not valid UTF-8 (the file ends inside the character at byte {})", char_start_));
        if (in_quotes)
          fail(fmt::format("a quoted field is not closed (its quote opens on line {})", quote_line));
        fields.push_back(std::move(field));
        return true;
      }
      if (++record_bytes > limits::line_bytes && problem.empty()) {
        problem = fmt::format("longer than the {} MiB limit on a record (limits: docs/limits.md)",
                              limits::line_bytes >> 20);
        fields.clear();
        field.clear();
      }
      const char ch = static_cast<char>(c);
      // Every byte is checked where it is read, so that the error gives its offset in the file.
      if (c == 0) fail(fmt::format("a NUL byte (byte {} of the file), which pmdb does not store", bytes()));
      else {
        if (!utf8_.pending()) char_start_ = bytes();  // where the character starts (1-based)
        if (!utf8_.feed(static_cast<unsigned char>(c)))
          fail(fmt::format("not valid UTF-8 (the character at byte {} of the file)", char_start_));
      }
      const std::size_t col = ++column_;
      if (ch == '\n') column_ = 0;
      if (in_quotes) {
        if (ch == '"') {
          if (peek() == '"') {
            get();
            ++record_bytes;
            ++column_;
            add('"');
          } else {
            in_quotes = false;
            after_quote = true;
          }
        } else if (ch == '\r' && peek() == '\n') {
          get();
          ++record_bytes;
          ++line_;
          column_ = 0;
          add('\n');  // a CRLF inside a field is kept as a line break, as LF
        } else {
          if (ch == '\n') ++line_;
          add(ch);
        }
        continue;
      }
      if (ch == ',') {
        if (problem.empty()) fields.push_back(std::move(field));
        field.clear();
        field_len = 0;
        ++column_no;
        quoted = after_quote = false;
        continue;
      }
      if (ch == '\n' || ch == '\r') {
        if (ch == '\r' && peek() == '\n') get();
        ++line_;
        column_ = 0;
        fields.push_back(std::move(field));
        return true;
      }
      if (after_quote) {
        fail("text after the closing quote (a quote inside a quoted field is written \"\")");
        continue;
      }
      if (ch == '"' && field_len == 0 && !quoted) {
        in_quotes = quoted = true;
        quote_line = line_;
        continue;
      }
      if (ch == '"')
        fail(fmt::format("a quote inside a field that is not quoted (line {}, byte {} of the line): such a field is "
                         "written in quotes with each quote doubled, e.g. \"ab\"\"c\"",
                         line_, col));
      add(ch);
    }
  }

  std::size_t bytes() const { return in_.offset(); }
  bool bad() const { return in_.bad(); }

 private:
  bool eof() { return in_.at_end(); }
  int peek() { return in_.peek(); }
  int get() { return in_.get(); }

  byte_reader in_;
  std::uint32_t line_ = 1;
  std::size_t column_ = 0;  // bytes read of the current line
  utf8_checker utf8_;       // over the whole file
  std::size_t char_start_ = 0;
};

// --- fields and their JSON types, from the embedded schemas ---

struct field_spec {
  std::string json_type;              // string | number | integer | array | boolean | object
  std::vector<std::string> enum_values;
};

struct schema_fields {
  std::map<std::string, std::map<std::string, field_spec>, std::less<>> by_type;  // type → field → spec
  std::vector<std::string> all;                                                   // every payload field
};

const schema_fields& payload_fields() {
  static std::once_flag once;
  static schema_fields f;
  std::call_once(once, [] {
    for (const auto type : event_types) {
      auto& fields = f.by_type[std::string(type)];
      const auto& files = embedded_files();
      const auto it = files.find(fmt::format("{}.schema.json", type));
      if (it == files.end()) continue;
      rj::Document d;
      d.Parse(it->second.data(), it->second.size());
      if (d.HasParseError() || !d.HasMember("properties")) continue;
      for (const auto& p : d["properties"].GetObject()) {
        field_spec spec;
        if (p.value.HasMember("type") && p.value["type"].IsString()) spec.json_type = p.value["type"].GetString();
        if (p.value.HasMember("enum"))
          for (const auto& e : p.value["enum"].GetArray())
            if (e.IsString()) spec.enum_values.emplace_back(e.GetString());
        const std::string name = p.name.GetString();
        fields.emplace(name, std::move(spec));
        if (std::ranges::find(f.all, name) == f.all.end()) f.all.push_back(name);
      }
    }
  });
  return f;
}

constexpr std::array<std::string_view, 7> envelope_fields{"incident", "type", "at", "source", "id", "recorded_at", "approx"};

bool is_envelope(std::string_view f) { return std::ranges::find(envelope_fields, f) != envelope_fields.end(); }

bool is_known_field(std::string_view f) {
  if (is_envelope(f)) return true;
  const auto& all = payload_fields().all;
  // A correction's `at` is the envelope's column; its `data` cannot be written as a cell.
  return f != "data" && std::ranges::find(all, f) != all.end();
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A header name as matched: trimmed, lowercased, spaces and dashes as underscores.
std::string normalized(std::string_view h) {
  std::string out = lower(trim(h));
  for (char& c : out)
    if (c == ' ' || c == '-') c = '_';
  return out;
}

std::optional<std::string> synonym(std::string_view h) {
  static const std::map<std::string_view, std::string_view> syn{
      {"incident_id", "incident"}, {"time", "at"},         {"timestamp", "at"},   {"date", "at"},
      {"datetime", "at"},          {"when", "at"},         {"event_type", "type"}, {"message", "text"},
      {"description", "text"},     {"body", "text"},       {"metric", "name"},    {"recorded", "recorded_at"}};
  if (auto it = syn.find(h); it != syn.end()) return std::string(it->second);
  return std::nullopt;
}

// --- times ---

std::expected<std::int64_t, std::string> csv_time(std::string_view s, const date::time_zone* tz) {
  auto strict = parse_timestamp(s);
  if (strict) return strict->ms;
  auto loose = parse_timestamp(s, true);
  const bool has_time = s.size() > 10;
  if (!loose || !has_time) return std::unexpected(fmt::format("{}: found \"{}\"", strict.error(), s));
  if (!tz) return std::unexpected(fmt::format("no time zone: add --tz ZONE or an offset: found \"{}\"", s));
  // `loose` read the local wall time as if it were UTC.
  using namespace std::chrono;
  const std::int64_t ms = loose->ms;
  const std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const date::local_seconds local{seconds{secs}};
  const auto info = tz->get_info(local);
  switch (info.result) {
    case date::local_info::unique: return ms - duration_cast<milliseconds>(info.first.offset).count();
    case date::local_info::ambiguous:
      // The repeated hour when clocks go back: the earlier of the two instants.
      return std::min(ms - duration_cast<milliseconds>(info.first.offset).count(),
                      ms - duration_cast<milliseconds>(info.second.offset).count());
    case date::local_info::nonexistent: break;
  }
  return std::unexpected(fmt::format("\"{}\" does not exist in {} (the clocks skip it when daylight saving time starts)",
                                     s, tz->name()));
}

std::optional<bool> parse_bool(std::string_view s) {
  const std::string v = lower(s);
  if (v == "true" || v == "yes" || v == "1" || v == "~") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  return std::nullopt;
}

void write_string(rj::Writer<rj::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rj::SizeType>(s.size()));
}

struct column_info {
  std::string header;  // as written
  std::string field;   // empty: ignored
};

class csv_importer {
 public:
  csv_importer(import_writer& w, std::string_view file, const date::time_zone* tz)
      : w_(w), file_(file), tz_(tz) {}

  // Resolves the header; false (with errors reported) when the file cannot be read on.
  bool header(const std::vector<std::string>& cells, std::uint32_t line, const std::map<std::string, std::string>& map) {
    std::map<std::string, std::string> overrides;  // normalized header → field
    for (const auto& [k, v] : map) {
      const std::string f = trim(v);
      if (!f.empty() && f != "-" && !is_known_field(f)) {
        head_error(line, fmt::format("--map {}={}: \"{}\" is not a field{}", k, v, f, suggestion(f)));
        continue;
      }
      overrides[normalized(k)] = f == "-" ? "" : f;
    }
    std::vector<bool> mapped(cells.size(), false);
    columns_.resize(cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string h = normalized(cells[i]);
      columns_[i].header = trim(cells[i]);
      if (auto it = overrides.find(h); it != overrides.end()) {
        columns_[i].field = it->second;
        mapped[i] = true;
        overrides.erase(it);
      } else if (is_known_field(h) && h != "kind") {
        columns_[i].field = h;
      } else if (auto s = synonym(h)) {
        columns_[i].field = *s;
      }
    }
    for (const auto& [k, v] : overrides) head_error(line, fmt::format("--map {}={}: no column \"{}\" in the header", k, v, k));
    // `kind` is the type when no other column gives it, else the payload field of cause/action.
    const bool has_type = std::ranges::any_of(columns_, [](const column_info& c) { return c.field == "type"; });
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (!mapped[i] && normalized(cells[i]) == "kind") columns_[i].field = has_type ? "kind" : "type";
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (!columns_[i].field.empty() || mapped[i]) continue;
      if (columns_[i].header.empty())
        head_error(line, fmt::format("column {}: no name (--map can name it only by its header; remove the column)", i + 1));
      else
        head_error(line, fmt::format("column \"{}\": not a field{} (--map '{}=FIELD' names its field, --map '{}=' ignores it)",
                                     columns_[i].header, suggestion(normalized(columns_[i].header)), columns_[i].header,
                                     columns_[i].header));
    }
    for (std::size_t i = 0; i < cells.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (!columns_[i].field.empty() && columns_[i].field == columns_[j].field)
          head_error(line, fmt::format("columns \"{}\" and \"{}\" both give the field \"{}\"", columns_[j].header,
                                       columns_[i].header, columns_[i].field));
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> required{
        {{"incident", " (or incident_id)"}, {"at", " (or time, timestamp, date)"}, {"type", " (or kind)"}, {"source", ""}}};
    for (const auto& [f, alt] : required)
      if (!std::ranges::any_of(columns_, [&](const column_info& c) { return c.field == f; }))
        head_error(line, fmt::format("no \"{}\" column{} (--map COLUMN={} names another column so)", f, alt, f));
    return !bad_header_;
  }

  void row(const std::vector<std::string>& cells, std::uint32_t line, std::size_t row_no) {
    line_ = line;
    row_ = row_no;
    if (cells.size() != columns_.size()) {
      row_error(fmt::format("row {}: {} fields, but the header has {}", row_, cells.size(), columns_.size()));
      return;
    }
    bool ok = true;
    event e;
    std::string type;
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (columns_[i].field == "type") type = lower(trim(cells[i]));
    const auto* fields = [&]() -> const std::map<std::string, field_spec>* {
      auto it = payload_fields().by_type.find(type);
      return it == payload_fields().by_type.end() ? nullptr : &it->second;
    }();
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (columns_[i].field != "type") continue;
      if (type.empty()) {
        cell_error(i, "missing: every row needs an event type");
        ok = false;
      } else if (!fields || !is_event_type(type)) {
        std::string all;
        for (auto t : event_types) all += fmt::format("{}{}", all.empty() ? "" : " | ", t);
        cell_error(i, fmt::format("not an event type (expected {}): found \"{}\"{}", all, trim(cells[i]),
                                  did_you_mean(type, std::span<const std::string_view>(event_types))));
        ok = false;
      }
    }
    if (!ok) return;
    e.type = type;

    rj::StringBuffer buf;
    rj::Writer<rj::StringBuffer> w(buf);
    w.StartObject();
    bool has_services = false;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string& f = columns_[i].field;
      if (f.empty() || f == "type") continue;
      const std::string v = trim(cells[i]);
      if (f == "incident") e.incident = v;
      else if (f == "source") e.source = v;
      else if (f == "id") e.id = v;
      else if (v.empty()) continue;
      else if (f == "at" || f == "recorded_at") {
        auto t = csv_time(v, tz_);
        if (!t) {
          cell_error(i, t.error());
          ok = false;
        } else if (f == "at") {
          e.at = *t;
        } else {
          e.recorded_at = *t;
        }
      } else if (f == "approx") {
        auto b = parse_bool(v);
        if (!b) {
          cell_error(i, fmt::format("not a yes/no value (expected true, false, yes, no, 1, 0 or ~): found \"{}\"", v));
          ok = false;
        } else {
          e.approx = *b;
        }
      } else {
        const auto spec = fields->find(f);
        if (spec == fields->end()) {
          std::string names;
          for (const auto& [n, s] : *fields) names += fmt::format("{}{}", names.empty() ? "" : ", ", n);
          cell_error(i, fmt::format("a {} event has no field \"{}\" (its fields: {}): found \"{}\"", type, f, names, v));
          ok = false;
          continue;
        }
        if (!write_cell(w, i, f, spec->second, v)) ok = false;
        if (f == "services") has_services = true;
      }
    }
    if (type == "incident" && !has_services) {
      w.Key("services");
      w.StartArray();
      w.EndArray();
    }
    w.EndObject();
    bool has_at = false;
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (columns_[i].field == "at" && !trim(cells[i]).empty()) has_at = true;
    if (!has_at && ok) {
      cell_error(column_of("at"), "missing: every row needs a time");
      ok = false;
    }
    if (!ok) return;
    e.data.assign(buf.GetString(), buf.GetSize());
    auto v = validate_event(std::move(e));
    if (!v) {
      validation_error(v.error());
      return;
    }
    w_.push(std::move(*v));
  }

 private:
  bool write_cell(rj::Writer<rj::StringBuffer>& w, std::size_t col, const std::string& f, const field_spec& spec,
                  const std::string& v) {
    if (spec.json_type == "number" || spec.json_type == "integer") {
      double d = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
      if (ec != std::errc{} || end != v.data() + v.size() || !std::isfinite(d)) {
        cell_error(col, fmt::format("not a number: found \"{}\"", v));
        return false;
      }
      w.Key(f.c_str());
      if (spec.json_type == "integer") {
        if (d != std::floor(d) || std::fabs(d) > 9.007199254740992e15) {
          cell_error(col, fmt::format("not a whole number: found \"{}\"", v));
          return false;
        }
        w.Int64(static_cast<std::int64_t>(d));
      } else if (d == std::floor(d) && std::fabs(d) < 9.007199254740992e15 && v.find_first_of(".eE") == std::string::npos) {
        w.Int64(static_cast<std::int64_t>(d));
      } else {
        w.Double(d);
      }
      return true;
    }
    if (spec.json_type == "array") {
      w.Key(f.c_str());
      w.StartArray();
      std::size_t p = 0;
      while (p <= v.size()) {
        const auto q = std::min(v.find(';', p), v.size());
        const std::string item = trim(std::string_view(v).substr(p, q - p));
        if (!item.empty()) write_string(w, item);
        p = q + 1;
      }
      w.EndArray();
      return true;
    }
    if (spec.json_type != "string") {
      cell_error(col, fmt::format("the field \"{}\" cannot be written in a CSV cell", f));
      return false;
    }
    std::string s = v;
    if (!spec.enum_values.empty() && std::ranges::find(spec.enum_values, s) == spec.enum_values.end()) {
      std::string n = lower(s);
      std::ranges::replace(n, ' ', '_');
      if (std::ranges::find(spec.enum_values, n) != spec.enum_values.end()) s = n;
    }
    w.Key(f.c_str());
    write_string(w, s);
    return true;
  }

  // Maps a validate_event message ("data.status: ...", "incident: ...") back to its column.
  void validation_error(const std::string& msg) {
    const auto colon = msg.find(": ");
    if (colon != std::string::npos) {
      std::string path = msg.substr(0, colon);
      std::string field = path.starts_with("data.") ? path.substr(5) : path;
      field = field.substr(0, field.find_first_of(".["));
      const std::size_t col = column_of(field);
      if (col != npos) {
        const std::string rest = msg.substr(colon + 2);
        const bool exact = path == field || path == "data." + field;
        // A missing field names no column; a present one is reported at its column.
        if (!rest.starts_with("missing required field")) {
          cell_error(col, exact ? rest : msg);
          return;
        }
      }
    }
    row_error(fmt::format("row {}: {}", row_, msg));
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t column_of(std::string_view field) const {
    for (std::size_t i = 0; i < columns_.size(); ++i)
      if (columns_[i].field == field) return i;
    return npos;
  }

  template <typename Range>
  static std::string did_you_mean(std::string_view word, const Range& candidates) {
    auto n = nearest(word, candidates);
    return n ? fmt::format(" (did you mean \"{}\"?)", *n) : "";
  }
  std::string suggestion(const std::string& word) const {
    std::vector<std::string> names(envelope_fields.begin(), envelope_fields.end());
    for (const auto& f : payload_fields().all) names.push_back(f);
    auto n = nearest(word, std::span<const std::string>(names));
    return n ? fmt::format(" (did you mean \"{}\"?)", *n) : "";
  }

  void head_error(std::uint32_t line, std::string msg) {
    bad_header_ = true;
    w_.fail(error(fmt::format("row 1, {}", msg), source_position{std::string(file_), line, 0}));
  }
  void row_error(std::string msg) { w_.fail(error(std::move(msg), source_position{std::string(file_), line_, 0})); }
  void cell_error(std::size_t col, std::string_view msg) {
    if (col == npos) return row_error(fmt::format("row {}: {}", row_, msg));
    row_error(fmt::format("row {}, column \"{}\": {}", row_, columns_[col].header, msg));
  }

  import_writer& w_;
  std::string_view file_;
  const date::time_zone* tz_;
  std::vector<column_info> columns_;
  bool bad_header_ = false;
  std::uint32_t line_ = 0;
  std::size_t row_ = 0;
};

}  // namespace

std::expected<import_file_result, std::vector<error>> import_csv(event_store& store, std::istream& in,
                                                                 std::string_view name, const import_options& opts) {
  import_writer w(store, name, opts.progress);
  const date::time_zone* tz = nullptr;
  if (!opts.tz.empty()) {
    try {
      tz = date::locate_zone(opts.tz);
    } catch (const std::exception&) {
      w.fail(error(fmt::format("--tz {}: not a time zone (expected an IANA name such as America/Los_Angeles)", opts.tz)));
      return w.finish(import_format::csv);
    }
  }
  if (!w.begin()) return w.finish(import_format::csv);
  csv_reader reader(in);
  csv_importer imp(w, name, tz);
  std::vector<std::string> cells;
  std::uint32_t line = 0;
  std::string problem;
  std::size_t row = 0;
  bool have_header = false;
  while (reader.next(cells, line, problem)) {
    const bool blank = cells.size() == 1 && cells[0].find_first_not_of(" \t") == std::string::npos && problem.empty();
    if (blank) continue;
    ++row;
    if (!problem.empty()) {
      w.fail(error(fmt::format("row {}, {}", row, problem), source_position{std::string(name), line, 0}));
      if (!have_header) break;
      continue;
    }
    if (!have_header) {
      have_header = true;
      if (!imp.header(cells, line, opts.map)) break;
      continue;
    }
    imp.row(cells, line, row);
    w.set_bytes(reader.bytes());
  }
  if (reader.bad()) w.fail(error(fmt::format("{}: read error", name)));
  if (!have_header && !w.failed()) w.fail(error(fmt::format("{}: empty file: a CSV timeline starts with a header row", name)));
  return w.finish(import_format::csv);
}

}  // namespace pmdb
