#include "core/time.hpp"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace pmdb {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

namespace {

struct civil {
  std::int64_t y;
  unsigned m, d;
};

civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  pos += n;
  return true;
}

constexpr std::int64_t ms_per_day = 86'400'000;

}  // namespace

std::expected<timestamp, std::string> parse_timestamp(std::string_view s, bool allow_date_only) {
  const auto fail = [&](std::string_view why) -> std::expected<timestamp, std::string> {
    return std::unexpected(fmt::format("{} (expected ISO 8601 with Z or an offset, e.g. 2024-12-11T23:17:00Z)", why));
  };
  std::size_t p = 0;
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) || p >= s.size() ||
      s[p++] != '-' || !digits(s, p, 2, d))
    return fail("not a timestamp");
  if (mo < 1 || mo > 12) return fail("month out of range");
  if (d < 1 || d > days_in_month(y, mo)) return fail("day out of range");
  std::int64_t offset_min = 0;
  if (p == s.size()) {
    if (!allow_date_only) return fail("a date without a time");
  } else {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return fail("not a timestamp");
    ++p;
    if (!digits(s, p, 2, h) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mi)) return fail("not a timestamp");
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!digits(s, p, 2, sec)) return fail("not a timestamp");
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        std::size_t n = 0;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          if (n < 3) ms = ms * 10 + static_cast<unsigned>(s[p] - '0');
          ++n;
          ++p;
        }
        if (n == 0) return fail("not a timestamp");
        for (; n < 3; ++n) ms *= 10;
      }
    }
    // Times are Unix milliseconds, which have no leap seconds: second 60 has no value of its own,
    // and folding it into :59 would reorder it with the events of that second.
    if (sec == 60 && h <= 23 && mi <= 59)
      return fail("second 60 (a leap second) cannot be stored: Unix time has none; write :59.999 or the next minute");
    if (h > 23 || mi > 59 || sec > 59) return fail("time of day out of range");
    if (p == s.size()) {
      if (!allow_date_only) return fail("no time zone");
    } else if (s[p] == 'Z' || s[p] == 'z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      const int sign = s[p] == '-' ? -1 : 1;
      ++p;
      unsigned oh = 0, om = 0;
      if (!digits(s, p, 2, oh)) return fail("bad zone offset");
      if (p < s.size() && s[p] == ':') ++p;
      if (!digits(s, p, 2, om)) return fail("bad zone offset");
      if (oh > 23 || om > 59) return fail("zone offset out of range");
      offset_min = sign * static_cast<std::int64_t>(oh * 60 + om);
    } else {
      return fail("not a timestamp");
    }
    if (p != s.size()) return fail("unexpected text after the timestamp");
  }
  const std::int64_t days = days_from_civil(y, mo, d);
  const std::int64_t t = days * ms_per_day + (static_cast<std::int64_t>(h) * 3600 + mi * 60 + sec) * 1000 + ms -
                         offset_min * 60'000;
  return timestamp{t};
}

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

std::string format_iso(timestamp t) {
  const std::int64_t days = floor_div(t.ms, ms_per_day);
  const std::int64_t rem = t.ms - days * ms_per_day;
  const civil c = civil_from_days(days);
  const auto secs = rem / 1000, ms = rem % 1000;
  if (ms != 0)
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.y, c.m, c.d, secs / 3600, secs / 60 % 60,
                       secs % 60, ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.y, c.m, c.d, secs / 3600, secs / 60 % 60, secs % 60);
}

std::string format_short(timestamp t) {
  const std::int64_t days = floor_div(t.ms, ms_per_day);
  const std::int64_t rem = t.ms - days * ms_per_day;
  const civil c = civil_from_days(days);
  const auto secs = rem / 1000;
  if (rem % 60'000 != 0)
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z", c.y, c.m, c.d, secs / 3600, secs / 60 % 60, secs % 60);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}Z", c.y, c.m, c.d, secs / 3600, secs / 60 % 60);
}

std::string format_duration(duration d) {
  std::string out;
  std::int64_t ms = d.ms;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  const std::int64_t days = ms / ms_per_day, hours = ms / 3'600'000 % 24, mins = ms / 60'000 % 60,
                     secs = ms / 1000 % 60, frac = ms % 1000;
  if (days) out += fmt::format("{}d", days);
  if (hours) out += fmt::format("{}h", hours);
  if (mins) out += fmt::format("{}m", mins);
  if (secs || frac || out.empty() || out == "-") {
    if (frac) {
      std::string f = fmt::format("{:03}", frac);
      while (f.back() == '0') f.pop_back();
      out += fmt::format("{}.{}s", secs, f);
    } else {
      out += fmt::format("{}s", secs);
    }
  }
  return out;
}

std::expected<duration, std::string> parse_duration(std::string_view s) {
  if (s.empty()) return std::unexpected("empty duration");
  std::int64_t total = 0;
  std::size_t p = 0;
  while (p < s.size()) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data() + p, s.data() + s.size(), n);
    if (ec != std::errc{} || end == s.data() + p)
      return std::unexpected(fmt::format("not a duration: \"{}\" (expected e.g. 90m, 4h36m, 2d)", s));
    p = static_cast<std::size_t>(end - s.data());
    std::int64_t unit = 0;
    if (s.substr(p, 2) == "ms") {
      unit = 1;
      p += 2;
    } else if (p < s.size()) {
      switch (s[p]) {
        case 'd': unit = ms_per_day; break;
        case 'h': unit = 3'600'000; break;
        case 'm': unit = 60'000; break;
        case 's': unit = 1000; break;
        default: break;
      }
      if (unit) ++p;
    }
    if (!unit) return std::unexpected(fmt::format("not a duration: \"{}\" (units are d, h, m, s, ms)", s));
    total += n * unit;
  }
  return duration{total};
}

}  // namespace pmdb
