#pragma once
// Small text utilities shared by every module: edit distance, "did you mean" suggestions, and
// the UTF-8 check every importer applies to what it reads.
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pmdb {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ignoring ASCII case.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when it is close enough to be a likely typo (at most 1 edit
// for words of up to 3 letters, 2 up to 6, 3 beyond), else nullopt. Ties: the first candidate.
std::optional<std::string> nearest(std::string_view word, std::span<const std::string_view> candidates);
std::optional<std::string> nearest(std::string_view word, std::span<const std::string> candidates);
std::optional<std::string> nearest(std::string_view word, std::initializer_list<std::string_view> candidates);

// Checks UTF-8 fed one byte at a time (a stream read in pieces) against RFC 3629: no overlong
// forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
class utf8_checker {
 public:
  // False when `c` cannot come next in well-formed UTF-8 (the checker then starts afresh at `c`'s
  // successor).
  bool feed(unsigned char c) {
    if (need_ == 0) {
      if (c < 0x80) return true;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) need_ = 1;
      else if (c >= 0xE0 && c <= 0xEF) need_ = 2, lo_ = c == 0xE0 ? 0xA0 : 0x80, hi_ = c == 0xED ? 0x9F : 0xBF;
      else if (c >= 0xF0 && c <= 0xF4) need_ = 3, lo_ = c == 0xF0 ? 0x90 : 0x80, hi_ = c == 0xF4 ? 0x8F : 0xBF;
      else return false;
      return true;
    }
    if (c < lo_ || c > hi_) {
      need_ = 0;
      return false;
    }
    --need_;
    lo_ = 0x80;
    hi_ = 0xBF;
    return true;
  }
  // True in the middle of a sequence: at the end of the input, its last character is cut short.
  bool pending() const { return need_ != 0; }

 private:
  unsigned need_ = 0;
  unsigned char lo_ = 0x80, hi_ = 0xBF;
};

// The offset of the first byte of `s` that is not well-formed UTF-8 (for a sequence cut short
// by the end of `s`: where it starts), or nullopt when all of `s` is.
std::optional<std::size_t> invalid_utf8(std::string_view s);

// `s` with every ill-formed sequence replaced by U+FFFD, for text that must be UTF-8 whatever
// it holds (JSON output of strings stored before pmdb checked them).
std::string valid_utf8(std::string_view s);

}  // namespace pmdb
