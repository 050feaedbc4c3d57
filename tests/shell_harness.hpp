#pragma once
// A shell session on a store with its output captured, for tests that run PMQL the way a
// script does (bail on error, CSV without headers, a fixed `now` and source).
#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "core/event_store.hpp"
#include "shell/session.hpp"
#include "test_util.hpp"

namespace pmdb::test {

inline constexpr const char* fixed_now = "2026-11-30T12:00:00Z";

inline shell::settings script_settings(std::string now = fixed_now) {
  shell::settings cfg;
  cfg.bail = true;
  cfg.now = std::move(now);
  cfg.source = "tester";
  cfg.render.mode = shell::output_mode::csv;
  cfg.render.headers = false;
  return cfg;
}

// `run` returns whether the text ran without error and leaves what it printed in `out` and `err`.
struct shell_on {
  std::ostringstream o, e;
  shell::session s;
  std::string out, err;

  explicit shell_on(event_store store, shell::settings cfg = script_settings())
      : s(std::move(store), "test", std::move(cfg), o, e) {}
  explicit shell_on(shell::settings cfg = script_settings()) : shell_on(memory_store(), std::move(cfg)) {}

  bool run(std::string_view text) {
    o.str("");
    e.str("");
    const bool ok = s.run_text(text, "t.pmq");
    out = o.str();
    err = e.str();
    return ok;
  }
  // The output of a statement that must succeed.
  std::string ask(std::string_view text) {
    const bool ok = run(text);
    INFO(text << "\n" << err);
    CHECK(ok);
    return out;
  }
  std::int64_t events() const { return s.store().event_count(); }
};

}  // namespace pmdb::test
