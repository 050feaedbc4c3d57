#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "test_util.hpp"

using namespace pmdb;
using pmdb::test::line;
using pmdb::test::temp_dir;
using pmdb::test::dump;
using pmdb::test::raw_exec;

namespace {

event ev(std::string_view incident, std::string_view type, std::string_view at, std::string_view data,
         std::string_view extra = "") {
  auto e = parse_event(line(incident, type, at, data, extra));
  REQUIRE_MESSAGE(e, (e ? "" : e.error()));
  return *e;
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


// Everything a write could change: the log and both read models.
std::string everything(const event_store& s) {
  return fmt::format("{} events\n{}--\n{}--\n{}", s.event_count(), dump(s, "events", "seq"),
                     dump(s, "event_versions", "seq, made_by"), dump(s, "incidents", "id"));
}

// An event with a given id and recorded time.
event rec(std::string_view id, std::string_view incident, std::string_view type, std::string_view at,
          std::string_view recorded_at, std::string_view data) {
  return ev(incident, type, at, data, fmt::format(R"("id":"{}","recorded_at":"{}")", id, recorded_at));
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
          newer + ": store schema version 99 is newer than this pmdb supports (4); upgrade pmdb");

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

  // An import at least as large as the store drops the secondary indexes in its transaction
  // and recreates them at the commit (and refreshes the read models then): the store must end
  // up as appending without the deferral leaves it, and a failing import must leave it as it was.
  TEST_CASE("an import that defers the indexes leaves the same store, and a failing one leaves it untouched") {
    temp_dir d;
    const auto indexes = [](const event_store& s) {
      auto rs = s.query("SELECT name, sql FROM sqlite_schema WHERE type = 'index' ORDER BY name", {},
                        std::vector<column>{{"name"}, {"sql"}});
      REQUIRE(rs);
      std::string out;
      for (const auto& row : rs->rows)
        for (const auto& cell : row) out += (std::holds_alternative<null_value>(cell) ? "NULL" : std::get<std::string>(cell)) + "\n";
      return out;
    };
    // Every column but the times taken from the clock (an event without recorded_at gets now).
    // The rows of `sql` (`n` columns, none NULL), as text.
    const auto rows = [](const event_store& s, const char* sql, std::size_t n) {
      auto rs = s.query(sql, {}, std::vector<column>(n, column{"c"}));
      REQUIRE(rs);
      std::string out;
      for (const auto& row : rs->rows) {
        for (const auto& cell : row) out += std::get<std::string>(cell) + "|";
        out += "\n";
      }
      return out;
    };
    const auto versions = [&](const event_store& s) {
      return rows(s, "SELECT seq, made_by, rank, valid_to IS NULL, corrected, id, type, at, data FROM event_versions "
                  "ORDER BY seq, made_by", 9);
    };
    const std::string fresh = indexes(event_store::open(d.file("fresh.pmdb")).value());
    CHECK(fresh.find("versions_by_id") != std::string::npos);
    // Appended one event at a time (never deferred), and imported in one go (deferred).
    auto a = event_store::open(d.file("a.pmdb")).value();
    auto b = event_store::open(d.file("b.pmdb")).value();
    std::string all;
    // (With corrections and a retraction: the milestones of the incidents they change are
    // recomputed once the indexes are back.)
    for (const char* f : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl",
                          "tests/golden/scripts/data/corrections.jsonl"}) {
      const std::string text = test::read_file(test::source_dir() / f);
      all += text;
      std::istringstream lines(text);
      for (std::string l; std::getline(lines, l);)
        if (!l.empty()) REQUIRE(a.append(std::vector<event>{parse_event(l).value()}));
    }
    std::istringstream in(all);
    auto r = import_jsonl(b, in, "all.jsonl");
    REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
    CHECK(indexes(b) == fresh);
    CHECK(incident_rows(b) == incident_rows(a));
    CHECK(versions(b) == versions(a));
    CHECK(versions(b).size() > 1000);
    // The milestones (the @recorded rows aside: the events without recorded_at take the clock's).
    const auto milestones = [&](const event_store& s) {
      return rows(s, "SELECT * FROM milestones WHERE type <> '@recorded' ORDER BY type, key, incident", 7);
    };
    CHECK(milestones(b) == milestones(a));
    CHECK(milestones(b).size() > 1000);
    CHECK(b.verify()->ok);
    // The same file again: all there, nothing deferred (the import is no larger than the store).
    std::istringstream again(all);
    r = import_jsonl(b, again, "all.jsonl");
    REQUIRE(r);
    CHECK(r->appended == 0);
    CHECK(indexes(b) == fresh);

    // A bad line after many batches, into a store of fewer events: the drop is undone with the rest.
    const std::string before = versions(b);
    std::string text;
    for (int i = 0; i < 10'000; ++i)
      text += line("x", "note", "2024-12-11T23:16:00Z", fmt::format(R"({{"text":"n{}"}})", i)) + "\n";
    text += "{oops\n";
    std::istringstream bad(text);
    REQUIRE_FALSE(import_jsonl(b, bad, "big.jsonl"));
    CHECK(indexes(b) == fresh);
    CHECK(versions(b) == before);
    CHECK(incident_rows(b) == incident_rows(a));
    // And the store takes the next import as usual.
    std::istringstream good(text.substr(0, text.size() - 6));
    r = import_jsonl(b, good, "good.jsonl");
    REQUIRE(r);
    CHECK(r->appended == 10'000);
    CHECK(indexes(b) == fresh);
    CHECK(b.verify()->ok);
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

  TEST_CASE("corrections and retractions whose target does not allow them are refused, and nothing is written") {
    auto s = event_store::open(":memory:", {.durable = false}).value();
    REQUIRE(s.append(std::vector{
        rec("n1", "x", "note", "2024-12-11T23:00:00Z", "2024-12-11T23:00:00Z", R"({"text":"a note"})"),
        rec("s1", "x", "status", "2024-12-11T23:10:00Z", "2024-12-11T23:10:00Z", R"({"status":"investigating"})"),
        rec("y1", "y", "note", "2024-12-11T23:00:00Z", "2024-12-11T23:00:00Z", R"({"text":"elsewhere"})"),
        rec("c1", "x", "correction", "2024-12-12T01:00:00Z", "2024-12-12T01:00:00Z",
            R"({"target":"s1","reason":"typo","data":{"status":"identified"}})"),
        rec("r1", "x", "retraction", "2024-12-12T02:00:00Z", "2024-12-12T02:00:00Z",
            R"({"target":"n1","reason":"not about this incident"})")}));
    const std::string before = everything(s);
    const auto fix = [](std::string_view id, std::string_view incident, std::string_view target,
                        std::string_view data = R"("data":{"text":"t"})") {
      return rec(id, incident, "correction", "2024-12-12T03:00:00Z", "2024-12-12T03:00:00Z",
                 fmt::format(R"({{"target":"{}","reason":"r",{}}})", target, data));
    };
    const auto drop = [](std::string_view id, std::string_view incident, std::string_view target) {
      return rec(id, incident, "retraction", "2024-12-12T03:00:00Z", "2024-12-12T03:00:00Z",
                 fmt::format(R"({{"target":"{}","reason":"r"}})", target));
    };
    struct refusal {
      std::string what;
      std::vector<event> batch;  // the refused event last
      std::string message;
    };
    const std::vector<refusal> cases = {
        {"missing target", {fix("bad", "x", "nope")},
         "correction bad (incident x) refused: its target nope does not exist (neither in the store nor earlier in this "
         "batch)"},
        {"a target later in the batch does not count",
         {fix("bad", "x", "n9"), rec("n9", "x", "note", "2024-12-11T23:30:00Z", "2024-12-12T03:00:00Z", R"({"text":"n"})")},
         "correction bad (incident x) refused: its target n9 does not exist (neither in the store nor earlier in this "
         "batch)"},
        {"target in another incident", {drop("bad", "x", "y1")},
         "retraction bad (incident x) refused: its target y1 belongs to incident y, not to x"},
        {"target in another incident, earlier in the batch",
         {rec("y2", "y", "note", "2024-12-11T23:30:00Z", "2024-12-12T03:00:00Z", R"({"text":"n"})"), fix("bad", "x", "y2")},
         "correction bad (incident x) refused: its target y2 belongs to incident y, not to x"},
        {"target is a correction", {fix("bad", "x", "c1", R"("data":{"status":"resolved"})")},
         "correction bad (incident x) refused: its target c1 is itself a correction: correct the original event instead"},
        {"target is a correction (retracting it)", {drop("bad", "x", "c1")},
         "retraction bad (incident x) refused: its target c1 is itself a correction: retract the original event instead"},
        {"target is a retraction", {fix("bad", "x", "r1", R"("at":"2024-12-11T22:00:00Z")")},
         "correction bad (incident x) refused: its target r1 is itself a retraction: correct the original event instead"},
        {"target is a retraction (retracting it)", {drop("bad", "x", "r1")},
         "retraction bad (incident x) refused: its target r1 is itself a retraction: retract the original event instead"},
        {"target already retracted (stored)", {fix("bad", "x", "n1")},
         "correction bad (incident x) refused: its target n1 is already retracted (by r1)"},
        {"target already retracted (stored), retracted again", {drop("bad", "x", "n1")},
         "retraction bad (incident x) refused: its target n1 is already retracted (by r1)"},
        {"target retracted earlier in the batch", {drop("r2", "x", "s1"), fix("bad", "x", "s1", R"("data":{"status":"monitoring"})")},
         "correction bad (incident x) refused: its target s1 is already retracted (by r2)"},
        {"target retracted twice in one batch", {drop("r2", "x", "s1"), drop("bad", "x", "s1")},
         "retraction bad (incident x) refused: its target s1 is already retracted (by r2)"},
        {"data invalid for the target's type", {fix("bad", "x", "s1", R"("data":{"status":"fixed"})")},
         "correction bad (incident x) refused: its data.data is not valid for s1, a status event: data.status: not an "
         "allowed value (expected \"investigating\" | \"identified\" | \"monitoring\" | \"resolved\" | \"postmortem\" | "
         "\"scheduled\" | \"in_progress\" | \"verifying\" | \"completed\"): found \"fixed\""},
        {"data of another type", {fix("bad", "x", "s1", R"("data":{"text":"no status"})")},
         "correction bad (incident x) refused: its data.data is not valid for s1, a status event: data.status: missing "
         "required field \"status\""},
    };
    // Events that would be fine on their own, sent first in the same batch.
    const std::vector<event> fine = {
        rec("ok1", "x", "note", "2024-12-11T23:40:00Z", "2024-12-12T03:00:00Z", R"({"text":"fine"})"),
        fix("ok2", "x", "s1", R"("at":"2024-12-11T23:11:00Z")"),
        drop("ok3", "x", "ok1"),
        rec("ok4", "z", "note", "2024-12-11T23:40:00Z", "2024-12-12T03:00:00Z", R"({"text":"a new incident"})")};
    for (const auto& c : cases)
      for (const bool after_fine : {false, true}) {
        CAPTURE(c.what);
        CAPTURE(after_fine);
        std::vector<event> batch = after_fine ? fine : std::vector<event>{};
        batch.insert(batch.end(), c.batch.begin(), c.batch.end());
        auto r = s.append(batch);
        REQUIRE_FALSE(r);
        CHECK(r.error().is(errc::invalid));
        CHECK(r.error().message == c.message);
        CHECK(everything(s) == before);
      }

    SUBCASE("the message names a derived id") {
      const event e = ev("x", "correction", "2024-12-12T03:00:00Z", R"({"target":"nope","reason":"r","data":{"text":"t"}})");
      auto r = s.append(std::vector{e});
      REQUIRE_FALSE(r);
      CHECK(r.error().message.starts_with(fmt::format("correction {} (incident x) refused: its target nope", e.derived_id())));
      CHECK(everything(s) == before);
    }
    SUBCASE("inside an explicit transaction, the refused batch leaves the earlier appends") {
      REQUIRE(s.begin());
      REQUIRE(s.append(std::vector{fine[0]}));
      CHECK_FALSE(s.append(std::vector{fine[3], fix("bad", "x", "nope")}));
      REQUIRE(s.commit());
      CHECK(s.event_count() == 6);
      CHECK(s.incident_ids() == std::vector<std::string>{"x", "y"});
    }
  }

  TEST_CASE("a target earlier in the same batch is accepted; a correction sent again is counted as existing") {
    auto s = event_store::open(":memory:", {.durable = false}).value();
    const auto n = rec("n1", "x", "note", "2024-12-11T23:00:00Z", "2024-12-11T23:00:00Z", R"({"text":"first"})");
    const auto c = rec("c1", "x", "correction", "2024-12-12T01:00:00Z", "2024-12-12T01:00:00Z",
                       R"({"target":"n1","reason":"wording","data":{"text":"second"}})");
    const auto c2 = rec("c2", "x", "correction", "2024-12-12T01:30:00Z", "2024-12-12T01:30:00Z",
                        R"({"target":"n1","reason":"time","at":"2024-12-11T22:59:00Z"})");
    const auto r = rec("r1", "x", "retraction", "2024-12-12T02:00:00Z", "2024-12-12T02:00:00Z",
                       R"({"target":"n1","reason":"wrong incident"})");
    auto first = s.append(std::vector{n, c, c2});
    REQUIRE(first);
    CHECK(first->appended == 3);
    const std::vector<column> cols = {{"made_by", value_type::integer}, {"valid_to", value_type::integer}, {"text"},
                                      {"at", value_type::timestamp}};
    const auto versions = [&] {
      auto rs = s.query("SELECT made_by, valid_to, text, at FROM event_versions WHERE id = 'n1' ORDER BY rank", {}, cols);
      REQUIRE(rs);
      std::string out;
      for (const auto& row : rs->rows)
        out += fmt::format("{} {} {} {}\n", std::get<std::int64_t>(row[0]),
                           std::holds_alternative<null_value>(row[1]) ? "now" : format_iso(timestamp{std::get<std::int64_t>(row[1])}),
                           std::get<std::string>(row[2]), format_iso(std::get<timestamp>(row[3])));
      return out;
    };
    CHECK(versions() == "1 2024-12-12T01:00:00Z first 2024-12-11T23:00:00Z\n"
                        "2 2024-12-12T01:30:00Z second 2024-12-11T23:00:00Z\n"
                        "3 now second 2024-12-11T22:59:00Z\n");
    const std::string before = everything(s);
    auto again = s.append(std::vector{c});
    REQUIRE(again);
    CHECK(again->appended == 0);
    CHECK(again->existing == 1);
    CHECK(everything(s) == before);

    // Retracted now: re-sending the corrections and the retraction is still no error.
    REQUIRE(s.append(std::vector{r}));
    const std::string retracted = everything(s);
    again = s.append(std::vector{c, r, c2, n});
    REQUIRE(again);
    CHECK(again->appended == 0);
    CHECK(again->existing == 4);
    CHECK(everything(s) == retracted);
    CHECK(versions() == "1 2024-12-12T01:00:00Z first 2024-12-11T23:00:00Z\n"
                        "2 2024-12-12T01:30:00Z second 2024-12-11T23:00:00Z\n"
                        "3 2024-12-12T02:00:00Z second 2024-12-11T22:59:00Z\n");

    // An event, its correction and its retraction in one batch.
    auto one = event_store::open(":memory:", {.durable = false}).value();
    auto all = one.append(std::vector{n, c, c2, r});
    REQUIRE(all);
    CHECK(all->appended == 4);
    CHECK(dump(one, "event_versions", "seq, made_by") == dump(s, "event_versions", "seq, made_by"));
    CHECK(dump(one, "incidents", "id") == dump(s, "incidents", "id"));
  }

  TEST_CASE("rebuild reproduces the projection byte for byte, corrections recorded out of order included") {
    temp_dir d;
    const auto path = d.file("a.pmdb");
    auto s = event_store::open(path, {.durable = false}).value();
    for (const char* f : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl"}) {
      std::istringstream in(test::read_file(test::source_dir() / f));
      REQUIRE(import_jsonl(s, in, f));
    }
    const auto n = rec("n1", "x", "note", "2024-12-11T23:00:00Z", "2024-12-12T05:00:00Z", R"({"text":"v0"})");
    const auto st = rec("s1", "x", "status", "2024-12-11T23:10:00Z", "2024-12-12T05:00:00Z", R"({"status":"investigating"})");
    const auto r2 = rec("s2", "x", "status", "2024-12-12T04:00:00Z", "2024-12-12T05:00:00Z", R"({"status":"resolved"})");
    const auto fix = [](std::string_view id, std::string_view target, std::string_view recorded, std::string_view what) {
      return rec(id, "x", "correction", recorded, recorded, fmt::format(R"({{"target":"{}","reason":"r",{}}})", target, what));
    };
    REQUIRE(s.append(std::vector{n, st, r2}));
    // Recorded before their target, after one another in reverse log order, at the same time.
    REQUIRE(s.append(std::vector{fix("c1", "n1", "2024-12-12T09:00:00Z", R"("data":{"text":"v2"})"),
                                 fix("c2", "n1", "2024-12-12T04:00:00Z", R"("data":{"text":"v1"},"at":"2024-12-11T22:00:00Z")")}));
    REQUIRE(s.append(std::vector{fix("c3", "s1", "2024-12-12T06:00:00Z", R"("data":{"status":"identified"})"),
                                 fix("c4", "s1", "2024-12-12T06:00:00Z", R"("at":"2024-12-11T23:05:00Z")"),
                                 fix("c5", "s2", "2024-12-12T07:00:00Z", R"("at":"2024-12-12T03:00:00Z")")}));
    REQUIRE(s.append(std::vector{rec("r1", "x", "retraction", "2024-12-12T06:30:00Z", "2024-12-12T06:30:00Z",
                                     R"({"target":"s1","reason":"r"})"),
                                 rec("r2", "openai-2024-12-11", "retraction", "2024-12-14T00:00:00Z",
                                     "2024-12-14T00:00:00Z", R"({"target":"openai-2024-12-11/alert-engineers-notified","reason":"r"})")}));
    // A retraction recorded before the correction appended after it… cannot be appended: the
    // correction of a retracted event is refused. One recorded later than a correction appended before it:
    REQUIRE(s.append(std::vector{fix("c6", "s2", "2024-12-12T08:00:00Z", R"("data":{"status":"monitoring"})"),
                                 rec("r3", "x", "retraction", "2024-12-12T07:30:00Z", "2024-12-12T07:30:00Z",
                                     R"({"target":"s2","reason":"r"})")}));
    const std::string versions = dump(s, "event_versions", "seq, made_by");
    const std::string incidents = dump(s, "incidents", "id");
    CHECK(std::ranges::count(versions, '\n') > s.event_count());  // some events have several versions

    REQUIRE(s.rebuild());
    CHECK(dump(s, "event_versions", "seq, made_by") == versions);
    CHECK(dump(s, "incidents", "id") == incidents);

    // Read models damaged behind pmdb's back come back from the log.
    CHECK(raw_exec(path, "DELETE FROM event_versions WHERE seq % 3 = 0; UPDATE event_versions SET valid_to = NULL; "
                         "DELETE FROM incidents WHERE id = 'x'") == "");
    CHECK(dump(s, "event_versions", "seq, made_by") != versions);
    REQUIRE(s.rebuild());
    CHECK(dump(s, "event_versions", "seq, made_by") == versions);
    CHECK(dump(s, "incidents", "id") == incidents);

    // The same log appended in one batch into a new store: the same read models.
    auto copy = event_store::open(":memory:", {.durable = false}).value();
    std::vector<event> log;
    REQUIRE(s.scan({}, [&](const stored_event& e) {
      log.push_back(e.ev);
      log.back().recorded_at = e.recorded_at;
    }));
    REQUIRE(copy.append(log));
    CHECK(dump(copy, "event_versions", "seq, made_by") == versions);
    CHECK(dump(copy, "incidents", "id") == incidents);
  }
}
