#include "core/sql_functions.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <expected>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/time.hpp"

namespace pmdb::sqlfn {

namespace {

using std::int64_t;
namespace chr = std::chrono;

constexpr int64_t ms_per_hour = 3'600'000;
constexpr int64_t ms_per_day = 24 * ms_per_hour;
// The years 0000 to 9999, SQLite's strftime's range: outside it the result is NULL, as there.
constexpr int64_t first_ms = -62'167'219'200'000;  // 0000-01-01T00:00Z
constexpr int64_t end_ms = 253'402'300'800'000;    // 10000-01-01T00:00Z
constexpr int max_buckets = 100'000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

// ---- Arguments and results

std::string_view text_of(sqlite3_value* v) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_value_bytes(v))) : std::string_view("");
}

bool any_null(int argc, sqlite3_value** argv) {
  return std::any_of(argv, argv + argc, [](sqlite3_value* v) { return sqlite3_value_type(v) == SQLITE_NULL; });
}

// A time argument, or nullopt (a NULL result) outside the supported years.
std::optional<int64_t> time_of(sqlite3_value* v) {
  const int64_t ms = sqlite3_value_int64(v);
  if (ms < first_ms || ms >= end_ms) return std::nullopt;
  return ms;
}

void fail(sqlite3_context* ctx, const std::string& message) {
  sqlite3_result_error(ctx, message.data(), static_cast<int>(message.size()));
}

// SQLite calls the functions from C: no exception may leave them.
template <class F>
void guarded(sqlite3_context* ctx, F&& body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(ctx);
  } catch (const std::exception& e) {
    sqlite3_result_error(ctx, e.what(), -1);
  }
}

template <class T>
void delete_aux(void* p) {
  delete static_cast<T*>(p);
}

// The object made from argument `arg` by `make`, kept with the statement: SQLite keeps auxiliary
// data for as long as the argument is a constant, so a zone is located and a pattern compiled once
// per statement, not once per row. `make` returns nullptr after setting an error.
template <class T, class Make>
T* cached(sqlite3_context* ctx, int arg, Make&& make) {
  if (auto* p = static_cast<T*>(sqlite3_get_auxdata(ctx, arg))) return p;
  std::unique_ptr<T> made = make();
  if (!made) return nullptr;
  // On failure SQLite deletes the object at once, and it is not found again.
  sqlite3_set_auxdata(ctx, arg, made.release(), delete_aux<T>);
  auto* p = static_cast<T*>(sqlite3_get_auxdata(ctx, arg));
  if (!p) sqlite3_result_error_nomem(ctx);
  return p;
}

// ---- Zones

const date::time_zone* find_zone(std::string_view name) {
  // "localtime" is the system's link to its own zone, not an IANA name.
  if (name.empty() || name == "localtime") return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {  // an unknown name, or no tz database on this system
    return nullptr;
  }
}

int64_t ms_of(chr::seconds s) {
  constexpr int64_t limit = std::numeric_limits<int64_t>::max() / 1000;  // the first and last periods reach date's year limits
  return std::clamp<int64_t>(s.count(), -limit, limit) * 1000;
}

// A zone, with the offset period of the last instant converted: the rows of a scan mostly fall
// in the same period (months long), so most rows need no search of the zone's transitions.
struct zone {
  const date::time_zone* tz = nullptr;  // nullptr: UTC
  int64_t begin = 0, end = 0, offset = 0;  // the last period [begin, end) in UTC ms, and its offset

  int64_t local(int64_t ms) {
    if (!tz) return ms;
    if (ms < begin || ms >= end) {
      const auto info = tz->get_info(date::sys_time<chr::milliseconds>{chr::milliseconds{ms}});
      begin = ms_of(info.begin.time_since_epoch());
      end = ms_of(info.end.time_since_epoch());
      offset = ms_of(info.offset);
    }
    return ms + offset;
  }

  // The instant at which the local time `local` (ms) begins: in a gap (spring forward), the end
  // of the gap, the first instant that exists after it; when ambiguous (fall back), the earlier
  // instant, unless it is not after `after`.
  int64_t instant(int64_t local, int64_t after = std::numeric_limits<int64_t>::min()) const {
    if (!tz) return local;
    const auto li = tz->get_info(date::local_time<chr::milliseconds>{chr::milliseconds{local}});
    switch (li.result) {
      case date::local_info::nonexistent: return ms_of(li.second.begin.time_since_epoch());
      case date::local_info::ambiguous: {
        const int64_t earlier = local - ms_of(li.first.offset);
        return earlier > after ? earlier : local - ms_of(li.second.offset);
      }
      default: return local - ms_of(li.first.offset);
    }
  }
};

zone* zone_arg(sqlite3_context* ctx, sqlite3_value** argv, int arg) {
  return cached<zone>(ctx, arg, [&]() -> std::unique_ptr<zone> {
    const std::string_view name = text_of(argv[arg]);
    auto z = std::make_unique<zone>();
    if (name.empty() || name == "UTC") return z;
    z->tz = find_zone(name);
    if (!z->tz) {
      fail(ctx, fmt::format("unknown time zone '{}'", name));
      return nullptr;
    }
    return z;
  });
}

// ---- The calendar

enum class unit { year, quarter, month, week, day, hour };
constexpr std::string_view unit_names = "year, quarter, month, week, day, hour";

std::optional<unit> unit_of(std::string_view s) {
  if (s == "year") return unit::year;
  if (s == "quarter") return unit::quarter;
  if (s == "month") return unit::month;
  if (s == "week") return unit::week;
  if (s == "day") return unit::day;
  if (s == "hour") return unit::hour;
  return std::nullopt;
}

std::string_view name_of(unit u) {
  switch (u) {
    case unit::year: return "year";
    case unit::quarter: return "quarter";
    case unit::month: return "month";
    case unit::week: return "week";
    case unit::day: return "day";
    case unit::hour: return "hour";
  }
  return {};
}

// The date and time of day of a local time (ms since 1970-01-01T00:00 local).
struct civil {
  int64_t day;  // days since 1970-01-01
  int y;
  unsigned m, d;
  unsigned weekday;  // ISO: 1 = Monday ... 7 = Sunday
  int64_t ms_of_day;
};

civil civil_of(int64_t local_ms) {
  const int64_t day = floor_div(local_ms, ms_per_day);
  const date::year_month_day ymd{date::sys_days{date::days{day}}};
  // 1970-01-01 was a Thursday (4).
  return {day, static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
          static_cast<unsigned>((day % 7 + 10) % 7 + 1), local_ms - day * ms_per_day};
}

int64_t day_number(date::year_month_day ymd) { return date::sys_days{ymd}.time_since_epoch().count(); }

struct iso_week {
  int year;
  unsigned week;
};

// ISO 8601: the week's Thursday decides its year, and week 1 is the one holding its first Thursday.
iso_week iso_week_of(const civil& c) {
  const int64_t thursday = c.day + 4 - c.weekday;
  const date::year y = date::year_month_day{date::sys_days{date::days{thursday}}}.year();
  return {static_cast<int>(y), static_cast<unsigned>((thursday - day_number(y / 1 / 1)) / 7 + 1)};
}

// The local time at which the bucket of `c` begins, and the one at which the next begins.
int64_t local_start(const civil& c, unit u) {
  const auto ym = date::year{c.y} / date::month{c.m};
  switch (u) {
    case unit::year: return day_number(ym.year() / 1 / 1) * ms_per_day;
    case unit::quarter: return day_number(ym.year() / date::month{(c.m - 1) / 3 * 3 + 1} / 1) * ms_per_day;
    case unit::month: return day_number(ym / 1) * ms_per_day;
    case unit::week: return (c.day - (c.weekday - 1)) * ms_per_day;
    case unit::day: return c.day * ms_per_day;
    case unit::hour: return c.day * ms_per_day + c.ms_of_day / ms_per_hour * ms_per_hour;
  }
  return 0;
}

int64_t local_next(const civil& c, unit u) {
  const auto ym = date::year{c.y} / date::month{c.m};
  switch (u) {
    case unit::year: return day_number((ym.year() + date::years{1}) / 1 / 1) * ms_per_day;
    case unit::quarter:
      return day_number((ym.year() / date::month{(c.m - 1) / 3 * 3 + 1} + date::months{3}) / 1) * ms_per_day;
    case unit::month: return day_number((ym + date::months{1}) / 1) * ms_per_day;
    case unit::week: return local_start(c, u) + 7 * ms_per_day;
    case unit::day: return (c.day + 1) * ms_per_day;
    case unit::hour: return local_start(c, u) + ms_per_hour;
  }
  return 0;
}

int64_t bucket_start(zone& z, int64_t ms, unit u) { return z.instant(local_start(civil_of(z.local(ms)), u)); }

// `after` = ms: where the local start of the next bucket is ambiguous, it is the instant after ms.
int64_t bucket_next(zone& z, int64_t ms, unit u) { return z.instant(local_next(civil_of(z.local(ms)), u), ms); }

enum class number_part { weekday, hour_of_day, day_of_month, week_of_year, month_of_year, quarter_of_year, year_number };
using part = std::variant<number_part, unit>;
constexpr std::string_view part_names =
    "weekday, hour_of_day, day_of_month, week_of_year, month_of_year, quarter_of_year, year_number, "
    "year, quarter, month, week, day, hour";

std::optional<part> part_of(std::string_view s) {
  if (s == "weekday") return number_part::weekday;
  if (s == "hour_of_day") return number_part::hour_of_day;
  if (s == "day_of_month") return number_part::day_of_month;
  if (s == "week_of_year") return number_part::week_of_year;
  if (s == "month_of_year") return number_part::month_of_year;
  if (s == "quarter_of_year") return number_part::quarter_of_year;
  if (s == "year_number") return number_part::year_number;
  if (auto u = unit_of(s)) return *u;
  return std::nullopt;
}

int64_t number(const civil& c, number_part p) {
  switch (p) {
    case number_part::weekday: return c.weekday;
    case number_part::hour_of_day: return c.ms_of_day / ms_per_hour;
    case number_part::day_of_month: return c.d;
    case number_part::week_of_year: return iso_week_of(c).week;
    case number_part::month_of_year: return c.m;
    case number_part::quarter_of_year: return (c.m - 1) / 3 + 1;
    case number_part::year_number: return c.y;
  }
  return 0;
}

// The labels use the forms of SQLite's strftime ('%Y', '%Y-%m', '%Y-%m-%d', '%Y-%m-%d %H:00'),
// so that in UTC they equal the buckets PMQL computed with it.
void label(sqlite3_context* ctx, const civil& c, unit u) {
  char buf[40];
  fmt::format_to_n_result<char*> r{};
  switch (u) {
    case unit::year: r = fmt::format_to_n(buf, sizeof buf, "{:04}", c.y); break;
    case unit::quarter: r = fmt::format_to_n(buf, sizeof buf, "{:04}-Q{}", c.y, (c.m - 1) / 3 + 1); break;
    case unit::month: r = fmt::format_to_n(buf, sizeof buf, "{:04}-{:02}", c.y, c.m); break;
    case unit::week: {
      const iso_week w = iso_week_of(c);
      r = fmt::format_to_n(buf, sizeof buf, "{:04}-W{:02}", w.year, w.week);
      break;
    }
    case unit::day: r = fmt::format_to_n(buf, sizeof buf, "{:04}-{:02}-{:02}", c.y, c.m, c.d); break;
    case unit::hour:
      r = fmt::format_to_n(buf, sizeof buf, "{:04}-{:02}-{:02} {:02}:00", c.y, c.m, c.d, c.ms_of_day / ms_per_hour);
      break;
  }
  sqlite3_result_text(ctx, buf, static_cast<int>(r.size), SQLITE_TRANSIENT);
}

void cal_fn(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  guarded(ctx, [&] {
    if (any_null(argc, argv)) return;
    const auto p = part_of(text_of(argv[1]));
    if (!p) return fail(ctx, fmt::format("pmdb_cal: unknown part '{}' (one of {})", text_of(argv[1]), part_names));
    zone* z = zone_arg(ctx, argv, 2);
    const auto ms = time_of(argv[0]);
    if (!z || !ms) return;
    const civil c = civil_of(z->local(*ms));
    if (const auto* n = std::get_if<number_part>(&*p)) return sqlite3_result_int64(ctx, number(c, *n));
    label(ctx, c, std::get<unit>(*p));
  });
}

std::optional<unit> unit_arg(sqlite3_context* ctx, const char* function, sqlite3_value* v) {
  const auto u = unit_of(text_of(v));
  if (!u) fail(ctx, fmt::format("{}: unknown unit '{}' (one of {})", function, text_of(v), unit_names));
  return u;
}

template <bool next>
void bucket_fn(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  guarded(ctx, [&] {
    if (any_null(argc, argv)) return;
    const auto u = unit_arg(ctx, next ? "pmdb_bucket_next" : "pmdb_bucket_start", argv[1]);
    if (!u) return;
    zone* z = zone_arg(ctx, argv, 2);
    const auto ms = time_of(argv[0]);
    if (!z || !ms) return;
    sqlite3_result_int64(ctx, next ? bucket_next(*z, *ms, *u) : bucket_start(*z, *ms, *u));
  });
}

void buckets_fn(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  guarded(ctx, [&] {
    if (any_null(argc, argv)) return;
    const auto u = unit_arg(ctx, "pmdb_buckets", argv[2]);
    if (!u) return;
    zone* z = zone_arg(ctx, argv, 3);
    const auto start = time_of(argv[0]), end = time_of(argv[1]);
    if (!z || !start || !end) return;
    fmt::memory_buffer json;
    json.push_back('[');
    int n = 0;
    int64_t b = bucket_start(*z, *start, *u);
    do {
      if (++n > max_buckets)
        return fail(ctx, fmt::format("interval from {} to {} spans more than {} {} buckets", format_iso({*start}),
                                     format_iso({*end}), max_buckets, name_of(*u)));
      if (n > 1) json.push_back(',');
      fmt::format_to(std::back_inserter(json), "{}", b);
      b = bucket_next(*z, b, *u);
    } while (b < *end);
    json.push_back(']');
    sqlite3_result_text(ctx, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
  });
}

// ---- Regular expressions

// UTF-8 with Unicode classes (\w, \d, \b, [[:alpha:]] beyond ASCII); invalid UTF-8 in a subject
// is matched as bytes no character matches, instead of failing the whole match.
constexpr std::uint32_t regex_options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;

// Backtracking bounds: a pathological pattern such as (a+)+$ fails in milliseconds with an
// error instead of running for hours over one row.
constexpr std::uint32_t match_limit = 1'000'000;
constexpr std::uint32_t depth_limit = 100'000;  // backtracking frames (interpreter)
constexpr std::uint32_t heap_limit_kib = 64 * 1024;
constexpr std::size_t jit_stack_max = 1024 * 1024;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof buf);
  return n < 0 ? fmt::format("PCRE2 error {}", code) : std::string(reinterpret_cast<const char*>(buf), n);
}

struct code_deleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
using code_ptr = std::unique_ptr<pcre2_code, code_deleter>;

std::expected<code_ptr, std::string> compile(std::string_view pattern, std::uint32_t options) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  code_ptr c(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &code, &offset,
                           nullptr));
  if (!c) return std::unexpected(fmt::format("at offset {}: {}", offset, pcre2_message(code)));
  return c;
}

// A compiled pattern and what matching it needs, kept with the statement.
struct regex {
  std::string shown;  // how messages name it: /pattern/ or "phrase"
  code_ptr code;
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  regex() = default;
  regex(const regex&) = delete;
  regex& operator=(const regex&) = delete;
  ~regex() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

std::expected<std::unique_ptr<regex>, std::string> make_regex(std::string_view pattern, std::uint32_t options,
                                                              std::string shown) {
  auto c = compile(pattern, options);
  if (!c) return std::unexpected(c.error());
  auto r = std::make_unique<regex>();
  r->shown = std::move(shown);
  r->code = std::move(*c);
  r->data = pcre2_match_data_create(1, nullptr);
  r->context = pcre2_match_context_create(nullptr);
  if (!r->data || !r->context) throw std::bad_alloc();
  pcre2_set_match_limit(r->context, match_limit);
  pcre2_set_depth_limit(r->context, depth_limit);
  pcre2_set_heap_limit(r->context, heap_limit_kib);
  // JIT matching is several times faster; without JIT support pcre2_match interprets.
  if (pcre2_jit_compile(r->code.get(), PCRE2_JIT_COMPLETE) == 0) {
    r->jit_stack = pcre2_jit_stack_create(32 * 1024, jit_stack_max, nullptr);
    if (!r->jit_stack) throw std::bad_alloc();
    pcre2_jit_stack_assign(r->context, nullptr, r->jit_stack);
  }
  return r;
}

void match(sqlite3_context* ctx, const regex& r, std::string_view subject) {
  const int rc = pcre2_match(r.code.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, r.data,
                             r.context);
  if (rc >= 0) return sqlite3_result_int(ctx, 1);
  switch (rc) {
    case PCRE2_ERROR_NOMATCH: return sqlite3_result_int(ctx, 0);
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
      return fail(ctx, fmt::format("regular expression too costly on this text (backtracking limit reached): {}",
                                   r.shown));
    default: return fail(ctx, fmt::format("regular expression {}: {}", r.shown, pcre2_message(rc)));
  }
}

void regexp_fn(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  guarded(ctx, [&] {
    if (any_null(argc, argv)) return;
    const regex* r = cached<regex>(ctx, 0, [&]() -> std::unique_ptr<regex> {
      const std::string_view pattern = text_of(argv[0]);
      auto made = make_regex(pattern, regex_options, fmt::format("/{}/", pattern));
      if (!made) fail(ctx, fmt::format("invalid regular expression /{}/: {}", pattern, made.error()));
      return made ? std::move(*made) : nullptr;
    });
    if (r) match(ctx, *r, text_of(argv[1]));
  });
}

// The phrase as a literal between two word boundaries: no letter, digit or '_' on either side.
// Every ASCII character that is not a letter or digit is escaped (a backslash before one is
// always literal in PCRE2), control characters by code.
std::string word_pattern(std::string_view phrase) {
  std::string p = "(?<![\\p{L}\\p{N}_])";
  for (const char ch : phrase) {
    const auto u = static_cast<unsigned char>(ch);
    const bool alnum = (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z');
    if (u < 0x20 || u == 0x7f) {
      p += fmt::format("\\x{{{:02x}}}", u);
    } else {
      if (u < 0x80 && !alnum) p += '\\';
      p += ch;
    }
  }
  p += "(?![\\p{L}\\p{N}_])";
  return p;
}

void has_word_fn(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  guarded(ctx, [&] {
    if (any_null(argc, argv)) return;
    // An empty phrase is no word.
    if (text_of(argv[1]).empty()) return sqlite3_result_int(ctx, 0);
    const regex* r = cached<regex>(ctx, 1, [&]() -> std::unique_ptr<regex> {
      const std::string_view phrase = text_of(argv[1]);
      auto made = make_regex(word_pattern(phrase), regex_options | PCRE2_CASELESS, fmt::format("\"{}\"", phrase));
      if (!made) fail(ctx, fmt::format("pmdb_has_word: phrase \"{}\": {}", phrase, made.error()));
      return made ? std::move(*made) : nullptr;
    });
    if (r) match(ctx, *r, text_of(argv[0]));
  });
}

// ---- Aggregates

struct intervals {
  std::vector<std::pair<int64_t, int64_t>> list;
};

// The aggregate context holds a pointer: SQLite zeroes it and knows nothing of constructors.
intervals** intervals_of(sqlite3_context* ctx, bool create) {
  return static_cast<intervals**>(sqlite3_aggregate_context(ctx, create ? sizeof(intervals*) : 0));
}

void union_step(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  guarded(ctx, [&] {
    if (any_null(argc, argv)) return;
    const int64_t start = sqlite3_value_int64(argv[0]), end = sqlite3_value_int64(argv[1]);
    if (end < start) return;
    intervals** state = intervals_of(ctx, true);
    if (!state) return sqlite3_result_error_nomem(ctx);
    if (!*state) *state = new intervals;
    (*state)->list.emplace_back(start, end);
  });
}

void union_final(sqlite3_context* ctx) {
  intervals** state = intervals_of(ctx, false);
  if (!state || !*state) return;  // no row contributed: NULL
  const std::unique_ptr<intervals> owned(std::exchange(*state, nullptr));
  auto& list = owned->list;
  std::ranges::sort(list);
  int64_t total = 0, run_start = list.front().first, run_end = list.front().second;
  for (const auto& [start, end] : list) {
    if (start > run_end) {
      total += run_end - run_start;
      run_start = start;
    }
    run_end = std::max(run_end, end);
  }
  sqlite3_result_int64(ctx, total + (run_end - run_start));
}

// A number of a percentile's group: integers stay integers.
struct ranked_number {
  bool integer;
  int64_t i;
  double d;
  bool operator<(const ranked_number& o) const { return integer && o.integer ? i < o.i : as_real() < o.as_real(); }
  double as_real() const { return integer ? static_cast<double>(i) : d; }
};

struct percentile_state {
  std::vector<ranked_number> values;
  sqlite3_value* percent = nullptr;  // the second argument, as given (integer or real)
};

percentile_state** percentile_of(sqlite3_context* ctx, bool create) {
  return static_cast<percentile_state**>(sqlite3_aggregate_context(ctx, create ? sizeof(percentile_state*) : 0));
}

// pmdb_percentile(X, P): the nearest-rank P-th percentile of the group's non-null X, the value at
// 1-based rank max(1, ceil(P·n/100)) of the n values in ascending order (P·n computed as SQL
// does: in integers when P is one); NULL when there is none. One pass and a selection instead of
// a sort per group and two window passes.
void percentile_step(sqlite3_context* ctx, int, sqlite3_value** argv) {
  guarded(ctx, [&] {
    percentile_state** state = percentile_of(ctx, true);
    if (!state) return sqlite3_result_error_nomem(ctx);
    if (!*state) *state = new percentile_state;
    if (!(*state)->percent && !((*state)->percent = sqlite3_value_dup(argv[1]))) return sqlite3_result_error_nomem(ctx);
    switch (sqlite3_value_numeric_type(argv[0])) {
      case SQLITE_NULL: return;
      case SQLITE_INTEGER: (*state)->values.push_back({true, sqlite3_value_int64(argv[0]), 0}); return;
      default: (*state)->values.push_back({false, 0, sqlite3_value_double(argv[0])}); return;
    }
  });
}

void percentile_final(sqlite3_context* ctx) {
  percentile_state** state = percentile_of(ctx, false);
  if (!state || !*state) return;  // no row: NULL
  const std::unique_ptr<percentile_state> owned(std::exchange(*state, nullptr));
  struct free_percent {
    sqlite3_value* v;
    ~free_percent() { sqlite3_value_free(v); }
  } percent{owned->percent};
  auto& values = owned->values;
  if (values.empty()) return;
  const auto n = static_cast<int64_t>(values.size());
  const double target = sqlite3_value_type(owned->percent) == SQLITE_INTEGER
                            ? static_cast<double>(n * sqlite3_value_int64(owned->percent)) / 100.0
                            : static_cast<double>(n) * sqlite3_value_double(owned->percent) / 100.0;
  const auto whole = static_cast<int64_t>(target);
  const int64_t rank = std::clamp<int64_t>(whole + (target > static_cast<double>(whole) ? 1 : 0), 1, n);
  const auto nth = values.begin() + (rank - 1);
  std::nth_element(values.begin(), nth, values.end());
  if (nth->integer) sqlite3_result_int64(ctx, nth->i);
  else sqlite3_result_double(ctx, nth->d);
}

struct best {
  sqlite3_value* value;  // nullptr until a row with a key came
  int64_t key;
};

template <bool last>
void by_step(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
  auto* b = static_cast<best*>(sqlite3_aggregate_context(ctx, sizeof(best)));
  if (!b) return sqlite3_result_error_nomem(ctx);
  const int64_t key = sqlite3_value_int64(argv[1]);
  // Strict comparisons: on ties the first row stays.
  if (b->value && (last ? key <= b->key : key >= b->key)) return;
  sqlite3_value* v = sqlite3_value_dup(argv[0]);
  if (!v) return sqlite3_result_error_nomem(ctx);
  sqlite3_value_free(b->value);
  *b = {v, key};
}

void by_final(sqlite3_context* ctx) {
  auto* b = static_cast<best*>(sqlite3_aggregate_context(ctx, 0));
  if (!b || !b->value) return;
  sqlite3_result_value(ctx, b->value);
  sqlite3_value_free(std::exchange(b->value, nullptr));
}

}  // namespace

std::expected<void, error> register_functions(sqlite3* db) {
  // Deterministic: the zone functions depend on the tz database, which a running process reads
  // once.
  constexpr int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  using scalar_fn = void (*)(sqlite3_context*, int, sqlite3_value**);
  using final_fn = void (*)(sqlite3_context*);
  struct function {
    const char* name;
    int args;
    scalar_fn scalar;
    scalar_fn step;
    final_fn final;
  };
  const function functions[] = {
      {"pmdb_cal", 3, cal_fn, nullptr, nullptr},
      {"pmdb_bucket_start", 3, bucket_fn<false>, nullptr, nullptr},
      {"pmdb_bucket_next", 3, bucket_fn<true>, nullptr, nullptr},
      {"pmdb_buckets", 4, buckets_fn, nullptr, nullptr},
      {"pmdb_regexp", 2, regexp_fn, nullptr, nullptr},
      {"pmdb_has_word", 2, has_word_fn, nullptr, nullptr},
      {"pmdb_union_length", 2, nullptr, union_step, union_final},
      {"pmdb_first_by", 2, nullptr, by_step<false>, by_final},
      {"pmdb_last_by", 2, nullptr, by_step<true>, by_final},
      {"pmdb_percentile", 2, nullptr, percentile_step, percentile_final},
  };
  for (const auto& f : functions)
    if (sqlite3_create_function_v2(db, f.name, f.args, flags, nullptr, f.scalar, f.step, f.final, nullptr) !=
        SQLITE_OK)
      return std::unexpected(error(fmt::format("cannot register the SQL function {}: {}", f.name, sqlite3_errmsg(db))));
  return {};
}

bool known_zone(std::string_view name) { return name.empty() || name == "UTC" || find_zone(name); }

std::vector<std::string> zone_names() {
  std::vector<std::string> names;
  try {
    // The system's tz database lists its links (US/Pacific) among the zones.
    for (const auto& z : date::get_tzdb().zones)
      if (z.name() != "localtime") names.push_back(z.name());
  } catch (const std::exception&) {  // no tz database on this system: no names
    return {};
  }
  std::ranges::sort(names);
  return names;
}

std::optional<std::string> regex_error(std::string_view pattern) {
  auto c = compile(pattern, regex_options);
  if (!c) return c.error();
  return std::nullopt;
}

}  // namespace pmdb::sqlfn
