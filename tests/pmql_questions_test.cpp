// The analysts' questions of docs/pmql.md 5.8-5.15 on incidents recorded for the purpose, each
// answer worked out by hand in the comment above its check: a reopened incident, status that
// recurs, components named only by events, calendar buckets across daylight saving time (in
// the statement's zone and in the session's), overlaps, text matching and its limits, and the
// note on a text comparison that differs only in case. The same questions on the GitHub
// archive are checked against an independent computation by tests/github_questions_test.py.
#include <doctest/doctest.h>

#include <string>

#include "core/event_store.hpp"
#include "shell_harness.hpp"

using namespace pmdb;
using namespace pmdb::test;

namespace {

struct analyst : shell_on {
  analyst() {
    // acme: investigating, resolved, investigating again, resolved: reopened, 3 status changes.
    // Its services name "api"; a component event names "billing" too.
    // globex: one incident across the 2024-03-10 DST switch in Los Angeles, overlapping none.
    // initech: inside acme's span [09:50, 13:00], overlapping it.
    REQUIRE(run(R"(
new incident acme-2024-12-12 title "Checkout errors" org "acme" services ("api") at 2024-12-12T09:50Z;
record status investigating "Errors on checkout" at 2024-12-12T10:00Z;
record component "billing" major_outage at 2024-12-12T10:05Z;
record status resolved "Fixed" at 2024-12-12T11:00Z;
record status investigating "Errors are back" at 2024-12-12T11:30Z;
record component "billing" operational at 2024-12-12T12:00Z;
record status resolved "Fixed again" at 2024-12-12T13:00Z;
new incident globex-2024-03-09 title "Slow search" org "globex" services ("search") at 2024-03-09T12:00-08:00;
record status investigating "Search is slow" at 2024-03-09T12:00-08:00;
record status resolved "Search is fast" at 2024-03-11T12:00-07:00;
new incident initech-2024-12-12 title "Login errors AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!" org "initech" services ("login") at 2024-12-12T10:30Z;
record status investigating "Login fails for SSO users" at 2024-12-12T10:30Z;
record status resolved "Logins work" at 2024-12-12T10:45Z;
)"));
  }
};

}  // namespace

TEST_SUITE("pmql_questions") {
  TEST_CASE("sequences: reopened, status changes, time in a status that recurs, gaps") {
    analyst a;
    CHECK(a.ask("incidents | where reopened | select id;") == "acme-2024-12-12\n");
    // acme: investigating 10:00-11:00 and 11:30-13:00 (the last post is resolved at 13:00, so
    // the second period ends at the next post) = 2h30m; resolved 11:00-11:30 and 13:00 to its
    // end (13:00) = 30m. Changes: inv→res→inv→res = 3. Longest gap between status posts: 1h30m.
    CHECK(a.ask("incidents where id = \"acme-2024-12-12\" | select count of status changes, "
                "i = time in status investigating, r = time in status resolved, g = max gap of status;") ==
          "3,9000,1800,5400\n");  // 2h30m, 30m, 1h30m in seconds (csv)
    // prev() within one incident: the first post of each incident has none.
    CHECK(a.ask("events where type = status | select incident, at - prev(at) | where incident = \"globex-2024-03-09\";") ==
          "globex-2024-03-09,\nglobex-2024-03-09,169200\n");
  }

  TEST_CASE("components named only by events count, and state at a moment") {
    analyst a;
    CHECK(a.ask("incidents where id = \"acme-2024-12-12\" | per component | select component;") == "api\nbilling\n");
    CHECK(a.ask("incidents where \"api\" in services | select id;") == "acme-2024-12-12\n");
    // `component` alone: any component event.
    CHECK(a.ask("incidents | select id, count of component, count of component where state = major_outage;") ==
          "globex-2024-03-09,0,0\nacme-2024-12-12,2,1\ninitech-2024-12-12,0,0\n");
    CHECK(a.ask("incidents where id = \"acme-2024-12-12\" | select state of component \"billing\" at 2024-12-12T11:59Z, "
                "state of component \"billing\" at 2024-12-12T12:00Z, status at 2024-12-12T11:15Z;") ==
          "major_outage,operational,resolved\n");
    CHECK(a.ask("incidents | where open at 2024-12-12T10:40Z | select id;") == "acme-2024-12-12\ninitech-2024-12-12\n");
  }

  TEST_CASE("calendar buckets across daylight saving time, in the statement's zone and the session's") {
    analyst a;
    // (Durations in seconds: the harness reads csv.) globex runs from 2024-03-09 12:00 PST to 2024-03-11 12:00 PDT: three Californian days,
    // the middle one 23 hours long; in UTC (20:00Z to 19:00Z) also three days of 24 hours.
    CHECK(a.ask("incidents where id = \"globex-2024-03-09\" | per day \"America/Los_Angeles\" | select day, period, ended - started;") ==
          "2024-03-09,86400,43200\n2024-03-10,82800,82800\n2024-03-11,86400,43200\n");
    CHECK(a.ask("incidents where id = \"globex-2024-03-09\" | per day | select day, period, ended - started;") ==
          "2024-03-09,86400,14400\n2024-03-10,86400,86400\n2024-03-11,86400,68400\n");
    CHECK(a.ask("incidents where id = \"globex-2024-03-09\" | select utc = hour_of_day(ended), la = hour_of_day(ended, \"America/Los_Angeles\"), weekday(ended);") ==
          "19,12,1\n");
    // The session's zone is the default zone of buckets as well as of display.
    REQUIRE(a.run(".tz America/Los_Angeles"));
    CHECK(a.ask("incidents where id = \"globex-2024-03-09\" | per day | select day, period;") ==
          "2024-03-09,86400\n2024-03-10,82800\n2024-03-11,86400\n");
    CHECK(a.ask("incidents where id = \"acme-2024-12-12\" | select la = hour_of_day(started), utc = hour_of_day(started, \"UTC\");") ==
          "1,9\n");
  }

  TEST_CASE("overlaps and downtime") {
    analyst a;
    // initech [10:30, 10:45] lies inside acme [09:50, 13:00]; globex meets neither.
    CHECK(a.ask("incidents | let k = count of overlapping | select id, k;") ==
          "globex-2024-03-09,0\nacme-2024-12-12,1\ninitech-2024-12-12,1\n");
    // The same after `per component`, pair by pair (acme has two rows, one incident).
    CHECK(a.ask("incidents | per component | let k = count of overlapping | select id, component, k;") ==
          "globex-2024-03-09,search,0\nacme-2024-12-12,api,1\nacme-2024-12-12,billing,1\ninitech-2024-12-12,login,1\n");
    // Their union is acme's 3h10m; their sum 3h25m.
    CHECK(a.ask("incidents where started >= 2024-12-01 | summarize downtime(started, ended), sum(ended - started);") ==
          "11400,12300\n");  // 3h10m, 3h25m
  }

  TEST_CASE("text: whole words, regular expressions and their limits") {
    analyst a;
    CHECK(a.ask("events where text has \"fix\" | select text;").empty());
    CHECK(a.ask("events where text has \"FIXED\" | select text;") == "Fixed\nFixed again\n");
    CHECK(a.ask("events where text matches \"^Fixed( again)?$\" | select text;") == "Fixed\nFixed again\n");
    CHECK(a.ask("events where text matches \"^fixed\" | select text;").empty());
    CHECK(a.ask("events where text matches \"(?i)^fixed\" | select text;") == "Fixed\nFixed again\n");
    // A pattern that backtracks exponentially on a title stops with an error, not a hang.
    CHECK_FALSE(a.run("incidents | where title matches \"(A+)+$\" | select id;"));
    CHECK(a.err.find("backtracking") != std::string::npos);
  }

  TEST_CASE("a text comparison that matches nothing but would ignoring case says so") {
    analyst a;
    CHECK(a.ask("incidents where org = \"ACME\" | select id;").empty());
    CHECK(a.err.find("note: no row has org = \"ACME\", but the store has \"acme\"") != std::string::npos);
    // Also when the answer has rows: a count of nothing is 0.
    CHECK(a.ask("incidents where org = \"Acme\" | summarize count();") == "0\n");
    CHECK(a.err.find("note: no row has org = \"Acme\", but the store has \"acme\"") != std::string::npos);
    CHECK(a.ask("incidents where org = \"nobody\" | select id;").empty());
    CHECK(a.err.empty());
    CHECK(a.ask("incidents where org = \"acme\" | select id;") == "acme-2024-12-12\n");
    CHECK(a.err.empty());
  }
}
