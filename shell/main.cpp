// pmdb: the command line. Subcommands (import, export, rebuild) and the shell on a store.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "core/embedded.hpp"
#include "core/event_store.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"

namespace {

using namespace pmdb;

constexpr int exit_ok = 0, exit_user_error = 1, exit_usage = 2;

constexpr std::string_view main_help = R"(pmdb: an event-sourced incident postmortem database

Usage:
  pmdb [DB]                        the shell on DB (a .pmdb SQLite file, created if missing);
                                   without DB: an in-memory store loaded with the demo incidents
  pmdb [DB] -c 'STATEMENTS'        run, print, exit
  pmdb [DB] -f FILE.pmq            run a script, exit
  pmdb import DB FILE...           append events ('-' is stdin)
  pmdb export DB [INCIDENT...]     events as JSONL on stdout, in store order
  pmdb rebuild DB                  recompute the read models from the log

Options:
  -h, --help                       this help; `pmdb COMMAND --help` describes a command
  --version                        print the version

Exit status: 0 on success, 1 on a user error (message on stderr), 2 on bad usage.
)";

constexpr std::string_view import_help = R"(Usage: pmdb import DB FILE...

Appends the events of each FILE (JSON Lines, one event per line; '-' reads stdin) to the
store DB, creating it when missing. Each file is one transaction: a file with any bad line
writes nothing, and every bad line is reported as FILE:LINE: what is wrong. Events already
stored (same id, same content) are skipped, so importing a file twice adds nothing.

Options:
  --fast        synchronous=NORMAL instead of FULL (faster; a power loss may lose the
                last transactions, never corrupt the store)
)";

constexpr std::string_view export_help = R"(Usage: pmdb export DB [INCIDENT...]

Writes the events of the named incidents (all when none is named) to stdout as JSON Lines, in
store order. `pmdb import` of the output into an empty store reproduces the same events.
)";

constexpr std::string_view rebuild_help = R"(Usage: pmdb rebuild DB

Recomputes the read models (the incidents table) from the event log, in one transaction.
)";

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") return true;
  return false;
}

int usage_error(std::string_view msg, std::string_view help) {
  fmt::print(stderr, "pmdb: {}\n\n{}", msg, help);
  return exit_usage;
}

int user_error(std::string_view msg) {
  fmt::print(stderr, "pmdb: {}\n", msg);
  return exit_user_error;
}

int cmd_import(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    fmt::print("{}", import_help);
    return exit_ok;
  }
  open_options opts;
  std::vector<std::string> pos;
  for (const auto& a : args) {
    if (a == "--fast") opts.durable = false;
    else if (a.size() > 1 && a[0] == '-' && a != "-") return usage_error(fmt::format("import: unknown option {}", a), import_help);
    else pos.push_back(a);
  }
  if (pos.size() < 2) return usage_error("import: needs a store and at least one file", import_help);
  auto store = event_store::open(pos[0], opts);
  if (!store) return user_error(store.error().message);
  int status = exit_ok;
  for (std::size_t i = 1; i < pos.size(); ++i) {
    const std::string& name = pos[i];
    std::ifstream file;
    std::istream* in = &std::cin;
    if (name != "-") {
      file.open(name, std::ios::binary);
      if (!file) {
        status = user_error(fmt::format("{}: cannot open", name));
        continue;
      }
      in = &file;
    }
    auto r = import_jsonl(*store, *in, name == "-" ? "<stdin>" : name);
    if (!r) {
      for (const auto& e : r.error()) fmt::print(stderr, "{}\n", format_import_error(e));
      fmt::print(stderr, "{}: nothing imported\n", name);
      status = exit_user_error;
      continue;
    }
    fmt::print("{}: {} events appended, {} already there\n", name, r->appended, r->existing);
  }
  return status;
}

int cmd_export(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    fmt::print("{}", export_help);
    return exit_ok;
  }
  if (args.empty()) return usage_error("export: needs a store", export_help);
  auto store = event_store::open(args[0], {.create = false, .read_only = true});
  if (!store) return user_error(store.error().message);
  std::vector<std::string> incidents(args.begin() + 1, args.end());
  const auto known = store->incident_ids();
  for (const auto& i : incidents)
    if (std::ranges::find(known, i) == known.end()) return user_error(fmt::format("unknown incident '{}'", i));
  if (auto r = export_jsonl(*store, std::cout, incidents); !r) return user_error(r.error().message);
  return exit_ok;
}

int cmd_rebuild(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    fmt::print("{}", rebuild_help);
    return exit_ok;
  }
  if (args.size() != 1) return usage_error("rebuild: needs exactly one store", rebuild_help);
  auto store = event_store::open(args[0], {.create = false});
  if (!store) return user_error(store.error().message);
  if (auto r = store->rebuild(); !r) return user_error(r.error().message);
  fmt::print("rebuilt the read models of {} incidents\n", store->incident_ids().size());
  return exit_ok;
}

// An in-memory store holding the demo incidents compiled into the binary.
std::expected<event_store, error> demo_store() {
  auto store = event_store::open(":memory:", {.durable = false});
  if (!store) return store;
  for (const auto& [name, text] : embedded_files()) {
    if (!name.ends_with(".jsonl")) continue;
    std::istringstream in{std::string(text)};
    auto r = import_jsonl(*store, in, name);
    if (!r) return std::unexpected(r.error().front());
  }
  return store;
}

int cmd_shell(const std::vector<std::string>& args) {
  std::string db;
  for (const auto& a : args) {
    if (a.size() > 1 && a[0] == '-') return usage_error(fmt::format("unknown option {}", a), main_help);
    if (!db.empty()) return usage_error(fmt::format("unexpected argument {}", a), main_help);
    db = a;
  }
  auto store = db.empty() ? demo_store() : event_store::open(db);
  if (!store) return user_error(store.error().message);
  const auto incidents = store->incidents();
  fmt::print("pmdb {} — {}: {} incidents, {} events\n", PMDB_VERSION, db.empty() ? "demo store (in memory)" : db,
             incidents.size(), store->event_count());
  for (const auto& i : incidents)
    fmt::print("  {:<24} {:>6} events  {} → {}  {}\n", i.id, i.events, format_short(timestamp{i.started}),
               format_short(timestamp{i.ended}), i.title);
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty()) {
    const std::string cmd = args.front();
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      fmt::print("{}", main_help);
      return exit_ok;
    }
    if (cmd == "--version") {
      fmt::print("pmdb {}\n", PMDB_VERSION);
      return exit_ok;
    }
    if (cmd == "import") return cmd_import(rest);
    if (cmd == "export") return cmd_export(rest);
    if (cmd == "rebuild") return cmd_rebuild(rest);
  }
  return cmd_shell(args);
}
