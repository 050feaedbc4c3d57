// pmql-sql: prints the SQL that pmdb runs for PMQL statements, with each bound parameter
// written inline as an SQL literal, so that it can be run, timed and EXPLAINed in sqlite3.
//
// Usage: pmql-sql [--dialect sqlite|postgresql] DB 'STATEMENTS'
// DB supplies the catalog (the incident ids); it is opened read-only. With --dialect postgresql
// the SQL is PostgreSQL's (to run in psql with `SET search_path = pmdb, pg_catalog`).
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "core/event_store.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"

namespace {

std::string literal(const pmdb::value& v) {
  struct visitor {
    std::string operator()(pmdb::null_value) const { return "NULL"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return fmt::format("{}", d); }
    std::string operator()(const std::string& s) const {
      std::string out = "'";
      for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
      return out + "'";
    }
    std::string operator()(pmdb::timestamp t) const { return std::to_string(t.ms); }
    std::string operator()(pmdb::duration d) const { return std::to_string(d.ms); }
  };
  return std::visit(visitor{}, v);
}

// Replaces each `?` outside quoted SQL text with the next parameter.
std::string inline_params(const pmdb::query::compiled_query& q) {
  std::string out;
  std::size_t next = 0;
  char quote = 0;
  for (char c : q.sql) {
    if (quote) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?' && next < q.params.size()) {
      out += literal(q.params[next++]);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  pmdb::query::context ctx;
  if (argc == 5 && std::string_view(argv[1]) == "--dialect") {
    const std::string_view d = argv[2];
    if (d != "sqlite" && d != "postgresql") {
      fmt::print(stderr, "pmql-sql: unknown dialect '{}' (sqlite or postgresql)\n", d);
      return 2;
    }
    ctx.dialect = d == "postgresql" ? pmdb::sql_dialect::postgresql : pmdb::sql_dialect::sqlite;
    argv += 2;
    argc -= 2;
  }
  if (argc != 3) {
    std::fputs("usage: pmql-sql [--dialect sqlite|postgresql] DB 'STATEMENTS'\n", stderr);
    return 2;
  }
  auto store = pmdb::event_store::open(argv[1], {.create = false, .read_only = true});
  if (!store) {
    fmt::print(stderr, "pmql-sql: {}\n", store.error().message);
    return 1;
  }
  const std::string text = argv[2];
  auto script = pmdb::query::parse(text);
  if (!script) {
    fmt::print(stderr, "{}", pmdb::query::render_error(script.error(), text));
    return 1;
  }
  const pmdb::query::catalog cat = pmdb::shell::catalog_of(*store);
  for (const auto& stmt : script->statements) {
    auto act = pmdb::query::compile(stmt, cat, ctx, text);
    if (!act) {
      fmt::print(stderr, "{}", pmdb::query::render_error(act.error(), text));
      return 1;
    }
    if (auto* use = std::get_if<pmdb::query::set_incident>(&*act)) ctx.current_incident = use->incident;
    else if (auto* run = std::get_if<pmdb::query::run_query>(&*act)) fmt::print("{};\n", inline_params(run->query));
    else fmt::print("-- report: rendered by the shell, not one SQL statement\n");
  }
  return 0;
}
