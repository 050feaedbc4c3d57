// libFuzzer target: the event validator on one JSON Lines record. An accepted event must come
// back unchanged through its JSON Lines form (core/event.hpp: parsing to_jsonl's output yields
// the same event), else the target traps.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto e = pmdb::parse_event(line);
  if (!e) return 0;
  const auto recorded_at = e->recorded_at.value_or(0);
  const auto text = pmdb::to_jsonl(*e, recorded_at);
  auto back = pmdb::parse_event(text);
  if (!back) __builtin_trap();
  if (back->id != e->id || back->content_key() != e->content_key()) __builtin_trap();
  if (pmdb::to_jsonl(*back, recorded_at) != text) __builtin_trap();
  return 0;
}
