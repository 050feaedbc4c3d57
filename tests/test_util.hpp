#pragma once
// Helpers shared by the tests: temporary store files, reading files, building events.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "core/event_store.hpp"

namespace pmdb::test {

inline std::filesystem::path source_dir() { return PMDB_SOURCE_DIR; }

// A fresh directory under the system temp dir, removed with its contents on destruction.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() / fmt::format("pmdb-test-{}-{}", ::getpid(), counter++);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(std::string_view name) const { return (path / name).string(); }
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A new in-memory store (throws, failing the test, if SQLite cannot open one).
inline event_store memory_store() { return event_store::open(":memory:", {.durable = false}).value(); }

// One JSONL line for a simple event.
inline std::string line(std::string_view incident, std::string_view type, std::string_view at, std::string_view data,
                        std::string_view extra = "") {
  return fmt::format(R"({{"incident":"{}","type":"{}","at":"{}","source":"test"{}{},"data":{}}})", incident, type, at,
                     extra.empty() ? "" : ",", extra, data);
}

}  // namespace pmdb::test
