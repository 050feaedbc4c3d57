#pragma once
// The one error type of pmdb: a message, and where it applies when that is known.
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

struct error {
  std::string message;
  std::optional<source_position> where;

  error() = default;
  explicit error(std::string msg) : message(std::move(msg)) {}
  error(std::string msg, source_position pos) : message(std::move(msg)), where(std::move(pos)) {}
};

}  // namespace pmdb
