#pragma once
// The Markdown postmortem's Mermaid chart: the incident on one time axis, near the top of the
// report (shell/postmortem.cpp calls it once, after the summary).
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/event_store.hpp"
#include "shell/report_data.hpp"

namespace pmdb::shell {

struct mermaid_chart_input {
  const event_store& store;
  const report_data::incident_row& inc;
  std::optional<std::int64_t> as_of;                             // the report's view
  const std::vector<report_data::resolved_milestone>& milestones;  // with their events matched
  const std::vector<report_data::ev>& top_counts;                // the largest report counts, largest first
};

// Writes a `## Chart` section with one Mermaid `gantt` block through `put`, when the incident has
// anything to draw over time (a phase or span that lasts, or moments at two times or more);
// nothing otherwise. Its sections, each only when it has a task:
//   Status         the status phases (each status until the next one; `resolved` and
//                  `completed` as milestones; `postmortem` left out);
//   Milestones     the key durations' milestones that are no status post (first report, first
//                  alert, first metric fixed ≥ 99), each with the source that said it;
//   a component    per component, in order of first mention: its non-operational spans
//                  (major outage `crit`, partial outage `active`; "(open)" when never left);
//   Metrics        the first metric values (who said "99% fixed", when), in time order;
//   Reports        the largest report counts, in time order;
//   Communications the first communications, in time order.
// Every name goes through mermaid_name. Events are read from the store a row at a time; a
// section draws at most a bounded number of tasks and says in a Mermaid comment (`%%`) how many
// it left out, so that the chart stays renderable whatever the incident's size. `good()` says
// whether the output is still good (reading stops when it is not).
std::expected<void, error> write_mermaid_chart(const mermaid_chart_input& in,
                                               const std::function<void(std::string_view)>& put,
                                               const std::function<bool()>& good);

}  // namespace pmdb::shell
