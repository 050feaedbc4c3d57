#pragma once
// Golden-file tests: run the real pmdb binary on a script and compare what it printed
// (stdout, stderr and exit status) byte for byte with a stored expectation. Set
// PMDB_UPDATE_GOLDEN=1 to rewrite the expectations from the current output instead.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "test_util.hpp"

namespace pmdb::test {

struct run_result {
  std::string out, err;
  int status = -1;
};

inline std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs the program ARGV[0] with arguments ARGV[1...] from the source directory, stdin from
// `input` (empty: /dev/null).
inline run_result run_command(const std::vector<std::string>& argv, const std::string& input = "") {
  temp_dir tmp;
  std::string cmd = "cd " + shell_quote(source_dir().string()) + " && NO_COLOR=1";
  for (const auto& a : argv) cmd += " " + shell_quote(a);
  if (input.empty()) {
    cmd += " </dev/null";
  } else {
    write_file(tmp.path / "stdin", input);
    cmd += " <" + shell_quote((tmp.path / "stdin").string());
  }
  cmd += " 2>" + shell_quote((tmp.path / "stderr").string());
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = read_file(tmp.path / "stderr");
  return r;
}

// Runs `pmdb ARGS` from the source directory, stdin from `input` (empty: /dev/null).
inline run_result run_pmdb(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv{PMDB_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, input);
}

inline std::string transcript(const run_result& r) {
  std::string t = r.out;
  if (!r.err.empty()) t += "--- stderr\n" + r.err;
  t += "--- exit " + std::to_string(r.status) + "\n";
  return t;
}

// `text` with every run of exactly 64 lowercase hex digits (a chain hash: it covers each
// event's append time, so it differs between two stores built alike) replaced by "<hash>".
inline std::string without_hashes(std::string text) {
  static const std::regex hash("(^|[^0-9a-f])[0-9a-f]{64}(?![0-9a-f])");
  return std::regex_replace(text, hash, "$1<hash>");
}

// Compares `actual` with the golden file (relative to the source dir), or rewrites it. Chain
// hashes are compared as "<hash>" (see without_hashes).
inline void check_golden(const std::filesystem::path& golden, const std::string& actual_text) {
  const std::string actual = without_hashes(actual_text);
  const auto path = source_dir() / golden;
  if (const char* u = std::getenv("PMDB_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::filesystem::create_directories(path.parent_path());
    write_file(path, actual_text);
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing golden file " << golden.string()
                                                     << " (run with PMDB_UPDATE_GOLDEN=1 to create it)");
  const std::string expected = without_hashes(read_file(path));
  INFO("golden file: " << golden.string());
  CHECK_MESSAGE(expected == actual, "expected:\n" << expected << "\nactual:\n" << actual);
}

// The files of `dir` (relative to the source dir) ending in `ext`, sorted.
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir, std::string_view ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() / dir))
    if (e.path().extension() == ext) out.push_back(dir / e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// The command line for a golden script: its first line may be `-- args: ...` (options such as
// `--mode csv`), then `--echo -f SCRIPT`.
inline std::vector<std::string> script_args(const std::filesystem::path& script) {
  std::vector<std::string> args;
  const std::string text = read_file(source_dir() / script);
  const std::string_view tag = "-- args:";
  if (text.starts_with(tag)) {
    std::istringstream words(text.substr(tag.size(), text.find('\n') - tag.size()));
    for (std::string w; words >> w;) args.push_back(w);
  }
  // Each statement is printed before its result: the golden file keeps the question beside
  // the answer.
  args.push_back("--echo");
  args.push_back("-f");
  args.push_back(script.string());
  return args;
}

// Runs every `dir/*.pmq` through the real binary on the demo store and compares stdout, stderr
// and the exit status with `golden_dir/NAME.expected`, one subcase per script.
inline void run_golden_scripts(const std::filesystem::path& dir, const std::filesystem::path& golden_dir,
                               std::size_t at_least = 1) {
  const auto scripts = files_in(dir, ".pmq");
  REQUIRE(scripts.size() >= at_least);
  for (const auto& script : scripts) {
    SUBCASE(script.filename().string().c_str()) {
      auto golden = golden_dir / script.filename();
      golden.replace_extension(".expected");
      check_golden(golden, transcript(run_pmdb(script_args(script))));
    }
  }
}

}  // namespace pmdb::test
