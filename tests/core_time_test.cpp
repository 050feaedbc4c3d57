#include <doctest/doctest.h>

#include "core/time.hpp"

using namespace pmdb;

TEST_SUITE("core_time") {
  TEST_CASE("ISO 8601 timestamps normalise to UTC milliseconds") {
    const auto utc = parse_timestamp("2024-12-11T23:17:00Z");
    REQUIRE(utc);
    CHECK(format_iso(*utc) == "2024-12-11T23:17:00Z");
    CHECK(parse_timestamp("2024-12-11T15:17:00-08:00").value() == *utc);
    CHECK(parse_timestamp("2024-12-12T00:47:00+0130").value() == *utc);
    CHECK(parse_timestamp("2024-12-11 23:17Z").value() == *utc);
    CHECK(format_iso(parse_timestamp("2024-12-11T23:17:00.250Z").value()) == "2024-12-11T23:17:00.250Z");
    CHECK(format_iso(parse_timestamp("2024-12-11T23:17:00.123456Z").value()) == "2024-12-11T23:17:00.123Z");
    CHECK(parse_timestamp("1970-01-01T00:00:00Z").value().ms == 0);
    CHECK(format_iso(timestamp{-1}) == "1969-12-31T23:59:59.999Z");
    CHECK(format_short(*utc) == "2024-12-11 23:17Z");
    CHECK(format_short(parse_timestamp("2024-12-11T23:17:05Z").value()) == "2024-12-11 23:17:05Z");
  }

  TEST_CASE("bad timestamps say what is wrong") {
    CHECK(parse_timestamp("yesterday").error().starts_with("not a timestamp (expected ISO 8601"));
    CHECK(parse_timestamp("2024-12-11T23:17:00").error().starts_with("no time zone"));
    CHECK(parse_timestamp("2024-02-30T00:00:00Z").error().starts_with("day out of range"));
    CHECK(parse_timestamp("2024-13-01T00:00:00Z").error().starts_with("month out of range"));
    CHECK(parse_timestamp("2024-12-11T24:00:00Z").error().starts_with("time of day out of range"));
    CHECK(parse_timestamp("2024-12-11T23:17:00Zjunk").error().starts_with("unexpected text"));
    CHECK(parse_timestamp("2024-12-11").error().starts_with("a date without a time"));
    CHECK(parse_timestamp("2024-12-11", true).value().ms == parse_timestamp("2024-12-11T00:00:00Z").value().ms);
    CHECK(parse_timestamp("2024-02-29T00:00:00Z"));  // leap year
    CHECK_FALSE(parse_timestamp("2023-02-29T00:00:00Z"));
  }

  TEST_CASE("durations format compactly and parse back") {
    CHECK(format_duration(duration{(4 * 60 + 50) * 60'000}) == "4h50m");
    CHECK(format_duration(duration{((24 + 2) * 60 + 3) * 60'000}) == "1d2h3m");
    CHECK(format_duration(duration{45'000}) == "45s");
    CHECK(format_duration(duration{0}) == "0s");
    CHECK(format_duration(duration{-40 * 60'000}) == "-40m");
    CHECK(format_duration(duration{1'500}) == "1.5s");
    CHECK(parse_duration("4h36m").value().ms == (4 * 60 + 36) * 60'000);
    CHECK(parse_duration("2d").value().ms == 2 * 86'400'000);
    CHECK(parse_duration("500ms").value().ms == 500);
    CHECK_FALSE(parse_duration("4x"));
    CHECK_FALSE(parse_duration(""));
  }
}
