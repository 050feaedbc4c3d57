// A store written by an earlier release opens, is upgraded in place once, in one transaction,
// keeps its log byte for byte, and answers as that release did wherever the new schema did not
// change a meaning.
//
// The fixtures were made by those releases themselves (scripts/make-store-fixture 1|2|3|4):
//   tests/data/store-v1.pmdb, store-v1.answers: pmdb 0.1 (schema 1): the demo incidents plus
//     tests/data/store-v1-legacy.jsonl, and its answers to tests/data/store-v1-questions.pmq;
//   tests/data/store-v2.pmdb, store-v2.answers, store-v2.report.md: the last release of schema 2
//     (the projection, before the hash chain): the demo incidents plus the corrections of
//     tests/golden/scripts/data/corrections.jsonl, its answers to store-v2-questions.pmq (now and
//     as of before the corrections) and its postmortem of openai-2024-12-11;
//   tests/data/store-v3.pmdb, store-v3.answers, store-v3.report.md: the release before the
//     analysts' questions (schema 3: the hash chain, before the milestones read model): the same
//     imports, then an incident recorded live (store-v3-record.pmq); its answers to
//     store-v3-questions.pmq and its postmortem. Today's pmdb upgrades it to schema 4 once, in one
//     transaction (the milestones computed; the log, chain, versions and incidents untouched),
//     and answers as it did; the questions that release could not ask
//     (store-v3-new-questions.pmq) get the answers they get on a store today's pmdb builds from
//     the same inputs.
//   tests/data/store-v4.pmdb, store-v4.answers, store-v4.report.md: the first release of schema
//     4 (the milestones read model), the same inputs as 3; its answers to store-v3-questions.pmq
//     and store-v3-new-questions.pmq and its postmortem. Today's pmdb opens it as it is: no
//     upgrade, nothing said, not a byte of it rewritten, the same answers and the same report.
// The postmortems (store-v2.report.md, store-v3.report.md) are today's report of each store:
// its format changed since (the customer impact as Duration, the document header), so they are
// rewritten when the report's format changes; the stores, their logs and answers are not.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

const std::filesystem::path data = source_dir() / "tests/data";

// A copy of the schema-`version` fixture, which tests may upgrade or damage.
std::string fixture_copy(const temp_dir& d, int version = 1) {
  const std::string path = d.file(fmt::format("v{}.pmdb", version));
  std::filesystem::copy_file(data / fmt::format("store-v{}.pmdb", version), path);
  return path;
}

std::string notice(const std::string& path, int version = 1) {
  return fmt::format("pmdb: {}: upgraded the store from schema version {} to 4 (the events are unchanged; {} "
                     "computed from them)\n",
                     path, version,
                     version == 1   ? "the read models and the hash chain were"
                     : version == 2 ? "their hash chain and the milestones read model were"
                                    : "the milestones read model was");
}

// The log a fixture must hold: the events of `files`, in order (id, incident, type, at, data).
std::string events_of(std::initializer_list<const char*> files) {
  std::string out;
  for (const auto* f : files) {
    std::ifstream in(source_dir() / f);
    for (std::string l; std::getline(in, l);) {
      auto e = parse_event(l);
      REQUIRE_MESSAGE(e, f);
      out += fmt::format("{}|{}|{}|{}|{}|\n", e->id, e->incident, e->type, e->at, e->data);
    }
  }
  return out;
}

constexpr std::string_view fixture_log_sql = "SELECT id, incident, type, at, data FROM events ORDER BY seq";

// The schema-`version` store at `path`, as that release left it: refused read-only with the
// reason and left as it was; then asked that release's questions through the real command line
// twice: its answers byte for byte both times, and the upgrade said once, the first time.
void upgrades_once_with_the_same_answers(const std::string& path, int version) {
  auto ro = event_store::open(path, {.create = false, .read_only = true});
  REQUIRE_FALSE(ro);
  CHECK(ro.error().is(errc::read_only));
  CHECK(ro.error().message ==
        fmt::format("{}: store schema version {} must be upgraded to 4: open it once for writing", path, version));
  CHECK(run_pmdb({path, "--readonly", "-c", "show incidents;"}).status == 1);
  CHECK(raw_dump(path, "PRAGMA user_version") == fmt::format("{}|\n", version));

  const std::string answers = read_file(data / fmt::format("store-v{}.answers", version));
  REQUIRE_FALSE(answers.empty());
  const std::string questions = (data / fmt::format("store-v{}-questions.pmq", version)).string();
  for (const bool first : {true, false}) {
    const auto asked = run_pmdb({path, "-f", questions});
    CHECK(asked.status == 0);
    CHECK(asked.err == (first ? notice(path, version) : ""));
    CHECK(asked.out == answers);
  }
  CHECK(raw_dump(path, "PRAGMA user_version") == "4|\n");
}

// The chain an independent implementation (tests/tools/chain.py) computes over the store: "N HASH".
std::string independent_chain(const std::string& path) {
  const auto r = run_command({"python3", (source_dir() / "tests/tools/chain.py").string(), path});
  CHECK(r.status == 0);
  return r.out;
}

// The store's tables, indexes and triggers, with their SQL text.
std::string schema(const std::string& path) {
  return raw_dump(path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name");
}

// The same without the SQL text (an upgraded table keeps the comments of the DDL that made it).
std::string objects(const std::string& path) {
  return raw_dump(path, "SELECT type, name, tbl_name FROM sqlite_master ORDER BY name");
}

// Every column the previous release wrote (the upgrade adds appended_at, recorded_by and hash).
constexpr std::string_view log_sql =
    "SELECT seq, id, incident, version, type, at, recorded_at, source, approx, data, text, status, channel, author, "
    "metric, value, unit, component, state, kind, target FROM events ORDER BY seq";

}  // namespace

TEST_SUITE("upgrade") {
  TEST_CASE("the fixture is what the previous release made of its inputs") {
    // Its log holds exactly the events of the demo files and the legacy file, in that order
    // (the ids and payloads the import derived are checked by the next test's answers).
    const std::string path = (data / "store-v1.pmdb").string();
    CHECK(raw_dump(path, std::string(fixture_log_sql)) ==
          events_of({"examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl",
                     "tests/data/store-v1-legacy.jsonl"}));
    CHECK(raw_dump(path, "PRAGMA user_version") == "1|\n");
    CHECK(raw_dump(path, "SELECT count(*) FROM sqlite_master WHERE name = 'event_versions'") == "0|\n");
  }

  TEST_CASE("opened by today's pmdb: upgraded once, the log untouched, the answers of the previous release") {
    temp_dir d;
    const std::string v1 = fixture_copy(d);
    const std::string log_before = raw_dump(v1, std::string(log_sql));
    const std::string openai_ended = "SELECT ended FROM incidents WHERE id = 'openai-2024-12-11'";
    // Version 1's read model: the last event (the postmortem post, 2024-12-13 01:19).
    CHECK(raw_dump(v1, openai_ended) == fmt::format("{}|\n", parse_timestamp("2024-12-13T01:19:00Z")->ms));

    upgrades_once_with_the_same_answers(v1, 1);

    CHECK(raw_dump(v1, std::string(log_sql)) == log_before);
    // The chain was computed over the old log in store order: the hashes an independent
    // implementation (tests/tools/chain.py) computes, and verify passes. The old events keep
    // no append time and no author: the previous release did not record them.
    CHECK(independent_chain(v1) == fmt::format("80 {}\n", event_store::open(v1, {.create = false})->head().hash));
    CHECK(raw_dump(v1, "SELECT count(*) FROM events WHERE appended_at IS NULL AND recorded_by IS NULL") == "80|\n");
    const auto verified = run_pmdb({"verify", v1});
    CHECK(verified.status == 0);
    CHECK(verified.out.starts_with("ok: 80 events, head "));
    // The schema is a new store's, and the read models are what rebuild() makes.
    REQUIRE(event_store::open(d.file("new.pmdb")));
    CHECK(objects(v1) == objects(d.file("new.pmdb")));
    auto up = event_store::open(v1, {.create = false});
    REQUIRE(up);
    CHECK_FALSE(up->upgraded_from());
    const std::string versions = dump(*up, "event_versions", "seq, made_by");
    const std::string incidents = dump(*up, "incidents", "id");
    REQUIRE(up->rebuild());
    CHECK(dump(*up, "event_versions", "seq, made_by") == versions);
    CHECK(dump(*up, "incidents", "id") == incidents);
    // The read model was recomputed: `ended` is now the resolution (2024-12-12 06:23).
    CHECK(raw_dump(v1, openai_ended) == fmt::format("{}|\n", parse_timestamp("2024-12-12T06:23:00Z")->ms));
  }

  TEST_CASE("the legacy corrections: what the projection believes of those today's append refuses") {
    temp_dir d;
    const std::string v1 = fixture_copy(d);
    auto up = event_store::open(v1, {.create = false});
    REQUIRE(up);
    CHECK(up->upgraded_from() == 1);

    // Of x/n1's corrections, c2 (recorded 04:00: at 22:30, text v1) then c1 (05:00: text v2)
    // count; bad1-bad4 (missing target, another incident's, a correction's, invalid data) and
    // bad7 (a retraction of another incident's event) do not.
    const std::vector<column> cols = {{"id"}, {"text"}, {"status"}, {"at", value_type::timestamp}};
    auto rs = up->query("SELECT id, text, status, at FROM event_versions WHERE valid_to IS NULL AND incident IN ('x', 'y') "
                        "AND type NOT IN ('correction', 'retraction') ORDER BY id",
                        {}, cols);
    REQUIRE(rs);
    std::string now;
    for (const auto& row : rs->rows)
      now += fmt::format("{} {} {} {}\n", std::get<std::string>(row[0]),
                         std::holds_alternative<null_value>(row[1]) ? "-" : std::get<std::string>(row[1]),
                         std::holds_alternative<null_value>(row[2]) ? "-" : std::get<std::string>(row[2]),
                         format_iso(std::get<timestamp>(row[3])));
    CHECK(now == "x/n1 v2 - 2024-12-11T22:30:00Z\n"
                 "x/s1 - investigating 2024-12-11T23:10:00Z\n"
                 "y/n1 y - 2024-12-10T00:00:00Z\n");
    // x/s2 is hidden by the first retraction recorded (bad6, 06:30), not by r1 (07:00); the
    // correction after it (bad5) is never believed.
    auto s2 = up->query("SELECT valid_from, valid_to, at FROM event_versions WHERE id = 'x/s2' ORDER BY rank", {},
                        std::vector<column>{{"valid_from", value_type::timestamp},
                                            {"valid_to", value_type::timestamp},
                                            {"at", value_type::timestamp}});
    REQUIRE(s2);
    std::string intervals;
    for (const auto& row : s2->rows)
      intervals += fmt::format("[{}, {}) {}\n", format_iso(std::get<timestamp>(row[0])),
                               format_iso(std::get<timestamp>(row[1])), format_iso(std::get<timestamp>(row[2])));
    CHECK(intervals == "[2024-12-12T02:00:00Z, 2024-12-12T06:30:00Z) 2024-12-12T02:00:00Z\n"
                       "[2024-12-12T06:30:00Z, 2024-12-12T06:30:00Z) 2024-12-11T23:30:00Z\n");

    // Appends after the upgrade follow today's rules: y/n1 is believed (x's retraction of it
    // never counted), so it can be corrected in its own incident; x/s2 is retracted.
    const auto line = [](std::string_view id, std::string_view incident, std::string_view type, std::string_view at,
                         std::string_view payload) {
      return parse_event(fmt::format(R"({{"id":"{}","incident":"{}","type":"{}","at":"{}","recorded_at":"{}","source":"test","data":{}}})",
                                     id, incident, type, at, at, payload))
          .value();
    };
    CHECK(up->append(std::vector{line("y/c1", "y", "correction", "2024-12-13T00:00:00Z",
                                      R"({"target":"y/n1","reason":"r","data":{"text":"y2"}})")}));
    auto refused = up->append(std::vector{line("x/c9", "x", "correction", "2024-12-13T00:00:00Z",
                                               R"({"target":"x/s2","reason":"r","at":"2024-12-12T01:00:00Z"})")});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message == "correction x/c9 (incident x) refused: its target x/s2 is already retracted (by x/r1)");
  }

  TEST_CASE("an upgrade that fails leaves the version-1 store as it was, and a later one succeeds") {
    temp_dir d;
    const std::string v1 = fixture_copy(d);
    // Something in the way of the new schema, half-way through the upgrade: a table of the
    // projection's name but another shape (CREATE TABLE IF NOT EXISTS keeps it; filling it fails).
    REQUIRE(raw_exec(v1, "CREATE TABLE event_versions (x)") == "");
    const std::string schema_before = schema(v1);
    const std::string log_before = raw_dump(v1, std::string(log_sql));

    auto failed = event_store::open(v1, {.create = false});
    REQUIRE_FALSE(failed);
    CHECK(failed.error().message.starts_with(v1 + ": "));
    // Nothing of it remains: the dropped indexes are back, no new object, still version 1.
    CHECK(schema(v1) == schema_before);
    CHECK(raw_dump(v1, std::string(log_sql)) == log_before);
    CHECK(raw_dump(v1, "PRAGMA user_version") == "1|\n");

    REQUIRE(raw_exec(v1, "DROP TABLE event_versions") == "");
    auto up = event_store::open(v1, {.create = false});
    REQUIRE(up);
    CHECK(up->upgraded_from() == 1);
    CHECK(raw_dump(v1, std::string(log_sql)) == log_before);
  }

  TEST_CASE("the version-2 fixture is what the last release of schema 2 made of its inputs") {
    const std::string path = (data / "store-v2.pmdb").string();
    CHECK(raw_dump(path, std::string(fixture_log_sql)) ==
          events_of({"examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl",
                     "tests/golden/scripts/data/corrections.jsonl"}));
    CHECK(raw_dump(path, "PRAGMA user_version") == "2|\n");
    CHECK(raw_dump(path, "SELECT count(*) FROM sqlite_master WHERE name = 'chain_head'") == "0|\n");
    CHECK(raw_dump(path, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'hash'") == "0|\n");
  }

  TEST_CASE("a version-2 store opened by today's pmdb: upgraded once, the log and read models untouched, the same "
            "answers") {
    temp_dir d;
    const std::string v2 = fixture_copy(d, 2);
    const std::string log_before = raw_dump(v2, "SELECT * FROM events ORDER BY seq");
    const std::string versions_before = raw_dump(v2, "SELECT * FROM event_versions ORDER BY seq, made_by");
    const std::string incidents_before = raw_dump(v2, "SELECT * FROM incidents ORDER BY id");

    // That release's questions (now and as of before the corrections): the same answers.
    upgrades_once_with_the_same_answers(v2, 2);

    // The log's old columns and both read models are byte for byte what that release wrote,
    // and what a rebuild makes; the schema is a new store's.
    CHECK(raw_dump(v2, std::string(log_sql)) == log_before);
    CHECK(raw_dump(v2, "SELECT * FROM event_versions ORDER BY seq, made_by") == versions_before);
    CHECK(raw_dump(v2, "SELECT * FROM incidents ORDER BY id") == incidents_before);
    REQUIRE(run_pmdb({"rebuild", v2}).status == 0);
    CHECK(raw_dump(v2, "SELECT * FROM event_versions ORDER BY seq, made_by") == versions_before);
    CHECK(raw_dump(v2, "SELECT * FROM incidents ORDER BY id") == incidents_before);
    REQUIRE(event_store::open(d.file("new.pmdb")));
    CHECK(objects(v2) == objects(d.file("new.pmdb")));

    // The chain over the old log, in store order, as an independent implementation computes
    // it; verify passes; the old events keep no append time or author (never recorded).
    auto up = event_store::open(v2, {.create = false});
    REQUIRE(up);
    CHECK_FALSE(up->upgraded_from());
    const chain_head head = up->head();
    CHECK(independent_chain(v2) == fmt::format("69 {}\n", head.hash));
    CHECK(raw_dump(v2, "SELECT count(*) FROM events WHERE appended_at IS NULL AND recorded_by IS NULL") == "69|\n");
    const auto verified = run_pmdb({"verify", v2});
    CHECK(verified.status == 0);
    CHECK(verified.out == fmt::format("ok: 69 events, head {}\n", head.hash));

    // The postmortem of the upgraded store, with the chain head in its footer. store-v2.report.md
    // was that release's; it is made again when the report's form changes (scripts/make-store-fixture).
    const auto report = run_pmdb({"report", v2, "openai-2024-12-11", "--now", "2025-01-01T00:00:00Z"});
    CHECK(report.status == 0);
    CHECK(report.out == read_file(data / "store-v2.report.md") +
                            fmt::format("\nChain head: `{}` (`pmdb verify STORE --from HASH` checks that the events it "
                                        "was made from are unchanged).\n",
                                        head.hash));

    // Appends continue the chain from the upgraded log.
    const auto recorded = run_pmdb({v2, "-c", R"(use meta-2024-12-11; record note "after the upgrade";)"});
    CHECK(recorded.status == 0);
    up = event_store::open(v2, {.create = false, .read_only = true});
    REQUIRE(up);
    CHECK(independent_chain(v2) == fmt::format("70 {}\n", up->head().hash));
    CHECK(run_pmdb({"verify", v2, "--from", head.hash}).status == 0);
  }

  TEST_CASE("an upgrade of a version-2 store that fails leaves it as it was, and a later one succeeds") {
    temp_dir d;
    const std::string v2 = fixture_copy(d, 2);
    // A table of the chain head's name but another shape, in the way: CREATE TABLE IF NOT EXISTS
    // keeps it, and storing the head fails, after the log's new columns were added and hashed.
    REQUIRE(raw_exec(v2, "CREATE TABLE chain_head (x)") == "");
    const std::string schema_before = schema(v2);
    const std::string log_before = raw_dump(v2, "SELECT * FROM events ORDER BY seq");

    auto failed = event_store::open(v2, {.create = false});
    REQUIRE_FALSE(failed);
    CHECK(failed.error().message.starts_with(v2 + ": "));
    // Nothing of it remains: no new column, the triggers as they were, still version 2.
    CHECK(schema(v2) == schema_before);
    CHECK(raw_dump(v2, "SELECT * FROM events ORDER BY seq") == log_before);
    CHECK(raw_dump(v2, "PRAGMA user_version") == "2|\n");

    REQUIRE(raw_exec(v2, "DROP TABLE chain_head") == "");
    auto up = event_store::open(v2, {.create = false});
    REQUIRE(up);
    CHECK(up->upgraded_from() == 2);
    CHECK(raw_dump(v2, std::string(log_sql)) == raw_dump((data / "store-v2.pmdb").string(), std::string(log_sql)));
  }
}

TEST_SUITE("upgrade") {
  // The inputs of the version-3 fixture, as scripts/make-store-fixture 3 records them.
  const std::vector<std::string> v3_record = {"--source", "fixture-shell", "--now", "2024-12-12T14:00:00Z", "-f",
                                              "tests/data/store-v3-record.pmq"};

  TEST_CASE("the version-3 fixture is what the release before the analysts' questions made of its inputs") {
    const std::string path = (data / "store-v3.pmdb").string();
    CHECK(raw_dump(path, "PRAGMA user_version") == "3|\n");
    // The imports first, in order; then the 8 events recorded live, by `fixture`.
    const std::string imported = events_of({"examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl",
                                            "tests/golden/scripts/data/corrections.jsonl"});
    CHECK(raw_dump(path, std::string(fixture_log_sql)).starts_with(imported));
    CHECK(raw_dump(path, "SELECT count(*), count(appended_at) FROM events") == "77|77|\n");
    CHECK(raw_dump(path, "SELECT type, recorded_by, source FROM events WHERE seq > 69 ORDER BY seq") ==
          "incident|fixture|fixture-shell|\nstatus|fixture|fixture-shell|\ncomponent|fixture|fixture-shell|\n"
          "status|fixture|fixture-shell|\nstatus|fixture|fixture-shell|\ncomponent|fixture|fixture-shell|\n"
          "status|fixture|fixture-shell|\ncorrection|fixture|fixture-shell|\n");
    // Its chain, as an independent implementation computes it, ends at the head it stored.
    CHECK(independent_chain(path) == "77 " + raw_dump(path, "SELECT lower(hex(hash)) FROM chain_head").substr(0, 64) + "\n");
  }

  TEST_CASE("a version-3 store opened by today's pmdb: upgraded once, the log and the other read models untouched, "
            "the same answers") {
    temp_dir d;
    const std::string v3 = fixture_copy(d, 3);
    const std::string log_before = raw_dump(v3, "SELECT * FROM events ORDER BY seq");
    const std::string versions_before = raw_dump(v3, "SELECT * FROM event_versions ORDER BY seq, made_by");
    const std::string incidents_before = raw_dump(v3, "SELECT * FROM incidents ORDER BY id");
    const std::string head_before = raw_dump(v3, "SELECT position, lower(hex(hash)) FROM chain_head");

    // That release's questions, now and as of earlier times: the same answers, through the
    // milestones read model the upgrade computed.
    upgrades_once_with_the_same_answers(v3, 3);

    // Every byte of the log (chain included), the versions, the incidents and the head as that
    // release wrote them; the milestones are what a rebuild makes, one row per key.
    CHECK(raw_dump(v3, "SELECT * FROM events ORDER BY seq") == log_before);
    CHECK(raw_dump(v3, "SELECT * FROM event_versions ORDER BY seq, made_by") == versions_before);
    CHECK(raw_dump(v3, "SELECT * FROM incidents ORDER BY id") == incidents_before);
    CHECK(raw_dump(v3, "SELECT position, lower(hex(hash)) FROM chain_head") == head_before);
    const std::string milestones = raw_dump(v3, "SELECT * FROM milestones ORDER BY incident, type, key");
    CHECK(raw_dump(v3, "SELECT count(*) > 20 FROM milestones") == "1|\n");
    REQUIRE(run_pmdb({"rebuild", v3}).status == 0);
    CHECK(raw_dump(v3, "SELECT * FROM milestones ORDER BY incident, type, key") == milestones);
    REQUIRE(event_store::open(d.file("new.pmdb")));
    CHECK(objects(v3) == objects(d.file("new.pmdb")));

    std::string head;
    {
      auto opened = event_store::open(v3, {.create = false});
      REQUIRE(opened);
      CHECK_FALSE(opened->upgraded_from());
      head = opened->head().hash;
    }
    const auto verified = run_pmdb({"verify", v3});
    CHECK(verified.status == 0);
    CHECK(verified.out == fmt::format("ok: 77 events, head {}\n", head));
    const auto report = run_pmdb({"report", v3, "openai-2024-12-11", "--now", "2025-01-01T00:00:00Z"});
    CHECK(report.status == 0);
    CHECK(report.out == read_file(data / "store-v3.report.md"));
  }

  TEST_CASE("an upgrade of a version-3 store that fails leaves it as it was, and a later one succeeds") {
    temp_dir d;
    const std::string v3 = fixture_copy(d, 3);
    // A table of the milestones' name but another shape, in the way: CREATE TABLE IF NOT EXISTS
    // keeps it, and its index (and the read model's computing) fail inside the transaction.
    REQUIRE(raw_exec(v3, "CREATE TABLE milestones (x)") == "");
    const std::string schema_before = schema(v3);
    const std::string everything_before = raw_dump(v3, "SELECT * FROM events ORDER BY seq") +
                                          raw_dump(v3, "SELECT * FROM event_versions ORDER BY seq, made_by") +
                                          raw_dump(v3, "SELECT * FROM incidents ORDER BY id") +
                                          raw_dump(v3, "SELECT * FROM chain_head");

    auto failed = event_store::open(v3, {.create = false});
    REQUIRE_FALSE(failed);
    CHECK(failed.error().message.starts_with(v3 + ": "));
    CHECK(schema(v3) == schema_before);
    CHECK(raw_dump(v3, "SELECT * FROM events ORDER BY seq") + raw_dump(v3, "SELECT * FROM event_versions ORDER BY seq, made_by") +
              raw_dump(v3, "SELECT * FROM incidents ORDER BY id") + raw_dump(v3, "SELECT * FROM chain_head") ==
          everything_before);
    CHECK(raw_dump(v3, "PRAGMA user_version") == "3|\n");

    REQUIRE(raw_exec(v3, "DROP TABLE milestones") == "");
    auto up = event_store::open(v3, {.create = false});
    REQUIRE(up);
    CHECK(up->upgraded_from() == 3);
    CHECK(raw_dump(v3, "PRAGMA user_version") == "4|\n");
    CHECK(up->verify()->ok);
  }

  TEST_CASE("the questions that release could not ask: on its store as on one today's pmdb builds") {
    temp_dir d;
    const std::string v3 = fixture_copy(d, 3);
    const std::string fresh = d.file("fresh.pmdb");
    REQUIRE(run_pmdb({"import", fresh, "examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl",
                      "tests/golden/scripts/data/corrections.jsonl"})
                .status == 0);
    std::vector<std::string> record{"env", "PMDB_USER=fixture", PMDB_BINARY, fresh};
    record.insert(record.end(), v3_record.begin(), v3_record.end());
    REQUIRE(run_command(record).status == 0);
    // The same log, but when the demo files were imported and the live records appended (the
    // clock's time, after every `as of` the questions ask): the corrections carry their own.
    const std::string log = "SELECT id, incident, type, at, source, data FROM events ORDER BY seq";
    REQUIRE(raw_dump(fresh, log) == raw_dump(v3, log));
    const std::string recorded = "SELECT recorded_at FROM events WHERE seq BETWEEN 67 AND 69 ORDER BY seq";
    REQUIRE(raw_dump(fresh, recorded) == raw_dump(v3, recorded));

    const std::string questions = (data / "store-v3-new-questions.pmq").string();
    REQUIRE(event_store::open(v3, {.create = false}));  // the upgrade, said once
    const auto on_old = run_pmdb({v3, "--now", "2025-01-01T00:00:00Z", "-f", questions});
    const auto on_new = run_pmdb({fresh, "--now", "2025-01-01T00:00:00Z", "-f", questions});
    CHECK(on_old.status == 0);
    CHECK(on_old.err == "");
    CHECK(on_old.out == on_new.out);
    // Not vacuous: every statement answered (12 result tables).
    CHECK(std::count(on_old.out.begin(), on_old.out.end(), '\n') > 12 * 4);
  }

  TEST_CASE("a version-4 store the previous release wrote: opened as it is, the same answers and report") {
    temp_dir d;
    const std::string v4 = fixture_copy(d, 4);
    // What that release made: the imports in order, then the live records, on its own chain.
    CHECK(raw_dump(v4, "PRAGMA user_version") == "4|\n");
    CHECK(raw_dump(v4, std::string(fixture_log_sql))
              .starts_with(events_of({"examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl",
                                      "tests/golden/scripts/data/corrections.jsonl"})));
    CHECK(raw_dump(v4, "SELECT count(*) FROM events WHERE recorded_by = 'fixture'") == "8|\n");
    CHECK(independent_chain(v4) == "77 " + raw_dump(v4, "SELECT lower(hex(hash)) FROM chain_head").substr(0, 64) + "\n");

    std::vector<std::string> before;
    const char* tables[] = {"SELECT * FROM events ORDER BY seq", "SELECT * FROM event_versions ORDER BY seq, made_by",
                            "SELECT * FROM incidents ORDER BY id", "SELECT * FROM milestones ORDER BY incident, type, key",
                            "SELECT position, lower(hex(hash)) FROM chain_head"};
    for (const char* t : tables) before.push_back(raw_dump(v4, t));
    const std::string answers = read_file(data / "store-v4.answers");
    REQUIRE(std::count(answers.begin(), answers.end(), '\n') > 200);
    for (int i = 0; i < 2; ++i) {
      const auto asked = run_pmdb({v4, "-f", (data / "store-v3-questions.pmq").string(), "-f",
                                   (data / "store-v3-new-questions.pmq").string()});
      CHECK(asked.status == 0);
      CHECK(asked.err == "");  // no upgrade to announce
      CHECK(asked.out == answers);
    }
    const auto report = run_pmdb({"report", v4, "openai-2024-12-11", "--now", "2025-01-01T00:00:00Z"});
    CHECK(report.status == 0);
    CHECK(report.out == read_file(data / "store-v4.report.md"));
    {
      auto opened = event_store::open(v4, {.create = false});
      REQUIRE(opened);
      CHECK_FALSE(opened->upgraded_from());
    }
    for (std::size_t i = 0; i < std::size(tables); ++i) CHECK_MESSAGE(raw_dump(v4, tables[i]) == before[i], tables[i]);
    CHECK(raw_dump(v4, "PRAGMA user_version") == "4|\n");
    REQUIRE(event_store::open(d.file("new.pmdb")));
    CHECK(objects(v4) == objects(d.file("new.pmdb")));
    CHECK(run_pmdb({"verify", v4}).status == 0);
  }
}
