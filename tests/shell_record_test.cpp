// Recording live from the shell: `new incident`, `record`, `correct`, `retract` run by a
// session (in-process) and by the pmdb binary, read back with PMQL; bad input writes nothing;
// the OpenAI outage recorded by hand answers and reports like the imported demo.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "core/event.hpp"
#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "golden.hpp"
#include "shell/postmortem.hpp"
#include "shell/session.hpp"
#include "shell_harness.hpp"
#include "test_util.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

constexpr const char* acme =
    "new incident acme-2026-11-30 title \"Checkout errors\" org \"Acme\" services (\"api\", \"web\") severity major;";

// The stored events of `incident`, in store order.
std::vector<stored_event> log_of(const event_store& s, const std::string& incident) {
  std::vector<stored_event> out;
  REQUIRE(s.scan({incident}, [&](const stored_event& e) { out.push_back(e); }));
  return out;
}

}  // namespace

namespace pmdb::test {
// Parses JSON, failing the test when it is not valid.
inline rapidjson::Document json_of(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), text);
  return d;
}

// How many times `needle` occurs in `haystack`.
inline std::size_t count_of(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + needle.size())) ++n;
  return n;
}
}  // namespace pmdb::test

TEST_SUITE("shell_record") {
  TEST_CASE("every event type is recorded with the payload an import would store") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    const std::string incident_row = sh.out;  // csv mode: the result set id, incident, type, at
    CHECK(sh.s.current_incident() == "acme-2026-11-30");
    CHECK(sh.ask(R"(
record status investigating "We are looking into elevated errors on checkout";
record alert "p99 latency > 2s on checkout" at 10:02 source "pagerduty";
record report count 1500 "Downdetector peak" at ~10:40 source "downdetector";
record metric fixed 99% at now - 5m source "press";
record comm on x by "Acme" "We have identified the issue" at 2026-11-30T10:53Z;
record component "api" major_outage;
record change "Deploy 4512 of payments" at 09:58 source "deploy log";
record cause root_cause "Connection pool exhausted by a retry storm";
record action "Add a circuit breaker to payments" owner "ana" due 2026-12-15;
record note "Traffic moved to the west region" tags ("mitigation", "traffic");
record incident title "Checkout errors and timeouts" org "Acme" services ("api", "web", "payments") summary "";
)").ends_with(",acme-2026-11-30,incident,2026-11-30T12:00:00Z\n"));
    const auto log = log_of(sh.s.store(), "acme-2026-11-30");
    REQUIRE(log.size() == 12);
    // Payloads in the order of each type's schema, exactly as validated for an import.
    const std::vector<std::string> data = {
        R"({"title":"Checkout errors","org":"Acme","services":["api","web"],"severity":"major"})",
        R"({"status":"investigating","text":"We are looking into elevated errors on checkout"})",
        R"({"text":"p99 latency > 2s on checkout"})",
        R"({"count":1500,"text":"Downdetector peak"})",
        R"({"name":"fixed","value":99,"unit":"%"})",
        R"({"channel":"x","text":"We have identified the issue","author":"Acme"})",
        R"({"component":"api","state":"major_outage"})",
        R"({"text":"Deploy 4512 of payments"})",
        R"({"text":"Connection pool exhausted by a retry storm","kind":"root_cause"})",
        R"({"text":"Add a circuit breaker to payments","owner":"ana","due":"2026-12-15"})",
        R"({"text":"Traffic moved to the west region","tags":["mitigation","traffic"]})",
        R"({"title":"Checkout errors and timeouts","org":"Acme","services":["api","web","payments"],"summary":""})",
    };
    const std::int64_t now = parse_timestamp(fixed_now)->ms;
    const std::vector<std::string> at = {fixed_now,
                                         fixed_now,
                                         "2026-11-30T10:02:00Z",
                                         "2026-11-30T10:40:00Z",
                                         format_iso(timestamp{now - 5 * 60'000}),
                                         "2026-11-30T10:53:00Z",
                                         fixed_now,
                                         "2026-11-30T09:58:00Z",
                                         fixed_now,
                                         fixed_now,
                                         fixed_now,
                                         fixed_now};
    const std::vector<std::string> source = {"tester", "tester",     "pagerduty", "downdetector", "press",  "tester",
                                             "tester", "deploy log", "tester",    "tester",       "tester", "tester"};
    for (std::size_t i = 0; i < log.size(); ++i) {
      INFO("event " << i << ": " << log[i].ev.type);
      CHECK(log[i].ev.data == data[i]);
      CHECK(format_iso(timestamp{log[i].ev.at}) == at[i]);
      CHECK(log[i].ev.source == source[i]);
      CHECK(log[i].ev.approx == (i == 3));
      CHECK(log[i].ev.id == log[i].ev.derived_id());
      // Indistinguishable from an import: the same line through the JSONL parser is the same event.
      auto imported = parse_event(fmt::format(
          R"({{"incident":"{}","type":"{}","at":"{}","source":"{}",{}"data":{}}})", log[i].ev.incident, log[i].ev.type,
          format_iso(timestamp{log[i].ev.at}), log[i].ev.source, log[i].ev.approx ? R"("approx":true,)" : "",
          log[i].ev.data));
      REQUIRE(imported);
      CHECK(imported->id == log[i].ev.id);
      CHECK(imported->content_key() == log[i].ev.content_key());
    }
    CHECK(incident_row == log[0].ev.id + ",acme-2026-11-30,incident,2026-11-30T12:00:00Z\n");

    // Read back with PMQL: the incident's metadata from its latest incident event, and the
    // timeline with its ids.
    CHECK(sh.ask("incidents | select id, title, org, severity, status;") ==
              "acme-2026-11-30,Checkout errors and timeouts,Acme,,investigating\n");
    CHECK(sh.ask("time from first alert to status investigating;") == "7080\n");
    CHECK(sh.ask("time from first report to 99% fixed;") == "4500\n");
    const std::string timeline = sh.ask("timeline acme-2026-11-30 | select at, id, type, text | limit 3;");
    CHECK(timeline == fmt::format("2026-11-30T09:58:00Z,{},change,Deploy 4512 of payments\n"
                                  "2026-11-30T10:02:00Z,{},alert,p99 latency > 2s on checkout\n"
                                  "2026-11-30T10:40:00Z,{},report,Downdetector peak\n",
                                  log[7].ev.id, log[2].ev.id, log[3].ev.id));
    CHECK(sh.ask("events where type = comm | select channel, author, text;") ==
              "x,Acme,We have identified the issue\n");
    CHECK(sh.ask("events where type = metric | select metric, value, unit;") == "fixed,99,%\n");
  }

  TEST_CASE("times: now, now ± a duration, timestamps, times of day in the session's zone, ~") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    const auto at_of = [&](std::string_view stmt) {
      REQUIRE(sh.run(std::string(stmt)));
      const auto log = log_of(sh.s.store(), "acme-2026-11-30");
      return format_iso(timestamp{log.back().ev.at}) + (log.back().ev.approx ? " approx" : "");
    };
    CHECK(at_of("record note 'a';") == "2026-11-30T12:00:00Z");
    CHECK(at_of("record note 'b' at now + 1h30m;") == "2026-11-30T13:30:00Z");
    CHECK(at_of("record note 'c' at ~now - 90s;") == "2026-11-30T11:58:30Z approx");
    CHECK(at_of("record note 'd' at 2026-11-29T23:07-08:00;") == "2026-11-30T07:07:00Z");
    CHECK(at_of("record note 'e' at 2026-11-29T23:07;") == "2026-11-29T23:07:00Z");  // no zone: UTC
    CHECK(at_of("record note 'f' at 10:02;") == "2026-11-30T10:02:00Z");
    CHECK(at_of("record note 'g' at ~10:02:30;") == "2026-11-30T10:02:30Z approx");
    // In Los Angeles it is 04:00 on 30 November (PST, UTC-8): today's 10:02 there is 18:02Z.
    REQUIRE(sh.run(".tz America/Los_Angeles"));
    CHECK(at_of("record note 'h' at 10:02;") == "2026-11-30T18:02:00Z");
  }

  TEST_CASE("times of day across daylight saving time") {
    // 8 March 2026, 12:00Z is 05:00 PDT in Los Angeles; 02:00 to 03:00 did not happen that day.
    shell_on spring(script_settings("2026-03-08T12:00:00Z"));
    REQUIRE(spring.run(".tz America/Los_Angeles"));
    REQUIRE(spring.run(acme));
    const auto before = spring.events();
    CHECK_FALSE(spring.run("record note 'x' at 02:30;"));
    CHECK(spring.err == "t.pmq:1:20: error: 02:30 does not exist today in America/Los_Angeles (the clocks skip it)\n"
                        "  record note 'x' at 02:30;\n"
                        "                     ^\n");
    CHECK(spring.events() == before);
    CHECK(spring.run("record note 'y' at 01:30; record note 'z' at 03:30;"));
    auto log = log_of(spring.s.store(), "acme-2026-11-30");
    CHECK(format_iso(timestamp{log[log.size() - 2].ev.at}) == "2026-03-08T09:30:00Z");  // PST
    CHECK(format_iso(timestamp{log.back().ev.at}) == "2026-03-08T10:30:00Z");           // PDT
    // 1 November 2026: 01:30 happens twice; the first (PDT, UTC-7) is taken.
    shell_on fall(script_settings("2026-11-01T20:00:00Z"));
    REQUIRE(fall.run(".tz America/Los_Angeles"));
    REQUIRE(fall.run(acme));
    REQUIRE(fall.run("record note 'x' at 01:30;"));
    CHECK(format_iso(timestamp{log_of(fall.s.store(), "acme-2026-11-30").back().ev.at}) == "2026-11-01T08:30:00Z");
  }

  TEST_CASE("the source: the statement's, else .source, else the session's default") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    CHECK(sh.ask(".source") == "tester\n");
    REQUIRE(sh.run("record note 'a'; record note 'b' source \"pagerduty\";"));
    REQUIRE(sh.run(".source deploy bot"));
    CHECK(sh.ask(".source") == "deploy bot\n");
    REQUIRE(sh.run("record note 'c';"));
    CHECK(sh.ask("events where type = note | select text, source;") == "a,tester\nb,pagerduty\nc,deploy bot\n");

    // No --source: $PMDB_SOURCE, else the user name.
    ::setenv("PMDB_SOURCE", "chat-bot", 1);
    shell::settings cfg = script_settings();
    cfg.source.clear();
    shell_on from_env(cfg);
    CHECK(from_env.ask(".source") == "chat-bot\n");
    ::unsetenv("PMDB_SOURCE");
    const char* user = std::getenv("USER");
    const std::string saved = user ? user : "";
    ::setenv("USER", "ana", 1);
    CHECK(shell::default_source() == "ana");
    if (user) ::setenv("USER", saved.c_str(), 1);
    else ::unsetenv("USER");
  }

  TEST_CASE("the incident: the current one, `in INCIDENT`, or a clear error; new incident refuses an existing id") {
    shell_on sh;
    CHECK_FALSE(sh.run("record status investigating;"));
    CHECK(sh.err ==
          "t.pmq:1:1: error: no current incident: `use INCIDENT;` first, or `new incident ID title \"...\" org \"...\" "
          "services (...);`, or add `in INCIDENT`\n"
          "  record status investigating;\n"
          "  ^\n");
    CHECK(sh.events() == 0);
    CHECK_FALSE(sh.run("new incident acme-2026-11-30 title \"x\";"));
    CHECK(sh.err == "t.pmq:1:14: error: missing org and services: an incident event needs title, org and services\n"
                    "  new incident acme-2026-11-30 title \"x\";\n"
                    "               ^\n");
    CHECK(sh.events() == 0);
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run("new incident beta-1 title 'B' org 'Beta' services ();"));
    CHECK(sh.s.current_incident() == "beta-1");
    REQUIRE(sh.run("record note 'for acme' in acme-2026-11-30; record note 'for beta';"));
    CHECK(sh.ask("events where type = note | select incident, text;") == "acme-2026-11-30,for acme\nbeta-1,for beta\n");
    const auto n = sh.events();
    CHECK_FALSE(sh.run("record note 'x' in acme-2026-11-3;"));
    CHECK(sh.err == "t.pmq:1:20: error: unknown incident 'acme-2026-11-3'; did you mean 'acme-2026-11-30'? "
                    "(`new incident acme-2026-11-3 ...` creates it)\n"
                    "  record note 'x' in acme-2026-11-3;\n"
                    "                     ^\n");
    CHECK_FALSE(sh.run(acme));
    CHECK(sh.err.starts_with("t.pmq:1:14: error: incident acme-2026-11-30 already exists\n"));
    CHECK(sh.events() == n);
  }

  TEST_CASE("bad input: a message with a caret at the offending token, and nothing written") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run("record alert 'first' id \"bot/alert-1\" at 2026-11-30T10:00Z;"));
    struct bad {
      std::string statement, error;
    };
    const std::vector<bad> cases = {
        {"record alert 'x' at 24:00;", "t.pmq:1:21: error: invalid time of day '24:00' (the form is HH:MM or HH:MM:SS)"},
        {"record alret 'x';",
         "t.pmq:1:8: error: expected an event type (status, alert, report, metric, comm, component, change, cause, "
         "action, note, incident) after 'record'; did you mean 'alert'?"},
        {"record status investigatng;", "t.pmq:1:15: error: unknown status 'investigatng'; did you mean 'investigating'?"},
        {"record component 'api' major_outge;", "t.pmq:1:24: error: unknown state 'major_outge'; did you mean 'major_outage'?"},
        {"record comm on fax 'x';",
         "t.pmq:1:16: error: unknown channel 'fax' (one of: x, statuspage, blog, press, email, chat, other)"},
        {"record cause rootcause 'x';", "t.pmq:1:14: error: unknown kind 'rootcause'; did you mean 'root_cause'?"},
        {"record change;", "t.pmq:1:8: error: missing text: a change event needs text"},
        {"record metric fixed 'x';", "t.pmq:1:8: error: missing value: a metric event needs name and value"},
        {"record action 'x' ownr 'ana';",
         "t.pmq:1:19: error: unexpected word ownr in an action event (record action \"TEXT\" or record action of "
         "ITEM; fields: text, owner, kind, tracker, due, state, of); did you mean the field 'owner'?"},
        {"record action owner 'ana';",
         "t.pmq:1:1: error: data: does not have the required fields: \"text\" (an action item) or \"of\" (an update "
         "of one)"},
        {"record action of 'nothing-like-it' state done;",
         "t.pmq:1:18: error: no event has the id nothing-like-it"},
        {"record action of last state done;",
         "t.pmq:1:1: error: action e7997144eedd12d7654d55092c61b9e1d (incident acme-2026-11-30) refused: its of: "
         "bot/alert-1 is an alert event, not an action item"},
        {"record action 'x' state closed;",
         "t.pmq:1:25: error: unknown state 'closed' (one of: open, in_progress, done, wont_do)"},
        {"record note role 'author';", "t.pmq:1:1: error: data: \"role\" needs \"people\""},
        {"record note document finished;",
         "t.pmq:1:22: error: unknown document 'finished' (one of: draft, in_review, final)"},
        {"record status investigating url 'x';",
         "t.pmq:1:29: error: a status event has no field 'url' (its fields: status, text)"},
        {"record action 'x' due 2026-12-15T10:00Z;",
         "t.pmq:1:23: error: data.due: does not match ^[0-9]{4}-[0-9]{2}-[0-9]{2}$: found \"2026-12-15T10:00Z\""},
        {"record report count 1.5;", "t.pmq:1:21: error: data.count: expected integer: found a number 1.5"},
        {"record note 'x' tags 3;", "t.pmq:1:22: error: tags takes a list of strings, e.g. (\"a\", \"b\"): found the number 3"},
        {"record note 'x' text 'y';", "t.pmq:1:17: error: text is given twice"},
        {"record note 'x' at 10:00 at 11:00;", "t.pmq:1:26: error: at is given twice"},
        {"record note 'x' source '';", "t.pmq:1:24: error: source: the minimum length is 1: found \"\""},
        {"record alert 'other' id \"bot/alert-1\" at 2026-11-30T10:00Z;",
         "t.pmq:1:25: error: event id bot/alert-1 is already stored with different content"},
        {"record correction 'x';",
         "t.pmq:1:8: error: a correction is recorded with `correct EVENT at TIME | set FIELD = VALUE because \"...\"`"},
    };
    const auto n = sh.events();
    for (const auto& c : cases) {
      INFO(c.statement);
      CHECK_FALSE(sh.run(c.statement));
      CHECK(sh.err.substr(0, sh.err.find('\n')) == c.error);
      CHECK(sh.out.empty());
      CHECK(sh.events() == n);
    }
    // The caret lines up under the offending token.
    CHECK_FALSE(sh.run("record status investigatng;"));
    CHECK(sh.err.substr(sh.err.find('\n') + 1) == "  record status investigatng;\n                ^\n");
  }

  TEST_CASE("action items updated, roles and the document's status: new events the report reads, last one winning") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run(".mode csv"));
    REQUIRE(sh.run("record component 'api' major_outage at 2026-11-30T10:00Z;"));
    REQUIRE(sh.run("record component 'api' operational at 2026-11-30T10:45Z;"));
    REQUIRE(sh.run("record action 'Add a canary' owner 'ana' due 2026-12-15 at 2026-11-30T12:00Z;"));
    const std::string item = sh.out.substr(0, 12);
    REQUIRE(sh.run("record action of last state in_progress at 2026-11-30T13:00Z;"));
    REQUIRE(sh.run("record action 'Alert on saturation' owner 'bo' at 2026-11-30T12:05Z;"));
    REQUIRE(sh.run("record action of " + item + " state done owner 'cy' 'shipped' at 2026-12-01T09:00Z;"));
    REQUIRE(sh.run("record note role incident_commander people ('Ana') at 2026-11-30T10:05Z;"));
    REQUIRE(sh.run("record note role incident_commander people ('Bo') at 2026-11-30T10:30Z;"));
    // `author` is also a field's name (a comm's): as a value it is quoted.
    REQUIRE(sh.run("record note role 'author' people ('Ana', 'Bo') at 2026-12-01T10:00Z;"));
    REQUIRE(sh.run("record note document final at 2026-12-02T10:00Z;"));
    REQUIRE(sh.run("record note 'the canary caught it in staging' tags ('lucky') at 2026-11-30T11:00Z;"));
    // The updates name the item's whole id (the store checks it, as on import).
    const std::string whole = sh.ask("events where text = 'Add a canary' | select id;");
    CHECK(whole.starts_with(item));
    CHECK(sh.ask("events where type = action and target is not null | select target;") == whole + whole);
    shell::postmortem_options o;
    o.now_ms = parse_timestamp("2026-12-20T00:00:00Z")->ms;
    auto md = shell::render_postmortem(sh.s.store(), "acme-2026-11-30", o);
    REQUIRE(md);
    CHECK(md->find("| Postmortem | **final**, since 2026-12-02 10:00 |\n| Report date | 2026-12-20 |\n| Authors | Ana, Bo |\n"
                   "| Incident commander | Bo |\n") != std::string::npos);
    CHECK(md->find("| Customer impact | 2026-11-30 10:00 UTC to 2026-11-30 10:45 UTC |\n| Duration | **45m** |\n") !=
          std::string::npos);
    CHECK(md->find("| Add a canary | — | cy | 2026-12-15 | done · 2026-12-01 | — |\n"
                   "| Alert on saturation | — | bo | — | open | — |\n\n1 of 2 closed") != std::string::npos);
    CHECK(md->find("### Where we got lucky\n\n- the canary caught it in staging — ") != std::string::npos);
  }

  TEST_CASE(".schema shows an action's due date") {
    shell_on sh;
    CHECK(sh.ask(".schema action").find("\n  due        optional  string matching ^[0-9]{4}-[0-9]{2}-[0-9]{2}$\n") !=
          std::string::npos);
  }

  TEST_CASE("an explicit id: the same content again is already recorded, not an error") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run(".mode table"));
    const char* stmt = "record alert 'p99 > 2s' id \"pagerduty/PD-42\" at 2026-11-30T10:02Z source \"pagerduty\";";
    REQUIRE(sh.run(stmt));
    CHECK(sh.out == "pagerduty/PD-42\n");
    const auto n = sh.events();
    REQUIRE(sh.run(stmt));
    CHECK(sh.out == "pagerduty/PD-42\n");
    CHECK(sh.err == "note: event pagerduty/PD-42 was already recorded\n");
    CHECK(sh.events() == n);
    // A derived id works the same way: same content, same id.
    REQUIRE(sh.run("record note 'x' at 2026-11-30T10:05Z;"));
    const std::string id = sh.out;
    REQUIRE(sh.run("record note 'x' at 2026-11-30T10:05Z;"));
    CHECK(sh.out == id);
    CHECK(sh.events() == n + 1);
  }

  TEST_CASE("correct at, correct set, both, retract, `last`, and ids by prefix") {
    shell_on sh;
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run("record alert 'Alerts fire' at 2026-11-30T10:13Z source 'pagerduty';"
                   "record status investigating 'Looking into it' at 2026-11-30T10:17Z;"
                   "record status identified 'Found it' at 2026-11-30T10:53Z;"));
    CHECK(sh.ask("time from first alert to status identified;") == "2400\n");

    // correct ... at: a new time (the original stays in the log).
    const auto alert = log_of(sh.s.store(), "acme-2026-11-30")[1].ev;
    REQUIRE(sh.run(fmt::format("correct {} at 09:30 because \"the alerting host's clock was late\";",
                               alert.id.substr(0, 8))));
    const std::string correction_id = sh.out;
    CHECK(sh.ask("time from first alert to status identified;") == "4980\n");
    auto log = log_of(sh.s.store(), "acme-2026-11-30");
    CHECK(log.back().ev.type == "correction");
    CHECK(log.back().ev.data == fmt::format(R"({{"target":"{}","reason":"the alerting host's clock was late",)"
                                            R"("at":"2026-11-30T09:30:00Z"}})",
                                            alert.id));
    CHECK(log.back().ev.source == "tester");
    CHECK(format_iso(timestamp{log.back().ev.at}) == fixed_now);
    CHECK(correction_id == log.back().ev.id + ",acme-2026-11-30,correction,2026-11-30T12:00:00Z\n");

    // correct ... set: the believed payload with fields replaced, whole, in data.data.
    const auto identified = log[3].ev;
    REQUIRE(sh.run(fmt::format("correct '{}' set text = \"Found it: a retry storm\" because 'the post was edited';",
                               identified.id)));
    log = log_of(sh.s.store(), "acme-2026-11-30");
    CHECK(log.back().ev.data == fmt::format(R"({{"target":"{}","reason":"the post was edited",)"
                                            R"("data":{{"status":"identified","text":"Found it: a retry storm"}}}})",
                                            identified.id));
    CHECK(sh.ask("events where type = status | select status, text, corrected;") ==
              "investigating,Looking into it,false\nidentified,Found it: a retry storm,true\n");

    // Both at once, on `last` (the last event this session recorded).
    REQUIRE(sh.run("record metric fixed 90% at 2026-11-30T11:00Z;"));
    REQUIRE(sh.run("correct last set value = 99% at 11:20 because 'the press release says 99';"));
    CHECK(sh.ask("events where type = metric | select at, value, unit;") == "2026-11-30T11:20:00Z,99,%\n");
    CHECK(sh.ask("time from first alert to 99% fixed;") == "6600\n");

    // retract, then the retracted event is gone from every reader but the log.
    REQUIRE(sh.run("record report 'Not this outage' at 2026-11-30T09:00Z;"));
    CHECK(sh.ask("time from first report to status identified;") == "6780\n");
    REQUIRE(sh.run("retract last because 'belongs to another incident';"));
    CHECK(sh.ask("time from first report to status identified;") == "\n");
    CHECK(sh.ask("log where type = retraction | select text, target;") ==
              fmt::format(",{}\n", log_of(sh.s.store(), "acme-2026-11-30")[8].ev.id));

    // Refusals from the store, with the caret at the target; nothing written.
    const auto n = sh.events();
    CHECK_FALSE(sh.run("correct last at 10:00 because 'x';"));
    CHECK(sh.err.find("refused: its target") != std::string::npos);
    CHECK(sh.err.find("is already retracted") != std::string::npos);
    CHECK(sh.err.find("\n  correct last at 10:00 because 'x';\n          ^\n") != std::string::npos);
    CHECK_FALSE(sh.run(fmt::format("retract {} because 'x';", correction_id.substr(0, 12))));
    CHECK(sh.err.find("refused") != std::string::npos);
    CHECK_FALSE(sh.run(fmt::format("correct {} set txt = 'x' because 'y';", identified.id.substr(0, 10))));
    CHECK(sh.err.starts_with(
        "t.pmq:1:24: error: a status event has no field 'txt'; did you mean 'text'? (its fields: status, text)\n"));
    CHECK_FALSE(sh.run(fmt::format("correct {} set status = fixed because 'y';", identified.id.substr(0, 10))));
    CHECK(sh.err.starts_with("t.pmq:1:33: error: unknown status 'fixed'"));
    CHECK_FALSE(sh.run(fmt::format("correct {} at ~10:00 because 'y';", identified.id.substr(0, 10))));
    CHECK(sh.err.starts_with("t.pmq:1:23: error: a correction cannot change approx: write the time without '~'\n"));
    CHECK_FALSE(sh.run("correct e00000000 at 10:00 because 'y';"));
    CHECK(sh.err.starts_with("t.pmq:1:9: error: no event has the id e00000000\n"));
    CHECK(sh.events() == n);
  }

  TEST_CASE("ids: whole, quoted, a unique prefix, ambiguous, unknown; `last` without a record") {
    shell_on sh;
    CHECK_FALSE(sh.run("retract last because 'x';"));
    CHECK(sh.err.starts_with("t.pmq:1:9: error: no event recorded in this session yet"));
    REQUIRE(sh.run(".mode table"));
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run("record note 'a' id 'bot/note-1'; record note 'b' id 'bot/note-2';"));
    CHECK(sh.out == "bot/note-1\nbot/note-2\n");
    CHECK_FALSE(sh.run("retract bot/no because 'x';"));
    CHECK(sh.err.starts_with("t.pmq:1:9: error: the id prefix bot/no is ambiguous: bot/note-1, bot/note-2\n"));
    CHECK_FALSE(sh.run("retract bot/nothing because 'x';"));
    CHECK(sh.err.starts_with("t.pmq:1:9: error: no event has the id bot/nothing\n"));
    CHECK_FALSE(sh.run("retract bot because 'x';"));
    CHECK(sh.err.starts_with("t.pmq:1:9: error: no event has the id bot (an id prefix needs 6 characters or more)\n"));
    REQUIRE(sh.run("retract bot/note-2 because 'x'; retract 'bot/note-1' because 'y' id 'bot/retract-1';"));
    CHECK(sh.out.ends_with("\nbot/retract-1\n"));
    CHECK(sh.ask("events where type = note | select text;") == "");
  }

  TEST_CASE("output: the short id in scripts, a result set in json, words interactively") {
    shell::settings cfg = script_settings();
    cfg.render.mode = shell::output_mode::json;
    shell_on sh(cfg);
    REQUIRE(sh.run(acme));
    REQUIRE(sh.run("record status investigating at 2026-11-30T10:17Z;"));
    const auto id = log_of(sh.s.store(), "acme-2026-11-30").back().ev.id;
    CHECK(sh.out == fmt::format("[\n{{\"id\":\"{}\",\"incident\":\"acme-2026-11-30\",\"type\":\"status\","
                                "\"at\":\"2026-11-30T10:17:00Z\"}}\n]\n",
                                id));
    REQUIRE(sh.run(".mode table"));
    REQUIRE(sh.run("record status identified at 2026-11-30T10:53Z;"));
    CHECK(sh.out.size() == 13);

    shell::settings icfg = script_settings();
    icfg.interactive = true;
    icfg.render.mode = shell::output_mode::table;
    shell_on repl(icfg);
    REQUIRE(repl.run(acme));
    CHECK(std::regex_match(repl.out, std::regex("recorded e[0-9a-f]{11} \\(incident acme-2026-11-30 at 2026-11-30 12:00Z\\)\n")));
    REQUIRE(repl.run("record metric fixed 99% at ~11:40;"));
    CHECK(std::regex_match(repl.out, std::regex("recorded e[0-9a-f]{11} \\(metric fixed 99% at ~2026-11-30 11:40Z\\)\n")));
    REQUIRE(repl.run("record metric fixed 99% at ~11:40;"));
    CHECK(repl.out.starts_with("already recorded e"));
    REQUIRE(repl.run("correct last at 11:38 because 'x';"));
    CHECK(std::regex_match(repl.out, std::regex("corrected e[0-9a-f]{11} \\(correction of e[0-9a-f]{11}\\)\n")));
  }

  TEST_CASE("two writers on one file: no read transaction is held between statements") {
    temp_dir d;
    const auto path = d.file("s.pmdb");
    shell_on a(event_store::open(path).value());
    shell_on b(event_store::open(path).value());
    REQUIRE(a.run(acme));
    REQUIRE(b.run("use acme-2026-11-30;"));
    CHECK(a.ask("events | summarize n = count();") == "1\n");
    REQUIRE(b.run("record note 'from b';"));
    REQUIRE(a.run("record note 'from a';"));
    CHECK(a.ask("events | summarize n = count();") == "3\n");
    REQUIRE(b.run("correct last set text = 'from b, edited' because 'typo';"));
    REQUIRE(a.run("correct last set text = 'from a, edited' because 'typo';"));
    CHECK(b.ask("events where type = note | select text;") == "\"from b, edited\"\n\"from a, edited\"\n");
  }

  TEST_CASE("pmdb DB -c 'record ...': the id on stdout, exit 0; a bad statement exits 1 and writes nothing") {
    temp_dir d;
    const auto db = d.file("live.pmdb");
    const auto created = run_pmdb({db, "--now", fixed_now, "--source", "bot", "-c",
                                   "new incident acme-2026-11-30 title 'Checkout errors' org 'Acme' services ('api');"});
    CHECK(created.status == 0);
    CHECK(created.err.empty());
    CHECK(std::regex_match(created.out, std::regex("e[0-9a-f]{11}\n")));
    const auto one = run_pmdb({db, "-c", "use acme-2026-11-30; record alert 'p99 > 2s' at 2026-11-30T10:02Z;"});
    CHECK(one.status == 0);
    CHECK(one.err.empty());
    REQUIRE(std::regex_match(one.out, std::regex("e[0-9a-f]{11}\n")));
    const std::string id = one.out.substr(0, 12);
    // The printed id is what correct and retract take.
    // A time of day is on `now`'s day: --now keeps the answer the same whatever the date.
    const auto fixed = run_pmdb({db, "--mode", "csv", "--now", "2026-11-30T12:00:00Z", "-c",
                                 "correct " + id + " at 10:01 because 'clock skew'; "
                                 "timeline acme-2026-11-30 | select at, type, corrected;"});
    CHECK(fixed.status == 0);
    CHECK(fixed.out.find("\n2026-11-30T10:01:00Z,alert,true\n") != std::string::npos);
    const auto json = run_pmdb({db, "--mode", "json", "--source", "chat", "-c",
                                "record note 'from chat' in acme-2026-11-30 at 2026-11-30T10:30Z;"});
    CHECK(json.status == 0);
    const auto doc = pmdb::test::json_of(json.out);
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == 1);
    CHECK(std::string(doc[0]["id"].GetString()).size() == 33);
    CHECK(std::string(doc[0]["incident"].GetString()) == "acme-2026-11-30");
    CHECK(std::string(doc[0]["type"].GetString()) == "note");
    CHECK(std::string(doc[0]["at"].GetString()) == "2026-11-30T10:30:00Z");

    const std::string before = run_pmdb({"export", db}).out;
    const auto bad = run_pmdb({db, "-c", "use acme-2026-11-30; record status investigatng;"});
    CHECK(bad.status == 1);
    CHECK(bad.out.empty());
    CHECK(bad.err == "<command line>:1:36: error: unknown status 'investigatng'; did you mean 'investigating'?\n"
                     "  record status investigatng;\n"
                     "                ^\n");
    const auto none = run_pmdb({db, "-c", "record note 'x';"});
    CHECK(none.status == 1);
    CHECK(none.err.starts_with("<command line>:1:1: error: no current incident"));
    CHECK(run_pmdb({db, "--readonly", "-c", "record note 'x' in acme-2026-11-30;"}).status == 1);
    CHECK(run_pmdb({"export", db}).out == before);
    const auto exported = run_pmdb({"export", db}).out;
    CHECK(exported.find(R"("source":"bot")") != std::string::npos);
    CHECK(exported.find(R"("source":"chat")") != std::string::npos);
    CHECK(run_pmdb({"--source"}).status == 2);
  }

  TEST_CASE("the OpenAI outage recorded by hand: the demo's durations and the demo's postmortem") {
    const std::string script = read_file(source_dir() / "tests/golden/scripts/record-openai.pmq");
    shell::settings cfg = script_settings();
    cfg.render.mode = shell::output_mode::table;
    cfg.render.headers = true;
    shell_on sh(cfg);
    REQUIRE(sh.run(script));
    CHECK(sh.err.empty());
    CHECK(sh.events() == 64);

    // The demo store: every examples/*.jsonl. The recorded store gets Meta's outage the same
    // way, so that both postmortems see the same concurrent incident.
    const auto import = [](event_store& s, const std::string& file) {
      std::istringstream in(read_file(source_dir() / file));
      auto r = import_jsonl(s, in, file);
      REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
    };
    event_store demo = memory_store();
    for (const auto& f : files_in("examples", ".jsonl")) import(demo, f.string());
    REQUIRE(sh.run(".import " + (source_dir() / "examples/meta-2024-12-11.jsonl").string()));
    const event_store& recorded = sh.s.store();

    // Event by event: the same facts; only the ids and the recording times differ. An action
    // item's update names its item by id: the recorded one names the recorded item.
    std::vector<stored_event> a = log_of(demo, "openai-2024-12-11"), b = log_of(recorded, "openai-2024-12-11");
    REQUIRE(a.size() == b.size());
    std::map<std::string, std::string> recorded_id;  // demo id → recorded id
    for (std::size_t i = 0; i < a.size(); ++i) recorded_id[a[i].ev.id] = b[i].ev.id;
    std::size_t updates = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(i << ": " << a[i].ev.id);
      CHECK(b[i].ev.type == a[i].ev.type);
      CHECK(b[i].ev.at == a[i].ev.at);
      CHECK(b[i].ev.approx == a[i].ev.approx);
      CHECK(b[i].ev.source == a[i].ev.source);
      auto want = json_of(a[i].ev.data);
      if (want.IsObject() && want.HasMember("of")) {
        ++updates;
        const std::string item = recorded_id.at(want["of"].GetString());
        want["of"].SetString(item.c_str(), static_cast<rapidjson::SizeType>(item.size()), want.GetAllocator());
        CHECK(b[i].ev.target == item);
      }
      CHECK(json_of(b[i].ev.data) == want);  // the same fields (in the schema's order)
      CHECK(b[i].ev.id == b[i].ev.derived_id());
    }
    CHECK(updates == 3);

    // The postmortems. What is normalised, and only that: every event id (`openai-2024-12-11/...`
    // in the demo, `e` + 32 hex digits recorded) becomes <id>, and the chain head in the footer
    // (a hash over append and recording times) becomes <hash>. The generation time is fixed.
    shell::postmortem_options o;
    o.now_ms = parse_timestamp("2025-01-01T00:00:00Z")->ms;
    const auto demo_md = shell::render_postmortem(demo, "openai-2024-12-11", o);
    const auto recorded_md = shell::render_postmortem(recorded, "openai-2024-12-11", o);
    REQUIRE(demo_md);
    REQUIRE(recorded_md);
    const auto normalise = [](std::string md) {
      md = std::regex_replace(md, std::regex("[0-9a-f]{64}"), "<hash>");
      return std::regex_replace(
          md, std::regex("openai-2024-12-11/[a-z0-9-]+|meta-2024-12-11/[a-z0-9-]+|e[0-9a-f]{32}"), "<id>");
    };
    CHECK(normalise(*recorded_md) == normalise(*demo_md));
    // The demo report names events by id only in the PMQL of its Duration (the impact notes).
    CHECK(demo_md->find("time from first note where id = \"openai-2024-12-11/note-impact-start\" to first note where "
                        "id = \"openai-2024-12-11/note-impact-end\";") != std::string::npos);
    CHECK(count_of(*demo_md, "openai-2024-12-11/") == 3);
  }
}
