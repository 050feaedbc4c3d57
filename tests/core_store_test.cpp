#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "test_util.hpp"

using namespace pmdb;
using pmdb::test::line;
using pmdb::test::temp_dir;

namespace {

event ev(std::string_view incident, std::string_view type, std::string_view at, std::string_view data,
         std::string_view extra = "") {
  auto e = parse_event(line(incident, type, at, data, extra));
  REQUIRE_MESSAGE(e, (e ? "" : e.error()));
  return *e;
}

// Runs SQL on a separate raw connection; returns SQLite's error message or "".
std::string raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
  std::string out = rc == SQLITE_OK ? "" : (msg ? msg : "error");
  sqlite3_free(msg);
  sqlite3_close(db);
  return out;
}

std::string export_all(const event_store& s) {
  std::ostringstream out;
  REQUIRE(export_jsonl(s, out));
  return out.str();
}

std::vector<std::string> incident_rows(const event_store& s) {
  const std::vector<column> cols = {{"id", value_type::text}, {"title", value_type::text}, {"org", value_type::text},
                                    {"services", value_type::text}, {"severity", value_type::text},
                                    {"started", value_type::integer}, {"ended", value_type::integer},
                                    {"status", value_type::text}, {"events", value_type::integer},
                                    {"version", value_type::integer}};
  auto r = s.query("SELECT id, title, org, services, severity, started, ended, status, events, version FROM incidents ORDER BY id",
                   {}, cols);
  REQUIRE(r);
  std::vector<std::string> rows;
  for (const auto& row : r->rows) {
    std::string t;
    for (const auto& v : row)
      t += std::visit([](const auto& x) -> std::string {
             using T = std::decay_t<decltype(x)>;
             if constexpr (std::is_same_v<T, std::string>) return x + "|";
             else if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(x) + "|";
             else return "null|";
           }, v);
    rows.push_back(t);
  }
  return rows;
}

}  // namespace

TEST_SUITE("core_store") {
  TEST_CASE("a new store file has the schema, and reopening it works") {
    temp_dir d;
    const auto path = d.file("a.pmdb");
    {
      auto s = event_store::open(path);
      REQUIRE(s);
      CHECK(s->event_count() == 0);
    }
    auto s = event_store::open(path, {.create = false});
    REQUIRE(s);
    CHECK(s->incident_ids().empty());
    CHECK(raw_exec(path, "SELECT seq, id, incident, version, type, at, recorded_at, source, approx, data, status, "
                         "metric, value, component, channel FROM events") == "");
  }

  TEST_CASE("files that are not pmdb stores are refused with a clear message") {
    temp_dir d;
    const auto other = d.file("other.db");
    CHECK(raw_exec(other, "CREATE TABLE t(x)") == "");
    CHECK(event_store::open(other).error().message == other + ": not a pmdb store (an SQLite database of another application)");

    const auto junk = d.file("junk.pmdb");
    test::write_file(junk, std::string(4096, 'x'));
    CHECK(event_store::open(junk).error().message.find("file is not a database") != std::string::npos);

    const auto newer = d.file("newer.pmdb");
    { REQUIRE(event_store::open(newer)); }
    CHECK(raw_exec(newer, "PRAGMA user_version = 99") == "");
    CHECK(event_store::open(newer).error().message ==
          newer + ": store schema version 99 is newer than this pmdb supports (2); upgrade pmdb");

    CHECK(event_store::open(d.file("missing.pmdb"), {.create = false}).error().message ==
          d.file("missing.pmdb") + ": no such store");
  }

  TEST_CASE("history cannot be rewritten, even through raw SQL") {
    temp_dir d;
    const auto path = d.file("a.pmdb");
    {
      auto s = event_store::open(path);
      REQUIRE(s->append(std::vector{ev("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})")}));
    }
    CHECK(raw_exec(path, "UPDATE events SET source = 'me'").find("append-only") != std::string::npos);
    CHECK(raw_exec(path, "DELETE FROM events").find("append-only") != std::string::npos);
    auto s = event_store::open(path);
    CHECK(s->event_count() == 1);
  }

  TEST_CASE("a batch is all or nothing") {
    auto s = event_store::open(":memory:").value();
    REQUIRE(s.append(std::vector{ev("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})", R"("id":"n1")")}));
    const std::vector batch = {ev("x", "note", "2024-12-11T23:17:00Z", R"({"text":"a"})"),
                               ev("y", "note", "2024-12-11T23:18:00Z", R"({"text":"b"})"),
                               ev("x", "note", "2024-12-11T23:19:00Z", R"({"text":"different"})", R"("id":"n1")")};
    auto r = s.append(batch);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "event id n1 is already stored with different content");
    CHECK(s.event_count() == 1);
    CHECK(s.incident_ids() == std::vector<std::string>{"x"});
  }

  TEST_CASE("the same id twice in one batch: identical is one event, different is an error") {
    auto s = event_store::open(":memory:").value();
    const auto a = ev("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})", R"("id":"n1")");
    const auto b = ev("x", "note", "2024-12-11T23:17:00Z", R"({"text":"u"})", R"("id":"n1")");
    auto same = s.append(std::vector{a, a});
    REQUIRE(same);
    CHECK(same->appended == 1);
    CHECK(same->existing == 1);
    auto clash = s.append(std::vector{ev("x", "note", "2024-12-11T23:18:00Z", R"({"text":"v"})"), b, b});
    REQUIRE_FALSE(clash);
    CHECK(clash.error().message == "event id n1 is already stored with different content");
    auto event_store2 = event_store::open(":memory:").value();
    auto in_batch = event_store2.append(std::vector{a, b});
    REQUIRE_FALSE(in_batch);
    CHECK(in_batch.error().message == "event id n1 is used twice in this batch with different content");
    CHECK(event_store2.event_count() == 0);
    CHECK(s.event_count() == 1);
  }

  TEST_CASE("optimistic concurrency: a version mismatch names the incident and both versions, and writes nothing") {
    auto s = event_store::open(":memory:").value();
    const std::vector first = {ev("x", "note", "2024-12-11T23:16:00Z", R"({"text":"1"})"),
                               ev("x", "note", "2024-12-11T23:17:00Z", R"({"text":"2"})")};
    REQUIRE(s.append(first, {{"x", 0}}));
    const std::vector next = {ev("x", "note", "2024-12-11T23:18:00Z", R"({"text":"3"})")};
    auto bad = s.append(next, {{"x", 1}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "version conflict on x: expected 1, found 2");
    CHECK(s.event_count() == 2);
    CHECK(s.append(next, {{"x", 2}}));
    CHECK(s.append(std::vector{ev("new", "note", "2024-12-11T23:18:00Z", R"({"text":"3"})")}, {{"new", 0}}));
  }

  TEST_CASE("re-appending identical events adds nothing; the read model follows every append") {
    auto s = event_store::open(":memory:").value();
    const std::vector batch = {
        ev("x", "incident", "2024-12-11T23:00:00Z", R"({"title":"T","org":"O","services":["API"]})"),
        ev("x", "status", "2024-12-11T23:17:00Z", R"({"status":"investigating"})"),
        ev("x", "status", "2024-12-12T06:23:00Z", R"({"status":"resolved"})"),
        ev("x", "status", "2024-12-11T23:53:00Z", R"({"status":"identified"})")};
    auto r1 = s.append(batch);
    REQUIRE(r1);
    CHECK(r1->appended == 4);
    auto r2 = s.append(batch);
    REQUIRE(r2);
    CHECK(r2->appended == 0);
    CHECK(r2->existing == 4);
    const auto inc = s.incidents();
    REQUIRE(inc.size() == 1);
    CHECK(inc[0].title == "T");
    CHECK(inc[0].status == "resolved");  // the latest by occurrence, not by append order
    CHECK(inc[0].events == 4);
  }

  TEST_CASE("a JSONL file with bad lines reports FILE:LINE for each and imports nothing") {
    auto s = event_store::open(":memory:").value();
    std::istringstream in(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"ok"})") + "\n\n" +
                          line("x", "note", "yesterday", R"({"text":"t"})") + "\n" +
                          line("x", "status", "2024-12-11T23:16:00Z", R"({"status":"fixed"})") + "\n" +
                          line("x", "note", "2024-12-11T23:17:00Z", R"({"text":"ok too"})") + "\n");
    auto r = import_jsonl(s, in, "bad.jsonl");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().size() == 2);
    CHECK(format_import_error(r.error()[0]) ==
          R"(bad.jsonl:3: at: not a timestamp (expected ISO 8601 with Z or an offset, e.g. 2024-12-11T23:17:00Z): found "yesterday")");
    CHECK(format_import_error(r.error()[1]).starts_with("bad.jsonl:4: data.status: not an allowed value"));
    CHECK(s.event_count() == 0);
  }

  TEST_CASE("a bad line after many good batches still imports nothing") {
    auto s = event_store::open(":memory:").value();
    std::string text;
    for (int i = 0; i < 10'000; ++i)
      text += line("x", "note", "2024-12-11T23:16:00Z", fmt::format(R"({{"text":"n{}"}})", i)) + "\n";
    text += "{oops\n";
    std::istringstream in(text);
    auto r = import_jsonl(s, in, "big.jsonl");
    REQUIRE_FALSE(r);
    CHECK(format_import_error(r.error()[0]).starts_with("big.jsonl:10001: not valid JSON"));
    CHECK(s.event_count() == 0);
    CHECK(s.incident_ids().empty());
  }

  TEST_CASE("export, import into an empty store, export again: identical bytes") {
    temp_dir d;
    auto a = event_store::open(d.file("a.pmdb")).value();
    for (const char* f : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl"}) {
      std::istringstream in(test::read_file(test::source_dir() / f));
      auto r = import_jsonl(a, in, f);
      REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
    }
    const std::string first = export_all(a);
    auto b = event_store::open(d.file("b.pmdb")).value();
    std::istringstream in(first);
    auto r = import_jsonl(b, in, "export.jsonl");
    REQUIRE(r);
    CHECK(r->appended == static_cast<std::size_t>(a.event_count()));
    CHECK(export_all(b) == first);
    CHECK(incident_rows(b) == incident_rows(a));
  }

  TEST_CASE("rebuild recomputes the same read model from the log") {
    temp_dir d;
    const auto path = d.file("a.pmdb");
    auto s = event_store::open(path).value();
    for (const char* f : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl"}) {
      std::istringstream in(test::read_file(test::source_dir() / f));
      REQUIRE(import_jsonl(s, in, f));
    }
    const auto before = incident_rows(s);
    CHECK(before.size() == 2);
    CHECK(raw_exec(path, "DELETE FROM incidents; INSERT INTO incidents VALUES ('bogus',NULL,NULL,NULL,NULL,NULL,0,0,NULL,0,0)") == "");
    CHECK(incident_rows(s) != before);
    REQUIRE(s.rebuild());
    CHECK(incident_rows(s) == before);
  }

  TEST_CASE("queries are read-only") {
    auto s = event_store::open(":memory:").value();
    const std::vector<column> none;
    CHECK(s.query("DELETE FROM incidents", {}, none).error().message == "refused: a query may only read the store");
    CHECK(s.query("DROP TABLE events", {}, none).error().message == "refused: a query may only read the store");
  }

  TEST_CASE("two processes appending 5,000 events each at once both succeed") {
    temp_dir d;
    const auto path = d.file("shared.pmdb");
    { REQUIRE(event_store::open(path)); }
    std::vector<pid_t> children;
    for (int p = 0; p < 2; ++p) {
      const pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        int status = 0;
        auto s = event_store::open(path, {.durable = false});
        if (!s) _exit(10);
        for (int i = 0; i < 5000 && status == 0; ++i) {
          auto e = parse_event(line(fmt::format("proc-{}", p), "note", "2024-12-11T23:16:00Z",
                                    fmt::format(R"({{"text":"event {}"}})", i)));
          if (!e || !s->append(std::vector{*e})) status = 11;
        }
        _exit(status);
      }
      children.push_back(pid);
    }
    for (const pid_t pid : children) {
      int status = 0;
      waitpid(pid, &status, 0);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
    auto s = event_store::open(path).value();
    CHECK(s.event_count() == 10'000);
    for (const auto& i : s.incidents()) CHECK(i.events == 5000);
  }
}
