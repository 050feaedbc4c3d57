#include <doctest/doctest.h>

#include "shell/splitter.hpp"

using namespace pmdb::shell;

TEST_SUITE("shell_splitter") {
  TEST_CASE("statements end at ';' outside strings and comments, and keep their position") {
    splitter s;
    CHECK(s.feed_line("time from first report").empty());
    CHECK(s.pending());
    CHECK(s.feed_line("  -- a comment; not the end").empty());
    auto u = s.feed_line("  to \"a;b\" in x; show types;  ");
    REQUIRE(u.size() == 2);
    CHECK(u[0].text == "time from first report\n  -- a comment; not the end\n  to \"a;b\" in x;");
    CHECK(u[0].line == 1);
    CHECK(u[0].column == 1);
    CHECK(u[1].text == "show types;");
    CHECK(u[1].line == 3);
    CHECK(u[1].column == 18);
    CHECK_FALSE(s.pending());
  }

  TEST_CASE("dot-commands are one line, only where a statement would start") {
    splitter s;
    auto u = s.feed_line("  .mode csv");
    REQUIRE(u.size() == 1);
    CHECK(u[0].what == unit::kind::dot_command);
    CHECK(u[0].text == ".mode csv");
    CHECK(s.feed_line("events where text ~ ").empty());
    u = s.feed_line(".x\";");
    REQUIRE(u.empty());  // inside a string: no statement ends, no dot-command starts
    u = s.feed_line("\";");
    REQUIRE(u.size() == 1);
    CHECK(u[0].what == unit::kind::statement);
  }

  TEST_CASE("help, exit, quit and backslash commands are one line, without ';'") {
    splitter s;
    for (const auto* line : {"help", "  QUIT ", "exit;", "quit ; ", "\\q", " \\? ", "\\dt;"}) {
      CAPTURE(line);
      const auto u = s.feed_line(line);
      REQUIRE(u.size() == 1);
      CHECK(u[0].what == unit::kind::dot_command);
      CHECK_FALSE(s.pending());
    }
    CHECK(s.feed_line("exit;")[0].text == "exit");
    CHECK(s.feed_line("  \\dt+ ;")[0].text == "\\dt+");
    // Anything more is a statement (the parser's hint answers `help me;`), and inside a
    // statement the words are the statement's.
    CHECK(s.feed_line("help me").empty());
    CHECK(s.pending());
    const auto u = s.feed_line("quit;");
    REQUIRE(u.size() == 1);
    CHECK(u[0].what == unit::kind::statement);
    CHECK(u[0].text == "help me\nquit;");
    CHECK(s.feed_line("helpful;")[0].what == unit::kind::statement);
  }

  TEST_CASE("comment-only lines start nothing; finish returns an unterminated statement") {
    splitter s;
    CHECK(s.feed_line("-- just a comment").empty());
    CHECK(s.feed_line("").empty());
    CHECK_FALSE(s.pending());
    CHECK_FALSE(s.finish());
    CHECK(s.feed_line("show types").empty());
    auto rest = s.finish();
    REQUIRE(rest);
    CHECK(rest->text == "show types");
    CHECK(rest->line == 3);
  }

  TEST_CASE("reset drops the statement being typed") {
    splitter s;
    s.feed_line("time from");
    s.reset();
    CHECK_FALSE(s.pending());
    auto u = s.feed_line("show types;");
    REQUIRE(u.size() == 1);
    CHECK(u[0].text == "show types;");
  }
}
