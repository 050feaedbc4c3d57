#include "query/dialect.hpp"

#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace pmdb::query {

namespace {

bool word_at(std::string_view s, std::size_t i, std::string_view w) {
  if (i + w.size() > s.size()) return false;
  for (std::size_t k = 0; k < w.size(); ++k)
    if (std::toupper(static_cast<unsigned char>(s[i + k])) != w[k]) return false;
  const auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (i > 0 && ident(s[i - 1])) return false;
  return i + w.size() == s.size() || !ident(s[i + w.size()]);
}

// The end of the quoted text that starts at i ('…' or "…", a doubled quote inside).
std::size_t quoted_end(std::string_view s, std::size_t i) {
  const char q = s[i];
  for (std::size_t k = i + 1; k < s.size(); ++k)
    if (s[k] == q) {
      if (k + 1 < s.size() && s[k + 1] == q) ++k;
      else return k + 1;
    }
  return s.size();
}

// Appends a NULLS clause to the ORDER BY term `term` (trimmed) unless it has one.
void finish_term(std::string& out, std::size_t term_start) {
  std::size_t end = out.size();
  while (end > term_start && out[end - 1] == ' ') --end;
  const std::string_view term(out.data() + term_start, end - term_start);
  if (term.empty()) return;
  std::string upper;
  for (char c : term) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.find(" NULLS ") != std::string::npos) return;
  const bool desc = upper.size() >= 5 && upper.compare(upper.size() - 5, 5, " DESC") == 0;
  const std::string trailing = out.substr(end);
  out.resize(end);
  out += desc ? " NULLS LAST" : " NULLS FIRST";
  out += trailing;
}

bool ends_with_word(const std::string& out, std::string_view w) {
  std::size_t end = out.size();
  while (end > 0 && out[end - 1] == ' ') --end;
  return end >= w.size() && word_at(out, end - w.size(), w);
}

// Whether a name (`AS x` or `x`) follows a closing parenthesis at i.
bool named_after(std::string_view s, std::size_t i) {
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size() || !(std::isalpha(static_cast<unsigned char>(s[i])) || s[i] == '_')) return false;
  for (std::string_view k : {"WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "ON",
                             "JOIN", "LEFT", "INNER", "CROSS", "HAVING", "WINDOW"})
    if (word_at(s, i, k)) return false;
  return true;
}

}  // namespace

std::string in_dialect(std::string_view sql, sql_dialect d) {
  const bool pg = d == sql_dialect::postgresql;
  std::string out;
  out.reserve(sql.size() + sql.size() / 8);
  // Per parenthesis depth: whether an ORDER BY list is open there, and where its term began.
  struct level {
    bool ordering = false;
    std::size_t term_start = 0;
    bool from_subquery = false;  // a subquery after FROM or JOIN (PostgreSQL 15 needs it named)
  };
  int aliases = 0;
  std::vector<level> levels(1);
  const auto close_order = [&](level& l) {
    if (!l.ordering) return;
    finish_term(out, l.term_start);
    l.ordering = false;
  };
  for (std::size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const std::size_t e = quoted_end(sql, i);
      out.append(sql.substr(i, e - i));
      i = e;
      continue;
    }
    level& l = levels.back();
    if (c == '(') {
      level inner;
      inner.from_subquery = pg && (ends_with_word(out, "FROM") || ends_with_word(out, "JOIN"));
      levels.push_back(inner);
      out += c;
      ++i;
      continue;
    }
    if (c == ')') {
      close_order(l);
      const bool name_it = l.from_subquery && !named_after(sql, i + 1);
      if (levels.size() > 1) levels.pop_back();
      out += c;
      ++i;
      if (name_it) out += fmt::format(" AS pmdb_q{}", ++aliases);
      continue;
    }
    if (c == ',' && l.ordering) {
      finish_term(out, l.term_start);
      out += c;
      ++i;
      while (i < sql.size() && sql[i] == ' ') out += sql[i++];
      l.term_start = out.size();
      continue;
    }
    if (word_at(sql, i, "ORDER") && sql.substr(i, 9) == "ORDER BY ") {
      close_order(l);
      out += "ORDER BY ";
      i += 9;
      l.ordering = true;
      l.term_start = out.size();
      continue;
    }
    if (l.ordering) {
      for (std::string_view w : {"LIMIT", "OFFSET", "ROWS", "RANGE", "GROUPS", "UNION", "EXCEPT", "INTERSECT"})
        if (word_at(sql, i, w)) {
          close_order(l);
          break;
        }
    }
    if (pg) {
      if (word_at(sql, i, "LIMIT") && sql.substr(i, 9) == "LIMIT -1 ") {
        out += "LIMIT ALL ";
        i += 9;
        continue;
      }
      if (word_at(sql, i, "AS") && sql.substr(i, 8) == "AS REAL)") {
        out += "AS double precision)";
        i += 8;
        continue;
      }
      if (word_at(sql, i, "AS") && sql.substr(i, 11) == "AS INTEGER)") {
        out += "AS bigint)";
        i += 11;
        continue;
      }
    }
    out += c;
    ++i;
  }
  close_order(levels.front());
  for (auto& l : levels) close_order(l);
  return out;
}

}  // namespace pmdb::query
