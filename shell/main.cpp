// pmdb: the command line. Subcommands (import, export, rebuild) and the shell on a store.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/version.hpp>
#include <fmt/format.h>
#include <rapidjson/rapidjson.h>
#include <unistd.h>

#include "core/embedded.hpp"
#include "core/event_store.hpp"
#include "core/import.hpp"
#include "core/jsonl.hpp"
#include "core/time.hpp"
#include "shell/intent.hpp"
#include "shell/output_file.hpp"
#include "shell/postmortem.hpp"
#include "shell/report_html.hpp"
#include "shell/render.hpp"
#include "shell/repl.hpp"
#include "shell/session.hpp"

namespace {

using namespace pmdb;

constexpr int exit_ok = 0, exit_user_error = 1, exit_usage = 2;
constexpr int exit_internal = 70;  // EX_SOFTWARE: a bug of pmdb, never the input's fault

// What main prints goes through say() (stdout) and warn() (stderr), not fmt::print, which
// throws when a write fails. A failed write to stdout is kept and said once at exit
// (finish_stdout); a failed write to stderr has nowhere to be said.
int g_stdout_errno = 0;

template <typename... T>
void say(fmt::format_string<T...> f, T&&... args) {
  const std::string s = fmt::format(f, std::forward<T>(args)...);
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size() && !g_stdout_errno) g_stdout_errno = errno;
}

template <typename... T>
void warn(fmt::format_string<T...> f, T&&... args) {
  const std::string s = fmt::format(f, std::forward<T>(args)...);
  std::fwrite(s.data(), 1, s.size(), stderr);
}

// After writing to std::cout: keeps the OS error of a failed write for finish_stdout.
void note_cout() {
  std::cout.flush();
  if (!std::cout && !g_stdout_errno) g_stdout_errno = errno;
}

// The exit status, after checking that everything written to stdout reached it: a command
// whose output was lost fails ("pmdb: cannot write to standard output (/dev/full): No space
// left on device"), unless it already failed with an error of its own.
int finish_stdout(int status) {
  note_cout();
  const std::string e = shell::stdout_failure(g_stdout_errno);
  if (e.empty() || status != exit_ok) return status;
  warn("pmdb: {}\n", e);
  return exit_user_error;
}

constexpr std::string_view main_help = R"(pmdb: an event-sourced incident postmortem database

Usage:
  pmdb [DB]                        the shell on DB (a .pmdb SQLite file; the shell creates a new
                                   one, and says so); without DB: an in-memory store loaded with
                                   the demo incidents
  pmdb [DB] -c 'STATEMENTS'        run, print, exit (a DB that does not exist: "no such store",
                                   unless the statements write)
  pmdb [DB] -f FILE.pmq            run a script, exit
  pmdb import DB FILE...           append events ('-' is stdin)
  pmdb export DB [INCIDENT...]     events as JSONL on stdout, in store order
  pmdb rebuild DB                  recompute the read models from the log
  pmdb verify DB [--from HASH]     check the hash chain, the triggers, the read models and the file
  pmdb report DB INCIDENT [--format markdown|html] [-o FILE] [--as-of T] [--now T] [--tz ZONE]
                                   the incident's postmortem as Markdown or an HTML page
  pmdb init DB [--roles]           make an empty store (on a server: with its roles)
  pmdb copy SRC DST                copy a whole store into an empty one (file or server)

DB is a store file, or a PostgreSQL database: a libpq URI (postgresql://user@host/db) or
keyword/value string ("host=… dbname=…"), with libpq's PG* environment variables; pmdb keeps
its tables in the database's schema `pmdb`.

Shell options (each also as --NAME=VALUE; `pmdb DB --help` describes them all):
  --mode MODE                      table|box|markdown|csv|tsv|json|jsonl|line (default: table);
                                   --csv, --tsv, --json, --jsonl, --markdown, --box, --table, --line
  --headers on|off                 column names in table, csv and tsv output (default: on)
  --bail / --no-bail               stop at the first error (default: on in scripts)
  --echo                           print each statement and dot-command before its result
  --readonly                       open the store read-only (implies --safe)
  --safe                           refuse what writes files, opens another store, reads a script or
                                   appends to the store (.output FILE, .once, .export, report ... to,
                                   .open, .read, .import, record ...); results still go to stdout
  --tz ZONE                        show timestamps in ZONE (e.g. America/Los_Angeles)
  --as-of TIMESTAMP                read every statement as of TIMESTAMP (what had been recorded by then)
  --now TIMESTAMP                  the time printed in reports; `now` in record statements
  --source NAME                    the source of recorded events (default: $PMDB_SOURCE, else the user name)
  --init FILE, --no-init (-X)      the startup file (default, interactively: $PMDB_INIT, else ~/.pmdbrc)

Other options:
  -h, --help                       this help; `pmdb COMMAND --help` describes a command
  --version                        print the version and those of the libraries it was built with

Manual pages: man pmdb (the command line and the shell), man pmql (the query language).

Files written (-o, .output, .once, .export, `report ... to`) are complete or not there: they
are written beside the target and renamed over it at the end, so a failed write (a full disk)
leaves an existing file as it was. A failed write, to a file or to stdout, is an error.

Exit status: 0 on success, 1 on a user error (message on stderr), 2 on bad usage, 70 on an
internal error of pmdb.
)";

constexpr std::string_view import_help = R"(Usage: pmdb import DB FILE... [OPTIONS]

Appends the events of each FILE ('-' reads stdin) to the store DB, creating it when missing.
The format is detected from the content (and said): pmdb's JSON Lines events, Atlassian
Statuspage v2 JSON (/api/v2/incidents.json, a single incident, or many pages' worth), or a CSV
timeline with a header row. Each file is one transaction: a file with any error writes
nothing, and every problem is reported with its line, JSON path or CSV row and column. Events
already stored are skipped, so importing a file twice, or a later snapshot of a status page,
appends only what is new.

Options:
  --format F        jsonl|statuspage|csv: do not detect
  --prefix P        Statuspage: name incidents P-CODE instead of ORG-CODE
  --tz ZONE         CSV: the IANA zone of times written without an offset (DST-aware)
  --map COL=FIELD   CSV: read column COL as FIELD (repeatable; `--map notes=` ignores a column)
  --fast            synchronous=NORMAL instead of FULL (faster; a power loss may lose the
                    last transactions, never corrupt the store)
)";

constexpr std::string_view export_help = R"(Usage: pmdb export DB [INCIDENT...]

Writes the events of the named incidents (all when none is named) to stdout as JSON Lines, in
store order. `pmdb import` of the output into an empty store reproduces the same events.
)";

// Opens a store and says once when it was upgraded. A command that only reads still upgrades a
// store of an older schema (opening it for writing once); `--readonly` never does.
std::expected<event_store, error> open_store(const std::string& path, open_options opts, bool may_upgrade = true) {
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    return std::unexpected(error(errc::invalid, fmt::format("{} is a directory", path)));
  auto store = event_store::open(path, opts);
  if (!store && store.error().is(errc::read_only) && opts.read_only && may_upgrade) {
    opts.read_only = false;
    store = event_store::open(path, opts);
  }
  if (store) std::cerr << shell::upgrade_notice(*store);
  return store;
}

// A store file that a command creates: removed again (with its -wal, -shm and -journal files)
// when the command leaves it without a single event, so that a failed first import or a
// failed script leaves no empty store behind. Declared before the store it watches, so that
// it runs after the store has closed; `seal` is called with the store still open.
class created_store {
 public:
  explicit created_store(std::string path) : path_(std::move(path)) {
    std::error_code ec;
    created_ = !path_.empty() && path_ != ":memory:" && !event_store::is_server(path_) &&
               !std::filesystem::exists(path_, ec) && !ec;
  }
  created_store(const created_store&) = delete;
  created_store& operator=(const created_store&) = delete;
  bool created() const { return created_; }
  void seal(const event_store& store) { empty_ = store.event_count() == 0; }
  ~created_store() {
    if (!created_ || !empty_) return;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::error_code ec;
      std::filesystem::remove(path_ + suffix, ec);
    }
  }

 private:
  std::string path_;
  bool created_ = false;
  bool empty_ = false;
};

constexpr std::string_view rebuild_help = R"(Usage: pmdb rebuild DB

Recomputes the read models (the incidents table) from the event log, in one transaction.
)";

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") return true;
  return false;
}

int usage_error(std::string_view msg, std::string_view help) {
  warn("pmdb: {}\n\n{}", msg, help);
  return exit_usage;
}

int user_error(std::string_view msg) {
  warn("pmdb: {}\n", msg);
  return exit_user_error;
}

constexpr std::string_view init_help = R"(Usage: pmdb init DB [--roles]

Makes an empty store at DB: a new file, or the schema `pmdb` (its tables, triggers and
functions) in a PostgreSQL database. A store already there is left as it is. (The first write
to a DB that has no store makes one too.)

Options:
  --roles   on a server: also make the roles pmdb_writer (appends through pmdb, never changes
            the log) and pmdb_analyst (reads only), and grant them their privileges on the
            store; people and bots log in as roles of their own, members of one of them
)";

int cmd_init(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", init_help);
    return exit_ok;
  }
  std::vector<std::string> pos;
  bool roles = false;
  for (const auto& a : args) {
    if (a == "--roles") roles = true;
    else if (a.starts_with("-")) return usage_error(fmt::format("init: unknown option {}", a), init_help);
    else pos.push_back(a);
  }
  if (pos.size() != 1) return usage_error("init: needs exactly one store", init_help);
  const bool server = event_store::is_server(pos[0]);
  if (roles && !server) return usage_error("init: --roles is for a server store (a PostgreSQL database)", init_help);
  std::error_code ec;
  const bool existed = server || std::filesystem::exists(pos[0], ec);
  auto store = open_store(pos[0], {});
  if (!store) return user_error(store.error().message);
  if (roles)
    if (auto r = store->create_roles(); !r) return user_error(fmt::format("{}: {}", store->path(), r.error().message));
  say("{}: {} pmdb store of schema version {}, {} events{}\n", store->path(), existed ? "a" : "ready: a",
      store_schema_version, store->event_count(), roles ? "; roles pmdb_writer and pmdb_analyst granted" : "");
  return exit_ok;
}

constexpr std::string_view copy_help = R"(Usage: pmdb copy SRC DST

Copies the whole store SRC into DST, which must hold no event (a file that does not exist, or a
database without a pmdb store, is made): every event as it is, with its position, id, version,
recorded time, who appended it and when, and its chain hash, in one transaction; then DST's
read models are computed from the log. Any pair of engines: file to server, server to file,
server to server. Both stores then verify with the same head and export the same bytes. A
source whose chain does not hold (`pmdb verify` fails) is not copied.
)";

int cmd_copy(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", copy_help);
    return exit_ok;
  }
  for (const auto& a : args)
    if (a.starts_with("-")) return usage_error(fmt::format("copy: unknown option {}", a), copy_help);
  if (args.size() != 2) return usage_error("copy: needs a source store and a destination", copy_help);
  auto src = open_store(args[0], {.create = false, .read_only = true, .mmap_reads = false});
  if (!src) return user_error(src.error().message);
  created_store created(args[1]);
  auto dst = open_store(args[1], {.durable = true, .mmap_reads = false});
  if (!dst) return user_error(dst.error().message);
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto r = dst->copy_from(*src, [&](std::int64_t done, std::int64_t total) {
    if (tty) warn("\rcopy: {} of {} events", done, total);
  });
  if (tty) warn("\r\033[K");
  created.seal(*dst);
  if (!r) return user_error(fmt::format("copy: {}", r.error().message));
  const chain_head h = dst->head();
  say("copied {} events from {} to {}: head {}\n", *r, src->path(), dst->path(), h.hash);
  return exit_ok;
}

// A progress bar on stderr (only when it is a terminal): bytes, events and rate.
class progress_bar {
 public:
  progress_bar(std::string name, std::uintmax_t total) : name_(std::move(name)), total_(total) {}
  void update(std::size_t bytes, std::size_t events) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(events) / secs : 0;
    std::string bar;
    if (total_ > 0) {
      const double f = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_));
      const int filled = static_cast<int>(f * 30);
      bar = fmt::format("[{}{}] {:3.0f}% ", std::string(static_cast<std::size_t>(filled), '#'),
                        std::string(static_cast<std::size_t>(30 - filled), ' '), f * 100);
    }
    warn("\r{}: {}{:.1f} MB, {} events, {:.0f} events/s ", name_, bar,
               static_cast<double>(bytes) / 1e6, events, rate);
    shown_ = true;
  }
  void done() {
    if (shown_) warn("\r\x1b[K");
  }

 private:
  std::string name_;
  std::uintmax_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
  bool shown_ = false;
};

int cmd_import(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", import_help);
    return exit_ok;
  }
  open_options opts;
  opts.mmap_reads = false;  // an import's memory is its page cache, however large the store
  import_options iopts;
  std::vector<std::string> pos;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--fast") {
      opts.durable = false;
    } else if (a == "--format") {
      auto v = value();
      auto f = v ? parse_import_format(*v) : std::nullopt;
      if (!f) return usage_error("import: --format needs jsonl, statuspage or csv", import_help);
      iopts.format = *f;
    } else if (a == "--prefix") {
      auto v = value();
      if (!v) return usage_error("import: --prefix needs a value", import_help);
      iopts.prefix = *v;
    } else if (a == "--tz") {
      auto v = value();
      if (!v) return usage_error("import: --tz needs a zone", import_help);
      iopts.tz = *v;
    } else if (a == "--map") {
      auto v = value();
      const auto eq = v ? v->find('=') : std::string::npos;
      if (eq == std::string::npos) return usage_error("import: --map needs COLUMN=FIELD", import_help);
      iopts.map[v->substr(0, eq)] = v->substr(eq + 1);
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      return usage_error(fmt::format("import: unknown option {}", a), import_help);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() < 2) return usage_error("import: needs a store and at least one file", import_help);
  created_store created(pos[0]);
  auto store = open_store(pos[0], opts);
  if (!store) return user_error(store.error().message);
  int status = exit_ok;
  const bool terminal = ::isatty(STDERR_FILENO);
  for (std::size_t i = 1; i < pos.size(); ++i) {
    const std::string name = pos[i] == "-" ? "<stdin>" : pos[i];
    std::ifstream file;
    std::istream* in = &std::cin;
    std::uintmax_t size = 0;
    if (pos[i] == "-") {
      if (auto readable = shell::check_stdin(); !readable) {
        status = user_error(readable.error());
        continue;
      }
    } else {
      if (auto readable = shell::check_input_file(pos[i]); !readable) {
        status = user_error(readable.error());
        continue;
      }
      file.open(pos[i], std::ios::binary);
      if (!file) {
        status = user_error(fmt::format("cannot read {}: {}", pos[i], std::strerror(errno)));
        continue;
      }
      in = &file;
      std::error_code ec;
      size = std::filesystem::file_size(pos[i], ec);
    }
    progress_bar bar(name, size);
    import_options o = iopts;
    if (terminal) o.progress = [&](std::size_t bytes, std::size_t events) { bar.update(bytes, events); };
    std::expected<import_file_result, std::vector<error>> r;
    try {
      r = import_file(*store, *in, name, o);
    } catch (const std::ios_base::failure& e) {  // a read error after the open (an I/O error)
      bar.done();
      status = user_error(fmt::format("cannot read {}: {}; nothing imported", name, e.what()));
      continue;
    }
    bar.done();
    if (!r) {
      for (const auto& e : r.error()) warn("{}\n", format_import_error(e));
      warn("{}: nothing imported\n", name);
      status = exit_user_error;
      continue;
    }
    say("{} ({}): {} events appended, {} already there{}\n", name, format_name(r->format), r->appended,
               r->existing, r->corrections ? fmt::format(" ({} corrections of edited updates)", r->corrections) : "");
  }
  created.seal(*store);
  if (created.created() && store->event_count() == 0) warn("{}: no event imported: the new store is not kept\n", pos[0]);
  return status;
}

int cmd_export(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", export_help);
    return exit_ok;
  }
  if (args.empty()) return usage_error("export: needs a store", export_help);
  auto store = open_store(args[0], {.create = false, .read_only = true});
  if (!store) return user_error(store.error().message);
  std::vector<std::string> incidents(args.begin() + 1, args.end());
  const auto known = store->incident_ids();
  for (const auto& i : incidents)
    if (std::ranges::find(known, i) == known.end()) return user_error(fmt::format("unknown incident '{}'", i));
  auto r = export_jsonl(*store, std::cout, incidents);
  note_cout();
  if (const std::string e = shell::stdout_failure(g_stdout_errno); !e.empty()) return user_error(e);
  if (!r) return user_error(r.error().message);
  return exit_ok;
}

int cmd_rebuild(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", rebuild_help);
    return exit_ok;
  }
  if (args.size() != 1) return usage_error("rebuild: needs exactly one store", rebuild_help);
  auto store = open_store(args[0], {.create = false});
  if (!store) return user_error(store.error().message);
  if (auto r = store->rebuild(); !r) return user_error(r.error().message);
  say("rebuilt the read models of {} incidents\n", store->incident_count());
  return exit_ok;
}

constexpr std::string_view verify_help = R"(Usage: pmdb verify DB [--from HASH]

Checks the whole store, read-only: SQLite's PRAGMA integrity_check; the triggers that keep the
log append-only; every event's hash against the hash chain recomputed from the log, and the
chain head kept beside it; and the read models (event_versions, incidents) against the
projection recomputed from the log. Prints `ok: N events, head HASH` and exits 0, or names the
first bad position and what is wrong there, and exits 1.

Options:
  --from HASH   a head published earlier (at least 16 hex digits): also checks that it is still
                the chain's hash at some position, i.e. that the timeline it pinned is a prefix
                of today's log
)";

int cmd_verify(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", verify_help);
    return exit_ok;
  }
  std::vector<std::string> pos;
  verify_options opts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--from") {
      if (i + 1 >= args.size()) return usage_error("verify: --from needs a hash", verify_help);
      opts.from = args[++i];
    } else if (args[i].starts_with("--from=")) {
      opts.from = args[i].substr(7);
    } else if (args[i].starts_with("-") && args[i] != "-") {
      return usage_error(fmt::format("verify: unknown option {}", args[i]), verify_help);
    } else {
      pos.push_back(args[i]);
    }
  }
  if (pos.size() != 1) return usage_error("verify: needs exactly one store", verify_help);
  // One pass over the whole file: read through the page cache, not mapped (a flat resident size).
  auto store = open_store(pos[0], {.create = false, .read_only = true, .mmap_reads = false, .allow_damaged = true});
  if (!store) return user_error(store.error().message);
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty)
    opts.progress = [](std::int64_t done, std::int64_t total) {
      warn("\rverify: {} of {} events", done, total);
      std::fflush(stderr);
    };
  auto rep = store->verify(opts);
  if (tty) warn("\r\033[K");
  if (!rep) return user_error(fmt::format("verify: {}: {}", pos[0], rep.error().message));
  if (!rep->ok) {
    if (rep->position) warn("pmdb: verify: {}: position {}: {}\n", pos[0], *rep->position, rep->problem);
    else warn("pmdb: verify: {}: {}\n", pos[0], rep->problem);
    for (const auto& more : rep->also) warn("pmdb: verify: {}: {}\n", pos[0], more);
    return exit_user_error;
  }
  say("ok: {} events, head {}\n", rep->events, rep->head.hash);
  if (rep->from_position)
    say("{} is the chain's hash at position {}: the {} events it pinned are unchanged\n", *opts.from,
               *rep->from_position, *rep->from_position);
  return exit_ok;
}

constexpr std::string_view report_help = R"(Usage: pmdb report DB INCIDENT [--format markdown|html] [-o FILE] [--as-of TIMESTAMP] [--now TIMESTAMP] [--tz ZONE]

Writes the postmortem of INCIDENT as Markdown (GitHub-flavoured, with a Mermaid chart) or as
one self-contained HTML page (a timeline picture of the incident, then its events) to stdout,
or to FILE. Every figure in it is computed from the incident's events.

Options:
  --format FORMAT    markdown (the default) or html; without --format, a FILE ending in .html
                     or .htm gets html
  -o FILE            write to FILE instead of stdout
  --as-of TIMESTAMP  the report as it could have been written then: only what had been
                     recorded by TIMESTAMP (ISO 8601), corrections recorded later not applied
  --now TIMESTAMP    the generation time printed in the footer (ISO 8601), for reproducible output
  --tz ZONE          also show local times in ZONE (e.g. America/Los_Angeles)
)";

// The `report` statement and `pmdb report` share this.
std::expected<void, error> postmortem(const event_store& store, const std::string& incident,
                                      const shell::settings& cfg, shell::report_format format, std::ostream& out) {
  shell::postmortem_options o;
  o.tz = cfg.tz;
  if (!cfg.now.empty()) o.now_ms = parse_timestamp(cfg.now)->ms;
  o.as_of = cfg.as_of;
  // Streamed: the report is written as the store is read, whatever the incident's size (the
  // HTML page holds what it draws, which is capped).
  if (format == shell::report_format::html) return shell::render_html_report(store, incident, o, out);
  return shell::render_postmortem(store, incident, o, out);
}

int cmd_report(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", report_help);
    return exit_ok;
  }
  std::vector<std::string> pos;
  std::string out_file;
  shell::settings cfg;
  std::optional<shell::report_format> format;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "-o" && has_value) out_file = args[++i];
    else if (a == "--format" && has_value) {
      format = shell::parse_report_format(args[++i]);
      if (!format)
        return usage_error(fmt::format("report: --format {}: expected markdown or html", args[i]), report_help);
    }
    else if (a == "--now" && has_value) cfg.now = args[++i];
    else if (a == "--tz" && has_value) cfg.tz = args[++i];
    else if (a == "--as-of" && has_value) {
      auto t = parse_timestamp(args[++i]);
      if (!t) return usage_error(fmt::format("report: --as-of {}: {}", args[i], t.error()), report_help);
      cfg.as_of = t->ms;
    } else if (a.size() > 1 && a[0] == '-') return usage_error(fmt::format("report: bad option {}", a), report_help);
    else pos.push_back(a);
  }
  if (pos.size() != 2) return usage_error("report: needs a store and an incident", report_help);
  if (!cfg.now.empty() && !parse_timestamp(cfg.now))
    return usage_error(fmt::format("report: --now: {}", parse_timestamp(cfg.now).error()), report_help);
  // Read through the page cache, not mapped: a flat resident size however large the incident.
  auto store = open_store(pos[0], {.create = false, .read_only = true, .mmap_reads = false});
  if (!store) return user_error(store.error().message);
  if (out_file.empty()) {
    auto done = postmortem(*store, pos[1], cfg, shell::report_format_for(format, ""), std::cout);
    note_cout();
    // A report stopped by the output failing is said by finish_stdout, with the system's reason.
    if (!done && std::cout.good()) return user_error(done.error().message);
    return exit_ok;  // a failed write is said by finish_stdout
  }
  // Written whole or not at all: a failure leaves an existing FILE as it was.
  auto f = shell::output_file::open(out_file);
  if (!f) return user_error(f.error());
  if (auto done = postmortem(*store, pos[1], cfg, shell::report_format_for(format, out_file), (*f)->stream());
      !done && (*f)->stream().good())
    return user_error(done.error().message);
  if (auto written = (*f)->commit(); !written) return user_error(written.error());
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

constexpr std::string_view shell_help = R"(Usage: pmdb [DB] [OPTIONS]

Opens the shell on DB (a .pmdb SQLite file; without DB, an in-memory store loaded with the demo
incidents). A DB that does not exist is created by the interactive shell, which says so, and by a
script that writes (record, new incident, .import); a script that only reads gets "no such store". On a terminal it is interactive; with -c, -f or piped input
it runs the statements without prompt or banner, results on stdout and errors on stderr as
FILE:LINE:COLUMN: error: ..., and exits 1 if any statement failed.

Options:
  -c STATEMENTS         run STATEMENTS and exit
  -f FILE               run the script FILE and exit ('-' is stdin)
  --mode MODE           table|box|markdown|csv|tsv|json|jsonl|line (default: table)
  --csv, --tsv, --json, --jsonl, --markdown, --box, --table, --line
                        the same as --mode csv, ...
  --headers on|off      column names in table, csv and tsv output (default: on)
  --nullvalue TEXT      how null shows in table, box, line and markdown output (default: empty)
  --init FILE           run FILE (dot-commands and statements) before the first statement
  --no-init, -X         read no startup file
  --bail / --no-bail    stop at the first error (default: on in scripts, off interactively)
  --echo                print each statement and dot-command before its result (as .echo on)
  --readonly            open the store read-only (implies --safe)
  --safe                for a script from elsewhere: refuse every statement and dot-command that
                        writes a file, opens another store, reads a script or appends to the
                        store (.output FILE, .once, .export, `report ... to FILE`, .open, .read,
                        .import, record, new incident, correct, retract); results still go to
                        stdout
  --tz ZONE             show timestamps in ZONE (e.g. America/Los_Angeles; default UTC)
  --as-of TIMESTAMP     read every statement as of TIMESTAMP (what had been recorded by then)
  --now TIMESTAMP       the generation time printed in reports, and what `now` is in `record`,
                        `correct` and `retract` (for reproducible output)
  --source NAME         the source of what `record`, `correct` and `retract` append when the
                        statement names none (default: $PMDB_SOURCE, else the user name); `.source`
                        changes it in the shell
Every option with a value also takes the form --NAME=VALUE.

Startup file: the interactive shell first runs $PMDB_INIT if set, else ~/.pmdbrc, else
$XDG_CONFIG_HOME/pmdb/pmdbrc (~/.config/pmdb/pmdbrc), the first that exists; scripts (-c, -f,
piped input) read none unless --init names one, so they run the same everywhere. Its errors are
said as FILE:LINE and do not stop the shell; --safe and --readonly refuse in it what they refuse
anywhere.

Output: table and box results written to a terminal fit its width (cells cut with '…'); files
and pipes get every character. csv, tsv, json and jsonl write timestamps as ISO 8601, durations
as seconds, booleans as true/false and null as JSON null or an empty field (docs/pmql.md,
"Machine-readable output").
)";

// A bad option of the shell: one line, exit 2 (the usage is one `pmdb --help` away).
int shell_usage_error(std::string_view msg) {
  warn("pmdb: {} (see pmdb --help)\n", msg);
  return exit_usage;
}

// The startup file of an interactive shell without --init: $PMDB_INIT when set (it must
// exist), else ~/.pmdbrc, else $XDG_CONFIG_HOME/pmdb/pmdbrc (~/.config/pmdb/pmdbrc), those two
// when they exist. Empty: none.
std::string default_init_file() {
  if (const char* e = std::getenv("PMDB_INIT"); e && *e) return e;
  const char* home = std::getenv("HOME");
  std::vector<std::string> candidates;
  if (home && *home) candidates.push_back(fmt::format("{}/.pmdbrc", home));
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) candidates.push_back(fmt::format("{}/pmdb/pmdbrc", x));
  else if (home && *home) candidates.push_back(fmt::format("{}/.config/pmdb/pmdbrc", home));
  for (const auto& c : candidates)
    if (std::error_code ec; std::filesystem::is_regular_file(c, ec)) return c;
  return {};
}

int cmd_shell(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    say("{}", shell_help);
    return exit_ok;
  }
  std::string db;
  std::vector<std::pair<std::string, std::string>> inputs;  // (name, text) from -c / -f
  shell::settings cfg;
  std::optional<bool> bail;
  std::optional<std::string> init_file;  // --init FILE
  bool no_init = false;                  // --no-init, -X
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    // `--name=value` is `--name value`.
    std::optional<std::string> inline_value;
    if (const auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a.resize(eq);
    }
    bool took_value = false;
    const auto value = [&]() -> std::optional<std::string> {
      took_value = true;
      if (inline_value) return inline_value;
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    const auto mode_flag = shell::parse_mode(a.starts_with("--") ? std::string_view(a).substr(2) : std::string_view());
    if (a == "-c") {
      auto v = value();
      if (!v) return shell_usage_error("-c needs statements");
      inputs.emplace_back("<command line>", *v);
    } else if (a == "-f") {
      auto v = value();
      if (!v) return shell_usage_error("-f needs a file");
      std::string text;
      if (*v == "-") {
        auto t = shell::read_stdin();
        if (!t) return user_error(t.error());
        text = std::move(*t);
      } else {
        auto t = shell::read_input_file(*v);
        if (!t) return user_error(t.error());
        text = std::move(*t);
      }
      inputs.emplace_back(*v == "-" ? "<stdin>" : *v, std::move(text));
    } else if (a == "--mode") {
      auto v = value();
      auto m = v ? shell::parse_mode(*v) : std::nullopt;
      if (!m) return shell_usage_error("--mode needs one of table|box|markdown|csv|tsv|json|jsonl|line");
      cfg.render.mode = *m;
    } else if (mode_flag) {  // --csv, --json, --box, ...
      cfg.render.mode = *mode_flag;
    } else if (a == "--headers") {
      auto v = value();
      if (!v || (*v != "on" && *v != "off")) return shell_usage_error("--headers needs on or off");
      cfg.render.headers = *v == "on";
    } else if (a == "--nullvalue") {
      auto v = value();
      if (!v) return shell_usage_error("--nullvalue needs a text");
      cfg.render.null_text = *v;
    } else if (a == "--echo") {
      cfg.echo = true;
    } else if (a == "--bail") {
      bail = true;
    } else if (a == "--no-bail") {
      bail = false;
    } else if (a == "--readonly") {
      cfg.read_only = true;
      cfg.safe = true;
    } else if (a == "--safe") {
      cfg.safe = true;
    } else if (a == "--init") {
      auto v = value();
      if (!v || v->empty()) return shell_usage_error("--init needs a file");
      init_file = *v;
    } else if (a == "--no-init" || a == "-X") {
      no_init = true;
    } else if (a == "--tz") {
      auto v = value();
      if (!v) return shell_usage_error("--tz needs a zone");
      cfg.tz = *v;
    } else if (a == "--as-of") {
      auto v = value();
      auto t = v ? parse_timestamp(*v) : std::unexpected(std::string("a timestamp is missing"));
      if (!t) return shell_usage_error(fmt::format("--as-of {}: {}", v.value_or(""), t.error()));
      cfg.as_of = t->ms;
    } else if (a == "--now") {
      auto v = value();
      if (!v || !parse_timestamp(*v)) return shell_usage_error("--now needs an ISO 8601 timestamp");
      cfg.now = *v;
    } else if (a == "--source") {
      auto v = value();
      if (!v || v->empty()) return shell_usage_error("--source needs a name");
      cfg.source = *v;
    } else if (a.size() > 1 && a[0] == '-') {
      return shell_usage_error(fmt::format("unknown option {}", a));
    } else if (db.empty()) {
      db = a;
    } else {
      return shell_usage_error(fmt::format("unexpected argument {}", a));
    }
    if (inline_value && !took_value) return shell_usage_error(fmt::format("{} takes no value", a));
  }
  const bool interactive = inputs.empty() && ::isatty(STDIN_FILENO);
  cfg.interactive = interactive;
  cfg.bail = bail.value_or(!interactive);
  cfg.terminal = ::isatty(STDOUT_FILENO) != 0;
  cfg.render.color = interactive && cfg.terminal && !std::getenv("NO_COLOR");

  // A path that does not exist becomes a new store in the shell, and for a script that writes;
  // a script that only reads is told "no such store" (a mistyped path is no new, empty store).
  created_store created(db);
  if (created.created() && !cfg.read_only) {
    if (interactive) {
      warn("pmdb: {} does not exist: creating a new store\n", db);
    } else {
      if (inputs.empty()) {
        auto text = shell::read_stdin();
        if (!text) return user_error(text.error());
        inputs.emplace_back("<stdin>", std::move(*text));
      }
      if (std::ranges::none_of(inputs, [](const auto& in) { return shell::may_write(in.second); }))
        return user_error(fmt::format("{}: no such store (only a script that writes, `pmdb import` or the "
                                      "interactive shell creates one)", db));
    }
  }
  // A database without a store gets one from the shell and from a script that writes, as a path
  // that does not exist does.
  bool create = true;
  if (event_store::is_server(db) && !interactive) {
    if (inputs.empty()) {
      auto text = shell::read_stdin();
      if (!text) return user_error(text.error());
      inputs.emplace_back("<stdin>", std::move(*text));
    }
    create = std::ranges::any_of(inputs, [](const auto& in) { return shell::may_write(in.second); });
  }
  auto store = db.empty() ? demo_store() : open_store(db, {.create = create, .read_only = cfg.read_only}, !cfg.read_only);
  if (!store) return user_error(store.error().message);
  shell::session s(std::move(*store), db.empty() ? "demo store (in memory)" : db, cfg, std::cout, std::cerr);
  s.postmortem_sink = postmortem;
  // The startup file: --init FILE always; else, interactively only, $PMDB_INIT or ~/.pmdbrc
  // (a script runs the same on every machine). Its errors are said and do not stop the shell.
  bool init_ok = true;
  if (!no_init) {
    const std::string init = init_file ? *init_file : interactive ? default_init_file() : std::string();
    if (!init.empty()) init_ok = s.run_init(init);
  }
  if (interactive) {
    shell::run_repl(s);
    return s.finish() ? exit_ok : exit_user_error;
  }
  if (inputs.empty()) {
    auto text = shell::read_stdin();
    if (!text) return user_error(text.error());
    inputs.emplace_back("<stdin>", std::move(*text));
  }
  bool ok = init_ok;
  for (const auto& [name, text] : inputs) {
    if (s.quit_requested()) break;
    ok = s.run_text(text, name) && ok;
    if ((!ok && cfg.bail) || s.quit_requested()) break;
  }
  ok = s.finish() && ok;
  created.seal(s.store());
  return ok ? exit_ok : exit_user_error;
}

int run(const std::vector<std::string>& args) {
  if (!args.empty()) {
    const std::string cmd = args.front();
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      say("{}", main_help);
      return exit_ok;
    }
    if (cmd == "--version") {
      std::string boost = BOOST_LIB_VERSION;
      std::ranges::replace(boost, '_', '.');
      say("pmdb {} ({}, Boost {}, fmt {}.{}.{}, RapidJSON {})\n", PMDB_VERSION, store_library_versions(), boost,
          FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100, RAPIDJSON_VERSION_STRING);
      return exit_ok;
    }
    if (cmd == "import") return cmd_import(rest);
    if (cmd == "export") return cmd_export(rest);
    if (cmd == "rebuild") return cmd_rebuild(rest);
    if (cmd == "report") return cmd_report(rest);
    if (cmd == "verify") return cmd_verify(rest);
    if (cmd == "init") return cmd_init(rest);
    if (cmd == "copy") return cmd_copy(rest);
  }
  return cmd_shell(args);
}

}  // namespace

int main(int argc, char** argv) {
  // No exception is expected here: every error of the input or the system is said where it
  // happens. This is the last resort, so that a bug is reported instead of an abort.
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    return finish_stdout(run(args));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pmdb: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "pmdb: internal error: an unknown exception\n");
  }
  return exit_internal;
}
