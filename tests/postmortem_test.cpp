#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "golden.hpp"
#include "shell/postmortem.hpp"
#include "test_util.hpp"

using namespace pmdb;

namespace {

// The demo store: every examples/*.jsonl, in file-name order.
event_store demo_store() {
  auto s = event_store::open(":memory:", {.durable = false}).value();
  for (const auto& f : test::files_in("examples", ".jsonl")) {
    std::istringstream in(test::read_file(test::source_dir() / f));
    auto r = import_jsonl(s, in, f.string());
    REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
  }
  return s;
}

event_store store_of(const std::string& jsonl) {
  auto s = event_store::open(":memory:", {.durable = false}).value();
  std::istringstream in(jsonl);
  auto r = import_jsonl(s, in, "test.jsonl");
  REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
  return s;
}

// The demo store with three changes recorded on 14 December, after the postmortem: the alert's
// time corrected, a status update's text corrected, a press report retracted.
event_store corrected_demo_store() {
  auto s = demo_store();
  static constexpr const char* lines[] = {
      R"({"id":"openai-2024-12-11/fix-alert-time","incident":"openai-2024-12-11","type":"correction",)"
      R"("at":"2024-12-14T09:00:00Z","recorded_at":"2024-12-14T09:00:00Z","source":"postmortem review",)"
      R"("data":{"target":"openai-2024-12-11/alert-engineers-notified","at":"2024-12-11T22:30:00Z",)"
      R"("reason":"the pager log shows the first alert at 14:30 PST | the postmortem's 15:13 is the escalation"}})",
      R"({"id":"openai-2024-12-11/fix-status-0059","incident":"openai-2024-12-11","type":"correction",)"
      R"("at":"2024-12-14T09:05:00Z","recorded_at":"2024-12-14T09:05:00Z","source":"status page archive",)"
      R"("data":{"target":"openai-2024-12-11/status-identified-0059","reason":"the archived page has the full text",)"
      R"("data":{"status":"identified","text":"Update: traffic is being restored *cluster by cluster*."}}})",
      R"({"id":"openai-2024-12-11/retract-sora-login","incident":"openai-2024-12-11","type":"retraction",)"
      R"("at":"2024-12-14T09:10:00Z","recorded_at":"2024-12-14T09:10:00Z","source":"postmortem review",)"
      R"("data":{"target":"openai-2024-12-11/report-sora-login","reason":"the article mixed up two outages"}})",
  };
  std::vector<event> batch;
  for (const char* l : lines) {
    auto e = parse_event(l);
    REQUIRE_MESSAGE(e, (e ? "" : e.error()));
    batch.push_back(std::move(*e));
  }
  auto r = s.append(batch);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  REQUIRE(r->appended == 3);
  return s;
}

// An event line recorded when it happened (recorded_at = at), so that `as of` sees it then.
std::string recorded_line(std::string_view incident, std::string_view type, std::string_view at, std::string_view data,
                          std::string_view extra = "") {
  return test::line(incident, type, at, data,
                    fmt::format(R"("recorded_at":"{}"{}{})", at, extra.empty() ? "" : ",", extra));
}

shell::postmortem_options fixed_now(std::string tz = "") {
  shell::postmortem_options o;
  o.now_ms = parse_timestamp("2025-01-01T00:00:00Z")->ms;
  o.tz = std::move(tz);
  return o;
}

std::string render(const event_store& s, const std::string& incident, const shell::postmortem_options& o = fixed_now()) {
  auto md = shell::render_postmortem(s, incident, o);
  REQUIRE_MESSAGE(md, (md ? "" : md.error().message));
  return *md;
}

// `cmark-gfm -e table` on `markdown`: the HTML GitHub-flavoured Markdown gives.
std::string to_html(const std::string& markdown) {
  test::temp_dir tmp;
  const auto in = tmp.path / "report.md";
  test::write_file(in, markdown);
  const std::string cmd = "cmark-gfm -e table " + test::shell_quote(in.string());
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  REQUIRE(::pclose(p) == 0);
  return out;
}

std::size_t count(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + needle.size())) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Every `## ` section has some content (a `### ` subsection counts) before the next `#`/`##`
// heading or the end.
void check_no_empty_section(const std::string& md) {
  const auto lines = lines_of(md);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with("## ")) continue;
    std::size_t j = i + 1;
    while (j < lines.size() && lines[j].empty()) ++j;
    INFO("section: " << lines[i]);
    CHECK(j < lines.size());
    if (j < lines.size()) CHECK_FALSE((lines[j].starts_with("# ") || lines[j].starts_with("## ")));
  }
}

// The line of the table row whose first cell is `first`.
std::string row_starting(const std::string& md, std::string_view first) {
  for (const auto& l : lines_of(md))
    if (l.starts_with(fmt::format("| {} |", first))) return l;
  return {};
}

}  // namespace

TEST_SUITE("postmortem") {
  TEST_CASE("the demo incidents render as their golden files, and the examples are those files") {
    const auto s = demo_store();
    for (const std::string id : {"openai-2024-12-11", "meta-2024-12-11"}) {
      const std::string md = render(s, id);
      test::check_golden("tests/golden/postmortem/" + id + ".md", md);
      test::check_golden("examples/postmortem-" + id + ".md", md);
    }
    CHECK(test::read_file(test::source_dir() / "examples/postmortem-openai-2024-12-11.md") ==
          test::read_file(test::source_dir() / "tests/golden/postmortem/openai-2024-12-11.md"));
    CHECK(test::read_file(test::source_dir() / "examples/postmortem-meta-2024-12-11.md") ==
          test::read_file(test::source_dir() / "tests/golden/postmortem/meta-2024-12-11.md"));
  }

  TEST_CASE("OpenAI: the key durations are PMQL's") {
    const std::string md = render(demo_store(), "openai-2024-12-11");
    // First alert 23:13 → identified 23:53; investigating 23:17 → monitoring 03:53 → resolved 06:23.
    CHECK(row_starting(md, "Time to identify").ends_with("| **40m** |"));
    CHECK(row_starting(md, "Time to mitigate").ends_with("| **4h36m** |"));
    CHECK(row_starting(md, "Time to resolve").ends_with("| **7h6m** |"));
    CHECK(row_starting(md, "Time to acknowledge").ends_with("| **4m** |"));
    CHECK(row_starting(md, "First report to resolution").ends_with("| **7h16m** |"));
    CHECK(md.find("time from first alert to first status identified;") != std::string::npos);
    CHECK(md.find("use openai-2024-12-11;") != std::string::npos);
    // No `fixed` metric: no 99% row.
    CHECK(md.find("99% fixed") == std::string::npos);
    // The press's first report (23:07) against the postmortem's impact start (23:16).
    CHECK(row_starting(md, "start of impact (first report, impact-start note)").find("press (seed article)") !=
          std::string::npos);
    CHECK(md.find("| postmortem | 2024-12-11 23:16 |") != std::string::npos);
    CHECK(md.find("+9m |") != std::string::npos);
    // Meta's outage overlaps OpenAI's from 22:23 to 00:21.
    CHECK(row_starting(md, "`meta-2024-12-11`").ends_with("| 1h58m |"));
    // Peaks: 75% affected, 1,500 reports.
    CHECK(row_starting(md, "affected") == "| affected | 75% | ~2024-12-11 23:40 | press (seed article) |");
    CHECK(row_starting(md, "1,500").starts_with("| 1,500 | ~2024-12-11 23:40 | press (seed article) |"));
    // Components: worst state and time per state; all recovered.
    CHECK(row_starting(md, "API") == "| API | major_outage | 1h56m | 24m | 2h2m | 2024-12-12 03:38 |");
    CHECK(md.find("not recorded \\*") == std::string::npos);
    CHECK(md.find("| 2024-12-11 23:17 | +54m | status | status.openai.com | **investigating**: ") != std::string::npos);
    CHECK(md.find("**ChatGPT → major_outage**") != std::string::npos);
    // Causes by kind; action items as a table.
    CHECK(md.find("### Trigger\n\n- The deployment of a new telemetry service") != std::string::npos);
    CHECK(md.find("| Scale the clusters down so that the Kubernetes API load falls and the control plane recovers. | "
                  "mitigation | OpenAI | — |") != std::string::npos);
  }

  TEST_CASE("Meta: first report to 99% fixed, and the two 99% observations side by side") {
    const std::string md = render(demo_store(), "meta-2024-12-11");
    CHECK(row_starting(md, "Time to 99% fixed").ends_with("| **4h50m** |"));
    CHECK(md.find("| metric fixed = 99% | press (seed article) | ~2024-12-11 22:26 |") != std::string::npos);
    CHECK(md.find("| metric fixed = 99% | securityticks.com | ~2024-12-12 00:21 |") != std::string::npos);
    CHECK(md.find("| +1h55m |") != std::string::npos);
    // Missing milestones: a row with one end says "not recorded"; rows with neither are left out.
    CHECK(row_starting(md, "Time to detect").find("first alert: not recorded | — |") != std::string::npos);
    CHECK(row_starting(md, "Time to identify").empty());
    // Three sources place the first reports at the same time: they agree.
    CHECK(md.find("start of impact") == std::string::npos);
    // No end of impact, no resolution: ongoing, from the first report to the report's time.
    CHECK(md.find("| Customer impact | since 2024-12-11 17:36 UTC |\n| Duration | **ongoing** (no end recorded), 20d6h24m so "
                  "far; last event 6h45m after the first impact |\n") != std::string::npos);
    CHECK(md.find("its last event is at 2024-12-12 00:21, 6h45m after the first impact.") != std::string::npos);
    CHECK(row_starting(md, "Customer impact (the Duration)") ==
          "| Customer impact (the Duration) | first report · ~2024-12-11 17:36 · Downdetector via worldnl.com | ongoing: "
          "no end recorded | **20d6h24m so far** |");
    CHECK(md.find("Resolved |") == std::string::npos);
    // Meta published no postmortem: no lessons, no action items.
    CHECK(md.find("## Lessons learned") == std::string::npos);
    // No status post and no component, but a chart of the reports, the metric values and the
    // communications, after the summary.
    CHECK(md.find("## Chart") < md.find("## Impact"));
    CHECK(md.find("    first metric fixed ≥ 99 (press (seed article)) :milestone, 2024-12-11T22:26, 0m\n") !=
          std::string::npos);
    CHECK(md.find("    fixed = 99 percent (securityticks.com) :milestone, 2024-12-12T00:21, 0m\n") != std::string::npos);
    CHECK(md.find("## Action items") == std::string::npos);
    check_no_empty_section(md);
  }

  TEST_CASE("OpenAI with corrections: the report reads the projection, and lists what changed") {
    const auto s = corrected_demo_store();
    const std::string md = render(s, "openai-2024-12-11");
    test::check_golden("tests/golden/postmortem/openai-2024-12-11-corrected.md", md);
    check_no_empty_section(md);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));
    // The alert moved from 23:13 to 22:30: the first alert to identified (23:53) is now 1h23m,
    // and to the first investigating post (23:17) 47m.
    CHECK(row_starting(md, "Time to identify").ends_with("| **1h23m** |"));
    CHECK(row_starting(md, "Time to identify").starts_with("| Time to identify | first alert · 2024-12-11 22:30 · postmortem |"));
    CHECK(row_starting(md, "Time to acknowledge").ends_with("| **47m** |"));
    CHECK(md.find("- 2024-12-11 22:30 · first alert: Alerts fire and engineers are notified (15:13 PST). — postmortem\n") !=
          std::string::npos);
    // The timeline: the corrected rows, marked; the retracted report gone; no correction rows.
    CHECK(md.find("| 2024-12-11 22:30 | +7m | alert | postmortem | Alerts fire and engineers are notified (15:13 PST). "
                  "*(corrected)* |") != std::string::npos);
    CHECK(md.find("| 2024-12-11 23:13 | +50m | alert |") == std::string::npos);
    CHECK(md.find("| 2024-12-12 00:59 | +2h36m | status | status.openai.com | **identified**: Update: traffic is being "
                  "restored \\*cluster by cluster\\*. *(corrected)* |") != std::string::npos);
    CHECK(count(md, "Sora users report log-in problems") == 1);  // in Corrections only
    CHECK(md.find("| correction |") == std::string::npos);
    CHECK(md.find("| retraction |") == std::string::npos);
    CHECK(md.find("| Events | 63 from 3 sources; 2 corrections, 1 retraction |") != std::string::npos);
    // Corrections: one row per change, in recorded order, with the old and new values.
    const auto at = md.find("## Corrections\n");
    REQUIRE(at != std::string::npos);
    const std::string section = md.substr(at, md.find("\n## ", at + 1) - at);
    CHECK(section.find("| 2024-12-14 09:00 | alert: Alerts fire and engineers are notified (15:13 PST). | time "
                       "2024-12-11 23:13 → 2024-12-11 22:30 | the pager log shows the first alert at 14:30 PST \\| the "
                       "postmortem's 15:13 is the escalation | postmortem review |\n") != std::string::npos);
    CHECK(section.find("| 2024-12-14 09:05 | status: **identified**: Update: continuing to work on recovery. | text "
                       "“Update: continuing to work on recovery.” → “Update: traffic is being restored \\*cluster by "
                       "cluster\\*.” | the archived page has the full text | status page archive |\n") != std::string::npos);
    CHECK(section.find("| 2024-12-14 09:10 | report: Sora users report log-in problems as ChatGPT begins to recover. "
                       "(time estimated: the article places it as ChatGPT's functions were coming back) | retracted | "
                       "the article mixed up two outages | postmortem review |\n") != std::string::npos);
    CHECK(count(section, "\n| 2024-12-14 ") == 3);
  }

  TEST_CASE("as of a time: only what had been recorded by then") {
    const auto corrected = corrected_demo_store();
    const auto plain = demo_store();
    auto o = fixed_now();
    // After the postmortem was published (2024-12-13 01:19), before the corrections.
    o.as_of = parse_timestamp("2024-12-14T00:00:00Z")->ms;
    const std::string md = render(corrected, "openai-2024-12-11", o);
    CHECK(md.find("| As of | 2024-12-14 00:00 UTC: only what had been recorded by then |") != std::string::npos);
    CHECK(md.find(", as of 2024-12-14T00:00:00Z.\n") != std::string::npos);
    CHECK(md.find("## Corrections") == std::string::npos);
    CHECK(md.find("*(corrected)*") == std::string::npos);
    CHECK(md.find("| 2024-12-11 23:13 | +50m | alert | postmortem | Alerts fire and engineers are notified (15:13 PST). |") !=
          std::string::npos);
    CHECK(row_starting(md, "Time to identify").ends_with("| **40m** |"));
    // The corrections recorded later change nothing: the same report as the store without them,
    // but for the store's position in the footer.
    std::string before = render(plain, "openai-2024-12-11", o);
    const auto pos = before.find("from the store at position 77,");
    REQUIRE(pos != std::string::npos);
    before.replace(pos, 30, "from the store at position 80,");
    CHECK(test::without_hashes(md) == test::without_hashes(before));
    // The press's events carry no recorded_at: they were recorded when the demo was loaded,
    // after T, so the view has none of them.
    CHECK(md.find("press (seed article)") == std::string::npos);

    // Before the postmortem: the status page's posts only; no alert yet.
    o.as_of = parse_timestamp("2024-12-13T00:00:00Z")->ms;
    const std::string early = render(corrected, "openai-2024-12-11", o);
    CHECK(early.find("| alert |") == std::string::npos);
    CHECK(early.find("| Events | 13 from 1 source |") != std::string::npos);
    CHECK(early.find("| Incident status | resolved |") != std::string::npos);
    // Nothing in that view records the impact: it counts from the first event to the resolution.
    CHECK(row_starting(early, "Customer impact (the Duration)")
              .starts_with("| Customer impact (the Duration) | first event (no impact recorded) · 2024-12-11 22:23 ·"));
    // The action items and lessons were recorded with the postmortem, after T.
    CHECK(early.find("## Action items") == std::string::npos);
    CHECK(early.find("## Lessons learned") == std::string::npos);
    check_no_empty_section(early);

    // Before its first event was recorded, the incident did not exist.
    o.as_of = parse_timestamp("2024-12-11T00:00:00Z")->ms;
    auto none = shell::render_postmortem(corrected, "openai-2024-12-11", o);
    REQUIRE_FALSE(none);
    CHECK(none.error().is(errc::not_found));
    CHECK(none.error().message == "no such incident 'openai-2024-12-11' as of 2024-12-11T00:00:00Z");
    auto unknown = shell::render_postmortem(corrected, "openai-2024-12-1", o);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().is(errc::not_found));
    CHECK(unknown.error().message == "unknown incident 'openai-2024-12-1'; did you mean 'openai-2024-12-11'?");
  }

  TEST_CASE("the Markdown is GitHub-flavoured: every table renders as a table, the chart as a mermaid block") {
    const auto s = demo_store();
    for (const std::string id : {"openai-2024-12-11", "meta-2024-12-11"}) {
      const std::string md = render(s, id);
      const std::string html = to_html(md);
      INFO(id);
      const std::size_t tables = count(md, "\n|---|");
      CHECK(tables >= 4);
      CHECK(count(html, "<table>") == tables);
      CHECK(count(html, "<pre><code class=\"language-mermaid\">") == count(md, "```mermaid"));
      CHECK(html.find("raw HTML omitted") == std::string::npos);
    }
    const std::string html = to_html(render(s, "openai-2024-12-11"));
    CHECK(count(html, "<pre><code class=\"language-mermaid\">gantt\n") == 1);
    CHECK(html.find("dateFormat YYYY-MM-DDTHH:mm") != std::string::npos);
  }

  TEST_CASE("the chart: status phases and component outages") {
    const std::string md = render(demo_store(), "openai-2024-12-11");
    CHECK(md.find("    section Status\n"
                  "    investigating :2024-12-11T23:17, 2024-12-11T23:53\n"
                  "    identified :2024-12-11T23:53, 2024-12-12T03:53\n"
                  "    monitoring :2024-12-12T03:53, 2024-12-12T06:23\n"
                  "    resolved :milestone, 2024-12-12T06:23, 0m\n") != std::string::npos);
    CHECK(md.find("    section Sora\n"
                  "    partial_outage :active, 2024-12-11T23:16, 2024-12-11T23:40\n"
                  "    major_outage :crit, 2024-12-11T23:40, 2024-12-12T03:01\n") != std::string::npos);
    CHECK(md.find("axisFormat %H:%M") != std::string::npos);
  }

  TEST_CASE("local times when a zone is given") {
    const auto s = demo_store();
    const std::string md = render(s, "openai-2024-12-11", fixed_now("America/Los_Angeles"));
    CHECK(md.find("| First event | 2024-12-11 22:23 UTC (2024-12-11 14:23 PST) |") != std::string::npos);
    CHECK(md.find("| Customer impact | 2024-12-11 23:16 UTC (2024-12-11 15:16 PST) to 2024-12-12 03:38 UTC (2024-12-11 "
                  "19:38 PST) |") != std::string::npos);
    CHECK(md.find("| 2024-12-11 23:17 | 2024-12-11 15:17 PST | +54m | status |") != std::string::npos);
    auto bad = shell::render_postmortem(s, "openai-2024-12-11", fixed_now("Mars/Olympus"));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().is(errc::invalid));
    CHECK(bad.error().message == "unknown time zone 'Mars/Olympus' (expected a tz database name such as America/Los_Angeles)");
  }

  TEST_CASE("an unknown incident is an error with a suggestion") {
    const auto s = demo_store();
    auto r = shell::render_postmortem(s, "openai-2024-12-1", fixed_now());
    REQUIRE_FALSE(r);
    CHECK(r.error().is(errc::not_found));
    CHECK(r.error().message == "unknown incident 'openai-2024-12-1'; did you mean 'openai-2024-12-11'?");
    auto far = shell::render_postmortem(s, "nothing-like-it", fixed_now());
    REQUIRE_FALSE(far);
    CHECK(far.error().message == "unknown incident 'nothing-like-it'");
  }

  TEST_CASE("a single-event incident renders without empty sections") {
    const auto s = store_of(test::line("lone-1", "report", "2024-03-01T10:00:00Z", R"({"count":12})") + "\n");
    const std::string md = render(s, "lone-1");
    CHECK(md.starts_with("# lone-1\n\n"));
    CHECK(md.find("## Summary\n\nIncident `lone-1` started at 2024-03-01 10:00 UTC and is ongoing (305d14h so far). Up to "
                  "12 reports (test).\n") != std::string::npos);
    CHECK(md.find("| 2024-03-01 10:00 | +0s | report | test | **12 reports** · **customer impact begins** |") !=
          std::string::npos);
    CHECK(md.find("| Events | 1 from 1 source |") != std::string::npos);
    for (const char* absent : {"## Where sources disagree", "## Concurrent incidents", "## Action items", "```mermaid",
                               "## Response and recovery", "## Trigger"})
      CHECK_MESSAGE(md.find(absent) == std::string::npos, absent);
    check_no_empty_section(md);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));

    const auto note = store_of(test::line("lone-2", "note", "2024-03-01T10:00:00Z", R"({"text":"hm"})") + "\n");
    const std::string md2 = render(note, "lone-2");
    // Nothing records an impact: it counts from the first event, and says so.
    CHECK(row_starting(md2, "Customer impact (the Duration)") ==
          "| Customer impact (the Duration) | first event (no impact recorded) · 2024-03-01 10:00 · test | ongoing: no end "
          "recorded | **305d14h so far** |");
    CHECK(md2.find("customer impact begins") == std::string::npos);
    CHECK(md2.find("## Detection") == std::string::npos);
    check_no_empty_section(md2);
  }

  TEST_CASE("untrusted text cannot break a table, inject HTML or confuse Mermaid") {
    std::string jsonl;
    jsonl += test::line("evil", "incident", "2024-03-01T10:00:00Z",
                        R"({"title":"<img src=x onerror=alert(1)> # t","org":"O|rg","services":["a|b"]})") + "\n";
    jsonl += test::line("evil", "status", "2024-03-01T10:01:00Z",
                        R"({"status":"investigating","text":"a | b\nc <script>alert(1)</script> & d \\| e"})") + "\n";
    jsonl += test::line("evil", "component", "2024-03-01T10:02:00Z",
                        R"({"component":"section x: y # z; w","state":"major_outage"})") + "\n";
    const auto s = store_of(jsonl);
    const std::string md = render(s, "evil");
    CHECK(md.find("<script") == std::string::npos);
    CHECK(md.find("<img") == std::string::npos);
    CHECK(md.find("| **investigating**: a \\| b<br>c &lt;script&gt;alert(1)&lt;/script&gt; &amp; d \\\\\\| e |") !=
          std::string::npos);
    const std::string html = to_html(md);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    CHECK(count(html, "<table>") == count(md, "\n|---|"));
    // The timeline's rows keep their five cells.
    const auto start = html.find("<th>event</th>");
    REQUIRE(start != std::string::npos);
    const auto body = html.substr(start, html.find("</table>", start) - start);
    CHECK(count(body, "<td>") == 5 * 3);
    // Mermaid: no separators in names, no keyword at a line start; the outage never ended.
    CHECK(md.find("    section · section x y z w\n") != std::string::npos);
    CHECK(md.find("    major_outage (open) :crit, 2024-03-01T10:02, 2024-03-01T10:02\n") != std::string::npos);
    CHECK(md.find("    title img src=x onerror=alert(1) t\n") != std::string::npos);
    CHECK(md.find("| not recorded \\* |") != std::string::npos);
  }

  TEST_CASE("a component that never recovers is counted to the incident's end") {
    std::string jsonl;
    jsonl += test::line("down", "component", "2024-03-01T10:00:00Z", R"({"component":"DB","state":"partial_outage"})") + "\n";
    jsonl += test::line("down", "component", "2024-03-01T10:30:00Z", R"({"component":"DB","state":"major_outage"})") + "\n";
    jsonl += test::line("down", "note", "2024-03-01T12:00:00Z", R"({"text":"still down"})") + "\n";
    const std::string md = render(store_of(jsonl), "down");
    CHECK(row_starting(md, "DB") == "| DB | major_outage | 1h30m | 30m | not recorded \\* |");
    CHECK(md.find("counted to the incident's last event (2024-03-01 12:00)") != std::string::npos);
  }

  TEST_CASE("after a resolution, a component never recovered is counted to the resolution; a status corrected") {
    std::string jsonl;
    jsonl += test::line("res", "component", "2024-03-01T10:00:00Z", R"({"component":"DB","state":"major_outage"})") + "\n";
    jsonl += test::line("res", "status", "2024-03-01T10:05:00Z", R"({"status":"investigating","text":"looking"})",
                        R"("id":"res/first-status")") + "\n";
    jsonl += test::line("res", "status", "2024-03-01T11:00:00Z", R"({"status":"resolved"})") + "\n";
    jsonl += test::line("res", "note", "2024-03-01T12:00:00Z", R"({"text":"review <b>scheduled</b>"})") + "\n";
    jsonl += test::line("res", "correction", "2024-03-02T09:00:00Z",
                        R"({"target":"res/first-status","reason":"it was *identified* already","data":{"status":"identified","text":"looking"}})",
                        R"("recorded_at":"2024-03-02T09:00:00Z")") + "\n";
    const std::string md = render(store_of(jsonl), "res");
    CHECK(row_starting(md, "DB") == "| DB | major_outage | 1h | not recorded \\* |");
    CHECK(md.find("counted to the incident's resolution (2024-03-01 11:00)") != std::string::npos);
    CHECK(md.find("| 2024-03-01 10:05 | +5m | status | test | **identified**: looking *(corrected)* |") != std::string::npos);
    CHECK(md.find("| 2024-03-02 09:00 | status: **investigating**: looking | **investigating**: looking → "
                  "**identified**: looking | it was \\*identified\\* already | test |") != std::string::npos);
    CHECK(md.find("| Events | 4 from 1 source; 1 correction |") != std::string::npos);
    check_no_empty_section(md);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));
  }

  TEST_CASE("an unresolved incident is ongoing, counted to the report's time; resolved, it has a Duration") {
    std::string jsonl;
    jsonl += recorded_line("live", "incident", "2026-11-30T10:00:00Z", R"({"title":"Checkout errors","org":"Acme","services":["api"]})") + "\n";
    jsonl += recorded_line("live", "alert", "2026-11-30T10:02:00Z", R"({"text":"p99 > 2s"})") + "\n";
    jsonl += recorded_line("live", "component", "2026-11-30T10:05:00Z", R"({"component":"api","state":"major_outage"})") + "\n";
    jsonl += recorded_line("live", "status", "2026-11-30T10:10:00Z", R"({"status":"investigating"})") + "\n";
    auto s = store_of(jsonl);
    auto o = fixed_now();
    o.now_ms = parse_timestamp("2026-11-30T13:17:00Z")->ms;
    std::string md = render(s, "live", o);
    // The first impact is the component's outage (10:05), not the alert nor the first event.
    CHECK(md.find("| Customer impact | since 2026-11-30 10:05 UTC |\n| Duration | **ongoing** (no end recorded), 3h12m so far;") !=
          std::string::npos);
    CHECK(md.find("| Duration | 0s") == std::string::npos);
    CHECK(row_starting(md, "Customer impact (the Duration)") ==
          "| Customer impact (the Duration) | first component outage · 2026-11-30 10:05 · test | ongoing: no end recorded | "
          "**3h12m so far** |");
    CHECK(md.find("and is ongoing (3h12m so far).") != std::string::npos);
    CHECK(md.find("| Incident status | investigating |") != std::string::npos);
    // As of 11:00, it was ongoing for 55m.
    o.as_of = parse_timestamp("2026-11-30T11:00:00Z")->ms;
    CHECK(render(s, "live", o).find("| Duration | **ongoing** (no end recorded), 55m so far;") != std::string::npos);
    o.as_of.reset();

    // The component recovers: the impact ends there, though the status page is not resolved yet.
    std::string more = recorded_line("live", "component", "2026-11-30T12:35:00Z", R"({"component":"api","state":"operational"})") + "\n";
    more += recorded_line("live", "status", "2026-11-30T12:40:00Z", R"({"status":"monitoring"})") + "\n";
    s = store_of(jsonl + more);
    md = render(s, "live", o);
    CHECK(md.find("| Customer impact | 2026-11-30 10:05 UTC to 2026-11-30 12:35 UTC |\n| Duration | **2h30m** |\n") !=
          std::string::npos);
    CHECK(md.find("| Resolved |") == std::string::npos);
    CHECK(md.find("time from first component where state in (degraded_performance, partial_outage, major_outage) to first "
                  "component \"api\" operational after last component \"api\" where state <> operational;") !=
          std::string::npos);
    CHECK(md.find("**api → operational** · **customer impact ends**") != std::string::npos);

    // It breaks again and the status page resolves: the component is still out, so the
    // resolution ends the impact.
    more += recorded_line("live", "component", "2026-11-30T12:50:00Z", R"({"component":"api","state":"partial_outage"})") + "\n";
    more += recorded_line("live", "status", "2026-11-30T13:05:00Z", R"({"status":"resolved"})") + "\n";
    s = store_of(jsonl + more);
    md = render(s, "live", o);
    CHECK(md.find("| Duration | **3h** |\n| Resolved | 2026-11-30 13:05 UTC |\n") != std::string::npos);
    CHECK(md.find("time from first component where state in (degraded_performance, partial_outage, major_outage) to first "
                  "status resolved after last status where status in (investigating, monitoring);") != std::string::npos);

    // Reopened: an open status after the resolution, and the impact declared again. Ongoing.
    more += recorded_line("live", "status", "2026-11-30T13:10:00Z", R"({"status":"investigating"})") + "\n";
    more += recorded_line("live", "note", "2026-11-30T13:10:00Z", R"({"text":"errors again","tags":["impact-start"]})") + "\n";
    s = store_of(jsonl + more);
    md = render(s, "live", o);
    // The first impact is now the note (the rule's first kind of evidence).
    CHECK(md.find("| Customer impact | since 2026-11-30 13:10 UTC |\n| Duration | **ongoing** (no end recorded), 7m so far;") !=
          std::string::npos);
    // Declared over by a note: the last impact-end note after the last impact-start.
    more += recorded_line("live", "note", "2026-11-30T13:14:00Z", R"({"text":"errors gone","tags":["impact-end"]})") + "\n";
    s = store_of(jsonl + more);
    md = render(s, "live", o);
    CHECK(md.find("| Duration | **4m** |") != std::string::npos);
    CHECK(row_starting(md, "Customer impact (the Duration)")
              .starts_with("| Customer impact (the Duration) | first note tagged impact-start · 2026-11-30 13:10 · test | "
                           "last note tagged impact-end · 2026-11-30 13:14 · test | **4m** |"));
    check_no_empty_section(md);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));
  }

  TEST_CASE("names in the Duration's PMQL are PMQL strings, inside a fence no name can close") {
    std::string jsonl;
    jsonl += test::line("fence", "component", "2024-03-01T10:00:00Z", R"({"component":"a```b\"c\\d","state":"major_outage"})") + "\n";
    jsonl += test::line("fence", "component", "2024-03-01T10:30:00Z", R"({"component":"a```b\"c\\d","state":"operational"})") + "\n";
    jsonl += test::line("fence", "component", "2024-03-01T10:40:00Z", R"({"component":"cr\r","state":"major_outage"})") + "\n";
    jsonl += test::line("fence", "component", "2024-03-01T10:50:00Z", R"({"component":"cr\r","state":"operational"})") + "\n";
    const auto s = store_of(jsonl);
    std::string md = render(s, "fence");
    // A carriage return cannot be written in PMQL: the figure comes from the events' times,
    // and no statement is listed for it.
    CHECK(md.find("| Duration | **50m** |") != std::string::npos);
    CHECK(md.find("time from first component where state in") == std::string::npos);
    // Without it, the statement names the component as a PMQL string.
    const auto s2 = store_of(jsonl.substr(0, jsonl.find("\n", jsonl.find("\n") + 1) + 1));
    md = render(s2, "fence");
    CHECK(md.find("| Duration | **30m** |") != std::string::npos);
    CHECK(md.find("\n````\nuse fence;\ntime from first component where state in (degraded_performance, partial_outage, "
                  "major_outage) to first component \"a```b\\\"c\\\\d\" operational after last component \"a```b\\\"c\\\\d\" "
                  "where state <> operational;\n````\n") != std::string::npos);
    const std::string html = to_html(md);
    CHECK(count(html, "<pre><code>") == 1);
    CHECK(count(html, "<table>") == count(md, "\n|---|"));
  }

  TEST_CASE("the document: its status, authors and roles, each the last note recorded, never an edit") {
    std::string jsonl;
    jsonl += recorded_line("doc", "incident", "2026-11-30T10:00:00Z", R"({"title":"Checkout errors","org":"Acme","services":["api"]})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-11-30T10:01:00Z", R"({"role":"incident_commander","people":["Ana Lima"]})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-11-30T10:02:00Z", R"({"role":"communications_lead","people":["Bo"]})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-11-30T11:00:00Z", R"({"text":"handover","role":"incident_commander","people":["Cy <b>Ng</b>"]})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-11-30T12:00:00Z", R"({"role":"author","people":["Ana Lima","Dee | Ko"]})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-11-30T12:00:00Z", R"({"role":"on_call_sre","people":[]})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-12-01T09:00:00Z", R"({"document":"in_review"})") + "\n";
    jsonl += recorded_line("doc", "note", "2026-12-02T09:00:00Z", R"({"document":"final","text":"approved by the leads"})") + "\n";
    const auto s = store_of(jsonl);
    const std::string md = render(s, "doc");
    CHECK(md.starts_with("# Checkout errors\n\n| | |\n|---|---|\n"
                         "| Postmortem | **final**, since 2026-12-02 09:00 |\n"
                         "| Report date | 2025-01-01 |\n"
                         "| Authors | Ana Lima, Dee \\| Ko |\n"
                         "| Incident commander | Cy &lt;b&gt;Ng&lt;/b&gt; |\n"
                         "| Communications lead | Bo |\n"
                         "| On call sre | unassigned |\n"
                         "| Incident | `doc` |\n"));
    CHECK(md.find("| note | test | **incident commander**: Cy &lt;b&gt;Ng&lt;/b&gt;: handover |") != std::string::npos);
    CHECK(md.find("| note | test | postmortem document **final**: approved by the leads |") != std::string::npos);
    // As of a time before the review: a draft, the first commander.
    auto o = fixed_now();
    o.as_of = parse_timestamp("2026-11-30T10:30:00Z")->ms;
    o.now_ms.reset();  // the clock: only the report's date depends on it
    const std::string early = render(s, "doc", o);
    CHECK(early.find("| Postmortem | **draft** (no document status recorded) |\n") != std::string::npos);
    CHECK(early.find("| Authors | not recorded |\n| Incident commander | Ana Lima |\n") != std::string::npos);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));
  }

  TEST_CASE("lessons learned and action items with their latest state, owner and due date") {
    std::string jsonl;
    jsonl += recorded_line("act", "incident", "2026-11-01T10:00:00Z", R"({"title":"t","org":"o","services":[]})") + "\n";
    jsonl += recorded_line("act", "note", "2026-11-01T10:05:00Z", R"({"text":"the pager woke the right person","tags":["went-well"]})") + "\n";
    jsonl += recorded_line("act", "note", "2026-11-01T10:06:00Z", R"({"text":"no canary","tags":["went-wrong","went-well"]})") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-02T09:00:00Z", R"({"text":"Add a canary","owner":"ana","due":"2026-11-20"})",
                        R"("id":"act/canary")") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-02T09:01:00Z", R"({"text":"Alert on saturation","owner":"bo","due":"2026-12-31","kind":"detection"})",
                        R"("id":"act/alert")") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-02T09:02:00Z", R"({"text":"Rewrite everything","due":"2026-11-10"})",
                        R"("id":"act/rewrite")") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-02T09:03:00Z", R"({"text":"Drop it","state":"open"})",
                        R"("id":"act/drop")") + "\n";
    // Updates: new events naming their item.
    jsonl += recorded_line("act", "action", "2026-11-05T09:00:00Z", R"({"of":"act/canary","state":"in_progress","owner":"cy"})") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-06T09:00:00Z", R"({"of":"act/alert","state":"done","text":"shipped"})") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-07T09:00:00Z", R"({"of":"act/rewrite","state":"wont_do"})") + "\n";
    jsonl += recorded_line("act", "action", "2026-11-08T09:00:00Z", R"({"of":"act/drop","due":"2026-11-09"})",
                        R"("id":"act/drop-due")") + "\n";
    // Dated before its item: still applied (the updates are read after the items).
    jsonl += recorded_line("act", "action", "2026-11-02T08:00:00Z", R"({"of":"act/alert","tracker":"OPS-12"})") + "\n";
    auto s = store_of(jsonl);
    auto o = fixed_now();
    o.now_ms = parse_timestamp("2026-11-25T00:00:00Z")->ms;
    std::string md = render(s, "act", o);
    CHECK(md.find("## Action items\n\n| item | kind | owner | due | state | tracker |\n|---|---|---|---|---|---|\n"
                  "| Add a canary | — | cy | 2026-11-20 · **overdue** | in progress · 2026-11-05 | — |\n"
                  "| Alert on saturation | detection | bo | 2026-12-31 | done · 2026-11-06 | OPS-12 |\n"
                  "| Rewrite everything | — | — | 2026-11-10 | won't do · 2026-11-07 | — |\n"
                  "| Drop it | — | — | 2026-11-09 · **overdue** | open | — |\n"
                  "\n2 of 4 closed (done or won't do); 2 overdue, on 2026-11-25.") != std::string::npos);
    CHECK(md.find("## Lessons learned\n\n### What went well\n\n- the pager woke the right person — test, 2026-11-01 10:05\n"
                  "- no canary — test, 2026-11-01 10:06\n\n### What went wrong\n\n- no canary — test, 2026-11-01 10:06\n\n"
                  "### Where we got lucky\n\nNothing recorded.\n") != std::string::npos);
    CHECK(md.find("| action | test | action item update (state done): shipped |") != std::string::npos);
    // Overdue counts to the view's time: on 2026-11-15 the canary (due on the 20th) was not
    // overdue yet; the rewrite, past its date, was closed.
    o.as_of = parse_timestamp("2026-11-15T00:00:00Z")->ms;
    const std::string mid = render(s, "act", o);
    CHECK(mid.find("\n2 of 4 closed (done or won't do); 1 overdue, on 2026-11-15.") != std::string::npos);
    CHECK(row_starting(mid, "Add a canary") == "| Add a canary | — | cy | 2026-11-20 | in progress · 2026-11-05 | — |");
    o.as_of.reset();

    // The item retracted after its update: the update is listed apart, its item unknown.
    std::vector<event> batch;
    auto retraction = parse_event(recorded_line("act", "retraction", "2026-11-20T09:00:00Z",
                                             R"({"target":"act/drop","reason":"duplicate of the canary"})"));
    REQUIRE(retraction);
    batch.push_back(*retraction);
    REQUIRE(s.append(batch));
    md = render(s, "act", o);
    CHECK(md.find("\n2 of 3 closed (done or won't do); 1 overdue, on 2026-11-25.") != std::string::npos);
    CHECK(md.find("Updates that name no action item of this incident (retracted, or the update corrected to another id):\n\n"
                  "- 2026-11-08 09:00 · update of unknown item act/drop: action item update (due 2026-11-09) — test\n") !=
          std::string::npos);
    check_no_empty_section(md);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));
  }

  TEST_CASE("an update of an action item must name an action item of its incident: on import as on append") {
    std::string jsonl;
    jsonl += test::line("a", "incident", "2026-11-01T10:00:00Z", R"({"title":"t","org":"o","services":[]})") + "\n";
    jsonl += test::line("a", "action", "2026-11-01T10:01:00Z", R"({"text":"fix it"})", R"("id":"a/item")") + "\n";
    jsonl += test::line("a", "alert", "2026-11-01T10:02:00Z", R"({"text":"paged"})", R"("id":"a/alert")") + "\n";
    jsonl += test::line("a", "action", "2026-11-01T10:03:00Z", R"({"of":"a/item","state":"done"})", R"("id":"a/done")") + "\n";
    jsonl += test::line("b", "incident", "2026-11-01T10:00:00Z", R"({"title":"t","org":"o","services":[]})") + "\n";
    auto s = store_of(jsonl);
    const auto refused = [&](const std::string& line) {
      std::istringstream in(line + "\n");
      auto r = import_jsonl(s, in, "more.jsonl");
      REQUIRE_FALSE(r);
      return format_import_error(r.error().front());
    };
    CHECK(refused(test::line("a", "action", "2026-11-02T00:00:00Z", R"({"of":"a/nothing","state":"done"})", R"("id":"u1")")) ==
          "more.jsonl:1: action u1 (incident a) refused: its of: no event has the id a/nothing (neither in the store nor "
          "earlier in this batch)");
    CHECK(refused(test::line("b", "action", "2026-11-02T00:00:00Z", R"({"of":"a/item","state":"done"})", R"("id":"u2")")) ==
          "more.jsonl:1: action u2 (incident b) refused: its of: a/item belongs to incident a, not to b");
    CHECK(refused(test::line("a", "action", "2026-11-02T00:00:00Z", R"({"of":"a/alert","state":"done"})", R"("id":"u3")")) ==
          "more.jsonl:1: action u3 (incident a) refused: its of: a/alert is an alert event, not an action item");
    CHECK(refused(test::line("a", "action", "2026-11-02T00:00:00Z", R"({"of":"a/done","state":"open"})", R"("id":"u4")")) ==
          "more.jsonl:1: action u4 (incident a) refused: its of: a/done is itself an update: name the action item it updates");
    // An item and its update in one file: the update may follow its item in the same batch.
    std::istringstream both(test::line("b", "action", "2026-11-02T00:00:00Z", R"({"text":"b's item"})", R"("id":"b/item")") +
                            "\n" +
                            test::line("b", "action", "2026-11-03T00:00:00Z", R"({"of":"b/item","state":"in_progress"})") + "\n");
    CHECK(import_jsonl(s, both, "both.jsonl"));
    // A retracted item takes no update.
    std::istringstream retracted(test::line("b", "retraction", "2026-11-04T00:00:00Z", R"({"target":"b/item","reason":"r"})",
                                            R"("id":"b/gone")") + "\n");
    REQUIRE(import_jsonl(s, retracted, "r.jsonl"));
    CHECK(refused(test::line("b", "action", "2026-11-05T00:00:00Z", R"({"of":"b/item","state":"done"})", R"("id":"u5")")) ==
          "more.jsonl:1: action u5 (incident b) refused: its of: the action item b/item is retracted (by b/gone)");
  }

  TEST_CASE("the report streamed to an ostream is the report as a string, and errors come before any output") {
    const auto s = corrected_demo_store();
    for (const char* id : {"openai-2024-12-11", "meta-2024-12-11"}) {
      std::ostringstream out;
      auto r = shell::render_postmortem(s, id, fixed_now("America/Los_Angeles"), out);
      REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
      CHECK(out.str() == render(s, id, fixed_now("America/Los_Angeles")));
    }
    std::ostringstream none;
    CHECK_FALSE(shell::render_postmortem(s, "openai-2024-12-1", fixed_now(), none));
    CHECK_FALSE(shell::render_postmortem(s, "openai-2024-12-11", fixed_now("Mars/Olympus"), none));
    CHECK(none.str().empty());
  }

  TEST_CASE("a report to a failing stream stops with an error, not a silent success") {
    // A stream that accepts `limit` bytes, then fails as a full disk does.
    class full_after : public std::streambuf {
     public:
      explicit full_after(std::size_t limit) : limit_(limit) {}
      std::size_t written = 0, refused = 0;

     protected:
      int_type overflow(int_type ch) override {
        if (ch == traits_type::eof()) return traits_type::not_eof(ch);
        if (written >= limit_) return ++refused, traits_type::eof();
        ++written;
        return ch;
      }
      std::streamsize xsputn(const char*, std::streamsize n) override {
        const auto room = static_cast<std::streamsize>(limit_ - written);
        const auto took = std::min(room, n);
        written += static_cast<std::size_t>(took);
        if (took < n) ++refused;
        return took;
      }

     private:
      std::size_t limit_;
    };
    const auto s = demo_store();
    full_after buf(100);
    std::ostream out(&buf);
    auto r = shell::render_postmortem(s, "openai-2024-12-11", fixed_now(), out);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("cannot write the report") != std::string::npos);
    CHECK(buf.written == 100);
    CHECK(buf.refused == 1);  // the first failed write ends the report
    CHECK(out.fail());
  }

  TEST_CASE("ten thousand events: each one in the timeline, once") {
    // Built in code and appended directly: validating 10,000 JSON lines would dominate the test.
    // How fast this renders is measured by bench/run (its report step), not here.
    const std::int64_t t0 = parse_timestamp("2024-06-01T00:00:00Z")->ms;
    static constexpr const char* statuses[] = {"investigating", "identified", "monitoring"};
    static constexpr const char* states[] = {"partial_outage", "major_outage", "degraded_performance", "operational"};
    std::vector<event> batch;
    for (int i = 0; i <= 10'000; ++i) {
      event e;
      e.id = fmt::format("big/{}", i);
      e.incident = "big-2024-06-01";
      e.at = t0 + i * 7'000LL;
      e.source = "test";
      switch (i == 10'000 ? 6 : i % 6) {
        case 0:
          e.type = "status", e.status = statuses[i / 6 % 3], e.text = fmt::format("update {}", i);
          e.data = fmt::format(R"({{"status":"{}","text":"{}"}})", *e.status, *e.text);
          break;
        case 1:
          e.type = "report", e.value = i, e.text = fmt::format("reports {}", i);
          e.data = fmt::format(R"({{"count":{},"text":"{}"}})", i, *e.text);
          break;
        case 2:
          e.type = "metric", e.metric = "affected", e.value = i % 100, e.unit = "%";
          e.data = fmt::format(R"({{"name":"affected","value":{},"unit":"%"}})", i % 100);
          break;
        case 3:
          e.type = "component", e.component = fmt::format("c{}", i % 20), e.state = states[i / 6 % 4];
          e.data = fmt::format(R"({{"component":"{}","state":"{}"}})", *e.component, *e.state);
          break;
        case 4:
          e.type = "comm", e.channel = "x", e.text = fmt::format("post {} | <b>", i);
          e.data = fmt::format(R"({{"channel":"x","text":"{}"}})", *e.text);
          break;
        case 5:
          e.type = "note", e.text = fmt::format("note {}", i);
          e.data = fmt::format(R"({{"text":"{}","tags":["recovery"]}})", *e.text);
          break;
        default:
          e.type = "alert", e.text = "paged", e.data = R"({"text":"paged"})";
          break;
      }
      batch.push_back(std::move(e));
    }
    auto s = event_store::open(":memory:", {.durable = false}).value();
    REQUIRE(s.append(batch));
    const std::string md = render(s, "big-2024-06-01");
    // i % 6 picks the type of events 0..9,999; event 10,000 is an alert.
    CHECK(count(md, "| status | test |") == 1667);
    CHECK(count(md, "| report | test |") == 1667);
    CHECK(count(md, "| metric | test |") == 1667);
    CHECK(count(md, "| component | test |") == 1667);
    CHECK(count(md, "| comm | test |") == 1666);
    CHECK(count(md, "| note | test |") == 1666);
    CHECK(count(md, "| alert | test |") == 1);
    // In time order, each with its elapsed time: the first, one in the middle, the last.
    const auto first = md.find("| 2024-06-01 00:00 | +0s | status | test | **investigating**: update 0 |");
    const auto middle = md.find("| +9h43m6s | status | test | **monitoring**: update 4998 |");
    const auto last = md.find("| +19h26m40s | alert | test |");
    CHECK(first != std::string::npos);
    CHECK(middle != std::string::npos);
    CHECK(last != std::string::npos);
    CHECK((first < middle && middle < last));
    CHECK(md.find("| Events | 10001 from 1 source |") != std::string::npos);
    CHECK(md.find("post 4 \\| &lt;b&gt;") != std::string::npos);
  }
}
