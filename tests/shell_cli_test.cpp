// The pmdb command line as users and scripts drive it: exit statuses, error positions, and
// output that other tools (Python's csv module, cmark-gfm) read back.
#include <filesystem>

#include <rapidjson/document.h>

#include "golden.hpp"

using namespace pmdb::test;

namespace {

// Runs a shell command; its stdout, and its exit status (-1 when it did not exit normally).
struct cmd_result {
  std::string out;
  int status = -1;
};

cmd_result run_cmd(const std::string& cmd) {
  cmd_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

TEST_SUITE("shell_cli") {
  TEST_CASE("--as-of on the command line: the shell's default view, and the report as it could have been written") {
    const char* q = "time from first status investigating to status identified in openai-2024-12-11;";
    // 23:17 → 23:53 as first posted; as of 23:50 the identified post did not exist yet.
    const auto now = run_pmdb({"--mode", "csv", "--headers", "off", "-c", q});
    CHECK(now.out == "2160\n");  // 36m, in seconds (machine modes)
    const auto then = run_pmdb({"--mode", "csv", "--headers", "off", "--as-of", "2024-12-11T23:50:00Z", "-c", q});
    CHECK(then.status == 0);
    CHECK(then.out == "\n");
    const auto bad = run_pmdb({"--as-of", "yesterday", "-c", q});
    CHECK(bad.status == 2);
    CHECK(bad.err.starts_with("pmdb: --as-of yesterday: not a timestamp"));

    temp_dir d;
    const auto db = d.file("s.pmdb");
    REQUIRE(run_pmdb({"import", db, "examples/openai-2024-12-11.jsonl", "tests/golden/scripts/data/corrections.jsonl"})
                .status != 0);  // the Meta correction has no Meta event here: the whole import is refused
    REQUIRE(run_pmdb({"import", db, "examples/openai-2024-12-11.jsonl"}).status == 0);
    const std::string corrections = read_file(source_dir() / "tests/golden/scripts/data/corrections.jsonl");
    write_file(d.path / "fix.jsonl", corrections.substr(0, corrections.find('\n') + 1));  // the OpenAI alert's
    REQUIRE(run_pmdb({"import", db, (d.path / "fix.jsonl").string()}).status == 0);
    const auto corrected = run_pmdb({"report", db, "openai-2024-12-11", "--now", "2025-01-01T00:00:00Z"});
    CHECK(corrected.status == 0);
    CHECK(corrected.out.find("## Corrections") != std::string::npos);
    const auto before = run_pmdb({"report", db, "openai-2024-12-11", "--as-of", "2024-12-14T08:59Z", "--now",
                                  "2025-01-01T00:00:00Z"});
    CHECK(before.status == 0);
    CHECK(before.out.find("## Corrections") == std::string::npos);
    CHECK(before.out.find("| As of | 2024-12-14 08:59 UTC") != std::string::npos);
  }

  TEST_CASE("usage errors exit 2, user errors exit 1, help exits 0") {
    CHECK(run_pmdb({"--help"}).status == 0);
    CHECK(run_pmdb({"import", "--help"}).status == 0);
    CHECK(run_pmdb({"--frobnicate"}).status == 2);
    CHECK(run_pmdb({"import"}).status == 2);
    const auto missing = run_pmdb({"export", "/nonexistent/x.pmdb"});
    CHECK(missing.status == 1);
    CHECK(missing.err == "pmdb: /nonexistent/x.pmdb: no such store\n");
  }

  TEST_CASE("a script with an error names FILE:LINE:COLUMN, exits 1 and leaves the store unchanged") {
    temp_dir d;
    const auto db = d.file("s.pmdb");
    REQUIRE(run_pmdb({"import", db, "examples/openai-2024-12-11.jsonl"}).status == 0);
    const std::string before = run_pmdb({"export", db}).out;
    write_file(d.path / "bad.pmq",
               "use openai-2024-12-11;\n.import examples/meta-2024-12-11.jsonl\n"
               "time from first alert\n   to stauts identified;\nshow incidents;\n");
    const auto r = run_pmdb({db, "-f", d.file("bad.pmq")});
    CHECK(r.status == 1);
    CHECK(r.err.starts_with(d.file("bad.pmq") + ":4:7: error: "));
    CHECK(r.out.find("openai-2024-12-11") == std::string::npos);  // stopped before `show incidents`
    // .import ran before the error and is its own transaction; nothing after the error ran.
    write_file(d.path / "bad2.pmq", "show types;\nevents where nosuchfield = 1;\n");
    const std::string mid = run_pmdb({"export", db}).out;
    const auto r2 = run_pmdb({db, "-f", d.file("bad2.pmq")});
    CHECK(r2.status == 1);
    CHECK(r2.err.starts_with(d.file("bad2.pmq") + ":2:14: error: unknown field 'nosuchfield'"));
    CHECK(run_pmdb({"export", db}).out == mid);
    CHECK(mid.size() > before.size());
  }

  TEST_CASE("a bad JSONL import through the shell writes nothing") {
    temp_dir d;
    const auto db = d.file("s.pmdb");
    write_file(d.path / "bad.jsonl", line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"ok"})") + "\n{oops\n");
    const auto r = run_pmdb({"import", db, d.file("bad.jsonl")});
    CHECK(r.status == 1);
    CHECK(r.err.find(d.file("bad.jsonl") + ":2: not valid JSON") != std::string::npos);
    // The store did not exist: the failed import does not leave an empty one behind.
    CHECK(r.err.find(db + ": no event imported: the new store is not kept") != std::string::npos);
    CHECK(!std::filesystem::exists(db));
    CHECK(!std::filesystem::exists(db + "-wal"));
    CHECK(run_pmdb({"export", db}).err == "pmdb: " + db + ": no such store\n");
    // Into an existing store, a failed import changes nothing and the store stays.
    REQUIRE(run_pmdb({"import", db, "examples/meta-2024-12-11.jsonl"}).status == 0);
    const std::string before = run_pmdb({"export", db}).out;
    const auto again = run_pmdb({"import", db, d.file("bad.jsonl")});
    CHECK(again.status == 1);
    CHECK(again.err.find("not kept") == std::string::npos);
    CHECK(run_pmdb({"export", db}).out == before);
  }

  TEST_CASE("a path that does not exist: no such store for a script that reads, a new store for one that writes") {
    temp_dir d;
    const auto db = d.file("mistyped.pmdb");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {db, "-c", "show incidents;"}, {db, "--mode", "csv", "-c", "timeline in x;"}}) {
      const auto r = run_pmdb(args);
      CHECK(r.status == 1);
      CHECK(r.out.empty());
      CHECK(r.err.starts_with("pmdb: " + db + ": no such store"));
      CHECK(!std::filesystem::exists(db));
    }
    write_file(d.path / "q.pmq", "-- only reads\n.mode csv\nshow incidents;\n");
    CHECK(run_pmdb({db, "-f", d.file("q.pmq")}).err.starts_with("pmdb: " + db + ": no such store"));
    CHECK(run_pmdb({db}, "show incidents;\n").status == 1);  // piped stdin alike
    CHECK(!std::filesystem::exists(db));
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"report", db, "openai-2024-12-11"}, {"export", db}, {"verify", db}, {"rebuild", db}}) {
      const auto r = run_pmdb(args);
      CHECK(r.status == 1);
      CHECK(r.err == "pmdb: " + db + ": no such store\n");
    }
    CHECK(!std::filesystem::exists(db));

    // A script that writes creates the store; one whose writes all fail leaves none.
    const auto failed = run_pmdb({db, "-c", "record note \"hi\" in nope;"});
    CHECK(failed.status == 1);
    CHECK(failed.err.find("unknown incident 'nope'") != std::string::npos);
    CHECK(!std::filesystem::exists(db));
    const auto made = run_pmdb({db, "--now", "2024-12-11T23:00:00Z", "-c",
                                "new incident t1 title \"T\" org \"O\" services (\"api\");"});
    CHECK(made.status == 0);
    CHECK(std::filesystem::exists(db));
    CHECK(run_pmdb({db, "--mode", "csv", "--headers", "off", "-c", "show incidents;"}).out.starts_with("t1,T,O,"));
    const auto imported = run_pmdb({d.file("b.pmdb"), "-c", ".import examples/meta-2024-12-11.jsonl"});
    CHECK(imported.status == 0);
    CHECK(std::filesystem::exists(d.file("b.pmdb")));
    // A script read by `\i` (psql's `.read`) may write: it runs, and what it records is kept.
    write_file(d.path / "rec.pmq", "new incident t2 title \"T\" org \"O\" services (\"api\");\n");
    CHECK(run_pmdb({d.file("c.pmdb"), "--now", "2024-12-11T23:00:00Z", "-c", "\\i " + d.file("rec.pmq")}).status == 0);
    CHECK(std::filesystem::exists(d.file("c.pmdb")));
  }

  TEST_CASE("CSV output reads back through Python's csv module to the same cells as JSON output") {
    const std::string q = "events | select incident, at, type, source, text, value | limit 40;";
    const auto csv = run_pmdb({"--mode", "csv", "-c", q});
    const auto json = run_pmdb({"--mode", "json", "-c", q});
    REQUIRE(csv.status == 0);
    REQUIRE(json.status == 0);
    temp_dir d;
    write_file(d.path / "out.csv", csv.out);
    const auto cells = run_cmd(
        "python3 -c 'import csv,json,sys; rows=list(csv.reader(open(sys.argv[1], newline=\"\")));"
        " print(json.dumps(rows))' " + shell_quote(d.file("out.csv")));
    REQUIRE(cells.status == 0);
    rapidjson::Document from_csv, from_json;
    from_csv.Parse(cells.out.c_str());
    from_json.Parse(json.out.c_str());
    REQUIRE(from_csv.IsArray());
    REQUIRE(from_json.IsArray());
    REQUIRE(from_csv.Size() == from_json.Size() + 1);  // + the header
    const std::vector<std::string> columns{"incident", "at", "type", "source", "text", "value"};
    REQUIRE(from_csv[0].Size() == columns.size());
    for (rapidjson::SizeType c = 0; c < columns.size(); ++c) CHECK(std::string(from_csv[0][c].GetString()) == columns[c]);
    bool some_value = false, some_null_value = false;
    for (rapidjson::SizeType i = 0; i < from_json.Size(); ++i) {
      const auto& obj = from_json[i];
      const auto& row = from_csv[i + 1];
      REQUIRE(row.Size() == columns.size());
      REQUIRE(obj.MemberCount() == columns.size());
      for (rapidjson::SizeType c = 0; c < columns.size(); ++c) {
        CAPTURE(i);
        CAPTURE(columns[c]);
        const std::string cell = row[c].GetString();
        REQUIRE(obj.HasMember(columns[c].c_str()));
        const auto& v = obj[columns[c].c_str()];
        if (v.IsNull()) {
          CHECK(cell.empty());
        } else if (v.IsNumber()) {  // value: the CSV cell is the same number
          REQUIRE(!cell.empty());
          CHECK(std::stod(cell) == v.GetDouble());
        } else {
          REQUIRE(v.IsString());
          CHECK(cell == v.GetString());
        }
      }
      (obj["value"].IsNull() ? some_null_value : some_value) = true;
    }
    CHECK(some_value);  // the rows compared hold both a number and a null in `value`
    CHECK(some_null_value);
  }

  TEST_CASE("markdown output is a table for cmark-gfm") {
    const auto md = run_pmdb({"--mode", "markdown", "-c", "show incidents;"});
    REQUIRE(md.status == 0);
    temp_dir d;
    write_file(d.path / "out.md", md.out);
    const auto html = run_cmd("cmark-gfm -e table " + shell_quote(d.file("out.md")));
    REQUIRE(html.status == 0);
    CHECK(html.out.find("<table>") != std::string::npos);
    CHECK(html.out.find("<td>openai-2024-12-11</td>") != std::string::npos);
  }

  TEST_CASE("scripts: quit stops them, \\q too; help and .show print; hints for .tables and \\dt") {
    const auto q = run_pmdb({"--csv", "--headers=off", "-c", "show types;\nquit\nshow incidents;"});
    CHECK(q.status == 0);
    CHECK(q.out.find("status") != std::string::npos);
    CHECK(q.out.find("openai-2024-12-11") == std::string::npos);  // after quit: not run
    CHECK(run_pmdb({"-c", "\\q\nshow incidents;"}).out.empty());
    CHECK(run_pmdb({"-c", "help"}).out.find(".nullvalue") != std::string::npos);
    const auto tables = run_pmdb({"-c", ".tables"});
    CHECK(tables.status == 1);
    CHECK(tables.err == "<command line>:1: error: .tables: pmdb has no tables: `show incidents;` lists the incidents, "
                        "`show types;` the event types, `.schema [TYPE]` their fields; read them with `incidents`, "
                        "`events`, `timeline INCIDENT` or `log` (see .help)\n");
    CHECK(run_pmdb({"-c", "\\dt"}).err.find("pmdb has no tables") != std::string::npos);
    const auto show = run_pmdb({"--json", "--nullvalue=-", "-c", ".show\n.mode"});
    CHECK(show.out.find("      mode: json\n") != std::string::npos);
    CHECK(show.out.find(" nullvalue: \"-\"\n") != std::string::npos);
    CHECK(show.out.ends_with("\njson\n"));
  }

  TEST_CASE("use X; then timeline, report and incidents overlapping read X") {
    const auto r = run_pmdb({"--csv", "--headers=off", "-c",
                             "use openai-2024-12-11; timeline | limit 1 | select type; incidents overlapping | select id;"});
    CHECK(r.status == 0);
    CHECK(r.out == "incident\nmeta-2024-12-11\n");
    CHECK(run_pmdb({"-c", "report;"}).err.find("error: no incident: name one or `use INCIDENT;` first") !=
          std::string::npos);
    CHECK(run_pmdb({"--now=2025-01-01T00:00:00Z", "-c", "use meta-2024-12-11; report;"}).out.starts_with(
        "# Facebook, Instagram and WhatsApp outage"));
  }

  TEST_CASE("options: --opt=value, --csv and the like, one line for a bad one") {
    const char* q = "time from first alert to status identified in openai-2024-12-11;";
    CHECK(run_pmdb({"--mode=csv", "--headers=off", "-c", q}).out == "2400\n");
    CHECK(run_pmdb({"--tsv", "--headers", "off", "-c", q}).out == "2400\n");
    CHECK(run_pmdb({"--jsonl", "-c", q}).out == "{\"duration\":2400}\n");
    CHECK(run_pmdb({"--box", "-c", q}).out.find("│      40m │") != std::string::npos);
    for (const auto& bad : std::vector<std::vector<std::string>>{
             {"--foo"}, {"--mode=xml"}, {"--mode"}, {"--headers=maybe"}, {"--readonly=yes"}, {"-X", "a", "b"}}) {
      const auto r = run_pmdb(bad);
      CAPTURE(r.err);
      CHECK(r.status == 2);
      CHECK(r.err.starts_with("pmdb: "));
      CHECK(r.err.ends_with(" (see pmdb --help)\n"));
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    CHECK(run_pmdb({"--foo"}).err == "pmdb: unknown option --foo (see pmdb --help)\n");
  }

  TEST_CASE("the startup file: --init in scripts, errors with FILE:LINE, safe mode refuses its writes") {
    temp_dir d;
    const auto init = (d.path / "init.pmq").string();
    write_file(init, ".mode csv\n.headers off\nbogus;\nuse openai-2024-12-11;\n.output " + (d.path / "x.txt").string() + "\n");
    // A script reads no startup file unless --init names one ($PMDB_INIT and ~/.pmdbrc are for people).
    const auto r = run_pmdb({"--init", init, "-c", "timeline | limit 1 | select type;\n.output\n"});
    CHECK(r.err.starts_with(init + ":3:1: error: "));
    CHECK(r.status == 1);  // the error in the file counts, but did not stop the script
    CHECK(read_file(d.path / "x.txt") == "incident\n");
    const auto safe = run_pmdb({"--safe", "--init=" + init, "-c", "timeline | limit 1 | select type;"});
    CHECK(safe.out == "incident\n");
    CHECK(safe.err.find(init + ":5: error: .output FILE is not allowed in safe mode") != std::string::npos);
    CHECK(run_pmdb({"--init", init, "--no-init", "-c", "show types;"}).out.starts_with("+"));
    const auto missing = run_pmdb({"--init", (d.path / "none").string(), "-c", "show types;"});
    CHECK(missing.err.starts_with("pmdb: startup file: "));
    CHECK(missing.out.starts_with("+"));
  }
}
