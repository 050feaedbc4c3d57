#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace pmdb {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  return at(n, m);
}

namespace {
template <typename Range>
std::optional<std::string> nearest_in(std::string_view word, const Range& candidates) {
  const std::size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}
}  // namespace

std::optional<std::string> nearest(std::string_view word, std::span<const std::string_view> candidates) {
  return nearest_in(word, candidates);
}
std::optional<std::string> nearest(std::string_view word, std::span<const std::string> candidates) {
  return nearest_in(word, candidates);
}

std::optional<std::string> nearest(std::string_view word, std::initializer_list<std::string_view> candidates) {
  return nearest_in(word, candidates);
}

std::optional<std::size_t> invalid_utf8(std::string_view s) {
  utf8_checker check;
  std::size_t start = 0;  // where the current character starts
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!check.pending()) start = i;
    if (!check.feed(static_cast<unsigned char>(s[i]))) return start;
  }
  if (check.pending()) return start;
  return std::nullopt;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const auto bad = invalid_utf8(s);
    if (!bad) {
      out.append(s);
      break;
    }
    out.append(s.substr(0, *bad));
    out.append("\xEF\xBF\xBD");
    // Skip the ill-formed sequence: its lead byte, and the continuation bytes that follow it.
    std::size_t next = *bad + 1;
    while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80 && next - *bad < 4) ++next;
    s.remove_prefix(next);
  }
  return out;
}

}  // namespace pmdb
