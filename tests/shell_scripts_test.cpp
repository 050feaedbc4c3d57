// Golden tests of the shell as scripts use it: every tests/golden/scripts/*.pmq and every
// examples/*.pmq runs through the real binary on the demo store; stdout, stderr and the exit
// status are compared with NAME.expected beside the script. A script's first line may be
// `-- args: ...` to add command-line options (e.g. `--mode csv`).
#include <algorithm>
#include <sstream>

#include "golden.hpp"

using namespace pmdb::test;

namespace {

std::vector<std::string> script_args(const std::filesystem::path& script) {
  std::vector<std::string> args;
  const std::string text = read_file(source_dir() / script);
  const std::string_view tag = "-- args:";
  if (text.starts_with(tag)) {
    std::istringstream words(text.substr(tag.size(), text.find('\n') - tag.size()));
    for (std::string w; words >> w;) args.push_back(w);
  }
  args.push_back("-f");
  args.push_back(script.string());
  return args;
}

void run_scripts(const std::filesystem::path& dir, const std::filesystem::path& golden_dir) {
  const auto scripts = files_in(dir, ".pmq");
  REQUIRE_FALSE(scripts.empty());
  for (const auto& script : scripts) {
    SUBCASE(script.filename().string().c_str()) {
      auto golden = golden_dir / script.filename();
      golden.replace_extension(".expected");
      check_golden(golden, transcript(run_pmdb(script_args(script))));
    }
  }
}

}  // namespace

TEST_SUITE("shell_scripts") {
  TEST_CASE("golden scripts") { run_scripts("tests/golden/scripts", "tests/golden/scripts"); }
  TEST_CASE("example scripts") { run_scripts("examples", "tests/golden/examples"); }
}
