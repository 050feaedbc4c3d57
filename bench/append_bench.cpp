// append-bench: appends per second through pmdb_core's event_store::append.
//
// Usage: append-bench DB [--single N] [--batches N] [--batch-size N] [--fast]
//
// Opens (or creates) DB and runs two phases, each on new incident streams:
//   single   N appends of one event each: one transaction and (durable) one fsync per event;
//   batched  N appends of --batch-size events each, one transaction per batch.
// Events are parsed and validated before the clock starts, so only append() is timed (id
// check, insert, the incidents read model, commit). Durable (synchronous=FULL) unless --fast.
// Prints one JSON object: {"single_per_s":..., "batched_events_per_s":..., ...}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/event_store.hpp"

namespace {

std::vector<pmdb::event> make_events(std::string_view stream, std::size_t n, std::size_t incidents) {
  std::vector<pmdb::event> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t inc = i % incidents;
    const auto line = fmt::format(
        R"({{"id":"{}-{}/report-{}","incident":"{}-{}","type":"report","at":"2025-01-01T{:02}:{:02}:{:02}Z","source":"Downdetector","data":{{"count":{},"text":"{} outage reports"}}}})",
        stream, inc, i, stream, inc, i / 3600 % 24, i / 60 % 60, i % 60, i % 5000, i % 5000);
    auto e = pmdb::parse_event(line);
    if (!e) {
      fmt::print(stderr, "append-bench: bad generated event: {}\n", e.error());
      std::exit(1);
    }
    out.push_back(std::move(*e));
  }
  return out;
}

int usage() {
  std::fputs("usage: append-bench DB [--single N] [--batches N] [--batch-size N] [--fast]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string db = argv[1];
  std::size_t singles = 300, batches = 50, batch_size = 1000;
  bool fast = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--fast") {
      fast = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    const std::size_t n = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--single") singles = n;
    else if (a == "--batches") batches = n;
    else if (a == "--batch-size") batch_size = n;
    else return usage();
  }
  auto store = pmdb::event_store::open(db, {.durable = !fast});
  if (!store) {
    fmt::print(stderr, "append-bench: {}\n", store.error().message);
    return 1;
  }
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };

  // Single-event appends, spread over 10 incidents (each append refreshes one read-model row).
  const auto one = make_events("bench-single", singles, 10);
  const auto t0 = clock::now();
  for (const auto& e : one) {
    auto r = store->append(std::span<const pmdb::event>(&e, 1));
    if (!r) {
      fmt::print(stderr, "append-bench: {}\n", r.error().message);
      return 1;
    }
  }
  const double single_s = seconds(clock::now() - t0);

  // Batches of batch_size events over 50 incidents.
  const auto many = make_events("bench-batch", batches * batch_size, 50);
  const auto t1 = clock::now();
  for (std::size_t b = 0; b < batches; ++b) {
    auto r = store->append(std::span<const pmdb::event>(many.data() + b * batch_size, batch_size));
    if (!r) {
      fmt::print(stderr, "append-bench: {}\n", r.error().message);
      return 1;
    }
  }
  const double batch_s = seconds(clock::now() - t1);

  fmt::print(
      "{{\"durable\":{},\"single_appends\":{},\"single_s\":{:.6f},\"single_per_s\":{:.1f},"
      "\"batches\":{},\"batch_size\":{},\"batched_s\":{:.6f},\"batches_per_s\":{:.2f},\"batched_events_per_s\":{:.1f}}}\n",
      fast ? "false" : "true", singles, single_s, static_cast<double>(singles) / single_s, batches, batch_size, batch_s,
      static_cast<double>(batches) / batch_s, static_cast<double>(batches * batch_size) / batch_s);
  return 0;
}
