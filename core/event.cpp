#include "core/event.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/embedded.hpp"
#include "core/json_text.hpp"
#include "core/limits.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace pmdb {

bool is_event_type(std::string_view type) {
  return std::ranges::find(event_types, type) != std::end(event_types);
}

namespace {

namespace rj = rapidjson;

std::string shown(const rj::Value& v) { return json_excerpt(v); }

std::string kind_name(const rj::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsArray()) return "an array";
  return "an object";
}

// Turns a JSON pointer ("/data/services/0") into the dotted form used in messages
// ("data.services[0]").
std::string dotted(std::string_view prefix, const rj::Pointer& p) {
  std::string out(prefix);
  for (std::size_t i = 0; i < p.GetTokenCount(); ++i) {
    const auto& t = p.GetTokens()[i];
    if (t.index != rj::kPointerInvalidIndex) {
      out += fmt::format("[{}]", t.index);
    } else {
      if (!out.empty()) out += '.';
      out.append(t.name, t.length);
    }
  }
  return out.empty() ? "(the event)" : out;
}

// A compiled JSON Schema with its source document (needed to explain failures).
struct compiled_schema {
  rj::Document source;
  std::unique_ptr<rj::SchemaDocument> schema;
};

compiled_schema compile_schema(std::string_view file) {
  compiled_schema cs;
  const auto& files = embedded_files();
  const auto it = files.find(file);
  if (it == files.end()) throw std::logic_error(fmt::format("schema {} is not embedded", file));
  cs.source.Parse(it->second.data(), it->second.size());
  if (cs.source.HasParseError()) throw std::logic_error(fmt::format("schema {} is not valid JSON", file));
  cs.schema = std::make_unique<rj::SchemaDocument>(cs.source);
  return cs;
}

// The envelope's schema and each type's, compiled once (thread-safe static initialisation)
// and read-only afterwards.
struct schema_set {
  compiled_schema envelope = compile_schema("envelope.schema.json");
  std::vector<compiled_schema> types;  // in event_types order
  schema_set() {
    for (const auto t : event_types) types.push_back(compile_schema(fmt::format("{}.schema.json", t)));
  }
};

const schema_set& schemas() {
  static const schema_set set;
  return set;
}

// The schema of `type` (a valid event type), or the envelope's for an empty type.
const compiled_schema& schema_for(std::string_view type) {
  const schema_set& set = schemas();
  if (type.empty()) return set.envelope;
  const auto it = std::ranges::find(event_types, type);
  return set.types.at(static_cast<std::size_t>(it - std::begin(event_types)));
}

// Validates `doc` against the schema of `type` (the envelope's when empty); on failure explains the first problem as
// "PATH: what is wrong (expected ...): found VALUE".
std::expected<void, std::string> check_schema(std::string_view type, const rj::Value& doc,
                                              std::string_view prefix) {
  const compiled_schema& cs = schema_for(type);
  // One validator per schema and thread, reset between documents: constructing one costs more
  // than validating a small event.
  thread_local std::map<const rj::SchemaDocument*, std::unique_ptr<rj::SchemaValidator>> validators;
  auto& slot = validators[cs.schema.get()];
  if (!slot) slot = std::make_unique<rj::SchemaValidator>(*cs.schema);
  rj::SchemaValidator& validator = *slot;
  validator.Reset();
  if (doc.Accept(validator)) return {};

  const std::string keyword = validator.GetInvalidSchemaKeyword();
  const rj::Pointer doc_ptr = validator.GetInvalidDocumentPointer();
  const rj::Pointer schema_ptr = validator.GetInvalidSchemaPointer();
  const rj::Value* node = doc_ptr.Get(doc);
  const rj::Value* rule = schema_ptr.Get(cs.source);
  const std::string path = dotted(prefix, doc_ptr);
  const std::string found = node ? shown(*node) : "nothing";

  if (keyword == "required" && rule && node && node->IsObject() && rule->HasMember("required")) {
    for (const auto& r : (*rule)["required"].GetArray())
      if (!node->HasMember(r))
        return std::unexpected(fmt::format("{}: missing required field \"{}\"",
                                           dotted(prefix, doc_ptr.Append(r.GetString(), r.GetStringLength())),
                                           r.GetString()));
  }
  if (keyword == "additionalProperties" && rule) {
    // The document pointer names the unexpected member itself.
    std::string allowed;
    if (rule->HasMember("properties"))
      for (const auto& p : (*rule)["properties"].GetObject())
        allowed += (allowed.empty() ? "" : ", ") + std::string(p.name.GetString());
    return std::unexpected(fmt::format("{}: unknown field (expected one of: {})", path, allowed));
  }
  if (keyword == "enum" && rule && rule->HasMember("enum")) {
    std::string options;
    for (const auto& o : (*rule)["enum"].GetArray()) options += (options.empty() ? "" : " | ") + minified(o);
    return std::unexpected(fmt::format("{}: not an allowed value (expected {}): found {}", path, options, found));
  }
  if (keyword == "type" && rule && rule->HasMember("type")) {
    std::string expected = minified((*rule)["type"]);
    expected.erase(std::remove(expected.begin(), expected.end(), '"'), expected.end());
    return std::unexpected(fmt::format("{}: expected {}: found {}", path, expected, node ? kind_name(*node) + " " + found : found));
  }
  if ((keyword == "minLength" || keyword == "maxLength") && rule && rule->HasMember(keyword.c_str()))
    return std::unexpected(fmt::format("{}: {} is {}: found {}", path, keyword == "minLength" ? "the minimum length" : "the maximum length",
                                       (*rule)[keyword.c_str()].GetInt(), found));
  if (keyword == "pattern" && rule && rule->HasMember("pattern"))
    return std::unexpected(fmt::format("{}: does not match {}: found {}", path, (*rule)["pattern"].GetString(), found));
  if ((keyword == "minimum" || keyword == "maximum") && rule && rule->HasMember(keyword.c_str()))
    return std::unexpected(fmt::format("{}: {} is {}: found {}", path, keyword, minified((*rule)[keyword.c_str()]), found));
  if (keyword == "anyOf" || keyword == "oneOf") {
    // Alternatives that are each a list of required fields: name them, e.g. `"text" (an
    // action item) or "of" (an update of one)`.
    std::string alternatives;
    if (rule && rule->HasMember(keyword.c_str()) && (*rule)[keyword.c_str()].IsArray()) {
      const auto& branches = (*rule)[keyword.c_str()].GetArray();
      for (rj::SizeType i = 0; i < branches.Size(); ++i) {
        const auto& b = branches[i];
        if (!b.IsObject() || !b.HasMember("required") || !b["required"].IsArray()) {
          alternatives.clear();
          break;
        }
        std::string fields;
        for (const auto& f : b["required"].GetArray())
          if (f.IsString()) fields += (fields.empty() ? "" : " and ") + minified(f);
        if (b.HasMember("description") && b["description"].IsString())
          fields += fmt::format(" ({})", b["description"].GetString());
        alternatives += (i == 0 ? "" : i + 1 == branches.Size() ? " or " : ", ") + fields;
      }
    }
    if (!alternatives.empty())
      return std::unexpected(fmt::format("{}: does not have the required fields: {}", path, alternatives));
    std::string what = rule && rule->HasMember("description") ? (*rule)["description"].GetString() : "";
    return std::unexpected(fmt::format("{}: does not have the required fields{}", path, what.empty() ? "" : " (" + what + ")"));
  }
  if (keyword == "dependencies" && rule && rule->HasMember("dependencies") && node && node->IsObject()) {
    for (const auto& d : (*rule)["dependencies"].GetObject()) {
      if (!node->HasMember(d.name) || !d.value.IsArray()) continue;
      for (const auto& needed : d.value.GetArray())
        if (needed.IsString() && !node->HasMember(needed))
          return std::unexpected(fmt::format("{}: {} needs {}", path, minified(d.name), minified(needed)));
    }
  }
  return std::unexpected(fmt::format("{}: fails the schema's \"{}\" rule: found {}", path, keyword, found));
}

std::optional<std::string> opt_string(const rj::Value& data, const char* key) {
  if (!data.IsObject()) return std::nullopt;
  const auto it = data.FindMember(key);
  if (it == data.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Fills the typed columns of `e` from its payload.
void extract(event& e, const rj::Value& data) {
  e.text = opt_string(data, e.type == "incident" ? "title" : "text");
  if (e.type == "status") e.status = opt_string(data, "status");
  if (e.type == "comm") {
    e.channel = opt_string(data, "channel");
    e.author = opt_string(data, "author");
  }
  if (e.type == "metric") {
    e.metric = opt_string(data, "name");
    e.unit = opt_string(data, "unit");
    if (data.HasMember("value") && data["value"].IsNumber()) e.value = data["value"].GetDouble();
  }
  if (e.type == "report" && data.HasMember("count") && data["count"].IsNumber()) e.value = data["count"].GetDouble();
  if (e.type == "component") {
    e.component = opt_string(data, "component");
    e.state = opt_string(data, "state");
  }
  if (e.type == "cause" || e.type == "action") e.kind = opt_string(data, "kind");
  if (e.type == "correction" || e.type == "retraction") e.target = opt_string(data, "target");
  // An action item's update names its item in `of`: the event's target, as a correction's.
  if (e.type == "action") e.target = opt_string(data, "of");
}

// A string of the envelope as text pmdb stores: UTF-8, no NUL (SQLite and C strings would cut
// it there), within the limit on a field. `name` names the field in the message.
std::expected<void, std::string> check_text(std::string_view name, std::string_view s) {
  if (s.size() > limits::field_bytes)
    return std::unexpected(fmt::format("{}: longer than the {} MiB limit on a field (limits: docs/limits.md)", name,
                                       limits::field_bytes >> 20));
  if (const auto nul = s.find('\0'); nul != std::string_view::npos)
    return std::unexpected(
        fmt::format("{}: a NUL character (\\u0000) at byte {} of the value, which pmdb does not store", name, nul + 1));
  if (const auto bad = invalid_utf8(s))
    return std::unexpected(fmt::format("{}: not valid UTF-8 at byte {} of the value", name, *bad + 1));
  return {};
}

// The incident's slug, checked on every byte (the schema's pattern is checked by a regex that
// stops at the first byte it cannot decode).
bool is_slug(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '.' || c == '_' || c == '-'))))
      return false;
  }
  return true;
}

// Checks the payload of a well-formed envelope, canonicalises it and assigns the id.
std::expected<event, std::string> finish(event e, const rj::Value& data) {
  if (!is_slug(e.incident)) {
    const rj::Value found(e.incident.data(), static_cast<rj::SizeType>(e.incident.size()));
    return std::unexpected(fmt::format("incident: does not match ^[a-z0-9][a-z0-9._-]*$: found {}", shown(found)));
  }
  if (auto ok = check_schema(e.type, data, "data"); !ok)
    return std::unexpected(ok.error());
  if (e.type == "correction" && data.HasMember("at")) {
    const auto& at = data["at"];
    if (!at.IsString() || !parse_timestamp({at.GetString(), at.GetStringLength()}))
      return std::unexpected(fmt::format("data.at: {}: found {}",
                                         at.IsString() ? parse_timestamp({at.GetString(), at.GetStringLength()}).error()
                                                       : std::string("expected a timestamp string"),
                                         shown(at)));
  }
  e.data = minified(data);
  extract(e, data);
  if (e.id.empty()) e.id = e.derived_id();
  // The event as exported is one JSONL line, so it must fit in the limit on an event (and so in
  // the one on a line): exact when the cheap bound (every envelope byte escaped) is near it.
  const std::size_t envelope = e.id.size() + e.incident.size() + e.type.size() + e.source.size();
  if (e.data.size() + 6 * envelope + 256 > limits::event_bytes) {
    const std::size_t size = to_jsonl(e, e.recorded_at.value_or(e.at)).size();
    if (size > limits::event_bytes)
      return std::unexpected(fmt::format(
          "the event is {} bytes as JSON, over the {} MiB limit on an event (limits: docs/limits.md)", size,
          limits::event_bytes >> 20));
  }
  return e;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h) {
  for (const unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string event::content_key() const {
  const std::string when = std::to_string(at);
  std::string key;
  key.reserve(incident.size() + type.size() + when.size() + source.size() + data.size() + 7);
  key.append(incident).append(1, '\x1f').append(type).append(1, '\x1f').append(when).append(1, '\x1f');
  key.append(source).append(1, '\x1f').append(1, approx ? '1' : '0').append(1, '\x1f').append(data);
  return key;
}

std::string event::derived_id() const {
  const std::string key = content_key();
  return fmt::format("e{:016x}{:016x}", fnv1a(key, 0xcbf29ce484222325ULL), fnv1a(key, 0x84222325cbf29ce4ULL));
}

std::expected<event, std::string> parse_event(std::string_view line) {
  rj::Document doc;
  if (auto problem = parse_json(doc, line)) return std::unexpected(problem->at_byte());
  if (!doc.IsObject()) return std::unexpected(fmt::format("expected a JSON object: found {}", kind_name(doc)));
  if (auto ok = check_schema("", doc, ""); !ok) return std::unexpected(ok.error());

  event e;
  const auto str = [](const rj::Value& v) { return std::string(v.GetString(), v.GetStringLength()); };
  e.incident = str(doc["incident"]);
  e.type = str(doc["type"]);
  e.source = str(doc["source"]);
  if (doc.HasMember("id")) e.id = str(doc["id"]);
  if (doc.HasMember("approx")) e.approx = doc["approx"].GetBool();
  const auto time_field = [&](const char* name) -> std::expected<std::int64_t, std::string> {
    const auto& v = doc[name];
    auto t = parse_timestamp({v.GetString(), v.GetStringLength()});
    if (!t) return std::unexpected(fmt::format("{}: {}: found {}", name, t.error(), shown(v)));
    return t->ms;
  };
  auto at = time_field("at");
  if (!at) return std::unexpected(at.error());
  e.at = *at;
  if (doc.HasMember("recorded_at")) {
    auto rec = time_field("recorded_at");
    if (!rec) return std::unexpected(rec.error());
    e.recorded_at = *rec;
  }
  return finish(std::move(e), doc["data"]);
}

std::expected<event, std::string> validate_event(event e) {
  // Checked before they are copied: a string with a NUL must not reach the schema's checks cut
  // short.
  for (const auto& [name, text] : {std::pair<std::string_view, std::string_view>{"incident", e.incident},
                                   {"type", e.type}, {"source", e.source}, {"id", e.id}})
    if (auto ok = check_text(name, text); !ok) return std::unexpected(ok.error());
  rj::Document doc(rj::kObjectType);
  auto& a = doc.GetAllocator();
  const auto str = [&](const std::string& s) { return rj::Value(s.data(), static_cast<rj::SizeType>(s.size()), a); };
  doc.AddMember("incident", str(e.incident), a);
  doc.AddMember("type", str(e.type), a);
  doc.AddMember("at", str(format_iso(timestamp{e.at})), a);
  doc.AddMember("source", str(e.source), a);
  if (!e.id.empty()) doc.AddMember("id", str(e.id), a);
  rj::Document data(&a);
  if (auto problem = parse_json(data, e.data)) return std::unexpected("data: " + problem->at_byte());
  doc.AddMember("data", rj::Value(data, a), a);
  if (auto ok = check_schema("", doc, ""); !ok) return std::unexpected(ok.error());
  return finish(std::move(e), doc["data"]);
}

std::string to_jsonl(const event& e, std::int64_t recorded_at) {
  rj::StringBuffer buf;
  rj::Writer<rj::StringBuffer> w(buf);
  w.StartObject();
  w.Key("id");
  w.String(e.id.c_str(), static_cast<rj::SizeType>(e.id.size()));
  w.Key("incident");
  w.String(e.incident.c_str(), static_cast<rj::SizeType>(e.incident.size()));
  w.Key("type");
  w.String(e.type.c_str(), static_cast<rj::SizeType>(e.type.size()));
  w.Key("at");
  w.String(format_iso(timestamp{e.at}).c_str());
  w.Key("recorded_at");
  w.String(format_iso(timestamp{recorded_at}).c_str());
  w.Key("source");
  w.String(e.source.c_str(), static_cast<rj::SizeType>(e.source.size()));
  if (e.approx) {
    w.Key("approx");
    w.Bool(true);
  }
  w.Key("data");
  w.RawValue(e.data.c_str(), e.data.size(), rj::kObjectType);
  w.EndObject();
  // Valid JSON whatever was stored: bytes that are not UTF-8 (kept by stores written before
  // pmdb checked its input) can only be inside strings, and come out as U+FFFD.
  std::string line(buf.GetString(), buf.GetSize());
  if (invalid_utf8(line)) return valid_utf8(line);
  return line;
}

}  // namespace pmdb
