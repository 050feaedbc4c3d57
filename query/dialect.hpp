#pragma once
// The SQL the compiler writes, adapted to the store's dialect after it is written.
#include <string>
#include <string_view>

#include "core/dialect.hpp"

namespace pmdb::query {

// `sql` with every ORDER BY term (of a query or of a window) saying where NULLs sort, as SQLite
// sorts them by default (first when ascending, last when descending), so that PostgreSQL (NULLs
// last when ascending) gives the same order; and for PostgreSQL, SQLite's spellings in their
// PostgreSQL form: `LIMIT -1` is `LIMIT ALL`, `AS REAL` (SQLite's 8-byte real) `AS double
// precision`, `AS INTEGER` (SQLite's 8-byte integer) `AS bigint`. Quoted text is left alone.
std::string in_dialect(std::string_view sql, sql_dialect d);

}  // namespace pmdb::query
