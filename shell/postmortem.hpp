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
  std::optional<std::int64_t> now_ms;  // the report's time: its date, the footer, "so far" and "overdue"
                                       // (ms since the epoch; nullopt = the clock; as_of replaces it for the last two)
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
// The header: the document's status (the last note with a `document` field: draft, in_review,
// final; draft when none), the report's date (`now_ms`, else the clock), the authors and the
// other roles (for each role, the last note naming it in `role`, with its `people`), then the
// incident, its customer impact, its Duration and its resolution. Every one of these is a new
// event when it changes, never an edit: the last one in occurred order (at, then store order) wins.
//
// Duration is the customer impact, from its first impact to its end:
//   first impact: the first of these the incident records: a note tagged `impact-start`; a
//     component entering degraded_performance, partial_outage or major_outage; an outside
//     `report`; an `alert`; else the incident's first event;
//   end: the first of these that is recorded at or after the last start (the last
//     `impact-start` note, else the first impact): the last note tagged `impact-end`; once every
//     component that left operational is operational again, the last one's return; the
//     resolution (the first `resolved` or `completed` status after the last open status, the
//     incidents read model's `ended`).
// It is the PMQL `time from A to B` the report lists first under Key durations (a note is named
// by its id there). With no end the incident is ongoing: "ongoing, 3h12m so far", counted from
// the first impact to `as_of` when given, else to the report's time. The time from the first
// `change` to the first impact and to the resolution are key durations of their own.
//
// Lessons learned: the notes tagged `went-well`, `went-wrong` and `lucky`. Action items: each
// `action` without `of` is an item; an `action` with `of` updates that item's state (open,
// in_progress, done, wont_do), owner, due date, tracker or kind, its last update winning; an
// open or in-progress item past its due date (against the same time as "so far") is overdue. An
// update whose item is not in the view is listed apart.
//
// Compared with the Google SRE book's example postmortem, the report has no prose "Resolution"
// (the response is a list of events), no impact in business terms unless metrics are recorded
// (queries lost, revenue), no incident number, no "Supporting information" (links to
// dashboards, the incident's url), and action items have no priority nor a bug link other
// than `tracker`.
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

// The customer impact, as the report's Duration counts it (the rule is render_postmortem's): the
// first impact and its end, each named as the report names it, in plain text ("first report ·
// ~2024-12-11 17:36 · source"), the duration when the impact ended, else the time so far (to the report's
// time, or to `opts.as_of`), and the PMQL statement that asks for it (empty when none can).
// nullopt when nothing in the incident is an impact. The HTML report shows the same figure.
struct customer_impact {
  std::int64_t from = 0;
  std::optional<std::int64_t> to;       // nullopt: ongoing (no end recorded)
  std::string from_label, to_label;
  std::int64_t ms = 0;                  // the impact's duration, or its time so far
  std::string statement;
};
std::expected<std::optional<customer_impact>, pmdb::error> compute_customer_impact(
    const pmdb::event_store& store, const std::string& incident, const postmortem_options& opts);

// The same report as one string: it is held whole, so this is for small incidents and tests.
std::expected<std::string, pmdb::error> render_postmortem(const pmdb::event_store& store, const std::string& incident,
                                                          const postmortem_options& opts);

}  // namespace pmdb::shell
