// report-stream STORE INCIDENT [--mmap]: writes the postmortem to stdout through the streaming
// render_postmortem, as `pmdb report` does, with the store opened read-only and (unless --mmap)
// without memory-mapping, so that /usr/bin/time's peak RSS is the report's own memory plus
// SQLite's page cache (bounded by its cache_size). Built and run by bench/report-rss.
#include <cstdio>
#include <iostream>
#include <string>

#include "core/event_store.hpp"
#include "core/time.hpp"
#include "shell/postmortem.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: report-stream STORE INCIDENT [--mmap]\n");
    return 2;
  }
  const bool mmap = argc > 3 && std::string(argv[3]) == "--mmap";
  auto store = pmdb::event_store::open(argv[1], {.create = false, .read_only = true, .mmap_reads = mmap});
  if (!store) {
    std::fprintf(stderr, "report-stream: %s\n", store.error().message.c_str());
    return 1;
  }
  std::ios::sync_with_stdio(false);
  pmdb::shell::postmortem_options o;
  o.now_ms = pmdb::parse_timestamp("2025-01-01T00:00:00Z")->ms;
  auto r = pmdb::shell::render_postmortem(*store, argv[2], o, std::cout);
  std::cout.flush();
  if (!r) {
    std::fprintf(stderr, "report-stream: %s\n", r.error().message.c_str());
    return 1;
  }
  return std::cout ? 0 : 1;
}
