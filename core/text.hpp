#pragma once
// Small text utilities shared by every module: edit distance and "did you mean" suggestions.
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

}  // namespace pmdb
