#include "shell/intent.hpp"

#include <string>
#include <variant>

#include "query/parser.hpp"
#include "shell/splitter.hpp"

namespace pmdb::shell {
namespace {

bool unit_may_write(const unit& u) {
  if (u.what == unit::kind::dot_command) {
    const std::string_view t = u.text;
    const auto name = t.substr(0, t.find_first_of(" \t"));
    return name == ".import" || name == ".read" || name == "\\i";  // `\i FILE` is psql's `.read`
  }
  auto script = query::parse(u.text);
  if (!script) return false;
  for (const auto& s : script->statements)
    if (boost::get<query::ast::write_stmt>(&s.get()) != nullptr) return true;
  return false;
}

}  // namespace

bool may_write(std::string_view text) {
  return !split_text(text, [](const unit& u) { return !unit_may_write(u); });
}

}  // namespace pmdb::shell
