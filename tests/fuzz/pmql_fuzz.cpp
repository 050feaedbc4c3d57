// libFuzzer target: PMQL text through the parser, then every statement through the compiler
// against the demo incidents, and the SQL of each query run on them (rows capped, and a time
// limit through SQLite's progress handler so a slow query is cut short, not a hang).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>

#include <sqlite3.h>

#include "core/embedded.hpp"
#include "core/event_store.hpp"
#include "core/store_access.hpp"
#include "core/jsonl.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

pmdb::event_store& demo_store() {
  static pmdb::event_store store = [] {
    auto s = pmdb::event_store::open(":memory:", {.durable = false});
    if (!s) __builtin_trap();
    for (const auto& [name, text] : pmdb::embedded_files()) {
      if (!name.ends_with(".jsonl")) continue;
      std::istringstream in{std::string(text)};
      if (!pmdb::import_jsonl(*s, in, name)) __builtin_trap();
    }
    return std::move(*s);
  }();
  return store;
}

clock_type::time_point deadline;

int past_deadline(void*) { return clock_type::now() > deadline ? 1 : 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto& store = demo_store();
  static const auto cat = pmdb::shell::catalog_of(store);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto script = pmdb::query::parse(text);
  if (!script) {
    (void)pmdb::query::render_error(script.error(), text);
    return 0;
  }
  pmdb::query::context ctx;
  ctx.now = 1'733'961'600'000;  // fixed, so that a crash reproduces
  for (const auto& stmt : script->statements) {
    auto action = pmdb::query::compile(stmt, cat, ctx, text);
    if (!action) {
      (void)pmdb::query::render_error(action.error(), text);
      continue;
    }
    if (auto* use = std::get_if<pmdb::query::set_incident>(&*action)) {
      ctx.current_incident = use->incident;
      continue;
    }
    const auto* run = std::get_if<pmdb::query::run_query>(&*action);
    if (!run) continue;
    deadline = clock_type::now() + std::chrono::milliseconds(200);
    sqlite3_progress_handler(pmdb::store_access::sqlite_handle(store), 1000, past_deadline, nullptr);
    std::size_t rows = 0;
    (void)store.query_each(run->query.sql, run->query.params, run->query.columns,
                           [&rows](std::vector<pmdb::value>&) { return ++rows < 1000; });
    sqlite3_progress_handler(pmdb::store_access::sqlite_handle(store), 0, nullptr, nullptr);
  }
  return 0;
}
