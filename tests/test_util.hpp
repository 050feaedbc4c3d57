#pragma once
// Helpers shared by the tests: temporary store files, reading files, building events.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sqlite3.h>
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

// Every row of `table` in `order`, each cell as SQLite's text of it ("NULL" for null): a
// byte-for-byte picture of a table.
inline std::string dump(const event_store& s, std::string_view table, std::string_view order) {
  auto n = s.query(fmt::format("SELECT count(*) FROM pragma_table_info('{}')", table), {},
                   std::vector<column>{{"n", value_type::integer}});
  REQUIRE(n);
  const std::vector<column> cols(static_cast<std::size_t>(std::get<std::int64_t>(n->rows.at(0).at(0))), column{"c"});
  auto rs = s.query(fmt::format("SELECT * FROM {} ORDER BY {}", table, order), {}, cols);
  REQUIRE(rs);
  std::string out;
  for (const auto& row : rs->rows) {
    for (const auto& cell : row) out += (std::holds_alternative<null_value>(cell) ? "NULL" : std::get<std::string>(cell)) + "|";
    out += "\n";
  }
  return out;
}

// Runs SQL on a separate raw connection; returns SQLite's error message or "".
inline std::string raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
  std::string out = rc == SQLITE_OK ? "" : (msg ? msg : "error");
  sqlite3_free(msg);
  sqlite3_close(db);
  return out;
}

// The same for any statement, through a raw read-only SQLite connection (for files pmdb will
// not open as they are, such as a store of an older schema opened read-only).
inline std::string raw_dump(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const auto* t = sqlite3_column_text(st, i);
      out += (t ? reinterpret_cast<const char*>(t) : "NULL") + std::string("|");
    }
    out += "\n";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

}  // namespace pmdb::test
