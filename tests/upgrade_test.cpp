// A store written by pmdb 0.1 (schema version 1: tests/data/store-v1.pmdb, made by that
// binary from the demo incidents and tests/data/store-v1-corrections.jsonl) is upgraded in
// place when opened, in one transaction, says so once, keeps its log byte for byte, and then
// answers every question as a store written by this version answers it.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include <sqlite3.h>

#include "core/jsonl.hpp"
#include "golden.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"
#include "shell/render.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

// The answers of PMQL statements, rendered as the shell renders them.
std::string answers(const event_store& store, std::string_view text) {
  auto script = query::parse(text);
  REQUIRE(script);
  const auto cat = shell::catalog_of(store);
  std::string out;
  for (const auto& st : script->statements) {
    auto act = query::compile(st, cat, {}, text);
    REQUIRE_MESSAGE(act, act.error().message);
    auto rs = store.query(std::get<query::run_query>(*act).query.sql, std::get<query::run_query>(*act).query.params,
                          std::get<query::run_query>(*act).query.columns);
    REQUIRE_MESSAGE(rs, rs.error().message);
    out += shell::render(*rs, {});
  }
  return out;
}

// Read with SQLite directly: pmdb refuses to open a version-1 store read-only.
std::string user_version(const std::string& path) { return raw_dump(path, "PRAGMA user_version"); }

constexpr std::string_view questions =
    "time from first alert to status identified in openai-2024-12-11;"
    "time from start to end in meta-2024-12-11;"
    "incidents | select id, status, started, ended;"
    "timeline openai-2024-12-11 where type in (alert, status) | select at, type, text, corrected;"
    "incidents | let ttr = time from first status investigating to status resolved | select id, ttr;"
    "time from first alert to status identified in openai-2024-12-11 as of 2024-12-14T08:59Z;";

}  // namespace

TEST_SUITE("upgrade") {
  TEST_CASE("a version-1 store is upgraded in place and answers like a new one") {
    temp_dir d;
    const std::string v1 = d.file("v1.pmdb");
    std::filesystem::copy_file(source_dir() / "tests/data/store-v1.pmdb", v1);
    REQUIRE(user_version(v1) == "1|\n");

    // Read-only, it is refused with a reason, and left as it was.
    auto ro = event_store::open(v1, {.create = false, .read_only = true});
    REQUIRE_FALSE(ro);
    CHECK(ro.error().is(errc::read_only));
    CHECK(ro.error().message.find("open it once for writing") != std::string::npos);
    CHECK(user_version(v1) == "1|\n");

    const std::string log_before = raw_dump(v1, "SELECT * FROM events ORDER BY seq");
    REQUIRE_FALSE(log_before.empty());

    auto up = event_store::open(v1, {.create = false});
    REQUIRE(up);
    REQUIRE(up->upgraded_from());
    CHECK(*up->upgraded_from() == 1);
    CHECK(dump(*up, "events", "seq") == log_before);
    const std::string versions = dump(*up, "event_versions", "seq, made_by");
    const std::string incidents = dump(*up, "incidents", "id");

    // rebuild() reproduces the read models byte for byte.
    REQUIRE(up->rebuild());
    CHECK(dump(*up, "event_versions", "seq, made_by") == versions);
    CHECK(dump(*up, "incidents", "id") == incidents);

    // A store written today from the same events (the dangling correction that version 1
    // accepted is refused now, and changes no answer in the upgraded store).
    auto fresh = memory_store();
    for (const std::string f : {"examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl"}) {
      std::ifstream in(source_dir() / f);
      REQUIRE(import_jsonl(fresh, in, f));
    }
    std::istringstream legacy(read_file(source_dir() / "tests/data/store-v1-corrections.jsonl"));
    std::string first_two, l;
    for (int i = 0; i < 2 && std::getline(legacy, l); ++i) first_two += l + "\n";
    std::istringstream corrections(first_two);
    REQUIRE(import_jsonl(fresh, corrections, "corrections"));
    const std::string want = answers(fresh, questions);
    CHECK(answers(*up, questions) == want);
    CHECK(want.find("1h23m") != std::string::npos);  // the legacy correction counts
    CHECK(want.find("40m") != std::string::npos);    // as of before it, it does not

    // Opened again: already current, nothing to say.
    up = event_store::open(v1, {.create = false});
    REQUIRE(up);
    CHECK_FALSE(up->upgraded_from());
    CHECK(user_version(v1) == "2|\n");
  }

  TEST_CASE("the command line says once that it upgraded the store") {
    temp_dir d;
    const std::string v1 = d.file("v1.pmdb");
    std::filesystem::copy_file(source_dir() / "tests/data/store-v1.pmdb", v1);
    auto r = run_pmdb({"report", v1, "meta-2024-12-11", "--now", "2025-01-01T00:00:00Z"});
    CHECK(r.status == 0);
    CHECK(r.err == "pmdb: " + v1 + ": upgraded the store from schema version 1 to 2 (the log is unchanged; the read models were "
                        "rebuilt from it)\n");
    r = run_pmdb({v1, "-c", "time from start to end in meta-2024-12-11;"});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    CHECK(r.out.find("6h45m") != std::string::npos);
  }
}
