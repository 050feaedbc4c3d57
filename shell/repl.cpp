#include "shell/repl.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <editline/readline.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/event.hpp"
#include "shell/completion.hpp"

namespace pmdb::shell {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
session* g_session = nullptr;

void on_sigint(int) {
  g_interrupted = 1;
  if (g_session) g_session->interrupt();  // sqlite3_interrupt is safe to call from a signal handler
}

// Reads one byte for libedit; returns EOF when Ctrl-C arrives so the line being typed is dropped.
int getc_interruptible(FILE* f) {
  unsigned char c = 0;
  for (;;) {
    const ssize_t n = ::read(fileno(f), &c, 1);
    if (n == 1) return c;
    if (n < 0 && errno == EINTR) {
      if (g_interrupted) return EOF;
      continue;
    }
    return EOF;
  }
}

std::vector<std::string> g_matches;

char* next_match(const char* /*text*/, int state) {
  static std::size_t i = 0;
  if (state == 0) i = 0;
  if (i < g_matches.size()) return strdup(g_matches[i++].c_str());
  return nullptr;
}

char** complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;
  const std::string before(rl_line_buffer, static_cast<std::size_t>(start));
  const auto c = completions(*g_session, before, text);
  if (c.files) {
    rl_attempted_completion_over = 0;
    return nullptr;  // libedit's filename completion
  }
  g_matches = c.words;
  if (g_matches.empty()) return nullptr;
  return rl_completion_matches(text, next_match);
}

int terminal_rows() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
  return 24;
}

void page(const std::string& text) {
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  if (lines < terminal_rows() - 1) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  const char* pager = std::getenv("PAGER");
  const std::string cmd = pager && *pager ? pager : "less -FRX";
  std::signal(SIGPIPE, SIG_IGN);
  FILE* p = ::popen(cmd.c_str(), "w");
  if (!p) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::fwrite(text.data(), 1, text.size(), p);
  ::pclose(p);
}

std::string history_path() {
  if (const char* h = std::getenv("PMDB_HISTORY"); h && *h) return h;
  if (const char* home = std::getenv("HOME"); home && *home) return fmt::format("{}/.pmdb_history", home);
  return {};
}

}  // namespace

int run_repl(session& s) {
  g_session = &s;
  struct sigaction sa{};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
  sigaction(SIGINT, &sa, nullptr);

  rl_catch_signals = 0;
  rl_getc_function = getc_interruptible;
  rl_attempted_completion_function = complete;
  rl_readline_name = const_cast<char*>("pmdb");
  using_history();
  stifle_history(2000);
  const std::string hist = history_path();
  if (!hist.empty()) read_history(hist.c_str());
  s.pager_sink = page;

  std::fputs(s.banner().c_str(), stdout);
  splitter split;
  while (!s.quit_requested()) {
    g_interrupted = 0;
    const std::string prompt = s.prompt(split.pending());
    char* raw = readline(prompt.c_str());
    if (!raw) {
      if (g_interrupted) {  // Ctrl-C: drop what was typed, back to a fresh prompt
        std::fputs("^C\n", stdout);
        split.reset();
        continue;
      }
      std::fputs("\n", stdout);
      break;  // Ctrl-D
    }
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) {
      add_history(line.c_str());
      if (!hist.empty()) write_history(hist.c_str());
    }
    for (unit u : split.feed_line(line)) {
      g_interrupted = 0;
      u.line = 1;  // interactively, positions count from the statement's first line
      s.run_unit(u, "");  // a query stopped by Ctrl-C reports "error: interrupted"
      if (s.quit_requested()) break;
    }
  }
  g_session = nullptr;
  return 0;
}

}  // namespace pmdb::shell
