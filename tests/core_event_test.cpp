#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/event.hpp"
#include "test_util.hpp"

using namespace pmdb;
using pmdb::test::line;

namespace {
std::string why(const std::string& l) {
  auto e = parse_event(l);
  return e ? std::string("(accepted)") : e.error();
}
}  // namespace

TEST_SUITE("core_event") {
  TEST_CASE("a valid event of every type is accepted, with its typed fields extracted") {
    const std::vector<std::string> good = {
        line("x", "incident", "2024-12-11T23:00:00Z", R"({"title":"T","org":"O","services":["API"],"severity":"major"})"),
        line("x", "status", "2024-12-11T23:17:00Z", R"({"status":"investigating","text":"looking"})"),
        line("x", "report", "2024-12-11T23:07:00Z", R"({"count":1500,"text":"Downdetector"})"),
        line("x", "alert", "2024-12-11T23:13:00Z", R"({})"),
        line("x", "change", "2024-12-11T22:23:00Z", R"({"text":"deploy"})"),
        line("x", "metric", "2024-12-11T22:26:00Z", R"({"name":"fixed","value":99,"unit":"%"})"),
        line("x", "comm", "2024-12-11T23:50:00Z", R"({"channel":"x","text":"We are on it","author":"OpenAI"})"),
        line("x", "component", "2024-12-11T23:40:00Z", R"({"component":"ChatGPT","state":"major_outage"})"),
        line("x", "cause", "2024-12-11T22:23:00Z", R"({"text":"telemetry","kind":"root_cause"})"),
        line("x", "action", "2024-12-13T01:19:00Z", R"({"text":"block admin API","owner":"OpenAI"})"),
        line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"impact begins","tags":["impact-start"]})"),
        line("x", "correction", "2024-12-12T00:00:00Z", R"({"target":"e1","reason":"typo","at":"2024-12-11T23:08:00Z"})"),
        line("x", "retraction", "2024-12-12T00:00:00Z", R"({"target":"e1","reason":"wrong incident"})"),
    };
    CHECK(good.size() == std::size(event_types));
    for (const auto& l : good) {
      INFO(l);
      auto e = parse_event(l);
      REQUIRE_MESSAGE(e, (e ? "" : e.error()));
      CHECK(e->id.size() == 33);
    }
    const auto m = parse_event(good[5]).value();
    CHECK(m.metric == "fixed");
    CHECK(m.value == 99.0);
    CHECK(m.unit == "%");
    const auto c = parse_event(good[6]).value();
    CHECK(c.channel == "x");
    CHECK(c.author == "OpenAI");
    CHECK(c.text == "We are on it");
    CHECK(parse_event(good[7]).value().state == "major_outage");
    CHECK(parse_event(good[0]).value().text == "T");
    CHECK(parse_event(good[12]).value().target == "e1");
  }

  TEST_CASE("a bad example of every type is rejected with the field, the expected form and the value") {
    CHECK(why(line("x", "incident", "2024-12-11T23:00:00Z", R"({"title":"T","org":"O","services":"API"})")) ==
          R"(data.services: expected array: found a string "API")");
    CHECK(why(line("x", "status", "2024-12-11T23:17:00Z", R"({"status":"fixed"})")).starts_with(
        R"(data.status: not an allowed value (expected "investigating" | "identified" | "monitoring" | "resolved" | "postmortem")"));
    CHECK(why(line("x", "report", "2024-12-11T23:07:00Z", R"({"count":-3})")) ==
          R"(data.count: minimum is 0: found -3)");
    CHECK(why(line("x", "alert", "2024-12-11T23:13:00Z", R"({"txt":"typo"})")).starts_with(
        "data.txt: unknown field (expected one of: text"));
    CHECK(why(line("x", "change", "2024-12-11T22:23:00Z", R"({})")) == R"(data.text: missing required field "text")");
    CHECK(why(line("x", "metric", "2024-12-11T22:26:00Z", R"({"name":"fixed","value":"99%"})")) ==
          R"(data.value: expected number: found a string "99%")");
    CHECK(why(line("x", "comm", "2024-12-11T23:50:00Z", R"({"channel":"twitter","text":"hi"})"))
              .starts_with(R"(data.channel: not an allowed value (expected "x" | "statuspage")"));
    CHECK(why(line("x", "component", "2024-12-11T23:40:00Z", R"({"component":"ChatGPT","state":"down"})"))
              .starts_with("data.state: not an allowed value"));
    CHECK(why(line("x", "cause", "2024-12-11T22:23:00Z", R"({"text":"t","kind":"bad luck"})"))
              .starts_with("data.kind: not an allowed value"));
    CHECK(why(line("x", "action", "2024-12-13T01:19:00Z", R"({"owner":"OpenAI"})")) ==
          R"(data: does not have the required fields: "text" (an action item) or "of" (an update of one))");
    CHECK(why(line("x", "action", "2024-12-13T01:19:00Z", R"({"of":"x/a","state":"closed"})"))
              .starts_with(R"(data.state: not an allowed value (expected "open" | "in_progress" | "done" | "wont_do"))"));
    CHECK(why(line("x", "note", "2024-12-13T01:19:00Z", R"({"role":"author"})")) == R"(data: "role" needs "people")");
    CHECK(why(line("x", "note", "2024-12-13T01:19:00Z", R"({"document":"done"})"))
              .starts_with(R"(data.document: not an allowed value (expected "draft" | "in_review" | "final"))"));
    CHECK(why(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t","tags":[1]})")) ==
          R"(data.tags[0]: expected string: found a number 1)");
    CHECK(why(line("x", "correction", "2024-12-12T00:00:00Z", R"({"target":"e1","reason":"r"})"))
              .starts_with("data: does not have the required fields"));
    CHECK(why(line("x", "correction", "2024-12-12T00:00:00Z", R"({"target":"e1","reason":"r","at":"soon"})"))
              .starts_with(R"(data.at: not a timestamp)"));
    CHECK(why(line("x", "retraction", "2024-12-12T00:00:00Z", R"({"target":"e1"})")) ==
          R"(data.reason: missing required field "reason")");
  }

  TEST_CASE("envelope errors") {
    CHECK(why("{not json").starts_with("not valid JSON at byte 2"));
    CHECK(why("[1,2]") == "expected a JSON object: found an array");
    CHECK(why(line("X Y", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})")).starts_with("incident: does not match"));
    CHECK(why(line(std::string(129, 'a'), "note", "2024-12-11T23:16:00Z", R"({"text":"t"})")).starts_with(
        "incident: the maximum length is 128"));
    CHECK(parse_event(line(std::string(128, 'a'), "note", "2024-12-11T23:16:00Z", R"({"text":"t"})")));
    CHECK(why(line("x", "tweet", "2024-12-11T23:16:00Z", R"({"text":"t"})")).starts_with("type: not an allowed value"));
    CHECK(why(line("x", "note", "yesterday", R"({"text":"t"})")) ==
          R"(at: not a timestamp (expected ISO 8601 with Z or an offset, e.g. 2024-12-11T23:17:00Z): found "yesterday")");
    CHECK(why(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})", R"("approx":"yes")")) ==
          R"(approx: expected boolean: found a string "yes")");
    CHECK(why(R"({"incident":"x","type":"note","at":"2024-12-11T23:16:00Z","data":{"text":"t"}})") ==
          R"(source: missing required field "source")");
    CHECK(why(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})", R"("colour":"red")")).starts_with(
        "colour: unknown field"));
  }

  TEST_CASE("derived ids are stable and depend on content, not on recorded_at") {
    const auto a = parse_event(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})")).value();
    const auto b = parse_event(line("x", "note", "2024-12-11T15:16:00-08:00", R"({"text":"t"})",
                                    R"("recorded_at":"2025-01-01T00:00:00Z")"))
                       .value();
    const auto c = parse_event(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"u"})")).value();
    CHECK(a.id == b.id);
    CHECK(a.id != c.id);
    CHECK(parse_event(line("x", "note", "2024-12-11T23:16:00Z", R"({"text":"t"})", R"("id":"mine")")).value().id ==
          "mine");
  }

  TEST_CASE("to_jsonl round-trips") {
    const auto a = parse_event(line("x", "metric", "2024-12-11T23:16:00.5+01:00", R"({"name":"fixed","value":99.5,"unit":"%"})",
                                    R"("approx":true,"id":"m1")"))
                       .value();
    const std::string out = to_jsonl(a, 1000);
    CHECK(out ==
          R"({"id":"m1","incident":"x","type":"metric","at":"2024-12-11T22:16:00.500Z","recorded_at":"1970-01-01T00:00:01Z","source":"test","approx":true,"data":{"name":"fixed","value":99.5,"unit":"%"}})");
    const auto b = parse_event(out).value();
    CHECK(b.content_key() == a.content_key());
    CHECK(to_jsonl(b, 1000) == out);
  }
}
