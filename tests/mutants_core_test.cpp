// Answers of the store, the projection, the compiler, the SQL functions and time handling that
// a user reads directly, each computed by hand from the few events the test writes: the tests
// that kill the mutants of tests/mutants.txt in those areas (scripts/mutate names them).
#include <doctest/doctest.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sqlite3.h>

#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/sql_functions.hpp"
#include "core/time.hpp"
#include "shell/postmortem.hpp"
#include "shell_harness.hpp"
#include "test_util.hpp"

using namespace pmdb;

namespace {

// One event of incident x, with an id and a time of recording (so that as-of answers are fixed).
std::string ev(std::string_view id, std::string_view type, std::string_view at, std::string_view data,
               std::string_view recorded_at = "") {
  return fmt::format(R"({{"id":"x/{}","incident":"x","type":"{}","at":"{}","recorded_at":"{}","source":"test","data":{}}})",
                     id, type, at, recorded_at.empty() ? at : recorded_at, data);
}

std::string incident_event(std::string_view at = "2024-12-11T09:00:00Z") {
  return ev("incident", "incident", at, R"({"title":"T","org":"O","services":["API"]})");
}

std::expected<import_result, std::vector<error>> import_lines(event_store& s, std::initializer_list<std::string> lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  std::istringstream in(text);
  return import_jsonl(s, in, "t.jsonl");
}

std::string sql_one(const event_store& s, const std::string& sql) {
  auto rs = s.query(sql, {}, std::vector<column>{{"v", value_type::text}});
  REQUIRE_MESSAGE(rs, sql);
  REQUIRE_MESSAGE(rs->rows.size() == 1, sql);
  const auto& cell = rs->rows[0][0];
  return std::holds_alternative<null_value>(cell) ? "NULL" : std::get<std::string>(cell);
}

// A bare SQLite connection with pmdb's functions.
struct fn_conn {
  sqlite3* db = nullptr;
  fn_conn() {
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    REQUIRE(sqlfn::register_functions(db));
  }
  fn_conn(const fn_conn&) = delete;
  fn_conn& operator=(const fn_conn&) = delete;
  ~fn_conn() { sqlite3_close(db); }
  std::string one(const std::string& sql) const {
    sqlite3_stmt* st = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK, sql, ": ", sqlite3_errmsg(db));
    std::string out = "no row";
    if (sqlite3_step(st) == SQLITE_ROW)
      out = sqlite3_column_type(st, 0) == SQLITE_NULL ? "NULL" : reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
};

// `VALUES (a, b), (c, d), ...` of integer pairs.
std::string pairs(std::initializer_list<std::pair<std::int64_t, std::int64_t>> ps) {
  std::string out = "VALUES ";
  for (const auto& [a, b] : ps) out += fmt::format("{}({}, {})", out.size() > 7 ? ", " : "", a, b);
  return out;
}

}  // namespace

TEST_SUITE("mutants_core") {
  TEST_CASE("a second import of the same events: all already there, no version skipped") {
    auto s = test::memory_store();
    const std::string a = incident_event(), b = ev("s1", "status", "2024-12-11T10:00:00Z", R"({"status":"investigating"})"),
                      c = ev("s2", "status", "2024-12-11T11:00:00Z", R"({"status":"resolved"})");
    auto first = import_lines(s, {a, b});
    REQUIRE(first);
    CHECK(first->appended == 2);
    CHECK(first->existing == 0);
    auto again = import_lines(s, {a, b, c});
    REQUIRE(again);
    CHECK(again->appended == 1);
    CHECK(again->existing == 2);
    // Versions count the incident's stored events: 1, 2, 3.
    CHECK(sql_one(s, "SELECT group_concat(version, ',') FROM (SELECT version FROM events ORDER BY seq)") == "1,2,3");
    CHECK(sql_one(s, "SELECT version FROM incidents WHERE id = 'x'") == "3");
  }

  TEST_CASE("one id twice in a batch with different content is refused, nothing kept") {
    auto s = test::memory_store();
    auto r = import_lines(s, {incident_event(), ev("n", "note", "2024-12-11T10:00:00Z", R"({"text":"one"})"),
                              ev("n", "note", "2024-12-11T10:00:00Z", R"({"text":"two"})")});
    REQUIRE_FALSE(r);
    CHECK(format_import_error(r.error().front()).find("used twice in this batch with different content") != std::string::npos);
    CHECK(s.event_count() == 0);
  }

  TEST_CASE("last P and first P follow later imports and retractions") {
    // The events are appended through one connection to a store file, asked through another.
    test::temp_dir dir;
    const std::string path = dir.file("t.pmdb");
    auto store = event_store::open(path, {.durable = false}).value();
    REQUIRE(import_lines(store, {incident_event(), ev("s1", "status", "2024-12-11T10:00:00Z", R"({"status":"investigating"})")}));
    REQUIRE(import_lines(store, {ev("s2", "status", "2024-12-11T11:00:00Z", R"({"status":"investigating"})")}));
    test::shell_on sh(event_store::open(path, {.durable = false}).value());
    // From the incident event at 09:00: 1 h to the first post, 2 h to the last.
    CHECK(sh.ask("time from start to first status investigating in x;") == "3600\n");
    CHECK(sh.ask("time from start to last status investigating in x;") == "7200\n");
    CHECK(sh.ask("time from start to last status in x;") == "7200\n");
    // The 11:00 post retracted: the last one is the 10:00 post again.
    REQUIRE(import_lines(store, {ev("r1", "retraction", "2024-12-11T12:00:00Z", R"({"target":"x/s2","reason":"wrong"})")}));
    CHECK(sh.ask("time from start to last status investigating in x;") == "3600\n");
    CHECK(sh.ask("time from start to last status in x;") == "3600\n");
    // A correction recorded later is no event of the incident: `end` stays the last fact.
    REQUIRE(import_lines(store, {ev("c1", "correction", "2024-12-11T15:00:00Z",
                                    R"({"target":"x/s1","reason":"r","data":{"status":"investigating","text":"edited"}})")}));
    CHECK(sh.ask("time from start to end in x;") == "3600\n");
    // After a rebuild of the read models, the same answers.
    REQUIRE(store.rebuild());
    CHECK(sh.ask("time from start to first status investigating in x;") == "3600\n");
    CHECK(sh.ask("time from start to last status investigating in x;") == "3600\n");
  }

  TEST_CASE("an event corrected twice shows the latest correction; as of the instant of one, it") {
    auto s = test::memory_store();
    REQUIRE(import_lines(
        s, {incident_event(), ev("n", "note", "2024-12-11T10:00:00Z", R"({"text":"v0"})"),
            ev("c1", "correction", "2024-12-11T12:00:00Z", R"({"target":"x/n","reason":"r","data":{"text":"v1"}})"),
            ev("c2", "correction", "2024-12-11T13:00:00Z", R"({"target":"x/n","reason":"r","data":{"text":"v2"}})")}));
    test::shell_on sh(std::move(s));
    CHECK(sh.ask("events where type = note | select text;") == "v2\n");
    CHECK(sh.ask("events as of 2024-12-11T11:59:59.999Z | where type = note | select text;") == "v0\n");
    CHECK(sh.ask("events as of 2024-12-11T12:00:00Z | where type = note | select text;") == "v1\n");
    CHECK(sh.ask("events as of 2024-12-11T12:59:59.999Z | where type = note | select text;") == "v1\n");
    CHECK(sh.ask("events as of 2024-12-11T13:00:00Z | where type = note | select text;") == "v2\n");
  }

  TEST_CASE("the incident's title is its latest description; ended is the last resolution after a reopening") {
    auto s = test::memory_store();
    REQUIRE(import_lines(
        s, {ev("incident", "incident", "2024-12-11T09:00:00Z", R"({"title":"First title","org":"O","services":[]})"),
            ev("incident2", "incident", "2024-12-11T09:30:00Z", R"({"title":"Second title","org":"O","services":[]})"),
            ev("s1", "status", "2024-12-11T10:00:00Z", R"({"status":"resolved"})"),
            ev("s2", "status", "2024-12-11T11:00:00Z", R"({"status":"investigating"})"),
            ev("s3", "status", "2024-12-11T12:00:00Z", R"({"status":"resolved"})"),
            ev("s4", "status", "2024-12-11T13:00:00Z", R"({"status":"postmortem"})")}));
    test::shell_on sh(std::move(s));
    CHECK(sh.ask("incidents | let r = reopened | select title, ended, r;") == "Second title,2024-12-11T12:00:00Z,true\n");
  }

  TEST_CASE("reopened: a postmortem after the resolution is no reopening") {
    auto s = test::memory_store();
    REQUIRE(import_lines(s, {incident_event(), ev("s1", "status", "2024-12-11T10:00:00Z", R"({"status":"resolved"})"),
                             ev("s2", "status", "2024-12-11T11:00:00Z", R"({"status":"postmortem"})"),
                             ev("s3", "status", "2024-12-11T12:00:00Z", R"({"status":"completed"})")}));
    test::shell_on sh(std::move(s));
    CHECK(sh.ask("incidents | let r = reopened | select r;") == "false\n");
  }

  TEST_CASE("`after` includes the milestone's own event") {
    auto s = test::memory_store();
    REQUIRE(import_lines(s, {incident_event(), ev("s1", "status", "2024-12-11T10:00:00Z", R"({"status":"investigating"})"),
                             ev("s2", "status", "2024-12-11T11:00:00Z", R"({"status":"identified"})"),
                             ev("s3", "status", "2024-12-11T12:00:00Z", R"({"status":"identified"})")}));
    test::shell_on sh(std::move(s));
    // The first status at or after the first investigating post is that post itself.
    CHECK(sh.ask("time from start to first status after first status investigating in x;") == "3600\n");
    CHECK(sh.ask("time from start to first status identified after first status identified in x;") == "7200\n");
    // The same read from the log (a view as of a time before the last recording).
    CHECK(sh.ask("time from start to first status after first status investigating in x as of 2024-12-11T11:30:00Z;") ==
          "3600\n");
  }

  TEST_CASE("avg of durations is rounded to the millisecond; per component counts a component once") {
    auto s = test::memory_store();
    // Two incidents lasting 1 s and 1.001 s: the mean 1.0005 s rounds to 1.001 s.
    std::string text;
    for (const auto& [id, end] : {std::pair{"a", "2024-12-11T09:00:01Z"}, std::pair{"b", "2024-12-11T09:00:01.001Z"}}) {
      text += fmt::format(R"({{"id":"{0}/i","incident":"{0}","type":"incident","at":"2024-12-11T09:00:00Z","source":"t","data":{{"title":"t","org":"O","services":["API"]}}}})"
                          "\n",
                          id);
      text += fmt::format(R"({{"id":"{0}/c","incident":"{0}","type":"component","at":"{1}","source":"t","data":{{"component":"API","state":"major_outage"}}}})"
                          "\n",
                          id, end);
    }
    std::istringstream in(text);
    REQUIRE(import_jsonl(s, in, "t.jsonl"));
    test::shell_on sh(std::move(s));
    CHECK(sh.ask("incidents | let d = time from start to end | summarize avg(d);") == "1.001\n");
    CHECK(sh.ask("incidents | per component | summarize n = count() by component;") == "API,2\n");
  }

  TEST_CASE("SQL functions: nearest-rank percentiles, interval unions, ties, words") {
    fn_conn c;
    // Nearest rank: the value at rank ceil(P/100 * n) of 1..n.
    for (const auto& [n, p] : {std::pair{15, 90}, std::pair{4, 50}, std::pair{10, 95}, std::pair{3, 1}, std::pair{7, 100}}) {
      std::int64_t rank = (n * p + 99) / 100;
      if (rank < 1) rank = 1;
      CHECK_MESSAGE(c.one(fmt::format("WITH RECURSIVE k(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM k WHERE v < {}) "
                                      "SELECT pmdb_percentile(v, {}) FROM k",
                                      n, p)) == std::to_string(rank),
                    "n = ", n, ", p = ", p);
    }
    // An interval inside another adds nothing to the union.
    CHECK(c.one(fmt::format("SELECT pmdb_union_length(column1, column2) FROM ({})", pairs({{0, 100}, {10, 20}}))) == "100");
    CHECK(c.one(fmt::format("SELECT pmdb_union_length(column1, column2) FROM ({})", pairs({{0, 10}, {5, 30}, {2, 3}, {40, 50}}))) ==
          "40");
    // Ties keep the first row, for first_by and last_by alike.
    CHECK(c.one("SELECT pmdb_first_by(column1, column2) FROM (VALUES ('a', 1), ('b', 1), ('c', 2))") == "a");
    CHECK(c.one("SELECT pmdb_last_by(column1, column2) FROM (VALUES ('a', 1), ('b', 2), ('c', 2))") == "b");
    // A phrase's punctuation is literal.
    CHECK(c.one("SELECT pmdb_has_word('axb', 'a.b')") == "0");
    CHECK(c.one("SELECT pmdb_has_word('see a.b here', 'a.b')") == "1");
    CHECK(c.one("SELECT pmdb_has_word('aab', 'a+b')") == "0");
  }

  TEST_CASE("SQL functions: quarters and ISO weeks") {
    fn_conn c;
    for (unsigned m = 1; m <= 12; ++m) {
      const std::int64_t ms = days_from_civil(2024, m, 15) * 86'400'000;
      CHECK_MESSAGE(c.one(fmt::format("SELECT pmdb_cal({}, 'quarter_of_year', '')", ms)) == std::to_string((m - 1) / 3 + 1),
                    "month ", m);
    }
    // Wednesday 2024-12-11: its week starts on Monday 2024-12-09.
    const std::int64_t wed = parse_timestamp("2024-12-11T15:00:00Z")->ms;
    CHECK(c.one(fmt::format("SELECT pmdb_bucket_start({}, 'week', '')", wed)) ==
          std::to_string(parse_timestamp("2024-12-09T00:00:00Z")->ms));
    // Sunday 2024-12-15 is still in that week.
    const std::int64_t sun = parse_timestamp("2024-12-15T23:00:00Z")->ms;
    CHECK(c.one(fmt::format("SELECT pmdb_bucket_start({}, 'week', '')", sun)) ==
          std::to_string(parse_timestamp("2024-12-09T00:00:00Z")->ms));
  }

  TEST_CASE("times: leap centuries, times before 1970, fractions, long durations") {
    CHECK(parse_timestamp("2000-02-29T00:00:00Z"));
    CHECK_FALSE(parse_timestamp("2100-02-29T00:00:00Z"));
    CHECK_FALSE(parse_timestamp("1900-02-29T00:00:00Z"));
    const std::int64_t hour = 3'600'000;
    CHECK(format_iso(timestamp{-25 * hour}) == "1969-12-30T23:00:00Z");
    CHECK(format_short(timestamp{-25 * hour}) == "1969-12-30 23:00Z");
    CHECK(format_iso(parse_timestamp("1969-07-20T20:17:40Z").value()) == "1969-07-20T20:17:40Z");
    CHECK(parse_timestamp("2024-12-11T12:00:00.123Z")->ms % 1000 == 123);
    CHECK(parse_timestamp("2024-12-11T12:00:00.05Z")->ms % 1000 == 50);
    CHECK(format_short(parse_timestamp("2024-12-11T12:00:30Z").value()) == "2024-12-11 12:00:30Z");
    CHECK(format_duration(duration{(2 * 24 + 3) * hour}) == "2d3h");
    CHECK(format_duration(duration{(24 + 23) * hour + 59 * 60'000}) == "1d23h59m");
  }

  TEST_CASE("the postmortem adds up every span a component spent in a state") {
    auto s = test::memory_store();
    const auto comp = [](std::string_view id, std::string_view at, std::string_view state) {
      return ev(id, "component", at, fmt::format(R"({{"component":"API","state":"{}"}})", state));
    };
    // Down 10:00 to 10:30 and 11:00 to 12:00: 1h30m in major_outage, back at 12:00.
    REQUIRE(import_lines(s, {incident_event(), comp("c1", "2024-12-11T10:00:00Z", "major_outage"),
                             comp("c2", "2024-12-11T10:30:00Z", "operational"),
                             comp("c3", "2024-12-11T11:00:00Z", "major_outage"),
                             comp("c4", "2024-12-11T12:00:00Z", "operational"),
                             ev("s1", "status", "2024-12-11T12:10:00Z", R"({"status":"resolved"})")}));
    shell::postmortem_options o;
    o.now_ms = parse_timestamp("2024-12-20T00:00:00Z")->ms;
    auto md = shell::render_postmortem(s, "x", o);
    REQUIRE(md);
    const auto row = md->find("\n| API |");
    REQUIRE_MESSAGE(row != std::string::npos, *md);
    const std::string line = md->substr(row + 1, md->find('\n', row + 1) - row - 1);
    INFO(line);
    CHECK(line.find("| 1h30m |") != std::string::npos);
    CHECK(line.find("12:00") != std::string::npos);
  }

  TEST_CASE("verify names an extra version of an event where it is, the log's last event too") {
    constexpr std::string_view columns =
        "seq, made_by, rank, valid_from, valid_to, corrected, id, incident, version, type, at, recorded_at, source, "
        "approx, data, text, status, channel, author, metric, value, unit, component, state, kind, target";
    // Positions 1 (the incident event) and 2 (the note, the last event).
    for (const auto& [id, position] : {std::pair{"x/incident", 1}, std::pair{"x/n", 2}}) {
      CAPTURE(id);
      test::temp_dir dir;
      const std::string path = dir.file("v.pmdb");
      {
        auto s = event_store::open(path, {.durable = false}).value();
        REQUIRE(import_lines(s, {incident_event(), ev("n", "note", "2024-12-11T10:00:00Z", R"({"text":"v0"})")}));
      }
      std::string copy(columns);
      copy.replace(copy.find("made_by"), 7, "999");
      CHECK(test::raw_exec(path, fmt::format("INSERT INTO event_versions ({}) SELECT {} FROM event_versions WHERE id = '{}'",
                                             columns, copy, id)) == "");
      auto s = event_store::open(path, {.read_only = true}).value();
      auto rep = s.verify({});
      REQUIRE(rep);
      CHECK_FALSE(rep->ok);
      CHECK(rep->position == position);
      CHECK(rep->problem == fmt::format("the read model event_versions has a version of event {} (made by position 999) "
                                        "the log does not make",
                                        id));
    }
  }
}
