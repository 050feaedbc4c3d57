// The documentation's examples are tests. In docs/pmql.md every ```pmql block must be followed
// (blank lines only in between) by a ```text block holding exactly what
//   pmdb --now 2025-01-01T00:00:00Z -c '<the block>'
// prints on stdout on the demo store (exit status 0, nothing on stderr), or by a ```text-error
// block holding exactly what it prints on stderr (exit status 1, nothing on stdout). `--now`
// only fixes the generation time in the footer of `report`. README.md and the manual pages
// show shell commands and terminal sessions instead: tests/docs_commands_test.py runs those.
//
// PMDB_UPDATE_GOLDEN=1 rewrites the output blocks in place from the real output instead of
// comparing (the exit-status and empty-stream checks still apply). An output block is fenced
// with more backticks than any fence inside it (a report contains ```mermaid).
#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "golden.hpp"

using namespace pmdb::test;

namespace {

constexpr std::string_view docs_now = "2025-01-01T00:00:00Z";

struct fenced_block {
  std::size_t open = 0;   // index of the opening fence line
  std::size_t close = 0;  // index of the closing fence line
  std::string info;       // the info string: `pmql`, `text`, ...
  std::string content;    // the lines between the fences, each ending in '\n'
};

struct markdown {
  std::vector<std::string> lines;
  bool final_newline = true;
};

markdown split_lines(const std::string& text) {
  markdown md;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      md.lines.push_back(text.substr(pos));
      md.final_newline = false;
      break;
    }
    md.lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return md;
}

std::string join_lines(const markdown& md) {
  std::string out;
  for (std::size_t i = 0; i < md.lines.size(); ++i) {
    out += md.lines[i];
    if (i + 1 < md.lines.size() || md.final_newline) out += '\n';
  }
  return out;
}

std::size_t leading_backticks(std::string_view line) {
  std::size_t n = 0;
  while (n < line.size() && line[n] == '`') ++n;
  return n;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// The fenced blocks of a Markdown file (backtick fences at the start of a line; a block closes
// at a line of at least as many backticks and nothing else, as in CommonMark).
std::vector<fenced_block> fenced_blocks(const markdown& md, const std::string& name) {
  std::vector<fenced_block> blocks;
  for (std::size_t i = 0; i < md.lines.size(); ++i) {
    const std::size_t ticks = leading_backticks(md.lines[i]);
    if (ticks < 3) continue;
    fenced_block b;
    b.open = i;
    b.info = trim(std::string_view(md.lines[i]).substr(ticks));
    std::size_t j = i + 1;
    for (; j < md.lines.size(); ++j) {
      const std::string& l = md.lines[j];
      if (leading_backticks(l) >= ticks && trim(l).find_first_not_of('`') == std::string::npos) break;
      b.content += l + '\n';
    }
    REQUIRE_MESSAGE(j < md.lines.size(), name << ":" << i + 1 << ": unclosed code block");
    b.close = j;
    blocks.push_back(std::move(b));
    i = j;
  }
  return blocks;
}

bool blank_between(const markdown& md, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    if (!trim(md.lines[i]).empty()) return false;
  return true;
}

// The fence for `content`: three backticks, or one more than the longest fence inside it.
std::string fence_for(const std::string& content) {
  std::size_t longest = 2;
  std::size_t pos = 0;
  while (pos < content.size()) {
    std::size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    longest = std::max(longest, leading_backticks(std::string_view(content).substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return std::string(longest + 1, '`');
}

struct example {
  std::size_t line = 0;  // 1-based line of the ```pmql fence
  std::string statements;
  const fenced_block* output = nullptr;
  bool is_error = false;
};

// Checks (or, with PMDB_UPDATE_GOLDEN=1, rewrites) the examples of one Markdown file; returns
// how many there are. Every ```pmql block must have an output block.
std::size_t check_examples(const std::filesystem::path& relative) {
  const auto path = source_dir() / relative;
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing " << relative.string());
  const std::string name = relative.string();
  const std::string original = read_file(path);
  markdown md = split_lines(original);
  const std::vector<fenced_block> blocks = fenced_blocks(md, name);

  std::vector<example> examples;
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    if (blocks[k].info != "pmql") continue;
    const fenced_block* next = k + 1 < blocks.size() ? &blocks[k + 1] : nullptr;
    const bool has_output = next && (next->info == "text" || next->info == "text-error") &&
                            blank_between(md, blocks[k].close + 1, next->open);
    if (!has_output) {
      FAIL_CHECK(name << ":" << blocks[k].open + 1
                      << ": a ```pmql block must be followed by its ```text or ```text-error output");
      continue;
    }
    std::string statements = blocks[k].content;
    if (!statements.empty()) statements.pop_back();
    CHECK_MESSAGE(!trim(statements).empty(), name << ":" << blocks[k].open + 1 << ": empty ```pmql block");
    examples.push_back({blocks[k].open + 1, std::move(statements), next, next->info == "text-error"});
  }

  const char* u = std::getenv("PMDB_UPDATE_GOLDEN");
  const bool update = u && std::string(u) == "1";
  // Replacements for the output blocks, applied bottom-up so that line indices stay valid.
  std::vector<std::pair<const fenced_block*, std::string>> rewrites;
  for (const auto& ex : examples) {
    const run_result r = run_pmdb({"--now", std::string(docs_now), "-c", ex.statements});
    INFO(name << ":" << ex.line << ": example\n" << ex.statements);
    const std::string& actual = ex.is_error ? r.err : r.out;
    if (ex.is_error) {
      CHECK_MESSAGE(r.status == 1, "a ```text-error example must fail (exit 1), got " << r.status);
      CHECK_MESSAGE(r.out.empty(), "a ```text-error example must print nothing on stdout, got:\n" << r.out);
    } else {
      CHECK_MESSAGE(r.status == 0, "exit status " << r.status << ", stderr:\n" << r.err);
      CHECK_MESSAGE(r.err.empty(), "the example printed on stderr (mark its output ```text-error?):\n" << r.err);
    }
    CHECK_MESSAGE((actual.empty() || actual.back() == '\n'), "output does not end with a newline:\n" << actual);
    if (update) {
      rewrites.emplace_back(ex.output, actual);
    } else {
      CHECK_MESSAGE(without_hashes(ex.output->content) == without_hashes(actual), "documented output:\n"
                                                      << ex.output->content << "\nactual output:\n"
                                                      << actual);
      CHECK_MESSAGE(leading_backticks(md.lines[ex.output->open]) == fence_for(ex.output->content).size(),
                    "output block fence: use " << fence_for(ex.output->content).size() << " backticks");
    }
  }

  if (update && !rewrites.empty()) {
    for (auto it = rewrites.rbegin(); it != rewrites.rend(); ++it) {
      const fenced_block& b = *it->first;
      const std::string& content = it->second;
      const std::string fence = fence_for(content);
      std::vector<std::string> replacement{fence + b.info};
      const markdown body = split_lines(content);
      replacement.insert(replacement.end(), body.lines.begin(), body.lines.end());
      replacement.push_back(fence);
      md.lines.erase(md.lines.begin() + static_cast<std::ptrdiff_t>(b.open),
                     md.lines.begin() + static_cast<std::ptrdiff_t>(b.close) + 1);
      md.lines.insert(md.lines.begin() + static_cast<std::ptrdiff_t>(b.open), replacement.begin(), replacement.end());
    }
    const std::string updated = join_lines(md);
    if (updated != original) write_file(path, updated);
  }
  return examples.size();
}

}  // namespace

TEST_SUITE("docs") {
  TEST_CASE("docs/pmql.md: every example's output is what pmdb prints") {
    const std::size_t n = check_examples("docs/pmql.md");
    // The reference teaches by example: a file whose examples all vanished is a defect too.
    CHECK_MESSAGE(n >= 40, "docs/pmql.md has only " << n << " checked examples");
  }

  TEST_CASE("the example parser: fences, output blocks, longer fences") {
    const markdown md = split_lines("a\n```pmql\nshow types;\n```\n\n````text\n```mermaid\n````\n```\nx\n```\n");
    const auto blocks = fenced_blocks(md, "inline");
    REQUIRE(blocks.size() == 3);
    CHECK(blocks[0].info == "pmql");
    CHECK(blocks[0].content == "show types;\n");
    CHECK(blocks[1].info == "text");
    CHECK(blocks[1].content == "```mermaid\n");
    CHECK(blocks[2].info.empty());
    CHECK(blank_between(md, blocks[0].close + 1, blocks[1].open));
    CHECK(fence_for("a\n") == "```");
    CHECK(fence_for("```mermaid\nx\n```\n") == "````");
    CHECK(join_lines(md) == "a\n```pmql\nshow types;\n```\n\n````text\n```mermaid\n````\n```\nx\n```\n");
  }
}
