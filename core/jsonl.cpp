#include "core/jsonl.hpp"

#include <fmt/format.h>

namespace pmdb {

namespace {
constexpr std::size_t batch_size = 4096;
}

std::string format_import_error(const error& e) {
  if (!e.where) return e.message;
  return fmt::format("{}:{}: {}", e.where->file, e.where->line, e.message);
}

std::expected<import_result, std::vector<error>> import_jsonl(event_store& store, std::istream& in,
                                                              std::string_view name, const progress_fn& progress) {
  import_result result;
  std::vector<error> errors;
  std::size_t more_errors = 0;
  std::vector<event> batch;
  batch.reserve(batch_size);
  std::size_t bytes = 0;

  if (auto r = store.begin(); !r) return std::unexpected(std::vector<error>{r.error()});
  const auto flush = [&]() -> bool {
    if (batch.empty() || !errors.empty()) {
      batch.clear();
      return true;
    }
    auto r = store.append(batch);
    batch.clear();
    if (!r) {
      errors.push_back(r.error());
      return false;
    }
    result.appended += r->appended;
    result.existing += r->existing;
    return true;
  };

  std::string line;
  std::uint32_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    bytes += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ++result.lines;
    auto ev = parse_event(line);
    if (!ev) {
      if (errors.size() < max_reported_errors) errors.emplace_back(ev.error(), source_position{std::string(name), lineno, 0});
      else ++more_errors;
      batch.clear();
      continue;
    }
    if (!errors.empty()) continue;  // keep validating to report every bad line, write nothing
    batch.push_back(std::move(*ev));
    if (batch.size() == batch_size && !flush()) break;
    if (progress && lineno % batch_size == 0) progress(bytes, lineno);
  }
  if (in.bad()) errors.emplace_back(fmt::format("{}: read error", name));
  if (errors.empty()) flush();
  if (!errors.empty()) {
    store.rollback();
    if (more_errors) errors.emplace_back(fmt::format("{}: ... and {} more bad lines", name, more_errors));
    return std::unexpected(std::move(errors));
  }
  if (auto r = store.commit(); !r) {
    store.rollback();
    return std::unexpected(std::vector<error>{r.error()});
  }
  if (progress) progress(bytes, lineno);
  return result;
}

std::expected<void, error> export_jsonl(const event_store& store, std::ostream& out,
                                        const std::vector<std::string>& incidents) {
  auto r = store.scan(incidents, [&](const stored_event& s) { out << to_jsonl(s.ev, s.recorded_at) << '\n'; });
  if (!r) return r;
  out.flush();
  if (!out) return std::unexpected(error("write error"));
  return {};
}

}  // namespace pmdb
