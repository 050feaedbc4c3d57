#pragma once
// Markdown postmortems rendered from the event log: `report INCIDENT;` in the shell and
// `pmdb report DB INCIDENT` on the command line.
#include <cstdint>
#include <expected>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/event_store.hpp"

namespace pmdb::shell {

// The format of a report: Markdown (render_postmortem) or one self-contained HTML page
// (render_html_report, shell/report_html.hpp).
enum class report_format { markdown, html };

// The format called `name` (`markdown`, `md`, `html`; any case); nullopt for another name.
inline std::optional<report_format> parse_report_format(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (lower == "markdown" || lower == "md") return report_format::markdown;
  if (lower == "html") return report_format::html;
  return std::nullopt;
}

// The format of a report when none was asked: HTML when it is written to a file whose name ends
// in `.html` or `.htm` (any case), else Markdown.
inline report_format report_format_for(std::optional<report_format> asked, std::string_view path) {
  if (asked) return *asked;
  const auto ends = [&](std::string_view ext) {
    if (path.size() < ext.size()) return false;
    for (std::size_t i = 0; i < ext.size(); ++i) {
      char c = path[path.size() - ext.size() + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != ext[i]) return false;
    }
    return true;
  };
  return ends(".html") || ends(".htm") ? report_format::html : report_format::markdown;
}

struct postmortem_options {
  std::optional<std::int64_t> now_ms;  // generation time in the footer (ms since the epoch); nullopt = the clock
  std::string tz;                      // IANA zone for local times (empty = UTC only)
  std::optional<std::int64_t> as_of;   // report what had been recorded by this time (ms); nullopt = now
};

// The postmortem of `incident` as GitHub-flavoured Markdown with one Mermaid `gantt` block,
// computed from the incident's events alone (and, for "Concurrent incidents", the incidents
// read model). Sections follow the Google SRE template; a section with nothing to say is left
// out. Every key duration is computed by running a PMQL `time from A to B` statement, so the
// report and the query language cannot disagree. Text taken from events is escaped, so it
// cannot break a table or inject HTML.
//
// The output is a pure function of the store's content, `opts.now_ms` and `opts.tz`: with
// `now_ms` set it is byte-for-byte reproducible. The store is only read.
//
// Errors: "unknown incident 'X'; did you mean 'Y'?" (the suggestion only when one is close),
// "unknown time zone 'Z' (...)", or a store failure.
//
// The view (core/projection.hpp): what the store believes now or, with `opts.as_of`, as of
// that time (only what had been recorded by then; later corrections not applied; the output
// is then also a function of `opts.as_of`, and says "As of" in its header and footer). Events
// show their corrected time and content, marked "(corrected)" in the timeline; retracted events
// are left out; a "Corrections" section lists the view's corrections and retractions in recorded
// order with what each changed (old → new). The key durations run in the same view. An
// incident with no event recorded by `opts.as_of` fails with errc::not_found, "no such incident
// 'X' as of T"; an unknown incident and an unknown zone are errc::not_found and errc::invalid.
//
// The report is written to `out` section by section as the store is read, so memory does not
// grow with the incident's events (only with its number of components and of metric names).
// Every error that the incident, the zone or the report's PMQL queries can cause comes before
// the first byte is written; a store failure while reading (an interrupt) or a failing `out`
// ("report: cannot write the report") can leave a partial report in `out`, which the caller
// discards. `out` is left in its failed state for the caller to say why.
std::expected<void, pmdb::error> render_postmortem(const pmdb::event_store& store, const std::string& incident,
                                                   const postmortem_options& opts, std::ostream& out);

// The same report as one string: it is held whole, so this is for small incidents and tests.
std::expected<std::string, pmdb::error> render_postmortem(const pmdb::event_store& store, const std::string& incident,
                                                          const postmortem_options& opts);

}  // namespace pmdb::shell
