// The SQL functions of schemas/postgresql-functions.sql against the SQLite ones
// (core/sql_functions.cpp and SQLite's built-ins): the same expressions over many random
// inputs, on an in-memory SQLite database and on PostgreSQL, give the same values.
//
// PMDB_TEST_PG is a libpq connection string to an existing database; the test creates its own
// database there when it may (else it works in that database's schema pmdb). Unset, the test
// is skipped with a message, and fails when CI is set.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "core/sql_functions.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "test_util.hpp"

namespace {

using std::int64_t;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string sql_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// A value as both sides print it: integers in decimal, reals in the shortest form that reads
// back, booleans as 0 and 1, NULL as "NULL", an error as "error".
std::string real_text(double d) { return fmt::format("{}", d); }

struct lite {
  sqlite3* db = nullptr;
  lite() {
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    REQUIRE(pmdb::sqlfn::register_functions(db));
  }
  lite(const lite&) = delete;
  lite& operator=(const lite&) = delete;
  ~lite() { sqlite3_close(db); }

  std::vector<std::string> rows(const std::string& sql) const {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return {"error"};
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (i) row += '|';
        switch (sqlite3_column_type(s, i)) {
          case SQLITE_NULL: row += "NULL"; break;
          case SQLITE_FLOAT: row += real_text(sqlite3_column_double(s, i)); break;
          default: row += reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        }
      }
      out.push_back(row);
    }
    if (rc != SQLITE_DONE) out = {"error"};
    sqlite3_finalize(s);
    return out;
  }
  std::string message(const std::string& sql) const {
    sqlite3_stmt* s = nullptr;
    std::string m;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return sqlite3_errmsg(db);
    while (sqlite3_step(s) == SQLITE_ROW) {
    }
    m = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    return m;
  }
};

struct pg {
  PGconn* c = nullptr;
  explicit pg(const std::string& conninfo) { c = PQconnectdb(conninfo.c_str()); }
  pg(const pg&) = delete;
  pg& operator=(const pg&) = delete;
  ~pg() { PQfinish(c); }
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c); }

  // Runs sql; false with the message on an error.
  bool exec(const std::string& sql, std::string* message = nullptr) const {
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    const bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!good && message) *message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : "";
    PQclear(r);
    return good;
  }

  std::vector<std::string> rows(const std::string& sql) const {
    PGresult* r = PQexec(c, sql.c_str());
    std::vector<std::string> out;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      PQclear(r);
      return {"error"};
    }
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string row;
      for (int j = 0; j < PQnfields(r); ++j) {
        if (j) row += '|';
        if (PQgetisnull(r, i, j)) {
          row += "NULL";
          continue;
        }
        const std::string v = PQgetvalue(r, i, j);
        const Oid t = PQftype(r, j);
        if (t == 16) row += v == "t" ? "1" : "0";                        // boolean
        else if (t == 700 || t == 701 || t == 1700) row += real_text(std::stod(v));  // float4, float8, numeric
        else row += v;
      }
      out.push_back(row);
    }
    PQclear(r);
    return out;
  }
};

// The connection string of the test's server, or empty (the test then skips or fails).
std::string server() {
  const char* url = std::getenv("PMDB_TEST_PG");
  if (url && *url) return url;
  if (const char* ci = std::getenv("CI"); ci && *ci)
    FAIL("PMDB_TEST_PG is not set: the PostgreSQL tests need a server (a libpq connection string) in CI");
  MESSAGE("PMDB_TEST_PG is not set: the PostgreSQL function tests are skipped");
  return {};
}

// A database of the test's own, with the functions, removed at the end; or the given one.
struct fixture {
  std::string base;
  std::unique_ptr<pg> admin, db;
  std::string own;
  explicit fixture(std::string url) : base(std::move(url)) {
    admin = std::make_unique<pg>(base);
    REQUIRE_MESSAGE(admin->ok(), "cannot connect to PMDB_TEST_PG: ", admin->error());
    own = fmt::format("pmdb_fn_test_{}", std::random_device{}() % 1000000000u);
    // PMDB_TEST_PG_CREATE: options of CREATE DATABASE, e.g. another collation ("TEMPLATE template0
    // LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.utf8"): the answers must not depend on it.
    const char* options = std::getenv("PMDB_TEST_PG_CREATE");
    if (admin->exec(fmt::format("CREATE DATABASE {} {}", own, options ? options : ""))) {
      db = std::make_unique<pg>(fmt::format("{} dbname={}", base.find("://") == std::string::npos ? base : "", own));
      if (base.find("://") != std::string::npos) {  // a URI: the database is its path
        const auto slash = base.find('/', base.find("://") + 3);
        const auto query = base.find('?');
        std::string uri = slash == std::string::npos ? base + "/" + own
                                                     : base.substr(0, slash + 1) + own +
                                                           (query == std::string::npos ? "" : base.substr(query));
        db = std::make_unique<pg>(uri);
      }
      REQUIRE_MESSAGE(db->ok(), "cannot connect to the test's database: ", db->error());
    } else {
      own.clear();
      db = std::make_unique<pg>(base);
    }
    std::string message;
    REQUIRE_MESSAGE(db->exec(read_file(PMDB_SOURCE_DIR "/schemas/postgresql-functions.sql"), &message), message);
    REQUIRE_MESSAGE(db->exec(read_file(PMDB_SOURCE_DIR "/schemas/postgresql-functions.sql"), &message),
                    "run a second time: ", message);
    REQUIRE(db->exec("SET search_path = pmdb, pg_catalog"));
  }
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;
  ~fixture() {
    db.reset();
    if (!own.empty()) admin->exec(fmt::format("DROP DATABASE IF EXISTS {}", own));
  }
};

// Compares the rows of `lite_sql` on SQLite with those of `pg_sql` on PostgreSQL; counts and
// reports the first differences.
struct differ {
  const lite& l;
  const pg& p;
  int cases = 0, differences = 0;
  void operator()(const std::string& lite_sql, const std::string& pg_sql) {
    ++cases;
    const auto a = l.rows(lite_sql), b = p.rows(pg_sql);
    if (a == b) return;
    if (++differences > 20) return;
    std::string as, bs;
    for (const auto& r : a) as += r + "; ";
    for (const auto& r : b) bs += r + "; ";
    FAIL_CHECK(fmt::format("different answers\n  SQLite:     {}\n    -> {}\n  PostgreSQL: {}\n    -> {}", lite_sql, as, pg_sql, bs));
  }
  void same(const std::string& sql) { (*this)(sql, sql); }
};

const std::vector<std::string> zones = {
    "",        "UTC",           "America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata",
    "Pacific/Chatham", "America/St_Johns", "Europe/London", "CET", "EST5EDT", "Antarctica/Troll",
    "Pacific/Apia", "America/Sao_Paulo", "Asia/Kathmandu", "Europe/Dublin", "America/Los_Angeles",
    "Pacific/Kiritimati", "Africa/Cairo", "Europe/Moscow"};
const std::vector<std::string> parts = {"weekday", "hour_of_day", "day_of_month", "week_of_year", "month_of_year",
                                        "quarter_of_year", "year_number", "year", "quarter", "month",
                                        "week", "day", "hour"};
const std::vector<std::string> units = {"year", "quarter", "month", "week", "day", "hour"};

constexpr int64_t first_ms = -62'167'219'200'000, end_ms = 253'402'300'800'000;

// A random instant: mostly in the years of incidents, often near a DST change (a whole hour
// give or take a few ms), sometimes anywhere in the supported years or just outside them.
int64_t random_ms(std::mt19937_64& rng) {
  const int kind = static_cast<int>(rng() % 10);
  if (kind == 0) return first_ms + static_cast<int64_t>(rng() % static_cast<std::uint64_t>(end_ms - first_ms));
  if (kind == 1) return (rng() % 2 ? first_ms : end_ms) + static_cast<int64_t>(rng() % 5) - 2;
  if (kind <= 4) {  // 1900 to 2040
    return -2'208'988'800'000 + static_cast<int64_t>(rng() % 4'418'000'000'000ull);
  }
  // 2015 to 2030, on an hour or half hour, give or take a little
  const int64_t h = 1'420'070'400'000 + static_cast<int64_t>(rng() % 131'000) * 1'800'000;
  const int64_t jitter[] = {0, 0, 0, -1, 1, -1000, 60'000, -3'600'000};
  return h + jitter[rng() % 8];
}

}  // namespace

TEST_SUITE("pg_functions") {
  TEST_CASE("the functions give SQLite's answers on PostgreSQL") {
    const std::string url = server();
    if (url.empty()) return;
    fixture fx(url);
    lite l;
    differ d{l, *fx.db};
    std::mt19937_64 rng(20261201);

    SUBCASE("calendar") {
      for (int i = 0; i < 3000; ++i) {
        const int64_t ms = random_ms(rng);
        const std::string& z = zones[rng() % zones.size()];
        const std::string& part = parts[rng() % parts.size()];
        const std::string& unit = units[rng() % units.size()];
        d(fmt::format("SELECT CAST(pmdb_cal({0}, '{1}', {2}) AS TEXT), pmdb_bucket_start({0}, '{3}', {2}), "
                      "pmdb_bucket_next({0}, '{3}', {2})",
                      ms, part, sql_quote(z), unit),
          fmt::format("SELECT pmdb_cal({0}, '{1}', {2}), pmdb_bucket_start({0}, '{3}', {2}), "
                      "pmdb_bucket_next({0}, '{3}', {2})",
                      ms, part, sql_quote(z), unit));
        if (i % 10 == 0) {
          const int64_t span = static_cast<int64_t>(rng() % 90) * 86'400'000 / (unit == "hour" ? 24 : 1);
          d.same(fmt::format("SELECT pmdb_buckets({}, {}, '{}', {})", ms, ms + span - 1, unit, sql_quote(z)));
        }
      }
      // Every zone the SQLite functions know, at instants of several years.
      for (const auto& z : pmdb::sqlfn::zone_names()) {
        const int64_t ms = 946'684'800'000 + static_cast<int64_t>(rng() % 1'300'000'000'000ull);
        d.same(fmt::format("SELECT pmdb_cal({0}, 'hour', {1}), pmdb_bucket_start({0}, 'day', {1}), "
                           "pmdb_bucket_next({0}, 'week', {1})",
                           ms, sql_quote(z)));
      }
      // Errors, and NULLs.
      for (const char* e : {"pmdb_cal(0, 'fortnight', 'UTC')", "pmdb_cal(0, 'day', 'Mars/Olympus')",
                            "pmdb_cal(0, 'day', 'localtime')", "pmdb_bucket_start(0, 'week', 'Nowhere')",
                            "pmdb_bucket_next(0, 'minute', 'UTC')", "pmdb_buckets(0, 864000000000000, 'hour', 'UTC')"})
        CHECK(fx.db->rows(fmt::format("SELECT {}", e)) == l.rows(fmt::format("SELECT {}", e)));
      d.same("SELECT pmdb_cal(NULL, 'day', 'UTC'), pmdb_bucket_start(0, NULL, 'UTC'), pmdb_bucket_next(0, 'day', NULL)");
      d.same("SELECT pmdb_buckets(0, NULL, 'day', 'UTC')");
      CHECK(fx.db->rows("SELECT pmdb_cal(0, 'day', 'Mars/Olympus')") == std::vector<std::string>{"error"});
      std::string message;
      fx.db->exec("SELECT pmdb_cal(0, 'day', 'Mars/Olympus')", &message);
      CHECK(message == l.message("SELECT pmdb_cal(0, 'day', 'Mars/Olympus')"));
      fx.db->exec("SELECT pmdb_bucket_start(0, 'minute', 'UTC')", &message);
      CHECK(message == l.message("SELECT pmdb_bucket_start(0, 'minute', 'UTC')"));
    }

    SUBCASE("words and regular expressions") {
      const std::vector<std::string> texts = {
          "The API gateway returned 502", "api-gateway down", "Rapid recovery", "db_primary failover",
          "Café crème brûlée", "CAFÉ", "naïve approach", "x = y + 1", "error: (a+b)*c", "50% loss",
          "line one\nline two\n", "tab\there", "", "a.b.c", "end.", "[bracket] {brace}", "C++ and C#",
          "über-Latenz", "Ünïcode ÉÉ", "foo_bar baz", "ÀPI", "2024-05-01T10:00Z"};
      const std::vector<std::string> phrases = {"api", "API gateway", "gateway", "café", "CAFÉ", "crème", "c",
                                                "c++", "c#", "50%", "loss", "two", "line", "a.b", "end", "b.c",
                                                "bracket", "[bracket]", "foo", "bar", "über", "latenz", "ünïcode",
                                                "éé", "", "(a+b)", "x = y"};
      const std::vector<std::string> patterns = {
          "api", "^The", "502$", "\\bapi\\b", "\\d+", "\\d{3}", "[A-Z]{3}", "gate(way)?", "^$", "two\\n$", "two$",
          "one$", "(?i)CAFÉ", "caf.", "\\w+_\\w+", "\\s", "\\bend\\b", "\\.$", "^[^a-z]*$", "a|b", "(a+b)",
          "\\(a\\+b\\)", "\\x{e9}", "\\p{Lu}", "\\p{L}+-\\p{L}+", "(?<name>foo)_bar", "foo(?=_)", "(?<!_)bar",
          "[\\]]", "[]a]", "\\Bateway", "\\.", "ü", "\\z", "o\\Z", "T\\d\\d:"};
      for (const auto& t : texts) {
        for (const auto& p : phrases)
          d(fmt::format("SELECT pmdb_has_word({}, {})", sql_quote(t), sql_quote(p)),
            fmt::format("SELECT CAST(pmdb_has_word({}, {}) AS integer)", sql_quote(t), sql_quote(p)));
        for (const auto& p : patterns)
          d(fmt::format("SELECT pmdb_regexp({}, {})", sql_quote(p), sql_quote(t)),
            fmt::format("SELECT CAST(pmdb_regexp({}, {}) AS integer)", sql_quote(p), sql_quote(t)));
      }
      d.same("SELECT pmdb_regexp(NULL, 'a'), pmdb_regexp('a', NULL), pmdb_has_word(NULL, 'a'), pmdb_has_word('a', NULL)");
      CHECK(fx.db->rows("SELECT pmdb_regexp('(', 'a')") == std::vector<std::string>{"error"});
    }

    SUBCASE("aggregates") {
      for (int i = 0; i < 300; ++i) {
        const int n = static_cast<int>(rng() % 12);
        const bool real = rng() % 3 == 0;
        std::string ints, reals, intervals;
        for (int j = 0; j < n; ++j) {
          const bool null = rng() % 6 == 0;
          const int64_t v = static_cast<int64_t>(rng() % 40) - 10;
          const int64_t k = static_cast<int64_t>(rng() % 8);  // keys tie often
          const int64_t a = static_cast<int64_t>(rng() % 100), b = a + static_cast<int64_t>(rng() % 30) - 5;
          const std::string sep = j ? " UNION ALL " : "";
          ints += fmt::format("{}SELECT {} AS v, {} AS k, {} AS o", sep, null ? "(0 + NULL)" : std::to_string(v),
                              rng() % 7 == 0 ? "(0 + NULL)" : std::to_string(k), j);
          reals += fmt::format("{}SELECT {} AS v, {} AS k, {} AS o", sep, null ? "(0.5 + NULL)" : fmt::format("{}.25", v), k, j);
          intervals += fmt::format("{}SELECT {} AS a, {} AS b, {} AS o", sep, rng() % 8 == 0 ? "(0 + NULL)" : std::to_string(a), b, j);
        }
        if (n == 0) {
          ints = "SELECT 1 AS v, 1 AS k, 0 AS o WHERE 0 = 1";
          reals = ints;
          intervals = "SELECT 1 AS a, 1 AS b, 0 AS o WHERE 0 = 1";
        }
        const std::string& rows = real ? reals : ints;
        const std::string cast = real ? "double precision" : "bigint";
        const int64_t p = static_cast<int64_t>(rng() % 101);
        const std::string percent = rng() % 4 == 0 ? fmt::format("{}.5", p % 100) : std::to_string(p);
        // The rows in a fixed order: first and last keep the first row of a tie.
        d(fmt::format("SELECT pmdb_percentile(v, {0}), pmdb_first_by(v, k), pmdb_last_by(v, k), "
                      "pmdb_first_by(CAST(o AS TEXT), k), pmdb_last_by(CAST(o AS TEXT), k) "
                      "FROM (SELECT * FROM ({1}) ORDER BY o)",
                      percent, rows),
          fmt::format("SELECT pmdb_percentile(CAST(v AS {2}), {0}), pmdb_first_by(CAST(v AS {2}), CAST(k AS bigint)), "
                      "pmdb_last_by(CAST(v AS {2}), CAST(k AS bigint)), pmdb_first_by(CAST(o AS TEXT), CAST(k AS bigint)), "
                      "pmdb_last_by(CAST(o AS TEXT), CAST(k AS bigint)) FROM (SELECT * FROM ({1}) AS r ORDER BY o) AS s",
                      percent, rows, cast));
        d(fmt::format("SELECT pmdb_union_length(a, b) FROM ({})", intervals),
          fmt::format("SELECT pmdb_union_length(CAST(a AS bigint), CAST(b AS bigint)) FROM ({}) AS r", intervals));
      }
    }

    SUBCASE("JSON") {
      const std::vector<std::string> docs = {
          R"({"title":"API down","org":"GitHub","services":["API","Web"],"severity":"SEV1"})",
          R"({ "title" : "spaced" , "services" : [ "a" , "b\"c" , "d\u00e9" ] , "n" : 1.50, "t": true, "f": false, "z": null })",
          R"({"tags":["impact-start","x"],"nested":{"a":[1,2,{"b":"c"}],"e":{}},"k.dot":"v"})",
          R"({"tags":"not a list","n":-3,"big":1e3,"s":"line\nbreak \/ slash"})",
          R"([1,"two",3.0,null,[4]])", R"("just text")", "42", "true", "null", R"({"a":{"b":{"c":"deep"}}})",
          "not json", "{\"unclosed\": [1, 2}", ""};
      const std::vector<std::string> paths = {"$",        "$.title", "$.services", "$.n",     "$.t",   "$.f",
                                              "$.z",      "$.tags",  "$.nested",   "$.nested.a[2].b", "$[1]",
                                              "$.a.b.c",  "$.missing", "$.\"k.dot\"", "$.s",   "$.big", "$[4]"};
      for (const auto& doc : docs) {
        const std::string q = sql_quote(doc);
        d(fmt::format("SELECT json_valid({})", q), fmt::format("SELECT CAST(json_valid({}) AS integer)", q));
        d.same(fmt::format("SELECT json_type({})", q));
        for (const auto& path : paths) {
          d.same(fmt::format("SELECT CAST(json_extract({0}, '{1}') AS TEXT), json_type({0}, '{1}')", q, path));
          d.same(fmt::format("SELECT key, CAST(value AS TEXT), type, CAST(atom AS TEXT), fullkey, path FROM json_each({}, '{}')", q, path));
        }
        d.same(fmt::format("SELECT key, CAST(value AS TEXT), type FROM json_each({})", q));
      }
      d.same("SELECT json_extract(NULL, '$.a'), json_type(NULL, '$.a'), json_valid(NULL)");
      d.same("SELECT count(*) FROM json_each(NULL)");
    }

    SUBCASE("SQLite's scalar functions") {
      for (int i = 0; i < 500; ++i) {
        const double x = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000) / (rng() % 2 ? 2.0 : 8.0);
        d(fmt::format("SELECT CAST(round({0}) AS INTEGER), round({0})", real_text(x)),
          fmt::format("SELECT CAST(round(CAST({0} AS double precision)) AS bigint), round(CAST({0} AS double precision))", real_text(x)));
        const std::string a = rng() % 5 ? std::to_string(rng() % 100) : "NULL", b = rng() % 5 ? std::to_string(rng() % 100) : "NULL";
        d(fmt::format("SELECT max({0}, {1}), min({0}, {1})", a, b),
          fmt::format("SELECT max(CAST({0} AS bigint), CAST({1} AS bigint)), min(CAST({0} AS bigint), CAST({1} AS bigint))", a, b));
      }
      for (const char* s : {"'abcabc', 'ca'", "'abc', ''", "'', 'a'", "'Café', 'é'", "'abc', 'x'", "NULL, 'a'"})
        d.same(fmt::format("SELECT instr({})", s));
    }
    MESSAGE(d.cases, " expressions compared, ", d.differences, " differ");
  }
}

namespace {

// A copy of a SQLite store's tables in PostgreSQL's schema pmdb: the same columns, INTEGER as
// bigint, REAL as double precision, TEXT as text COLLATE "C", BLOB as bytea.
void copy_tables(sqlite3* from, const pg& to) {
  std::vector<std::string> tables;
  {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(from, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                               -1, &s, nullptr) == SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
  }
  for (const auto& t : tables) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(from, fmt::format("PRAGMA table_info({})", t).c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string ddl;
    std::vector<std::string> types;
    while (sqlite3_step(s) == SQLITE_ROW) {
      const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
      const std::string type = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
      const std::string pt = type == "INTEGER" ? "bigint" : type == "REAL" ? "double precision"
                             : type == "BLOB"  ? "bytea" : "text COLLATE \"C\"";
      ddl += fmt::format("{}\"{}\" {}", ddl.empty() ? "" : ", ", name, pt);
      types.push_back(type);
    }
    sqlite3_finalize(s);
    std::string message;
    REQUIRE_MESSAGE(to.exec(fmt::format("DROP TABLE IF EXISTS pmdb.{0}; CREATE TABLE pmdb.{0} ({1})", t, ddl), &message), message);
    REQUIRE(sqlite3_prepare_v2(from, fmt::format("SELECT * FROM {}", t).c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string values;
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        std::string v;
        switch (sqlite3_column_type(s, i)) {
          case SQLITE_NULL: v = "NULL"; break;
          case SQLITE_INTEGER: v = std::to_string(sqlite3_column_int64(s, i)); break;
          case SQLITE_FLOAT: v = fmt::format("{}", sqlite3_column_double(s, i)); break;
          case SQLITE_BLOB: {
            const auto* b = static_cast<const unsigned char*>(sqlite3_column_blob(s, i));
            v = "'\\x";
            for (int k = 0; k < sqlite3_column_bytes(s, i); ++k) v += fmt::format("{:02x}", b[k]);
            v += "'";
            break;
          }
          default: v = sql_quote(reinterpret_cast<const char*>(sqlite3_column_text(s, i)));
        }
        row += (row.empty() ? "" : ", ") + v;
      }
      values += fmt::format("{}({})", values.empty() ? "" : ", ", row);
    }
    sqlite3_finalize(s);
    if (!values.empty())
      REQUIRE_MESSAGE(to.exec(fmt::format("INSERT INTO pmdb.{} VALUES {}", t, values), &message), message);
  }
}

// A cell as text, the same on both sides for the column's declared type.
std::string cell(const std::string& text, pmdb::value_type t, bool boolean) {
  if (boolean && (text == "t" || text == "f")) return text == "t" ? "1" : "0";
  if (t == pmdb::value_type::real) return real_text(std::stod(text));
  if (t == pmdb::value_type::integer || t == pmdb::value_type::timestamp || t == pmdb::value_type::duration) {
    const double d = std::stod(text);
    if (text.find_first_not_of("-0123456789") != std::string::npos && d == std::floor(d))
      return std::to_string(static_cast<int64_t>(d));
  }
  return text;
}

using rows_or_error = std::vector<std::vector<std::string>>;

rows_or_error lite_rows(sqlite3* db, const pmdb::query::compiled_query& q) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, q.sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return {{"error", sqlite3_errmsg(db)}};
  for (std::size_t i = 0; i < q.params.size(); ++i) {
    const int k = static_cast<int>(i + 1);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, pmdb::null_value>) sqlite3_bind_null(s, k);
          else if constexpr (std::is_same_v<T, std::int64_t>) sqlite3_bind_int64(s, k, v);
          else if constexpr (std::is_same_v<T, double>) sqlite3_bind_double(s, k, v);
          else if constexpr (std::is_same_v<T, std::string>) sqlite3_bind_text(s, k, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
          else sqlite3_bind_int64(s, k, v.ms);
        },
        q.params[i]);
  }
  rows_or_error out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      const auto t = i < static_cast<int>(q.columns.size()) ? q.columns[i].type : pmdb::value_type::text;
      const bool b = i < static_cast<int>(q.booleans.size()) && q.booleans[i];
      switch (sqlite3_column_type(s, i)) {
        case SQLITE_NULL: row.emplace_back("NULL"); break;
        case SQLITE_FLOAT: row.push_back(cell(fmt::format("{}", sqlite3_column_double(s, i)), t, b)); break;
        default: row.push_back(cell(reinterpret_cast<const char*>(sqlite3_column_text(s, i)), t, b));
      }
    }
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) out = {{"error", sqlite3_errmsg(db)}};
  sqlite3_finalize(s);
  return out;
}

// The statement with `?` as $1, $2... outside quoted text, its parameters typed as the
// PostgreSQL store binds them.
rows_or_error pg_rows(const pg& p, const pmdb::query::compiled_query& q) {
  std::string sql;
  int n = 0;
  char quote = 0;
  for (char c : q.sql) {
    if (quote) {
      if (c == quote) quote = 0;
      sql += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      sql += c;
    } else if (c == '?') {
      sql += fmt::format("${}", ++n);
    } else {
      sql += c;
    }
  }
  std::vector<std::string> texts;
  std::vector<Oid> types;
  for (const auto& v : q.params) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, pmdb::null_value>) { texts.emplace_back(); types.push_back(0); }
          else if constexpr (std::is_same_v<T, std::int64_t>) { texts.push_back(std::to_string(x)); types.push_back(20); }
          else if constexpr (std::is_same_v<T, double>) { texts.push_back(fmt::format("{}", x)); types.push_back(701); }
          else if constexpr (std::is_same_v<T, std::string>) { texts.push_back(x); types.push_back(25); }
          else { texts.push_back(std::to_string(x.ms)); types.push_back(20); }
        },
        v);
  }
  std::vector<const char*> values;
  for (std::size_t i = 0; i < texts.size(); ++i)
    values.push_back(std::holds_alternative<pmdb::null_value>(q.params[i]) ? nullptr : texts[i].c_str());
  PGresult* r = PQexecParams(p.c, sql.c_str(), static_cast<int>(values.size()), types.data(), values.data(), nullptr,
                             nullptr, 0);
  rows_or_error out;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    out = {{"error", PQresultErrorMessage(r)}};
  } else {
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r); ++j) {
        const auto t = j < static_cast<int>(q.columns.size()) ? q.columns[j].type : pmdb::value_type::text;
        const bool b = j < static_cast<int>(q.booleans.size()) && q.booleans[j];
        row.push_back(PQgetisnull(r, i, j) ? "NULL" : cell(PQgetvalue(r, i, j), t, b));
      }
      out.push_back(std::move(row));
    }
  }
  PQclear(r);
  return out;
}

std::string shown(const rows_or_error& rows) {
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) out += (i ? "|" : "") + r[i];
    out += "\n";
  }
  return out;
}

}  // namespace

namespace {

// The statements of one PMQL file (queries, or a script: `.asof` and `.import` are followed,
// other dot-commands skipped) compiled for both dialects, run on both, their rows compared.
struct golden_run {
  pmdb::event_store& store;
  sqlite3* db;
  const pg& p;
  int statements = 0, differences = 0;

  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT id FROM incidents ORDER BY id", -1, &s, nullptr) == SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    return out;
  }

  void statements_of(const std::string& name, const std::string& text, pmdb::query::context& lite_ctx,
                     pmdb::query::context& pg_ctx) {
    auto script = pmdb::query::parse(text);
    if (!script) return;  // parse errors, or statements that write
    const auto cat = pmdb::query::catalog::of(ids());
    for (const auto& stmt : script->statements) {
      auto a = pmdb::query::compile(stmt, cat, lite_ctx, text);
      auto b = pmdb::query::compile(stmt, cat, pg_ctx, text);
      if (!a || !b) {
        CHECK(!a == !b);
        continue;
      }
      if (auto* use = std::get_if<pmdb::query::set_incident>(&*a)) {
        lite_ctx.current_incident = pg_ctx.current_incident = use->incident;
        continue;
      }
      const auto* qa = std::get_if<pmdb::query::run_query>(&*a);
      const auto* qb = std::get_if<pmdb::query::run_query>(&*b);
      if (!qa || !qb) continue;
      ++statements;
      const auto ra = lite_rows(db, qa->query), rb = pg_rows(p, qb->query);
      if (ra == rb) continue;
      ++differences;
      FAIL_CHECK(fmt::format("{}: a statement gives other rows on PostgreSQL\n  SQLite rows:\n{}\n  PostgreSQL rows:\n{}\n"
                             "  SQLite SQL: {}\n  PostgreSQL SQL: {}",
                             name, shown(ra), shown(rb), qa->query.sql, qb->query.sql));
    }
  }

  void file(const std::filesystem::path& path) {
    pmdb::query::context lite_ctx, pg_ctx;
    lite_ctx.now = pg_ctx.now = 1'735'689'600'000;  // 2025-01-01: `now` the same on both
    pg_ctx.dialect = pmdb::sql_dialect::postgresql;
    std::istringstream in(read_file(path.string()));
    std::string line, chunk;
    const std::string name = path.filename().string();
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '.') {
        chunk += line + "\n";
        continue;
      }
      statements_of(name, chunk, lite_ctx, pg_ctx);
      chunk.clear();
      std::istringstream words(line);
      std::string command, arg;
      words >> command >> arg;
      if (command == ".asof") {
        const auto t = pmdb::parse_timestamp(arg);
        lite_ctx.as_of = pg_ctx.as_of = t ? std::optional<int64_t>(t->ms) : std::nullopt;
      } else if (command == ".import") {
        std::ifstream data(pmdb::test::source_dir() / arg);
        (void)pmdb::import_jsonl(store, data, arg);  // a refused file writes nothing, on both
        copy_tables(db, p);
      }
    }
    statements_of(name, chunk, lite_ctx, pg_ctx);
  }
};

}  // namespace

TEST_SUITE("pg_functions") {
  TEST_CASE("the golden queries and scripts give SQLite's rows on PostgreSQL") {
    const std::string url = server();
    if (url.empty()) return;
    fixture fx(url);
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("pmdb-pg-golden-{}", std::random_device{}());
    std::filesystem::create_directories(dir);
    std::vector<std::filesystem::path> files;
    for (const char* d : {"tests/golden/queries", "tests/golden/scripts"})
      for (const auto& e : std::filesystem::directory_iterator(pmdb::test::source_dir() / d))
        if (e.path().extension() == ".pmq") files.push_back(e.path());
    for (const auto& e : std::filesystem::directory_iterator(pmdb::test::source_dir() / "examples"))
      if (e.path().extension() == ".pmq") files.push_back(e.path());
    files.push_back(pmdb::test::source_dir() / "tests/data/pg-dialect.pmq");
    std::sort(files.begin(), files.end());
    int statements = 0, differences = 0;
    for (const auto& f : files) {
      // Each file on a fresh demo store: scripts import into it.
      const std::string path = (dir / fmt::format("{}.pmdb", f.stem().string())).string();
      auto st = pmdb::event_store::open(path, {}).value();
      for (const char* jsonl : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl"}) {
        std::ifstream in(pmdb::test::source_dir() / jsonl);
        REQUIRE(pmdb::import_jsonl(st, in, jsonl));
      }
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
      REQUIRE(pmdb::sqlfn::register_functions(db));
      copy_tables(db, *fx.db);
      golden_run run{st, db, *fx.db};
      run.file(f);
      statements += run.statements;
      differences += run.differences;
      sqlite3_close(db);
    }
    MESSAGE(statements, " statements run on both, ", differences, " differ");
    CHECK(statements > 50);
    std::filesystem::remove_all(dir);
  }
}
