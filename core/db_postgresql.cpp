// core/db.hpp on PostgreSQL, through libpq.
//
// Statements are written with SQLite's `?` and `?N` placeholders and rewritten to `$N`. A
// statement is prepared on the server when it first runs, with the types of the values bound
// then (bigint, double precision, text, bytea; a null is left for the server to infer), and
// prepared again when a later run binds other types: `?` means what it means on SQLite, a value
// of the bound value's type. Parameters travel as text (a blob as binary); results come back as
// text and are read by their column's type.
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/db.hpp"

namespace pmdb::db {

namespace {

// Type oids (PostgreSQL's catalog/pg_type.h, which libpq-dev does not ship).
constexpr Oid bool_oid = 16, bytea_oid = 17, int8_oid = 20, int2_oid = 21, int4_oid = 23, oid_oid = 26,
              float4_oid = 700, float8_oid = 701, numeric_oid = 1700, text_oid = 25;

// `?` and `?N` to `$N`, outside quoted text, quoted names and comments. Returns the number of
// parameters (the highest N).
int rewrite_placeholders(std::string_view sql, std::string& out) {
  out.clear();
  out.reserve(sql.size() + 16);
  int next = 0, highest = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const std::size_t end = sql.find(c, i + 1);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t end = sql.find('\n', i);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '?') {
      std::size_t j = i + 1;
      int n = 0;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) n = n * 10 + (sql[j++] - '0');
      if (j == i + 1) n = ++next;
      else next = n;
      highest = std::max(highest, n);
      out += '$';
      out += std::to_string(n);
      i = j - 1;
    } else {
      out += c;
    }
  }
  return highest;
}

error result_error(const PGresult* res, PGconn* conn, std::string_view doing) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = primary ? primary : PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const std::string_view code = state ? state : "";
  if (code == "57014") return error(errc::interrupted, "interrupted");
  if (code == "25006") return error(errc::read_only, fmt::format("{}: {}", doing, msg));
  if (code == "42501") return error(errc::read_only, fmt::format("{}: permission denied: {}", doing, msg));
  if (code == "23505" || code == "40001" || code == "40P01") return error(errc::conflict, fmt::format("{}: {}", doing, msg));
  if (code.starts_with("08") || PQstatus(conn) != CONNECTION_OK)
    return error(fmt::format("{}: the connection to the server was lost: {}", doing, msg));
  return error(fmt::format("{}: {}", doing, msg));
}

class pg_connection;

class pg_statement final : public statement_impl {
 public:
  pg_statement(pg_connection& c, std::string sql, int params);
  ~pg_statement() override;
  void bind_int(int i, std::int64_t v) override { set(i, int8_oid, std::to_string(v), 0); }
  void bind_real(int i, double v) override { set(i, float8_oid, fmt::format("{}", v), 0); }
  void bind_text(int i, std::string_view v, bool) override { set(i, text_oid, std::string(v), 0); }
  void bind_blob(int i, const void* p, std::size_t n) override {
    set(i, bytea_oid, std::string(static_cast<const char*>(p), n), 1);
  }
  void bind_null(int i) override {
    if (i < 1 || i > params_) return;
    types_[i - 1] = 0;
    null_[i - 1] = true;
  }
  std::expected<bool, error> step() override;
  void reset() override {
    clear_result();
    for (int i = 0; i < params_; ++i) bind_null(i + 1);
  }
  storage type(int col) const override {
    if (!res_ || row_ < 0 || PQgetisnull(res_, row_, col)) return storage::null;
    switch (PQftype(res_, col)) {
      case bool_oid:
      case int8_oid:
      case int4_oid:
      case int2_oid:
      case oid_oid: return storage::integer;
      case float4_oid:
      case float8_oid: return storage::real;
      case numeric_oid: {  // sum() and avg() of integers: integral ones read as integers
        const char* v = PQgetvalue(res_, row_, col);
        return std::strpbrk(v, ".eEN") ? storage::real : storage::integer;
      }
      case bytea_oid: return storage::blob;
      default: return storage::text;
    }
  }
  std::int64_t int64(int col) const override {
    if (!res_ || row_ < 0 || PQgetisnull(res_, row_, col)) return 0;
    const char* v = PQgetvalue(res_, row_, col);
    if (PQftype(res_, col) == bool_oid) return *v == 't' ? 1 : 0;
    if (std::strpbrk(v, ".eEN")) return static_cast<std::int64_t>(std::strtod(v, nullptr));  // SQLite: toward zero
    return std::strtoll(v, nullptr, 10);
  }
  double real(int col) const override {
    if (!res_ || row_ < 0 || PQgetisnull(res_, row_, col)) return 0;
    const char* v = PQgetvalue(res_, row_, col);
    if (PQftype(res_, col) == bool_oid) return *v == 't' ? 1 : 0;
    return std::strtod(v, nullptr);
  }
  std::string_view text(int col) const override {
    if (!res_ || row_ < 0 || PQgetisnull(res_, row_, col)) return {};
    const char* v = PQgetvalue(res_, row_, col);
    if (PQftype(res_, col) == bool_oid) return *v == 't' ? "1" : "0";
    if (PQftype(res_, col) == bytea_oid) {
      if (decoded_.size() < static_cast<std::size_t>(PQnfields(res_))) decoded_.resize(PQnfields(res_));
      std::size_t n = 0;
      unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &n);
      decoded_[col].assign(reinterpret_cast<const char*>(raw), raw ? n : 0);
      PQfreemem(raw);
      return decoded_[col];
    }
    return {v, static_cast<std::size_t>(PQgetlength(res_, row_, col))};
  }
  int column_count() const override;
  bool read_only() const override { return true; }

 private:
  void set(int i, Oid type, std::string v, int format) {
    if (i < 1 || i > params_) return;
    types_[i - 1] = type;
    values_[i - 1] = std::move(v);
    formats_[i - 1] = format;
    null_[i - 1] = false;
  }
  void clear_result() {
    if (res_) PQclear(res_);
    res_ = nullptr;
    row_ = -1;
  }

  pg_connection& c_;
  std::string sql_;
  int params_;
  std::string name_;  // the server-side name once prepared
  std::vector<Oid> prepared_types_, types_;
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> null_;
  PGresult* res_ = nullptr;
  int row_ = -1;
  mutable std::vector<std::string> decoded_;
};

class pg_connection final : public connection {
 public:
  explicit pg_connection(PGconn* conn) : conn_(conn), cancel_(PQgetCancel(conn)) {}
  ~pg_connection() override {
    if (cancel_) PQfreeCancel(cancel_);
    PQfinish(conn_);
  }
  sql_dialect dialect() const override { return sql_dialect::postgresql; }
  std::expected<statement, error> prepare(std::string_view sql) override {
    std::string rewritten;
    const int params = rewrite_placeholders(sql, rewritten);
    return statement(std::make_unique<pg_statement>(*this, std::move(rewritten), params));
  }
  std::expected<void, error> exec(std::string_view sql) override {
    PGresult* res = PQexec(conn_, std::string(sql).c_str());
    const auto st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
      error e = result_error(res, conn_, "running a statement");
      PQclear(res);
      return std::unexpected(std::move(e));
    }
    changes_ = std::atoll(PQcmdTuples(res));
    PQclear(res);
    return {};
  }
  std::expected<void, error> copy_in(std::string_view sql, std::string_view rows) override {
    PGresult* res = PQexec(conn_, std::string(sql).c_str());
    if (PQresultStatus(res) != PGRES_COPY_IN) {
      error e = result_error(res, conn_, "starting a COPY");
      PQclear(res);
      return std::unexpected(std::move(e));
    }
    PQclear(res);
    // In pieces of 1 MiB: libpq buffers what it cannot send at once.
    bool sent = true;
    for (std::size_t i = 0; sent && i < rows.size(); i += 1 << 20) {
      const std::string_view piece = rows.substr(i, 1 << 20);
      sent = PQputCopyData(conn_, piece.data(), static_cast<int>(piece.size())) == 1;
    }
    if (PQputCopyEnd(conn_, sent ? nullptr : "pmdb could not send the rows") != 1)
      return std::unexpected(result_error(nullptr, conn_, "ending a COPY"));
    std::expected<void, error> out;
    while (PGresult* r = PQgetResult(conn_)) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && out) out = std::unexpected(result_error(r, conn_, "copying rows"));
      else if (out) changes_ = std::atoll(PQcmdTuples(r));
      PQclear(r);
    }
    return out;
  }
  std::int64_t changes() const override { return changes_; }
  bool in_transaction() const override { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }
  void interrupt() const override {
    char buf[256];
    if (cancel_) (void)PQcancel(cancel_, buf, sizeof buf);
  }

  PGconn* conn_;
  PGcancel* cancel_;
  std::int64_t changes_ = 0;
  std::uint64_t names_ = 0;
};

pg_statement::pg_statement(pg_connection& c, std::string sql, int params)
    : c_(c), sql_(std::move(sql)), params_(params), types_(params, 0), values_(params), formats_(params, 0),
      null_(params, true) {}

pg_statement::~pg_statement() {
  clear_result();
  if (!name_.empty() && PQtransactionStatus(c_.conn_) != PQTRANS_INERROR)
    PQclear(PQexec(c_.conn_, fmt::format("DEALLOCATE {}", name_).c_str()));
}

int pg_statement::column_count() const {
  if (res_) return PQnfields(res_);
  // Not run yet: the prepared statement's description says.
  if (name_.empty()) return 0;
  PGresult* d = PQdescribePrepared(c_.conn_, name_.c_str());
  const int n = d ? PQnfields(d) : 0;
  PQclear(d);
  return n;
}

std::expected<bool, error> pg_statement::step() {
  if (!res_) {
    if (name_.empty() || types_ != prepared_types_) {
      if (!name_.empty()) PQclear(PQexec(c_.conn_, fmt::format("DEALLOCATE {}", name_).c_str()));
      name_ = fmt::format("pmdb_{}", ++c_.names_);
      PGresult* p = PQprepare(c_.conn_, name_.c_str(), sql_.c_str(), params_, types_.data());
      if (PQresultStatus(p) != PGRES_COMMAND_OK) {
        error e = result_error(p, c_.conn_, "preparing a statement");
        PQclear(p);
        name_.clear();
        return std::unexpected(std::move(e));
      }
      PQclear(p);
      prepared_types_ = types_;
    }
    std::vector<const char*> ptrs(params_);
    std::vector<int> lengths(params_);
    for (int i = 0; i < params_; ++i) {
      ptrs[i] = null_[i] ? nullptr : values_[i].c_str();
      lengths[i] = static_cast<int>(values_[i].size());
    }
    res_ = PQexecPrepared(c_.conn_, name_.c_str(), params_, ptrs.data(), lengths.data(), formats_.data(), 0);
    const auto st = PQresultStatus(res_);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      error e = result_error(res_, c_.conn_, "running a statement");
      clear_result();
      return std::unexpected(std::move(e));
    }
    c_.changes_ = std::atoll(PQcmdTuples(res_));
    row_ = -1;
  }
  if (PQresultStatus(res_) != PGRES_TUPLES_OK) return false;
  if (row_ + 1 >= PQntuples(res_)) {
    row_ = PQntuples(res_);
    return false;
  }
  ++row_;
  return true;
}

void no_notices(void*, const char*) {}

}  // namespace

std::string libpq_version() {
  const int v = PQlibVersion();  // 150018: 15.18
  return fmt::format("libpq {}.{}", v / 10000, v % 10000);
}

std::expected<std::unique_ptr<connection>, error> connect_postgresql(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (!conn) return std::unexpected(error("cannot connect: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(conn);
    return std::unexpected(error(errc::not_found, fmt::format("cannot connect to the server: {}", msg)));
  }
  PQsetNoticeProcessor(conn, no_notices, nullptr);
  auto c = std::make_unique<pg_connection>(conn);
  if (auto r = c->exec("SET search_path = pmdb, pg_catalog; SET client_encoding = 'UTF8'; "
                       "SET client_min_messages = warning");
      !r)
    return std::unexpected(r.error());
  return c;
}

bool is_server_url(std::string_view target) {
  const auto lower_starts = [&](std::string_view prefix) {
    if (target.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(target[i])) != prefix[i]) return false;
    return true;
  };
  if (lower_starts("postgresql://") || lower_starts("postgres://")) return true;
  // A keyword/value string: `keyword=` first (host=, dbname=, service=, …).
  std::size_t i = 0;
  while (i < target.size() && target[i] == ' ') ++i;
  const std::size_t start = i;
  while (i < target.size() && (std::isalpha(static_cast<unsigned char>(target[i])) || target[i] == '_')) ++i;
  if (i == start) return false;
  while (i < target.size() && target[i] == ' ') ++i;
  return i < target.size() && target[i] == '=';
}

std::string display_name(std::string_view target) {
  std::string out(target);
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto at = out.find('@', scheme);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    if (const auto pw = out.find("password="); pw != std::string::npos) {
      const auto end = out.find('&', pw);
      out.erase(pw, end == std::string::npos ? std::string::npos : end - pw + 1);
      while (!out.empty() && (out.back() == '?' || out.back() == '&')) out.pop_back();
    }
    return out;
  }
  if (const auto pw = out.find("password"); pw != std::string::npos) {
    auto end = out.find(' ', out.find('=', pw));
    out.erase(pw, end == std::string::npos ? std::string::npos : end - pw + 1);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

}  // namespace pmdb::db
