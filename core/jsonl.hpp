#pragma once
// Import and export of the JSON Lines event format (schemas/README.md).
#include <cstddef>
#include <expected>
#include <functional>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/event_store.hpp"

namespace pmdb {

struct import_result {
  std::size_t lines = 0;     // non-blank lines read
  std::size_t appended = 0;  // events written
  std::size_t existing = 0;  // events already stored (identical content)
};

// At most this many errors are listed for one file; the rest are counted.
inline constexpr std::size_t max_reported_errors = 100;

// Called every few thousand lines with the bytes and lines read so far.
using progress_fn = std::function<void(std::size_t bytes, std::size_t lines)>;

// Streams `in` line by line (memory stays flat), validating every line and appending in
// batches inside one transaction. A file with any bad line writes nothing: the transaction is
// rolled back and every problem is returned as an error whose `where` is name:line, e.g.
// "events.jsonl:3: at: not a timestamp (...): found \"yesterday\"" (see format_import_error).
// The list holds at most max_reported_errors entries plus a final "... and N more".
std::expected<import_result, std::vector<error>> import_jsonl(event_store& store, std::istream& in,
                                                              std::string_view name, const progress_fn& progress = {});

// "FILE:LINE: MESSAGE" for an import error (just MESSAGE when it has no position).
std::string format_import_error(const error& e);

// Writes the events of `incidents` (all when empty) in store order, one JSON object a line.
// Importing the output into an empty store and exporting again gives identical bytes.
std::expected<void, error> export_jsonl(const event_store& store, std::ostream& out,
                                        const std::vector<std::string>& incidents = {});

}  // namespace pmdb
