#pragma once
// Small text utilities shared by every module: edit distance and "did you mean" suggestions.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pmdb {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ignoring ASCII case.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when it is close enough to be a likely typo (distance at
// most 2, and less than half of the word's length), else nullopt. Ties: the first candidate.
std::optional<std::string> nearest(std::string_view word, std::span<const std::string_view> candidates);
std::optional<std::string> nearest(std::string_view word, std::span<const std::string> candidates);

}  // namespace pmdb
