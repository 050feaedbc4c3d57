// Write statements → events. See write.hpp for the contract.
#include "query/write.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <span>
#include <vector>

#include <date/tz.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/embedded.hpp"
#include "core/json_text.hpp"
#include "core/projection.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "query/parser.hpp"

namespace pmdb::query {

namespace rj = rapidjson;

error error_at(std::string message, const ast::tagged& node, std::string_view text, const source_position& origin) {
  return error(std::move(message), position_at(text, node.offset, origin));
}

namespace {

// ---------------------------------------------------------------- the types' schemas

struct field_info {
  std::string name;
  std::string json_type;            // string, number, integer, array
  std::vector<std::string> allowed; // enum values, when the schema lists them
};

struct type_info {
  std::vector<field_info> fields;  // in the schema's order
  std::vector<std::string> required;

  const field_info* find(std::string_view name) const {
    const auto it = std::ranges::find(fields, name, &field_info::name);
    return it == fields.end() ? nullptr : &*it;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& f : fields) out.push_back(f.name);
    return out;
  }
};

type_info read_schema(std::string_view type) {
  type_info info;
  rj::Document doc;
  const auto src = embedded_files().at(fmt::format("{}.schema.json", type));
  doc.Parse(src.data(), src.size());
  if (doc.HasParseError() || !doc.IsObject()) return info;
  if (doc.HasMember("properties"))
    for (const auto& p : doc["properties"].GetObject()) {
      field_info f;
      f.name = p.name.GetString();
      if (p.value.HasMember("type") && p.value["type"].IsString()) f.json_type = p.value["type"].GetString();
      if (p.value.HasMember("enum"))
        for (const auto& e : p.value["enum"].GetArray()) f.allowed.emplace_back(e.GetString());
      info.fields.push_back(std::move(f));
    }
  if (doc.HasMember("required"))
    for (const auto& r : doc["required"].GetArray()) info.required.emplace_back(r.GetString());
  return info;
}

const type_info& schema_of(std::string_view type) {
  static const std::map<std::string, type_info, std::less<>> all = [] {
    std::map<std::string, type_info, std::less<>> m;
    for (const auto t : event_types) m.emplace(std::string(t), read_schema(t));
    return m;
  }();
  return all.find(type)->second;
}

std::string join(const std::vector<std::string>& items, std::string_view last_sep = " and ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? std::string(last_sep) : ", ";
    out += items[i];
  }
  return out;
}

// ---------------------------------------------------------------- positional slots

struct slot {
  std::string_view field;
  bool word = false, string = false, number = false;
};

std::span<const slot> slots_of(std::string_view type) {
  static constexpr slot status[] = {{"status", true, false, false}, {"text", false, true, false}};
  static constexpr slot text_only[] = {{"text", false, true, false}};
  static constexpr slot report[] = {{"count", false, false, true}, {"text", false, true, false}};
  static constexpr slot metric[] = {
      {"name", true, true, false}, {"value", false, false, true}, {"text", false, true, false}};
  static constexpr slot comm[] = {{"channel", true, false, false}, {"text", false, true, false}};
  static constexpr slot component[] = {
      {"component", false, true, false}, {"state", true, false, false}, {"text", false, true, false}};
  static constexpr slot cause[] = {{"kind", true, false, false}, {"text", false, true, false}};
  if (type == "status") return status;
  if (type == "report") return report;
  if (type == "metric") return metric;
  if (type == "comm") return comm;
  if (type == "component") return component;
  if (type == "cause") return cause;
  if (type == "alert" || type == "change" || type == "action" || type == "note") return text_only;
  return {};
}

// How a type's positional values read, for messages: "status NAME [TEXT]".
std::string_view positional_form(std::string_view type) {
  if (type == "status") return "record status NAME [\"TEXT\"]";
  if (type == "alert") return "record alert [\"TEXT\"]";
  if (type == "report") return "record report [COUNT] [\"TEXT\"]";
  if (type == "metric") return "record metric NAME VALUE[%] [\"TEXT\"]";
  if (type == "comm") return "record comm [on CHANNEL] [by \"AUTHOR\"] \"TEXT\"";
  if (type == "component") return "record component \"NAME\" STATE [\"TEXT\"]";
  if (type == "change") return "record change \"TEXT\"";
  if (type == "cause") return "record cause [KIND] \"TEXT\"";
  if (type == "action") return "record action \"TEXT\" or record action of ITEM";
  if (type == "note") return "record note \"TEXT\"";
  return "named fields only";
}

std::string_view value_kind_name(ast::value_kind k) {
  switch (k) {
    case ast::value_kind::string: return "string";
    case ast::value_kind::word: return "word";
    case ast::value_kind::number: return "number";
    case ast::value_kind::percent: return "percentage";
    case ast::value_kind::date: return "date";
    case ast::value_kind::list: return "list";
  }
  return "value";
}

// ---------------------------------------------------------------- binding a payload

// The payload being built: one JSON value per field, and the node each came from.
class payload {
 public:
  payload(std::string type, std::string_view text, const source_position& origin)
      : type_(std::move(type)), info_(schema_of(type_)), text_(text), origin_(origin) {}

  const type_info& info() const { return info_; }

  // Sets `field` (a name of the type's schema) from `v`; `name_node` is where a bad name is.
  std::expected<void, error> set(std::string field, const ast::write_value& v, const ast::tagged& name_node) {
    const field_info* f = info_.find(field);
    if (!f) {
      const auto names = info_.names();
      const auto near = nearest(field, std::span<const std::string>(names));
      return fail(fmt::format("{} has no field '{}'{} (its fields: {})", article(type_), field,
                              near ? fmt::format("; did you mean '{}'?", *near) : "", join(names, ", ")),
                  name_node);
    }
    if (set_.contains(field)) return fail(fmt::format("{} is given twice", field), name_node);
    auto j = convert(*f, v);
    if (!j) return std::unexpected(j.error());
    put(field, std::move(*j), v);
    if (v.kind == ast::value_kind::percent) {
      // `99%` is the value 99 in the unit "%".
      if (set_.contains("unit")) return fail("unit is given twice (a percentage sets it to \"%\")", v);
      put("unit", rj::Value("%", alloc()), v);
    }
    return {};
  }

  bool has(std::string_view field) const { return set_.contains(std::string(field)); }

  // Keeps a field of an earlier payload (a correction's target) that is not set here.
  void keep(const std::string& field, const rj::Value& v) {
    if (!set_.contains(field)) set_.emplace(field, entry{rj::Value(v, alloc()), nullptr});
  }

  // The node a field was set from (nullptr when kept or absent).
  const ast::tagged* where(std::string_view field) const {
    const auto it = set_.find(std::string(field));
    return it == set_.end() ? nullptr : it->second.where;
  }

  // The payload as minified JSON, fields in the schema's order.
  std::string json() {
    rj::Value obj(rj::kObjectType);
    for (const auto& f : info_.fields) {
      auto it = set_.find(f.name);
      if (it == set_.end()) continue;
      obj.AddMember(rj::Value(f.name.c_str(), alloc()), rj::Value(it->second.value, alloc()), alloc());
    }
    return minified(obj);
  }

  std::unexpected<error> fail(std::string message, const ast::tagged& node) const {
    return std::unexpected(error_at(std::move(message), node, text_, origin_));
  }

  static std::string article(std::string_view type) {
    const bool vowel = !type.empty() && std::string_view("aeiou").find(type[0]) != std::string_view::npos;
    return fmt::format("{} {} event", vowel ? "an" : "a", type);
  }

 private:
  struct entry {
    rj::Value value;
    const ast::tagged* where;
  };

  rj::Document::AllocatorType& alloc() { return doc_.GetAllocator(); }

  void put(const std::string& field, rj::Value v, const ast::tagged& where) {
    set_.insert_or_assign(field, entry{std::move(v), &where});
  }

  // A value as the JSON the field's schema wants.
  std::expected<rj::Value, error> convert(const field_info& f, const ast::write_value& v) {
    const auto wrong = [&](std::string_view wanted) {
      return fail(fmt::format("{} takes {}: found the {} {}", f.name, wanted, value_kind_name(v.kind), shown(v)), v);
    };
    if (f.json_type == "array") {
      rj::Value arr(rj::kArrayType);
      if (v.kind == ast::value_kind::list) {
        for (const auto& i : v.items) arr.PushBack(rj::Value(i.c_str(), alloc()), alloc());
      } else if (v.kind == ast::value_kind::string || v.kind == ast::value_kind::word) {
        arr.PushBack(rj::Value(v.text.c_str(), alloc()), alloc());
      } else {
        return wrong("a list of strings, e.g. (\"a\", \"b\")");
      }
      return arr;
    }
    if (f.json_type == "number" || f.json_type == "integer") {
      const bool percent_ok = f.name == "value" && info_.find("unit");
      if (v.kind != ast::value_kind::number && !(v.kind == ast::value_kind::percent && percent_ok))
        return wrong(f.json_type == "integer" ? "an integer" : "a number");
      rj::Value n;
      if (v.is_integer && v.number >= -9.0e15 && v.number <= 9.0e15) n.SetInt64(static_cast<std::int64_t>(v.number));
      else n.SetDouble(v.number);
      return n;
    }
    // A string. Words of a closed set (status, state, channel, kind) are case-insensitive.
    if (v.kind == ast::value_kind::list || v.kind == ast::value_kind::number || v.kind == ast::value_kind::percent)
      return wrong(f.allowed.empty() ? "a string" : fmt::format("one of {}", join(f.allowed, ", ")));
    std::string s = v.text;
    if (!f.allowed.empty() && v.kind == ast::value_kind::word) {
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!f.allowed.empty() && std::ranges::find(f.allowed, s) == f.allowed.end()) {
      const auto near = nearest(s, std::span<const std::string>(f.allowed));
      return fail(near ? fmt::format("unknown {} '{}'; did you mean '{}'?", f.name, v.text, *near)
                       : fmt::format("unknown {} '{}' (one of: {})", f.name, v.text, join(f.allowed, ", ")),
                  v);
    }
    return rj::Value(s.c_str(), alloc());
  }

  static std::string shown(const ast::write_value& v) {
    switch (v.kind) {
      case ast::value_kind::string: return fmt::format("\"{}\"", v.text);
      case ast::value_kind::list: return "(...)";
      default: return v.text;
    }
  }

  std::string type_;
  const type_info& info_;
  std::string_view text_;
  const source_position& origin_;
  rj::Document doc_;
  std::map<std::string, entry> set_;
};

// The envelope options of a statement, each at most once.
struct options {
  const ast::write_item* at = nullptr;
  const ast::write_item* source = nullptr;
  const ast::write_item* id = nullptr;
  const ast::write_item* in = nullptr;
};

std::expected<options, error> options_of(const ast::write_stmt& s, std::string_view text, const source_position& origin) {
  options o;
  for (const auto& item : s.items) {
    const ast::write_item** slot = nullptr;
    std::string_view name;
    switch (item.kind) {
      case ast::item_kind::at: slot = &o.at, name = "at"; break;
      case ast::item_kind::source: slot = &o.source, name = "source"; break;
      case ast::item_kind::id: slot = &o.id, name = "id"; break;
      case ast::item_kind::in: slot = &o.in, name = "in"; break;
      default: continue;
    }
    if (*slot) return std::unexpected(error_at(fmt::format("{} is given twice", name), item, text, origin));
    *slot = &item;
  }
  return o;
}

// Turns a validation message ("data.due: does not match ...") into an error pointing at what
// set the field it names.
error validation_error(const std::string& message, const payload* p, const options& o, const ast::tagged& fallback,
                       const ast::tagged* incident_node, std::string_view text, const source_position& origin) {
  const ast::tagged* where = &fallback;
  const auto field_of = [&](std::string_view prefix) -> std::optional<std::string> {
    if (!message.starts_with(prefix)) return std::nullopt;
    std::string rest = message.substr(prefix.size());
    const auto end = rest.find_first_of(".[:");
    return rest.substr(0, end);
  };
  if (auto f = field_of("data."); f && p) {
    if (const auto* w = p->where(*f)) where = w;
  } else if (message.starts_with("source:") && o.source) {
    where = &o.source->text;
  } else if (message.starts_with("id:") && o.id) {
    where = &o.id->text;
  } else if (message.starts_with("at:") && o.at) {
    where = &o.at->time;
  } else if (message.starts_with("incident:") && incident_node) {
    where = incident_node;
  }
  return error_at(message, *where, text, origin);
}

std::string source_of(const options& o, const write_context& ctx) {
  return o.source ? o.source->text.value : ctx.source;
}

}  // namespace

// ---------------------------------------------------------------- times

std::expected<std::int64_t, error> resolve_time(const ast::time_spec& t, const write_context& ctx,
                                                std::string_view text, const source_position& origin) {
  switch (t.kind) {
    case ast::time_kind::now: return ctx.now_ms + t.offset;
    case ast::time_kind::timestamp: return t.ms;
    case ast::time_kind::time_of_day: break;
  }
  using namespace std::chrono;
  const sys_time<milliseconds> now{milliseconds{ctx.now_ms}};
  const auto hms = fmt::format("{:02}:{:02}", t.ms / 3'600'000, t.ms / 60'000 % 60);
  if (ctx.tz.empty()) {
    const auto day = floor<days>(now);
    return (day + milliseconds{t.ms}).time_since_epoch().count();
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(ctx.tz);
  } catch (const std::exception&) {
    return std::unexpected(error_at(fmt::format("unknown time zone '{}'", ctx.tz), t, text, origin));
  }
  const auto local_now = zone->to_local(now);
  const auto local = date::local_time<milliseconds>{floor<date::days>(local_now)} + milliseconds{t.ms};
  const auto info = zone->get_info(local);
  if (info.result == date::local_info::nonexistent)
    return std::unexpected(error_at(fmt::format("{} does not exist today in {} (the clocks skip it)", hms, ctx.tz), t,
                                    text, origin));
  // A time the clocks repeat (the fall-back hour) is its first occurrence.
  return (local.time_since_epoch() - duration_cast<milliseconds>(info.first.offset)).count();
}

// ---------------------------------------------------------------- record, new incident

bool has_explicit_id(const ast::write_stmt& s) {
  return std::ranges::any_of(s.items, [](const ast::write_item& i) { return i.kind == ast::item_kind::id; });
}

std::string short_id(std::string_view id, bool explicit_id) {
  return std::string(explicit_id ? id : id.substr(0, 12));
}

std::expected<incident_choice, error> incident_of(const ast::write_stmt& s, const write_context& ctx,
                                                  std::string_view text, const source_position& origin) {
  auto o = options_of(s, text, origin);
  if (!o) return std::unexpected(o.error());
  if (s.kind == ast::write_kind::new_incident) {
    if (o->in)
      return std::unexpected(error_at("new incident names its incident: no 'in' here", *o->in, text, origin));
    return incident_choice{s.incident->id, &*s.incident};
  }
  if (o->in) return incident_choice{o->in->incident.id, &o->in->incident};
  if (ctx.current_incident) return incident_choice{*ctx.current_incident, nullptr};
  return std::unexpected(error_at(
      "no current incident: `use INCIDENT;` first, or `new incident ID title \"...\" org \"...\" services (...);`, "
      "or add `in INCIDENT`",
      s, text, origin));
}

std::expected<event, error> bind_record(const ast::write_stmt& s, const std::string& incident,
                                        const write_context& ctx, std::string_view text,
                                        const source_position& origin) {
  const std::string type = s.type.name;
  if (type == "correction" || type == "retraction") {
    return std::unexpected(error_at(
        type == "correction" ? "a correction is recorded with `correct EVENT at TIME | set FIELD = VALUE because \"...\"`"
                             : "a retraction is recorded with `retract EVENT because \"...\"`",
        s.type, text, origin));
  }
  auto o = options_of(s, text, origin);
  if (!o) return std::unexpected(o.error());

  payload p(type, text, origin);
  const auto slots = slots_of(type);
  std::vector<bool> used(slots.size(), false);
  for (const auto& item : s.items) {
    if (item.kind == ast::item_kind::field) {
      std::string field = item.name.name;
      if (field == "on" || field == "by") {
        if (type != "comm")
          return p.fail(fmt::format("'{}' names a comm's {}: {} has none", field, field == "on" ? "channel" : "author",
                                    payload::article(type)),
                        item.name);
        field = field == "on" ? "channel" : "author";
      }
      if (auto r = p.set(field, item.value, item.name); !r) return std::unexpected(r.error());
    } else if (item.kind == ast::item_kind::value) {
      const auto& v = item.value;
      const bool is_word = v.kind == ast::value_kind::word;
      const bool is_string = v.kind == ast::value_kind::string;
      const bool is_number = v.kind == ast::value_kind::number || v.kind == ast::value_kind::percent;
      std::size_t k = 0;
      for (; k < slots.size(); ++k) {
        if (used[k] || p.has(slots[k].field)) continue;
        if ((is_word && slots[k].word) || (is_string && slots[k].string) || (is_number && slots[k].number)) break;
      }
      if (k == slots.size()) {
        std::string hint;
        if (is_word) {
          const auto names = p.info().names();
          if (const auto near = nearest(v.text, std::span<const std::string>(names)))
            hint = fmt::format("; did you mean the field '{}'?", *near);
        }
        return p.fail(fmt::format("unexpected {} {} in {} ({}; fields: {}){}", value_kind_name(v.kind),
                                  is_string ? fmt::format("\"{}\"", v.text) : v.text, payload::article(type),
                                  positional_form(type), join(p.info().names(), ", "), hint),
                      v);
      }
      used[k] = true;
      if (auto r = p.set(std::string(slots[k].field), v, v); !r) return std::unexpected(r.error());
    }
  }
  std::vector<std::string> missing;
  for (const auto& r : p.info().required)
    if (!p.has(r)) missing.push_back(r);
  if (!missing.empty()) {
    const ast::tagged& where = s.kind == ast::write_kind::new_incident ? static_cast<const ast::tagged&>(*s.incident)
                                                                       : static_cast<const ast::tagged&>(s.type);
    return std::unexpected(error_at(fmt::format("missing {}: {} needs {}", join(missing), payload::article(type),
                                                join(p.info().required)),
                                    where, text, origin));
  }

  event e;
  e.incident = incident;
  e.type = type;
  e.source = source_of(*o, ctx);
  if (o->id) e.id = o->id->text.value;
  if (o->at) {
    auto at = resolve_time(o->at->time, ctx, text, origin);
    if (!at) return std::unexpected(at.error());
    e.at = *at;
    e.approx = o->at->time.approx;
  } else {
    e.at = ctx.now_ms;
  }
  e.data = p.json();
  const ast::tagged* incident_node = s.kind == ast::write_kind::new_incident ? &*s.incident
                                     : o->in                                 ? &o->in->incident
                                                                             : nullptr;
  auto v = validate_event(std::move(e));
  if (!v) return std::unexpected(validation_error(v.error(), &p, *o, s, incident_node, text, origin));
  return std::move(*v);
}

// ---------------------------------------------------------------- correct, retract

std::expected<event, error> bind_change(const ast::write_stmt& s, const target_event& target,
                                        const write_context& ctx, std::string_view text,
                                        const source_position& origin) {
  auto o = options_of(s, text, origin);
  if (!o) return std::unexpected(o.error());
  rj::Document data(rj::kObjectType);
  auto& a = data.GetAllocator();
  data.AddMember("target", rj::Value(target.id.c_str(), a), a);
  data.AddMember("reason", rj::Value(s.reason ? s.reason->value.c_str() : "", a), a);

  std::optional<payload> p;
  if (s.kind == ast::write_kind::correct) {
    if (o->at) {
      const ast::time_spec& t = o->at->time;
      if (t.approx)
        return std::unexpected(error_at("a correction cannot change approx: write the time without '~'", t, text, origin));
      auto at = resolve_time(t, ctx, text, origin);
      if (!at) return std::unexpected(at.error());
      data.AddMember("at", rj::Value(format_iso(timestamp{*at}).c_str(), a), a);
    }
    const bool sets = std::ranges::any_of(s.items, [](const auto& i) { return i.kind == ast::item_kind::field; });
    if (sets) {
      if (projection::is_audit_type(target.type))
        return std::unexpected(error_at(fmt::format("{} is a {}: correct the event it is about", target.id, target.type),
                                        s.target, text, origin));
      p.emplace(target.type, text, origin);
      for (const auto& item : s.items) {
        if (item.kind != ast::item_kind::field) continue;
        std::string field = item.name.name;
        if (target.type == "comm" && (field == "on" || field == "by")) field = field == "on" ? "channel" : "author";
        if (auto r = p->set(field, item.value, item.name); !r) return std::unexpected(r.error());
      }
      rj::Document old;
      old.Parse(target.data.c_str(), target.data.size());
      if (!old.HasParseError() && old.IsObject())
        for (const auto& m : old.GetObject()) p->keep(m.name.GetString(), m.value);
      // The new payload must be valid for the target's type, as the store will check.
      event candidate;
      candidate.incident = target.incident;
      candidate.type = target.type;
      candidate.source = "-";
      candidate.data = p->json();
      if (auto v = validate_event(candidate); !v) {
        const auto* first_set = &*std::ranges::find(s.items, ast::item_kind::field, &ast::write_item::kind);
        return std::unexpected(validation_error(v.error(), &*p, *o, *first_set, nullptr, text, origin));
      }
      rj::Document payload_doc(&a);
      payload_doc.Parse(candidate.data.c_str(), candidate.data.size());
      data.AddMember("data", rj::Value(payload_doc, a), a);
    }
  }

  event e;
  e.incident = target.incident;
  e.type = s.kind == ast::write_kind::correct ? "correction" : "retraction";
  e.source = source_of(*o, ctx);
  if (o->id) e.id = o->id->text.value;
  e.at = ctx.now_ms;
  e.data = minified(data);
  auto v = validate_event(std::move(e));
  if (!v) {
    const ast::tagged& fallback = s.reason ? static_cast<const ast::tagged&>(*s.reason) : static_cast<const ast::tagged&>(s);
    return std::unexpected(validation_error(v.error(), nullptr, *o, fallback, nullptr, text, origin));
  }
  return std::move(*v);
}

}  // namespace pmdb::query
