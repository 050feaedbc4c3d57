#pragma once
// The compiler's view of a store: indexed lookups, so a statement costs the same with ten
// incidents or a hundred thousand.
#include "core/event_store.hpp"
#include "query/compiler.hpp"

namespace pmdb::shell {

// `store` must outlive the catalog.
inline query::catalog catalog_of(const event_store& store) {
  return {[&store](std::string_view id) { return store.has_incident(id); }, [&store] { return store.incident_ids(); }};
}

}  // namespace pmdb::shell
