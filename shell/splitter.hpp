#pragma once
// Splits shell input into complete units: PMQL statements (ending at a `;` outside strings
// and comments) and dot-commands (one line, starting with `.` where a statement would start).
// Where a statement would start, a line starting with `\` (psql's `\q`, `\?`, `\d`) and a
// line holding only `help`, `exit` or `quit` (any case, an optional `;`) are one-line
// commands too: the shell answers them without waiting for a `;`.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pmdb::shell {

struct unit {
  enum class kind { statement, dot_command } what = kind::statement;
  std::string text;          // the statement including its `;`, or the command line (trimmed; for
                             // `\`, `help`, `exit`, `quit` also without a trailing `;`)
  std::uint32_t line = 1;    // the line of text[0] in the input
  std::uint32_t column = 1;  // the column of text[0]
};

class splitter {
 public:
  // Feeds one line (without its newline). Returns the units it completes, in order.
  std::vector<unit> feed_line(std::string_view line);
  // At end of input: the unfinished statement, if any non-blank, non-comment text is pending.
  std::optional<unit> finish();
  // True while a statement is incomplete (the shell shows its continuation prompt).
  bool pending() const;
  // Drops the unfinished statement (Ctrl-C).
  void reset();

 private:
  std::string buf_;
  std::uint32_t line_ = 0;         // lines fed so far
  std::uint32_t start_line_ = 1;   // where buf_ starts
  std::uint32_t start_col_ = 1;
  char quote_ = 0;                 // inside a string literal opened with this quote
  bool started_ = false;           // a statement has begun and not yet ended
};

// Splits a whole text into units and gives each to `sink`, in order, the unfinished statement
// at the end included; stops early when `sink` returns false. Returns false when it stopped.
bool split_text(std::string_view text, const std::function<bool(const unit&)>& sink);

}  // namespace pmdb::shell
