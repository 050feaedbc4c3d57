#pragma once
// The compiler's view of a store: indexed lookups, so a statement costs the same with ten
// incidents or a hundred thousand.
#include <fmt/format.h>

#include "core/event_store.hpp"
#include "core/projection.hpp"
#include "query/compiler.hpp"

namespace pmdb::shell {

// `store` must outlive the catalog.
inline query::catalog catalog_of(const event_store& store) {
  const auto exists = [&store](std::string sql, std::vector<value> params) {
    static const std::vector<column> one = {{"found", value_type::integer}};
    auto rs = store.query(sql, params, one);
    return rs && !rs->rows.empty();
  };
  return {[&store](std::string_view id) { return store.has_incident(id); },
          [&store] { return store.incident_ids(); },
          [exists](std::string_view id, std::int64_t as_of) {
            const auto b = projection::believed("v", true);
            return exists(fmt::format("SELECT 1 FROM {} v WHERE v.incident = ? AND {} LIMIT 1", projection::versions_table, b.sql),
                          {std::string(id), timestamp{as_of}});
          },
          [exists](std::string_view id) {
            return exists(fmt::format("SELECT 1 FROM {} WHERE id = ?", projection::log_table), {std::string(id)});
          }};
}

}  // namespace pmdb::shell
