#pragma once
// The interactive loop on a terminal: line editing, history, completion, Ctrl-C, paging.
#include "shell/session.hpp"

namespace pmdb::shell {

// Runs the REPL on the controlling terminal until .quit or Ctrl-D. History is kept in
// $PMDB_HISTORY, or ~/.pmdb_history. Returns the process exit status.
int run_repl(session& s);

}  // namespace pmdb::shell
