#pragma once
// What a script means to do before it runs: whether any of its units may append to the store.
// `pmdb DB -c/-f` on a DB that does not exist creates it only for a script that writes; a
// script that only reads gets "no such store" (a mistyped path is not a new, empty store).
#include <string_view>

namespace pmdb::shell {

// True when `text` holds a statement that appends to the store (`record`, `new incident`,
// `correct`, `retract`), or a dot-command that may (`.import`, and `.read` or `\i`, whose script
// is not looked into). A statement that does not parse is not a write: it fails when run.
bool may_write(std::string_view text);

}  // namespace pmdb::shell
