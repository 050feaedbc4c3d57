#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

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

// Every `## ` section has some content before the next heading or the end.
void check_no_empty_section(const std::string& md) {
  const auto lines = lines_of(md);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with("## ")) continue;
    std::size_t j = i + 1;
    while (j < lines.size() && lines[j].empty()) ++j;
    INFO("section: " << lines[i]);
    CHECK(j < lines.size());
    if (j < lines.size()) CHECK_FALSE(lines[j].starts_with("#"));
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
    CHECK(md.find("End | 2024-12-12 00:21 UTC, last event; no resolved status |") != std::string::npos);
    // Nothing to chart and no action items: no such sections.
    CHECK(md.find("```mermaid") == std::string::npos);
    CHECK(md.find("## Action items") == std::string::npos);
    check_no_empty_section(md);
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
    CHECK(md.find("| Start | 2024-12-11 22:23 UTC (2024-12-11 14:23 PST), first event |") != std::string::npos);
    CHECK(md.find("| 2024-12-11 23:17 | 2024-12-11 15:17 PST | +54m | status |") != std::string::npos);
    auto bad = shell::render_postmortem(s, "openai-2024-12-11", fixed_now("Mars/Olympus"));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "unknown time zone 'Mars/Olympus' (expected a tz database name such as America/Los_Angeles)");
  }

  TEST_CASE("an unknown incident is an error with a suggestion") {
    const auto s = demo_store();
    auto r = shell::render_postmortem(s, "openai-2024-12-1", fixed_now());
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "unknown incident 'openai-2024-12-1'; did you mean 'openai-2024-12-11'?");
    auto far = shell::render_postmortem(s, "nothing-like-it", fixed_now());
    REQUIRE_FALSE(far);
    CHECK(far.error().message == "unknown incident 'nothing-like-it'");
  }

  TEST_CASE("a single-event incident renders without empty sections") {
    const auto s = store_of(test::line("lone-1", "report", "2024-03-01T10:00:00Z", R"({"count":12})") + "\n");
    const std::string md = render(s, "lone-1");
    CHECK(md.starts_with("# lone-1\n\n"));
    CHECK(md.find("## Summary\n\nIncident `lone-1` started at 2024-03-01 10:00 UTC. Up to 12 reports (test).\n") !=
          std::string::npos);
    CHECK(md.find("| 2024-03-01 10:00 | +0s | report | test | **12 reports** |") != std::string::npos);
    CHECK(md.find("| Events | 1 from 1 source |") != std::string::npos);
    for (const char* absent : {"## Where sources disagree", "## Concurrent incidents", "## Action items", "```mermaid",
                               "## Response and recovery", "## Trigger"})
      CHECK_MESSAGE(md.find(absent) == std::string::npos, absent);
    check_no_empty_section(md);
    CHECK(count(to_html(md), "<table>") == count(md, "\n|---|"));

    const auto note = store_of(test::line("lone-2", "note", "2024-03-01T10:00:00Z", R"({"text":"hm"})") + "\n");
    const std::string md2 = render(note, "lone-2");
    CHECK(md2.find("## Key durations") == std::string::npos);
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

  TEST_CASE("ten thousand events render in well under a second") {
    // Built in code and appended directly: validating 10,000 JSON lines would dominate the test.
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
    const auto begin = std::chrono::steady_clock::now();
    const std::string md = render(s, "big-2024-06-01");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    MESSAGE("10,001 events rendered in " << fmt::format("{:.3f}", seconds) << " s (" << md.size() << " bytes)");
    CHECK(seconds < 5.0);
    CHECK(count(md, "| comm | test |") == 1666);
    CHECK(md.find("| Events | 10001 from 1 source |") != std::string::npos);
    CHECK(md.find("post 4 \\| &lt;b&gt;") != std::string::npos);
  }
}
