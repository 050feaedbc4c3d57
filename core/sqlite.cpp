#include "core/sqlite.hpp"

#include <fmt/format.h>

namespace pmdb::sqlite {

error last_error(sqlite3* db, std::string_view doing) {
  const int code = sqlite3_extended_errcode(db);
  std::string msg = sqlite3_errmsg(db);
  if (code == SQLITE_INTERRUPT) return error(errc::interrupted, "interrupted");
  const int primary = code & 0xff;
  if (primary == SQLITE_NOTADB) msg = "file is not a database";
  if (primary == SQLITE_CORRUPT)
    msg = fmt::format("the store file is damaged ({}); `pmdb verify` names the damage", msg);
  const errc kind = primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT ? errc::corrupt
                    : primary == SQLITE_READONLY                        ? errc::read_only
                                                                        : errc::other;
  return error(kind, fmt::format("{}: {}", doing, msg));
}

std::expected<statement, error> statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(s);
    return std::unexpected(last_error(db, "preparing a statement"));
  }
  return statement(s);
}

std::expected<bool, error> statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    const int rc = std::exchange(bind_rc_, SQLITE_OK);
    if (rc == SQLITE_TOOBIG)
      return std::unexpected(error(errc::invalid, fmt::format("binding parameter {}: a value longer than SQLite's limit of {} bytes",
                                                              bind_index_, sqlite3_limit(sqlite3_db_handle(stmt_), SQLITE_LIMIT_LENGTH, -1))));
    return std::unexpected(error(fmt::format("binding parameter {}: {}", bind_index_, sqlite3_errstr(rc))));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(last_error(sqlite3_db_handle(stmt_), "running a statement"));
}

std::expected<void, error> statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return std::unexpected(r.error());
    if (!*r) return {};
  }
}

std::expected<void, error> exec(sqlite3* db, std::string_view sql) {
  std::string s(sql);
  char* msg = nullptr;
  if (sqlite3_exec(db, s.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    error e(msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return std::unexpected(e);
  }
  return {};
}

}  // namespace pmdb::sqlite
