#pragma once
// The incident as one self-contained HTML5 page: `report INCIDENT format html [to "F"]` in the
// shell and `pmdb report DB INCIDENT --format html` on the command line.
#include <expected>
#include <iosfwd>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/event_store.hpp"
#include "shell/postmortem.hpp"

namespace pmdb::shell {

// Writes the page: a header with the key figures, then one SVG picture of the incident on a UTC
// time axis: the status phases as a band, one lane per component (its states as coloured bars),
// one lane per source (its events as marks), where sources disagree (each fact's observations
// joined), the report counts and each metric as small plots, and the milestones of the key
// durations as labelled vertical markers (the same milestones, timed by the same PMQL, as the
// Markdown report's key durations). Every mark has hover text (an SVG <title>) with the event's
// time, source, type and text. Below the picture: the milestones, and the table of events.
//
// The page needs nothing outside itself: CSS and SVG are inline, no script, no font, no image,
// and its Content-Security-Policy forbids loading anything. It reads well printed (@media print)
// and in dark mode (prefers-color-scheme).
//
// The view, the errors and what `opts` means are those of render_postmortem (shell/postmortem.hpp):
// corrections applied, retracted events left out, `as_of` for what had been recorded by then,
// `now_ms` for a reproducible footer, `tz` for local times in the header. Every error the
// incident, the zone or the PMQL queries can cause comes before the first byte is written.
//
// Size: what is drawn is capped (see report_html.cpp: marks per lane, lanes, plots, facts where
// sources disagree, rows of the event table); beyond a cap events are counted per time bucket or
// left out, and the page says so. Memory holds what is drawn, not the incident's events.
//
// All text from events is untrusted: it is written only through escape_html.
std::expected<void, pmdb::error> render_html_report(const pmdb::event_store& store, const std::string& incident,
                                                    const postmortem_options& opts, std::ostream& out);

// The same page as one string (for tests and small incidents).
std::expected<std::string, pmdb::error> render_html_report(const pmdb::event_store& store, const std::string& incident,
                                                           const postmortem_options& opts);

// `s` as HTML text or a quoted attribute value, in HTML and in inline SVG: `& < > " '` as
// entities, ill-formed UTF-8 as U+FFFD, control characters (C0 but tab and line feed, DEL, C1)
// removed, a tab as a space.
std::string escape_html(std::string_view s);

}  // namespace pmdb::shell
