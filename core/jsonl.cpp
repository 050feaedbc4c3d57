#include "core/jsonl.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "core/byte_reader.hpp"
#include "core/limits.hpp"

namespace pmdb {

namespace {
constexpr std::size_t batch_size = 4096;
}

std::string format_import_error(const error& e) {
  if (!e.where) return e.message;
  return fmt::format("{}:{}: {}", e.where->file, e.where->line, e.message);
}

namespace {

// What the reading thread hands to the writing one: a batch of validated events, or the end.
struct parsed_batch {
  std::vector<event> events;
  std::vector<std::uint32_t> linenos;  // the line of each event
  std::size_t bytes = 0;  // bytes read up to the end of this batch
  std::size_t lines = 0;  // non-blank lines read up to the end of this batch
  bool last = false;
};

// A bounded queue of batches between the two threads: at most `capacity` batches wait, so
// memory stays flat however large the file.
class batch_queue {
 public:
  explicit batch_queue(std::size_t capacity) : capacity_(capacity) {}
  void push(parsed_batch b) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_ || closed_; });
    if (closed_) return;
    q_.push_back(std::move(b));
    not_empty_.notify_one();
  }
  parsed_batch pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty(); });
    parsed_batch b = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return b;
  }
  // The consumer stops taking batches: the producer's pushes return at once from now on.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    q_.clear();
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<parsed_batch> q_;
  std::size_t capacity_;
  bool closed_ = false;
};

}  // namespace

std::expected<import_result, std::vector<error>> import_jsonl(event_store& store, std::istream& in,
                                                              std::string_view name, const progress_fn& progress) {
  if (auto r = store.begin(); !r) return std::unexpected(std::vector<error>{r.error()});

  // One thread reads and validates lines (JSON parsing and schema checks) while this one
  // appends the previous batch to SQLite: on two cores the two halves of the work overlap.
  // Line errors are collected by the reader; once there is one, nothing more is appended,
  // but every line is still checked so that all problems are reported.
  batch_queue queue(4);
  std::vector<error> line_errors;
  std::size_t more_errors = 0;
  bool read_error = false;
  std::optional<std::string> reader_failure;  // an exception in the reading thread (out of memory)
  std::thread reader([&] {
    std::vector<event> batch;
    std::vector<std::uint32_t> linenos;
    std::size_t bytes = 0, lines = 0;
    byte_reader bytes_in(in);
    const auto read_all = [&] {
      batch.reserve(batch_size);
      std::string line;
      std::uint32_t lineno = 0;
      // A line is read up to the limit and the rest dropped, so a huge line costs no memory.
      while (const auto length = bytes_in.read_line(line, limits::line_bytes + 1)) {
        ++lineno;
        bytes = bytes_in.offset();
        std::expected<event, std::string> ev;
        if (*length > limits::line_bytes) {
          ev = std::unexpected(fmt::format("longer than the {} MiB limit on a line (limits: docs/limits.md)",
                                           limits::line_bytes >> 20));
        } else {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (line.find_first_not_of(" \t") == std::string::npos) continue;
          ev = parse_event(line);
        }
        ++lines;
        if (!ev) {
          if (line_errors.size() < max_reported_errors)
            line_errors.emplace_back(ev.error(), source_position{std::string(name), lineno, 0});
          else
            ++more_errors;
          batch.clear();
          linenos.clear();
          continue;
        }
        if (!line_errors.empty()) continue;
        batch.push_back(std::move(*ev));
        linenos.push_back(lineno);
        if (batch.size() == batch_size) {
          queue.push({std::move(batch), std::move(linenos), bytes, lines, false});
          batch = {};
          linenos = {};
          batch.reserve(batch_size);
        }
      }
      read_error = bytes_in.bad();
    };
    try {
      read_all();
    } catch (const std::exception& ex) {
      reader_failure = ex.what();
    }
    if (!line_errors.empty() || reader_failure) batch.clear(), linenos.clear();
    // Always the last batch, so that the writing side stops waiting.
    queue.push({std::move(batch), std::move(linenos), bytes, lines, true});
  });

  import_result result;
  std::optional<error> write_error;
  // Once this import has appended as many events as the store held before it, the secondary
  // indexes are dropped and rebuilt by sorting at the commit: that costs at most twice what
  // the import wrote, where inserting into them costs a random B-tree descent per event and
  // index. A small import into a large store keeps them.
  const std::int64_t held = store.event_count();
  bool deferred = false;
  for (;;) try {
    parsed_batch b = queue.pop();
    if (!b.events.empty()) {
      if (!deferred && static_cast<std::int64_t>(result.appended) >= held) {
        if (auto d = store.defer_indexes(); !d) {
          write_error = d.error();
          queue.close();
          break;
        }
        deferred = true;
      }
      auto r = store.append(b.events);
      if (!r) {
        write_error = r.error();
        // An event refused by the store is reported at its line, like a malformed one.
        if (write_error->item && *write_error->item < b.linenos.size())
          write_error->where = source_position{std::string(name), b.linenos[*write_error->item], 0};
        queue.close();
        break;
      }
      result.appended += r->appended;
      result.existing += r->existing;
    }
    result.lines = b.lines;
    if (progress) progress(b.bytes, b.lines);
    if (b.last) break;
  } catch (const std::exception& ex) {
    // Out of memory, or an exception from the progress callback: the reading thread must still
    // be joined, and nothing is kept.
    write_error = error(fmt::format("{}: cannot import: {}", name, ex.what()));
    queue.close();
    break;
  }
  reader.join();

  std::vector<error> errors = std::move(line_errors);
  if (read_error) errors.emplace_back(fmt::format("{}: read error", name));
  if (reader_failure) errors.emplace_back(fmt::format("{}: cannot read on: {}", name, *reader_failure));
  if (write_error) errors.push_back(*write_error);
  if (!errors.empty() || more_errors) {
    store.rollback();
    if (more_errors) errors.emplace_back(fmt::format("{}: ... and {} more bad lines", name, more_errors));
    return std::unexpected(std::move(errors));
  }
  if (auto r = store.commit(); !r) {
    store.rollback();
    return std::unexpected(std::vector<error>{r.error()});
  }
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
