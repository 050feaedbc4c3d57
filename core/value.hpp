#pragma once
// Typed values and result sets: what every query returns and every renderer draws.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pmdb {

enum class value_type { null, integer, real, text, timestamp, duration };

// A point in time, as integer milliseconds since 1970-01-01T00:00:00Z.
struct timestamp {
  std::int64_t ms = 0;
  friend bool operator==(timestamp, timestamp) = default;
  friend auto operator<=>(timestamp, timestamp) = default;
};

// A signed length of time in milliseconds.
struct duration {
  std::int64_t ms = 0;
  friend bool operator==(duration, duration) = default;
  friend auto operator<=>(duration, duration) = default;
};

struct null_value {
  friend bool operator==(null_value, null_value) = default;
};

// One cell. The alternative index matches value_type's order.
using value = std::variant<null_value, std::int64_t, double, std::string, timestamp, duration>;

inline value_type type_of(const value& v) { return static_cast<value_type>(v.index()); }

struct column {
  std::string name;
  value_type type = value_type::text;  // the declared type; a cell may still be null
};

// A fully materialised result: columns and rows of cells (row.size() == columns.size()).
struct result_set {
  std::vector<column> columns;
  std::vector<std::vector<value>> rows;
};

}  // namespace pmdb
