#pragma once
// For tests and benchmarks only: what the public API of event_store does not give.
#include "core/event_store.hpp"

struct sqlite3;

namespace pmdb {

struct store_access {
  // The SQLite connection of a store on a file (nullptr on a server).
  static ::sqlite3* sqlite_handle(const event_store& s);
};

}  // namespace pmdb
