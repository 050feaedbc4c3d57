// Golden tests of the shell as scripts use it: every tests/golden/scripts/*.pmq and every
// examples/*.pmq runs through the real binary on the demo store; stdout, stderr and the exit
// status are compared with NAME.expected beside the script. A script's first line may be
// `-- args: ...` to add command-line options (e.g. `--mode csv`).
#include <algorithm>
#include <sstream>

#include "golden.hpp"

using namespace pmdb::test;


TEST_SUITE("shell_scripts") {
  TEST_CASE("golden scripts") { run_golden_scripts("tests/golden/scripts", "tests/golden/scripts"); }
  TEST_CASE("example scripts") { run_golden_scripts("examples", "tests/golden/examples"); }
}
