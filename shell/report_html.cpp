// The HTML report. See report_html.hpp for the contract.
//
// How it is made
// --------------
// * The same data as the Markdown report (shell/report_data.hpp): the incident's row, its
//   events believed in the view in occurred order, the milestones timed by PMQL
//   (`time from start to M`), the incident's end (`time from start to first status resolved`,
//   else `... to end`), where sources disagree grouped by the same SQL.
// * One pass over the events builds the picture's model (below); the page's header and picture
//   are written from it, then a second pass writes the event table a row at a time.
// * The time axis runs from the incident's start to its end (first resolved status, else last
//   event). Events after the end (a postmortem, action items) are drawn in a narrow "later" zone
//   at the right, in order but not to scale.
//
// Caps (what is drawn is bounded, whatever the incident's size; the page states them):
// * source lanes: max_source_lanes; further sources share one "other sources" lane;
// * component lanes: max_component_lanes; further components share one lane showing, per time
//   bucket, the worst state among them;
// * marks per source lane: max_marks; a lane with more is drawn as event counts per time bucket
//   (n_buckets buckets over the axis);
// * state changes per component or status band: max_spans; beyond, per bucket the worst state;
// * metric plots: max_metric_plots names; points per plot: max_points, beyond, per bucket the
//   largest value; the report count plot likewise;
// * facts where sources disagree: max_facts, max_observations each;
// * event table rows: max_table_rows.
// Hover texts are cut at max_title characters. So a 1M-event incident gives a page of bounded
// size, and the memory held is that of the drawing.
//
// Escaping: every text that comes from the store (event texts, sources, names, the title) goes
// through escape_html, in element content and in attribute values alike; CSS classes are made
// only from fixed words.
#include "shell/report_html.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <date/tz.h>
#include <fmt/format.h>

#include "core/projection.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "shell/report_data.hpp"

namespace pmdb::shell {

std::string escape_html(std::string_view raw) {
  const std::string s = valid_utf8(raw);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t': out += ' '; break;
      case '\n': out += '\n'; break;
      default:
        if (c < 0x20 || c == 0x7f) break;  // other C0 controls and DEL
        // C1 controls, U+0080..U+009F: C2 80..C2 9F in UTF-8.
        if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
          ++i;
          break;
        }
        out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

using namespace report_data;

// ------------------------------------------------------------------ caps and layout

constexpr std::size_t max_source_lanes = 16;
constexpr std::size_t max_component_lanes = 16;
constexpr std::size_t max_marks = 300;
constexpr std::size_t max_spans = 300;
constexpr std::size_t max_metric_plots = 6;
constexpr std::size_t max_points = 300;
constexpr std::size_t max_facts = 12;
constexpr std::size_t max_observations = 12;
constexpr std::size_t max_table_rows = 2000;
constexpr std::size_t max_title = 400;
constexpr int n_buckets = 200;

constexpr double width = 1200;       // the picture's width (SVG user units, about pixels)
constexpr double label_w = 200;      // the lane names at the left
constexpr double right_pad = 24;     // after the axis
constexpr double later_w = 84;       // the "later" zone, when there is one
constexpr double lane_h = 24;        // a source or component lane
constexpr double band_h = 26;        // the status band
constexpr double group_h = 22;       // a group's heading row
constexpr double fact_h = 20;        // one fact where sources disagree
constexpr double plot_h = 78;        // a plot
constexpr double char_w = 6.4;       // the width of a character at 11px, for placing labels

std::string h(std::string_view s) { return escape_html(s); }

// `s` cut to `n` characters (UTF-8 aware), `…` at the end when cut.
std::string cut(std::string_view s, std::size_t n) {
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == n) return std::string(s.substr(0, i)) + "…";
      ++chars;
    }
  }
  return std::string(s);
}

std::string num(double v) { return fmt::format("{:.1f}", v); }

// The CSS class of a state or status: fixed words only, never text from the store.
std::string_view state_class(std::string_view state) {
  for (std::string_view known : {"operational", "degraded_performance", "partial_outage", "major_outage",
                                 "under_maintenance", "investigating", "identified", "monitoring", "resolved",
                                 "completed", "scheduled", "in_progress", "verifying"})
    if (state == known) return known;
  return "other";
}

std::string_view type_class(std::string_view type) {
  for (std::string_view known :
       {"incident", "status", "report", "alert", "change", "metric", "comm", "component", "cause", "action", "note"})
    if (type == known) return known;
  return "other";
}

// The order of severity of a status band's phases, for bucketing (worst first shown).
int phase_rank(std::string_view status) {
  if (status == "investigating") return 4;
  if (status == "identified") return 3;
  if (status == "monitoring") return 2;
  if (status == "resolved" || status == "completed") return 1;
  return 0;
}

std::string hhmm(std::int64_t ms) { return format_iso(timestamp{ms}).substr(11, 5); }
std::string ymd(std::int64_t ms) { return format_iso(timestamp{ms}).substr(0, 10); }

// What an event says besides its text: a status, a component's state, a metric's value, ...
std::string event_what(const ev& e) {
  if (e.type == "status") return e.status;
  if (e.type == "component") return e.component + " → " + e.state;
  if (e.type == "metric") return e.metric + " = " + (e.value ? fmt::format("{}", *e.value) : "?") + e.unit;
  if (e.type == "report" && e.value) return group_digits(*e.value) + " reports";
  if (e.type == "comm") return e.author + (e.channel.empty() || e.channel == "other" ? "" : " on " + e.channel);
  if (e.type == "cause") return e.kind;
  if (e.type == "action" && !e.owner.empty()) return "owner " + e.owner;
  if (e.type == "note") return join(e.tags, ", ");
  return {};
}

// The hover text of an event: its time, source, type and text.
std::string event_title(const ev& e) {
  const std::string what = event_what(e);
  std::string s = fmt::format("{} UTC · {} · {}", when(e), e.source.empty() ? "(no source)" : e.source, e.type);
  if (!what.empty()) s += " · " + what;
  if (e.corrected) s += " (corrected)";
  if (!e.text.empty()) s += "\n" + e.text;
  return cut(s, max_title);
}

// ------------------------------------------------------------------ the picture's model

struct mark {
  std::int64_t at = 0;
  std::string_view cls;  // type_class
  std::string title;
  bool disagree = false;
};

// A source lane: its marks, or past max_marks, counts per bucket.
struct source_lane {
  std::string name;
  std::size_t n = 0;
  std::vector<mark> marks;
  std::vector<std::int64_t> counts;  // per bucket, once bucketed
};

struct span {
  std::int64_t from = 0, to = 0;
  std::string state;
  std::string title;
  bool open = false;
};

// A component lane or the status band: spans of states, each until the next different state;
// past max_spans, per bucket the worst state.
struct state_lane {
  std::string name;
  std::size_t changes = 0;
  std::vector<span> spans;
  std::vector<std::pair<int, std::string>> worst;  // per bucket (rank, state); rank -1: nothing
  // The state being folded.
  std::optional<span> current;
};

struct point {
  std::int64_t at = 0;
  double value = 0;
  std::size_t series = 0;  // index of its source in the plot's series
  std::string title;
};

// A plot: points per source (a series), or past max_points, the largest value per bucket.
struct plot {
  std::string name, unit;
  std::size_t n = 0;
  std::vector<std::string> series;  // source names, in order of first point
  std::vector<point> points;
  std::vector<std::optional<double>> bucket_max;
  double max = 0;
};

struct observation {
  std::int64_t at = 0;
  std::string source, title;
};
struct fact {
  std::string label;
  std::int64_t lo = 0, hi = 0;
  std::vector<observation> obs;
  std::size_t more = 0;  // observations not kept
};

// ------------------------------------------------------------------ the writer

class html_writer : block_writer {
 public:
  html_writer(const event_store& store, incident_row inc, const postmortem_options& opts, const date::time_zone* zone,
              std::ostream& out)
      : block_writer(out), store_(store), inc_(std::move(inc)), opts_(opts), zone_(zone), q_(store, inc_.id, opts.as_of) {}

  std::expected<void, error> run() {
    // Every PMQL query and every read before the table comes before the first byte is written.
    auto end = end_of(q_, inc_);
    if (!end) return std::unexpected(end.error());
    end_ = std::move(*end);
    auto impact = compute_customer_impact(store_, inc_.id, opts_);
    if (!impact) return std::unexpected(impact.error());
    impact_ = std::move(*impact);
    auto ms = resolve_milestones(q_, inc_.started);
    if (!ms) return std::unexpected(ms.error());
    milestones_ = std::move(*ms);
    if (auto r = read_range(); !r) return r;
    if (auto r = read_disagreements(); !r) return r;
    if (auto r = read_events(); !r) return r;
    head();
    header();
    picture();
    milestone_table();
    if (auto r = event_table(); !r) return r;
    footer();
    flush();
    return written();
  }

 private:
  // ---------------------------------------------------------------- output


  // ---------------------------------------------------------------- time axis

  // The axis: [t0_, t1_] to scale; after t1_, up to last_, the "later" zone.
  double x0() const { return label_w; }
  double x1() const { return width - right_pad - (has_later() ? later_w : 0); }
  bool has_later() const { return last_ > t1_; }
  double x(std::int64_t t) const {
    if (t <= t1_ || !has_later()) {
      const double span_ms = static_cast<double>(std::max<std::int64_t>(t1_ - t0_, 1));
      return x0() + (x1() - x0()) * static_cast<double>(std::clamp(t, t0_, t1_) - t0_) / span_ms;
    }
    const double zone0 = x1() + 18, zone1 = width - right_pad;
    const double frac = static_cast<double>(t - t1_) / static_cast<double>(std::max<std::int64_t>(last_ - t1_, 1));
    return zone0 + (zone1 - zone0) * frac;
  }
  int bucket(std::int64_t t) const {
    const double f = (x(t) - x0()) / (width - right_pad - x0());
    return std::clamp(static_cast<int>(f * n_buckets), 0, n_buckets - 1);
  }
  // The time at the left edge of bucket `b` (within the scaled axis; the later zone is one span).
  std::string bucket_label(int b) const {
    const double xa = x0() + (width - right_pad - x0()) * b / n_buckets;
    if (xa >= x1()) return "after " + utc(t1_);
    const double f = (xa - x0()) / (x1() - x0());
    return utc(t0_ + static_cast<std::int64_t>(f * static_cast<double>(t1_ - t0_)));
  }
  double bucket_x(int b) const { return x0() + (width - right_pad - x0()) * b / n_buckets; }

  // ---------------------------------------------------------------- reading

  std::expected<void, error> read_range() {
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    static const std::vector<column> cols = {
        {"lo", value_type::timestamp}, {"hi", value_type::timestamp}, {"n", value_type::integer},
        {"sources", value_type::integer}};
    auto rs = store_.query(fmt::format("SELECT min(v.at), max(v.at), count(*), count(DISTINCT v.source) FROM {} v "
                                       "WHERE v.incident = ? AND {} AND v.type NOT IN ('correction', 'retraction')",
                                       projection::versions_table, b.sql),
                           params, cols);
    if (!rs) return std::unexpected(rs.error());
    t0_ = inc_.started;
    last_ = end_.at;
    if (!rs->rows.empty()) {
      const auto& r = rs->rows.front();
      if (!std::holds_alternative<null_value>(r[0])) t0_ = std::min(t0_, int_of(r[0]));
      if (!std::holds_alternative<null_value>(r[1])) last_ = std::max(last_, int_of(r[1]));
      n_total_ = int_of(r[2]);
      n_sources_ = int_of(r[3]);
    }
    t1_ = std::max(end_.at, t0_ + 60'000);
    // A little room at both ends so that the first and the last marks are not on the edge.
    const std::int64_t pad = (t1_ - t0_) / 50;
    t0_ -= pad;
    t1_ += pad;
    if (last_ <= t1_) last_ = t1_;
    return {};
  }

  std::expected<void, error> read_disagreements() {
    if (n_sources_ < 2) return {};
    const projection::sql_text b = projection::believed("v", opts_.as_of.has_value());
    std::vector<value> params = {inc_.id};
    bind_as_of(params, b, opts_.as_of);
    std::optional<std::pair<std::int64_t, std::int64_t>> group;
    return store_.query_each(disagreement_sql(b.sql, store_.dialect()), params, disagreement_cols(), [&](std::vector<value>& row) {
      const std::int64_t ko = int_of(row[n_version_columns]);
      const std::int64_t lo = int_of(row[n_version_columns + 1]);
      const std::int64_t first_seq = int_of(row[n_version_columns + 2]);
      const ev e = to_ev(row);
      if (group != std::pair(first_seq, ko)) {
        group = std::pair(first_seq, ko);
        if (facts_.size() == max_facts) {
          ++more_facts_;
          return out_.good();
        }
        facts_.push_back({fact_label(ko, e), lo, lo, {}, 0});
      } else if (facts_.size() == max_facts && more_facts_ > 0) {
        return true;  // an observation of a fact not kept
      }
      fact& f = facts_.back();
      f.hi = std::max(f.hi, e.at);
      if (f.obs.size() < max_observations) {
        f.obs.push_back({e.at, e.source, event_title(e) + (e.at == lo ? "" : "\n" + elapsed(e.at - lo) + " after the earliest")});
        disagreeing_.push_back(e.seq);
      } else {
        ++f.more;
      }
      return true;
    });
  }

  static std::string fact_label(std::int64_t ko, const ev& e) {
    if (ko == 1) return group_digits(e.value.value_or(0)) + " reports";
    if (ko == 2) return "start of impact";
    if (e.type == "metric")
      return fmt::format("{} = {}{}", e.metric, e.value ? fmt::format("{}", *e.value) : "?", e.unit);
    if (e.type == "status") return "status " + e.status;
    return e.component + " → " + e.state;
  }

  source_lane& lane_of(const std::string& source) {
    const auto it = source_index_.find(source);
    if (it != source_index_.end()) return sources_[it->second];
    if (source_index_.size() < max_source_lanes) {
      source_index_.emplace(source, sources_.size());
      sources_.push_back({source, 0, {}, {}});
      return sources_.back();
    }
    if (!other_sources_) other_sources_.emplace(source_lane{"", 0, {}, {}});
    return *other_sources_;
  }

  void add_mark(source_lane& l, const ev& e) {
    ++l.n;
    if (l.counts.empty() && l.marks.size() < max_marks) {
      const bool disagree = std::ranges::find(disagreeing_, e.seq) != disagreeing_.end();
      l.marks.push_back({e.at, type_class(e.type), event_title(e), disagree});
      return;
    }
    if (l.counts.empty()) {
      l.counts.assign(n_buckets, 0);
      for (const auto& m : l.marks) ++l.counts[bucket(m.at)];
      l.marks.clear();
      l.marks.shrink_to_fit();
    }
    ++l.counts[bucket(e.at)];
  }

  // Folds state `state` from `at` into `l`; `rank` orders states for bucketing.
  void add_state(state_lane& l, const std::string& state, std::int64_t at, const std::string& title,
                 int (*rank)(std::string_view)) {
    if (l.current && l.current->state == state) return;
    if (l.current) {
      l.current->to = at;
      close(l, std::move(*l.current), rank);
    }
    l.current = span{at, at, state, title, false};
  }
  void close(state_lane& l, span s, int (*rank)(std::string_view)) {
    ++l.changes;
    if (l.worst.empty() && l.spans.size() < max_spans) {
      l.spans.push_back(std::move(s));
      return;
    }
    if (l.worst.empty()) {
      l.worst.assign(n_buckets, {-1, {}});
      for (auto& old : l.spans) paint(l, old, rank);
      l.spans.clear();
      l.spans.shrink_to_fit();
    }
    paint(l, s, rank);
  }
  void paint(state_lane& l, const span& s, int (*rank)(std::string_view)) const {
    for (int b = bucket(s.from), e = bucket(std::max(s.from, s.to)); b <= e; ++b)
      if (rank(s.state) > l.worst[b].first) l.worst[b] = {rank(s.state), s.state};
  }
  void finish(state_lane& l, std::int64_t end, int (*rank)(std::string_view)) {
    if (!l.current) return;
    l.current->to = std::max(end, l.current->from);
    l.current->open = true;
    close(l, std::move(*l.current), rank);
    l.current.reset();
  }

  void add_point(plot& p, const ev& e) {
    ++p.n;
    const double v = *e.value;
    p.max = std::max(p.max, v);
    if (p.bucket_max.empty() && p.points.size() < max_points) {
      auto it = std::ranges::find(p.series, e.source);
      if (it == p.series.end()) it = p.series.insert(p.series.end(), e.source);
      p.points.push_back({e.at, v, static_cast<std::size_t>(it - p.series.begin()), event_title(e)});
      return;
    }
    if (p.bucket_max.empty()) {
      p.bucket_max.assign(n_buckets, std::nullopt);
      for (const auto& q : p.points) {
        auto& m = p.bucket_max[bucket(q.at)];
        m = std::max(m.value_or(q.value), q.value);
      }
      p.points.clear();
      p.points.shrink_to_fit();
    }
    auto& m = p.bucket_max[bucket(e.at)];
    m = std::max(m.value_or(v), v);
  }

  std::expected<void, error> read_events() {
    std::map<std::string, std::size_t> component_index;
    std::map<std::string, std::size_t> metric_index;
    const auto rank_state = [](std::string_view s) { return severity_rank(s); };
    auto r = each_believed(store_, inc_.id, opts_.as_of, "1", {}, "v.at, v.seq", [&](ev& e) {
      if (e.is_audit()) {
        ++(e.type == "retraction" ? n_retractions_ : n_corrections_);
        return true;
      }
      ++n_events_;
      match_milestones(milestones_, e);
      add_mark(lane_of(e.source), e);
      if (e.type == "status" && e.status != "postmortem") {
        if (!status_) status_.emplace(state_lane{"Status", 0, {}, {}, std::nullopt});
        add_state(*status_, e.status, e.at, event_title(e), phase_rank);
      } else if (e.type == "component") {
        auto it = component_index.find(e.component);
        if (it == component_index.end() && component_index.size() < max_component_lanes) {
          it = component_index.emplace(e.component, components_.size()).first;
          components_.push_back({e.component, 0, {}, {}, std::nullopt});
        }
        if (it != component_index.end()) {
          add_state(components_[it->second], e.state, e.at, event_title(e), rank_state);
        } else {
          // Further components share one lane: per bucket, the worst state among them.
          if (!other_components_) {
            other_components_.emplace(state_lane{"", 0, {}, {}, std::nullopt});
            other_components_->worst.assign(n_buckets, {-1, {}});
          }
          other_component_names_.emplace(e.component, std::pair<std::string, std::int64_t>{e.state, e.at});
          auto& [state, since] = other_component_names_[e.component];
          if (state != e.state) {
            paint(*other_components_, span{since, e.at, state, {}, false}, rank_state);
            state = e.state;
            since = e.at;
          }
        }
        if (e.state != "operational") affected_.insert(e.component);
      } else if (e.type == "metric" && e.value) {
        auto it = metric_index.find(e.metric);
        if (it == metric_index.end() && metric_index.size() < max_metric_plots) {
          it = metric_index.emplace(e.metric, metrics_.size()).first;
          metrics_.push_back({e.metric, e.unit, 0, {}, {}, {}, 0});
        }
        if (it == metric_index.end()) {
          ++more_metric_points_;
        } else {
          add_point(metrics_[it->second], e);
          auto& peak = peaks_[it->second];
          if (!peak || *e.value > *peak->value) peak = e;
        }
      } else if (e.type == "report" && e.value) {
        add_point(counts_, e);
        if (!peak_report_ || *e.value > *peak_report_->value) peak_report_ = e;
      }
      return out_.good();
    });
    if (!r) return r;
    if (status_) finish(*status_, inc_.ended, phase_rank);
    for (auto& c : components_) finish(c, inc_.ended, rank_state);
    if (other_components_) {
      other_components_->name = fmt::format("{} other component{}", other_component_names_.size(),
                                            other_component_names_.size() == 1 ? "" : "s");
      for (const auto& [name, st] : other_component_names_)
        paint(*other_components_, span{st.second, std::max(inc_.ended, st.second), st.first, {}, true}, rank_state);
      other_component_names_.clear();
    }
    if (other_sources_)
      other_sources_->name = fmt::format("{} other source{}", n_sources_ - static_cast<std::int64_t>(sources_.size()),
                                         n_sources_ - static_cast<std::int64_t>(sources_.size()) == 1 ? "" : "s");
    return {};
  }

  // ---------------------------------------------------------------- the page

  std::string local(std::int64_t ms) const {
    const date::sys_time<std::chrono::milliseconds> t{std::chrono::milliseconds{ms}};
    return date::format("%Y-%m-%d %H:%M %Z", date::zoned_time<std::chrono::milliseconds>{zone_, t});
  }
  std::string utc_and_local(std::int64_t ms) const {
    std::string s = utc(ms) + " UTC";
    if (zone_) s += " (" + local(ms) + ")";
    return s;
  }

  void head() {
    const std::string title = inc_.title.empty() ? inc_.id : inc_.title;
    put("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Nothing may be loaded: the page is whole in itself.
    put("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    put("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    put("<meta name=\"color-scheme\" content=\"light dark\">\n");
    put("<title>" + h(title) + " · postmortem</title>\n<style>\n");
    put(R"(:root{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--grid:#d1d9e0;--lane:#f6f8fa;--card:#f6f8fa;--line:#d1d9e0;
--operational:#2da44e;--degraded:#d4a72c;--partial:#e16f24;--major:#cf222e;--maint:#0969da;--other:#8c959f;
--investigating:#bf3989;--identified:#8250df;--monitoring:#0969da;--resolved:#2da44e;
--t-report:#8250df;--t-alert:#cf222e;--t-status:#0969da;--t-comm:#1a7f37;--t-component:#bc4c00;--t-metric:#bf3989;
--t-note:#59636e;--t-cause:#9a6700;--t-action:#0550ae;--t-change:#6639ba;--t-incident:#1f2328;--t-other:#8c959f;
--s0:#0969da;--s1:#cf222e;--s2:#1a7f37;--s3:#8250df;--s4:#bc4c00;--s5:#bf3989;--ms:#6e7781}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--grid:#30363d;--lane:#151b23;
--card:#151b23;--line:#3d444d;--t-incident:#e6edf3;--t-note:#9198a1;--ms:#9198a1}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:24px 28px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub{color:var(--muted);margin:0 0 14px}.summary{max-width:900px}
.figures{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.figure{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:150px}
.figure .k{font-size:12px;color:var(--muted)}.figure .v{font-size:17px;font-weight:600}.figure .d{font-size:12px;color:var(--muted)}
svg.chart{width:100%;height:auto;display:block;font-size:11px}
svg text{fill:var(--fg)}svg .muted{fill:var(--muted)}svg .lbl{font-size:12px}svg .grp{font-size:11px;font-weight:700;fill:var(--muted);letter-spacing:.06em}
.lanebg{fill:var(--lane)}.grid{stroke:var(--grid);stroke-width:1}.axis{stroke:var(--muted);stroke-width:1}
.later{fill:var(--lane);stroke:var(--grid);stroke-dasharray:3 3}
.st-operational{fill:var(--operational)}.st-degraded_performance{fill:var(--degraded)}.st-partial_outage{fill:var(--partial)}
.st-major_outage{fill:var(--major)}.st-under_maintenance{fill:var(--maint)}.st-other{fill:var(--other)}
.st-investigating{fill:var(--investigating)}.st-identified{fill:var(--identified)}.st-monitoring{fill:var(--monitoring)}
.st-resolved,.st-completed{fill:var(--resolved)}.st-scheduled,.st-in_progress,.st-verifying{fill:var(--maint)}
.bar{stroke:var(--bg);stroke-width:1}.open{opacity:.75}.bartext{fill:#fff;font-size:11px;font-weight:600;pointer-events:none}
.m-report{fill:var(--t-report)}.m-alert{fill:var(--t-alert)}.m-status{fill:var(--t-status)}.m-comm{fill:var(--t-comm)}
.m-component{fill:var(--t-component)}.m-metric{fill:var(--t-metric)}.m-note{fill:var(--t-note)}.m-cause{fill:var(--t-cause)}
.m-action{fill:var(--t-action)}.m-change{fill:var(--t-change)}.m-incident{fill:var(--t-incident)}.m-other{fill:var(--t-other)}
.mark{stroke:var(--bg);stroke-width:1}.disagree{stroke:var(--fg);stroke-width:2}.bucket{fill:var(--t-other)}
.s0{fill:var(--s0);stroke:var(--s0)}.s1{fill:var(--s1);stroke:var(--s1)}.s2{fill:var(--s2);stroke:var(--s2)}
.s3{fill:var(--s3);stroke:var(--s3)}.s4{fill:var(--s4);stroke:var(--s4)}.s5{fill:var(--s5);stroke:var(--s5)}
.step{fill:none;stroke-width:2}.stem{stroke-width:3}.pt{stroke:var(--bg);stroke-width:1}
.fact{stroke:var(--fg);stroke-width:2;opacity:.6}.obs{fill:var(--fg)}
.vlabel{font-size:11px;font-weight:600}.msline{stroke:var(--ms);stroke-width:1.2;stroke-dasharray:5 4}.mslabel{font-size:11px;font-weight:600}.msdot{fill:var(--ms)}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:8px 0 0;font-size:12px;color:var(--muted)}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;margin-right:5px}
.dot{border-radius:50%}
.sw.operational{background:var(--operational)}.sw.degraded_performance{background:var(--degraded)}
.sw.partial_outage{background:var(--partial)}.sw.major_outage{background:var(--major)}.sw.under_maintenance{background:var(--maint)}
.sw.investigating{background:var(--investigating)}.sw.identified{background:var(--identified)}
.sw.monitoring{background:var(--monitoring)}.sw.resolved{background:var(--resolved)}
.sw.report{background:var(--t-report)}.sw.alert{background:var(--t-alert)}.sw.status{background:var(--t-status)}
.sw.comm{background:var(--t-comm)}.sw.component{background:var(--t-component)}.sw.metric{background:var(--t-metric)}
.sw.note{background:var(--t-note)}.sw.cause{background:var(--t-cause)}.sw.action{background:var(--t-action)}
.sw.change{background:var(--t-change)}.sw.incident{background:var(--t-incident)}.sw.ring{border:2px solid var(--fg)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:4px 8px;
text-align:left;vertical-align:top}th{background:var(--card)}td.t{white-space:nowrap;font-variant-numeric:tabular-nums}
.note{color:var(--muted);font-size:12px}footer{margin-top:28px;color:var(--muted);font-size:12px}
code{font-size:12px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--lane:#f3f3f3;--card:#fff;--grid:#ccc;--line:#bbb}
body{max-width:none;padding:0;font-size:10pt}svg.chart{break-inside:avoid}h2{break-after:avoid}tr{break-inside:avoid}
.figure{border-color:#999}}
)");
    put("</style>\n</head>\n<body>\n");
  }

  void figure(std::string_view key, const std::string& value, const std::string& detail = {}) {
    put("<div class=\"figure\"><div class=\"k\">" + h(key) + "</div><div class=\"v\">" + h(value) + "</div>");
    if (!detail.empty()) put("<div class=\"d\">" + h(detail) + "</div>");
    put("</div>\n");
  }

  const resolved_milestone* find_milestone(std::string_view pmql_name) const {
    const auto it = std::ranges::find(milestones_, pmql_name, [](const resolved_milestone& r) -> std::string_view {
      return r.m.pmql;
    });
    return it == milestones_.end() ? nullptr : &*it;
  }

  void header() {
    put("<header>\n<h1>" + h(inc_.title.empty() ? inc_.id : inc_.title) + "</h1>\n<p class=\"sub\">");
    std::vector<std::string> sub = {"Incident " + inc_.id};
    if (!inc_.org.empty()) sub.push_back(inc_.org);
    if (!inc_.services.empty()) sub.push_back(join(inc_.services, ", "));
    if (!inc_.severity.empty()) sub.push_back("severity " + inc_.severity);
    if (!inc_.status.empty()) sub.push_back("status " + inc_.status);
    put(h(join(sub, " · ")) + "</p>\n");
    if (opts_.as_of)
      put("<p><strong>As of " + h(utc_and_local(*opts_.as_of)) + "</strong>: only what had been recorded by then.</p>\n");
    if (!inc_.summary.empty()) put("<p class=\"summary\">" + h(inc_.summary) + "</p>\n");
    put("</header>\n<section class=\"figures\" id=\"key-figures\">\n");
    figure("Start", utc_and_local(inc_.started), "first event");
    figure("End", utc_and_local(end_.at), end_.label);
    // Duration is the customer impact, as the Markdown report counts it (render_postmortem).
    if (impact_ && impact_->to)
      figure("Duration", dur(impact_->ms),
             "customer impact: from " + impact_->from_label + " to " + impact_->to_label);
    else if (impact_)
      figure("Duration", "ongoing, " + dur(impact_->ms) + " so far",
             "customer impact since " + impact_->from_label + "; no end recorded");
    else
      figure("Duration", dur(end_.total), end_.statement);
    const std::string fixed_from = find_milestone("first report") && find_milestone("first report")->at ? "first report"
                                                                                                         : "start";
    if (const auto* f = find_milestone("first 99% fixed"); f && f->at) {
      auto d = q_.time(fmt::format("time from {} to first 99% fixed;", fixed_from));
      if (d && *d)
        figure("To 99% fixed", dur(**d), fmt::format("from {}{}", fixed_from, f->event ? ", " + f->event->source : ""));
    }
    figure("Events",
           fmt::format("{} from {} source{}", group_digits(static_cast<double>(n_events_)),
                       group_digits(static_cast<double>(n_sources_)), n_sources_ == 1 ? "" : "s"),
           n_corrections_ + n_retractions_ > 0
               ? fmt::format("{} correction{}, {} retraction{}", n_corrections_, n_corrections_ == 1 ? "" : "s",
                             n_retractions_, n_retractions_ == 1 ? "" : "s")
               : std::string());
    if (!affected_.empty()) {
      std::vector<std::string> names;
      for (const auto& c : components_)
        if (affected_.contains(c.name)) names.push_back(c.name);
      if (names.size() < affected_.size()) names.push_back(fmt::format("+{}", affected_.size() - names.size()));
      figure("Components affected", std::to_string(affected_.size()), join(names, ", "));
    }
    if (peak_report_)
      figure("Peak reports", group_digits(*peak_report_->value), when(*peak_report_) + " · " + peak_report_->source);
    for (std::size_t i = 0; i < metrics_.size(); ++i)
      if (const auto& p = peaks_[i])
        figure("Peak " + p->metric, fmt::format("{}{}", *p->value, p->unit), when(*p) + " · " + p->source);
    put("</section>\n");
  }

  // ---------------------------------------------------------------- the SVG

  // Places labels without overlap: the first of `xs` candidate positions whose box is free.
  struct label_box {
    double x0, x1, y0, y1;
  };
  bool free_box(const label_box& b) const {
    return std::ranges::none_of(boxes_, [&](const label_box& o) {
      return b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1;
    });
  }

  // The ticks of the time axis: multiples of a round step, about one per 80 units.
  std::pair<std::vector<std::int64_t>, std::int64_t> ticks() const {
    static constexpr std::int64_t minute = 60'000, hour = 60 * minute, day = 24 * hour;
    static constexpr std::int64_t steps[] = {minute,      2 * minute, 5 * minute, 10 * minute, 15 * minute,
                                             30 * minute, hour,       2 * hour,   3 * hour,    6 * hour,
                                             12 * hour,   day,        2 * day,    7 * day,     14 * day,
                                             28 * day};
    const int max_ticks = std::max(2, static_cast<int>((x1() - x0()) / 80));
    std::int64_t step = steps[std::size(steps) - 1];
    for (const auto st : steps)
      if ((t1_ - t0_) / st <= max_ticks) {
        step = st;
        break;
      }
    while ((t1_ - t0_) / step > max_ticks) step *= 2;
    std::vector<std::int64_t> out;
    for (std::int64_t t = (t0_ / step + (t0_ % step > 0 ? 1 : 0)) * step; t <= t1_; t += step) out.push_back(t);
    return {out, step};
  }

  void axis(std::string& svg, double y, bool top) const {
    static constexpr std::int64_t day = 24 * 3600'000;
    const auto [ts, step] = ticks();
    svg += fmt::format("<g class=\"time-axis\" data-axis=\"{}\">", top ? "top" : "bottom");
    svg += fmt::format("<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(x0()), num(y), num(x1()),
                       num(y));
    std::string last_day;
    for (const std::int64_t t : ts) {
      const double xt = x(t);
      const std::string d = ymd(t);
      const bool new_day = d != last_day;
      last_day = d;
      const double ty = top ? y - 6 : y + 14;
      svg += fmt::format("<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", num(xt), num(y),
                         num(top ? y - 3 : y + 3));
      const std::string label = step >= day ? d.substr(5) : hhmm(t);
      svg += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", num(xt), num(ty),
                         h(label));
      if (new_day && step < day && !top)
        svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", num(xt),
                           num(top ? ty - 13 : ty + 13), h(d));
    }
    svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\" text-anchor=\"end\">UTC</text>", num(x0() - 8),
                       num(top ? y - 6 : y + 14));
    if (has_later())
      svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">later</text>",
                         num((x1() + width - right_pad) / 2 + 5), num(top ? y - 6 : y + 14));
    svg += "</g>";
  }

  // Vertical lines at the ticks, behind the lanes, and the later zone.
  void grid(std::string& svg, double y0, double y1) const {
    svg += "<g class=\"grid-lines\">";
    for (const std::int64_t t : ticks().first)
      svg += fmt::format("<line class=\"grid\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", num(x(t)), num(y0),
                         num(y1));
    if (has_later())
      svg += fmt::format("<rect class=\"later\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>Events after {} "
                         "UTC, to {} UTC: in order, not to scale</title></rect>",
                         num(x1() + 9), num(y0), num(width - right_pad - x1() - 9), num(y1 - y0), utc(t1_), utc(last_));
    svg += "</g>";
  }

  void group_heading(std::string& svg, double& y, std::string_view title, std::string_view id) const {
    svg += fmt::format("<text class=\"grp\" id=\"{}\" x=\"8\" y=\"{}\">{}</text>", id, num(y + 15), h(title));
    y += group_h;
  }

  void lane_label(std::string& svg, double y, double height, const std::string& name) const {
    svg += fmt::format("<text class=\"lbl\" x=\"16\" y=\"{}\">{}<title>{}</title></text>", num(y + height / 2 + 4),
                       h(cut(name, 25)), h(name));
  }

  void lane_bg(std::string& svg, double y, double height) const {
    svg += fmt::format("<rect class=\"lanebg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>", num(x0()), num(y + 1),
                       num(width - right_pad - x0()), num(height - 2));
  }

  void state_lane_svg(std::string& svg, double& y, const state_lane& l, std::string_view kind, std::size_t index,
                      double height, bool text_in_bars) const {
    svg += fmt::format("<g class=\"lane {0}\" id=\"{0}-{1}\" data-lane=\"{0}\" data-name=\"{2}\">", kind, index,
                       h(l.name));
    lane_bg(svg, y, height);
    lane_label(svg, y, height, l.name);
    const double top = y + 4, bar_h = height - 8;
    for (const auto& s : l.spans) {
      const double xa = x(s.from), xb = std::max(x(s.to), xa + 2);
      const bool point = s.state == "resolved" || s.state == "completed";
      if (point && kind == "status") {
        // A resolved status is a moment: a diamond.
        const double cx = xa, cy = y + height / 2;
        svg += fmt::format("<path class=\"bar st-{}\" data-state=\"{}\" d=\"M{} {}l7 7l-7 7l-7 -7z\"><title>{}</title></path>",
                           state_class(s.state), state_class(s.state), num(cx), num(cy - 7), h(s.title));
        continue;
      }
      svg += fmt::format(
          "<rect class=\"bar st-{}{}\" data-state=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\">"
          "<title>{}: {} from {} to {} ({}){}\n{}</title></rect>",
          state_class(s.state), s.open && s.state != "operational" ? " open" : "", state_class(s.state), num(xa),
          num(top), num(xb - xa), num(bar_h), h(l.name), h(s.state), utc(s.from), utc(s.to), dur(s.to - s.from),
          s.open ? ", last state recorded" : "", h(s.title));
      const std::string label = s.state == "degraded_performance" ? "degraded" : s.state;
      if (text_in_bars && (xb - xa) > static_cast<double>(label.size()) * char_w + 8)
        svg += fmt::format("<text class=\"bartext\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                           num((xa + xb) / 2), num(top + bar_h / 2 + 4), h(label));
    }
    if (!l.worst.empty()) {
      for (int b = 0; b < n_buckets; ++b) {
        const auto& [rank, state] = l.worst[b];
        if (rank < 0) continue;
        svg += fmt::format("<rect class=\"bar st-{}\" data-state=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\">"
                           "<title>{}: worst state {} from {}</title></rect>",
                           state_class(state), state_class(state), num(bucket_x(b)), num(top),
                           num(bucket_x(b + 1) - bucket_x(b)), num(bar_h), h(l.name), h(state), bucket_label(b));
      }
    }
    svg += "</g>";
    y += height;
  }

  void source_lane_svg(std::string& svg, double& y, const source_lane& l, std::size_t index) const {
    svg += fmt::format("<g class=\"lane source\" id=\"source-{}\" data-lane=\"source\" data-name=\"{}\" data-events=\"{}\">",
                       index, h(l.name), l.n);
    lane_bg(svg, y, lane_h);
    lane_label(svg, y, lane_h, l.name);
    const double cy = y + lane_h / 2;
    // Marks at the same place are spread up and down a little.
    double prev_x = -100;
    int k = 0;
    static constexpr double offsets[] = {0, -6, 6, -3, 3};
    for (const auto& m : l.marks) {
      const double xm = x(m.at);
      k = xm - prev_x < 4 ? k + 1 : 0;
      if (k == 0) prev_x = xm;
      const double ym = cy + offsets[k % std::size(offsets)];
      svg += fmt::format("<circle class=\"mark m-{}{}\" data-type=\"{}\" cx=\"{}\" cy=\"{}\" r=\"{}\"><title>{}</title></circle>",
                         m.cls, m.disagree ? " disagree" : "", m.cls, num(xm), num(ym), m.disagree ? "5" : "4.5",
                         h(m.title));
    }
    if (!l.counts.empty()) {
      const std::int64_t most = std::ranges::max(l.counts);
      for (int b = 0; b < n_buckets; ++b) {
        if (!l.counts[b]) continue;
        const double f = 0.25 + 0.75 * std::log1p(static_cast<double>(l.counts[b])) /
                                    std::log1p(static_cast<double>(std::max<std::int64_t>(most, 1)));
        const double bh = (lane_h - 6) * f;
        svg += fmt::format("<rect class=\"bucket\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} event{} "
                           "from {}</title></rect>",
                           num(bucket_x(b)), num(cy + (lane_h - 6) / 2 - bh), num(bucket_x(b + 1) - bucket_x(b)),
                           num(bh), h(l.name), l.counts[b], l.counts[b] == 1 ? "" : "s", bucket_label(b));
      }
    }
    svg += "</g>";
    y += lane_h;
  }

  void facts_svg(std::string& svg, double& y) const {
    for (std::size_t i = 0; i < facts_.size(); ++i) {
      const fact& f = facts_[i];
      svg += fmt::format("<g class=\"disagreement\" id=\"fact-{}\" data-fact=\"{}\">", i, h(f.label));
      lane_bg(svg, y, fact_h);
      lane_label(svg, y, fact_h, f.label);
      const double cy = y + fact_h / 2;
      svg += fmt::format("<line class=\"fact\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(x(f.lo)), num(cy),
                         num(x(f.hi)), num(cy));
      double label_end = -1;
      for (const auto& o : f.obs) {
        const double xo = x(o.at);
        svg += fmt::format("<circle class=\"obs\" cx=\"{}\" cy=\"{}\" r=\"4\"><title>{}</title></circle>", num(xo),
                           num(cy), h(o.title));
        // The source's name beside its dot when there is room.
        const std::string name = cut(o.source, 24);
        const double w = static_cast<double>(name.size()) * char_w * 0.92;
        if (xo + 7 > label_end && xo + 7 + w < width - right_pad) {
          svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\">{}</text>", num(xo + 7), num(cy + 4), h(name));
          label_end = xo + 7 + w + 8;
        } else if (xo - 7 - w > std::max(label_end, x0())) {
          svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", num(xo - 7),
                             num(cy + 4), h(name));
          label_end = xo + 4;
        }
      }
      if (f.more) svg += fmt::format("<title>{} more observations not drawn</title>", f.more);
      svg += "</g>";
      y += fact_h;
    }
  }

  void plot_svg(std::string& svg, double& y, const plot& p, std::string_view kind, std::size_t index, bool stems) {
    const double top = y + 8, bottom = y + plot_h - 6;
    const double ymax = p.unit == "%" ? std::max(100.0, p.max) : (p.max > 0 ? p.max : 1);
    const auto py = [&](double v) { return bottom - (bottom - top) * std::clamp(v / ymax, 0.0, 1.0); };
    const std::string name = kind == "reports" ? std::string("report counts") : p.name + (p.unit.empty() ? "" : " (" + p.unit + ")");
    svg += fmt::format("<g class=\"plot\" id=\"plot-{}-{}\" data-plot=\"{}\" data-name=\"{}\" data-points=\"{}\">", kind,
                       index, kind, h(kind == "reports" ? std::string("reports") : p.name), p.n);
    lane_bg(svg, y, plot_h);
    lane_label(svg, y, plot_h / 2 - 4, name);
    // The scale: 0 and the top.
    const std::string top_label = p.unit == "%" ? fmt::format("{}%", ymax) : group_digits(std::round(ymax));
    svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", num(x0() - 6),
                       num(top + 4), h(top_label));
    svg += fmt::format("<text class=\"muted\" x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>", num(x0() - 6),
                       num(bottom + 3));
    svg += fmt::format("<line class=\"grid\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>", num(x0()), num(bottom),
                       num(width - right_pad));
    // The series: a colour per source, named in the label column.
    for (std::size_t s = 0; s < p.series.size() && s < 3; ++s)
      svg += fmt::format("<circle class=\"s{}\" cx=\"20\" cy=\"{}\" r=\"4\"/><text class=\"muted\" x=\"29\" y=\"{}\">{}"
                         "<title>{}</title></text>",
                         s % 6, num(y + plot_h / 2 + 4 + 14 * static_cast<double>(s)),
                         num(y + plot_h / 2 + 8 + 14 * static_cast<double>(s)), h(cut(p.series[s], 24)), h(p.series[s]));
    if (p.series.size() > 3)
      svg += fmt::format("<text class=\"muted\" x=\"110\" y=\"{}\">+{} more</text>", num(y + plot_h / 2 + 8 + 28),
                         p.series.size() - 3);
    if (stems) {
      // Each count a stem from 0; counts at the same time side by side, the largest labelled.
      std::vector<const point*> order;
      for (const auto& pt : p.points) order.push_back(&pt);
      double prev_x = -100;
      int k = 0;
      for (const auto& pt : p.points) {
        double xp = x(pt.at);
        k = xp - prev_x < 4 ? k + 1 : 0;
        if (k == 0) prev_x = xp;
        xp += 4 * k;
        svg += fmt::format("<line class=\"stem s{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"><title>{}</title></line>",
                           pt.series % 6, num(xp), num(bottom), num(xp), num(py(pt.value)), h(pt.title));
        svg += fmt::format("<circle class=\"pt s{}\" cx=\"{}\" cy=\"{}\" r=\"3.5\"><title>{}</title></circle>",
                           pt.series % 6, num(xp), num(py(pt.value)), h(pt.title));
      }
      std::ranges::stable_sort(order, std::greater{}, &point::value);
      for (std::size_t i = 0; i < order.size() && i < 5; ++i)
        value_label(svg, x(order[i]->at), py(order[i]->value), group_digits(order[i]->value));
    } else {
      // Each source's values as a step line with dots, each value labelled where there is room.
      for (std::size_t s = 0; s < p.series.size(); ++s) {
        std::string path;
        for (const auto& pt : p.points) {
          if (pt.series != s) continue;
          const double xp = x(pt.at), yp = py(pt.value);
          path += path.empty() ? fmt::format("M{} {}", num(xp), num(yp)) : fmt::format("H{}V{}", num(xp), num(yp));
        }
        if (!path.empty()) svg += fmt::format("<path class=\"step s{}\" d=\"{}\"/>", s % 6, path);
      }
      for (const auto& pt : p.points)
        svg += fmt::format("<circle class=\"pt s{}\" cx=\"{}\" cy=\"{}\" r=\"4\"><title>{}</title></circle>",
                           pt.series % 6, num(x(pt.at)), num(py(pt.value)), h(pt.title));
      if (p.points.size() <= 40)
        for (const auto& pt : p.points)
          value_label(svg, x(pt.at), py(pt.value), fmt::format("{}{}", pt.value, p.unit == "%" ? "%" : ""));
    }
    if (!p.bucket_max.empty()) {
      for (int b = 0; b < n_buckets; ++b) {
        if (!p.bucket_max[b]) continue;
        const double yb = py(*p.bucket_max[b]);
        svg += fmt::format("<rect class=\"s0\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: at most {} from "
                           "{}</title></rect>",
                           num(bucket_x(b)), num(yb), num(bucket_x(b + 1) - bucket_x(b)), num(bottom - yb), h(name),
                           fmt::format("{}", *p.bucket_max[b]), bucket_label(b));
      }
    }
    svg += "</g>";
    y += plot_h;
  }

  // A value beside its point: right of it, else left, else above; left out when all collide.
  void value_label(std::string& svg, double xp, double yp, const std::string& text) {
    const double w = static_cast<double>(text.size()) * char_w + 4;
    const label_box candidates[] = {{xp + 6, xp + 6 + w, yp - 12, yp + 2},
                                    {xp - 6 - w, xp - 6, yp - 12, yp + 2},
                                    {xp - w / 2, xp + w / 2, yp - 20, yp - 7}};
    for (const auto& b : candidates) {
      if (b.x0 < x0() || b.x1 > width - 2 || !free_box(b)) continue;
      boxes_.push_back(b);
      svg += fmt::format("<text class=\"vlabel\" x=\"{}\" y=\"{}\">{}</text>", num(b.x0 + 2), num(b.y1 - 3), h(text));
      return;
    }
  }

  // The milestones drawn: each distinct time once, its labels joined.
  struct drawn_milestone {
    std::int64_t at;
    std::vector<std::string> labels;
    std::vector<std::string> titles;
  };
  std::vector<drawn_milestone> drawn_milestones() const {
    std::vector<drawn_milestone> out;
    for (const auto& m : milestones_) {
      if (!m.at || m.m.pmql == "start") continue;
      std::string label = m.m.label;
      std::string title = fmt::format("{} · {} UTC{} · time from start to {};", m.m.label,
                                      m.event ? when(*m.event) : utc(*m.at), m.event ? " · " + m.event->source : "",
                                      m.m.pmql);
      auto it = std::ranges::find(out, *m.at, &drawn_milestone::at);
      if (it == out.end()) it = out.insert(out.end(), {*m.at, {}, {}});
      // `last status resolved` at the time of `first status resolved` is the same moment.
      if (m.m.last && std::ranges::find(it->labels, "first" + label.substr(4)) != it->labels.end()) {
        it->titles.push_back(title);
        continue;
      }
      it->labels.push_back(label);
      it->titles.push_back(title);
    }
    std::ranges::sort(out, {}, &drawn_milestone::at);
    return out;
  }

  void picture() {
    boxes_.clear();
    // Milestone labels at the top, in as many rows as they need not to overlap.
    const auto ms = drawn_milestones();
    std::vector<int> row_of(ms.size(), 0);
    std::vector<double> row_end;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const double w = static_cast<double>(cut(join(ms[i].labels, " · "), 60).size()) * char_w * 0.95 + 12;
      const double xm = x(ms[i].at);
      const bool right = xm + w > width - 4;
      const double a = right ? xm - w : xm - 4, b = right ? xm + 4 : xm + w;
      std::size_t r = 0;
      while (r < row_end.size() && row_end[r] > a) ++r;
      if (r == row_end.size()) row_end.push_back(b);
      else row_end[r] = b;
      row_of[i] = static_cast<int>(r);
    }
    const double ms_rows = static_cast<double>(row_end.size());
    const double ms_top = 8;
    const double axis_top = ms_top + ms_rows * 16 + 24;  // the top axis' labels above its line
    const double lanes_top = axis_top + 8;
    double y = lanes_top;
    std::string body;
    if (status_) {
      group_heading(body, y, "STATUS", "group-status");
      state_lane_svg(body, y, *status_, "status", 0, band_h, true);
    }
    if (!components_.empty()) {
      group_heading(body, y, "COMPONENTS", "group-components");
      for (std::size_t i = 0; i < components_.size(); ++i)
        state_lane_svg(body, y, components_[i], "component", i, lane_h, false);
      if (other_components_)
        state_lane_svg(body, y, *other_components_, "component", components_.size(), lane_h, false);
    }
    if (!sources_.empty()) {
      group_heading(body, y, "SOURCES", "group-sources");
      for (std::size_t i = 0; i < sources_.size(); ++i) source_lane_svg(body, y, sources_[i], i);
      if (other_sources_) source_lane_svg(body, y, *other_sources_, sources_.size());
    }
    if (!facts_.empty()) {
      group_heading(body, y, "DISAGREEMENTS", "group-disagreements");
      facts_svg(body, y);
      if (more_facts_) {
        body += fmt::format("<text class=\"muted\" x=\"16\" y=\"{}\">+{} more facts (see the Markdown report)</text>",
                            num(y + 14), more_facts_);
        y += 20;
      }
    }
    if (counts_.n || !metrics_.empty()) {
      group_heading(body, y, "VALUES", "group-plots");
      if (counts_.n) plot_svg(body, y, counts_, "reports", 0, true);
      for (std::size_t i = 0; i < metrics_.size(); ++i) plot_svg(body, y, metrics_[i], "metric", i, false);
    }
    const double lanes_bottom = y + 4;
    std::string svg;
    axis(svg, axis_top, true);
    grid(svg, lanes_top, lanes_bottom);
    svg += body;
    axis(svg, lanes_bottom, false);
    y = lanes_bottom + 36;

    // Milestones over everything: a dashed line, a dot on the axis, a label in its row.
    std::string marks;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const double xm = x(ms[i].at);
      const double ly = ms_top + 12 + 16 * row_of[i];
      const std::string label = cut(join(ms[i].labels, " · "), 60);
      const double w = static_cast<double>(label.size()) * char_w * 0.95 + 12;
      const bool right = xm + w > width - 4;
      marks += fmt::format("<g class=\"milestone\" id=\"milestone-{}\" data-milestone=\"{}\" data-at=\"{}\">", i,
                           h(join(ms[i].labels, " · ")), format_iso(timestamp{ms[i].at}));
      marks += fmt::format("<title>{}</title>", h(join(ms[i].titles, "\n")));
      marks += fmt::format("<line class=\"msline\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", num(xm),
                           num(ly + 3), num(lanes_bottom));
      marks += fmt::format("<circle class=\"msdot\" cx=\"{}\" cy=\"{}\" r=\"3\"/>", num(xm), num(axis_top));
      marks += fmt::format("<text class=\"mslabel\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>",
                           num(right ? xm - 4 : xm + 4), num(ly), right ? "end" : "start", h(label));
      marks += "</g>";
    }
    svg += "<g class=\"milestones\">" + marks + "</g>";

    put("<h2 id=\"picture\">The incident on one time axis</h2>\n<figure>\n");
    put(fmt::format("<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" "
                    "aria-labelledby=\"chart-title\">\n<title id=\"chart-title\">{}: status, components, sources, "
                    "values and milestones over time (UTC)</title>\n",
                    num(width), num(y), h(inc_.title.empty() ? inc_.id : inc_.title)));
    put(svg);
    put("\n</svg>\n");
    legend();
    put("</figure>\n");
  }

  void legend() {
    put("<figcaption>\n<div class=\"legend\" id=\"legend\">");
    if (status_) {
      put("Status: ");
      for (std::string_view s : {"investigating", "identified", "monitoring", "resolved"})
        put(fmt::format("<span><i class=\"sw {}\"></i>{}</span>", s, s));
    }
    put("</div>\n<div class=\"legend\">");
    if (!components_.empty()) put("Components: ");
    if (!components_.empty())
      for (std::string_view s : {"operational", "degraded_performance", "partial_outage", "major_outage",
                                 "under_maintenance"})
        put(fmt::format("<span><i class=\"sw {}\"></i>{}</span>", s, s == "degraded_performance" ? "degraded" : s == "under_maintenance" ? "maintenance" : s == "partial_outage" ? "partial outage" : s == "major_outage" ? "major outage" : s));
    put("</div>\n<div class=\"legend\">Events: ");
    for (std::string_view t : {"report", "alert", "status", "comm", "component", "metric", "note", "cause", "change",
                               "action", "incident"})
      put(fmt::format("<span><i class=\"sw dot {}\"></i>{}</span>", t, t));
    if (!facts_.empty()) put("<span><i class=\"sw dot ring\"></i>said by two sources at different times</span>");
    put("</div>\n<p class=\"note\">Hover over a mark, bar or milestone for its time, source and text. Milestones "
        "(dashed lines) are the key durations' ends, each timed by PMQL (<code>time from start to M;</code>).");
    if (has_later())
      put(fmt::format(" Events after {} UTC are drawn in the “later” zone at the right, in order but not to scale.",
                      h(utc(t1_))));
    put(fmt::format(" Drawing limits: {} source lanes and {} component lanes (further ones share a lane), {} marks or "
                    "state changes per lane and {} points per plot (beyond, counts or worst states per time bucket), "
                    "{} metric plots, {} facts where sources disagree.",
                    max_source_lanes, max_component_lanes, max_marks, max_points, max_metric_plots, max_facts));
    if (more_metric_points_)
      put(fmt::format(" {} metric values of further metrics are not plotted.", more_metric_points_));
    put("</p>\n</figcaption>\n");
  }

  void milestone_table() {
    put("<h2 id=\"milestones\">Milestones</h2>\n<table id=\"milestone-table\">\n<thead><tr><th>milestone</th>"
        "<th>at (UTC)</th><th>after the start</th><th>source</th><th>PMQL</th></tr></thead>\n<tbody>\n");
    for (const auto& m : milestones_) {
      if (!m.at) continue;
      put(fmt::format("<tr><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td><code>time from "
                      "start to {};</code></td></tr>\n",
                      h(m.m.label), h(m.event ? when(*m.event) : utc(*m.at)), h(elapsed(*m.at - inc_.started)),
                      h(m.event ? m.event->source : ""), h(m.m.pmql)));
    }
    put("</tbody>\n</table>\n");
  }

  std::expected<void, error> event_table() {
    put("<h2 id=\"events\">Events</h2>\n");
    if (n_total_ > static_cast<std::int64_t>(max_table_rows))
      put(fmt::format("<p class=\"note\">The first {} of {} events. <code>report {}</code> (Markdown) or "
                      "<code>timeline {}</code> lists them all.</p>\n",
                      group_digits(max_table_rows), group_digits(static_cast<double>(n_total_)), h(inc_.id),
                      h(inc_.id)));
    put("<table id=\"event-table\">\n<thead><tr><th>at (UTC)</th><th>elapsed</th><th>type</th><th>source</th>"
        "<th>event</th></tr></thead>\n<tbody>\n");
    auto r = each_believed(store_, inc_.id, opts_.as_of, "v.type NOT IN ('correction', 'retraction')", {},
                           fmt::format("v.at, v.seq LIMIT {}", max_table_rows), [&](ev& e) {
                             const std::string detail = event_what(e);
                             std::string cell = h(detail);
                             if (!detail.empty() && !e.text.empty()) cell = "<strong>" + cell + "</strong>: ";
                             cell += h(e.text);
                             if (e.corrected) cell += " <em>(corrected)</em>";
                             put(fmt::format("<tr class=\"ev-{}\"><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}"
                                             "</td><td>{}</td><td>{}</td></tr>\n",
                                             type_class(e.type), h(when(e)), h(elapsed(e.at - inc_.started)),
                                             h(e.type), h(e.source), cell));
                             return out_.good();
                           });
    if (!r) return r;
    put("</tbody>\n</table>\n");
    return written();
  }

  void footer() {
    const std::int64_t now = opts_.now_ms.value_or(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    const chain_head head = store_.head();
    put(fmt::format("<footer>\n<p>Generated by pmdb {} at {} from the store at position {}{}. Chain head: "
                    "<code>{}</code> (<code>pmdb verify STORE --from HASH</code> checks that the events it was made "
                    "from are unchanged).</p>\n</footer>\n</body>\n</html>\n",
                    PMDB_VERSION, format_iso(timestamp{now}), head.position,
                    opts_.as_of ? ", as of " + format_iso(timestamp{*opts_.as_of}) : std::string(), h(head.hash)));
  }

  const event_store& store_;
  incident_row inc_;
  const postmortem_options& opts_;
  const date::time_zone* zone_;
  pmql q_;

  incident_end end_;
  std::optional<customer_impact> impact_;
  std::vector<resolved_milestone> milestones_;
  std::int64_t t0_ = 0, t1_ = 0, last_ = 0;
  std::int64_t n_total_ = 0, n_sources_ = 0, n_events_ = 0, n_corrections_ = 0, n_retractions_ = 0;

  std::vector<fact> facts_;
  std::size_t more_facts_ = 0;
  std::vector<std::int64_t> disagreeing_;  // positions of the events drawn as observations

  std::map<std::string, std::size_t> source_index_;
  std::vector<source_lane> sources_;
  std::optional<source_lane> other_sources_;
  std::optional<state_lane> status_;
  std::vector<state_lane> components_;
  std::optional<state_lane> other_components_;
  std::map<std::string, std::pair<std::string, std::int64_t>> other_component_names_;
  std::set<std::string> affected_;
  std::vector<plot> metrics_;
  std::optional<ev> peaks_[max_metric_plots];
  std::size_t more_metric_points_ = 0;
  plot counts_;
  std::optional<ev> peak_report_;
  std::vector<label_box> boxes_;
};

}  // namespace

std::expected<void, pmdb::error> render_html_report(const pmdb::event_store& store, const std::string& incident,
                                                    const postmortem_options& opts, std::ostream& out) {
  auto zone = find_zone(opts.tz);
  if (!zone) return std::unexpected(zone.error());
  auto inc = find_incident(store, incident, opts.as_of);
  if (!inc) return std::unexpected(inc.error());
  try {
    html_writer w(store, std::move(*inc), opts, *zone, out);
    return w.run();
  } catch (const std::exception& e) {
    return std::unexpected(error(fmt::format("report: {}", e.what())));
  }
}

std::expected<std::string, pmdb::error> render_html_report(const pmdb::event_store& store, const std::string& incident,
                                                           const postmortem_options& opts) {
  std::ostringstream out;
  if (auto r = render_html_report(store, incident, opts, out); !r) return std::unexpected(r.error());
  return std::move(out).str();
}

}  // namespace pmdb::shell
