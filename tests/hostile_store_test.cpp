// The store and PMQL against hostile files and literals: numbers that do not fit, a store whose
// history was changed behind pmdb's back, a damaged file, read-only media and a full disk,
// values over SQLite's limits, leap seconds and empty files. Each case ran wrong before pmdb
// refused it; the real binary runs them where a user would meet them.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/sqlite.hpp"
#include "core/time.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

// The demo incidents (66 events) in a new store file.
std::string demo_store(const temp_dir& d, const std::string& name = "s.pmdb") {
  const std::string path = d.file(name);
  const auto r = run_pmdb({"import", path, "examples/meta-2024-12-11.jsonl", "examples/openai-2024-12-11.jsonl"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return path;
}

// Raw SQL through the sqlite3 tool, as someone with write access to the file would run it.
void tamper(const std::string& path, const std::string& sql) {
  const auto r = run_command({"sqlite3", "-bail", path}, sql);
  REQUIRE_MESSAGE(r.status == 0, r.err);
}

// Runs `script` with sh in a mount namespace of its own (as root), so that the file systems it
// mounts vanish with it, also when the test fails.
run_result in_mount_namespace(const std::string& script) { return run_command({"unshare", "-m", "sh", "-ec", script}); }

}  // namespace

TEST_SUITE("hostile_store") {
  TEST_CASE("integer overflow in PMQL literals is an error naming the literal, not a wrapped value") {
    const auto big = run_pmdb({"--mode", "csv", "-c", "incidents | limit 1 | select x = 9223372036854775807"});
    CHECK_MESSAGE(big.status == 0, big.err);
    CHECK(big.out == "x\n9223372036854775807\n");

    const auto over = run_pmdb({"-c", "incidents | limit 1 | select x = 9223372036854775808"});
    CHECK(over.status == 1);
    CHECK(over.err.find("integer out of range '9223372036854775808'") != std::string::npos);
    CHECK(over.out.empty());

    const auto where = run_pmdb({"-c", "events | where value > 9223372036854775808 | summarize n = count()"});
    CHECK(where.status == 1);
    CHECK(where.err.find("integer out of range") != std::string::npos);

    for (const char* q : {"select x = 9223372036854775808ms", "select x = 106751991168d", "select x = 99999999999999999999s",
                          "select x = 106751991167d1d"}) {
      CAPTURE(q);
      const auto d = run_pmdb({"-c", std::string("incidents | limit 1 | ") + q});
      CHECK(d.status == 1);
      CHECK(d.err.find("duration out of range") != std::string::npos);
    }
    const auto spelled = run_pmdb({"-c", "incidents | limit 1 | select x = 20000000000000 weeks"});
    CHECK(spelled.status == 1);
    CHECK(spelled.err.find("duration out of range") != std::string::npos);

    const auto real = run_pmdb({"-c", "incidents | limit 1 | select x = 1e400"});
    CHECK(real.status == 1);
    CHECK(real.err.find("number out of range '1e400'") != std::string::npos);

    // The largest duration still is one.
    const auto most = run_pmdb({"--mode", "csv", "-c", "incidents | limit 1 | select x = 106751991167d < 106751991167d1h"});
    CHECK_MESSAGE(most.status == 0, most.err);
  }

  TEST_CASE("a store whose log was changed through a dropped trigger is refused, and verify says what") {
    temp_dir d;
    const std::string path = demo_store(d);
    tamper(path, "DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq = 5;");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{path, "-c", "incidents | summarize n = count()"}, {"report", path, "openai-2024-12-11"},
          {"rebuild", path}, {"import", path, "examples/openai-2024-12-11.jsonl"}, {"export", path},
          {"--readonly", path, "-c", "incidents | summarize n = count()"}}) {
      CAPTURE(args[0]);
      const auto r = run_pmdb(args);
      CHECK(r.status == 1);
      CHECK(r.err.find("changed outside pmdb: the trigger events_are_append_only_delete is missing") != std::string::npos);
      CHECK(r.err.find("pmdb verify") != std::string::npos);
      CHECK(r.out.empty());
    }
    const auto v = run_pmdb({"verify", path});
    CHECK(v.status == 1);
    CHECK(v.err.find("position") != std::string::npos);
  }

  TEST_CASE("rows forged past the chain head or removed from its end are refused on open") {
    temp_dir d;
    const std::string forged = demo_store(d, "forged.pmdb");
    // INSERT needs no trigger dropped: a row copied to position 999.
    tamper(forged,
           "CREATE TEMP TABLE t AS SELECT * FROM events WHERE seq = 3; UPDATE t SET seq = 999, id = 'forged', version = 999;"
           "INSERT INTO events SELECT * FROM t;");
    const auto q = run_pmdb({forged, "-c", "events | summarize n = count()"});
    CHECK(q.status == 1);
    CHECK(q.err.find("the log ends at position 999 but its chain head is at 66: events were added outside pmdb") !=
          std::string::npos);
    CHECK(q.out.empty());

    // The last events removed, and the trigger put back as it was.
    const std::string cut = demo_store(d, "cut.pmdb");
    std::string trigger = raw_dump(cut, "SELECT sql FROM sqlite_master WHERE name = 'events_are_append_only_delete'");
    REQUIRE(trigger.ends_with("|\n"));
    trigger.resize(trigger.size() - 2);
    tamper(cut, "DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq > 60; " + trigger + ";");
    const auto r = run_pmdb({"report", cut, "openai-2024-12-11"});
    CHECK(r.status == 1);
    CHECK(r.err.find("the log ends at position 60 but its chain head is at 66: events were removed") != std::string::npos);
  }

  TEST_CASE("a damaged database file is named by verify, and a query that meets the damage fails") {
    temp_dir d;
    const std::string path = demo_store(d);
    const long page = std::stol(raw_dump(path, "PRAGMA page_size").substr(0, 5));
    const long root = std::stol(raw_dump(path, "SELECT rootpage FROM sqlite_master WHERE name = 'events_by_incident_type'"));
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp((root - 1) * page + 8);  // past the page header's first bytes: cells become garbage
      const std::string junk(static_cast<std::size_t>(page - 16), '\x5a');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    const auto v = run_pmdb({"verify", path});
    CHECK(v.status == 1);
    CHECK(v.err.find("the database file is damaged (PRAGMA integrity_check)") != std::string::npos);
    // The index serves one incident's events of one type.
    const auto q = run_pmdb({path, "-c", "log | where incident == \"openai-2024-12-11\" and type == \"status\" | summarize n = count()"});
    CHECK(q.status == 1);
    CHECK(q.err.find("damaged") != std::string::npos);
    CHECK(q.err.find("pmdb verify") != std::string::npos);
  }

  TEST_CASE("a store on read-only media opens with --readonly, and reads still work on a full disk") {
    temp_dir d;
    const std::string path = demo_store(d);
    REQUIRE(!std::filesystem::exists(path + "-wal"));
    const std::string dir = d.path.string();
    const std::string pmdb = PMDB_BINARY;
    // A read-only bind mount of the store's folder: no -shm can be made there.
    const auto ro = in_mount_namespace("mount --bind " + dir + " " + dir + "; mount -o remount,bind,ro " + dir + "; " +
                                       pmdb + " --readonly --mode csv " + path +
                                       " -c 'incidents | summarize n = count()' 2>&1; touch " + dir + "/x 2>/dev/null && echo WRITABLE || true");
    CHECK(ro.status == 0);
    CHECK(ro.out == "n\n2\n");
    // Without --readonly, a write is refused with the reason.
    const auto rw = in_mount_namespace("mount --bind " + dir + " " + dir + "; mount -o remount,bind,ro " + dir + "; " +
                                       pmdb + " import " + path + " " + source_dir().string() +
                                       "/examples/meta-2024-12-11.jsonl 2>&1 || echo EXIT=$?");
    CHECK(rw.out.find("EXIT=1") != std::string::npos);
    CHECK(rw.out.find("read-only") != std::string::npos);

    // A full disk: a small file system filled to the last byte after the store was put there.
    const std::string full = (d.path / "full").string();
    std::filesystem::create_directory(full);
    const auto f = in_mount_namespace(
        "mount -t tmpfs -o size=1m tmpfs " + full + "; cp " + path + " " + full + "/s.pmdb; dd if=/dev/zero of=" + full +
        "/filler bs=4k 2>/dev/null || true; " + pmdb + " --readonly --mode csv " + full +
        "/s.pmdb -c 'incidents | summarize n = count()' 2>&1; " + pmdb + " --mode csv " + full + "/s.pmdb -c 'incidents | summarize n = count()' 2>&1 || echo EXIT=$?");
    CHECK(f.status == 0);
    INFO(f.out);
    CHECK(f.out.starts_with("n\n2\n"));
  }

  TEST_CASE("a bind over SQLite's length limit is an error, not a NULL") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 100);
    {
      auto st = sqlite::statement::prepare(db, "SELECT ?1");
      REQUIRE(st);
      st->bind(1, std::string_view(std::string(200, 'x')));
      const auto row = st->step();
      REQUIRE(!row);
      CHECK(row.error().message == "binding parameter 1: a value longer than SQLite's limit of 100 bytes");
      // The statement is usable again once reset.
      st->reset();
      st->bind(1, std::string_view("ok"));
      REQUIRE(st->step().value_or(false));
      CHECK(st->text(0) == "ok");
    }
    sqlite3_close(db);
  }

  TEST_CASE("a leap second is refused, not folded into second 59") {
    const auto t = parse_timestamp("2016-12-31T23:59:60Z");
    REQUIRE(!t);
    CHECK(t.error().find("leap second") != std::string::npos);
    CHECK(parse_timestamp("2016-12-31T23:59:59.999Z"));
    CHECK(!parse_timestamp("2016-12-31T23:59:61Z"));

    temp_dir d;
    write_file(d.path / "leap.jsonl", line("acme-1", "note", "2016-12-31T23:59:60Z", R"({"text":"leap"})") + "\n");
    const auto r = run_pmdb({"import", d.file("s.pmdb"), d.file("leap.jsonl")});
    CHECK(r.status == 1);
    CHECK(r.err.find("leap.jsonl:1: at: second 60 (a leap second) cannot be stored") != std::string::npos);
  }

  TEST_CASE("an empty file or another program's empty database is not taken for a new store") {
    temp_dir d;
    const std::string empty = d.file("empty.pmdb");
    write_file(empty, "");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{empty, "-c", "incidents | summarize n = count()"}, {"import", empty, "examples/meta-2024-12-11.jsonl"},
          {"--readonly", empty, "-c", "incidents | summarize n = count()"}}) {
      const auto r = run_pmdb(args);
      CHECK(r.status == 1);
      CHECK(r.err.find("an empty file (0 bytes), not a pmdb store") != std::string::npos);
    }
    CHECK(std::filesystem::file_size(empty) == 0);

    const std::string other = d.file("other.db");
    REQUIRE(run_command({"sqlite3", other}, "PRAGMA user_version = 0; VACUUM;").status == 0);
    const auto before = read_file(other);
    const auto r = run_pmdb({"import", other, "examples/meta-2024-12-11.jsonl"});
    CHECK(r.status == 1);
    CHECK(r.err.find("not a pmdb store") != std::string::npos);
    CHECK(read_file(other) == before);

    // A missing file is still made into a new store, whole, and with the user's umask.
    const auto fresh = run_pmdb({"import", d.file("new.pmdb"), "examples/meta-2024-12-11.jsonl"});
    CHECK_MESSAGE(fresh.status == 0, fresh.err);
    const auto perms = std::filesystem::status(d.file("new.pmdb")).permissions();
    CHECK((perms & std::filesystem::perms::others_read) != std::filesystem::perms::none);
    std::size_t leftovers = 0;
    for (const auto& e : std::filesystem::directory_iterator(d.path))
      leftovers += e.path().filename().string().find(".new-") != std::string::npos;
    CHECK(leftovers == 0);
  }
}
