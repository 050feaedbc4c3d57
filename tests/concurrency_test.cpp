// Several writers at once: four pmdb processes recording into the same incident of the same
// file at the same moment. Every event is stored once, positions and the incident's versions
// have no gap, each writer's events keep its order, no writer prints an error, and the chain
// verifies.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <sys/wait.h>

#include "golden.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

TEST_SUITE("concurrency") {
  TEST_CASE("four processes recording 500 events each into one incident") {
    constexpr int writers = 4, per_writer = 500;
    temp_dir d;
    const std::string path = d.file("live.pmdb");
    const auto made = run_pmdb({path, "-c", R"(new incident acme-live title "Checkout errors" org "Acme" services ("api");)"});
    REQUIRE_MESSAGE(made.status == 0, made.err);

    // Each writer's script: one `record` per statement, each its own durable transaction.
    std::vector<FILE*> running;
    for (int w = 0; w < writers; ++w) {
      std::string script = "use acme-live;\n";
      for (int i = 0; i < per_writer; ++i)
        script += fmt::format("record note \"writer {} note {}\" source \"writer-{}\";\n", w, i, w);
      const auto file = d.path / fmt::format("w{}.pmq", w);
      write_file(file, script);
      const std::string cmd = fmt::format("{} {} -f {} 2>{}", shell_quote(PMDB_BINARY), shell_quote(path),
                                          shell_quote(file.string()),
                                          shell_quote((d.path / fmt::format("w{}.err", w)).string()));
      FILE* p = ::popen(cmd.c_str(), "r");
      REQUIRE(p);
      running.push_back(p);
    }
    std::set<std::string> printed;
    for (int w = 0; w < writers; ++w) {
      std::string out;
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, running[w])) > 0;) out.append(buf, n);
      const int st = ::pclose(running[w]);
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 0);
      CHECK(read_file(d.path / fmt::format("w{}.err", w)) == "");
      // One id per record, each on its own line.
      int lines = 0;
      for (std::size_t a = 0, b; (b = out.find('\n', a)) != std::string::npos; a = b + 1, ++lines)
        printed.insert(out.substr(a, b - a));
      CHECK(lines == per_writer);
    }
    CHECK(printed.size() == writers * per_writer);

    const int total = writers * per_writer + 1;
    CHECK(raw_dump(path, "SELECT count(*), min(seq), max(seq) FROM events") == fmt::format("{}|1|{}|\n", total, total));
    CHECK(raw_dump(path, "SELECT count(DISTINCT version), min(version), max(version) FROM events WHERE incident = "
                         "'acme-live'") == fmt::format("{}|1|{}|\n", total, total));
    // Each note once, and each writer's in the order it recorded them.
    CHECK(raw_dump(path, "SELECT count(DISTINCT text) FROM events WHERE type = 'note'") ==
          fmt::format("{}|\n", writers * per_writer));
    for (int w = 0; w < writers; ++w) {
      const std::string order = raw_dump(
          path, fmt::format("SELECT group_concat(n, ',') FROM (SELECT CAST(substr(text, {}) AS INTEGER) AS n FROM events "
                            "WHERE source = 'writer-{}' ORDER BY seq)",
                            std::string_view("writer 0 note ").size() + 1, w));
      std::string want;
      for (int i = 0; i < per_writer; ++i) want += (i ? "," : "") + std::to_string(i);
      CHECK(order == want + "|\n");
    }
    const auto verified = run_pmdb({"verify", path});
    CHECK(verified.status == 0);
    CHECK(verified.out.starts_with(fmt::format("ok: {} events, head ", total)));
    CHECK(verified.err.empty());
  }
}
