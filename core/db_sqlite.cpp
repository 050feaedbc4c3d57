// core/db.hpp on SQLite: a thin shell over core/sqlite.hpp.
#include <sqlite3.h>

#include <fmt/format.h>

#include "core/db.hpp"
#include "core/sqlite.hpp"

namespace pmdb::db {

void statement::bind(int i, const value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, null_value>) bind_null(i);
        else if constexpr (std::is_same_v<T, std::int64_t>) bind(i, x);
        else if constexpr (std::is_same_v<T, double>) bind(i, x);
        else if constexpr (std::is_same_v<T, std::string>) bind(i, std::string_view(x));
        else bind(i, x.ms);
      },
      v);
}

std::expected<void, error> statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return std::unexpected(r.error());
    if (!*r) return {};
  }
}

namespace {

class sqlite_statement final : public statement_impl {
 public:
  explicit sqlite_statement(sqlite::statement s) : s_(std::move(s)) {}
  void bind_int(int i, std::int64_t v) override { s_.bind(i, v); }
  void bind_real(int i, double v) override { s_.bind(i, v); }
  void bind_text(int i, std::string_view v, bool copy) override { copy ? s_.bind(i, v) : s_.bind_static(i, v); }
  void bind_blob(int i, const void* p, std::size_t n) override { s_.bind_blob(i, p, n); }
  void bind_null(int i) override { s_.bind_null(i); }
  std::expected<bool, error> step() override { return s_.step(); }
  void reset() override { s_.reset(); }
  storage type(int col) const override {
    switch (sqlite3_column_type(s_.get(), col)) {
      case SQLITE_NULL: return storage::null;
      case SQLITE_INTEGER: return storage::integer;
      case SQLITE_FLOAT: return storage::real;
      case SQLITE_TEXT: return storage::text;
      default: return storage::blob;
    }
  }
  std::int64_t int64(int col) const override { return s_.int64(col); }
  double real(int col) const override { return s_.real(col); }
  std::string_view text(int col) const override {
    if (sqlite3_column_type(s_.get(), col) == SQLITE_BLOB) {
      const void* p = sqlite3_column_blob(s_.get(), col);
      return {static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col))};
    }
    return s_.text(col);
  }
  int column_count() const override { return s_.column_count(); }
  bool read_only() const override { return sqlite3_stmt_readonly(s_.get()) != 0; }

 private:
  sqlite::statement s_;
};

class sqlite_connection final : public connection {
 public:
  explicit sqlite_connection(::sqlite3* db) : db_(db) {}
  ~sqlite_connection() override { sqlite3_close_v2(db_); }
  sql_dialect dialect() const override { return sql_dialect::sqlite; }
  std::expected<statement, error> prepare(std::string_view sql) override {
    auto s = sqlite::statement::prepare(db_, sql);
    if (!s) return std::unexpected(s.error());
    return statement(std::make_unique<sqlite_statement>(std::move(*s)));
  }
  std::expected<void, error> exec(std::string_view sql) override { return sqlite::exec(db_, sql); }
  std::expected<void, error> copy_in(std::string_view, std::string_view) override {
    return std::unexpected(error("COPY is a server's"));
  }
  std::int64_t changes() const override { return sqlite3_changes64(db_); }
  bool in_transaction() const override { return sqlite3_get_autocommit(db_) == 0; }
  void interrupt() const override { sqlite3_interrupt(db_); }
  ::sqlite3* sqlite_handle() const override { return db_; }

 private:
  ::sqlite3* db_;
};

}  // namespace

std::string libpq_version();  // db_postgresql.cpp

std::string library_versions() {
  const std::string_view loaded = sqlite3_libversion();
  return fmt::format("SQLite {}{}, {}", SQLITE_VERSION, loaded == SQLITE_VERSION ? "" : fmt::format(" (loaded: {})", loaded),
                     libpq_version());
}

std::unique_ptr<connection> wrap_sqlite(::sqlite3* db) { return std::make_unique<sqlite_connection>(db); }

}  // namespace pmdb::db
