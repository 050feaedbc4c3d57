#pragma once
// A thin RAII layer over SQLite. Every SQLite return code becomes a pmdb::error here, in one
// place; nothing above this file calls sqlite3_* for errors.
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <utility>

#include <sqlite3.h>

#include "core/error.hpp"
#include "core/value.hpp"

namespace pmdb::sqlite {

// An error built from the connection's last message, prefixed with what was being done.
error last_error(sqlite3* db, std::string_view doing);

// One prepared statement. Movable, not copyable; finalized on destruction.
class statement {
 public:
  statement() = default;
  statement(statement&& o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)) {}
  statement& operator=(statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    return *this;
  }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }

  static std::expected<statement, error> prepare(sqlite3* db, std::string_view sql);

  // Binding: 1-based index. Strings are copied by SQLite.
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, const std::optional<std::string>& v) {
    if (v) bind(i, std::string_view(*v)); else sqlite3_bind_null(stmt_, i);
  }
  void bind(int i, const std::optional<double>& v) {
    if (v) bind(i, *v); else sqlite3_bind_null(stmt_, i);
  }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }
  // Binds without copying: the text must stay valid until the statement is reset or rebound.
  void bind_static(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind_static(int i, const std::optional<std::string>& v) {
    if (v) bind_static(i, std::string_view(*v)); else sqlite3_bind_null(stmt_, i);
  }
  // Binds a typed value: timestamps and durations as integer milliseconds.
  void bind(int i, const value& v);

  // Steps once: true when a row is available, false when done; an error otherwise.
  std::expected<bool, error> step();
  // Steps until done (for statements that return no rows).
  std::expected<void, error> run();
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string_view text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string_view{};
  }
  std::optional<std::string> opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return std::string(text(col));
  }
  int column_count() const { return sqlite3_column_count(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  explicit statement(sqlite3_stmt* s) : stmt_(s) {}
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs one or more statements with no parameters and no result rows.
std::expected<void, error> exec(sqlite3* db, std::string_view sql);

}  // namespace pmdb::sqlite
