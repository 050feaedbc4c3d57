#include "core/projection.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/json_text.hpp"
#include "core/time.hpp"

namespace pmdb::projection {

bool is_audit_type(std::string_view type) { return type == "correction" || type == "retraction"; }


std::string component_key(std::string_view name, std::string_view state) {
  // "n:NAME" for the component, "s:STATE:NAME" for it in a state: a state is a closed word
  // without ':', so no name makes one key look like another.
  return state.empty() ? fmt::format("n:{}", name) : fmt::format("s:{}:{}", state, name);
}

std::string metric_key(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');  // SQLite's NOCASE: ASCII only
  return out;
}

void milestone_spans::add_key(std::string_view incident, std::string_view type, std::string k, position p) {
  auto [it, fresh] = spans_.try_emplace(key(std::string(incident), std::string(type), std::move(k)), span{p, p});
  if (fresh) return;
  it->second.first = std::min(it->second.first, p);
  it->second.last = std::max(it->second.last, p);
}

void milestone_spans::add(const key_fields& f, std::int64_t at, std::int64_t seq, std::int64_t recorded_at,
                          bool believed) {
  add_key(f.incident, recorded_key_type, {}, position{recorded_at, seq});
  if (!believed) return;
  const position p{at, seq};
  const auto given = [](const std::optional<std::string>* v) { return v && *v; };
  add_key(f.incident, f.type, {}, p);
  if (is_audit_type(f.type)) return;
  add_key(f.incident, any_event_key_type, {}, p);
  if (f.type == "status" && given(f.status)) add_key(f.incident, f.type, **f.status, p);
  else if (f.type == "comm" && given(f.channel)) add_key(f.incident, f.type, **f.channel, p);
  else if (f.type == "metric" && given(f.metric)) add_key(f.incident, f.type, metric_key(**f.metric), p);
  else if (f.type == "component" && given(f.component)) {
    add_key(f.incident, f.type, component_key(**f.component, {}), p);
    if (given(f.state)) add_key(f.incident, f.type, component_key(**f.component, **f.state), p);
  }
}

namespace {

// What one correction sets: its data.at and data.data, when present and usable.
struct change_fields {
  std::optional<std::int64_t> at;
  std::optional<std::string> data;
};

change_fields fields_of(const event& correction) {
  change_fields out;
  rapidjson::Document d;
  d.Parse(correction.data.c_str(), correction.data.size());
  if (d.HasParseError() || !d.IsObject()) return out;
  if (auto it = d.FindMember("at"); it != d.MemberEnd() && it->value.IsString())
    if (auto t = parse_timestamp({it->value.GetString(), it->value.GetStringLength()})) out.at = t->ms;
  if (auto it = d.FindMember("data"); it != d.MemberEnd() && it->value.IsObject()) out.data = minified(it->value);
  return out;
}

}  // namespace

std::vector<version> fold(const stored_event& original, std::span<const stored_event> changes) {
  std::vector<const stored_event*> order;
  for (const auto& c : changes)
    if (c.ev.incident == original.ev.incident && is_audit_type(c.ev.type)) order.push_back(&c);
  std::ranges::sort(order, [](const stored_event* a, const stored_event* b) {
    return std::pair(a->recorded_at, a->seq) < std::pair(b->recorded_at, b->seq);
  });

  std::vector<version> out;
  out.push_back({original.seq, 0, original.recorded_at, std::nullopt, false, original.ev});
  std::optional<std::int64_t> retracted;
  for (const stored_event* c : order) {
    if (c->ev.type == "retraction") {
      if (!retracted) retracted = std::max(c->recorded_at, original.recorded_at);
      continue;
    }
    const change_fields f = fields_of(c->ev);
    if (!f.at && !f.data) continue;  // nothing usable in it: the version before stays believed
    event next = out.back().ev;
    if (f.at) next.at = *f.at;
    if (f.data) {
      // The typed fields come from the new payload alone: one it lacks (a report's count) must
      // not keep the value of the payload it replaces.
      event candidate;
      candidate.id = next.id;
      candidate.incident = next.incident;
      candidate.type = next.type;
      candidate.at = next.at;
      candidate.recorded_at = next.recorded_at;
      candidate.source = next.source;
      candidate.approx = next.approx;
      candidate.data = *f.data;
      auto v = validate_event(std::move(candidate));
      if (!v) continue;  // not valid for the target's type: the whole correction is ignored
      next = std::move(*v);
    }
    next.id = original.ev.id;
    next.recorded_at = original.ev.recorded_at;
    out.push_back({c->seq, static_cast<std::int64_t>(out.size()), std::max(c->recorded_at, original.recorded_at),
                   std::nullopt, true, std::move(next)});
  }
  for (std::size_t i = 0; i + 1 < out.size(); ++i) out[i].valid_to = out[i + 1].valid_from;
  if (retracted)
    for (auto& v : out) {
      if (!v.valid_to || *v.valid_to > *retracted) v.valid_to = *retracted;
      v.valid_from = std::min(v.valid_from, *v.valid_to);
    }
  return out;
}

sql_text believed(std::string_view alias, bool as_of) {
  if (!as_of) return {fmt::format("{}.valid_to IS NULL", alias), 0};
  return {fmt::format("? BETWEEN {0}.valid_from AND coalesce({0}.valid_to - 1, {1})", alias,
                      std::numeric_limits<std::int64_t>::max()),
          1};
}

namespace {

std::string quoted_list(std::span<const std::string_view> words) {
  std::string out;
  for (auto w : words) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", w);
  return out;
}

}  // namespace

sql_text incidents_of(std::string_view ids, bool as_of, bool lazy) {
  int n = 0;
  // The versions of incident x.incident believed in the view, as `alias`.
  const auto rows = [&](std::string_view alias) {
    const sql_text b = believed(alias, as_of);
    n += b.as_of_params;
    return fmt::format("{0} {1} WHERE {1}.incident = x.incident AND {2}", versions_table, alias, b.sql);
  };
  const std::string facts = " AND v.type NOT IN ('correction', 'retraction')";
  std::string inner = "SELECT x.incident AS id, ";
  inner += fmt::format("(SELECT v.data FROM {} AND v.type = 'incident' ORDER BY v.at DESC, v.seq DESC LIMIT 1) AS d, ",
                       rows("v"));
  // The first and last fact by position, else (an incident with nothing but corrections and
  // retractions believed) its first and last event; ORDER BY … LIMIT 1 walks the index and
  // stops at the first match.
  const auto edge = [&](bool last) {
    const std::string order = last ? "v.at DESC, v.seq DESC" : "v.at, v.seq";
    return fmt::format("(SELECT v.at FROM {}{} ORDER BY {} LIMIT 1), (SELECT v.at FROM {} ORDER BY {} LIMIT 1)",
                       rows("v"), facts, order, rows("v"), order);
  };
  inner += fmt::format("coalesce({}) AS started, ", edge(false));
  // The resolution: the first resolution status with no open status after it.
  const std::string r = rows("r");
  const std::string o = rows("o");
  inner += fmt::format(
      "coalesce((SELECT r.at FROM {} AND r.type = 'status' AND r.status IN ({}) AND NOT EXISTS (SELECT 1 FROM {} AND "
      "o.type = 'status' AND o.status IN ({}) AND (o.at, o.seq) > (r.at, r.seq)) ORDER BY r.at, r.seq LIMIT 1), "
      "{}) AS ended, ",
      r, quoted_list(resolution_statuses), o, quoted_list(open_statuses), edge(true));
  inner += fmt::format("(SELECT v.status FROM {} AND v.type = 'status' ORDER BY v.at DESC, v.seq DESC LIMIT 1) AS status, ",
                       rows("v"));
  inner += fmt::format("(SELECT count(*) FROM {}) AS events, ", rows("v"));
  if (as_of) {
    inner += fmt::format("(SELECT count(*) FROM {} l WHERE l.incident = x.incident AND l.recorded_at <= ?) AS version",
                         log_table);
    ++n;
  } else {
    inner += fmt::format("(SELECT max(l.version) FROM {} l WHERE l.incident = x.incident) AS version", log_table);
  }
  inner += fmt::format(" FROM {} AS x", ids);
  // Materialized: the description `d` is looked up once, not once per field read from it. Lazy:
  // not materialized, so that a query reading only some columns computes only those.
  return {fmt::format("WITH r AS {}({}) SELECT id, json_extract(d, '$.title') AS title, "
                      "json_extract(d, '$.org') AS org, json_extract(d, '$.services') AS services, "
                      "json_extract(d, '$.severity') AS severity, json_extract(d, '$.summary') AS summary, started, "
                      "ended, status, events, version FROM r",
                      lazy ? "" : "MATERIALIZED ", inner),
          n};
}

sql_text incidents_as_of(std::string_view columns) {
  // An incident last recorded at or before T is believed as of T as it is now: its row of the
  // read model. One recorded both before and after T is computed as of T (and is in the relation
  // when some version of it is believed then); one first recorded after T is not in it.
  const std::string recorded = fmt::format("rk.type = '{}' AND rk.key = ''", recorded_key_type);
  // The computed rows are lazy: a pipeline that reads the id, org and start of each incident
  // does not count its events.
  const sql_text b = believed("v", true);
  const sql_text computed = incidents_of(fmt::format("(SELECT rk.incident AS incident FROM {} rk WHERE {} AND "
                                                    "rk.first_at <= ? AND rk.last_at > ? AND EXISTS (SELECT 1 FROM {} v "
                                                    "WHERE v.incident = rk.incident AND {}))",
                                                    milestones_table, recorded, versions_table, b.sql),
                                        true, true);
  // (No column of the incidents table is also one of milestones: the names need no alias.)
  if (columns.empty()) columns = "id, title, org, services, severity, summary, started, ended, status, events, version";
  return {fmt::format("SELECT {0} FROM {1} rk JOIN {2} i ON i.id = rk.incident WHERE {3} AND rk.last_at <= ? "
                      "UNION ALL SELECT {0} FROM ({4}) AS c",  // named: PostgreSQL 15 needs it
                      columns, milestones_table, incidents_table, recorded, computed.sql),
          computed.as_of_params + b.as_of_params + 3};
}

}  // namespace pmdb::projection
