#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include "core/event_store.hpp"
#include "core/store_access.hpp"
#include "core/sql_functions.hpp"
#include "core/time.hpp"

using namespace pmdb;

namespace {

constexpr std::int64_t minute = 60'000, hour = 60 * minute, day = 24 * hour;

std::int64_t at(std::string_view iso) { return parse_timestamp(iso).value().ms; }

// A bare connection with the functions, as event_store::open sets them up.
struct conn {
  sqlite3* db = nullptr;
  conn() {
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    REQUIRE(sqlfn::register_functions(db));
  }
  conn(const conn&) = delete;
  conn& operator=(const conn&) = delete;
  ~conn() { sqlite3_close(db); }

  // The first column of the first row as text ("NULL" for null), or "error: " and the message.
  std::string one(const std::string& sql) const {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      return fmt::format("error: {}", sqlite3_errmsg(db));
    std::string out;
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
      out = sqlite3_column_type(s, 0) == SQLITE_NULL ? "NULL" : reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    else if (rc != SQLITE_DONE)
      out = fmt::format("error: {}", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return out;
  }
  std::int64_t num(const std::string& sql) const {
    const std::string v = one(sql);
    INFO(sql, " -> ", v);
    REQUIRE(v.find_first_not_of("-0123456789") == std::string::npos);
    return std::stoll(v);
  }
  void exec(const std::string& sql) const {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
    INFO(sql, ": ", msg ? msg : "");
    sqlite3_free(msg);
    REQUIRE(rc == SQLITE_OK);
  }
};

std::string cal(const conn& c, std::int64_t ms, std::string_view part, std::string_view zone) {
  return c.one(fmt::format("SELECT pmdb_cal({}, '{}', '{}')", ms, part, zone));
}
std::int64_t start(const conn& c, std::int64_t ms, std::string_view unit, std::string_view zone) {
  return c.num(fmt::format("SELECT pmdb_bucket_start({}, '{}', '{}')", ms, unit, zone));
}
std::int64_t next(const conn& c, std::int64_t ms, std::string_view unit, std::string_view zone) {
  return c.num(fmt::format("SELECT pmdb_bucket_next({}, '{}', '{}')", ms, unit, zone));
}

// A small deterministic generator (no seed-dependent flakiness).
struct lcg {
  std::uint64_t state;
  std::uint64_t operator()(std::uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  }
};

// SQLite's own answer for what pmdb_cal and the bucket functions compute in UTC: strftime, and
// for the ISO week the expression PMQL compiled week(t) to before pmdb_cal existed.
constexpr std::string_view secs = "(ms / 1000.0)";
std::string strftime_of(std::string_view fmt_) { return fmt::format("strftime('{}', {}, 'unixepoch')", fmt_, secs); }
std::string thursday() {
  return fmt::format("({} + (3 - (CAST(strftime('%w', {}, 'unixepoch') AS INTEGER) + 6) % 7) * 86400)", secs, secs);
}
std::string iso_week_sql() {
  return fmt::format("(strftime('%Y', {0}, 'unixepoch') || '-W' || printf('%02d', (CAST(strftime('%j', {0}, "
                     "'unixepoch') AS INTEGER) + 6) / 7))",
                     thursday());
}
std::string month_number() { return fmt::format("CAST({} AS INTEGER)", strftime_of("%m")); }
std::string ms_of(std::string_view modifiers) {
  return fmt::format("(CAST(strftime('%s', {}, 'unixepoch', {}) AS INTEGER) * 1000)", secs, modifiers);
}

}  // namespace

TEST_SUITE("sql_functions") {
  TEST_CASE("every store connection has the functions") {
    auto s = event_store::open(":memory:", {.durable = false}).value();
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(pmdb::store_access::sqlite_handle(s), "SELECT pmdb_cal(1733959020000, 'week', 'America/Los_Angeles')", -1, &st,
                               nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "2024-W50");
    sqlite3_finalize(st);
  }

  TEST_CASE("in UTC the calendar equals SQLite's strftime from 1970 to 2100") {
    conn c;
    c.exec("CREATE TABLE t(ms INTEGER)");
    std::vector<std::int64_t> times;
    lcg rng{42};
    const std::int64_t end = at("2100-01-01T00:00:00Z");
    for (int i = 0; i < 7'500; ++i) times.push_back(static_cast<std::int64_t>(rng(static_cast<std::uint64_t>(end))));
    // Around every new year the ISO week-year differs from the calendar year.
    for (int y = 1970; y < 2100; ++y)
      for (int d = -4; d < 4; ++d) {
        const std::int64_t midnight = days_from_civil(y, 1, 1) * day + d * day;
        times.push_back(midnight);
        times.push_back(midnight + day - 1);
      }
    times.insert(times.end(), {-1, -day, -day - 1, 0, end - 1});
    c.exec("BEGIN");
    for (auto t : times) c.exec(fmt::format("INSERT INTO t VALUES ({})", t));
    c.exec("COMMIT");
    REQUIRE(c.num("SELECT count(*) FROM t") > 9'500);

    const std::string month_start = ms_of("'start of month'");
    const std::map<std::string, std::string> expected = {
        {"pmdb_cal(ms, 'year', '')", strftime_of("%Y")},
        {"pmdb_cal(ms, 'month', '')", strftime_of("%Y-%m")},
        {"pmdb_cal(ms, 'day', '')", strftime_of("%Y-%m-%d")},
        {"pmdb_cal(ms, 'hour', '')", strftime_of("%Y-%m-%d %H:00")},
        {"pmdb_cal(ms, 'week', '')", iso_week_sql()},
        {"pmdb_cal(ms, 'quarter', '')", fmt::format("{} || '-Q' || (({} + 2) / 3)", strftime_of("%Y"), month_number())},
        {"pmdb_cal(ms, 'weekday', '')", fmt::format("(CAST({} AS INTEGER) + 6) % 7 + 1", strftime_of("%w"))},
        {"pmdb_cal(ms, 'hour_of_day', '')", fmt::format("CAST({} AS INTEGER)", strftime_of("%H"))},
        {"pmdb_cal(ms, 'day_of_month', '')", fmt::format("CAST({} AS INTEGER)", strftime_of("%d"))},
        {"pmdb_cal(ms, 'week_of_year', '')",
         fmt::format("(CAST(strftime('%j', {}, 'unixepoch') AS INTEGER) + 6) / 7", thursday())},
        {"pmdb_cal(ms, 'month_of_year', '')", month_number()},
        {"pmdb_cal(ms, 'quarter_of_year', '')", fmt::format("({} + 2) / 3", month_number())},
        {"pmdb_cal(ms, 'year_number', '')", fmt::format("CAST({} AS INTEGER)", strftime_of("%Y"))},
        {"pmdb_bucket_start(ms, 'year', '')", ms_of("'start of year'")},
        {"pmdb_bucket_start(ms, 'quarter', '')",
         fmt::format("(CAST(strftime('%s', {}, 'unixepoch', 'start of month', printf('-%d months', ({} - 1) % 3)) AS "
                     "INTEGER) * 1000)",
                     secs, month_number())},
        {"pmdb_bucket_start(ms, 'month', '')", month_start},
        {"pmdb_bucket_start(ms, 'week', '')", ms_of("'start of day', '-6 days', 'weekday 1'")},
        {"pmdb_bucket_start(ms, 'day', '')", ms_of("'start of day'")},
        {"pmdb_bucket_start(ms, 'hour', '')",
         fmt::format("(CAST(strftime('%s', {}) AS INTEGER) * 1000)", strftime_of("%Y-%m-%d %H:00:00"))},
        {"pmdb_bucket_next(ms, 'year', '')", ms_of("'start of year', '+1 year'")},
        {"pmdb_bucket_next(ms, 'quarter', '')",
         fmt::format("(CAST(strftime('%s', {}, 'unixepoch', 'start of month', printf('+%d months', 3 - ({} - 1) % 3)) "
                     "AS INTEGER) * 1000)",
                     secs, month_number())},
        {"pmdb_bucket_next(ms, 'month', '')", ms_of("'start of month', '+1 month'")},
        {"pmdb_bucket_next(ms, 'week', '')", ms_of("'start of day', '-6 days', 'weekday 1', '+7 days'")},
        {"pmdb_bucket_next(ms, 'day', '')", ms_of("'start of day', '+1 day'")},
        {"pmdb_bucket_next(ms, 'hour', '')",
         fmt::format("(CAST(strftime('%s', {}) AS INTEGER) * 1000 + 3600000)", strftime_of("%Y-%m-%d %H:00:00"))},
    };
    for (const auto& [ours, theirs] : expected) {
      INFO(ours, " vs ", theirs, ", e.g. ", c.one(fmt::format("SELECT ms FROM t WHERE {} IS NOT {}", ours, theirs)));
      CHECK(c.num(fmt::format("SELECT count(*) FROM t WHERE {} IS NOT {}", ours, theirs)) == 0);
    }
    // 'UTC' and the zone Etc/UTC are UTC too.
    CHECK(c.num("SELECT count(*) FROM t WHERE pmdb_cal(ms, 'hour', 'UTC') IS NOT pmdb_cal(ms, 'hour', '') OR "
                "pmdb_cal(ms, 'week', 'Etc/UTC') IS NOT pmdb_cal(ms, 'week', '')") == 0);
    // The labels sort in time order.
    for (const auto* unit : {"year", "quarter", "month", "week", "day", "hour"})
      CHECK(c.num(fmt::format("SELECT count(*) FROM (SELECT pmdb_cal(ms, '{0}', '') AS b, lag(pmdb_cal(ms, '{0}', '')) "
                              "OVER (ORDER BY ms) AS before FROM t) WHERE b < before",
                              unit)) == 0);

    const std::int64_t t = at("2024-12-11T23:17:00Z");
    CHECK(cal(c, t, "year", "") == "2024");
    CHECK(cal(c, t, "quarter", "") == "2024-Q4");
    CHECK(cal(c, t, "month", "") == "2024-12");
    CHECK(cal(c, t, "week", "") == "2024-W50");
    CHECK(cal(c, t, "day", "") == "2024-12-11");
    CHECK(cal(c, t, "hour", "") == "2024-12-11 23:00");
    CHECK(cal(c, t, "weekday", "") == "3");
    CHECK(cal(c, at("2024-12-30T12:00:00Z"), "week", "") == "2025-W01");
    CHECK(cal(c, at("2024-12-30T12:00:00Z"), "year_number", "") == "2024");
    CHECK(cal(c, at("2024-12-30T12:00:00Z"), "week_of_year", "") == "1");
    CHECK(cal(c, at("2021-01-03T12:00:00Z"), "week", "") == "2020-W53");
    CHECK(c.one(fmt::format("SELECT typeof(pmdb_cal({}, 'hour_of_day', ''))", t)) == "integer");
  }

  TEST_CASE("America/Los_Angeles across the 2024 DST transitions") {
    conn c;
    const std::string_view la = "America/Los_Angeles";
    // Spring forward: 2024-03-10 02:00 PST becomes 03:00 PDT (10:00Z).
    CHECK(start(c, at("2024-03-10T12:00:00Z"), "day", la) == at("2024-03-10T08:00:00Z"));
    CHECK(next(c, at("2024-03-10T12:00:00Z"), "day", la) == at("2024-03-11T07:00:00Z"));
    CHECK(next(c, at("2024-03-10T12:00:00Z"), "day", la) - start(c, at("2024-03-10T12:00:00Z"), "day", la) == 23 * hour);
    CHECK(cal(c, at("2024-03-10T09:59:59Z"), "hour_of_day", la) == "1");
    CHECK(cal(c, at("2024-03-10T10:00:00Z"), "hour_of_day", la) == "3");
    CHECK(cal(c, at("2024-03-10T10:00:00Z"), "hour", la) == "2024-03-10 03:00");
    CHECK(start(c, at("2024-03-10T09:30:00Z"), "hour", la) == at("2024-03-10T09:00:00Z"));
    CHECK(next(c, at("2024-03-10T09:30:00Z"), "hour", la) == at("2024-03-10T10:00:00Z"));
    CHECK(start(c, at("2024-03-10T10:30:00Z"), "hour", la) == at("2024-03-10T10:00:00Z"));
    CHECK(cal(c, at("2024-03-10T07:59:59Z"), "day_of_month", la) == "9");
    CHECK(cal(c, at("2024-03-10T08:00:00Z"), "day_of_month", la) == "10");

    // Fall back: 2024-11-03 02:00 PDT becomes 01:00 PST (09:00Z); 01:00-02:00 happens twice.
    CHECK(start(c, at("2024-11-03T12:00:00Z"), "day", la) == at("2024-11-03T07:00:00Z"));
    CHECK(next(c, at("2024-11-03T12:00:00Z"), "day", la) == at("2024-11-04T08:00:00Z"));
    CHECK(next(c, at("2024-11-03T12:00:00Z"), "day", la) - start(c, at("2024-11-03T12:00:00Z"), "day", la) == 25 * hour);
    CHECK(cal(c, at("2024-11-03T08:30:00Z"), "hour_of_day", la) == "1");
    CHECK(cal(c, at("2024-11-03T09:30:00Z"), "hour_of_day", la) == "1");
    CHECK(cal(c, at("2024-11-03T10:00:00Z"), "hour_of_day", la) == "2");
    CHECK(cal(c, at("2024-11-03T09:30:00Z"), "hour", la) == "2024-11-03 01:00");
    // One label, one bucket: the hour 01:00 lasts two hours, from its earlier instant.
    CHECK(start(c, at("2024-11-03T09:30:00Z"), "hour", la) == at("2024-11-03T08:00:00Z"));
    CHECK(next(c, at("2024-11-03T08:30:00Z"), "hour", la) == at("2024-11-03T10:00:00Z"));
    CHECK(next(c, at("2024-11-03T09:30:00Z"), "hour", la) == at("2024-11-03T10:00:00Z"));
    // The ISO week holding that Sunday, Monday to Monday, is an hour longer.
    CHECK(start(c, at("2024-11-03T12:00:00Z"), "week", la) == at("2024-10-28T07:00:00Z"));
    CHECK(next(c, at("2024-11-03T12:00:00Z"), "week", la) == at("2024-11-04T08:00:00Z"));

    // The local date, not UTC's: 03:00Z on Wednesday the 11th is Tuesday evening in California.
    CHECK(cal(c, at("2024-12-11T03:00:00Z"), "weekday", la) == "2");
    CHECK(cal(c, at("2024-12-11T03:00:00Z"), "day", la) == "2024-12-10");
    CHECK(cal(c, at("2024-12-11T03:00:00Z"), "weekday", "") == "3");
    CHECK(cal(c, at("2025-01-01T07:59:00Z"), "year", la) == "2024");
    CHECK(cal(c, at("2025-01-01T07:59:00Z"), "quarter_of_year", la) == "4");

    // The zone may differ from row to row (a column): nothing cached is reused for another zone.
    CHECK(c.one("SELECT group_concat(pmdb_cal(0, 'hour_of_day', column1), ',') FROM (VALUES ('UTC'), "
                "('America/Los_Angeles'), ('Asia/Kolkata'), (''))") == "0,16,5,0");
  }

  TEST_CASE("months are 28 to 31 days long, and in a zone their real length") {
    conn c;
    const std::array<int, 12> days_in = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int y = 2023; y <= 2025; ++y)
      for (unsigned m = 1; m <= 12; ++m) {
        CAPTURE(y);
        CAPTURE(m);
        const std::int64_t mid = days_from_civil(y, m, 15) * day;
        const int n = days_in[m - 1] + (m == 2 && y == 2024);
        CHECK(start(c, mid, "month", "") == days_from_civil(y, m, 1) * day);
        CHECK(next(c, mid, "month", "") - start(c, mid, "month", "") == n * day);
        CHECK(cal(c, mid, "month", "") == fmt::format("{}-{:02}", y, m));
        if (y == 2024)
          CHECK(next(c, mid, "month", "America/Los_Angeles") - start(c, mid, "month", "America/Los_Angeles") ==
                n * day - (m == 3) * hour + (m == 11) * hour);
      }
    const std::int64_t t = at("2024-02-10T00:00:00Z");
    CHECK(next(c, t, "quarter", "") - start(c, t, "quarter", "") == 91 * day);
    CHECK(next(c, t, "year", "") - start(c, t, "year", "") == 366 * day);
    CHECK(next(c, t, "week", "") - start(c, t, "week", "") == 7 * day);
    CHECK(start(c, at("2024-12-11T23:17:00Z"), "quarter", "Europe/Paris") == at("2024-09-30T22:00:00Z"));
    CHECK(next(c, at("2024-12-11T23:17:00Z"), "quarter", "Europe/Paris") == at("2024-12-31T23:00:00Z"));
  }

  TEST_CASE("a day that starts in a DST gap starts when the gap ends") {
    conn c;
    // America/Santiago springs forward at midnight: 2024-09-08 00:00 -04 is 01:00 -03 (04:00Z).
    const std::string_view scl = "America/Santiago";
    CHECK(start(c, at("2024-09-08T12:00:00Z"), "day", scl) == at("2024-09-08T04:00:00Z"));
    CHECK(next(c, at("2024-09-07T12:00:00Z"), "day", scl) == at("2024-09-08T04:00:00Z"));
    CHECK(next(c, at("2024-09-08T12:00:00Z"), "day", scl) == at("2024-09-09T03:00:00Z"));
    CHECK(cal(c, at("2024-09-08T04:00:00Z"), "hour", scl) == "2024-09-08 01:00");
    CHECK(cal(c, at("2024-09-08T03:59:59Z"), "day", scl) == "2024-09-07");
    // America/Havana too (2024-03-10 00:00 CST is 01:00 CDT, 05:00Z), and it falls back at 01:00
    // CDT to 00:00 CST: midnight of 2024-11-03 happens twice, and the day starts at the first.
    const std::string_view hav = "America/Havana";
    CHECK(start(c, at("2024-03-10T12:00:00Z"), "day", hav) == at("2024-03-10T05:00:00Z"));
    CHECK(start(c, at("2024-11-03T12:00:00Z"), "day", hav) == at("2024-11-03T04:00:00Z"));
    CHECK(next(c, at("2024-11-02T12:00:00Z"), "day", hav) == at("2024-11-03T04:00:00Z"));
    CHECK(next(c, at("2024-11-03T12:00:00Z"), "day", hav) == at("2024-11-04T05:00:00Z"));
    CHECK(cal(c, at("2024-11-03T04:30:00Z"), "hour", hav) == "2024-11-03 00:00");
    CHECK(cal(c, at("2024-11-03T05:30:00Z"), "hour", hav) == "2024-11-03 00:00");
    // Samoa skipped 2011-12-30 entirely: the 29th (UTC-10) is followed by the 31st (UTC+14).
    const std::string_view apia = "Pacific/Apia";
    CHECK(cal(c, at("2011-12-30T09:59:59Z"), "day", apia) == "2011-12-29");
    CHECK(cal(c, at("2011-12-30T10:00:00Z"), "day", apia) == "2011-12-31");
    CHECK(next(c, at("2011-12-29T12:00:00Z"), "day", apia) == at("2011-12-30T10:00:00Z"));
    CHECK(start(c, at("2011-12-30T12:00:00Z"), "day", apia) == at("2011-12-30T10:00:00Z"));
    CHECK(c.one(fmt::format("SELECT pmdb_buckets({}, {}, 'day', '{}')", at("2011-12-29T12:00:00Z"),
                            at("2011-12-31T09:00:00Z"), apia)) ==
          fmt::format("[{},{}]", at("2011-12-29T10:00:00Z"), at("2011-12-30T10:00:00Z")));
  }

  TEST_CASE("pmdb_buckets lists the buckets an interval touches") {
    conn c;
    const auto buckets = [&](std::string_view from, std::string_view to, std::string_view unit, std::string_view zone) {
      return c.one(fmt::format("SELECT pmdb_buckets({}, {}, '{}', '{}')", at(from), at(to), unit, zone));
    };
    CHECK(buckets("2024-01-15T00:00:00Z", "2024-04-02T00:00:00Z", "month", "") ==
          fmt::format("[{},{},{},{}]", at("2024-01-01T00:00:00Z"), at("2024-02-01T00:00:00Z"),
                      at("2024-03-01T00:00:00Z"), at("2024-04-01T00:00:00Z")));
    // The end is excluded; an empty or reversed interval is the bucket of its start.
    CHECK(buckets("2024-01-15T00:00:00Z", "2024-04-01T00:00:00Z", "month", "") ==
          fmt::format("[{},{},{}]", at("2024-01-01T00:00:00Z"), at("2024-02-01T00:00:00Z"), at("2024-03-01T00:00:00Z")));
    CHECK(buckets("2024-02-10T00:00:00Z", "2024-02-10T00:00:00Z", "month", "") ==
          fmt::format("[{}]", at("2024-02-01T00:00:00Z")));
    CHECK(buckets("2024-02-10T00:00:00Z", "2024-01-10T00:00:00Z", "month", "") ==
          fmt::format("[{}]", at("2024-02-01T00:00:00Z")));
    CHECK(buckets("2024-02-15T00:00:00Z", "2024-05-01T00:00:00Z", "month", "America/Los_Angeles") ==
          fmt::format("[{},{},{}]", at("2024-02-01T08:00:00Z"), at("2024-03-01T08:00:00Z"), at("2024-04-01T07:00:00Z")));

    // How the compiler splits an incident into calendar months: the pieces add up to the whole.
    const std::int64_t s = at("2024-01-20T13:00:00Z"), e = at("2024-04-03T02:30:00Z");
    CHECK(c.num(fmt::format("SELECT count(*) FROM json_each(pmdb_buckets({0}, {1}, 'month', 'Europe/Paris'))", s, e)) ==
          4);
    CHECK(c.num(fmt::format("SELECT sum(min({1}, pmdb_bucket_next(value, 'month', 'Europe/Paris')) - max({0}, value)) "
                            "FROM json_each(pmdb_buckets({0}, {1}, 'month', 'Europe/Paris'))",
                            s, e)) == e - s);

    CHECK(c.num(fmt::format("SELECT json_array_length(pmdb_buckets(0, {}, 'hour', ''))", 100'000 * hour)) == 100'000);
    CHECK(c.one(fmt::format("SELECT pmdb_buckets(0, {}, 'hour', '')", 100'000 * hour + 1)) ==
          "error: interval from 1970-01-01T00:00:00Z to 1981-05-29T16:00:00.001Z spans more than 100000 hour buckets");
  }

  TEST_CASE("NULLs, unknown zones, parts and units") {
    conn c;
    CHECK(c.one("SELECT pmdb_cal(NULL, 'day', '')") == "NULL");
    CHECK(c.one("SELECT pmdb_bucket_start(NULL, 'day', 'Europe/Paris')") == "NULL");
    CHECK(c.one("SELECT pmdb_bucket_next(NULL, 'day', '')") == "NULL");
    CHECK(c.one("SELECT pmdb_buckets(0, NULL, 'day', '')") == "NULL");
    CHECK(c.one("SELECT pmdb_cal(0, 'day', 'Mars/Olympus')") == "error: unknown time zone 'Mars/Olympus'");
    CHECK(c.one("SELECT pmdb_bucket_start(0, 'day', 'localtime')") == "error: unknown time zone 'localtime'");
    CHECK(c.one("SELECT pmdb_cal(0, 'fortnight', '')").starts_with("error: pmdb_cal: unknown part 'fortnight' (one of "));
    CHECK(c.one("SELECT pmdb_buckets(0, 1, 'fortnight', '')")
              .starts_with("error: pmdb_buckets: unknown unit 'fortnight' (one of year, quarter"));
    CHECK(c.one("SELECT pmdb_bucket_next(0, 'weekday', '')").starts_with("error: pmdb_bucket_next: unknown unit 'weekday'"));
    // Outside the years 0000 to 9999, like strftime: NULL.
    CHECK(c.one("SELECT pmdb_cal(253402300799999, 'hour', '')") == "9999-12-31 23:00");
    CHECK(c.one("SELECT pmdb_cal(253402300800000, 'year', '')") == "NULL");
    CHECK(c.one("SELECT pmdb_cal(-62167219200000, 'day', '')") == "0000-01-01");
    CHECK(c.one("SELECT pmdb_cal(-62167219200001, 'day', '')") == "NULL");
    CHECK(c.one("SELECT pmdb_cal(-1, 'hour', '')") == "1969-12-31 23:00");

    CHECK(sqlfn::known_zone(""));
    CHECK(sqlfn::known_zone("UTC"));
    CHECK(sqlfn::known_zone("America/Los_Angeles"));
    CHECK(sqlfn::known_zone("US/Pacific"));
    CHECK_FALSE(sqlfn::known_zone("america/los_angeles"));
    CHECK_FALSE(sqlfn::known_zone("Mars/Olympus"));
    CHECK_FALSE(sqlfn::known_zone("localtime"));
    const auto names = sqlfn::zone_names();
    CHECK(names.size() > 400);
    CHECK(std::ranges::is_sorted(names));
    CHECK(std::ranges::binary_search(names, std::string("America/Los_Angeles")));
    CHECK(std::ranges::binary_search(names, std::string("Europe/Paris")));
    CHECK_FALSE(std::ranges::binary_search(names, std::string("localtime")));
  }

  TEST_CASE("pmdb_union_length against a minute grid") {
    conn c;
    c.exec("CREATE TABLE iv(g INTEGER, s INTEGER, e INTEGER)");
    CHECK(c.one("SELECT pmdb_union_length(s, e) FROM iv") == "NULL");
    lcg rng{7};
    std::map<int, std::optional<std::int64_t>> expected;
    constexpr int grid = 600;
    c.exec("BEGIN");
    for (int g = 0; g < 300; ++g) {
      std::array<bool, grid> covered{};
      bool any = false;
      const int rows = 1 + static_cast<int>(rng(10));
      for (int r = 0; r < rows; ++r) {
        const int s = static_cast<int>(rng(grid)), len = static_cast<int>(rng(120)) - 10;  // some reversed
        const int e = std::min(grid, s + len);
        const auto kind = rng(10);
        if (kind == 0) {
          c.exec(fmt::format("INSERT INTO iv VALUES ({}, NULL, {})", g, e * minute));
          continue;
        }
        if (kind == 1) {
          c.exec(fmt::format("INSERT INTO iv VALUES ({}, {}, NULL)", g, s * minute));
          continue;
        }
        c.exec(fmt::format("INSERT INTO iv VALUES ({}, {}, {})", g, s * minute, e * minute));
        if (e < s) continue;
        any = true;
        for (int m = s; m < e; ++m) covered[static_cast<std::size_t>(m)] = true;
      }
      expected[g] = any ? std::optional(std::ranges::count(covered, true) * minute) : std::nullopt;
    }
    c.exec("COMMIT");
    int compared = 0;
    for (const auto& [g, length] : expected) {
      CAPTURE(g);
      CHECK(c.one(fmt::format("SELECT pmdb_union_length(s, e) FROM iv WHERE g = {}", g)) ==
            (length ? std::to_string(*length) : "NULL"));
      ++compared;
    }
    CHECK(compared == 300);

    const auto union_of = [&](std::string_view rows) {
      return c.one(fmt::format("SELECT pmdb_union_length(column1, column2) FROM (VALUES {})", rows));
    };
    CHECK(union_of("(0, 10), (10, 20)") == "20");           // touching
    CHECK(union_of("(0, 100), (10, 20)") == "100");         // nested
    CHECK(union_of("(40, 60), (0, 50)") == "60");           // overlapping, out of order
    CHECK(union_of("(0, 10), (20, 30), (5, 25)") == "30");  // one bridging two
    CHECK(union_of("(0, 10), (20, 30)") == "20");           // apart
    CHECK(union_of("(5, 5)") == "0");                       // empty, but a row
    CHECK(union_of("(NULL, 5), (5, NULL), (9, 3)") == "NULL");
  }

  TEST_CASE("pmdb_first_by and pmdb_last_by keep the value of the least and greatest key") {
    conn c;
    c.exec("CREATE TABLE r(g, v, k)");
    c.exec("INSERT INTO r VALUES (1, 'a', 3), (1, 2, 1), (1, 'x', NULL), (1, 2.5, 1), (1, 'z', 9), (1, x'00ff', 9), "
           "(2, '5', 4), (2, NULL, 2), (3, 'y', NULL)");
    CHECK(c.one("SELECT pmdb_first_by(v, k) FROM r WHERE g = 1") == "2");
    CHECK(c.one("SELECT typeof(pmdb_first_by(v, k)) FROM r WHERE g = 1") == "integer");
    CHECK(c.one("SELECT pmdb_last_by(v, k) FROM r WHERE g = 1") == "z");
    CHECK(c.one("SELECT typeof(pmdb_last_by(v, k)) FROM r WHERE g = 1") == "text");
    CHECK(c.one("SELECT typeof(pmdb_last_by(v, k)) FROM r WHERE g = 2") == "text");
    CHECK(c.one("SELECT pmdb_first_by(v, k) FROM r WHERE g = 2") == "NULL");  // the value at the least key is NULL
    CHECK(c.one("SELECT pmdb_first_by(v, k) FROM r WHERE g = 3") == "NULL");  // no key
    CHECK(c.one("SELECT pmdb_last_by(v, k) FROM r WHERE g = 4") == "NULL");   // no row
    CHECK(c.one("SELECT group_concat(f || '/' || l, ' ') FROM (SELECT pmdb_first_by(v, k) AS f, pmdb_last_by(v, k) "
                "AS l FROM r WHERE g < 3 GROUP BY g)") == "2/z");
  }

  TEST_CASE("pmdb_percentile is the nearest rank the window formula computes") {
    // The formula PMQL compiled percentiles to before the aggregate: row_number() over the
    // group's values in ascending order (NULLs last), and the value at rank
    // max(1, ceil(count · p / 100)).
    conn c;
    c.exec("CREATE TABLE r(g, v)");
    lcg rng{7};
    std::string values;
    for (int g = 0; g < 60; ++g) {
      const auto n = rng(12);  // 0 to 11 rows, some groups with none
      for (std::uint64_t i = 0; i < n; ++i) {
        const auto kind = rng(10);
        const std::string v = kind == 0   ? "NULL"
                              : kind == 1 ? fmt::format("{}.5", rng(50))
                                          : std::to_string(static_cast<std::int64_t>(rng(100)) - 20);
        values += fmt::format("{}({}, {})", values.empty() ? "" : ", ", g, v);
      }
    }
    c.exec("INSERT INTO r VALUES " + values);
    c.exec("INSERT INTO r VALUES (100, NULL), (100, NULL)");  // only NULLs
    for (const std::string p : {"0", "1", "25", "50", "90", "99", "100", "12.5", "99.9", "0.1"}) {
      CAPTURE(p);
      const std::string want = c.one(fmt::format(
          "SELECT group_concat(g || ':' || coalesce(x, 'null') || ':' || coalesce(typeof(x), ''), ' ') FROM (SELECT g, "
          "max(CASE WHEN rn = max(1, CAST(t AS INTEGER) + (t > CAST(t AS INTEGER))) THEN v END) AS x FROM (SELECT g, v, "
          "row_number() OVER (PARTITION BY g ORDER BY v IS NULL, v) AS rn, count(v) OVER (PARTITION BY g) * {} / 100.0 "
          "AS t FROM r) GROUP BY g ORDER BY g)",
          p));
      const std::string got = c.one(fmt::format(
          "SELECT group_concat(g || ':' || coalesce(x, 'null') || ':' || coalesce(typeof(x), ''), ' ') FROM (SELECT g, "
          "pmdb_percentile(v, {}) AS x FROM r GROUP BY g ORDER BY g)",
          p));
      CHECK(got == want);
      CHECK(got.find(":null") != std::string::npos);  // a group of NULLs
    }
    CHECK(c.one("SELECT pmdb_percentile(v, 50) FROM r WHERE g < 0") == "NULL");  // no row
  }

  TEST_CASE("pmdb_regexp: PCRE2, UTF-8, bounded") {
    conn c;
    CHECK(c.one("SELECT pmdb_regexp('^a.c$', 'abc')") == "1");
    CHECK(c.one("SELECT pmdb_regexp('^a.c$', 'ABC')") == "0");
    CHECK(c.one("SELECT pmdb_regexp('(?i)^a.c$', 'ABC')") == "1");
    CHECK(c.one("SELECT pmdb_regexp('b', 'abc')") == "1");  // a search, not a whole match
    CHECK(c.one("SELECT pmdb_regexp('\\d{3}', 'HTTP 503')") == "1");
    CHECK(c.one("SELECT pmdb_regexp('^\\w+$', 'héllo')") == "1");  // Unicode classes
    CHECK(c.one("SELECT pmdb_regexp('^.$', 'é')") == "1");         // characters, not bytes
    CHECK(c.one("SELECT pmdb_regexp('(?i)ÉCLAIR', 'un éclair')") == "1");
    CHECK(c.one("SELECT pmdb_regexp('', '')") == "1");
    CHECK(c.one("SELECT pmdb_regexp('^$', x'')") == "1");
    CHECK(c.one("SELECT pmdb_regexp(NULL, 'abc')") == "NULL");
    CHECK(c.one("SELECT pmdb_regexp('a', NULL)") == "NULL");
    // The pattern may change from row to row.
    CHECK(c.one("SELECT group_concat(pmdb_regexp(column1, column2), ',') FROM (VALUES ('a', 'xa'), ('b', 'xa'), "
                "('^x', 'xa'))") == "1,0,1");

    CHECK(c.one("SELECT pmdb_regexp('a(b', 'ab')") ==
          "error: invalid regular expression /a(b/: at offset 3: missing closing parenthesis");
    CHECK(sqlfn::regex_error("a(b") == "at offset 3: missing closing parenthesis");
    CHECK(sqlfn::regex_error("(?i)rate.?limit") == std::nullopt);
    CHECK(sqlfn::regex_error("x{2,1}").has_value());

    // Catastrophic backtracking stops at the limit, with an error, in milliseconds.
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.one("SELECT pmdb_regexp('(a+)+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!')") ==
          "error: regular expression too costly on this text (backtracking limit reached): /(a+)+$/");
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("(a+)+$ gave up after ", std::chrono::duration_cast<std::chrono::microseconds>(took).count(), " us");
    CHECK(took < std::chrono::seconds(2));

    // Invalid UTF-8 in a subject: no crash, the valid parts still match, the bad bytes match nothing.
    CHECK(c.one("SELECT pmdb_regexp('b', CAST(x'61ff62' AS TEXT))") == "1");
    CHECK(c.one("SELECT pmdb_regexp('^a.b$', CAST(x'61ff62' AS TEXT))") == "0");
    CHECK(c.one("SELECT pmdb_regexp('a', CAST(x'ff' AS TEXT))") == "0");
    CHECK(c.one("SELECT pmdb_regexp('ok$', CAST(x'6f6bc3' AS TEXT))") == "0");  // a truncated sequence at the end
    CHECK(c.one("SELECT pmdb_regexp('ok', CAST(x'6f6bc3' AS TEXT))") == "1");
  }

  TEST_CASE("pmdb_has_word: a whole word or phrase, any case") {
    conn c;
    const auto has_word = [&](std::string_view subject, std::string_view phrase) {
      sqlite3_stmt* s = nullptr;
      REQUIRE(sqlite3_prepare_v2(c.db, "SELECT pmdb_has_word(?, ?)", -1, &s, nullptr) == SQLITE_OK);
      sqlite3_bind_text(s, 1, subject.data(), static_cast<int>(subject.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(s, 2, phrase.data(), static_cast<int>(phrase.size()), SQLITE_TRANSIENT);
      REQUIRE(sqlite3_step(s) == SQLITE_ROW);
      const int v = sqlite3_column_int(s, 0);
      sqlite3_finalize(s);
      return v;
    };
    CHECK(has_word("Copilot AI Model Providers", "copilot") == 1);
    CHECK(has_word("Copilots", "copilot") == 0);
    CHECK(has_word("GitHub Copilot", "COPILOT") == 1);
    CHECK(has_word("hit the rate limit again", "rate limit") == 1);
    CHECK(has_word("ratelimit", "rate limit") == 0);
    CHECK(has_word("the rate limiter", "rate limit") == 0);
    CHECK(has_word("x-ray", "x") == 1);   // '-' is not a word character
    CHECK(has_word("v2", "v") == 0);      // a digit is
    CHECK(has_word("my_api", "api") == 0);  // and so is '_'
    CHECK(has_word("ÉCLAIR au café", "éclair") == 1);
    CHECK(has_word("éclairs", "éclair") == 0);
    CHECK(has_word("aéclair", "éclair") == 0);  // a letter beyond ASCII is a word character
    // Metacharacters are literal.
    CHECK(has_word("costs $5.00 (approx)", "$5.00") == 1);
    CHECK(has_word("costs $5x00", "$5.00") == 0);
    CHECK(has_word("see (approx) here", "(approx)") == 1);
    CHECK(has_word("a+b", "a+b") == 1);
    CHECK(has_word("aab", "a+b") == 0);
    CHECK(has_word("path C:\\temp\\E here", "C:\\temp\\E") == 1);
    CHECK(has_word("[x] done", "[x]") == 1);
    CHECK(has_word("tab\there", "tab\there") == 1);
    CHECK(has_word("a b", "") == 0);
    CHECK(c.one("SELECT pmdb_has_word(NULL, 'x')") == "NULL");
    CHECK(c.one("SELECT pmdb_has_word('x', NULL)") == "NULL");
    CHECK(c.one("SELECT pmdb_has_word(CAST(x'ff20636f70696c6f74' AS TEXT), 'copilot')") == "1");
    CHECK(c.one("SELECT pmdb_has_word(CAST(x'636f70696c6f74ff' AS TEXT), 'copilot')") == "1");
  }

  // A measurement, not a check (about five seconds): run it with -tc='the cost*' --no-skip.
  TEST_CASE("the cost of pmdb_cal over a million rows, against strftime" * doctest::skip()) {
    conn c;
    // One row a minute from 2024-01-01: about two years, four DST transitions in California.
    c.exec("CREATE TABLE t(ms INTEGER)");
    c.exec("INSERT INTO t WITH RECURSIVE r(ms) AS (SELECT 1704067200000 UNION ALL SELECT ms + 60000 FROM r LIMIT "
           "1000000) SELECT ms FROM r");
    const auto time_of = [&](const std::string& expr) {
      const auto t0 = std::chrono::steady_clock::now();
      REQUIRE_FALSE(c.one(fmt::format("SELECT max({}) FROM t", expr)).starts_with("error"));
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    };
    const auto scan = time_of("ms");
    const auto strftime_day = time_of(strftime_of("%Y-%m-%d"));
    const auto cal_day = time_of("pmdb_cal(ms, 'day', '')");
    const auto cal_day_la = time_of("pmdb_cal(ms, 'day', 'America/Los_Angeles')");
    const auto strftime_week = time_of(iso_week_sql());
    const auto cal_week = time_of("pmdb_cal(ms, 'week', '')");
    const auto cal_hour_la = time_of("pmdb_cal(ms, 'hour_of_day', 'America/Los_Angeles')");
    const auto start_la = time_of("pmdb_bucket_start(ms, 'month', 'America/Los_Angeles')");
    MESSAGE(fmt::format("1M rows: the scan alone {} ms; day: strftime {} ms, pmdb_cal UTC {} ms, "
                        "America/Los_Angeles {} ms; ISO week: strftime expression {} ms, pmdb_cal {} ms; "
                        "hour_of_day America/Los_Angeles {} ms; pmdb_bucket_start month America/Los_Angeles {} ms",
                        scan, strftime_day, cal_day, cal_day_la, strftime_week, cal_week, cal_hour_la, start_la));
  }
}
