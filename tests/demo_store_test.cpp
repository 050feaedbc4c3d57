#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "test_util.hpp"

using namespace pmdb;

TEST_SUITE("demo_store") {
  TEST_CASE("the demo store holds every timed row of the reference tables") {
    auto s = event_store::open(":memory:").value();
    for (const char* f : {"examples/openai-2024-12-11.jsonl", "examples/meta-2024-12-11.jsonl"}) {
      std::istringstream in(test::read_file(test::source_dir() / f));
      auto r = import_jsonl(s, in, f);
      REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
    }
    CHECK(s.incident_ids() == std::vector<std::string>{"meta-2024-12-11", "openai-2024-12-11"});

    // (incident, UTC time, type, status/metric/component or "") from ../shared/reference.
    const std::vector<std::tuple<std::string, std::string, std::string, std::string>> rows = {
        {"openai-2024-12-11", "2024-12-11T22:23:00Z", "change", ""},
        {"openai-2024-12-11", "2024-12-11T22:51:00Z", "change", ""},
        {"openai-2024-12-11", "2024-12-11T23:07:00Z", "report", ""},
        {"openai-2024-12-11", "2024-12-11T23:13:00Z", "alert", ""},
        {"openai-2024-12-11", "2024-12-11T23:16:00Z", "note", ""},
        {"openai-2024-12-11", "2024-12-11T23:17:00Z", "status", "investigating"},
        {"openai-2024-12-11", "2024-12-11T23:27:00Z", "note", ""},
        {"openai-2024-12-11", "2024-12-11T23:40:00Z", "note", ""},
        {"openai-2024-12-11", "2024-12-11T23:42:00Z", "status", "investigating"},
        {"openai-2024-12-11", "2024-12-11T23:45:00Z", "status", "investigating"},
        {"openai-2024-12-11", "2024-12-11T23:53:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T00:24:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T00:36:00Z", "note", ""},
        {"openai-2024-12-11", "2024-12-12T00:55:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T00:59:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T01:03:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T01:36:00Z", "component", "API"},
        {"openai-2024-12-11", "2024-12-12T01:45:00Z", "component", "ChatGPT"},
        {"openai-2024-12-11", "2024-12-12T01:50:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T02:54:00Z", "status", "identified"},
        {"openai-2024-12-11", "2024-12-12T03:01:00Z", "component", "ChatGPT"},
        {"openai-2024-12-11", "2024-12-12T03:01:00Z", "component", "Sora"},
        {"openai-2024-12-11", "2024-12-12T03:38:00Z", "component", "API"},
        {"openai-2024-12-11", "2024-12-12T03:53:00Z", "status", "monitoring"},
        {"openai-2024-12-11", "2024-12-12T06:23:00Z", "status", "resolved"},
        {"openai-2024-12-11", "2024-12-13T01:19:00Z", "status", "postmortem"},
        {"meta-2024-12-11", "2024-12-11T17:36:00Z", "report", ""},
        {"meta-2024-12-11", "2024-12-11T18:00:00Z", "report", ""},
        {"meta-2024-12-11", "2024-12-11T18:20:00Z", "note", ""},
        {"meta-2024-12-11", "2024-12-11T18:48:00Z", "comm", ""},
        {"meta-2024-12-11", "2024-12-11T22:26:00Z", "metric", "fixed"},
        {"meta-2024-12-11", "2024-12-12T00:21:00Z", "metric", "fixed"},
    };
    const std::vector<column> cols = {{"n", value_type::integer}};
    for (const auto& [incident, at, type, what] : rows) {
      INFO(incident, " ", at, " ", type, " ", what);
      auto r = s.query(
          "SELECT count(*) FROM events WHERE incident = ? AND at = ? AND type = ? "
          "AND (? = '' OR coalesce(status, metric, component) = ?)",
          std::vector<value>{incident, timestamp{parse_timestamp(at).value().ms}, type, what, what}, cols);
      REQUIRE(r);
      CHECK(std::get<std::int64_t>(r->rows.at(0).at(0)) >= 1);
    }
  }
}
