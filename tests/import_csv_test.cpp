// CSV timeline import: quoting, header synonyms, --map, local times across DST changes, errors.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/csv_import.hpp"
#include "core/import.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "test_util.hpp"

using namespace pmdb;
using pmdb::test::memory_store;

namespace {


import_options with_tz(std::string tz, std::map<std::string, std::string> map = {}) {
  import_options o;
  o.tz = std::move(tz);
  o.map = std::move(map);
  return o;
}

// Imports `text` as "timeline.csv": the result, or the errors as the shell prints them.
std::expected<import_file_result, std::string> import_text(event_store& store, std::string_view text,
                                                           const import_options& opts = {}) {
  std::istringstream in{std::string(text)};
  auto r = import_file(store, in, "timeline.csv", opts);
  if (r) return *r;
  std::string out;
  for (const auto& e : r.error()) out += format_import_error(e) + "\n";
  return std::unexpected(out);
}

// "TYPE AT DATA" per stored event, in store order.
std::string events(const event_store& store) {
  std::string out;
  REQUIRE(store.scan({}, [&](const stored_event& s) {
    out += fmt::format("{} {} {}{}\n", s.ev.type, format_iso(timestamp{s.ev.at}), s.ev.data, s.ev.approx ? " ~" : "");
  }));
  return out;
}

}  // namespace

TEST_SUITE("import_csv") {

TEST_CASE("a timeline with quoted fields, synonyms and local times across the fall-back hour") {
  event_store store = memory_store();
  std::ifstream in(test::source_dir() / "tests/data/timeline.csv", std::ios::binary);
  REQUIRE(in);
  auto r = import_file(store, in, "timeline.csv", with_tz("America/Los_Angeles"));
  REQUIRE(r);
  CHECK(r->format == import_format::csv);
  CHECK(r->appended == 5);
  // 00:50 PDT; 01:30 twice that night: without an offset the earlier (PDT, 08:30Z), with -08:00
  // the later (09:30Z); 02:30 PST.
  CHECK(events(store) ==
        "status 2024-11-03T07:50:00Z {\"text\":\"We are investigating errors on the API, and \\\"login\\\" failures.\",\"status\":\"investigating\"}\n"
        "note 2024-11-03T08:30:00Z {\"text\":\"The first 01:30 of the night (PDT).\\nThe text of this note spans two lines.\",\"tags\":[\"impact-start\",\"symptoms\"]}\n"
        "note 2024-11-03T09:30:00Z {\"text\":\"The second 01:30, given with its offset (PST).\"}\n"
        "metric 2024-11-03T10:15:00Z {\"text\":\"About 99% of the errors are gone.\",\"value\":99,\"unit\":\"%\",\"name\":\"fixed\"} ~\n"
        "status 2024-11-03T10:30:00Z {\"text\":\"This incident has been resolved.\",\"status\":\"resolved\"}\n");
  CHECK(store.incidents()[0].status == "resolved");

  SUBCASE("importing it again adds nothing") {
    std::ifstream again(test::source_dir() / "tests/data/timeline.csv", std::ios::binary);
    auto r2 = import_file(store, again, "timeline.csv", with_tz("America/Los_Angeles"));
    REQUIRE(r2);
    CHECK(r2->appended == 0);
    CHECK(r2->existing == 5);
  }
}

TEST_CASE("spring forward: 02:30 does not exist, the times around it do") {
  event_store store = memory_store();
  const std::string head = "incident,at,type,source,text\n";
  auto r = import_text(store,
                       head + "x-1,2024-03-10 01:59,note,s,before\n"
                              "x-1,2024-03-10 03:30,note,s,after\n",
                       with_tz("America/Los_Angeles"));
  REQUIRE(r);
  CHECK(events(store) == "note 2024-03-10T09:59:00Z {\"text\":\"before\"}\nnote 2024-03-10T10:30:00Z {\"text\":\"after\"}\n");
  CHECK(import_text(store, head + "x-2,2024-03-10 02:30,note,s,gap\n", with_tz("America/Los_Angeles")).error() ==
        "timeline.csv:2: row 2, column \"at\": \"2024-03-10 02:30\" does not exist in America/Los_Angeles (the clocks "
        "skip it when daylight saving time starts)\n");
  CHECK(import_text(store, head + "x-2,2024-03-10 02:30,note,s,gap\n").error() ==
        "timeline.csv:2: row 2, column \"at\": no time zone: add --tz ZONE or an offset: found \"2024-03-10 02:30\"\n");
  CHECK(import_text(store, head + "x-2,2024-03-10 02:30,note,s,gap\n", with_tz("Mars/Olympus")).error() ==
        "--tz Mars/Olympus: not a time zone (expected an IANA name such as America/Los_Angeles)\n");
  CHECK(store.event_count() == 2);
}

TEST_CASE("CRLF line ends, a BOM, quoted CRLF, kind as the type, and --map") {
  event_store store = memory_store();
  SUBCASE("CRLF and BOM") {
    auto r = import_text(store,
                         "\xEF\xBB\xBFincident_id,Timestamp,Kind,Source,Body\r\n"
                         "y-1,2024-05-01T10:00:00Z,note,s,\"one\r\ntwo\"\r\n"
                         "\r\n"
                         "y-1,2024-05-01T10:01:00+02:00,alert,s,\"paged, \"\"ops\"\"\"\r\n");
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
    CHECK(events(store) == "note 2024-05-01T10:00:00Z {\"text\":\"one\\ntwo\"}\n"
                           "alert 2024-05-01T08:01:00Z {\"text\":\"paged, \\\"ops\\\"\"}\n");
  }
  SUBCASE("kind is the payload field when a type column exists") {
    auto r = import_text(store,
                         "incident,at,type,source,text,kind,owner\n"
                         "y-1,2024-05-01T10:00:00Z,cause,postmortem,A bad config push,root_cause,\n"
                         "y-1,2024-05-01T11:00:00Z,action,postmortem,Stage config pushes,prevention,SRE\n");
    REQUIRE(r);
    CHECK(events(store) == "cause 2024-05-01T10:00:00Z {\"text\":\"A bad config push\",\"kind\":\"root_cause\"}\n"
                           "action 2024-05-01T11:00:00Z {\"text\":\"Stage config pushes\",\"kind\":\"prevention\",\"owner\":\"SRE\"}\n");
  }
  SUBCASE("--map names columns, and ignores one") {
    auto r = import_text(store,
                         "Ticket,When,What,Who,Note,Reports,Row #\n"
                         "z-1,2024-05-01 12:00,note,press,Users report errors,,1\n"
                         "z-1,2024-05-01 12:05,report,Downdetector,,1200,2\n",
                         with_tz("Europe/Paris", {{"ticket", "incident"}, {"WHAT", "type"}, {"Who", "source"},
                                                  {"Note", "text"}, {"reports", "count"}, {"row #", ""}}));
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
    CHECK(events(store) == "note 2024-05-01T10:00:00Z {\"text\":\"Users report errors\"}\n"
                           "report 2024-05-01T10:05:00Z {\"count\":1200}\n");
  }
}

TEST_CASE("incident rows: lists, numbers, titles") {
  event_store store = memory_store();
  auto r = import_text(store,
                       "incident,at,type,source,title,org,services,severity,id,recorded_at\n"
                       "w-1,2024-05-01T10:00:00Z,incident,status page,API down,Acme,API; Dashboard ;,major,w-1/incident,2024-05-02T00:00:00Z\n");
  REQUIRE(r);
  std::string line;
  REQUIRE(store.scan({}, [&](const stored_event& s) { line = to_jsonl(s.ev, s.recorded_at); }));
  CHECK(line ==
        R"({"id":"w-1/incident","incident":"w-1","type":"incident","at":"2024-05-01T10:00:00Z","recorded_at":"2024-05-02T00:00:00Z","source":"status page","data":{"title":"API down","org":"Acme","services":["API","Dashboard"],"severity":"major"}})");
}

TEST_CASE("bad rows: every one reported with its line, row and column; nothing written") {
  event_store store = memory_store();
  const std::string text =
      "incident,at,type,source,text,value,name,status\n"
      "acme-1,2024-05-01T10:00:00Z,note,x,fine,,,\n"
      "acme-1,yesterday,note,x,\"a note\n"
      "on two lines\",,,\n"
      "acme-1,2024-05-01T10:05:00Z,metric,x,,abc,fixed,\n"
      "acme-1,2024-05-01T10:06:00Z,status,x,,,,\n"
      "acme-1,2024-05-01T10:07:00Z,sttaus,x,,,,\n"
      "acme-1,2024-05-01T10:08:00Z,note,x,,,,\n"
      "acme-1,2024-05-01T10:09:00Z,note,x,hello,5,,\n"
      "acme-1,2024-05-01T10:10:00Z,status,x,,,,fixed\n"
      "acme-1,2024-05-01T10:11:00Z,note,x\n"
      "acme-1,2024-05-01T10:12:00Z,note,x,\"unclosed,,,\n";
  CHECK(import_text(store, text).error() ==
        "timeline.csv:3: row 3, column \"at\": not a timestamp (expected ISO 8601 with Z or an offset, e.g. "
        "2024-12-11T23:17:00Z): found \"yesterday\"\n"
        "timeline.csv:5: row 4, column \"value\": not a number: found \"abc\"\n"
        "timeline.csv:6: row 5: data.status: missing required field \"status\"\n"
        "timeline.csv:7: row 6, column \"type\": not an event type (expected incident | status | report | alert | "
        "change | metric | comm | component | cause | action | note | correction | retraction): found \"sttaus\" "
        "(did you mean \"status\"?)\n"
        "timeline.csv:8: row 7: data: does not have the required fields: \"text\" (a remark), \"role\" (who holds a "
        "role) or \"document\" (the document's status)\n"
        "timeline.csv:9: row 8, column \"value\": a note event has no field \"value\" (its fields: document, people, role, tags, text): found \"5\"\n"
        "timeline.csv:10: row 9, column \"status\": not an allowed value (expected \"investigating\" | \"identified\" | "
        "\"monitoring\" | \"resolved\" | \"postmortem\" | \"scheduled\" | \"in_progress\" | \"verifying\" | "
        "\"completed\"): found \"fixed\"\n"
        "timeline.csv:11: row 10: 4 fields, but the header has 8\n"
        "timeline.csv:12: row 11, column 5: a quoted field is not closed (its quote opens on line 12)\n");
  CHECK(store.event_count() == 0);
}

TEST_CASE("header errors") {
  event_store store = memory_store();
  CHECK(import_text(store, "incident,at,type,text,Severty\nx,2024-05-01T10:00:00Z,note,a,b\n").error() ==
        "timeline.csv:1: row 1, column \"Severty\": not a field (did you mean \"severity\"?) (--map 'Severty=FIELD' "
        "names its field, --map 'Severty=' ignores it)\n"
        "timeline.csv:1: row 1, no \"source\" column (--map COLUMN=source names another column so)\n");
  CHECK(import_text(store, "incident,at,time,type,source\n").error() ==
        "timeline.csv:1: row 1, columns \"at\" and \"time\" both give the field \"at\"\n");
  CHECK(import_text(store, "incident,at,type,source\n", with_tz("UTC", {{"nope", "text"}, {"at", "stamp"}})).error() ==
        "timeline.csv:1: row 1, --map at=stamp: \"stamp\" is not a field (did you mean \"state\"?)\n"
        "timeline.csv:1: row 1, --map nope=text: no column \"nope\" in the header\n");
  CHECK(import_text(store, "").error() == "timeline.csv: empty file: a CSV timeline starts with a header row\n");
  CHECK(store.event_count() == 0);
}

TEST_CASE("progress is reported with bytes and events") {
  event_store store = memory_store();
  std::size_t calls = 0, last_bytes = 0, last_events = 0;
  import_options o;
  o.progress = [&](std::size_t bytes, std::size_t n) {
    ++calls;
    last_bytes = bytes;
    last_events = n;
  };
  const std::string text = "incident,at,type,source,text\nq-1,2024-05-01T10:00:00Z,note,s,a\nq-1,2024-05-01T10:01:00Z,note,s,b\n";
  REQUIRE(import_text(store, text, o));
  CHECK(calls >= 1);
  CHECK(last_bytes == text.size());
  CHECK(last_events == 2);
}

}  // TEST_SUITE
