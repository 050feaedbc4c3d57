// Statuspage v2 JSON import: the mapping to events, snapshots, errors, and the GitHub archive.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <rapidjson/document.h>

#include "core/import.hpp"
#include "core/jsonl.hpp"
#include "core/projection.hpp"
#include "core/statuspage.hpp"
#include "core/time.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"
#include "test_util.hpp"

using namespace pmdb;
using pmdb::test::memory_store;

namespace {


std::filesystem::path data_file(std::string_view name) { return test::source_dir() / "tests" / "data" / name; }

// Imports `text` as the file `name`; the errors formatted as the shell prints them, or "".
std::expected<import_file_result, std::string> import_text(event_store& store, std::string_view text,
                                                           const import_options& opts = {},
                                                           std::string_view name = "page.json") {
  std::istringstream in{std::string(text)};
  auto r = import_file(store, in, name, opts);
  if (r) return *r;
  std::string out;
  for (const auto& e : r.error()) out += format_import_error(e) + "\n";
  return std::unexpected(out);
}

import_file_result import_path(event_store& store, const std::filesystem::path& p, const import_options& opts = {}) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  auto r = import_file(store, in, p.filename().string(), opts);
  if (!r)
    for (const auto& e : r.error()) MESSAGE(format_import_error(e));
  REQUIRE(r);
  return *r;
}

std::string exported(const event_store& store, const std::vector<std::string>& incidents = {}) {
  std::ostringstream out;
  REQUIRE(export_jsonl(store, out, incidents));
  return out.str();
}

// One-column integer query.
std::int64_t count(const event_store& store, std::string_view sql, std::vector<value> params = {}) {
  const column cols[] = {{"n", value_type::integer}};
  auto r = store.query(sql, params, cols);
  REQUIRE(r);
  REQUIRE(r->rows.size() == 1);
  return std::get<std::int64_t>(r->rows[0][0]);
}

// The text column of event `id`: in the log as appended, believed now, or believed as of `t`
// (the projection's condition, core/projection.hpp); "(none)" when no row matches.
std::string one_text(const event_store& store, const std::string& sql, std::vector<value> params) {
  const column cols[] = {{"text"}};
  auto r = store.query(sql, params, cols);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  REQUIRE(r->rows.size() <= 1);
  if (r->rows.empty()) return "(none)";
  if (std::holds_alternative<null_value>(r->rows[0][0])) return "(null)";
  return std::get<std::string>(r->rows[0][0]);
}
std::string log_text(const event_store& store, std::string_view id) {
  return one_text(store, "SELECT text FROM events WHERE id = ?", {std::string(id)});
}
std::string current_text(const event_store& store, std::string_view id) {
  return one_text(store,
                  fmt::format("SELECT v.text FROM {} v WHERE v.id = ? AND {}", projection::versions_table,
                              projection::believed("v", false).sql),
                  {std::string(id)});
}
std::string text_as_of(const event_store& store, std::string_view id, std::string_view when) {
  const auto b = projection::believed("v", true);
  std::vector<value> params{std::string(id)};
  for (int i = 0; i < b.as_of_params; ++i) params.emplace_back(timestamp{parse_timestamp(when).value().ms});
  return one_text(store, fmt::format("SELECT v.text FROM {} v WHERE v.id = ? AND {}", projection::versions_table, b.sql),
                  params);
}

// The title of `incident` in the incidents relation as of `when` (projection::incidents_as_of).
std::string title_as_of(const event_store& store, std::string_view incident, std::string_view when) {
  const auto rel = projection::incidents_as_of();
  std::vector<value> params;
  for (int i = 0; i < rel.as_of_params; ++i) params.emplace_back(timestamp{parse_timestamp(when).value().ms});
  params.emplace_back(std::string(incident));
  return one_text(store, fmt::format("SELECT title FROM ({}) WHERE id = ?", rel.sql), params);
}

std::string recorded_at_of(const event_store& store, std::string_view id) {
  const column cols[] = {{"recorded_at", value_type::timestamp}};
  auto r = store.query("SELECT recorded_at FROM events WHERE id = ?", std::vector<value>{std::string(id)}, cols);
  REQUIRE(r);
  REQUIRE(r->rows.size() == 1);
  return format_iso(std::get<timestamp>(r->rows[0][0]));
}

// A page with incident "abc" (created 10:00): update u1, whose body and updated_at vary, and
// update u2, never edited.
std::string edited_page(std::string_view u1_body, std::string_view u1_updated) {
  return fmt::format(
      R"({{"page":{{"name":"Acme","url":"https://status.acme.example"}},"incidents":[{{"id":"abc","name":"API down",)"
      R"("impact":"minor","created_at":"2024-05-01T10:00:00Z","updated_at":"{1}","incident_updates":[)"
      R"({{"id":"u2","status":"identified","body":"Found it.","created_at":"2024-05-01T10:05:00Z","updated_at":"2024-05-01T10:05:00Z"}},)"
      R"({{"id":"u1","status":"investigating","body":"{0}","created_at":"2024-05-01T10:00:00Z","updated_at":"{1}"}}]}}]}})",
      u1_body, u1_updated);
}

std::string title_of(const event_store& store, std::string_view incident) {
  for (const auto& i : store.incidents())
    if (i.id == incident) return i.title;
  return "(no such incident)";
}

}  // namespace

TEST_SUITE("import_statuspage") {

TEST_CASE("slugs of page names") {
  CHECK(statuspage_slug("GitHub") == "github");
  CHECK(statuspage_slug("Acme Cloud") == "acme-cloud");
  CHECK(statuspage_slug("  Acme, Inc. (EU) ") == "acme-inc-eu");
  CHECK(statuspage_slug("!!!") == "");
}

TEST_CASE("format detection looks at the first line") {
  CHECK(detect_format(R"({"incident":"a-1","type":"note","at":"2024-01-01T00:00:00Z","source":"s","data":{"text":"x"}})"
                      "\n{") == import_format::jsonl);
  CHECK(detect_format("\n\n  {\"page\":{\"name\":\"x\"},\"incidents\":[]}") == import_format::statuspage);
  CHECK(detect_format("{\n  \"page\": {}\n}") == import_format::statuspage);
  CHECK(detect_format(R"({"incident":{"id":"x","incident_updates":[]}})") == import_format::statuspage);
  CHECK(detect_format("[{\"incidents\":[]}]") == import_format::statuspage);
  CHECK(detect_format("\xEF\xBB\xBFincident,at,type,source,text\n") == import_format::csv);
  CHECK(detect_format("") == import_format::csv);
}

TEST_CASE("import_file hands JSON Lines to the JSONL importer") {
  event_store store = memory_store();
  const auto r = import_path(store, test::source_dir() / "examples/openai-2024-12-11.jsonl");
  CHECK(r.format == import_format::jsonl);
  CHECK(r.appended == 53);
  import_options forced;
  forced.format = import_format::statuspage;
  std::ifstream in(test::source_dir() / "examples/openai-2024-12-11.jsonl", std::ios::binary);
  auto bad = import_file(store, in, "openai.jsonl", forced);
  REQUIRE(!bad);
  CHECK(format_import_error(bad.error().front()) ==
        "openai.jsonl: (the document): not a Statuspage document (expected {\"page\": {...}, \"incidents\": [...]}, "
        "{\"incident\": {...}} or an incident with \"id\", \"name\" and \"incident_updates\")");
  CHECK(import_text(store, "{}", {.format = import_format::auto_detect, .prefix = "Bad Prefix", .tz = {}, .map = {}, .progress = {}})
            .error() ==
        "prefix \"Bad Prefix\": not a slug (expected lowercase letters, digits, '.', '_' and '-', starting with a letter "
        "or a digit)\n");
}

TEST_CASE("the sample page: fields, UTC times, updates in time order, maintenance statuses") {
  event_store store = memory_store();
  const auto r = import_path(store, data_file("statuspage-sample.json"));
  CHECK(r.format == import_format::statuspage);
  CHECK(r.appended == 14);
  CHECK(r.existing == 0);
  CHECK(exported(store) == test::read_file(data_file("statuspage-sample.expected.jsonl")));

  CHECK(store.incident_ids() == std::vector<std::string>{"acme-cloud-m4nt3n4nc3ab", "acme-cloud-p9x2k4m7q1zt"});
  const auto incidents = store.incidents();
  REQUIRE(incidents.size() == 2);
  CHECK(incidents[0].status == "completed");
  CHECK(incidents[0].severity == "maintenance");
  CHECK(incidents[1].status == "resolved");
  CHECK(format_iso(timestamp{incidents[1].started}) == "2024-12-11T23:17:43.123Z");
  CHECK(format_iso(timestamp{incidents[1].ended}) == "2024-12-12T01:02:10.500Z");

  SUBCASE("importing the same file again adds nothing") {
    const auto again = import_path(store, data_file("statuspage-sample.json"));
    CHECK(again.appended == 0);
    CHECK(again.existing == 14);
  }
  SUBCASE("a later snapshot adds the new update and the renamed incident, nothing else") {
    const auto later = import_path(store, data_file("statuspage-sample-later.json"));
    CHECK(later.appended == 2);  // the postmortem update, and the incident event with the new name
    CHECK(later.existing == 13);
    CHECK(later.corrections == 0);
    CHECK(title_of(store, "acme-cloud-p9x2k4m7q1zt") == "Elevated API error rates and timeouts");
    CHECK(count(store, "SELECT count(*) FROM events WHERE incident = 'acme-cloud-p9x2k4m7q1zt' AND type = 'incident'") == 2);
    CHECK(count(store, "SELECT count(*) FROM events WHERE id = 'sp:p0stm0rt3m01' AND status = 'postmortem'") == 1);
    // Re-reading the older snapshot afterwards adds nothing either.
    const auto older = import_path(store, data_file("statuspage-sample.json"));
    CHECK(older.appended == 0);
    CHECK(older.existing == 14);
  }
}

TEST_CASE("an update edited on the page becomes a correction") {
  event_store store = memory_store();
  const std::string before = R"({"page":{"name":"Acme","url":"https://status.acme.example"},"incidents":[{"id":"abc","name":"API down","impact":"minor","created_at":"2024-05-01T10:00:00Z","incident_updates":[
    {"id":"u1","status":"investigating","body":"We are looking into it.","created_at":"2024-05-01T10:00:00Z","updated_at":"2024-05-01T10:00:00Z"}]}]})";
  std::string after = before;
  after.replace(after.find("We are looking into it."), 23, "We are looking into API errors.");
  after.replace(after.find(R"("updated_at":"2024-05-01T10:00:00Z")"), 35, R"("updated_at":"2024-05-01T10:20:00Z")");
  REQUIRE(import_text(store, before));
  auto r = import_text(store, after);
  REQUIRE(r);
  CHECK(r->appended == 1);
  CHECK(r->corrections == 1);
  CHECK(exported(store).substr(exported(store).rfind("{\"id\":\"sp:u1:edit-")) ==
        R"j({"id":"sp:u1:edit-fa2810d0d3901b53","incident":"acme-abc","type":"correction","at":"2024-05-01T10:20:00Z","recorded_at":"2024-05-01T10:20:00Z","source":"status.acme.example","data":{"target":"sp:u1","reason":"changed at the source after it was imported (a later snapshot differs)","data":{"status":"investigating","text":"We are looking into API errors."}}})j"
        "\n");
  r = import_text(store, after);
  REQUIRE(r);
  CHECK(r->appended == 0);
  CHECK(r->corrections == 0);
}

TEST_CASE("edits are compared with what the store believes: the log keeps the original, as of shows each version") {
  event_store store = memory_store();
  REQUIRE(import_text(store, edited_page("We are looking into it.", "2024-05-01T10:00:00Z")));
  CHECK(store.event_count() == 3);

  // B: u1's body edited at 10:20.
  const std::string b = edited_page("We are looking into API errors.", "2024-05-01T10:20:00Z");
  auto r = import_text(store, b);
  REQUIRE(r);
  CHECK(r->appended == 1);
  CHECK(r->corrections == 1);
  CHECK(r->existing == 2);  // the incident and u2; u1 became the correction
  CHECK(log_text(store, "sp:u1") == "We are looking into it.");
  CHECK(current_text(store, "sp:u1") == "We are looking into API errors.");
  CHECK(text_as_of(store, "sp:u1", "2024-05-01T09:59:59.999Z") == "(none)");
  CHECK(text_as_of(store, "sp:u1", "2024-05-01T10:00:00Z") == "We are looking into it.");
  CHECK(text_as_of(store, "sp:u1", "2024-05-01T10:19:59.999Z") == "We are looking into it.");
  CHECK(text_as_of(store, "sp:u1", "2024-05-01T10:20:00Z") == "We are looking into API errors.");
  CHECK(current_text(store, "sp:u2") == "Found it.");

  // B again: nothing new.
  r = import_text(store, b);
  REQUIRE(r);
  CHECK(r->appended == 0);
  CHECK(r->corrections == 0);
  CHECK(r->existing == 3);
  CHECK(store.event_count() == 4);

  SUBCASE("C reverts the text: a correction back to the original") {
    r = import_text(store, edited_page("We are looking into it.", "2024-05-01T10:40:00Z"));
    REQUIRE(r);
    CHECK(r->appended == 1);
    CHECK(r->corrections == 1);
    CHECK(current_text(store, "sp:u1") == "We are looking into it.");
    CHECK(log_text(store, "sp:u1") == "We are looking into it.");
    CHECK(text_as_of(store, "sp:u1", "2024-05-01T10:30:00Z") == "We are looking into API errors.");
    CHECK(text_as_of(store, "sp:u1", "2024-05-01T10:40:00Z") == "We are looking into it.");
    CHECK(store.event_count() == 5);
    // Every snapshot read again, in any order, adds nothing: each matches what was believed at its edit.
    for (const auto& page : {edited_page("We are looking into it.", "2024-05-01T10:00:00Z"), b,
                             edited_page("We are looking into it.", "2024-05-01T10:40:00Z")}) {
      r = import_text(store, page);
      REQUIRE(r);
      CHECK(r->appended == 0);
    }
    CHECK(store.event_count() == 5);
  }

  SUBCASE("edited twice, then back to the second text: each edit is a correction of the version before it") {
    r = import_text(store, edited_page("Still looking.", "2024-05-01T10:30:00Z"));
    REQUIRE(r);
    CHECK(r->corrections == 1);
    CHECK(current_text(store, "sp:u1") == "Still looking.");
    r = import_text(store, b);  // the older snapshot again: it matches what was believed at 10:20
    REQUIRE(r);
    CHECK(r->appended == 0);
    CHECK(current_text(store, "sp:u1") == "Still looking.");
    r = import_text(store, edited_page("We are looking into API errors.", "2024-05-01T10:50:00Z"));
    REQUIRE(r);
    CHECK(r->appended == 1);
    CHECK(r->corrections == 1);
    CHECK(current_text(store, "sp:u1") == "We are looking into API errors.");
    CHECK(text_as_of(store, "sp:u1", "2024-05-01T10:45:00Z") == "Still looking.");
    CHECK(store.event_count() == 6);
    const column cols[] = {{"target"}, {"recorded_at", value_type::timestamp}};
    auto rs = store.query("SELECT target, recorded_at FROM events WHERE type = 'correction' ORDER BY seq", {}, cols);
    REQUIRE(rs);
    REQUIRE(rs->rows.size() == 3);
    CHECK(format_iso(std::get<timestamp>(rs->rows[0][1])) == "2024-05-01T10:20:00Z");
    CHECK(format_iso(std::get<timestamp>(rs->rows[1][1])) == "2024-05-01T10:30:00Z");
    CHECK(format_iso(std::get<timestamp>(rs->rows[2][1])) == "2024-05-01T10:50:00Z");
  }

  SUBCASE("an older snapshot read after a newer one adds history, not a new present") {
    event_store fresh = memory_store();
    REQUIRE(import_text(fresh, edited_page("We are looking into it.", "2024-05-01T10:00:00Z")));
    REQUIRE(import_text(fresh, edited_page("Still looking.", "2024-05-01T10:30:00Z")));
    r = import_text(fresh, b);
    REQUIRE(r);
    CHECK(r->corrections == 1);  // what the page said from 10:20, which the store did not know
    CHECK(current_text(fresh, "sp:u1") == "Still looking.");
    CHECK(text_as_of(fresh, "sp:u1", "2024-05-01T10:25:00Z") == "We are looking into API errors.");
  }

  SUBCASE("a correction made in the store later than the page's edit is not undone by reading the page again") {
    auto c = parse_event(R"({"id":"fix-1","incident":"acme-abc","type":"correction","at":"2024-05-02T09:00:00Z","recorded_at":"2024-05-02T09:00:00Z","source":"analyst","data":{"target":"sp:u1","reason":"the post's time was wrong","at":"2024-05-01T09:55:00Z"}})");
    REQUIRE(c);
    REQUIRE(store.append(std::vector{*c}));
    r = import_text(store, b);
    REQUIRE(r);
    CHECK(r->appended == 0);
    CHECK(r->corrections == 0);
    const column cols[] = {{"at", value_type::timestamp}};
    auto rs = store.query("SELECT at FROM event_versions WHERE id = 'sp:u1' AND valid_to IS NULL", {}, cols);
    REQUIRE(rs);
    REQUIRE(rs->rows.size() == 1);
    CHECK(format_iso(std::get<timestamp>(rs->rows[0][0])) == "2024-05-01T09:55:00Z");
    CHECK(current_text(store, "sp:u1") == "We are looking into API errors.");
  }

  SUBCASE("an event retracted in the store is left alone, whatever a snapshot says") {
    auto c = parse_event(R"({"id":"drop-1","incident":"acme-abc","type":"retraction","at":"2024-05-02T09:00:00Z","recorded_at":"2024-05-02T09:00:00Z","source":"analyst","data":{"target":"sp:u1","reason":"not about this incident"}})");
    REQUIRE(c);
    REQUIRE(store.append(std::vector{*c}));
    const auto before = store.event_count();
    for (const auto& page : {b, edited_page("Edited after the retraction.", "2024-05-03T00:00:00Z"),
                             edited_page("We are looking into it.", "2024-05-01T10:00:00Z")}) {
      r = import_text(store, page);
      REQUIRE(r);
      CHECK(r->appended == 0);
      CHECK(r->corrections == 0);
      CHECK(r->existing == 3);
    }
    CHECK(store.event_count() == before);
    CHECK(current_text(store, "sp:u1") == "(none)");
  }
}

TEST_CASE("recorded times: what the page said, from when it said it") {
  event_store store = memory_store();
  const auto r = import_path(store, data_file("statuspage-sample.json"));
  CHECK(r.appended == 14);
  // The incident event from the incident's creation (not from its last update), each update's
  // events from the update's creation.
  CHECK(recorded_at_of(store, "sp:p9x2k4m7q1zt/incident-b01cf9001610c188") == "2024-12-11T23:17:43.123Z");
  CHECK(recorded_at_of(store, "sp:m0n1t0r1ng01") == "2024-12-12T00:41:05.010Z");
  CHECK(count(store, "SELECT count(*) FROM events e WHERE e.type IN ('status', 'component') AND e.recorded_at <> "
                     "(SELECT s.recorded_at FROM events s WHERE s.id = 'sp:' || substr(e.id, 4, 12))") == 0);
  CHECK(count(store, "SELECT count(*) FROM events WHERE type = 'incident' AND recorded_at <> at") == 0);
  // As of a moment after the incident was opened and before it was resolved, the page had said
  // this much.
  CHECK(title_as_of(store, "acme-cloud-p9x2k4m7q1zt", "2024-12-11T23:20:00Z") == "Elevated API error rates");
  CHECK(title_as_of(store, "acme-cloud-p9x2k4m7q1zt", "2024-12-11T23:17:43.122Z") == "(none)");
  CHECK(count(store, "SELECT count(*) FROM events WHERE incident = 'acme-cloud-p9x2k4m7q1zt' AND recorded_at <= ?",
              {timestamp{parse_timestamp("2024-12-11T23:50:00Z")->ms}}) == 4);

  // The later snapshot renames the incident: the new description is believed from the
  // incident's updated_at of that snapshot, the old one before.
  import_path(store, data_file("statuspage-sample-later.json"));
  const column cols[] = {{"recorded_at", value_type::timestamp}};
  auto rs = store.query("SELECT recorded_at FROM events WHERE incident = 'acme-cloud-p9x2k4m7q1zt' AND type = 'incident' "
                        "ORDER BY seq",
                        {}, cols);
  REQUIRE(rs);
  REQUIRE(rs->rows.size() == 2);
  CHECK(format_iso(std::get<timestamp>(rs->rows[0][0])) == "2024-12-11T23:17:43.123Z");
  CHECK(format_iso(std::get<timestamp>(rs->rows[1][0])) == "2024-12-13T18:00:00Z");
  CHECK(title_as_of(store, "acme-cloud-p9x2k4m7q1zt", "2024-12-12T12:00:00Z") == "Elevated API error rates");
  CHECK(title_as_of(store, "acme-cloud-p9x2k4m7q1zt", "2024-12-13T18:00:00Z") == "Elevated API error rates and timeouts");
  CHECK(title_of(store, "acme-cloud-p9x2k4m7q1zt") == "Elevated API error rates and timeouts");

  SUBCASE("both snapshots in one file: the same recorded times") {
    event_store one = memory_store();
    const std::string both = test::read_file(data_file("statuspage-sample.json")) + "\n" +
                             test::read_file(data_file("statuspage-sample-later.json"));
    REQUIRE(import_text(one, both));
    auto again = one.query("SELECT recorded_at FROM events WHERE incident = 'acme-cloud-p9x2k4m7q1zt' AND type = "
                           "'incident' ORDER BY seq",
                           {}, cols);
    REQUIRE(again);
    CHECK(again->rows == rs->rows);
  }
  SUBCASE("without created_at: the first update's creation") {
    event_store bare = memory_store();
    REQUIRE(import_text(bare, R"({"id":"q1","name":"Slow","incident_updates":[)"
                              R"({"id":"q1-2","status":"resolved","created_at":"2024-05-01T11:00:00Z","display_at":"2024-05-01T10:59:00Z"},)"
                              R"({"id":"q1-1","status":"investigating","created_at":"2024-05-01T10:02:00Z","display_at":"2024-05-01T10:00:00Z"}]})"));
    CHECK(count(bare, "SELECT count(*) FROM events WHERE type = 'incident' AND at = ? AND recorded_at = ?",
                {timestamp{parse_timestamp("2024-05-01T10:00:00Z")->ms}, timestamp{parse_timestamp("2024-05-01T10:02:00Z")->ms}}) == 1);
  }
}

TEST_CASE("document shapes: single incidents, arrays, concatenated documents, no page") {
  event_store store = memory_store();
  // Every optional member null, as incident.io pages serve them.
  const auto inc = [](std::string_view code) {
    return fmt::format(
        R"({{"id":"{0}","name":"Login errors","impact":null,"shortlink":null,"components":null,"page":null,)"
        R"("created_at":null,"incident_updates":[{{"id":"{0}-1","status":"Investigating","body":null,)"
        R"("created_at":"2024-05-01T10:00:00+02:00","display_at":null,"affected_components":null}}]}})",
        code);
  };
  const column cols[] = {{"id"}, {"incident"}, {"source"}, {"data"}};
  const auto events = [&] {
    auto r = store.query("SELECT id, incident, source, data FROM events ORDER BY seq", {}, cols);
    REQUIRE(r);
    std::string out;
    for (const auto& row : r->rows)
      out += fmt::format("{} {} {} {}\n", std::get<std::string>(row[0]), std::get<std::string>(row[1]),
                         std::get<std::string>(row[2]), std::get<std::string>(row[3]));
    return out;
  };
  SUBCASE("a bare incident object, no page: the stream is statuspage-CODE") {
    auto r = import_text(store, inc("XyZ123"));
    REQUIRE(r);
    CHECK(r->format == import_format::statuspage);
    CHECK(events() ==
          "sp:XyZ123/incident-dc16dc0bed173204 statuspage-xyz123 statuspage {\"title\":\"Login errors\",\"org\":\"statuspage\",\"services\":[]}\n"
          "sp:XyZ123-1 statuspage-xyz123 statuspage {\"status\":\"investigating\"}\n");
    CHECK(format_iso(timestamp{store.incidents()[0].started}) == "2024-05-01T08:00:00Z");
  }
  SUBCASE("{\"incident\": ...} with a prefix") {
    auto r = import_text(store, R"({"incident":)" + inc("XyZ123") + "}", {.prefix = "acme", .tz = {}, .map = {}, .progress = {}});
    REQUIRE(r);
    CHECK(store.incident_ids() == std::vector<std::string>{"acme-xyz123"});
    CHECK(store.incidents()[0].org == "acme");
  }
  SUBCASE("an array of documents, and concatenated documents") {
    const std::string page = R"({"page":{"name":"Beta"},"incidents":[)" + inc("b1") + "]}";
    auto r = import_text(store, "[" + page + "," + inc("c1") + "]");
    REQUIRE(r);
    CHECK(r->appended == 4);
    CHECK(store.incident_ids() == std::vector<std::string>{"beta-b1", "statuspage-c1"});
    auto again = import_text(store, page + "\n" + inc("c1") + "\n" + page);
    REQUIRE(again);
    CHECK(again->appended == 0);
    CHECK(again->existing == 6);
  }
  SUBCASE("scheduled maintenances") {
    auto r = import_text(store, R"({"page":{"name":"Beta","url":"http://status.beta.example:8080/"},"scheduled_maintenances":[)" +
                                    inc("m1") + "]}");
    REQUIRE(r);
    CHECK(events() ==
          "sp:m1/incident-b9d02f8f46263226 beta-m1 status.beta.example {\"title\":\"Login errors\",\"org\":\"Beta\",\"services\":[],\"url\":\"http://status.beta.example:8080/incidents/m1\"}\n"
          "sp:m1-1 beta-m1 status.beta.example {\"status\":\"investigating\"}\n");
  }
  SUBCASE("one incident seen under two page names is refused, not merged") {
    REQUIRE(import_text(store, inc("d1")));
    CHECK(import_text(store, R"({"page":{"name":"Gamma"},"incidents":[)" + inc("d1") + "]}").error() ==
          "page.json: incidents[0].incident_updates[0]: event sp:d1-1 is already stored with a different incident "
          "(statuspage-d1 instead of gamma-d1; did the page's name change? --prefix fixes the streams' names)\n");
  }
}

TEST_CASE("a broken document writes nothing and names every bad path") {
  event_store store = memory_store();
  std::ifstream in(data_file("statuspage-broken.json"), std::ios::binary);
  auto r = import_file(store, in, "statuspage-broken.json");
  REQUIRE(!r);
  std::vector<std::string> msgs;
  for (const auto& e : r.error()) msgs.push_back(format_import_error(e));
  CHECK(msgs == std::vector<std::string>{
                    "statuspage-broken.json: incidents[0].incident_updates[0].status: not a Statuspage status (expected "
                    "investigating | identified | monitoring | resolved | postmortem | scheduled | in_progress | "
                    "verifying | completed): found \"fixed\"",
                    "statuspage-broken.json: incidents[1].incident_updates[3].created_at: not a timestamp (expected ISO "
                    "8601 with Z or an offset, e.g. 2024-12-11T23:17:00Z): found \"yesterday\""});
  CHECK(store.event_count() == 0);
}

TEST_CASE("other errors: syntax, component states, wrong shapes") {
  event_store store = memory_store();
  CHECK(import_text(store, "{\n  \"incidents\": [\n    {\"id\": \"x\",}\n  ]\n}\n").error() ==
        "page.json:3: not valid JSON at column 16 (byte 35): Missing a name for object member.\n");
  CHECK(import_text(store, R"({"incidents":[{"id":"x","name":"n","incident_updates":[{"id":"u","status":"resolved","created_at":"2024-05-01T10:00:00Z",)"
                           R"("affected_components":[{"code":"c","name":"API","new_status":"down"}]}]}]})")
            .error() ==
        "page.json: incidents[0].incident_updates[0].affected_components[0].new_status: not a Statuspage component status "
        "(expected operational | degraded_performance | partial_outage | major_outage | under_maintenance): found \"down\"\n");
  CHECK(import_text(store, R"({"incidents":{"id":"x"}})").error() ==
        "page.json: incidents: expected an array: found an object {\"id\":\"x\"}\n");
  CHECK(import_text(store, R"([{"hello":1}])", {.format = import_format::statuspage, .prefix = {}, .tz = {}, .map = {}, .progress = {}}).error() ==
        "page.json: [0]: not a Statuspage document (expected {\"page\": {...}, \"incidents\": [...]}, {\"incident\": {...}} "
        "or an incident with \"id\", \"name\" and \"incident_updates\")\n");
  CHECK(import_text(store, R"({"incidents":[{"id":"x","name":"","incident_updates":[]}]})" "\n" R"({"incidents":[{"id":"y","name":"n","impact":"huge"}]})")
            .error() ==
        "page.json: incidents[0].name: expected a non-empty string: found \"\"\n"
        "page.json: document 2 (line 2): incidents[0].impact: not a Statuspage impact (expected none | minor | major | "
        "critical | maintenance): found \"huge\"\n");
  CHECK(store.event_count() == 0);
}

TEST_CASE("the GitHub status archive: every incident's updates and time to resolution") {
  const test::temp_dir dir;
  const std::string out = dir.file("incidents.json");
  const std::string archive = data_file("github-statuses/incidents.jsonl").string();
  const std::string cmd = fmt::format("python3 '{}' '{}' '{}'",
                                      (test::source_dir() / "tests/tools/github_to_statuspage.py").string(), archive, out);
  REQUIRE(std::system(cmd.c_str()) == 0);

  // What the archive itself says, read independently of the converter.
  struct expected_incident {
    std::size_t updates = 0;
    std::optional<std::int64_t> minutes_to_resolved;
    bool reopened = false;  // an "Investigating" update after a "Resolved" one, in the page's order
  };
  std::map<std::string, expected_incident> want;
  std::size_t archive_lines = 0, archive_updates = 0;
  {
    std::ifstream in(archive);
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str(), line.size());
      REQUIRE(!d.HasParseError());
      ++archive_lines;
      std::string url = d["url"].GetString();
      expected_incident e;
      const auto& ups = d["updates"].GetArray();
      e.updates = ups.Size();
      archive_updates += ups.Size();
      std::optional<std::int64_t> first;
      for (const auto& u : ups) {
        const auto t = parse_timestamp(u["at"].GetString());
        REQUIRE(t);
        if (!first || t->ms < *first) first = t->ms;
      }
      bool resolved_before = false;
      for (const auto& u : ups) {
        const std::string_view status = u["status"].GetString();
        if (status == "Investigating" && resolved_before) e.reopened = true;
        if (status == "Resolved") resolved_before = true;
      }
      for (const auto& u : ups)
        if (std::string_view(u["status"].GetString()) == "Resolved") {
          const auto t = parse_timestamp(u["at"].GetString())->ms;
          const auto m = (t - *first) / 60'000;
          if (!e.minutes_to_resolved || m < *e.minutes_to_resolved) e.minutes_to_resolved = m;
        }
      want.emplace("github-" + url.substr(url.rfind('/') + 1), e);
    }
  }
  // One incident per line, each with its own page code.
  REQUIRE(want.size() == archive_lines);
  REQUIRE(want.size() > 800);
  std::size_t want_resolved = 0;
  for (const auto& [id, e] : want) want_resolved += e.minutes_to_resolved ? 1 : 0;

  event_store store = memory_store();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = import_path(store, out);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE(fmt::format("imported {} events of {} incidents in {} ms", r.appended, want.size(), ms));
  CHECK(r.format == import_format::statuspage);
  CHECK(r.existing == 0);

  const column cols[] = {{"incident"}, {"n", value_type::integer}, {"minutes", value_type::integer}};
  auto rs = store.query(
      "SELECT incident, count(*), (min(CASE WHEN status = 'resolved' THEN at END) - min(at)) / 60000 "
      "FROM events WHERE type = 'status' GROUP BY incident ORDER BY incident",
      {}, cols);
  REQUIRE(rs);
  CHECK(rs->rows.size() == want.size());
  std::size_t checked = 0, resolved = 0;
  for (const auto& row : rs->rows) {
    const auto& id = std::get<std::string>(row[0]);
    const auto it = want.find(id);
    REQUIRE_MESSAGE(it != want.end(), id);
    CHECK_MESSAGE(static_cast<std::size_t>(std::get<std::int64_t>(row[1])) == it->second.updates, id);
    if (it->second.minutes_to_resolved) {
      ++resolved;
      REQUIRE_MESSAGE(std::holds_alternative<std::int64_t>(row[2]), id);
      CHECK_MESSAGE(std::get<std::int64_t>(row[2]) == *it->second.minutes_to_resolved, id);
    } else {
      CHECK_MESSAGE(std::holds_alternative<null_value>(row[2]), id);
    }
    ++checked;
  }
  CHECK(checked == want.size());
  CHECK(resolved == want_resolved);
  CHECK(count(store, "SELECT count(*) FROM events WHERE type = 'incident'") == static_cast<std::int64_t>(want.size()));
  // An incident event per incident and a status event per update: the archive names no
  // component an update affected.
  CHECK(r.appended == want.size() + archive_updates);

  // "Was it reopened?" asked in PMQL: posts of one minute keep the page's order, so a
  // resolution posted in the same minute as an earlier `investigating` does not reopen it.
  {
    const std::string q =
        "incidents | let reopened = time from first status resolved to status investigating | where reopened is not null "
        "| select id;";
    auto script = query::parse(q);
    REQUIRE(script);
    auto act = query::compile(script->statements.front(), shell::catalog_of(store), {}, q);
    REQUIRE(act);
    const auto& cq = std::get<query::run_query>(*act).query;
    auto reopened = store.query(cq.sql, cq.params, cq.columns);
    REQUIRE(reopened);
    std::size_t want_reopened = 0;
    for (const auto& [id, e] : want) want_reopened += e.reopened ? 1 : 0;
    CHECK(reopened->rows.size() == want_reopened);
    for (const auto& row : reopened->rows) CHECK_MESSAGE(want.at(std::get<std::string>(row[0])).reopened, std::get<std::string>(row[0]));
  }

  // A second import of the same document adds nothing.
  const auto again = import_path(store, out);
  CHECK(again.appended == 0);
  CHECK(again.existing == r.appended);
}

}  // TEST_SUITE
