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
  statement(statement&& o) noexcept
      : stmt_(std::exchange(o.stmt_, nullptr)), bind_rc_(o.bind_rc_), bind_index_(o.bind_index_) {}
  statement& operator=(statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    std::swap(bind_rc_, o.bind_rc_);
    std::swap(bind_index_, o.bind_index_);
    return *this;
  }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }

  static std::expected<statement, error> prepare(sqlite3* db, std::string_view sql);

  // Binding: 1-based index. Strings are copied by SQLite. A bind that fails (a value over
  // SQLite's length limit, a bad index) is not lost: the next step() returns it as an error.
  void bind(int i, std::int64_t v) { checked(i, sqlite3_bind_int64(stmt_, i, v)); }
  void bind(int i, double v) { checked(i, sqlite3_bind_double(stmt_, i, v)); }
  void bind(int i, std::string_view v) {
    checked(i, sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bind(int i, const std::optional<std::string>& v) {
    if (v) bind(i, std::string_view(*v)); else bind_null(i);
  }
  void bind(int i, const std::optional<double>& v) {
    if (v) bind(i, *v); else bind_null(i);
  }
  void bind_null(int i) { checked(i, sqlite3_bind_null(stmt_, i)); }
  // Binds without copying: the text must stay valid until the statement is reset or rebound.
  void bind_static(int i, std::string_view v) {
    checked(i, sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  void bind_static(int i, const std::optional<std::string>& v) {
    if (v) bind_static(i, std::string_view(*v)); else bind_null(i);
  }
  void bind_blob(int i, const void* data, std::size_t size) {
    checked(i, sqlite3_bind_blob64(stmt_, i, data, size, SQLITE_TRANSIENT));
  }

  // Steps once: true when a row is available, false when done; an error otherwise.
  std::expected<bool, error> step();
  // Steps until done (for statements that return no rows).
  std::expected<void, error> run();
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_rc_ = SQLITE_OK;
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
  int bind_rc_ = SQLITE_OK;  // the first failed bind since the last step or reset
  int bind_index_ = 0;
  void checked(int i, int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
      bind_rc_ = rc;
      bind_index_ = i;
    }
  }
};

// Runs one or more statements with no parameters and no result rows.
std::expected<void, error> exec(sqlite3* db, std::string_view sql);

}  // namespace pmdb::sqlite
