#pragma once
// Import of Atlassian Statuspage v2 incident JSON (and of pages that serve the same API, such as
// incident.io's). The field-by-field mapping to events is listed at the top of statuspage.cpp.
#include <expected>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "core/import.hpp"

namespace pmdb {

// Imports Statuspage JSON: `/api/v2/incidents.json`, `/unresolved.json` or
// `/scheduled-maintenances.json` ({"page":{…},"incidents":[…]}), `/incidents/ID.json`
// ({"incident":{…}} or a bare incident object), a JSON array of any of these, or several of
// them concatenated (one per line or pretty-printed). Each top-level document is read whole
// (the DOM of one document is the memory high-water mark; the file itself is streamed).
//
// Per incident ID on page P (stream `slug(P)-lower(ID)`, or `PREFIX-lower(ID)`):
//   - one `incident` event (id `sp:ID/incident-HASH`, HASH from its content: a later snapshot
//     whose name, impact, components, shortlink or url changed adds a new incident event,
//     which supersedes the old one in the incidents read model; an unchanged one adds nothing);
//   - per incident update U, a `status` event (id `sp:U`), and a `component` event per entry of
//     U's affected_components (id `sp:U:CODE`, or `sp:U:NAME` without a code).
// Every event is recorded when the page said it, so that `as of T` shows what the page said by
// T: an update's events at the update's created_at; the incident event at the incident's
// created_at, or, when it changed since the store last heard of the incident, at the
// incident's updated_at.
// A status or component event whose id is already stored, and which differs from the version
// the store believed at the update's updated_at (the page edited the update), gives a
// `correction` of it (id `sp:U:edit-HASH`) recorded at that updated_at, never an error. An
// update edited back and forth gives a correction per change; a snapshot read again gives
// none; an older snapshot read after a newer one corrects only what was believed at its own
// updated_at (the newer text stays the present); an event retracted in the store is left alone.
//
// On any error nothing is written; errors name the JSON path, e.g.
// `FILE: incidents[3].incident_updates[0].created_at: not a timestamp (...): found "yesterday"`,
// and a JSON syntax error its line, column and byte.
std::expected<import_file_result, std::vector<error>> import_statuspage(event_store& store, std::istream& in,
                                                                        std::string_view name,
                                                                        const import_options& opts = {});

// The slug of a Statuspage page name: ASCII letters lowercased, every run of other characters
// turned into one '-', no '-' at either end ("Acme Inc." → "acme-inc"); empty when nothing is left.
std::string statuspage_slug(std::string_view text);

}  // namespace pmdb
