// The write statements in the shell: `new incident`, `record`, `correct`, `retract`. The
// statement is bound to an event by query/write.hpp (the same validation as an import), appended
// in one transaction, and its id printed. Nothing is written when anything is wrong.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "core/projection.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "query/write.hpp"
#include "shell/session.hpp"

namespace pmdb::shell {

namespace {

namespace ast = query::ast;

// A correction that replaces fields reads the target's payload first; when another writer
// appends to the incident in between, it reads again, this many times at most.
constexpr int max_change_attempts = 5;

const ast::write_item* id_item(const ast::write_stmt& s) {
  for (const auto& i : s.items)
    if (i.kind == ast::item_kind::id) return &i;
  return nullptr;
}

// How an event is named on screen: a derived id by its first 12 characters, any other whole.
std::string shown_id(std::string_view id) {
  const bool derived = id.size() == 33 && id[0] == 'e' &&
                       id.substr(1).find_first_not_of("0123456789abcdef") == std::string_view::npos;
  return query::short_id(id, !derived);
}

// A number as people write it: `99`, `99.5`.
std::string number_text(double v) {
  std::string s = fmt::format("{}", v);
  if (s.ends_with(".0")) s.resize(s.size() - 2);
  return s;
}

}  // namespace

std::int64_t session::now_ms() const {
  if (!settings_.now.empty())
    if (auto t = parse_timestamp(settings_.now)) return t->ms;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool session::run_write(const ast::write_stmt& s, std::string_view text, const source_position& origin) {
  if (settings_.read_only) {
    report_error(query::error_at("the store is open read-only: nothing can be recorded", s, text, origin), text, origin);
    return false;
  }
  return s.kind == ast::write_kind::record || s.kind == ast::write_kind::new_incident ? run_record(s, text, origin)
                                                                                      : run_change(s, text, origin);
}

bool session::run_record(const ast::write_stmt& s, std::string_view text, const source_position& origin) {
  const query::write_context ctx{incident_, now_ms(), settings_.tz, settings_.source};
  const auto fail = [&](const error& e) {
    report_error(e, text, origin);
    return false;
  };
  auto inc = query::incident_of(s, ctx, text, origin);
  if (!inc) return fail(inc.error());
  const bool is_new = s.kind == ast::write_kind::new_incident;
  if (is_new && store_.has_incident(inc->id))
    return fail(query::error_at(fmt::format("incident {} already exists", inc->id), *inc->where, text, origin));
  if (!is_new && inc->where && !store_.has_incident(inc->id)) {
    const auto known = store_.incident_ids();
    const auto near = nearest(inc->id, std::span<const std::string>(known));
    return fail(query::error_at(fmt::format("unknown incident '{}'{} (`new incident {} ...` creates it)", inc->id,
                                            near ? fmt::format("; did you mean '{}'?", *near) : "", inc->id),
                                *inc->where, text, origin));
  }
  // An update of an action item names its item in `of` as `correct` names its target: the
  // whole id, a unique prefix of it, or `last` (the last event recorded in this session).
  ast::write_stmt with_item;
  const ast::write_stmt* stmt = &s;
  for (std::size_t i = 0; s.type.name == "action" && i < s.items.size(); ++i) {
    const ast::write_value& v = s.items[i].value;
    if (s.items[i].kind != ast::item_kind::field || s.items[i].name.name != "of") continue;
    if (v.kind != ast::value_kind::string && v.kind != ast::value_kind::word) break;  // binding says what is wrong
    std::string id;
    const bool last = std::ranges::equal(v.text, std::string_view("last"), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == b;
    });
    if (v.kind == ast::value_kind::word && last) {
      if (!last_recorded_)
        return fail(query::error_at("no event recorded in this session yet: `last` is the last one `record` appended",
                                    v, text, origin));
      id = *last_recorded_;
    } else {
      auto found = store_.resolve_event_id(v.text);
      if (!found) return fail(query::error_at(found.error().message, v, text, origin));
      id = std::move(*found);
    }
    with_item = s;
    with_item.items[i].value.kind = ast::value_kind::string;
    with_item.items[i].value.text = std::move(id);
    stmt = &with_item;
    break;
  }
  auto ev = query::bind_record(*stmt, inc->id, ctx, text, origin);
  if (!ev) return fail(ev.error());

  // A new incident's stream must not exist yet (expected version 0): of two shells creating the
  // same id at once, one fails. `record` expects nothing: appends are serialised by the store.
  std::map<std::string, std::int64_t> expected;
  if (is_new) expected.emplace(inc->id, 0);
  auto r = store_.append(std::span<const event>(&*ev, 1), expected);
  if (!r) {
    const ast::tagged* where = &s;
    std::string message = r.error().message;
    if (is_new && r.error().is(errc::conflict) && store_.has_incident(inc->id)) {
      message = fmt::format("incident {} already exists", inc->id);
      where = inc->where;
    } else if (r.error().is(errc::conflict) && id_item(s)) {
      where = &id_item(s)->text;
    }
    return fail(query::error_at(message, *where, text, origin));
  }
  last_recorded_ = ev->id;
  if (is_new) incident_ = inc->id;
  show_written(*ev, r->appended == 0, query::has_explicit_id(s), "recorded");
  return true;
}

bool session::run_change(const ast::write_stmt& s, std::string_view text, const source_position& origin) {
  const query::write_context ctx{incident_, now_ms(), settings_.tz, settings_.source};
  const auto fail = [&](const error& e) {
    report_error(e, text, origin);
    return false;
  };
  std::string target_id;
  if (s.target.last) {
    if (!last_recorded_)
      return fail(query::error_at("no event recorded in this session yet: `last` is the last one `record` appended",
                                  s.target, text, origin));
    target_id = *last_recorded_;
  } else {
    auto id = store_.resolve_event_id(s.target.id);
    if (!id) return fail(query::error_at(id.error().message, s.target, text, origin));
    target_id = std::move(*id);
  }
  const bool sets =
      std::ranges::any_of(s.items, [](const ast::write_item& i) { return i.kind == ast::item_kind::field; });

  // The target as believed now (its last version when it is retracted: the store then refuses
  // the change with its own message), and its incident's version, read in one statement.
  const std::string sql = fmt::format(
      "SELECT v.incident, v.type, v.data, (SELECT coalesce(max(e.version), 0) FROM {0} e WHERE e.incident = v.incident) "
      "FROM {1} v WHERE v.id = ? ORDER BY v.valid_to IS NULL DESC, v.rank DESC LIMIT 1",
      projection::log_table, projection::versions_table);
  static const std::vector<column> columns = {{"incident", value_type::text},
                                              {"type", value_type::text},
                                              {"data", value_type::text},
                                              {"version", value_type::integer}};
  const std::vector<value> params = {target_id};
  for (int attempt = 1;; ++attempt) {
    auto rs = store_.query(sql, params, columns);
    if (!rs) return fail(rs.error());
    if (rs->rows.empty())
      return fail(query::error_at(fmt::format("no event has the id {}", target_id), s.target, text, origin));
    const auto& row = rs->rows.front();
    const query::target_event target{target_id, std::get<std::string>(row[0]), std::get<std::string>(row[1]),
                                     std::get<std::string>(row[2])};
    const std::int64_t version = std::get<std::int64_t>(row[3]);
    auto ev = query::bind_change(s, target, ctx, text, origin);
    if (!ev) return fail(ev.error());
    // `set` rewrites the payload it read: the append expects the incident as it was read.
    std::map<std::string, std::int64_t> expected;
    if (sets) expected.emplace(target.incident, version);
    auto r = store_.append(std::span<const event>(&*ev, 1), expected);
    if (r) {
      show_written(*ev, r->appended == 0, query::has_explicit_id(s),
                   s.kind == ast::write_kind::correct ? "corrected" : "retracted");
      return true;
    }
    if (r.error().is(errc::conflict) && sets && attempt < max_change_attempts) {
      // Someone appended to the incident since the read: read again, unless the conflict is
      // about something else (an explicit id already used).
      auto again = store_.query(sql, params, columns);
      if (again && !again->rows.empty() && std::get<std::int64_t>(again->rows.front()[3]) != version) continue;
    }
    const ast::tagged* where = r.error().is(errc::conflict) && id_item(s) ? &id_item(s)->text
                                                                           : static_cast<const ast::tagged*>(&s.target);
    return fail(query::error_at(r.error().message, *where, text, origin));
  }
}

void session::show_written(const event& ev, bool existing, bool explicit_id, std::string_view verb) {
  const auto mode = settings_.render.mode;
  if (mode == output_mode::json || mode == output_mode::jsonl || mode == output_mode::csv || mode == output_mode::tsv) {
    result_set rs;
    rs.columns = {{"id", value_type::text},
                  {"incident", value_type::text},
                  {"type", value_type::text},
                  {"at", value_type::timestamp}};
    rs.rows.push_back({ev.id, ev.incident, ev.type, timestamp{ev.at}});
    emit(render(rs, settings_.render), true);
    if (existing && !settings_.interactive) err_ << fmt::format("note: event {} was already recorded\n", ev.id);
    return;
  }
  const std::string id = query::short_id(ev.id, explicit_id);
  if (!settings_.interactive) {
    emit(id + "\n", true);
    if (existing) err_ << fmt::format("note: event {} was already recorded\n", id);
    return;
  }
  // Interactively: what was written, in words.
  std::string what = ev.type;
  if (ev.type == "status" && ev.status) what += " " + *ev.status;
  else if (ev.type == "metric" && ev.metric)
    what += fmt::format(" {} {}{}", *ev.metric, ev.value ? number_text(*ev.value) : "",
                        ev.unit ? (*ev.unit == "%" ? "%" : " " + *ev.unit) : "");
  else if (ev.type == "component" && ev.component) what += fmt::format(" {} {}", *ev.component, ev.state.value_or(""));
  else if (ev.type == "comm" && ev.channel) what += " on " + *ev.channel;
  else if (ev.type == "cause" && ev.kind) what += " " + *ev.kind;
  else if (ev.type == "incident") what += " " + ev.incident;
  if (ev.target) {
    what += " of " + shown_id(*ev.target);
  } else {
    what += fmt::format(" at {}{}", ev.approx ? "~" : "", format_time(timestamp{ev.at}));
  }
  emit(fmt::format("{} {} ({})\n", existing ? "already recorded" : verb, id, what), true);
}

}  // namespace pmdb::shell
