// The HTML report (shell/report_html.hpp): escaping of untrusted text, the page's structure
// (lanes, milestones, plots), the committed examples as golden files, the view (corrections,
// retractions), bounded size for a large incident, and `format html` in PMQL and on the command
// line. tests/report_html_test.py renders the same pages in headless Chromium.
#include <doctest/doctest.h>

#include <cstdio>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/event.hpp"
#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "golden.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"
#include "shell/report_html.hpp"
#include "test_util.hpp"

using namespace pmdb;

namespace {

// The OpenAI demo incident's events, counted in the example files themselves (one per line).
long openai_events() {
  long n = 0;
  for (const auto& f : test::files_in("examples", ".jsonl")) {
    std::istringstream in(test::read_file(test::source_dir() / f));
    for (std::string l; std::getline(in, l);) n += l.find("\"incident\":\"openai-2024-12-11\"") != std::string::npos;
  }
  return n;
}

event_store store_of(const std::vector<std::string>& files, const std::string& extra = "") {
  auto s = event_store::open(":memory:", {.durable = false}).value();
  for (const auto& f : files) {
    std::istringstream in(test::read_file(test::source_dir() / f));
    auto r = import_jsonl(s, in, f);
    REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
  }
  if (!extra.empty()) {
    std::istringstream in(extra);
    auto r = import_jsonl(s, in, "extra.jsonl");
    REQUIRE_MESSAGE(r, (r ? "" : format_import_error(r.error().front())));
  }
  return s;
}

event_store demo_store() {
  std::vector<std::string> files;
  for (const auto& f : test::files_in("examples", ".jsonl")) files.push_back(f.string());
  return store_of(files);
}

shell::postmortem_options fixed_now() {
  shell::postmortem_options o;
  o.now_ms = parse_timestamp("2025-01-01T00:00:00Z")->ms;
  return o;
}

std::string html_of(const event_store& s, const std::string& incident,
                    const shell::postmortem_options& o = fixed_now()) {
  auto page = shell::render_html_report(s, incident, o);
  REQUIRE_MESSAGE(page, (page ? "" : page.error().message));
  return *page;
}

std::size_t count(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + needle.size())) ++n;
  return n;
}

// The names of the elements the page opens (`<name`), each once.
std::set<std::string> elements(const std::string& html) {
  std::set<std::string> out;
  static const std::regex tag("<([A-Za-z!][A-Za-z0-9]*)");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator(); ++it)
    out.insert((*it)[1].str());
  return out;
}

// What the page may contain: its own markup, nothing that runs or loads.
const std::set<std::string> allowed_elements = {
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "strong", "section",
    "div", "figure", "svg", "g", "rect", "text", "line", "circle", "path", "figcaption", "span", "i", "code",
    "table", "thead", "tbody", "tr", "th", "td", "em", "footer"};

// One hostile incident: every text a report shows tries to break out of its context.
const std::string hostile_jsonl =
    R"({"id":"evil/incident","incident":"evil-1","type":"incident","at":"2025-03-01T10:00:00Z","source":"<script>alert('src')</script>","data":{"title":"</title><script>alert(1)</script>","org":"\"><img src=x onerror=alert(2)>","services":["<svg onload=alert(3)>"]}})"
    "\n"
    R"({"id":"evil/report","incident":"evil-1","type":"report","at":"2025-03-01T10:05:00Z","source":"users","data":{"count":5,"text":"</script><script>alert(1)</script>"}})"
    "\n"
    R"({"id":"evil/comm","incident":"evil-1","type":"comm","at":"2025-03-01T10:07:00Z","source":"x\u0007y\u0085z","data":{"channel":"x","author":"'><b>","text":"\"><img onerror=alert(4) src=x>"}})"
    "\n"
    R"({"id":"evil/component","incident":"evil-1","type":"component","at":"2025-03-01T10:10:00Z","source":"users","data":{"component":"\"><script>alert(5)</script>","state":"major_outage","text":"a & b"}})"
    "\n"
    R"({"id":"evil/metric","incident":"evil-1","type":"metric","at":"2025-03-01T10:20:00Z","source":"press","data":{"name":"<i>fixed</i>","value":99,"unit":"%\"'><","text":"x"}})"
    "\n"
    R"({"id":"evil/metric2","incident":"evil-1","type":"metric","at":"2025-03-01T10:30:00Z","source":"users","data":{"name":"<i>fixed</i>","value":99,"unit":"%\"'><","text":"y"}})"
    "\n"
    R"({"id":"evil/status","incident":"evil-1","type":"status","at":"2025-03-01T10:40:00Z","source":"users","data":{"status":"resolved","text":"<style>body{display:none}</style>"}})"
    "\n";

}  // namespace

TEST_SUITE("report_html") {
  TEST_CASE("escape_html: the five characters, control characters, ill-formed UTF-8") {
    CHECK(shell::escape_html(R"(<a href="x">'&'</a>)") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    CHECK(shell::escape_html("a\tb\nc") == "a b\nc");
    CHECK(shell::escape_html(std::string("a\x01\x1b[31mb\x7f", 9)) == "a[31mb");
    CHECK(shell::escape_html("x\xC2\x85y\xC2\xA0z") == "xy\xC2\xA0z");  // NEL (C1) removed, NBSP kept
    CHECK(shell::escape_html("bad \xff byte") == "bad \xEF\xBF\xBD byte");
    CHECK(shell::escape_html("été → ok") == "été → ok");
  }

  TEST_CASE("text from events appears only escaped, and the page holds no element that runs or loads") {
    const auto s = store_of({}, hostile_jsonl);
    const std::string page = html_of(s, "evil-1");
    for (const auto& e : elements(page)) CHECK_MESSAGE(allowed_elements.contains(e), "element <" << e << ">");
    CHECK(count(page, "<script") == 0);
    CHECK(count(page, "<img") == 0);
    CHECK(count(page, "<style") == 1);  // the page's own
    CHECK(page.find("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("&quot;&gt;&lt;img onerror=alert(4) src=x&gt;") != std::string::npos);
    CHECK(page.find("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("&#39;&gt;&lt;b&gt;") != std::string::npos);
    CHECK(page.find("&lt;style&gt;body{display:none}&lt;/style&gt;") != std::string::npos);
    CHECK(page.find("xyz") != std::string::npos);  // BEL and NEL removed from the source's name
    CHECK(page.find('\x07') == std::string::npos);
    // Attribute values are quoted with " and hold no raw " or <.
    static const std::regex attr(R"(\s[a-z-]+="([^"]*)\")");
    for (auto it = std::sregex_iterator(page.begin(), page.end(), attr); it != std::sregex_iterator(); ++it)
      CHECK_MESSAGE((*it)[1].str().find('<') == std::string::npos, (*it)[0].str());
    // Nothing is loaded from anywhere: no tag has an attribute that loads or names a URL (text
    // from events never holds a raw `<`, so every `<...>` is the page's own markup), and the CSS
    // imports nothing.
    static const std::regex tag("<[A-Za-z][^>]*>");
    for (auto it = std::sregex_iterator(page.begin(), page.end(), tag); it != std::sregex_iterator(); ++it) {
      static const std::regex loads(R"(\s(src|href|xlink:href|action|srcset|poster|on[a-z]+)=)");
      const std::string t = (*it)[0].str();
      CHECK_MESSAGE(!std::regex_search(t, loads), t);
      CHECK_MESSAGE(t.find("http:") == std::string::npos, t);
      CHECK_MESSAGE(t.find("https:") == std::string::npos, t);
    }
    const auto style = page.substr(page.find("<style>"), page.find("</style>") - page.find("<style>"));
    CHECK(style.find("@import") == std::string::npos);
    CHECK(style.find("url(") == std::string::npos);
    CHECK(page.find("default-src 'none'") != std::string::npos);
  }

  TEST_CASE("the page's Duration is the Markdown report's: the customer impact, or ongoing") {
    const auto s = demo_store();
    for (const auto& [incident, figure] : {std::pair{"openai-2024-12-11", std::string("4h22m")},
                                           std::pair{"meta-2024-12-11", std::string("ongoing, 20d6h24m so far")}}) {
      const std::string md = shell::render_postmortem(s, incident, fixed_now()).value();
      const std::string cell = figure.starts_with("ongoing") ? "| Duration | **ongoing** (no end recorded), 20d6h24m so far;"
                                                             : "| Duration | **" + figure + "** |";
      CHECK_MESSAGE(md.find(cell) != std::string::npos, incident);
      CHECK_MESSAGE(html_of(s, incident).find("<div class=\"k\">Duration</div><div class=\"v\">" + figure + "</div>") !=
                        std::string::npos,
                    incident);
    }
  }

  TEST_CASE("the demo incidents: a lane per source and per component, the status band, milestones, plots") {
    const auto s = demo_store();
    const std::string openai = html_of(s, "openai-2024-12-11");
    CHECK(count(openai, "data-lane=\"source\"") == 3);
    CHECK(count(openai, "data-lane=\"component\"") == 5);
    CHECK(count(openai, "data-lane=\"status\"") == 1);
    for (const char* c : {"API", "ChatGPT", "Sora", "Playground", "Labs"})
      CHECK(openai.find(fmt::format("data-lane=\"component\" data-name=\"{}\"", c)) != std::string::npos);
    for (const char* m : {"first report", "first alert", "first change", "first status investigating",
                          "first status identified", "first status monitoring", "first status resolved"})
      CHECK_MESSAGE(openai.find(fmt::format("data-milestone=\"{}", m)) != std::string::npos, m);
    CHECK(count(openai, "class=\"milestone\"") == 7);  // first and last resolved are one moment
    CHECK(count(openai, "data-plot=\"reports\"") == 1);
    CHECK(count(openai, "data-plot=\"metric\" data-name=\"affected\"") == 1);
    CHECK(count(openai, "data-state=\"major_outage\"") == 5);
    CHECK(count(openai, "<tr class=\"ev-") == openai_events());
    // Hover text: time, source, type and text.
    CHECK(openai.find("<title>2024-12-11 23:13 UTC · postmortem · alert\nAlerts fire and engineers are notified "
                      "(15:13 PST).</title>") != std::string::npos);
    // Events after the resolution are drawn in the "later" zone.
    CHECK(openai.find("class=\"later\"") != std::string::npos);

    const std::string meta = html_of(s, "meta-2024-12-11");
    CHECK(count(meta, "data-lane=\"source\"") == 7);
    CHECK(count(meta, "data-lane=\"component\"") == 0);
    CHECK(count(meta, "data-lane=\"status\"") == 0);
    CHECK(meta.find("data-milestone=\"first metric fixed ≥ 99\"") != std::string::npos);
    CHECK(count(meta, "data-plot=\"metric\" data-name=\"fixed\"") == 1);
    CHECK(count(meta, "class=\"stem ") == 3);
    // Where sources disagree: the 99% said by two sources, 1h55m apart.
    CHECK(count(meta, "class=\"disagreement\"") == 1);
    CHECK(meta.find("data-fact=\"fixed = 99%\"") != std::string::npos);
    CHECK(meta.find("+1h55m after the earliest") != std::string::npos);
    CHECK(count(meta, "mark m-metric disagree") == 2);
    CHECK(meta.find("class=\"later\"") == std::string::npos);
  }

  TEST_CASE("the committed HTML examples are the demo incidents' pages") {
    const auto s = demo_store();
    for (const std::string id : {"openai-2024-12-11", "meta-2024-12-11"})
      test::check_golden("examples/report-" + id + ".html", html_of(s, id));
  }

  TEST_CASE("the view: corrections applied, retracted events left out, as of T") {
    const std::string extra =
        R"({"id":"openai-2024-12-11/fix-alert","incident":"openai-2024-12-11","type":"correction","at":"2024-12-14T09:00:00Z","recorded_at":"2024-12-14T09:00:00Z","source":"review","data":{"target":"openai-2024-12-11/alert-engineers-notified","at":"2024-12-11T22:30:00Z","reason":"pager log"}})"
        "\n"
        R"({"id":"openai-2024-12-11/retract-sora","incident":"openai-2024-12-11","type":"retraction","at":"2024-12-14T09:10:00Z","recorded_at":"2024-12-14T09:10:00Z","source":"review","data":{"target":"openai-2024-12-11/report-sora-login","reason":"mixed up"}})"
        "\n";
    std::vector<std::string> files;
    for (const auto& f : test::files_in("examples", ".jsonl")) files.push_back(f.string());
    const auto s = store_of(files, extra);
    const std::string now = html_of(s, "openai-2024-12-11");
    CHECK(now.find("Sora users report log-in problems") == std::string::npos);
    CHECK(now.find("2024-12-11 22:30 UTC · postmortem · alert (corrected)") != std::string::npos);
    CHECK(now.find("data-milestone=\"first alert\" data-at=\"2024-12-11T22:30:00Z\"") != std::string::npos);
    CHECK(now.find("1 correction, 1 retraction") != std::string::npos);
    CHECK(count(now, "<tr class=\"ev-") == openai_events() - 1);  // one retracted

    auto o = fixed_now();
    // Before the correction was recorded: the alert at its first time.
    o.as_of = parse_timestamp("2024-12-14T00:00:00Z")->ms;
    const std::string then = html_of(s, "openai-2024-12-11", o);
    CHECK(then.find("data-milestone=\"first alert\" data-at=\"2024-12-11T23:13:00Z\"") != std::string::npos);
    CHECK(then.find("(corrected)") == std::string::npos);
    CHECK(then.find("As of 2024-12-14 00:00 UTC") != std::string::npos);
  }

  TEST_CASE("errors: an unknown incident, an unknown zone") {
    const auto s = demo_store();
    auto r = shell::render_html_report(s, "openai-2024-12-1", fixed_now());
    REQUIRE(!r);
    CHECK(r.error().message == "unknown incident 'openai-2024-12-1'; did you mean 'openai-2024-12-11'?");
    auto o = fixed_now();
    o.tz = "Mars/Olympus";
    r = shell::render_html_report(s, "openai-2024-12-11", o);
    REQUIRE(!r);
    CHECK(r.error().message.starts_with("unknown time zone 'Mars/Olympus'"));
  }

  TEST_CASE("a large incident: what is drawn is capped, so the page's size is bounded") {
    // `n` events: reports from 40 sources, 30 components flapping, a metric per minute.
    const auto page_of = [](int n) {
      std::string jsonl =
          R"({"id":"big/incident","incident":"big-1","type":"incident","at":"2025-01-01T00:00:00Z","source":"s0","data":{"title":"Big","org":"Acme","services":["api"]}})"
          "\n";
      for (int i = 0; i < n; ++i) {
        const std::string at = format_iso(timestamp{parse_timestamp("2025-01-01T00:00:00Z")->ms + i * 1000LL});
        const int k = i % 4;
        if (k == 0)
          jsonl += fmt::format(R"({{"incident":"big-1","type":"report","at":"{}","source":"s{}","data":{{"count":{},"text":"r"}}}})",
                               at, i / 4 % 40, i % 977);
        else if (k == 1)
          jsonl += fmt::format(R"({{"incident":"big-1","type":"component","at":"{}","source":"s1","data":{{"component":"c{}","state":"{}"}}}})",
                               at, i / 4 % 30, i / 4 % 60 < 30 ? "major_outage" : "operational");
        else if (k == 2)
          jsonl += fmt::format(R"({{"incident":"big-1","type":"metric","at":"{}","source":"s2","data":{{"name":"m{}","value":{},"unit":"%"}}}})",
                               at, i / 4 % 9, i % 100);
        else
          jsonl += fmt::format(R"({{"incident":"big-1","type":"status","at":"{}","source":"s3","data":{{"status":"{}"}}}})", at,
                               i % 3 == 0 ? "investigating" : "identified");
        jsonl += "\n";
      }
      const auto s = store_of({}, jsonl);
      return html_of(s, "big-1");
    };
    const std::string small = page_of(2'000), large = page_of(24'000), larger = page_of(48'000);
    CHECK(count(large, "data-lane=\"source\"") == 17);  // 16 and "24 other sources"
    CHECK(large.find("data-name=\"24 other sources\"") != std::string::npos);
    CHECK(count(large, "data-lane=\"component\"") == 17);  // 16 and "14 other components"
    CHECK(count(large, "data-plot=\"metric\"") == 6);
    CHECK(count(large, "<tr class=\"ev-") == 2000);
    CHECK(large.find("The first 2,000 of 24,001 events") != std::string::npos);
    CHECK(large.find("class=\"bucket\"") != std::string::npos);
    // Past the caps, twice the events make about the same page.
    MESSAGE(fmt::format("page sizes: {} bytes for 2,001 events, {} for 24,001, {} for 48,001", small.size(),
                        large.size(), larger.size()));
    CHECK(larger.size() < large.size() * 11 / 10);
    CHECK(larger.size() < 3'000'000);
  }

  TEST_CASE("PMQL: report ... format html, and what format a file name gives") {
    auto parsed = query::parse(R"(report meta-2024-12-11 format HTML to "x.html";)");
    REQUIRE(parsed);
    const auto s = demo_store();
    const query::catalog cat = shell::catalog_of(s);
    auto act = query::compile(parsed->statements.front(), cat, query::context{}, "");
    REQUIRE(act);
    const auto& rep = std::get<query::make_report>(*act);
    CHECK(rep.incident == "meta-2024-12-11");
    CHECK(rep.format == "html");
    CHECK(rep.path == "x.html");
    // `format` is no reserved word: an incident may start with it.
    query::context ctx;
    ctx.current_incident = "meta-2024-12-11";
    parsed = query::parse("report format markdown;");
    REQUIRE(parsed);
    act = query::compile(parsed->statements.front(), cat, ctx, "");
    REQUIRE(act);
    CHECK(std::get<query::make_report>(*act).incident == "meta-2024-12-11");
    CHECK(std::get<query::make_report>(*act).format == "markdown");
    parsed = query::parse("report format-test;");
    REQUIRE(parsed);
    parsed = query::parse("report meta-2024-12-11 format pdf;");
    REQUIRE(!parsed);
    CHECK(parsed.error().message.find("markdown or html") != std::string::npos);

    using shell::report_format;
    CHECK(shell::report_format_for(std::nullopt, "a/b.HTML") == report_format::html);
    CHECK(shell::report_format_for(std::nullopt, "b.htm") == report_format::html);
    CHECK(shell::report_format_for(std::nullopt, "b.md") == report_format::markdown);
    CHECK(shell::report_format_for(std::nullopt, "") == report_format::markdown);
    CHECK(shell::report_format_for(report_format::markdown, "b.html") == report_format::markdown);
    CHECK(shell::parse_report_format("Markdown") == report_format::markdown);
    CHECK(!shell::parse_report_format("pdf"));
  }

  TEST_CASE("the command line and the shell write the same page") {
    test::temp_dir tmp;
    const std::string db = (tmp.path / "demo.db").string();
    for (const auto& f : test::files_in("examples", ".jsonl"))
      REQUIRE(test::run_pmdb({"import", db, f.string()}).status == 0);
    const std::string a = (tmp.path / "a.html").string(), b = (tmp.path / "b.html").string();
    auto r = test::run_pmdb({"report", db, "meta-2024-12-11", "--format", "html", "-o", a, "--now", "2025-01-01T00:00Z"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    // In the shell, a file named *.html gets HTML without `format html`.
    r = test::run_pmdb({"--now", "2025-01-01T00:00Z", db, "-c", fmt::format("report meta-2024-12-11 to \"{}\";", b)});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(test::read_file(a).starts_with("<!DOCTYPE html>"));
    CHECK(test::without_hashes(test::read_file(a)) == test::without_hashes(test::read_file(b)));
    r = test::run_pmdb({"report", db, "meta-2024-12-11", "--format", "pdf"});
    CHECK(r.status == 2);
    CHECK(r.err.find("report: --format pdf: expected markdown or html") != std::string::npos);
    r = test::run_pmdb({"report", db, "meta-2024-12-11", "--format", "markdown", "--now", "2025-01-01T00:00Z"});
    CHECK(r.status == 0);
    CHECK(r.out.starts_with("# Facebook, Instagram and WhatsApp outage"));
  }
}
