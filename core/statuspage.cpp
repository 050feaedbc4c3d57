#include "core/statuspage.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/byte_reader.hpp"
#include "core/json_text.hpp"
#include "core/limits.hpp"
#include "core/time.hpp"

// How a Statuspage incident becomes events:
//
//   incident.name → incident.title        page.name → incident.org (no page: the prefix option,
//   incident.impact → incident.severity                     else "statuspage")
//   incident.components[].name → incident.services (empty when missing or null)
//   incident.shortlink → incident.shortlink
//   incident.url, else PAGE_URL/incidents/ID → incident.url
//   incident event at: created_at, else the earliest update;
//     recorded_at: created_at (else the earliest update's created_at) for the stream's first
//     incident event; for a changed one (another incident event of the stream is stored or
//     earlier in the file), the incident's updated_at (else the latest update's updated_at or
//     created_at): what the page said, from when it said it
//   update.status → status.status, update.body → status.text
//   status event at: display_at, else created_at; recorded_at: created_at (when the page posted it)
//   update.affected_components[] → component {component: name (else code), state: new_status},
//     at and recorded_at as the update's status event
//   source of every event: the host of page.url, else "statuspage"
//   an update edited on the page (its status or component events differ from what the store
//     believed at the update's updated_at): a correction of each changed event, at and
//     recorded_at the update's updated_at (else the incident's updated_at, else created_at)
//
// Updates arrive newest first; events are emitted in time order (ties: the older update first).

namespace pmdb {

namespace {

namespace rj = rapidjson;

constexpr std::array<std::string_view, 9> statuses{"investigating", "identified", "monitoring", "resolved",  "postmortem",
                                                   "scheduled",     "in_progress", "verifying", "completed"};
constexpr std::array<std::string_view, 5> component_states{"operational", "degraded_performance", "partial_outage",
                                                           "major_outage", "under_maintenance"};
constexpr std::array<std::string_view, 5> impacts{"none", "minor", "major", "critical", "maintenance"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view s) {
  return std::ranges::find(set, s) != set.end();
}

template <std::size_t N>
std::string alternatives(const std::array<std::string_view, N>& set) {
  std::string out;
  for (auto s : set) out += fmt::format("{}{}", out.empty() ? "" : " | ", s);
  return out;
}

// A rapidjson input stream over std::istream, buffered, that knows its line and column (so that
// syntax errors name them) and lets several documents be parsed one after the other.
class tracked_stream {
 public:
  using Ch = char;
  explicit tracked_stream(std::istream& in) : in_(in) {}

  Ch Peek() {
    if (in_.offset() >= end_) return '\0';
    const int c = in_.peek();
    return c < 0 ? '\0' : static_cast<Ch>(c);
  }
  Ch Take() {
    if (in_.offset() >= end_) return '\0';
    const int c = in_.get();
    if (c < 0) return '\0';
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    return static_cast<Ch>(c);
  }
  std::size_t Tell() const { return in_.offset(); }
  // Output is never used (no in-situ parsing), but the concept requires these.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  std::size_t PutEnd(Ch*) { return 0; }

  bool at_end() { return in_.at_end(); }
  // The document starting here may be at most `n` bytes: past them the stream seems to end
  // (so the parser stops, holding no more than that), and over_limit() tells why.
  void limit(std::size_t n) { end_ = in_.offset() + n; }
  bool over_limit() { return in_.offset() >= end_ && !in_.at_end(); }
  std::uint32_t line() const { return line_; }
  std::uint32_t column() const { return column_; }
  bool bad() const { return in_.bad(); }

 private:
  byte_reader in_;
  std::uint32_t line_ = 1, column_ = 1;
  std::size_t end_ = static_cast<std::size_t>(-1);
};

// A JSON value in an error message, shortened when long, with its kind unless a string.
std::string shown(const rj::Value& v) {
  const std::string s = json_excerpt(v);
  if (v.IsString()) return s;
  const char* kind = v.IsBool() ? "a boolean " : v.IsNumber() ? "a number " : v.IsArray() ? "an array " : v.IsObject() ? "an object " : "";
  return kind + s;
}

std::string member(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}
std::string index(const std::string& path, std::size_t i) { return fmt::format("{}[{}]", path, i); }

// The member `key`, or nullptr when it is missing or null.
const rj::Value* get(const rj::Value& obj, const char* key) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// An incident id as the tail of a stream name: lowercased, characters outside [a-z0-9._-] → '-'.
std::string code_slug(std::string_view id) {
  std::string out = lower(id);
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) c = '-';
  return out;
}

// "https://www.githubstatus.com/x" → "www.githubstatus.com"; empty when there is no host.
std::string url_host(std::string_view url) {
  if (const auto p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.starts_with('[')) url = url.substr(0, url.find(':'));
  return lower(url);
}

struct page_info {
  std::string org;     // the page's name (incident.org)
  std::string stream;  // the stream prefix: the prefix option, else slug(name), else "statuspage"
  std::string source;  // the url's host, else "statuspage"
  std::string url;     // the page's url without a trailing '/', or empty
};

struct component_change {
  std::string key;  // code, else name: the tail of the event id
  std::string name, state;
  std::string path;
};

struct update {
  std::string id, status, path;
  std::optional<std::string> body;
  std::int64_t at = 0, created = 0;
  std::optional<std::int64_t> updated;
  std::vector<component_change> components;
};

class converter {
 public:
  converter(import_writer& w, std::string_view file, const import_options& opts) : w_(w), file_(file), opts_(opts) {}

  void set_document(std::size_t number, std::uint32_t line) {
    doc_prefix_ = number > 1 ? fmt::format("document {} (line {}): ", number, line) : "";
  }

  // A top-level value: a page document, an incident document, or (at the top only) an array of them.
  void document(const rj::Value& v, const std::string& path, bool top) {
    if (v.IsArray() && top) {
      for (rj::SizeType i = 0; i < v.Size(); ++i) document(v[i], index(path, i), false);
      return;
    }
    if (!v.IsObject()) return problem(path, fmt::format("expected a Statuspage document (an object): found {}", shown(v)));
    page_info page;
    if (!page_of(v, path, page)) return;
    bool found = false;
    for (const char* key : {"incidents", "scheduled_maintenances"}) {
      const rj::Value* list = get(v, key);
      if (!v.HasMember(key)) continue;
      found = true;
      if (!list) continue;
      if (!list->IsArray()) {
        problem(member(path, key), fmt::format("expected an array: found {}", shown(*list)));
        continue;
      }
      for (rj::SizeType i = 0; i < list->Size(); ++i) incident((*list)[i], page, index(member(path, key), i));
    }
    if (found) return;
    if (const rj::Value* inc = get(v, "incident"); inc && inc->IsObject()) return incident(*inc, page, member(path, "incident"));
    if (v.HasMember("incident_updates") || (v.HasMember("id") && v.HasMember("name"))) return incident(v, page, path);
    problem(path, "not a Statuspage document (expected {\"page\": {...}, \"incidents\": [...]}, {\"incident\": {...}} "
                  "or an incident with \"id\", \"name\" and \"incident_updates\")");
  }

 private:
  // Validates and queues one event of an incident update (its status, or a component change),
  // timed like the update: `at` when it was shown, `recorded_at` when it was created.
  void push_update_event(std::string id, const std::string& stream, const char* type, const update& u,
                         const std::string& source, const rj::StringBuffer& data, std::int64_t edit_at,
                         const std::string& path) {
    event e;
    e.id = std::move(id);
    e.incident = stream;
    e.type = type;
    e.at = u.at;
    e.recorded_at = u.created;
    e.source = source;
    e.data.assign(data.GetString(), data.GetSize());
    auto v = validate_event(std::move(e));
    if (!v) return problem(path, v.error());
    w_.push(std::move(*v), edit_at, path);
  }

  void problem(const std::string& path, std::string_view what) {
    bad_ = true;
    w_.fail(error(fmt::format("{}: {}{}: {}", file_, doc_prefix_, path.empty() ? "(the document)" : path, what)));
  }

  // The string member `key` of `obj`, or nullptr when it is absent (a problem when
  // `required`) or not a string (a problem: "expected WHAT"). `ok` is false after a problem.
  const rj::Value* string_member(const rj::Value& obj, const char* key, const std::string& path, bool required,
                                 std::string_view what, bool& ok) {
    const rj::Value* v = get(obj, key);
    ok = true;
    if (!v) {
      if (required) problem(member(path, key), "missing required field");
      ok = !required;
      return nullptr;
    }
    if (!v->IsString()) {
      problem(member(path, key), fmt::format("expected {}: found {}", what, shown(*v)));
      ok = false;
      return nullptr;
    }
    return v;
  }

  // A string member; `required` also means non-empty. False after reporting a problem.
  bool text(const rj::Value& obj, const char* key, const std::string& path, std::optional<std::string>& out,
            bool required) {
    bool ok = true;
    const rj::Value* v = string_member(obj, key, path, required, "a string", ok);
    if (!v) return ok;
    if (required && v->GetStringLength() == 0) {
      problem(member(path, key), "expected a non-empty string: found \"\"");
      return false;
    }
    out.emplace(v->GetString(), v->GetStringLength());
    return true;
  }

  bool time(const rj::Value& obj, const char* key, const std::string& path, std::optional<std::int64_t>& out,
            bool required) {
    bool ok = true;
    const rj::Value* v = string_member(obj, key, path, required, "a timestamp string", ok);
    if (!v) return ok;
    auto t = parse_timestamp({v->GetString(), v->GetStringLength()});
    if (!t) {
      problem(member(path, key), fmt::format("{}: found {}", t.error(), shown(*v)));
      return false;
    }
    out = t->ms;
    return true;
  }

  bool page_of(const rj::Value& doc, const std::string& path, page_info& page) {
    std::optional<std::string> name, url;
    if (const rj::Value* p = get(doc, "page")) {
      if (!p->IsObject()) {
        problem(member(path, "page"), fmt::format("expected an object: found {}", shown(*p)));
        return false;
      }
      const std::string pp = member(path, "page");
      if (!text(*p, "name", pp, name, false) || !text(*p, "url", pp, url, false)) return false;
    }
    const std::string slug = name ? statuspage_slug(*name) : "";
    page.stream = !opts_.prefix.empty() ? opts_.prefix : !slug.empty() ? slug : "statuspage";
    page.org = name && !name->empty() ? *name : !opts_.prefix.empty() ? opts_.prefix : "statuspage";
    page.source = url ? url_host(*url) : "";
    if (page.source.empty()) page.source = "statuspage";
    page.url = url ? *url : "";
    while (!page.url.empty() && page.url.back() == '/') page.url.pop_back();
    return true;
  }

  void incident(const rj::Value& inc, const page_info& page, const std::string& path) {
    bad_ = false;
    if (!inc.IsObject()) return problem(path, fmt::format("expected an incident object: found {}", shown(inc)));
    std::optional<std::string> id, name, impact, shortlink, url;
    std::optional<std::int64_t> created, updated;
    text(inc, "id", path, id, true);
    text(inc, "name", path, name, true);
    if (text(inc, "impact", path, impact, false) && impact && !one_of(impacts, *impact))
      problem(member(path, "impact"),
              fmt::format("not a Statuspage impact (expected {}): found \"{}\"", alternatives(impacts), *impact));
    text(inc, "shortlink", path, shortlink, false);
    text(inc, "url", path, url, false);
    time(inc, "created_at", path, created, false);
    time(inc, "updated_at", path, updated, false);

    std::vector<std::string> services;
    if (const rj::Value* comps = get(inc, "components")) {
      const std::string cp = member(path, "components");
      if (!comps->IsArray()) {
        problem(cp, fmt::format("expected an array: found {}", shown(*comps)));
      } else {
        for (rj::SizeType i = 0; i < comps->Size(); ++i) {
          const rj::Value& c = (*comps)[i];
          std::optional<std::string> cname;
          if (c.IsString() && c.GetStringLength() > 0) cname.emplace(c.GetString(), c.GetStringLength());
          else if (c.IsObject()) text(c, "name", index(cp, i), cname, true);
          else problem(index(cp, i), fmt::format("expected a component object: found {}", shown(c)));
          if (cname && std::ranges::find(services, *cname) == services.end()) services.push_back(*cname);
        }
      }
    }

    std::vector<update> updates;
    if (const rj::Value* ups = get(inc, "incident_updates")) {
      const std::string up = member(path, "incident_updates");
      if (!ups->IsArray()) problem(up, fmt::format("expected an array: found {}", shown(*ups)));
      else
        for (rj::SizeType i = 0; i < ups->Size(); ++i)
          if (auto u = read_update((*ups)[i], index(up, i), updated)) updates.push_back(std::move(*u));
    }
    if (bad_) return;

    // Newest first on the wire: reverse, then order by time keeping that order for ties.
    std::ranges::reverse(updates);
    std::ranges::stable_sort(updates, [](const update& a, const update& b) {
      return a.at != b.at ? a.at < b.at : a.created < b.created;
    });
    std::optional<std::int64_t> start = created;
    if (!start && !updates.empty()) start = updates.front().at;
    if (!start) return problem(path, "no created_at and no incident_updates: the incident cannot be placed in time");

    const std::string stream = fmt::format("{}-{}", page.stream, code_slug(*id));
    {
      rj::StringBuffer buf;
      rj::Writer<rj::StringBuffer> j(buf);
      j.StartObject();
      j.Key("title");
      j.String(name->c_str(), static_cast<rj::SizeType>(name->size()));
      j.Key("org");
      j.String(page.org.c_str(), static_cast<rj::SizeType>(page.org.size()));
      j.Key("services");
      j.StartArray();
      for (const auto& s : services) j.String(s.c_str(), static_cast<rj::SizeType>(s.size()));
      j.EndArray();
      if (impact) {
        j.Key("severity");
        j.String(impact->c_str(), static_cast<rj::SizeType>(impact->size()));
      }
      if (shortlink && !shortlink->empty()) {
        j.Key("shortlink");
        j.String(shortlink->c_str(), static_cast<rj::SizeType>(shortlink->size()));
      }
      const std::string link = url && !url->empty() ? *url : page.url.empty() ? "" : page.url + "/incidents/" + *id;
      if (!link.empty()) {
        j.Key("url");
        j.String(link.c_str(), static_cast<rj::SizeType>(link.size()));
      }
      j.EndObject();
      event e;
      e.incident = stream;
      e.type = "incident";
      e.at = *start;
      e.source = page.source;
      e.data.assign(buf.GetString(), buf.GetSize());
      auto v = validate_event(std::move(e));
      if (!v) return problem(path, v.error());
      // The derived id hashes the content: a changed incident gets a new id, an unchanged one the same.
      v->id = fmt::format("sp:{}/incident-{}", *id, v->id.substr(1, 16));
      // Recorded when the page said it: the first description of the incident since the
      // incident was created; a changed one (renamed, new impact…) only since the page's last
      // change, so that `as of` an earlier time still shows the description the page had then.
      // recorded_at is not part of an event's content, so a re-import matches either way.
      const bool changed = w_.has_other(stream, "incident", v->id);
      v->recorded_at = changed ? recorded_change(updated, updates, *start) : recorded_first(created, updates, *start);
      w_.push(std::move(*v), std::nullopt, path);
    }

    for (const auto& u : updates) {
      const std::int64_t edit_at = u.updated.value_or(u.created);
      {
        rj::StringBuffer buf;
        rj::Writer<rj::StringBuffer> j(buf);
        j.StartObject();
        j.Key("status");
        j.String(u.status.c_str(), static_cast<rj::SizeType>(u.status.size()));
        if (u.body && !u.body->empty()) {
          j.Key("text");
          j.String(u.body->c_str(), static_cast<rj::SizeType>(u.body->size()));
        }
        j.EndObject();
        push_update_event("sp:" + u.id, stream, "status", u, page.source, buf, edit_at, u.path);
      }
      for (const auto& c : u.components) {
        rj::StringBuffer buf;
        rj::Writer<rj::StringBuffer> j(buf);
        j.StartObject();
        j.Key("component");
        j.String(c.name.c_str(), static_cast<rj::SizeType>(c.name.size()));
        j.Key("state");
        j.String(c.state.c_str(), static_cast<rj::SizeType>(c.state.size()));
        j.EndObject();
        push_update_event(fmt::format("sp:{}:{}", u.id, c.key), stream, "component", u, page.source, buf, edit_at,
                          c.path);
      }
    }
  }

  // When the page first described the incident: its created_at, else its first update's
  // creation, else `start`.
  static std::int64_t recorded_first(std::optional<std::int64_t> created, const std::vector<update>& updates,
                                     std::int64_t start) {
    if (created) return *created;
    if (updates.empty()) return start;
    return std::ranges::min(updates, {}, &update::created).created;
  }

  // When the page last changed: the incident's updated_at, else its latest update's edit (or
  // creation), else `start`.
  static std::int64_t recorded_change(std::optional<std::int64_t> updated, const std::vector<update>& updates,
                                      std::int64_t start) {
    if (updated) return *updated;
    std::int64_t latest = start;
    for (const auto& u : updates) latest = std::max(latest, u.updated.value_or(u.created));
    return latest;
  }

  std::optional<update> read_update(const rj::Value& u, const std::string& path,
                                    std::optional<std::int64_t> incident_updated) {
    if (!u.IsObject()) {
      problem(path, fmt::format("expected an incident update object: found {}", shown(u)));
      return std::nullopt;
    }
    std::optional<std::string> id, status, body;
    std::optional<std::int64_t> created, display, updated;
    bool ok = text(u, "id", path, id, true);
    if (text(u, "status", path, status, true)) {
      std::string s = lower(*status);
      std::ranges::replace(s, ' ', '_');
      if (one_of(statuses, s)) {
        status = s;
      } else {
        problem(member(path, "status"),
                fmt::format("not a Statuspage status (expected {}): found \"{}\"", alternatives(statuses), *status));
        ok = false;
      }
    } else {
      ok = false;
    }
    ok &= text(u, "body", path, body, false);
    ok &= time(u, "created_at", path, created, true);
    ok &= time(u, "display_at", path, display, false);
    ok &= time(u, "updated_at", path, updated, false);

    update out;
    if (const rj::Value* acs = get(u, "affected_components")) {
      const std::string ap = member(path, "affected_components");
      if (!acs->IsArray()) {
        problem(ap, fmt::format("expected an array: found {}", shown(*acs)));
        ok = false;
      } else {
        for (rj::SizeType i = 0; i < acs->Size(); ++i) {
          const rj::Value& c = (*acs)[i];
          const std::string cp = index(ap, i);
          if (!c.IsObject()) {
            problem(cp, fmt::format("expected an affected component object: found {}", shown(c)));
            ok = false;
            continue;
          }
          std::optional<std::string> code, name, state;
          if (!text(c, "code", cp, code, false) || !text(c, "name", cp, name, false) ||
              !text(c, "new_status", cp, state, true)) {
            ok = false;
            continue;
          }
          if (!one_of(component_states, *state)) {
            problem(member(cp, "new_status"), fmt::format("not a Statuspage component status (expected {}): found \"{}\"",
                                                          alternatives(component_states), *state));
            ok = false;
            continue;
          }
          if ((!name || name->empty()) && (!code || code->empty())) {
            problem(cp, "missing required field \"name\" (or \"code\")");
            ok = false;
            continue;
          }
          component_change cc;
          cc.name = name && !name->empty() ? *name : *code;
          cc.key = code && !code->empty() ? *code : cc.name;
          cc.state = *state;
          cc.path = cp;
          if (std::ranges::any_of(out.components, [&](const component_change& o) { return o.key == cc.key; })) {
            problem(cp, fmt::format("component \"{}\" appears twice in this update", cc.key));
            ok = false;
            continue;
          }
          out.components.push_back(std::move(cc));
        }
      }
    }
    if (!ok) return std::nullopt;
    out.id = *id;
    out.status = *status;
    out.body = std::move(body);
    out.created = *created;
    out.at = display.value_or(*created);
    out.updated = updated ? updated : incident_updated;
    out.path = path;
    return out;
  }

  import_writer& w_;
  std::string_view file_;
  const import_options& opts_;
  std::string doc_prefix_;
  bool bad_ = false;
};

}  // namespace

std::string statuspage_slug(std::string_view text) {
  std::string out;
  bool dash = false;
  for (const char ch : text) {
    const char c = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && !out.empty()) out += '-';
      dash = false;
      out += c;
    } else {
      dash = true;
    }
  }
  return out;
}

std::expected<import_file_result, std::vector<error>> import_statuspage(event_store& store, std::istream& in,
                                                                        std::string_view name,
                                                                        const import_options& opts) {
  import_writer w(store, name, opts.progress);
  if (!w.begin()) return w.finish(import_format::statuspage);
  converter conv(w, name, opts);
  tracked_stream s(in);
  if (s.Peek() == '\xEF') {
    // A UTF-8 byte order mark.
    s.Take();
    if (s.Peek() == '\xBB') s.Take();
    if (s.Peek() == '\xBF') s.Take();
  }
  std::size_t documents = 0;
  for (;;) {
    while (!s.at_end() && (s.Peek() == ' ' || s.Peek() == '\t' || s.Peek() == '\r' || s.Peek() == '\n')) s.Take();
    if (s.at_end()) break;
    ++documents;
    const std::uint32_t first_line = s.line();
    rj::Document doc;
    s.limit(limits::statuspage_bytes);
    const auto problem = parse_json_stream<rj::kParseStopWhenDoneFlag>(
        doc, s, json_counted{"incident_updates", limits::statuspage_updates, "incident updates in a document"});
    if (problem) {
      // The column of the problem's byte (the stream may have read on a little past it).
      const std::size_t back = s.Tell() - std::min(problem->offset, s.Tell());
      const std::uint32_t column = s.column() > back ? static_cast<std::uint32_t>(s.column() - back) : s.column();
      const source_position at{std::string(name), s.line(), column};
      if (s.over_limit())
        w.fail(error(fmt::format("document {} (line {}): longer than the {} MiB limit on a Statuspage document "
                                 "(limits: docs/limits.md)",
                                 documents, first_line, limits::statuspage_bytes >> 20),
                     at));
      else if (problem->syntax)
        w.fail(error(fmt::format("not valid JSON at column {} (byte {}): {}", column, problem->offset + 1,
                                 problem->message),
                     at));
      else
        w.fail(error(fmt::format("at column {} (byte {}): {}", column, problem->offset + 1, problem->message), at));
      break;
    }
    conv.set_document(documents, first_line);
    conv.document(doc, "", true);
    w.set_bytes(s.Tell());
  }
  if (s.bad()) w.fail(error(fmt::format("{}: read error", name)));
  if (documents == 0 && !w.failed()) w.fail(error(fmt::format("{}: no Statuspage document (the file is empty)", name)));
  return w.finish(import_format::statuspage);
}

}  // namespace pmdb
