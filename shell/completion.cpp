#include "shell/completion.hpp"

#include <algorithm>
#include <cctype>

#include "query/catalog_fields.hpp"
#include "query/words.hpp"

namespace pmdb::shell {

namespace words = query::words;

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (prefix.size() > s.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

}  // namespace

completion completions(const session& s, std::string_view before, std::string_view word) {
  completion out;
  const auto first = before.find_first_not_of(" \t");
  const std::string_view head = first == std::string_view::npos ? std::string_view{} : before.substr(first);
  const auto add = [&](std::string_view w) {
    if (starts_with_ci(w, word)) out.words.emplace_back(w);
  };

  if (head.empty() && word.starts_with(".")) {
    for (const auto& c : dot_commands()) add(c.name);
  } else if (head.starts_with(".")) {
    const std::string_view cmd = head.substr(0, head.find_first_of(" \t"));
    const auto commands = dot_commands();
    const auto c = std::ranges::find_if(commands, [&](const dot_command& d) { return d.name == cmd; });
    if (c == commands.end()) return out;
    using arg = dot_command::arg_kind;
    switch (c->completes) {
      case arg::file: out.files = true; return out;
      case arg::incident:
        for (const auto& id : s.store().incident_ids()) add(id);
        break;
      case arg::type:
        for (const auto& t : words::event_types()) add(t);
        break;
      case arg::mode:
        for (const auto m : mode_names()) add(m);
        break;
      case arg::on_off:
        add("on");
        add("off");
        if (cmd == ".timer") add("once");
        break;
      case arg::zone:
        for (const auto z : {"UTC", "America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Paris", "Asia/Tokyo"})
          add(z);
        break;
      case arg::none:
      case arg::other: break;
    }
  } else {
    // The words of PMQL (query/words.hpp): keywords, functions, the schemas' closed sets and
    // the payload fields write statements take; then this store's incidents and the fields.
    for (const auto k : words::keyword_words()) add(k);
    for (const auto fn : words::function_names()) add(fn);
    for (const auto& t : words::event_types()) add(t);
    for (const auto& v : words::statuses()) add(v);
    for (const auto& v : words::component_states()) add(v);
    for (const auto& v : words::channels()) add(v);
    for (const auto& f : words::payload_fields()) add(f);
    for (const auto& id : s.store().incident_ids()) add(id);
    for (const auto& f : query::fields::event_fields) add(f.name);
    for (const auto& f : query::fields::incident_fields) add(f.name);
  }
  std::ranges::sort(out.words);
  out.words.erase(std::unique(out.words.begin(), out.words.end()), out.words.end());
  return out;
}

}  // namespace pmdb::shell
