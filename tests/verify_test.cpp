// Tamper evidence: `pmdb verify` on an untouched store, and on stores changed behind pmdb's
// back with the real `sqlite3` command-line tool, each attack named at its position. The chain
// itself is checked against an independent implementation (tests/tools/chain.py: Python's
// hashlib and sqlite3).
#include <doctest/doctest.h>

#include <filesystem>

#include "golden.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

const std::string chain_py = (source_dir() / "tests/tools/chain.py").string();

// The demo incidents (66 events: Meta's 13, then OpenAI's 53) and one correction of OpenAI's
// "identified" post, in a new store file: 67 events, one of them with two versions.
std::string demo_store(const temp_dir& d) {
  const std::string path = d.file("s.pmdb");
  const auto imported = run_pmdb({"import", path, "examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl"});
  REQUIRE(imported.status == 0);
  write_file(d.path / "fix.jsonl",
             line("openai-2024-12-11", "correction", "2024-12-12T00:00:00Z",
                  R"({"target":"openai-2024-12-11/status-identified","reason":"seen earlier","at":"2024-12-11T23:50:00Z"})",
                  R"("id":"fix-1")") +
                 "\n");
  REQUIRE(run_pmdb({"import", path, d.file("fix.jsonl")}).status == 0);
  return path;
}

// The independent computation: "N HASH" of the chain's last position.
std::string independent_head(const std::string& path) {
  const auto r = run_command({"python3", chain_py, path});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return r.out;
}

// Raw SQL through the sqlite3 tool, as someone with write access to the file would run it.
void tamper(const std::string& path, const std::string& sql) {
  const auto r = run_command({"sqlite3", "-bail", path}, sql);
  REQUIRE_MESSAGE(r.status == 0, r.err);
}

run_result verify(const std::string& path, std::vector<std::string> more = {}) {
  std::vector<std::string> args{"verify", path};
  args.insert(args.end(), more.begin(), more.end());
  return run_pmdb(args);
}

// The one value `sql` selects, as text.
std::string cell(const std::string& path, const std::string& sql) {
  const std::string row = raw_dump(path, sql);
  REQUIRE(row.ends_with("|\n"));
  return row.substr(0, row.size() - 2);
}

int position_of(const std::string& path, const std::string& id) {
  return std::stoi(cell(path, "SELECT seq FROM events WHERE id = '" + id + "'"));
}

}  // namespace

TEST_SUITE("verify") {
  TEST_CASE("an untouched store verifies, with the head an independent implementation computes") {
    temp_dir d;
    const std::string path = demo_store(d);
    const std::string head = independent_head(path);
    CHECK(head.starts_with("67 "));
    const auto ok = verify(path);
    CHECK(ok.status == 0);
    CHECK(ok.err.empty());
    CHECK(ok.out == "ok: 67 events, head " + head.substr(3));
    auto store = event_store::open(path, {.create = false, .read_only = true});
    REQUIRE(store);
    CHECK(fmt::format("{} {}\n", store->head().position, store->head().hash) == head);

    // Every event keeps its append time and who appended it.
    CHECK(raw_dump(path, "SELECT count(*) FROM events WHERE appended_at IS NULL OR recorded_by IS NULL OR "
                         "length(hash) != 32") == "0|\n");
    CHECK(raw_dump(path, "SELECT count(DISTINCT recorded_by) FROM events") == "1|\n");
  }

  TEST_CASE("an empty store verifies, at the genesis") {
    temp_dir d;
    REQUIRE(event_store::open(d.file("e.pmdb")));
    const auto ok = verify(d.file("e.pmdb"));
    CHECK(ok.status == 0);
    CHECK(ok.out == "ok: 0 events, head " + std::string(64, '0') + "\n");
  }

  TEST_CASE("a head published earlier pins the timeline: --from") {
    temp_dir d;
    const std::string path = demo_store(d);
    const std::string published = independent_head(path).substr(3, 64);
    // Later appends keep it a prefix.
    write_file(d.path / "later.jsonl",
               line("openai-2024-12-11", "note", "2024-12-13T00:00:00Z", R"({"text":"later"})") + "\n");
    REQUIRE(run_pmdb({"import", path, d.file("later.jsonl")}).status == 0);
    auto later = verify(path, {"--from", published});
    CHECK(later.status == 0);
    CHECK(later.out.ends_with(published + " is the chain's hash at position 67: the 67 events it pinned are unchanged\n"));
    // A prefix of 16 hex digits is enough; fewer is refused.
    CHECK(verify(path, {"--from", published.substr(0, 16)}).status == 0);
    const auto short_hash = verify(path, {"--from", published.substr(0, 15)});
    CHECK(short_hash.status == 1);
    CHECK(short_hash.err.find("not a chain hash (16 to 64 hex digits)") != std::string::npos);

    // A forger who edits a row and recomputes every hash and the head leaves a store that
    // verifies on its own (there is nothing left to compare with)...
    const int at = position_of(path, "openai-2024-12-11/status-resolved");
    tamper(path, "DROP TRIGGER events_are_append_only_update; UPDATE events SET at = at - 3600000 WHERE seq = " +
                     std::to_string(at));
    REQUIRE(run_command({"python3", chain_py, path, "--rewrite"}).status == 0);
    tamper(path, "DELETE FROM event_versions; DELETE FROM incidents;");
    tamper(path, std::string(read_file(source_dir() / "schemas/store.sql")));  // the triggers back
    REQUIRE(run_pmdb({"rebuild", path}).status == 0);  // pmdb opens it: nothing cheap to see
    CHECK(verify(path).status == 0);
    // ...but not against the head published before.
    const auto pinned = verify(path, {"--from", published});
    CHECK(pinned.status == 1);
    CHECK(pinned.err == "pmdb: verify: " + path + ": the head " + published +
                            " is not in this store's chain: the timeline it pinned was rewritten, or it belongs to "
                            "another store\n");
  }

  TEST_CASE("each change made with sqlite3 is found, at its position") {
    temp_dir d;
    const std::string path = demo_store(d);
    const std::string pfx = "pmdb: verify: " + path + ": ";
    const auto fails = [&](const std::string& first_line) {
      const auto r = verify(path);
      CHECK(r.status == 1);
      CHECK(r.out.empty());
      CHECK(r.err.substr(0, r.err.find('\n') + 1) == pfx + first_line + "\n");
      return r.err;
    };

    SUBCASE("a row edited after dropping the trigger") {
      const int at = position_of(path, "openai-2024-12-11/status-identified");
      tamper(path, "DROP TRIGGER events_are_append_only_update; UPDATE events SET data = "
                   "'{\"status\":\"identified\",\"text\":\"all fine\"}', text = 'all fine' WHERE seq = " +
                       std::to_string(at));
      const std::string err =
          fails(fmt::format("position {}: event openai-2024-12-11/status-identified (incident openai-2024-12-11) does "
                            "not match the chain: the row, or one before it, was changed, moved or replaced since it "
                            "was appended",
                            at));
      CHECK(err.find("the trigger events_are_append_only_update is missing") != std::string::npos);
    }
    SUBCASE("a row edited, the trigger put back") {
      tamper(path, "DROP TRIGGER events_are_append_only_update; UPDATE events SET source = 'someone else' WHERE seq = 5; " +
                       std::string(read_file(source_dir() / "schemas/store.sql")));
      const std::string err = fails("position 5: event " + cell(path, "SELECT id FROM events WHERE seq = 5") +
                                    " (incident meta-2024-12-11) does not match the chain: the row, or one before it, "
                                    "was changed, moved or replaced since it was appended");
      CHECK(err.find("trigger") == std::string::npos);
    }
    SUBCASE("the last rows deleted") {
      tamper(path, "DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq > 64;");
      fails("position 65: missing: the chain head is at position 67 but the log ends at position 64: events were "
            "removed from its end");
    }
    SUBCASE("a row deleted in the middle") {
      tamper(path, "DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq = 30;");
      fails("position 30: missing: the log goes from position 29 to 31");
    }
    SUBCASE("two rows swapped") {
      tamper(path, "DROP TRIGGER events_are_append_only_update; "
                   "UPDATE events SET seq = -seq WHERE seq IN (20, 40); "
                   "UPDATE events SET seq = CASE seq WHEN -20 THEN 40 ELSE 20 END WHERE seq < 0;");
      fails("position 20: event " + cell(path, "SELECT id FROM events WHERE seq = 20") + " (incident " +
            cell(path, "SELECT incident FROM events WHERE seq = 20") + ") does not match the chain: the row, or one before it, was changed, moved or replaced since it was "
            "appended");
    }
    SUBCASE("a forged event appended (inserts need no trigger dropped)") {
      tamper(path, "INSERT INTO events (seq, id, incident, version, type, at, recorded_at, source, approx, data, text, hash) "
                   "SELECT 68, 'forged', incident, 55, 'note', at, recorded_at, source, 0, '{\"text\":\"x\"}', 'x', hash "
                   "FROM events WHERE seq = 67");
      fails("position 68: event forged (incident openai-2024-12-11) does not match the chain: the row, or one before "
            "it, was changed, moved or replaced since it was appended");
    }
    SUBCASE("the versions read model edited") {
      const int at = position_of(path, "openai-2024-12-11/status-monitoring");
      tamper(path, "UPDATE event_versions SET at = at - 600000 WHERE seq = " + std::to_string(at));
      fails(fmt::format("position {}: the read model event_versions disagrees with the log for event "
                        "openai-2024-12-11/status-monitoring (the version made by position {}): column at differs",
                        at, at));
    }
    SUBCASE("a correction's version removed from the read model") {
      const int at = position_of(path, "openai-2024-12-11/status-identified");
      tamper(path, "DELETE FROM event_versions WHERE made_by = 67");
      fails(fmt::format("position {}: the read model event_versions disagrees with the log for event "
                        "openai-2024-12-11/status-identified (the version made by position 67): the row is missing",
                        at));
    }
    SUBCASE("the incidents read model edited") {
      tamper(path, "UPDATE incidents SET ended = ended + 3600000 WHERE id = 'meta-2024-12-11'");
      fails("the read model incidents disagrees with the log for incident meta-2024-12-11: column ended differs");
    }
    SUBCASE("the milestones read model edited") {
      tamper(path, "UPDATE milestones SET first_at = first_at + 60000 WHERE incident = 'openai-2024-12-11' AND type = "
                   "'status' AND key = 'resolved'");
      fails("the read model milestones disagrees with the log for incident openai-2024-12-11: row (status, "
            "\"resolved\")");
    }
    SUBCASE("a milestones row removed") {
      tamper(path, "DELETE FROM milestones WHERE incident = 'meta-2024-12-11' AND type = 'report' AND key = ''");
      fails("the read model milestones lacks the row (report, \"\") of incident meta-2024-12-11");
    }
    SUBCASE("a milestones row added") {
      tamper(path, "INSERT INTO milestones SELECT incident, 'status', 'postmortem', first_at, first_seq, last_at, "
                   "last_seq FROM milestones WHERE incident = 'meta-2024-12-11' AND type = '*'");
      fails("the read model milestones has a row (status, \"postmortem\") for incident meta-2024-12-11, which the log "
            "does not make");
    }
    SUBCASE("milestones of an incident the log does not hold") {
      tamper(path, "INSERT INTO milestones VALUES ('ghost', '*', '', 1, 1, 2, 2)");
      fails("the read model milestones has rows for incident ghost, which the log does not make");
    }
    SUBCASE("the chain head moved back") {
      tamper(path, "DROP TRIGGER chain_head_only_advances; UPDATE chain_head SET position = 60");
      const std::string err = fails("position 61: the chain head is at position 60: the events after it were added "
                                    "without advancing it");
      CHECK(err.find("the trigger chain_head_only_advances is missing") != std::string::npos);
    }
    SUBCASE("only a trigger dropped") {
      tamper(path, "DROP TRIGGER events_are_append_only_delete");
      fails("the trigger events_are_append_only_delete is missing: the store no longer refuses to change its history");
    }
  }

  TEST_CASE(".info shows the head verify computes, and who records") {
    temp_dir d;
    const std::string path = demo_store(d);
    const std::string head = independent_head(path).substr(3, 64);
    const auto info = run_command({"env", "PMDB_USER=ana", "PMDB_SOURCE=war room", PMDB_BINARY, path, "-c",
                                   "use openai-2024-12-11;", "-c", ".info"});
    CHECK(info.status == 0);
    CHECK(info.out == "store:       " + path + " (schema version 4)\n"
                      "events:      67 in 2 incidents\n"
                      "chain head:  " + head + " at position 67 (pmdb verify checks it)\n"
                      "recording:   as ana, source \"war room\", into openai-2024-12-11\n");
    // What was appended, when and by whom, is on the log.
    const auto who = run_command({"env", "PMDB_USER=ana", PMDB_BINARY, path, "-c",
                                  "use openai-2024-12-11; record note \"from ana\"; "
                                  "log where recorded_by = 'ana' and appended_at is not null | select text;"});
    CHECK(who.status == 0);
    CHECK(who.out.ends_with("| from ana |\n+----------+\n"));
  }
}
