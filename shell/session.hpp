#pragma once
// One shell session: the open store, the current incident, output settings, and the
// execution of statements and dot-commands. Used by the REPL, scripts (-f), -c and piped input.
#include <cstdint>
#include <expected>
#include <span>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/event_store.hpp"
#include "query/ast.hpp"
#include "query/compiler.hpp"
#include "shell/postmortem.hpp"
#include "shell/render.hpp"
#include "shell/splitter.hpp"

namespace pmdb::shell {

class output_file;

enum class timer_mode { off, on, once };

struct settings {
  render_options render;
  bool bail = false;        // stop at the first error
  bool echo = false;        // print each statement before running it
  timer_mode timer = timer_mode::off;
  bool pager = true;        // page long results on a terminal
  bool read_only = false;
  // --safe (always with --readonly): statements and dot-commands that write a file, open
  // another store, read a script, or append to the store are refused, so a script from
  // elsewhere can only read this store and print to the screen.
  bool safe = false;
  bool interactive = false; // errors as "error: line L, column C" and row counts; no FILE: prefix
  // Standard output is a terminal: table and box results written there (not to `.output`/`.once`
  // files) fit its width, and colour (render.color) is used only there.
  bool terminal = false;
  std::string tz;           // display zone for timestamps; empty = UTC
  std::string now;          // --now: fixed generation time for reports (ISO 8601), empty = the clock
  std::optional<std::int64_t> as_of;  // .asof / --as-of: the default view of every statement (ms); nullopt = now
  // .source / --source: the source of what `record`, `correct` and `retract` append when the
  // statement names none; empty = $PMDB_SOURCE, else the user name.
  std::string source;
};

// "pmdb: FILE: upgraded the store from schema version N to M ..." when open() upgraded `store`,
// else empty: said once, where the store is opened.
std::string upgrade_notice(const event_store& store);

// The source of what a session records when neither the statement nor `.source` / `--source`
// names one: $PMDB_SOURCE, else the user name ($USER, $LOGNAME, the password database), else
// "unknown".
std::string default_source();

// One dot-command: the table drives dispatch, .help and completion.
struct dot_command {
  std::string_view name;     // ".mode"
  std::string_view args;     // "table|box|markdown|csv|tsv|json|jsonl|line"
  std::string_view help;     // one line
  enum class arg_kind { none, file, incident, type, mode, on_off, zone, other } completes = arg_kind::none;
};
std::span<const dot_command> dot_commands();

class session {
 public:
  // `store_name` is shown in the prompt and banner (":memory:" or the file name).
  session(event_store store, std::string store_name, settings s, std::ostream& out, std::ostream& err);
  // Finishes the session (see finish()), its error said on the error stream.
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Ends the session's output: the file of `.output FILE` is completed (renamed into place).
  // Returns false, with the message on the error stream, when that failed.
  bool finish();

  // Runs every unit of a whole input (script file, -c text, piped stdin), named `file` in
  // error messages. Returns false if any unit failed. Stops at the first failure when bail.
  bool run_text(std::string_view text, std::string_view file);

  // Runs the startup file `path` (`--init`, $PMDB_INIT, ~/.pmdbrc): its dot-commands and
  // statements, errors said as FILE:LINE, none stopping the shell (bail is off while it runs).
  // Safe mode refuses in it what it refuses anywhere. Returns false if any unit failed.
  bool run_init(const std::string& path);

  // Runs one unit produced by a splitter. `file` names its source in error messages (empty:
  // typed interactively). Returns false on error (already reported on the error stream).
  bool run_unit(const unit& u, std::string_view file);

  bool quit_requested() const { return quit_; }
  std::string prompt(bool continuation) const;
  std::string banner() const;

  // Interrupts the running query (from a SIGINT handler).
  void interrupt() const { store_.interrupt(); }

  const event_store& store() const { return store_; }
  const std::optional<std::string>& current_incident() const { return incident_; }
  // The id of the last event this session recorded (`record`, `new incident`): what `last`
  // names in `correct` and `retract`.
  const std::optional<std::string>& last_recorded() const { return last_recorded_; }
  settings& config() { return settings_; }

  // Called to show a long result; the REPL installs one that pipes through $PAGER.
  std::function<void(const std::string& text)> pager_sink;

  // Writes the postmortem of an incident, as Markdown or as an HTML page, to the stream given
  // (installed by main; `report` fails without it). A write failure of the stream is the caller's
  // to find.
  std::function<std::expected<void, error>(const event_store&, const std::string& incident, const settings&,
                                           report_format format, std::ostream& out)>
      postmortem_sink;

 private:
  bool run_statement(const unit& u, std::string_view file);
  // After a query: says which text comparisons matched nothing but would have ignoring case.
  void case_notes(const std::vector<query::case_hint>& hints);
  // The write statements (shell/record.cpp): bind to an event, append, print its id.
  bool run_write(const query::ast::write_stmt& s, std::string_view text, const source_position& origin);
  bool run_record(const query::ast::write_stmt& s, std::string_view text, const source_position& origin);
  bool run_change(const query::ast::write_stmt& s, std::string_view text, const source_position& origin);
  void show_written(const event& ev, bool existing, bool explicit_id, std::string_view verb);
  std::int64_t now_ms() const;
  bool run_dot(const unit& u, std::string_view file);
  void report_error(const error& e, std::string_view text, const source_position& origin);
  void emit(const std::string& text, bool is_result);
  std::ostream& out();
  // The failure of a write to the output since the last call ("cannot write to FILE: REASON"),
  // else empty. A failed `.output`/`.once` file is removed (an existing file is left as it was)
  // and the output is back on the screen.
  std::string output_failure();
  // Completes the `.output`/`.once` file in use, if any, and returns to the screen; the
  // failure, else empty.
  std::string close_redirect();
  // "WHAT is not allowed in safe mode (--safe/--readonly)" when in safe mode, else empty.
  std::string refused(std::string_view what) const;
  std::string format_time(timestamp t) const;
  std::string format_machine_time(timestamp t) const;
  // The options of one result: colour and the terminal's width only when it goes to the screen.
  render_options render_for(const query::compiled_query& q) const;
  std::string show_settings() const;
  bool read_file(const std::string& path);
  bool show_schema(const std::string& type, const std::function<bool(const std::string&)>& fail);

  event_store store_;
  std::string store_name_;
  settings settings_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<output_file> redirect_;  // .output / .once
  int out_errno_ = 0;  // the OS error of a failed write to out_, kept until said
  bool once_ = false;
  std::string once_failure_;  // completing the `.once` file failed: said after the statement
  bool quit_ = false;
  int read_depth_ = 0;
  std::string init_file_;  // the startup file read, for .show
  std::optional<std::string> incident_;
  std::optional<std::string> last_recorded_;
  const void* zone_ = nullptr;  // date::time_zone*, set by .tz
};

// Nesting limit for .read.
inline constexpr int max_read_depth = 16;

}  // namespace pmdb::shell
