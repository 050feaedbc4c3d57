#include "core/import.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <streambuf>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/csv_import.hpp"
#include "core/limits.hpp"
#include "core/projection.hpp"
#include "core/statuspage.hpp"
#include "core/time.hpp"

namespace pmdb {

namespace {

namespace rj = rapidjson;

constexpr std::size_t batch_size = 4096;
constexpr std::size_t lookup_chunk = 256;      // ids per `IN (...)` lookup
// Bytes read to detect the format: the first line, up to the limit on a line (a longer one is
// told by its start).
constexpr std::size_t max_head = limits::line_bytes + 1;

// Serves `head` (bytes already read from a stream) and then the rest of that stream, so that
// format detection works on unseekable input such as stdin.
class prefixed_buf : public std::streambuf {
 public:
  prefixed_buf(std::string head, std::streambuf* rest) : head_(std::move(head)), rest_(rest) {}

 protected:
  int_type underflow() override {
    if (!head_done_) {
      head_done_ = true;
      if (!head_.empty()) {
        setg(head_.data(), head_.data(), head_.data() + head_.size());
        return traits_type::to_int_type(head_[0]);
      }
    }
    const std::streamsize n = rest_ ? rest_->sgetn(buf_.data(), static_cast<std::streamsize>(buf_.size())) : 0;
    if (n <= 0) return traits_type::eof();
    setg(buf_.data(), buf_.data(), buf_.data() + n);
    return traits_type::to_int_type(buf_[0]);
  }

 private:
  std::string head_;
  std::streambuf* rest_;
  bool head_done_ = false;
  std::array<char, 1 << 16> buf_{};
};

bool is_slug_prefix(std::string_view s) {
  if (s.empty()) return false;
  const auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '.' || c == '_' || c == '-'));
  };
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!ok(s[i], i == 0)) return false;
  return true;
}

std::string json_of(const rj::Value& v) {
  rj::StringBuffer buf;
  rj::Writer<rj::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

std::string_view format_name(import_format f) {
  switch (f) {
    case import_format::auto_detect: return "auto";
    case import_format::jsonl: return "jsonl";
    case import_format::statuspage: return "statuspage";
    case import_format::csv: return "csv";
  }
  return "auto";
}

std::optional<import_format> parse_import_format(std::string_view name) {
  for (auto f : {import_format::auto_detect, import_format::jsonl, import_format::statuspage, import_format::csv})
    if (format_name(f) == name) return f;
  return std::nullopt;
}

namespace {

// Reads the members of a first line's top-level object as far as they go (the line may be cut
// short, or malformed further on) and tells whether it is an event: an "incident" or "type"
// member whose value is a string. A Statuspage document has neither (its "incident" is an
// object, and an incident has a "status", not a "type"). SAX, iterative: any depth is read in
// linear time, and nothing is kept.
class event_sniffer : public rj::BaseReaderHandler<rj::UTF8<>, event_sniffer> {
 public:
  bool Default() { return value(false); }
  bool String(const char*, rj::SizeType, bool) { return value(true); }
  bool Key(const char* s, rj::SizeType n, bool) {
    const std::string_view k(s, n);
    event_key_ = depth_ == 1 && (k == "incident" || k == "type");
    return true;
  }
  bool StartObject() { return enter(); }
  bool StartArray() { return enter(); }
  bool EndObject(rj::SizeType) { return --depth_, true; }
  bool EndArray(rj::SizeType) { return --depth_, true; }
  bool is_event() const { return is_event_; }

 private:
  bool value(bool string) {
    if (event_key_ && string) is_event_ = true;
    event_key_ = false;
    return !is_event_;  // decided: stop reading
  }
  bool enter() {
    value(false);
    ++depth_;
    return true;
  }
  std::size_t depth_ = 0;
  bool event_key_ = false, is_event_ = false;
};

}  // namespace

import_format detect_format(std::string_view head) {
  if (head.starts_with("\xEF\xBB\xBF")) head.remove_prefix(3);
  const auto first = head.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return import_format::csv;
  head.remove_prefix(first);
  if (head[0] == '[') return import_format::statuspage;
  if (head[0] != '{') return import_format::csv;
  const std::string_view line = head.substr(0, head.find('\n'));
  rj::MemoryStream in(line.data(), line.size());
  rj::Reader reader;
  event_sniffer sniffer;
  reader.Parse<rj::kParseIterativeFlag | rj::kParseStopWhenDoneFlag>(in, sniffer);
  return sniffer.is_event() ? import_format::jsonl : import_format::statuspage;
}

namespace {

std::expected<import_file_result, std::vector<error>> import_any(event_store& store, std::istream& in,
                                                                 std::string_view name, const import_options& opts) {
  if (!opts.prefix.empty() && !is_slug_prefix(opts.prefix))
    return std::unexpected(std::vector<error>{error(fmt::format(
        "prefix \"{}\": not a slug (expected lowercase letters, digits, '.', '_' and '-', starting with a letter or a digit)",
        opts.prefix))});

  import_format format = opts.format;
  std::string head;
  if (format == import_format::auto_detect) {
    // Read up to the end of the first non-blank line (bounded), then replay it.
    std::streambuf* sb = in.rdbuf();
    bool content = false;
    while (head.size() < max_head) {
      const auto c = sb ? sb->sbumpc() : std::char_traits<char>::eof();
      if (c == std::char_traits<char>::eof()) break;
      const char ch = std::char_traits<char>::to_char_type(c);
      head.push_back(ch);
      if (ch == '\n' && content) break;
      if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' && !(head.size() <= 3 && static_cast<unsigned char>(ch) >= 0x80))
        content = true;
    }
    format = detect_format(head);
  }
  prefixed_buf buf(std::move(head), in.rdbuf());
  std::istream replay(&buf);
  std::istream& src = opts.format == import_format::auto_detect ? replay : in;

  switch (format) {
    case import_format::jsonl: {
      auto r = import_jsonl(store, src, name, opts.progress);
      if (!r) return std::unexpected(std::move(r.error()));
      return import_file_result{import_format::jsonl, r->appended, r->existing, 0};
    }
    case import_format::statuspage: return import_statuspage(store, src, name, opts);
    case import_format::csv:
    case import_format::auto_detect: break;
  }
  return import_csv(store, src, name, opts);
}

}  // namespace

std::expected<import_file_result, std::vector<error>> import_file(event_store& store, std::istream& in,
                                                                  std::string_view name,
                                                                  const import_options& opts) {
  // The importers report bad input as errors; what is left is the machine failing (out of
  // memory, a stream that throws): an error too, never an exception out of an import. The
  // transaction is rolled back by the importer's writer as the exception leaves it.
  try {
    return import_any(store, in, name, opts);
  } catch (const std::exception& ex) {
    return std::unexpected(std::vector<error>{error(fmt::format("{}: cannot import: {}", name, ex.what()))});
  }
}

// --- import_writer ---

import_writer::import_writer(event_store& store, std::string_view name, const progress_fn& progress)
    : store_(store), name_(name), progress_(progress) {}

import_writer::~import_writer() {
  if (open_) store_.rollback();
}

bool import_writer::begin() {
  auto r = store_.begin();
  if (!r) {
    fail(r.error());
    return false;
  }
  open_ = true;
  return true;
}

void import_writer::fail(error e) {
  if (errors_.size() < max_reported_errors) errors_.push_back(std::move(e));
  else ++more_errors_;
}

void import_writer::push(event e, std::optional<std::int64_t> edit_at, std::string_view where) {
  ++events_;
  if (failed()) return;
  // Two versions of one event in the same batch: append the first, so that the second is
  // compared with it like with any stored event.
  if (auto it = batch_keys_.find(e.id); it != batch_keys_.end() && it->second != e.content_key()) flush();
  batch_keys_[e.id] = e.content_key();
  batch_.push_back({std::move(e), edit_at, std::string(where)});
  if (batch_.size() >= batch_size) flush();
}

std::optional<event> import_writer::as_correction(const pending& p, const event& stored) {
  const event& e = p.ev;
  const auto conflict = [&](std::string_view what) -> std::optional<event> {
    fail(error(fmt::format("{}: {}event {} is already stored with a different {}", name_,
                           p.where.empty() ? "" : p.where + ": ", e.id, what)));
    return std::nullopt;
  };
  if (stored.incident != e.incident)
    return conflict(fmt::format("incident ({} instead of {}; did the page's name change? --prefix fixes the streams' names)",
                                stored.incident, e.incident));
  if (stored.type != e.type) return conflict(fmt::format("type ({} instead of {})", stored.type, e.type));
  if (stored.at == e.at && stored.data == e.data) return conflict("source or approx flag");

  rj::Document d(rj::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("target", rj::Value(e.id.c_str(), a), a);
  d.AddMember("reason", "changed at the source after it was imported (a later snapshot differs)", a);
  if (stored.at != e.at) d.AddMember("at", rj::Value(format_iso(timestamp{e.at}).c_str(), a), a);
  if (stored.data != e.data) {
    rj::Document nd(&a);
    nd.Parse(e.data.c_str(), e.data.size());
    d.AddMember("data", rj::Value(nd, a), a);
  }
  event c;
  c.incident = e.incident;
  c.type = "correction";
  c.at = *p.edit_at;
  c.recorded_at = *p.edit_at;
  c.source = e.source;
  c.data = json_of(d);
  auto v = validate_event(std::move(c));
  if (!v) {
    fail(error(fmt::format("{}: {}correction of {}: {}", name_, p.where.empty() ? "" : p.where + ": ", e.id, v.error())));
    return std::nullopt;
  }
  v->id = fmt::format("{}:edit-{}", e.id, v->id.substr(1, 16));
  return std::move(*v);
}

bool import_writer::has_other(std::string_view incident, std::string_view type, std::string_view id) {
  if (failed()) return false;
  for (const auto& p : batch_)
    if (p.ev.incident == incident && p.ev.type == type && p.ev.id != id) return true;
  static const std::array<column, 1> one{column{"found", value_type::integer}};
  const std::array<value, 3> params{std::string(incident), std::string(type), std::string(id)};
  auto rs = store_.query(
      fmt::format("SELECT 1 FROM {} WHERE incident = ? AND type = ? AND id <> ? LIMIT 1", projection::log_table), params,
      one);
  if (!rs) {
    fail(rs.error());
    return false;
  }
  return !rs->rows.empty();
}

void import_writer::flush() {
  if (failed() || batch_.empty()) {
    batch_.clear();
    batch_keys_.clear();
    return;
  }
  // Runs `sql_head` + "(?,?,…)" over `ids`, `lookup_chunk` ids at a time, handing each row to `row`.
  const auto chunked = [&](const std::vector<std::string>& ids, std::string_view sql_head, std::span<const column> cols,
                           const auto& row) {
    for (std::size_t i = 0; i < ids.size(); i += lookup_chunk) {
      const std::size_t n = std::min(lookup_chunk, ids.size() - i);
      std::string sql = fmt::format("{} (?", sql_head);
      for (std::size_t k = 1; k < n; ++k) sql += ",?";
      sql += ")";
      std::vector<value> params(ids.begin() + static_cast<std::ptrdiff_t>(i),
                                ids.begin() + static_cast<std::ptrdiff_t>(i + n));
      auto rs = store_.query(sql, params, cols);
      if (!rs) {
        fail(rs.error());
        return false;
      }
      for (const auto& r : rs->rows) row(r);
    }
    return true;
  };

  // Every version of the stored events among the batch's edited ids, with the interval of
  // recorded time in which each is believed (the projection's versions).
  struct stored_version {
    event ev;
    std::int64_t from = 0;
    std::optional<std::int64_t> to;  // nullopt: believed now
  };
  std::vector<std::string> ids;
  for (const auto& p : batch_)
    if (p.edit_at) ids.push_back(p.ev.id);
  std::unordered_map<std::string, std::vector<stored_version>> stored;
  if (!ids.empty()) {
    const std::array<column, 9> cols{column{"id"},          column{"incident"},
                                     column{"type"},        column{"at", value_type::integer},
                                     column{"source"},      column{"approx", value_type::integer},
                                     column{"data"},        column{"valid_from", value_type::integer},
                                     column{"valid_to", value_type::integer}};
    const bool ok = chunked(
        ids,
        fmt::format("SELECT id, incident, type, at, source, approx, data, valid_from, valid_to FROM {} WHERE id IN",
                    projection::versions_table),
        cols, [&](const std::vector<value>& row) {
          stored_version v;
          v.ev.incident = std::get<std::string>(row[1]);
          v.ev.type = std::get<std::string>(row[2]);
          v.ev.at = std::get<std::int64_t>(row[3]);
          v.ev.source = std::get<std::string>(row[4]);
          v.ev.approx = std::get<std::int64_t>(row[5]) != 0;
          v.ev.data = std::get<std::string>(row[6]);
          v.from = std::get<std::int64_t>(row[7]);
          if (const auto* to = std::get_if<std::int64_t>(&row[8])) v.to = *to;
          stored[std::get<std::string>(row[0])].push_back(std::move(v));
        });
    if (!ok) return;
  }

  std::vector<event> out;
  out.reserve(batch_.size());
  std::vector<std::string> correction_ids;
  for (auto& p : batch_) {
    const auto it = p.edit_at ? stored.find(p.ev.id) : stored.end();
    if (it == stored.end()) {  // not stored yet (or an event that is never an edit)
      out.push_back(std::move(p.ev));
      continue;
    }
    // The version believed at the edit (a version is believed in [from, to)), else the
    // current one. No current version: the event is retracted, and is left alone.
    const stored_version* then = nullptr;
    const stored_version* now = nullptr;
    for (const auto& v : it->second) {
      if (!v.to) now = &v;
      if (v.from <= *p.edit_at && (!v.to || *p.edit_at < *v.to)) then = &v;
    }
    if (!then) then = now;
    if (!now || then->ev.content_key() == p.ev.content_key()) {
      ++result_.existing;
      continue;
    }
    auto c = as_correction(p, then->ev);
    if (!c) return;
    correction_ids.push_back(c->id);
    out.push_back(std::move(*c));
  }
  batch_.clear();
  batch_keys_.clear();
  if (!correction_ids.empty()) {
    std::size_t known = 0;
    const std::array<column, 1> cols{column{"id"}};
    if (!chunked(correction_ids, fmt::format("SELECT id FROM {} WHERE id IN", projection::log_table), cols,
                 [&](const std::vector<value>&) { ++known; }))
      return;
    result_.corrections += correction_ids.size() - known;
  }
  if (out.empty()) {
    if (progress_) progress_(bytes_, events_);
    return;
  }
  auto r = store_.append(out);
  if (!r) {
    fail(r.error());
    return;
  }
  result_.appended += r->appended;
  result_.existing += r->existing;
  if (progress_) progress_(bytes_, events_);
}

std::expected<import_file_result, std::vector<error>> import_writer::finish(import_format format) {
  flush();
  if (open_ && !failed()) {
    if (auto r = store_.commit(); !r) fail(r.error());
    else open_ = false;
  }
  if (failed()) {
    if (open_) store_.rollback();
    open_ = false;
    if (more_errors_) errors_.emplace_back(fmt::format("{}: ... and {} more errors", name_, more_errors_));
    return std::unexpected(std::move(errors_));
  }
  if (progress_) progress_(bytes_, events_);
  result_.format = format;
  return result_;
}

}  // namespace pmdb
