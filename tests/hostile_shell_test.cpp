// The shell and the command line against hostile surroundings: outputs that cannot be written
// (a full device, a file size limit standing in for a full disk), directories given as input
// files, and scripts from elsewhere run in safe mode. Each runs the real binary and checks the
// exit status, the message and the files left on disk.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "golden.hpp"

using namespace pmdb::test;

namespace {

constexpr const char* incident = "openai-2024-12-11";  // one of the demo store's

// `pmdb ARGS` run by `sh -c 'SETUP exec pmdb ARGS'`: SETUP redirects stdout or sets limits.
run_result run_pmdb_after(const std::string& setup, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"sh", "-c", setup + " exec \"$0\" \"$@\"", PMDB_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

// A limit on the size of the files pmdb writes (SIGXFSZ ignored, so a write past it fails with
// EFBIG): a full disk for a file, without filling one. 4 blocks of 512 bytes: less than a
// postmortem or an export of the demo store (in memory) and more than any message.
constexpr const char* small_disk = "trap '' XFSZ; ulimit -f 4;";
// 64 KiB: room for SQLite's 32 KiB WAL index of a store file, not for big_store's postmortem.
constexpr const char* small_disk_with_store = "trap '' XFSZ; ulimit -f 128;";

// The names of the files in `dir`, sorted: no temporary may be left behind.
std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::ranges::sort(out);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A store file holding one real incident.
std::string store_in(const temp_dir& d) {
  const auto db = d.file("s.pmdb");
  REQUIRE(run_pmdb({"import", db, "examples/openai-2024-12-11.jsonl"}).status == 0);
  return db;
}

// A store file holding big-1, an incident of 300 changes whose postmortem is about 80 KB.
std::string big_store_in(const temp_dir& d) {
  std::string events = line("big-1", "incident", "2024-01-01T00:00:00Z",
                            R"({"title":"Big","org":"Acme","services":["api"]})") +
                       "\n";
  for (int i = 0; i < 300; ++i)
    events += line("big-1", "change", fmt::format("2024-01-01T{:02}:{:02}:00Z", i / 60, i % 60),
                   fmt::format(R"({{"text":"change {} {}"}})", i, std::string(200, 'x'))) +
              "\n";
  write_file(d.path / "big.jsonl", events);
  const auto db = d.file("s.pmdb");
  REQUIRE(run_pmdb({"import", db, d.file("big.jsonl")}).status == 0);
  std::filesystem::remove(d.path / "big.jsonl");
  return db;
}

}  // namespace

TEST_SUITE("hostile_shell") {
  TEST_CASE("results sent to .output /dev/full fail with the device and the OS error, exit 1") {
    const auto r = run_pmdb({"-c", ".output /dev/full\nshow incidents;"});
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "cannot write to /dev/full: No space left on device"));
    const auto once = run_pmdb({"-c", ".once /dev/full\nshow incidents;"});
    CHECK(once.status == 1);
    CHECK(contains(once.err, "cannot write to /dev/full: No space left on device"));
  }

  TEST_CASE("a full stdout is an error: -c, -f, export and report exit 1 and say so, never abort") {
    temp_dir d;
    const auto db = store_in(d);
    write_file(d.path / "q.pmq", "show incidents;\n");
    for (const auto& args : std::vector<std::vector<std::string>>{{"-c", "show incidents;"},
                                                                  {db, "-f", d.file("q.pmq")},
                                                                  {"export", db},
                                                                  {"report", db, incident},
                                                                  {"verify", db},
                                                                  {"--help"}}) {
      const auto r = run_pmdb_after(">/dev/full", args);
      INFO(args.front() << " " << args.back() << ": " << r.err);
      CHECK(r.status == 1);
      CHECK(contains(r.err, "cannot write to standard output (/dev/full): No space left on device"));
      CHECK(!contains(r.err, "terminate"));
    }
    // -o to the device: written directly (it cannot be renamed over), the failure said.
    const auto o = run_pmdb({"report", db, incident, "-o", "/dev/full"});
    CHECK(o.status == 1);
    CHECK(o.err == "pmdb: cannot write to /dev/full: No space left on device\n");
  }

  TEST_CASE("a report to a full disk leaves no partial file and an existing one unchanged") {
    temp_dir d;
    const auto db = big_store_in(d);
    const auto md = d.file("pm.md");
    const auto files = [&] {  // without the store's own files
      auto names = names_in(d.path);
      std::erase_if(names, [](const std::string& n) { return n.starts_with("s.pmdb"); });
      return names;
    };
    // Fresh: nothing is left, not even an empty file or a temporary.
    const auto fresh = run_pmdb_after(small_disk_with_store, {"report", db, "big-1", "-o", md});
    INFO(fresh.err);
    CHECK(fresh.status == 1);
    CHECK(fresh.err == fmt::format("pmdb: cannot write to {}: File too large\n", md));
    CHECK(files().empty());
    // Existing: left byte for byte as it was.
    write_file(md, "the old report\n");
    CHECK(run_pmdb_after(small_disk_with_store, {"report", db, "big-1", "-o", md}).status == 1);
    CHECK(read_file(md) == "the old report\n");
    CHECK(files() == std::vector<std::string>{"pm.md"});
    // Without the limit the whole report replaces it.
    const auto ok = run_pmdb({"report", db, "big-1", "-o", md, "--now", "2025-01-01T00:00:00Z"});
    CHECK(ok.status == 0);
    CHECK(read_file(md) == run_pmdb({"report", db, "big-1", "--now", "2025-01-01T00:00:00Z"}).out);
    CHECK(files() == std::vector<std::string>{"pm.md"});
  }

  TEST_CASE("report to, .export, .once and .output to a full disk fail and leave the file as it was") {
    temp_dir d;
    const auto f = d.file("out.txt");
    for (const std::string& script : std::vector<std::string>{
             fmt::format("report {} to \"{}\";", incident, f),
             fmt::format(".export {}", f),
             fmt::format(".once {}\nreport {};", f, incident),
             fmt::format(".output {}\nreport {};\nshow incidents;", f, incident),
         }) {
      write_file(f, "before\n");
      const auto r = run_pmdb_after(small_disk, {"-c", script});
      INFO(script << "\n" << r.err);
      CHECK(r.status == 1);
      CHECK(contains(r.err, fmt::format("cannot write to {}: File too large", f)));
      CHECK(read_file(f) == "before\n");
      CHECK(names_in(d.path) == std::vector<std::string>{"out.txt"});
    }
    // .output: after the failure results are back on the screen (--no-bail runs the rest).
    const auto rest =
        run_pmdb_after(small_disk, {"--no-bail", "--mode", "csv", "-c",
                                    fmt::format(".output {}\nreport {};\nshow incidents;", f, incident)});
    CHECK(rest.status == 1);
    CHECK(contains(rest.err, "results are back on the screen"));
    CHECK(contains(rest.out, incident));
  }

  TEST_CASE(".output FILE is written in full when the output returns to the screen or the session ends") {
    temp_dir d;
    const auto f = d.file("r.csv");
    write_file(f, "old\n");
    const auto r = run_pmdb({"--mode", "csv", "-c", fmt::format(".output {}\nshow incidents;", f)});
    CHECK(r.status == 0);
    CHECK(r.out.empty());
    CHECK(contains(read_file(f), incident));
    CHECK(names_in(d.path) == std::vector<std::string>{"r.csv"});
    const auto back = run_pmdb(
        {"--mode", "csv", "-c", fmt::format(".output {}\nshow incidents;\n.output\nshow types;", f)});
    CHECK(back.status == 0);
    CHECK(!back.out.empty());
    CHECK(contains(read_file(f), incident));
  }

  TEST_CASE("a pmdb killed while .output FILE is active leaves the old file and no temporary") {
    temp_dir d;
    const auto f = d.file("r.csv");
    write_file(f, "old\n");
    // The session writes results to FILE, then waits in `.import` of a FIFO nobody writes to;
    // it is killed there, once it holds FILE's temporary open.
    std::filesystem::create_directories(d.path / "sub");
    const auto fifo = (d.path / "sub" / "fifo").string();
    const auto db = (d.path / "sub" / "s.pmdb").string();
    REQUIRE(run_pmdb({"import", db, "examples/openai-2024-12-11.jsonl"}).status == 0);
    const auto r = run_command(
        {"sh", "-c",
         "mkfifo \"$4\"; \"$0\" \"$3\" --mode csv -c \".output $1\nshow incidents;\n.import $4\" & pid=$!; "
         "for i in $(seq 200); do ls -l /proc/$pid/fd | grep -q \"$2/[.#]\" && break; sleep 0.05; done; "
         "ls -l /proc/$pid/fd | grep -c \"$2/[.#]\"; ls -a \"$2\" | grep -c pmdb- ; kill -9 $pid; wait $pid; true",
         PMDB_BINARY, f, d.path.string(), db, fifo});
    std::filesystem::remove_all(d.path / "sub");
    INFO(r.err);
    // Where the file system has O_TMPFILE (tmpfs, ext4, xfs, btrfs) even the running session
    // shows no temporary name.
    CHECK(r.out == "1\n0\n");
    CHECK(read_file(f) == "old\n");
    CHECK(names_in(d.path) == std::vector<std::string>{"r.csv"});
  }

  TEST_CASE(
      "a file written through a symlink replaces the symlink's target and keeps the link and the mode") {
    temp_dir d;
    std::filesystem::create_directories(d.path / "sub");
    std::filesystem::create_symlink("../pm.md", d.path / "sub" / "link.md");  // dangling until written
    const auto link = (d.path / "sub" / "link.md").string();
    CHECK(run_pmdb({"-c", fmt::format("report {} to \"{}\";", incident, link)}).status == 0);
    CHECK(std::filesystem::is_symlink(link));
    CHECK(contains(read_file(d.file("pm.md")), "# "));
    std::filesystem::permissions(d.file("pm.md"),
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    CHECK(run_pmdb({"-c", fmt::format(".export {}", link)}).status == 0);
    CHECK(std::filesystem::is_symlink(link));
    CHECK(contains(read_file(d.file("pm.md")), R"("incident":")"));
    CHECK(std::filesystem::status(d.file("pm.md")).permissions() ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    CHECK(names_in(d.path) == std::vector<std::string>{"pm.md", "sub"});
    CHECK(names_in(d.path / "sub") == std::vector<std::string>{"link.md"});
  }

  TEST_CASE("a directory given as an input file is refused by name, exit 1, never an abort") {
    temp_dir d;
    const auto db = store_in(d);
    const auto dir = d.file("dir");
    std::filesystem::create_directories(dir);
    const std::string before = run_pmdb({"export", db}).out;

    const auto import = run_pmdb({"import", db, dir});
    CHECK(import.status == 1);
    CHECK(import.err == fmt::format("pmdb: {} is a directory\n", dir));
    const auto script = run_pmdb({db, "-f", dir});
    CHECK(script.status == 1);
    CHECK(script.err == fmt::format("pmdb: {} is a directory\n", dir));
    const auto store = run_pmdb({dir, "-c", "show incidents;"});
    CHECK(store.status == 1);
    CHECK(store.err == fmt::format("pmdb: {} is a directory\n", dir));

    // Standard input redirected from a directory: refused, not read as empty.
    const std::string from_dir = fmt::format("exec <{};", shell_quote(dir));
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"import", db, "-"}, {db, "-f", "-"}, {db}}) {
      const auto r = run_pmdb_after(from_dir, args);
      INFO(args.back() << ": " << r.err);
      CHECK(r.status == 1);
      CHECK(r.err == "pmdb: standard input is a directory\n");
    }

    for (const std::string cmd : {".import", ".read", ".open"}) {
      // Without bail the session goes on after the error, as an interactive one does.
      const auto r =
          run_pmdb({db, "--no-bail", "--mode", "csv", "-c", fmt::format("{} {}\nshow incidents;", cmd, dir)});
      INFO(cmd << ": " << r.err);
      CHECK(r.status == 1);
      CHECK(contains(r.err, fmt::format("error: {} is a directory", dir)));
      CHECK(contains(r.out, incident));
      // With bail (a script's default) it stops there.
      const auto bail =
          run_pmdb({db, "--mode", "csv", "-c", fmt::format("{} {}\nshow incidents;", cmd, dir)});
      CHECK(bail.status == 1);
      CHECK(bail.out.empty());
    }
    CHECK(run_pmdb({"export", db}).out == before);
  }

  TEST_CASE(
      "safe mode refuses every statement that writes a file, opens a store, reads a script or appends") {
    temp_dir d;
    const auto db = store_in(d);
    const std::string before = run_pmdb({"export", db}).out;
    const auto f = d.file("x.out");
    write_file(d.path / "q.pmq", "show incidents;\n");
    const std::vector<std::string> refused{
        fmt::format(".output {}", f),
        fmt::format(".once {}", f),
        fmt::format(".export {}", f),
        fmt::format("report {} to \"{}\";", incident, f),
        fmt::format(".open {}", d.file("other.pmdb")),
        ".import examples/meta-2024-12-11.jsonl",
        fmt::format(".read {}", d.file("q.pmq")),
        fmt::format("record note \"x\" in {};", incident),
        "new incident acme-1 title \"t\" org \"o\" services (\"api\");",
    };
    for (const std::string flag : {"--safe", "--readonly"}) {
      for (const auto& stmt : refused) {
        const auto r = run_pmdb({db, flag, "-c", stmt});
        INFO(flag << " " << stmt << ": " << r.err);
        CHECK(r.status == 1);
        CHECK(contains(r.err, "is not allowed in safe mode (--safe/--readonly)"));
        CHECK(r.out.empty());
      }
    }
    CHECK(!std::filesystem::exists(f));
    CHECK(!std::filesystem::exists(d.file("other.pmdb")));
    CHECK(run_pmdb({"export", db}).out == before);
    // Reading the store and printing to stdout stay allowed, and so does `.output` to the screen.
    const auto ok = run_pmdb(
        {db, "--safe", "--mode", "csv", "-c", fmt::format(".output\nreport {};\nshow incidents;", incident)});
    CHECK(ok.status == 0);
    CHECK(contains(ok.out, incident));
    CHECK(run_pmdb({"--safe", "-f", d.file("q.pmq")}).status == 0);  // -f is the user's own choice
    // The help says it.
    CHECK(contains(run_pmdb({"--help"}).out, "--safe"));
  }
}
