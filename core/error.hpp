#pragma once
// The one error type of pmdb: a message, and where it applies when that is known.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pmdb {

// A position in some source text (a query, a JSONL file, a CSV file). Lines and columns are
// 1-based; column counts bytes. `file` is empty for text typed interactively.
struct source_position {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// What kind of failure an error is, so that callers decide on the kind, never on the words
// (leveldb's Status::IsNotFound()). `other` is a failure of the machine (I/O, SQLite).
enum class errc {
  other,
  invalid,      // the input is malformed or breaks a rule (a bad event, query, correction)
  not_found,    // what was named does not exist (an incident, an event, a file)
  conflict,     // someone else wrote first (a version conflict, an id with other content)
  corrupt,      // the file is not a pmdb store, or is damaged
  read_only,    // a write to a store opened read-only
  interrupted,  // stopped by interrupt() (Ctrl-C)
};

struct error {
  errc code = errc::other;
  std::string message;
  std::optional<source_position> where;
  std::optional<std::size_t> item;  // the 0-based index of the batch item it is about (event_store::append)

  error() = default;
  explicit error(std::string msg) : message(std::move(msg)) {}
  error(errc c, std::string msg) : code(c), message(std::move(msg)) {}
  error(std::string msg, source_position pos) : code(errc::invalid), message(std::move(msg)), where(std::move(pos)) {}

  bool is(errc c) const { return code == c; }
};

}  // namespace pmdb
