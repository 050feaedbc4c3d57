#pragma once
// The body shared by the importer fuzz targets: import the input with the format forced into an
// empty store; when it is accepted, its export must survive export → import → export unchanged
// (core/jsonl.hpp promises identical bytes), else the target traps.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "core/event_store.hpp"
#include "core/import.hpp"
#include "core/jsonl.hpp"

namespace pmdb::fuzz {

inline event_store fresh_store() {
  auto s = event_store::open(":memory:", {.durable = false});
  if (!s) __builtin_trap();  // the machine, not the input: nothing to learn past this point
  return std::move(*s);
}

inline std::string export_all(const event_store& store) {
  std::ostringstream out;
  if (!export_jsonl(store, out)) __builtin_trap();
  return out.str();
}

// Opening a store (its schema) costs more than most imports: a store is kept while imports
// into it fail, which must leave it empty (one transaction), and replaced after a success.
inline void import_round_trip(const std::uint8_t* data, std::size_t size, import_format format) {
  static std::optional<event_store> store, again;
  if (!store) store = fresh_store();
  std::istringstream in{std::string(reinterpret_cast<const char*>(data), size)};
  import_options opts;
  opts.format = format;
  if (format == import_format::csv) opts.tz = "UTC";
  if (!import_file(*store, in, "fuzz", opts)) {
    if (store->event_count() != 0) __builtin_trap();  // a refused file wrote something
    return;
  }

  const auto first = export_all(*store);
  store.reset();
  if (!again) again = fresh_store();
  std::istringstream exported{first};
  import_options as_jsonl;
  as_jsonl.format = import_format::jsonl;
  // What pmdb exported, pmdb must import.
  if (!import_file(*again, exported, "export", as_jsonl)) __builtin_trap();
  const bool same = export_all(*again) == first;
  again.reset();
  if (!same) __builtin_trap();
}

}  // namespace pmdb::fuzz
