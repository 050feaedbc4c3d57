#pragma once
// The SQL engines a store runs on, behind one small interface (inside core/ only): a connection
// that prepares statements and runs scripts, and statements shaped like SQLite's (bind by 1-based
// index, step row by row, read columns by 0-based index). SQLite (core/db_sqlite.cpp) and
// PostgreSQL through libpq (core/db_postgresql.cpp) implement it; the store's logic
// (core/event_store.cpp) is written once against it.
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/dialect.hpp"
#include "core/error.hpp"
#include "core/value.hpp"

struct sqlite3;

namespace pmdb::db {

// A cell's storage class, as SQLite names them.
enum class storage { null, integer, real, text, blob };

class statement_impl {
 public:
  virtual ~statement_impl() = default;
  virtual void bind_int(int i, std::int64_t v) = 0;
  virtual void bind_real(int i, double v) = 0;
  // `copy` false: the text stays valid until the statement is reset or rebound.
  virtual void bind_text(int i, std::string_view v, bool copy) = 0;
  virtual void bind_blob(int i, const void* p, std::size_t n) = 0;
  virtual void bind_null(int i) = 0;
  virtual std::expected<bool, error> step() = 0;
  virtual void reset() = 0;
  virtual storage type(int col) const = 0;
  virtual std::int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string_view text(int col) const = 0;  // a blob's bytes for a blob
  virtual int column_count() const = 0;
  // Whether running it cannot write (SQLite knows by preparing; PostgreSQL runs queries in a
  // READ ONLY transaction instead, and says true).
  virtual bool read_only() const = 0;
};

// One prepared statement. Movable, not copyable.
class statement {
 public:
  statement() = default;
  explicit statement(std::unique_ptr<statement_impl> p) : p_(std::move(p)) {}
  statement(statement&&) noexcept = default;
  statement& operator=(statement&&) noexcept = default;

  statement_impl* get() const { return p_.get(); }

  void bind(int i, std::int64_t v) { p_->bind_int(i, v); }
  void bind(int i, double v) { p_->bind_real(i, v); }
  void bind(int i, std::string_view v) { p_->bind_text(i, v, true); }
  void bind(int i, const std::optional<std::string>& v) { v ? bind(i, std::string_view(*v)) : bind_null(i); }
  void bind(int i, const std::optional<double>& v) { v ? bind(i, *v) : bind_null(i); }
  // A typed value: timestamps and durations as integer milliseconds.
  void bind(int i, const value& v);
  void bind_null(int i) { p_->bind_null(i); }
  void bind_static(int i, std::string_view v) { p_->bind_text(i, v, false); }
  void bind_static(int i, const std::optional<std::string>& v) { v ? bind_static(i, std::string_view(*v)) : bind_null(i); }
  void bind_blob(int i, const void* data, std::size_t size) { p_->bind_blob(i, data, size); }

  // Steps once: true when a row is available, false when done; an error otherwise.
  std::expected<bool, error> step() { return p_->step(); }
  // Steps until done (for statements that return no rows).
  std::expected<void, error> run();
  void reset() { p_->reset(); }

  storage type(int col) const { return p_->type(col); }
  bool is_null(int col) const { return p_->type(col) == storage::null; }
  std::int64_t int64(int col) const { return p_->int64(col); }
  double real(int col) const { return p_->real(col); }
  std::string_view text(int col) const { return p_->text(col); }
  std::optional<std::string> opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return std::string(text(col));
  }
  int column_count() const { return p_->column_count(); }
  bool read_only() const { return p_->read_only(); }

 private:
  std::unique_ptr<statement_impl> p_;
};

class connection {
 public:
  virtual ~connection() = default;
  virtual sql_dialect dialect() const = 0;
  // Statements use `?` (and `?N`) placeholders on every engine.
  virtual std::expected<statement, error> prepare(std::string_view sql) = 0;
  // Runs one or more statements with no parameters; their rows, if any, are dropped.
  virtual std::expected<void, error> exec(std::string_view sql) = 0;
  // Runs `COPY … FROM STDIN` with `rows` in COPY's text format (a server's bulk path; SQLite
  // has none and says so).
  virtual std::expected<void, error> copy_in(std::string_view sql, std::string_view rows) = 0;
  // Rows inserted, updated or deleted by the last statement that ran.
  virtual std::int64_t changes() const = 0;
  virtual bool in_transaction() const = 0;
  // Stops the running statement (from a signal handler or another thread).
  virtual void interrupt() const = 0;
  // The SQLite handle (nullptr on another engine).
  virtual ::sqlite3* sqlite_handle() const { return nullptr; }
};

// Wraps an open SQLite handle, which the connection closes.
std::unique_ptr<connection> wrap_sqlite(::sqlite3* db);

// Connects to a PostgreSQL server (`conninfo`: a libpq URI or keyword/value string; libpq's
// PG* environment variables fill in what it leaves out), with search_path = pmdb.
std::expected<std::unique_ptr<connection>, error> connect_postgresql(const std::string& conninfo);

// Whether `target` names a server store rather than a file: a postgresql:// or postgres:// URI,
// or a libpq keyword/value string ("host=… dbname=…").
bool is_server_url(std::string_view target);

// The engines' library versions, for `pmdb --version`: "SQLite 3.40.1, libpq 15.18" (with the
// SQLite loaded at run time when it is not the one pmdb was built with).
std::string library_versions();

// `target` for messages: a URI or keyword/value string without its password.
std::string display_name(std::string_view target);

}  // namespace pmdb::db
