#include "shell/session.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include <pwd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/variant/get.hpp>
#include <date/tz.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/document.h>

#include "core/embedded.hpp"
#include "core/import.hpp"
#include "core/jsonl.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"
#include "shell/output_file.hpp"

namespace pmdb::shell {

std::string upgrade_notice(const event_store& store) {
  if (!store.upgraded_from()) return {};
  const int from = *store.upgraded_from();
  return fmt::format("pmdb: {}: upgraded the store from schema version {} to {} (the events are unchanged; {} "
                     "computed from them)\n",
                     store.path(), from, store_schema_version,
                     from < 2   ? "the read models and the hash chain were"
                     : from < 3 ? "their hash chain and the milestones read model were"
                                : "the milestones read model was");
}

namespace {

using arg = dot_command::arg_kind;

constexpr dot_command command_table[] = {
    {".help", "[PATTERN]", "show the dot-commands (those matching PATTERN) and the statements", arg::other},
    {".open", "FILE", "close the store and open FILE (created if missing)", arg::file},
    {".use", "INCIDENT", "make INCIDENT the current one (same as `use INCIDENT;`)", arg::incident},
    {".incidents", "", "list the incidents with their event counts", arg::none},
    {".info", "", "the store: its file, schema, size, chain head, and who and what this session records as", arg::none},
    {".schema", "[TYPE]", "the event types and their fields", arg::type},
    {".mode", "[table|box|markdown|csv|tsv|json|jsonl|line]", "how results are shown (alone: the current mode)", arg::mode},
    {".headers", "on|off", "show column names in table, csv and tsv output", arg::on_off},
    {".nullvalue", "[TEXT]", "how null shows in table, box, line and markdown output (alone: empty)", arg::other},
    {".show", "", "the settings: mode, headers, nullvalue, bail, echo, timer, tz, as-of, source, output, width...", arg::none},
    {".timer", "on|off|once", "print the wall time of each statement", arg::on_off},
    {".read", "FILE", "run the statements of FILE", arg::file},
    {".output", "[FILE]", "send results to FILE (no FILE: back to the screen, and FILE is complete)", arg::file},
    {".once", "FILE", "send the next result to FILE", arg::file},
    {".bail", "on|off", "stop at the first error", arg::on_off},
    {".echo", "on|off", "print each statement before running it", arg::on_off},
    {".import", "FILE...", "append the events of each FILE (one transaction per file)", arg::file},
    {".export", "FILE [INCIDENT...]", "write events (all, or those of INCIDENTs) to FILE as JSONL", arg::file},
    {".asof", "[TIMESTAMP|off]", "read every statement as of TIMESTAMP (what had been recorded by then); off: now", arg::other},
    {".tz", "[ZONE]", "show timestamps in ZONE (e.g. America/Los_Angeles); UTC by default", arg::zone},
    {".source", "[NAME]", "the source of what record, correct and retract append (default: the user name)", arg::other},
    {".width", "[N...]", "maximum width of each column in table and box output (0: none; on a terminal rows also fit its width)", arg::other},
    {".pager", "on|off", "page long results through $PAGER on a terminal", arg::on_off},
    {".quit", "", "leave pmdb", arg::none},
    {".exit", "", "leave pmdb", arg::none},
};

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  for (const char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
      else cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// psql's backslash commands and the bare words a shell user types, as pmdb's dot-commands.
std::string_view alias_of(std::string_view name) {
  if (name == "\\q" || name == "\\quit" || name == "quit" || name == "exit") return ".quit";
  if (name == "\\?" || name == "\\h" || name == "\\help" || name == "help") return ".help";
  if (name == "\\i" || name == "\\include") return ".read";
  if (name == "\\o" || name == "\\out") return ".output";
  if (name == "\\conninfo") return ".info";
  return {};
}

// What pmdb has for a command of sqlite3 or psql it has not (one line), or empty.
std::string foreign_hint(std::string_view name) {
  static constexpr std::string_view tables =
      "pmdb has no tables: `show incidents;` lists the incidents, `show types;` the event types, `.schema [TYPE]` "
      "their fields; read them with `incidents`, `events`, `timeline INCIDENT` or `log` (see .help)";
  for (const std::string_view t : {".tables", ".table", ".databases", ".indexes", ".indices", "\\d", "\\dt",
                                   "\\d+", "\\dt+", "\\l", "\\l+", "\\list", "\\dn", "\\dv", "\\di"})
    if (name == t) return std::string(tables);
  if (name == "\\x") return "`.mode line` shows one value per line (`.mode table` for the grid)";
  if (name == "\\timing") return "`.timer on` prints the time of each statement";
  if (name == "\\c" || name == "\\connect") return "`.open FILE` opens another store";
  if (name == "\\a" || name == "\\f" || name == "\\pset" || name == "\\H" || name == ".separator")
    return "`.mode csv|tsv|json|jsonl|markdown|line|box|table` sets how results are shown";
  if (name == ".dump" || name == "\\copy") return "`.export FILE [INCIDENT...]` writes the events as JSON Lines";
  if (name == ".print" || name == "\\echo") return "pmdb has no .print; `.echo on` prints each statement before running it";
  if (name == ".shell" || name == ".system" || name == "\\!") return "pmdb runs no shell commands";
  if (name.starts_with('\\')) return "pmdb's commands start with '.': enter .help for the list (\\q and \\? work too)";
  return {};
}

std::optional<bool> on_off(std::string_view w) {
  if (w == "on" || w == "1" || w == "yes" || w == "true") return true;
  if (w == "off" || w == "0" || w == "no" || w == "false") return false;
  return std::nullopt;
}

}  // namespace

std::span<const dot_command> dot_commands() { return command_table; }

std::string default_source() {
  for (const char* name : {"PMDB_SOURCE", "USER", "LOGNAME"})
    if (const char* v = std::getenv(name); v && *v) return v;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name && *pw->pw_name) return pw->pw_name;
  return "unknown";
}

session::session(event_store store, std::string store_name, settings s, std::ostream& out, std::ostream& err)
    : store_(std::move(store)), store_name_(std::move(store_name)), settings_(std::move(s)), out_(out), err_(err) {
  if (!settings_.tz.empty()) {
    try {
      zone_ = date::locate_zone(settings_.tz);
    } catch (const std::exception&) {
      err_ << fmt::format("error: unknown time zone '{}'; timestamps stay in UTC\n", settings_.tz);
      settings_.tz.clear();
    }
  }
  settings_.render.format_time = [this](timestamp t) { return format_time(t); };
  settings_.render.format_machine_time = [this](timestamp t) { return format_machine_time(t); };
  if (settings_.source.empty()) settings_.source = default_source();
}

std::string session::format_time(timestamp t) const {
  if (!zone_) return format_short(t);
  const auto* zone = static_cast<const date::time_zone*>(zone_);
  const date::sys_time<std::chrono::milliseconds> sys{std::chrono::milliseconds{t.ms}};
  const auto info = zone->get_info(sys);
  const auto local = sys + info.offset;
  const auto off = std::chrono::duration_cast<std::chrono::minutes>(info.offset).count();
  const std::string offset = fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60);
  const timestamp shifted{local.time_since_epoch().count()};
  std::string s = format_short(shifted);  // "YYYY-MM-DD HH:MM[:SS]Z"
  s.pop_back();
  return s + offset;
}

std::string session::format_machine_time(timestamp t) const {
  if (!zone_) return format_iso(t);
  const auto* zone = static_cast<const date::time_zone*>(zone_);
  const date::sys_time<std::chrono::milliseconds> sys{std::chrono::milliseconds{t.ms}};
  const auto off = std::chrono::duration_cast<std::chrono::minutes>(zone->get_info(sys).offset).count();
  std::string s = format_iso(timestamp{t.ms + off * 60'000});  // "YYYY-MM-DDTHH:MM:SS[.mmm]Z"
  s.pop_back();
  return s + fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60);
}

namespace {

// The width of the terminal on standard output (TIOCGWINSZ), else $COLUMNS, else 0 (unknown).
int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS"); c && *c) {
    int n = 0;
    const std::string_view v(c);
    if (const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n); ec == std::errc{} && p == v.data() + v.size() && n > 0)
      return n;
  }
  return 0;
}

}  // namespace

render_options session::render_for(const query::compiled_query& q) const {
  render_options o = settings_.render;
  const bool screen = !redirect_ && settings_.terminal;
  o.color = o.color && screen;
  o.terminal_width = screen ? terminal_columns() : 0;
  o.booleans = q.booleans;
  return o;
}

std::string session::prompt(bool continuation) const {
  const std::string base = incident_ ? fmt::format("pmdb {}", *incident_) : std::string("pmdb");
  if (continuation) return std::string(base.size(), ' ').replace(base.size() - 3, 3, "...") + "> ";
  return base + "> ";
}

std::string session::banner() const {
  return fmt::format("pmdb {} — {}: {} incidents, {} events\nEnter \".help\" for usage hints; statements end with ';'.\n",
                     PMDB_VERSION, store_name_, store_.incident_count(), store_.event_count());
}

session::~session() { finish(); }

bool session::finish() {
  const std::string e = close_redirect();
  if (e.empty()) return true;
  err_ << fmt::format("error: {}\n", e);
  err_.flush();
  return false;
}

std::ostream& session::out() { return redirect_ ? redirect_->stream() : out_; }

void session::emit(const std::string& text, bool is_result) {
  if (is_result && !redirect_ && settings_.interactive && settings_.pager && pager_sink) {
    pager_sink(text);
  } else {
    out() << text;
    out().flush();
    if (!redirect_ && !out_ && !out_errno_) out_errno_ = errno;
  }
  if (is_result && once_) {
    // The next result was this one: the file is complete (a failure is said by run_unit).
    if (redirect_->error().empty()) once_failure_ = close_redirect();
  }
}

std::string session::close_redirect() {
  if (!redirect_) return {};
  auto done = redirect_->commit();
  redirect_.reset();
  once_ = false;
  return done ? std::string() : done.error();
}

std::string session::output_failure() {
  if (!once_failure_.empty()) return std::exchange(once_failure_, {});
  if (redirect_) {
    std::string e = redirect_->error();
    if (e.empty()) return {};
    const bool once = once_;
    redirect_.reset();  // the temporary is removed; an existing FILE is left as it was
    once_ = false;
    return once ? e : e + " (results are back on the screen)";
  }
  if (out_.good()) {
    out_.flush();
    if (!out_ && !out_errno_) out_errno_ = errno;
  }
  if (&out_ == &std::cout) {
    // Also what the pager and the REPL wrote to the C stream directly.
    out_.clear();
    return stdout_failure(std::exchange(out_errno_, 0));
  }
  if (out_.good()) return {};
  out_.clear();
  const int e = std::exchange(out_errno_, 0);
  return fmt::format("cannot write the output{}", e ? fmt::format(": {}", std::strerror(e)) : "");
}

std::string session::refused(std::string_view what) const {
  if (!settings_.safe) return {};
  return fmt::format("{} is not allowed in safe mode (--safe/--readonly)", what);
}

void session::report_error(const error& e, std::string_view text, const source_position& origin) {
  std::string msg;
  if (e.where) msg = query::render_error(e, text, origin);
  else if (!origin.file.empty()) msg = fmt::format("{}:{}: error: {}\n", origin.file, origin.line, e.message);
  else msg = fmt::format("error: {}\n", e.message);
  if (settings_.render.color) {
    // The message line in red; the quoted source and caret stay plain.
    const auto eol = msg.find('\n');
    msg = "\x1b[31m" + msg.substr(0, eol) + "\x1b[0m" + msg.substr(eol);
  }
  err_ << msg;
  err_.flush();
}

bool session::run_text(std::string_view text, std::string_view file) {
  bool ok = true;
  split_text(text, [&](const unit& u) {
    if (!run_unit(u, file)) ok = false;
    return !quit_ && (ok || !settings_.bail);
  });
  return ok;
}

bool session::run_unit(const unit& u, std::string_view file) {
  if (settings_.echo) out() << u.text << '\n';
  const auto start = std::chrono::steady_clock::now();
  bool ok = u.what == unit::kind::dot_command ? run_dot(u, file) : run_statement(u, file);
  if (const std::string e = output_failure(); !e.empty()) {
    if (file.empty()) err_ << fmt::format("error: {}\n", e);
    else err_ << fmt::format("{}:{}: error: {}\n", file, u.line, e);
    err_.flush();
    ok = false;
  }
  if (settings_.timer != timer_mode::off && u.what == unit::kind::statement) {
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    err_ << fmt::format("Run Time: {:.3f} ms\n", ms);
    if (settings_.timer == timer_mode::once) settings_.timer = timer_mode::off;
  }
  return ok;
}

void session::case_notes(const std::vector<query::case_hint>& hints) {
  for (const auto& h : hints) {
    const column text{"value", value_type::text};
    auto found = store_.query(h.sql, h.params, std::span<const column>(&text, 1));
    if (!found || found->rows.empty()) continue;
    const auto* stored = std::get_if<std::string>(&found->rows[0][0]);  // null when every case matched
    if (!stored) continue;
    err_ << fmt::format("note: no row has {} = \"{}\", but the store has \"{}\": text comparisons are exact "
                        "(write \"{}\", or compare lower({}))\n",
                        h.field, h.written, *stored, *stored, h.field);
  }
}

bool session::run_statement(const unit& u, std::string_view file) {
  const source_position origin{std::string(file), u.line, u.column};
  auto script = query::parse(u.text, origin);
  if (!script) {
    report_error(script.error(), u.text, origin);
    return false;
  }
  // In safe mode a unit with a refused statement runs none of its statements.
  for (const auto& stmt : script->statements) {
    std::string no;
    if (const auto* write = boost::get<query::ast::write_stmt>(&stmt.get())) {
      static constexpr std::string_view verbs[] = {"record", "new incident", "correct", "retract"};
      no = refused(fmt::format("`{}` (it appends to the store)", verbs[static_cast<int>(write->kind)]));
    } else if (const auto* rep = boost::get<query::ast::report_stmt>(&stmt.get()); rep && rep->path) {
      no = refused("`report ... to FILE`");
    }
    if (!no.empty()) {
      report_error(error(no), u.text, origin);
      return false;
    }
  }
  const query::catalog cat = catalog_of(store_);
  for (const auto& stmt : script->statements) {
    if (const auto* write = boost::get<query::ast::write_stmt>(&stmt.get())) {
      if (!run_write(*write, u.text, origin)) return false;
      continue;
    }
    const query::context ctx{incident_, settings_.as_of, settings_.tz, now_ms(), store_.dialect()};
    auto act = query::compile(stmt, cat, ctx, u.text, origin);
    if (!act) {
      report_error(act.error(), u.text, origin);
      return false;
    }
    if (auto* use = std::get_if<query::set_incident>(&*act)) {
      incident_ = use->incident;
    } else if (auto* run = std::get_if<query::run_query>(&*act)) {
      auto rs = store_.query(run->query.sql, run->query.params, run->query.columns);
      if (!rs) {
        report_error(rs.error(), u.text, origin);
        return false;
      }
      case_notes(run->query.case_hints);
      std::string text = render(*rs, render_for(run->query));
      const bool terminal_mode = settings_.render.mode == output_mode::table || settings_.render.mode == output_mode::box;
      if (settings_.interactive && terminal_mode)
        text += fmt::format("({} row{})\n", rs->rows.size(), rs->rows.size() == 1 ? "" : "s");
      emit(text, true);
    } else if (auto* rep = std::get_if<query::make_report>(&*act)) {
      if (!postmortem_sink) {
        report_error(error("report: postmortem rendering is not available in this build"), u.text, origin);
        return false;
      }
      settings cfg = settings_;
      cfg.as_of = rep->as_of;
      // `format html`, else html for a file named *.html or *.htm, else Markdown.
      const report_format format = report_format_for(
          rep->format ? parse_report_format(*rep->format) : std::nullopt, rep->path.value_or(""));
      if (rep->path) {
        if (const std::string no = refused("`report ... to FILE`"); !no.empty()) {
          report_error(error(no), u.text, origin);
          return false;
        }
        auto f = output_file::open(*rep->path);
        if (!f) {
          report_error(error(f.error()), u.text, origin);
          return false;
        }
        auto done = postmortem_sink(store_, rep->incident, cfg, format, (*f)->stream());
        if (!done && (*f)->stream().good()) {  // a failed write is said by commit, with its reason
          report_error(done.error(), u.text, origin);
          return false;  // the file is left as it was
        }
        if (auto written = (*f)->commit(); !written) {
          report_error(error(written.error()), u.text, origin);
          return false;
        }
        err_ << fmt::format("wrote {}\n", *rep->path);
      } else {
        std::ostringstream md;
        auto done = postmortem_sink(store_, rep->incident, cfg, format, md);
        if (!done) {
          report_error(done.error(), u.text, origin);
          return false;
        }
        emit(md.str(), true);
      }
    }
  }
  return true;
}

bool session::read_file(const std::string& path) {
  if (read_depth_ >= max_read_depth) {
    err_ << fmt::format("error: .read nested more than {} deep\n", max_read_depth);
    return false;
  }
  auto text = read_input_file(path);
  if (!text) {
    err_ << fmt::format("error: {}\n", text.error());
    return false;
  }
  ++read_depth_;
  const bool was_interactive = settings_.interactive;
  settings_.interactive = false;
  const bool ok = run_text(*text, path);
  settings_.interactive = was_interactive;
  --read_depth_;
  return ok;
}

bool session::run_init(const std::string& path) {
  auto text = read_input_file(path);
  if (!text) {
    err_ << fmt::format("pmdb: startup file: {}\n", text.error());
    err_.flush();
    return false;
  }
  init_file_ = path;
  const bool was_interactive = std::exchange(settings_.interactive, false);
  const bool was_bail = std::exchange(settings_.bail, false);
  const bool ok = run_text(*text, path);
  settings_.interactive = was_interactive;
  settings_.bail = was_bail;
  return ok;
}

std::string session::show_settings() const {
  const auto flag = [](bool b) { return std::string(b ? "on" : "off"); };
  std::string widths;
  for (const int w : settings_.render.widths) widths += (widths.empty() ? "" : " ") + std::to_string(w);
  std::string output = "stdout";
  if (redirect_) output = fmt::format("{}{}", redirect_->path(), once_ ? " (.once: the next result)" : "");
  const std::pair<std::string_view, std::string> rows[] = {
      {"mode", std::string(mode_name(settings_.render.mode))},
      {"headers", flag(settings_.render.headers)},
      {"nullvalue", fmt::format("\"{}\"", escape_terminal(settings_.render.null_text))},
      {"bail", flag(settings_.bail)},
      {"echo", flag(settings_.echo)},
      {"timer", settings_.timer == timer_mode::once ? "once" : flag(settings_.timer == timer_mode::on)},
      {"pager", flag(settings_.pager)},
      {"tz", settings_.tz.empty() ? "UTC" : settings_.tz},
      {"as-of", settings_.as_of ? format_iso(timestamp{*settings_.as_of}) : "off (now)"},
      {"source", escape_terminal(settings_.source)},
      {"incident", incident_ ? *incident_ : "none (use INCIDENT;)"},
      {"output", escape_terminal(output)},
      {"width", widths.empty() ? std::string("no column limits") : widths},
      {"fit", settings_.terminal ? (terminal_columns() ? fmt::format("{} columns (the terminal)", terminal_columns())
                                                       : std::string("terminal of unknown width: no limit"))
                                 : std::string("off (not a terminal)")},
      {"color", flag(settings_.render.color && settings_.terminal)},
      {"store", fmt::format("{}{}", escape_terminal(store_name_), settings_.read_only ? " (read-only)" : "")},
      {"safe", flag(settings_.safe)},
      {"init", init_file_.empty() ? std::string("none") : escape_terminal(init_file_)},
  };
  std::string text;
  for (const auto& [k, v] : rows) text += fmt::format("{:>10}: {}\n", k, v);
  return text;
}

bool session::run_dot(const unit& u, std::string_view file) {
  auto w = words(u.text);
  if (w.empty()) return true;
  if (!w[0].starts_with('.') && !w[0].starts_with('\\'))  // `QUIT` is `quit`; `\Q` is not `\q`
      std::ranges::transform(w[0], w[0].begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
  if (const auto alias = alias_of(w[0]); !alias.empty()) w[0] = alias;
  const std::string& name = w.at(0);
  const auto fail = [&](const std::string& msg) {
    if (file.empty()) err_ << fmt::format("error: {}\n", msg);
    else err_ << fmt::format("{}:{}: error: {}\n", file, u.line, msg);
    return false;
  };
  const auto* cmd = std::ranges::find_if(command_table, [&](const dot_command& c) { return c.name == name; });
  if (cmd == std::end(command_table)) {
    if (const std::string hint = foreign_hint(name); !hint.empty()) return fail(fmt::format("{}: {}", name, hint));
    std::vector<std::string_view> names;
    for (const auto& c : command_table) names.push_back(c.name);
    const auto near = nearest(name, std::span<const std::string_view>(names));
    return fail(fmt::format("unknown command {}{}; enter .help for the list", name,
                            near ? fmt::format(" (did you mean {}?)", *near) : ""));
  }
  const std::vector<std::string> args(w.begin() + 1, w.end());
  const auto usage = [&] { return fail(fmt::format("usage: {} {}", cmd->name, cmd->args)); };
  const auto set_flag = [&](bool& flag) {
    if (args.size() != 1 || !on_off(args[0])) return usage();
    flag = *on_off(args[0]);
    return true;
  };

  if (name == ".quit" || name == ".exit") {
    quit_ = true;
    return true;
  }
  if (name == ".help") {
    std::string text;
    const std::string pattern = args.empty() ? "" : args[0];
    std::size_t width = 0;
    for (const auto& c : command_table) width = std::max(width, c.name.size() + 1 + c.args.size());
    for (const auto& c : command_table) {
      if (!pattern.empty() && c.name.find(pattern) == std::string_view::npos && c.help.find(pattern) == std::string_view::npos)
        continue;
      text += fmt::format("{:<{}}  {}\n", fmt::format("{} {}", c.name, c.args), width, c.help);
    }
    if (pattern.empty())
      text +=
          "\nStatements (end each with ';'; see docs/pmql.md):\n"
          "  use INCIDENT;                               set the current incident\n"
          "  time from first report to 99% fixed [in INCIDENT];\n"
          "  incidents [overlapping INCIDENT] | where ... | let ... | summarize ... by ... | order by ... | limit N;\n"
          "  events where type = comm and text ~ \"fix\" | select incident, at, text;\n"
          "  timeline [INCIDENT] [where ...];           show incidents; show types; show sources [INCIDENT];\n"
          "  report [INCIDENT] [format html] [to \"F\"];   a postmortem in Markdown, or one HTML page (also for F *.html)\n"
          "  log where type in (correction, retraction);  the stored events as appended\n"
          "  history EVENT_ID;                           an event's versions: recorded, corrected, retracted\n"
          "  new incident ID title \"...\" org \"...\" services (\"...\");   start an incident and use it\n"
          "  record status investigating \"...\" [at 10:02 | at ~now - 5m] [source \"...\"];   prints the event's id\n"
          "  correct ID|last at 10:01 | set text = \"...\" because \"...\";   retract ID|last because \"...\";\n"
          "  ... as of 2024-12-12T00:00Z                 any read, with only what had been recorded by then\n"
          "A statement about one incident (timeline, report, time, overlapping, show sources) reads the current\n"
          "one when it names none. `help`, `quit`, `exit`, `\\q` and `\\?` work alone on a line, without ';'.\n"
          "\nMachine-readable output (csv, tsv, json, jsonl): timestamps ISO 8601 (`Z`, or the .tz offset),\n"
          "durations in seconds as a number (17400, 1.5), booleans true/false, null as JSON null or an\n"
          "empty CSV/TSV field. Tables on a terminal fit its width; files and pipes get every character.\n"
          "\nFiles written (.output, .once, .export, report ... to) appear whole or not at all: .output's FILE\n"
          "when the output goes back to the screen or the session ends. After a write error FILE is left as\n"
          "it was and results are back on the screen. Safe mode (--safe, --readonly) refuses these, and\n"
          ".open, .read, .import and the record statements.\n";
    emit(text, false);
    return true;
  }
  if (name == ".mode") {
    if (args.empty()) {
      out() << mode_name(settings_.render.mode) << '\n';
      return true;
    }
    if (args.size() != 1) return usage();
    auto m = parse_mode(args[0]);
    if (!m) return fail(fmt::format("unknown mode '{}': {}", args[0], fmt::join(mode_names(), "|")));
    settings_.render.mode = *m;
    return true;
  }
  if (name == ".headers") return set_flag(settings_.render.headers);
  if (name == ".nullvalue") {
    if (args.size() > 1) return usage();
    settings_.render.null_text = args.empty() ? std::string() : args[0];
    return true;
  }
  if (name == ".show") {
    if (!args.empty()) return usage();
    emit(show_settings(), false);
    return true;
  }
  if (name == ".bail") return set_flag(settings_.bail);
  if (name == ".echo") return set_flag(settings_.echo);
  if (name == ".pager") return set_flag(settings_.pager);
  if (name == ".timer") {
    if (args.size() != 1) return usage();
    if (args[0] == "once") settings_.timer = timer_mode::once;
    else if (auto f = on_off(args[0])) settings_.timer = *f ? timer_mode::on : timer_mode::off;
    else return usage();
    return true;
  }
  if (name == ".width") {
    settings_.render.widths.clear();
    for (const auto& a : args) {
      int n = 0;
      const auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), n);
      if (ec != std::errc{} || p != a.data() + a.size() || n < 0) return fail(fmt::format("not a width: '{}'", a));
      settings_.render.widths.push_back(n);
    }
    return true;
  }
  if (name == ".use") {
    if (args.size() != 1) return usage();
    return run_statement({unit::kind::statement, fmt::format("use {};", args[0]), u.line, 1}, file);
  }
  if (name == ".incidents") {
    return run_statement({unit::kind::statement, "show incidents;", u.line, 1}, file);
  }
  if (name == ".info") {
    if (!args.empty()) return usage();
    const chain_head head = store_.head();
    out() << fmt::format("store:       {} (schema version {})\n"
                         "events:      {} in {} incident{}\n"
                         "chain head:  {} at position {} (pmdb verify checks it)\n"
                         "recording:   as {}, source \"{}\"{}\n",
                         store_.path(), store_schema_version, store_.event_count(), store_.incident_count(),
                         store_.incident_count() == 1 ? "" : "s", head.hash,
                         head.position, store_.recorded_by(), settings_.source,
                         incident_ ? ", into " + *incident_ : std::string(", no current incident"));
    return true;
  }
  if (name == ".asof") {
    if (args.empty()) {
      out() << (settings_.as_of ? format_iso(timestamp{*settings_.as_of}) : std::string("off (now)")) << '\n';
      return true;
    }
    if (args.size() != 1) return usage();
    if (args[0] == "off" || args[0] == "now") {
      settings_.as_of.reset();
      return true;
    }
    auto t = parse_timestamp(args[0]);
    if (!t) return fail(fmt::format(".asof {}: {}", args[0], t.error()));
    settings_.as_of = t->ms;
    return true;
  }
  if (name == ".source") {
    if (args.empty()) {
      out() << settings_.source << '\n';
      return true;
    }
    std::string source;
    for (const auto& a : args) source += (source.empty() ? "" : " ") + a;
    settings_.source = std::move(source);
    return true;
  }
  if (name == ".tz") {
    if (args.empty() || args[0] == "UTC" || args[0] == "utc") {
      zone_ = nullptr;
      settings_.tz.clear();
      return true;
    }
    try {
      zone_ = date::locate_zone(args[0]);
      settings_.tz = args[0];
    } catch (const std::exception&) {
      return fail(fmt::format("unknown time zone '{}' (expected a tz database name such as America/Los_Angeles)", args[0]));
    }
    return true;
  }
  if (name == ".output" || name == ".once") {
    if (args.empty() && name == ".once") return usage();
    if (!args.empty())
      if (const std::string no = refused(fmt::format("{} FILE", name)); !no.empty()) return fail(no);
    // The file of the previous .output is complete now.
    if (const std::string e = close_redirect(); !e.empty()) return fail(e);
    if (args.empty()) return true;
    auto f = output_file::open(args[0]);
    if (!f) return fail(f.error());
    redirect_ = std::move(*f);
    once_ = name == ".once";
    return true;
  }
  if (name == ".read") {
    if (args.size() != 1) return usage();
    if (const std::string no = refused(".read (it runs a script)"); !no.empty()) return fail(no);
    return read_file(args[0]);
  }
  if (name == ".open") {
    if (args.size() != 1) return usage();
    if (const std::string no = refused(".open"); !no.empty()) return fail(no);
    if (std::error_code ec; std::filesystem::is_directory(args[0], ec))
      return fail(fmt::format("{} is a directory", args[0]));
    auto s = event_store::open(args[0], {.read_only = settings_.read_only});
    if (!s) return fail(s.error().message);
    err_ << upgrade_notice(*s);
    store_ = std::move(*s);
    store_name_ = args[0];
    incident_.reset();
    last_recorded_.reset();
    return true;
  }
  if (name == ".import") {
    if (args.empty()) return usage();
    if (const std::string no = refused(".import (it appends to the store)"); !no.empty()) return fail(no);
    if (settings_.read_only) return fail("the store is open read-only");
    bool ok = true;
    for (const auto& path : args) {
      if (auto readable = check_input_file(path); !readable) {
        ok = fail(readable.error());
        continue;
      }
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        ok = fail(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
        continue;
      }
      std::expected<import_file_result, std::vector<error>> r;
      try {
        r = import_file(store_, in, path);
      } catch (const std::ios_base::failure& e) {  // a read error after the open (an I/O error)
        ok = fail(fmt::format("cannot read {}: {}; nothing imported", path, e.what()));
        continue;
      }
      if (!r) {
        for (const auto& e : r.error()) err_ << format_import_error(e) << '\n';
        ok = fail(fmt::format("{}: nothing imported", path));
        continue;
      }
      emit(fmt::format("{} ({}): {} events appended, {} already there\n", path, format_name(r->format), r->appended,
                       r->existing),
           false);
    }
    return ok;
  }
  if (name == ".export") {
    if (args.empty()) return usage();
    if (const std::string no = refused(".export (it writes a file)"); !no.empty()) return fail(no);
    const auto known = store_.incident_ids();
    std::vector<std::string> incidents(args.begin() + 1, args.end());
    for (const auto& i : incidents)
      if (std::ranges::find(known, i) == known.end()) {
        const auto near = nearest(i, std::span<const std::string>(known));
        return fail(fmt::format("unknown incident '{}'{}", i, near ? fmt::format("; did you mean '{}'?", *near) : ""));
      }
    auto f = output_file::open(args[0]);
    if (!f) return fail(f.error());
    if (auto r = export_jsonl(store_, (*f)->stream(), incidents); !r) {
      const std::string e = (*f)->error();
      return fail(e.empty() ? r.error().message : e);  // the file is left as it was
    }
    if (auto written = (*f)->commit(); !written) return fail(written.error());
    return true;
  }
  if (name == ".schema") return show_schema(args.empty() ? "" : args[0], fail);
  return fail(fmt::format("{} is not implemented", name));
}

bool session::show_schema(const std::string& type, const std::function<bool(const std::string&)>& fail) {
  if (!type.empty() && !is_event_type(type)) {
    const auto near = nearest(type, std::span<const std::string_view>(event_types));
    return fail(fmt::format("unknown event type '{}'{}", type, near ? fmt::format("; did you mean '{}'?", *near) : ""));
  }
  std::string text;
  for (const std::string_view t : event_types) {
    if (!type.empty() && t != type) continue;
    rapidjson::Document doc;
    const auto src = embedded_files().at(fmt::format("{}.schema.json", t));
    doc.Parse(src.data(), src.size());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    text += fmt::format("{}: {}\n", t, doc.HasMember("description") ? doc["description"].GetString() : "");
    if (!doc.HasMember("properties")) continue;
    std::vector<std::string> required;
    if (doc.HasMember("required"))
      for (const auto& r : doc["required"].GetArray()) required.emplace_back(r.GetString());
    for (const auto& p : doc["properties"].GetObject()) {
      const std::string field = p.name.GetString();
      std::string what;
      if (p.value.HasMember("enum")) {
        for (const auto& e : p.value["enum"].GetArray()) what += (what.empty() ? "" : " | ") + std::string(e.GetString());
      } else if (p.value.HasMember("type") && p.value["type"].IsString()) {
        what = p.value["type"].GetString();
        if (what == "array" && p.value.HasMember("items") && p.value["items"].HasMember("type"))
          what = fmt::format("array of {}", p.value["items"]["type"].GetString());
        if (p.value.HasMember("pattern")) what += fmt::format(" matching {}", p.value["pattern"].GetString());
      }
      const bool req = std::ranges::find(required, field) != required.end();
      text += fmt::format("  {:<10} {:<9} {}\n", field, req ? "required" : "optional", what);
    }
  }
  emit(text, false);
  return true;
}

}  // namespace pmdb::shell
