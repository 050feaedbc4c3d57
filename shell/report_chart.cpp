// The Markdown postmortem's Mermaid chart. See report_chart.hpp for what it draws.
//
// Mermaid's gantt grammar (its lexer, case-insensitive, tries these before a task's text): a
// task line is `TEXT :DATA` where TEXT has no `#`, `:`, `;` or newline and must not start with
// a directive word (`section`, `title`, `click`, `call`, ...) or a date; DATA has no `#`, `;` or
// newline. `%%` starts a comment. mermaid_name (shell/report_data.cpp) keeps names inside those
// rules. Times are `YYYY-MM-DDTHH:mm` (dateFormat), so a task shorter than a minute is drawn
// from its minute.
#include "shell/report_chart.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "core/projection.hpp"

namespace pmdb::shell {

using namespace report_data;

namespace {

constexpr std::size_t max_tasks = 200;  // per section: beyond, a `%%` comment counts the rest
constexpr std::size_t max_listed = 10;  // the first metric values and communications drawn

class chart_writer {
  // Section numbers; the components' follow `components_id`, one each.
  static constexpr std::size_t status_id = 1, milestones_id = 2, metrics_id = 3, reports_id = 4, comms_id = 5,
                               components_id = 6;

 public:
  chart_writer(const mermaid_chart_input& in, const std::function<void(std::string_view)>& put,
               const std::function<bool()>& good)
      : in_(in), put_(put), good_(good) {}

  std::expected<void, error> run() {
    if (auto r = status(); !r) return r;
    milestones();
    if (auto r = components(); !r) return r;
    if (auto r = metrics(); !r) return r;
    reports();
    if (auto r = comms(); !r) return r;
    left_out();
    if (begun_) put_("```\n");
    return {};
  }

 private:
  void begin() {
    if (std::exchange(begun_, true)) return;
    put_("\n## Chart\n\nThe incident on one time axis (UTC): status phases, milestones, component states, metric "
         "values, report counts and communications, where the incident has them.\n\n```mermaid\ngantt\n");
    put_("    title " + mermaid_name(in_.inc.title.empty() ? in_.inc.id : in_.inc.title) + "\n");
    put_("    dateFormat YYYY-MM-DDTHH:mm\n    axisFormat %H:%M\n    todayMarker off\n");
  }

  // A task from `from` to `to` (equal for a milestone) in section number `id` named `name`. The
  // chart is begun only once it has something spread over time (a task that lasts, or tasks at two
  // times): until then the tasks wait (a single moment makes no chart).
  void task(std::size_t id, const std::string& name, const std::string& line, std::int64_t from, std::int64_t to) {
    if (!begun_) {
      const bool spread = from != to || (first_at_ && *first_at_ != from) || waiting_.size() == max_tasks;
      if (!spread) {
        first_at_ = from;
        waiting_.push_back({id, name, line});
        return;
      }
      begin();
      for (const auto& w : waiting_) write(w.id, w.name, w.line);
      waiting_.clear();
    }
    write(id, name, line);
  }
  void moment(std::size_t id, const std::string& name, const std::string& label, std::int64_t at) {
    task(id, name, milestone_task(label, at), at, at);
  }

  // Starts section number `id` named `name` (when it is not the current one), then writes `line`
  // unless the section is full.
  void write(std::size_t id, const std::string& name, const std::string& line) {
    if (id != section_) {
      left_out();
      section_ = id;
      put_("    section " + name + "\n");
    }
    if (tasks_++ < max_tasks) put_("    " + line + "\n");
  }
  // Closes the current section: counts what it left out.
  void left_out() {
    if (tasks_ > max_tasks)
      put_(fmt::format("    %% {} more tasks of this section not drawn\n", tasks_ - max_tasks));
    tasks_ = 0;
  }

  static std::string milestone_task(const std::string& name, std::int64_t at) {
    return fmt::format("{} :milestone, {}, 0m", name, gantt_time(at));
  }

  // Status phases: each status change lasts until the next one; `resolved`, `completed` and
  // `postmortem` are points (postmortem is left out: it is not a phase of the outage), and a
  // last open phase runs to the incident's end. Each task is written when the change after it
  // is read, so the state is one pending change.
  std::expected<void, error> status() {
    std::optional<ev> pending;
    const auto status_task = [&](const ev& e, std::int64_t to) {
      const std::string name = mermaid_name(e.status);
      if (e.status == "resolved" || e.status == "completed")
        moment(status_id, "Status", name, e.at);
      else
        task(status_id, "Status", fmt::format("{} :{}, {}", name, gantt_time(e.at), gantt_time(to)), e.at, to);
    };
    auto r = each_believed(in_.store, in_.inc.id, in_.as_of, "v.type = 'status'", {}, "v.at, v.seq", [&](ev& e) {
      if (e.status == "postmortem" || (pending && pending->status == e.status)) return good_();
      if (pending) status_task(*pending, e.at);
      pending = std::move(e);
      return good_();
    });
    if (!r) return r;
    if (pending) status_task(*pending, in_.inc.ended);
    return {};
  }

  // The milestones that are no status post (the Status section shows those), each once: a
  // `last` milestone at the time of its `first` is the same event.
  void milestones() {
    for (const auto& m : in_.milestones) {
      if (!m.at || m.m.pmql == "start" || m.m.pmql.find(" status ") != std::string::npos) continue;
      std::string name = m.m.label;
      if (m.event) name += " (" + m.event->source + ")";
      moment(milestones_id, "Milestones", mermaid_name(name), *m.at);
    }
  }

  // Component events grouped by component, in order of its first mention (SQL sorts them):
  // every non-operational span.
  std::expected<void, error> components() {
    const projection::sql_text b = projection::believed("v", in_.as_of.has_value());
    std::vector<value> params = {in_.inc.id};
    bind_as_of(params, b, in_.as_of);
    static const std::vector<column> cols =
        version_cols({{"first_at", value_type::timestamp}, {"first_seq", value_type::integer}});
    std::optional<std::int64_t> current;  // first_seq of the component being read
    std::optional<span_folder> folder;
    std::size_t section = components_id;
    std::string name;
    const auto span = [&](const std::string& state, std::int64_t from, std::int64_t to, bool open) {
      const std::string_view tag = state == "major_outage" ? "crit, " : state == "partial_outage" ? "active, " : "";
      task(section, name,
           fmt::format("{} :{}{}, {}", mermaid_name(state) + (open ? " (open)" : ""), tag, gantt_time(from),
                       gantt_time(to)),
           from, to);
    };
    auto r = in_.store.query_each(
        fmt::format("SELECT {}, first_value(v.at) OVER w AS first_at, first_value(v.seq) OVER w AS first_seq FROM {} v "
                    "WHERE v.incident = ? AND {} AND v.type = 'component' "
                    "WINDOW w AS (PARTITION BY coalesce(v.component, '') ORDER BY v.at, v.seq) "
                    "ORDER BY first_at, first_seq, v.at, v.seq",
                    version_columns, projection::versions_table, b.sql),
        params, cols, [&](std::vector<value>& row) {
          const std::int64_t first_seq = int_of(row[n_version_columns + 1]);
          const ev e = to_ev(row);
          if (current != first_seq) {
            if (folder) folder->finish(in_.inc.ended, span);
            current = first_seq;
            folder.emplace(e.at);
            ++section;
            name = mermaid_name(e.component);
          }
          folder->next(e, span);
          return good_();
        });
    if (!r) return r;
    if (folder) folder->finish(in_.inc.ended, span);
    return {};
  }

  // The first metric values: when "99% fixed" was said, and by whom.
  std::expected<void, error> metrics() {
    return each_believed(in_.store, in_.inc.id, in_.as_of, "v.type = 'metric'", {},
                         fmt::format("v.at, v.seq LIMIT {}", max_listed), [&](ev& e) {
                           // `%` starts a comment in Mermaid: mermaid_name drops it, so it is spelt out.
                           const std::string v = e.value ? fmt::format("{}", *e.value) : "?";
                           const std::string unit = e.unit == "%" ? " percent" : e.unit.empty() ? "" : " " + e.unit;
                           moment(metrics_id, "Metrics", mermaid_name(e.metric + " = " + v + unit + " (" + e.source + ")"),
                                  e.at);
                           return good_();
                         });
  }

  void reports() {
    std::vector<const ev*> counts;
    for (const auto& c : in_.top_counts) counts.push_back(&c);
    std::ranges::stable_sort(counts, {}, [](const ev* e) { return std::pair(e->at, e->seq); });
    for (const ev* c : counts)
      moment(reports_id, "Reports", mermaid_name(group_digits(c->value.value_or(0)) + " reports (" + c->source + ")"),
             c->at);
  }

  std::expected<void, error> comms() {
    return each_believed(in_.store, in_.inc.id, in_.as_of, "v.type = 'comm'", {},
                         fmt::format("v.at, v.seq LIMIT {}", max_listed), [&](ev& e) {
                           std::string who = e.author.empty() ? e.source : e.author;
                           if (!e.channel.empty() && e.channel != "other") who += " on " + e.channel;
                           if (!e.author.empty() && e.source != e.author) who += " (" + e.source + ")";
                           moment(comms_id, "Communications", mermaid_name(who), e.at);
                           return good_();
                         });
  }

  const mermaid_chart_input& in_;
  const std::function<void(std::string_view)>& put_;
  const std::function<bool()>& good_;
  bool begun_ = false;
  struct waiting {
    std::size_t id;
    std::string name, line;
  };
  std::vector<waiting> waiting_;            // tasks before the chart is begun, all at one moment
  std::optional<std::int64_t> first_at_;  // that moment
  std::size_t section_ = 0;  // the section being written (0: none yet)
  std::size_t tasks_ = 0;
};

}  // namespace

std::expected<void, error> write_mermaid_chart(const mermaid_chart_input& in,
                                               const std::function<void(std::string_view)>& put,
                                               const std::function<bool()>& good) {
  chart_writer w(in, put, good);
  return w.run();
}

}  // namespace pmdb::shell
