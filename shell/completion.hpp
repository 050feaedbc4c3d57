#pragma once
// What tab completion offers at a point of the input line: a pure function, so it is tested
// without a terminal.
#include <string>
#include <string_view>
#include <vector>

#include "shell/session.hpp"

namespace pmdb::shell {

struct completion {
  bool files = false;              // complete a file name (after .read, .import, .open, ...)
  std::vector<std::string> words;  // otherwise: the candidates starting with the word, sorted
};

// `before` is the line up to the start of `word`, the word being completed.
completion completions(const session& s, std::string_view before, std::string_view word);

}  // namespace pmdb::shell
