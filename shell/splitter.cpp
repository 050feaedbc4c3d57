#include "shell/splitter.hpp"

#include <vector>

namespace pmdb::shell {

namespace {

// `help`, `exit` or `quit`, any case.
bool shell_word(std::string_view w) {
  if (w.size() != 4) return false;
  std::string lower(w);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower == "help" || lower == "exit" || lower == "quit";
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool splitter::pending() const { return started_; }

void splitter::reset() {
  buf_.clear();
  quote_ = 0;
  started_ = false;
}

std::vector<unit> splitter::feed_line(std::string_view line) {
  ++line_;
  std::vector<unit> out;
  if (!started_) {
    const std::size_t first = line.find_first_not_of(" \t");
    if (first != std::string_view::npos) {
      std::string_view cmd = trim_right(line.substr(first));
      std::string_view bare = cmd;  // without a trailing `;`
      if (bare.ends_with(';')) bare = trim_right(bare.substr(0, bare.size() - 1));
      if (cmd.starts_with('.') || cmd.starts_with('\\') || shell_word(bare)) {
        if (!cmd.starts_with('.')) cmd = bare;
        out.push_back({unit::kind::dot_command, std::string(cmd), line_, static_cast<std::uint32_t>(first + 1)});
        return out;
      }
    }
  }
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    const bool comment = !quote_ && c == '-' && i + 1 < line.size() && line[i + 1] == '-';
    if (!started_) {
      if (c == ' ' || c == '\t' || c == '\r') continue;
      if (comment) break;
      started_ = true;
      buf_.clear();
      start_line_ = line_;
      start_col_ = static_cast<std::uint32_t>(i + 1);
    }
    if (comment) {
      buf_.append(line.substr(i));
      break;
    }
    buf_ += c;
    if (quote_) {
      if (c == '\\' && i + 1 < line.size()) buf_ += line[++i];
      else if (c == quote_) quote_ = 0;
    } else if (c == '"' || c == '\'') {
      quote_ = c;
    } else if (c == ';') {
      out.push_back({unit::kind::statement, buf_, start_line_, start_col_});
      reset();
    }
  }
  if (started_) buf_ += '\n';
  return out;
}

std::optional<unit> splitter::finish() {
  if (!started_) return std::nullopt;
  unit u{unit::kind::statement, buf_, start_line_, start_col_};
  while (!u.text.empty() && (u.text.back() == '\n' || u.text.back() == ' ')) u.text.pop_back();
  reset();
  return u;
}

bool split_text(std::string_view text, const std::function<bool(const unit&)>& sink) {
  splitter split;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto nl = text.find('\n', pos);
    const auto line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    if (nl == std::string_view::npos && line.empty()) break;
    for (const unit& u : split.feed_line(line))
      if (!sink(u)) return false;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  if (auto rest = split.finish()) return sink(*rest);
  return true;
}

}  // namespace pmdb::shell
