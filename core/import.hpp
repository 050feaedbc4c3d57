#pragma once
// One entry point for every import format: JSON Lines events, Statuspage v2 JSON and CSV
// timelines, told apart from the content (or forced), each file in one transaction.
#include <cstddef>
#include <cstdint>
#include <expected>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/event_store.hpp"
#include "core/jsonl.hpp"

namespace pmdb {

enum class import_format { auto_detect, jsonl, statuspage, csv };

// "auto", "jsonl", "statuspage", "csv".
std::string_view format_name(import_format f);
// The inverse of format_name; nullopt for any other text.
std::optional<import_format> parse_import_format(std::string_view name);

struct import_options {
  import_format format = import_format::auto_detect;
  // Statuspage: incident streams are named PREFIX-CODE instead of ORG-CODE (ORG: the page's
  // name as a slug). Must itself be a slug ([a-z0-9][a-z0-9._-]*). Ignored by jsonl and csv.
  std::string prefix;
  // CSV: the IANA zone (e.g. "America/Los_Angeles") of times written without an offset.
  std::string tz;
  // CSV: header name (any case) → field name, overriding the built-in names and synonyms.
  // An empty field (or "-") ignores the column.
  std::map<std::string, std::string> map;
  // Called now and then with the bytes read and the events accepted so far (for a progress
  // bar), and once at the end.
  progress_fn progress;
};

struct import_file_result {
  import_format format = import_format::jsonl;  // the format used (detected or forced)
  std::size_t appended = 0;                    // events written (corrections included)
  std::size_t existing = 0;                    // events already stored with identical content
  std::size_t corrections = 0;                 // of `appended`: corrections of edited Statuspage updates
};

// Imports one file. With format auto_detect, the first non-blank bytes decide: `{` on a first
// line whose object has an "incident" or "type" member with a string value (read as far as
// the line is JSON, up to limits::line_bytes) → jsonl; any other `{` or `[` → statuspage;
// anything else → csv. The whole file is one transaction: on any error nothing is written and
// every problem is returned (at most max_reported_errors, then "... and N more"); print them
// with format_import_error. `name` is the file's name in messages.
std::expected<import_file_result, std::vector<error>> import_file(event_store& store, std::istream& in,
                                                                  std::string_view name,
                                                                  const import_options& opts = {});

// The format auto_detect picks for a file starting with `head` (its first line at least,
// unless the file is shorter).
import_format detect_format(std::string_view head);

// The transaction and batching shared by the Statuspage and CSV importers (not needed by
// callers of import_file): begin() opens the transaction; push() queues validated events and
// appends them in batches; after the first error nothing more is appended and finish() rolls
// back and returns the errors; otherwise finish() commits.
class import_writer {
 public:
  import_writer(event_store& store, std::string_view name, const progress_fn& progress);
  import_writer(const import_writer&) = delete;
  import_writer& operator=(const import_writer&) = delete;
  ~import_writer();

  bool begin();
  // Records a problem; past max_reported_errors they are only counted.
  void fail(error e);
  bool failed() const { return !errors_.empty() || more_errors_ != 0; }
  // Queues a validated event (with its id). When `edit_at` is set, `e` is what its source said
  // of a stored event at *edit_at: compared with the version of the stored event believed at
  // *edit_at (core/projection.hpp; the current one when none was), it adds nothing when equal,
  // and otherwise becomes a `correction` of the stored event giving the fields that differ
  // (at and recorded_at *edit_at, id derived from the new content), never an error. An event
  // retracted in the store is left alone. `where` names the event's origin in messages.
  void push(event e, std::optional<std::int64_t> edit_at = std::nullopt, std::string_view where = {});
  // Whether the stream `incident` holds an event of `type` with another id than `id`, stored
  // or queued (false after a failure).
  bool has_other(std::string_view incident, std::string_view type, std::string_view id);
  // Bytes of input consumed so far, for progress reports.
  void set_bytes(std::size_t bytes) { bytes_ = bytes; }
  std::expected<import_file_result, std::vector<error>> finish(import_format format);

 private:
  struct pending {
    event ev;
    std::optional<std::int64_t> edit_at;
    std::string where;
  };
  void flush();
  std::optional<event> as_correction(const pending& p, const event& stored);

  event_store& store_;
  std::string name_;
  progress_fn progress_;
  bool open_ = false;
  std::vector<pending> batch_;
  std::unordered_map<std::string, std::string> batch_keys_;  // id → content key, in batch_
  std::vector<error> errors_;
  std::size_t more_errors_ = 0;
  std::size_t bytes_ = 0, events_ = 0;
  import_file_result result_;
};

}  // namespace pmdb
