// libFuzzer target: the csv importer (import_file with the format forced), with the
// export → import → export round trip on what it accepts.
#include "import_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pmdb::fuzz::import_round_trip(data, size, pmdb::import_format::csv);
  return 0;
}
