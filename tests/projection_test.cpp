// The projection (core/projection.hpp): projection::fold on hand-made logs, then a property
// test through the whole path (append → event_versions → PMQL): a log full of mistakes fixed
// by corrections and retractions, appended in any order, must answer every question as the log
// written right the first time, now and as of any moment.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/event_store.hpp"
#include "core/projection.hpp"
#include "core/time.hpp"
#include "query/compiler.hpp"
#include "query/parser.hpp"
#include "shell/catalog.hpp"
#include "test_util.hpp"

using namespace pmdb;
using pmdb::test::memory_store;
using pmdb::test::dump;

namespace {

constexpr std::int64_t minute = 60'000;
const std::int64_t t0 = parse_timestamp("2024-06-01T00:00:00Z").value().ms;

event make(std::string id, std::string incident, std::string type, std::int64_t at, std::int64_t recorded_at,
           std::string data, std::string source = "test") {
  event e;
  e.id = std::move(id);
  e.incident = std::move(incident);
  e.type = std::move(type);
  e.at = at;
  e.recorded_at = recorded_at;
  e.source = std::move(source);
  e.data = std::move(data);
  auto v = validate_event(std::move(e));
  REQUIRE_MESSAGE(v, (v ? "" : v.error()));
  return *v;
}

// A correction of `target` giving `at` and/or `data` (the whole payload).
event correction(std::string id, std::string incident, std::string target, std::int64_t recorded_at,
                 std::optional<std::int64_t> at, std::optional<std::string> data) {
  std::string d = fmt::format(R"({{"target":"{}","reason":"fix")", target);
  if (at) d += fmt::format(R"(,"at":"{}")", format_iso(timestamp{*at}));
  if (data) d += fmt::format(R"(,"data":{})", *data);
  d += "}";
  return make(std::move(id), std::move(incident), "correction", recorded_at, recorded_at, d, "analyst");
}

event retraction(std::string id, std::string incident, std::string target, std::int64_t recorded_at) {
  return make(std::move(id), std::move(incident), "retraction", recorded_at, recorded_at,
              fmt::format(R"({{"target":"{}","reason":"not so"}})", target), "analyst");
}

stored_event logged_at(std::int64_t seq, const event& e) { return {seq, seq, *e.recorded_at, e}; }

// A version as one line: "[from,to) made_by rank corrected at text", times in minutes after t0.
std::string shown(const projection::version& v) {
  const auto m = [](std::int64_t t) { return std::to_string((t - t0) / minute); };
  return fmt::format("[{},{}) by {} #{}{} at {} {}", m(v.valid_from), v.valid_to ? m(*v.valid_to) : "-", v.made_by,
                     v.rank, v.corrected ? " corrected" : "", m(v.ev.at), v.ev.text.value_or("(no text)"));
}
std::vector<std::string> shown(const std::vector<projection::version>& vs) {
  std::vector<std::string> out;
  for (const auto& v : vs) out.push_back(shown(v));
  return out;
}

std::string status_data(std::string_view status, std::string_view text) {
  return fmt::format(R"({{"status":"{}","text":"{}"}})", status, text);
}

}  // namespace

TEST_SUITE("projection") {

TEST_CASE("fold: corrections apply in (recorded_at, seq) order, each replacing the fields it gives") {
  const event e = make("e", "x", "status", t0 + 10 * minute, t0 + 20 * minute, status_data("investigating", "v0"));
  // Log order (seq) is not recorded order: c3 is appended last but recorded between c1 and c2.
  const std::vector<stored_event> changes = {
      logged_at(2, correction("c1", "x", "e", t0 + 30 * minute, t0 + 11 * minute, status_data("identified", "v1"))),
      logged_at(3, correction("c2", "x", "e", t0 + 50 * minute, std::nullopt, status_data("identified", "v2"))),
      logged_at(4, correction("c3", "x", "e", t0 + 40 * minute, t0 + 12 * minute, std::nullopt)),
  };
  const auto vs = projection::fold(logged_at(1, e), changes);
  CHECK(shown(vs) == std::vector<std::string>{"[20,30) by 1 #0 at 10 v0", "[30,40) by 2 #1 corrected at 11 v1",
                                              "[40,50) by 4 #2 corrected at 12 v1", "[50,-) by 3 #3 corrected at 12 v2"});
  // The believed event keeps the original's identity and envelope.
  CHECK(vs.back().ev.id == "e");
  CHECK(vs.back().ev.recorded_at == e.recorded_at);
  CHECK(vs.back().ev.source == "test");
  CHECK(vs.back().ev.status == "identified");

  SUBCASE("the same recorded time: the later position wins") {
    const std::vector<stored_event> tied = {
        logged_at(7, correction("b", "x", "e", t0 + 30 * minute, std::nullopt, status_data("resolved", "late"))),
        logged_at(5, correction("a", "x", "e", t0 + 30 * minute, std::nullopt, status_data("monitoring", "early"))),
    };
    const auto t = projection::fold(logged_at(1, e), tied);
    CHECK(shown(t) == std::vector<std::string>{"[20,30) by 1 #0 at 10 v0", "[30,30) by 5 #1 corrected at 10 early",
                                               "[30,-) by 7 #2 corrected at 10 late"});
    CHECK(t.back().ev.status == "resolved");
  }
  SUBCASE("no correction: one version, believed from the event's recorded_at on") {
    CHECK(shown(projection::fold(logged_at(1, e), {})) == std::vector<std::string>{"[20,-) by 1 #0 at 10 v0"});
  }
}

TEST_CASE("fold: a correction recorded before its target is believed from the target's recorded_at") {
  const event e = make("e", "x", "alert", t0, t0 + 60 * minute, R"({"text":"v0"})");
  const std::vector<stored_event> changes = {
      logged_at(1, correction("c1", "x", "e", t0 + 10 * minute, t0 + 5 * minute, R"({"text":"v1"})")),
      logged_at(3, correction("c2", "x", "e", t0 + 90 * minute, std::nullopt, R"({"text":"v2"})")),
  };
  const auto vs = projection::fold(logged_at(2, e), changes);
  // The original is never believed on its own: the earlier correction applies from the start.
  CHECK(shown(vs) == std::vector<std::string>{"[60,60) by 2 #0 at 0 v0", "[60,90) by 1 #1 corrected at 5 v1",
                                              "[90,-) by 3 #2 corrected at 5 v2"});
}

TEST_CASE("fold: the first retraction ends every version; later corrections are never believed") {
  const event e = make("e", "x", "alert", t0, t0 + 10 * minute, R"({"text":"v0"})");
  const auto c1 = correction("c1", "x", "e", t0 + 20 * minute, std::nullopt, R"({"text":"v1"})");
  const auto c2 = correction("c2", "x", "e", t0 + 40 * minute, std::nullopt, R"({"text":"v2"})");
  SUBCASE("retracted between two corrections") {
    const std::vector<stored_event> changes = {logged_at(2, c1), logged_at(3, c2),
                                                     logged_at(4, retraction("r1", "x", "e", t0 + 30 * minute)),
                                                     logged_at(5, retraction("r2", "x", "e", t0 + 25 * minute))};
    CHECK(shown(projection::fold(logged_at(1, e), changes)) ==
          std::vector<std::string>{"[10,20) by 1 #0 at 0 v0", "[20,25) by 2 #1 corrected at 0 v1",
                                   "[25,25) by 3 #2 corrected at 0 v2"});
  }
  SUBCASE("retracted before it was recorded: never believed") {
    const std::vector<stored_event> changes = {logged_at(2, c1),
                                                     logged_at(3, retraction("r", "x", "e", t0 + 5 * minute))};
    CHECK(shown(projection::fold(logged_at(1, e), changes)) ==
          std::vector<std::string>{"[10,10) by 1 #0 at 0 v0", "[10,10) by 2 #1 corrected at 0 v1"});
  }
}

TEST_CASE("fold: changes of another incident, unusable corrections and stale fields") {
  const event e = make("e", "x", "report", t0, t0 + 10 * minute, R"({"count":40,"text":"v0"})");
  REQUIRE(e.value == 40.0);
  SUBCASE("a correction or retraction of another incident is ignored (a store older than the checks may hold one)") {
    const std::vector<stored_event> changes = {
        logged_at(2, correction("c", "y", "e", t0 + 20 * minute, t0 + minute, R"({"text":"other"})")),
        logged_at(3, retraction("r", "y", "e", t0 + 30 * minute))};
    CHECK(shown(projection::fold(logged_at(1, e), changes)) == std::vector<std::string>{"[10,-) by 1 #0 at 0 v0"});
  }
  SUBCASE("a correction whose data is not valid for the target's type is ignored, its `at` too") {
    const std::vector<stored_event> changes = {
        logged_at(2, correction("c", "x", "e", t0 + 20 * minute, t0 + minute, R"({"count":-1})")),
        logged_at(3, correction("d", "x", "e", t0 + 30 * minute, std::nullopt, R"({"text":"v1","count":41})"))};
    CHECK(shown(projection::fold(logged_at(1, e), changes)) ==
          std::vector<std::string>{"[10,30) by 1 #0 at 0 v0", "[30,-) by 3 #1 corrected at 0 v1"});
  }
  SUBCASE("the typed fields are those of the new payload: a field it lacks is empty, not the old value") {
    const std::vector<stored_event> changes = {
        logged_at(2, correction("c", "x", "e", t0 + 20 * minute, std::nullopt, R"({"text":"no count now"})"))};
    const auto vs = projection::fold(logged_at(1, e), changes);
    REQUIRE(vs.size() == 2);
    CHECK(vs[0].ev.value == 40.0);
    CHECK(vs[1].ev.text == "no count now");
    CHECK_FALSE(vs[1].ev.value.has_value());
    CHECK(vs[1].ev.data == R"({"text":"no count now"})");
  }
}

TEST_CASE("fold: the store's versions are the fold of its log") {
  // Appended in batches, in an order where corrections are recorded out of order.
  auto store = memory_store();
  const event e = make("e", "x", "status", t0, t0 + 10 * minute, status_data("investigating", "v0"));
  REQUIRE(store.append(std::vector{e}));
  REQUIRE(store.append(std::vector{correction("c2", "x", "e", t0 + 50 * minute, std::nullopt, status_data("resolved", "v2")),
                                   correction("c1", "x", "e", t0 + 30 * minute, t0 + minute, status_data("identified", "v1"))}));
  REQUIRE(store.append(std::vector{retraction("r", "x", "e", t0 + 60 * minute)}));
  const std::vector<column> cols = {{"made_by", value_type::integer}, {"rank", value_type::integer},
                                    {"valid_from", value_type::integer}, {"valid_to", value_type::integer},
                                    {"at", value_type::integer}, {"text"}, {"status"}};
  auto rs = store.query("SELECT made_by, rank, valid_from, valid_to, at, text, status FROM event_versions WHERE id = 'e' "
                        "ORDER BY rank",
                        {}, cols);
  REQUIRE(rs);
  std::vector<std::string> got;
  for (const auto& row : rs->rows)
    got.push_back(fmt::format("{} #{} [{},{}) at {} {} {}", std::get<std::int64_t>(row[0]), std::get<std::int64_t>(row[1]),
                              (std::get<std::int64_t>(row[2]) - t0) / minute, (std::get<std::int64_t>(row[3]) - t0) / minute,
                              (std::get<std::int64_t>(row[4]) - t0) / minute, std::get<std::string>(row[5]),
                              std::get<std::string>(row[6])));
  CHECK(got == std::vector<std::string>{"1 #0 [10,30) at 0 v0 investigating", "3 #1 [30,50) at 1 v1 identified",
                                        "2 #2 [50,60) at 1 v2 resolved"});
}

}  // TEST_SUITE

// ------------------------------------------------------------------ the property test

namespace {

// A fact of the "true" incident, or of the messy log.
struct fact {
  std::string id, incident, type;
  std::int64_t at = 0;
  std::string data;
  friend bool operator==(const fact&, const fact&) = default;
  friend auto operator<=>(const fact&, const fact&) = default;
};

constexpr std::string_view fact_types[] = {"status", "alert", "report", "metric", "comm", "component"};
constexpr std::string_view components[] = {"API", "api"};
constexpr std::string_view states[] = {"major_outage", "partial_outage", "operational"};
constexpr std::string_view statuses[] = {"investigating", "identified", "monitoring", "resolved"};
constexpr std::string_view channels[] = {"x", "statuspage", "blog"};

class generator {
 public:
  explicit generator(std::uint32_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class R>
  auto pick(const R& r) {
    return r[static_cast<std::size_t>(uniform(0, static_cast<int>(std::size(r)) - 1))];
  }

  // When something happened: within ten hours. When it was recorded: within two days, on a
  // ten-minute grid so that several changes share a recorded time.
  std::int64_t happened() { return t0 + uniform(0, 600) * minute; }
  std::int64_t wrong_time() { return t0 + uniform(-240, 900) * minute; }
  std::int64_t recorded() { return t0 + uniform(0, 288) * 10 * minute; }

  std::string payload(std::string_view type) {
    const int n = uniform(1, 9);
    if (type == "status") return status_data(pick(statuses), fmt::format("post {}", n));
    if (type == "alert") return fmt::format(R"({{"text":"alert {}"}})", n);
    if (type == "report")
      return chance(0.3) ? fmt::format(R"({{"text":"reports {}"}})", n)
                         : fmt::format(R"({{"count":{},"text":"reports"}})", n * 100);
    if (type == "metric") {
      constexpr int values[] = {10, 50, 90, 99, 100};
      constexpr std::string_view names[] = {"fixed", "Fixed", "affected"};
      return fmt::format(R"({{"name":"{}","value":{},"unit":"%"}})", pick(names), pick(values));
    }
    if (type == "component")
      return fmt::format(R"({{"component":"{}","state":"{}","text":"c {}"}})", pick(components), pick(states), n);
    return fmt::format(R"({{"channel":"{}","text":"said {}","author":"Acme"}})", pick(channels), n);
  }
  std::string other_payload(std::string_view type, const std::string& than) {
    for (;;)
      if (auto p = payload(type); p != than) return p;
  }

 private:
  std::mt19937 rng_;
};

// One case: two incidents' true facts, and a messy log that ends up saying the same.
struct scenario {
  std::vector<fact> truth;
  std::vector<event> log;                 // the messy log, in append order
  std::vector<std::size_t> batches;       // sizes of the append calls, in order
  int corrections = 0, retractions = 0, wrong = 0, spurious = 0, out_of_order = 0;
};

scenario generate(std::uint32_t seed, const std::vector<std::string>& incidents) {
  generator g(seed);
  scenario s;
  // Messy items and what each must follow in the log.
  std::vector<event> items;
  std::vector<std::vector<std::size_t>> after;
  const auto add = [&](event e, std::vector<std::size_t> deps) {
    items.push_back(std::move(e));
    after.push_back(std::move(deps));
    return items.size() - 1;
  };
  int serial = 0;
  const auto next_id = [&](std::string_view what) { return fmt::format("{}-{}", what, ++serial); };

  for (const auto& incident : incidents) {
    const int n = g.uniform(3, 24);
    for (int k = 0; k < n; ++k) {
      fact t{next_id(incident + "/f"), incident, std::string(g.pick(fact_types)), g.happened(), ""};
      t.data = g.payload(t.type);
      s.truth.push_back(t);
      const bool at_wrong = g.chance(0.25), data_wrong = g.chance(0.3);
      const bool restated = !at_wrong && !data_wrong && g.chance(0.1);
      const std::int64_t first_at = at_wrong ? g.wrong_time() : t.at;
      const std::string first_data = data_wrong ? g.other_payload(t.type, t.data) : t.data;
      const std::size_t original = add(make(t.id, incident, t.type, first_at, g.recorded(), first_data), {});
      if (!at_wrong && !data_wrong && !restated) continue;
      if (at_wrong || data_wrong) ++s.wrong;
      // 1-3 corrections, appended in this order, recorded at random times. Each gives a random
      // non-empty set of fields; for each field, the one latest by (recorded_at, position)
      // among those giving it carries the truth, the others a wrong value.
      struct planned {
        std::int64_t recorded;
        std::size_t order;
        bool at, data;
      };
      std::vector<planned> plan;
      const int m = restated ? 1 : g.uniform(1, 3);
      for (int j = 0; j < m; ++j) {
        const int fields = g.uniform(1, 3);
        plan.push_back({g.recorded(), static_cast<std::size_t>(j), (fields & 1) != 0, (fields & 2) != 0});
      }
      std::vector<std::size_t> by_belief(plan.size());
      for (std::size_t j = 0; j < plan.size(); ++j) by_belief[j] = j;
      std::ranges::sort(by_belief, [&](std::size_t a, std::size_t b) {
        return std::pair(plan[a].recorded, plan[a].order) < std::pair(plan[b].recorded, plan[b].order);
      });
      if (!std::ranges::is_sorted(by_belief)) ++s.out_of_order;
      const std::size_t last = by_belief.back();
      if (at_wrong) plan[last].at = true;
      if (data_wrong) plan[last].data = true;
      std::optional<std::size_t> last_at, last_data;
      for (const std::size_t j : by_belief) {
        if (plan[j].at) last_at = j;
        if (plan[j].data) last_data = j;
      }
      std::size_t previous = original;
      for (std::size_t j = 0; j < plan.size(); ++j) {
        std::optional<std::int64_t> at;
        std::optional<std::string> data;
        if (plan[j].at) at = j == last_at ? t.at : g.wrong_time();
        if (plan[j].data) data = j == last_data ? t.data : g.other_payload(t.type, t.data);
        previous = add(correction(next_id(t.id + "/c"), incident, t.id, plan[j].recorded, at, data), {previous});
        ++s.corrections;
      }
    }
    // Spurious facts, sometimes corrected first, then retracted (the retraction recorded at any
    // time, even before what it retracts).
    const int spurious = g.uniform(0, 2);
    for (int k = 0; k < spurious; ++k) {
      const std::string type(g.pick(fact_types));
      const std::string id = next_id(incident + "/s");
      std::size_t previous = add(make(id, incident, type, g.wrong_time(), g.recorded(), g.payload(type)), {});
      ++s.spurious;
      const int m = g.chance(0.4) ? g.uniform(1, 2) : 0;
      for (int j = 0; j < m; ++j) {
        previous = add(correction(next_id(id + "/c"), incident, id, g.recorded(), g.wrong_time(), g.payload(type)),
                       {previous});
        ++s.corrections;
      }
      add(retraction(next_id(id + "/r"), incident, id, g.recorded()), {previous});
      ++s.retractions;
    }
  }

  // A random order that keeps every item after what it follows (a correction after its
  // target, a retraction after the target's corrections), then random batch sizes.
  std::vector<bool> done(items.size(), false);
  for (std::size_t placed = 0; placed < items.size(); ++placed) {
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < items.size(); ++i)
      if (!done[i] && std::ranges::all_of(after[i], [&](std::size_t d) { return done[d]; })) ready.push_back(i);
    REQUIRE_FALSE(ready.empty());
    const std::size_t i = g.pick(ready);
    done[i] = true;
    s.log.push_back(items[i]);
  }
  for (std::size_t left = s.log.size(); left > 0;) {
    const std::size_t b = std::min<std::size_t>(left, static_cast<std::size_t>(g.uniform(1, 5)));
    s.batches.push_back(b);
    left -= b;
  }
  return s;
}

// The rule, written plainly: the facts believed at `when` (nullopt: now) given the log in
// append order. An event is believed from its recorded_at; corrections recorded by then apply
// in (recorded_at, position) order, each replacing the fields it gives; a retraction recorded
// by then hides its target; corrections and retractions are not facts.
std::vector<fact> believed(const std::vector<event>& log, std::optional<std::int64_t> when) {
  const auto known = [&](const event& e) { return !when || *e.recorded_at <= *when; };
  std::vector<fact> out;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const event& e = log[i];
    if (projection::is_audit_type(e.type) || !known(e)) continue;
    fact f{e.id, e.incident, e.type, e.at, e.data};
    std::vector<std::size_t> changes;
    bool retracted = false;
    for (std::size_t j = 0; j < log.size(); ++j)
      if (log[j].target == e.id && known(log[j])) {
        if (log[j].type == "retraction") retracted = true;
        else changes.push_back(j);
      }
    if (retracted) continue;
    std::ranges::sort(changes, [&](std::size_t a, std::size_t b) {
      return std::pair(*log[a].recorded_at, a) < std::pair(*log[b].recorded_at, b);
    });
    for (const std::size_t j : changes) {
      const event& c = log[j];
      // data.at and data.data, read back from the correction's payload.
      if (const auto p = c.data.find(R"("at":")"); p != std::string::npos)
        f.at = parse_timestamp(c.data.substr(p + 6, c.data.find('"', p + 6) - p - 6)).value().ms;
      if (const auto p = c.data.find(R"("data":)"); p != std::string::npos) f.data = c.data.substr(p + 7, c.data.size() - p - 8);
    }
    out.push_back(std::move(f));
  }
  std::ranges::sort(out);
  return out;
}

// The believed facts of `incidents` in a store (now, or as of `when`), from event_versions.
std::vector<fact> facts_of(const event_store& store, const std::vector<std::string>& incidents,
                           std::optional<std::int64_t> when) {
  const auto b = projection::believed("v", when.has_value());
  std::vector<value> params;
  for (int i = 0; i < b.as_of_params; ++i) params.emplace_back(timestamp{*when});
  std::string in;
  for (const auto& i : incidents) {
    in += in.empty() ? "?" : ", ?";
    params.emplace_back(i);
  }
  const std::vector<column> cols = {{"id"}, {"incident"}, {"type"}, {"at", value_type::integer}, {"data"}};
  auto rs = store.query(fmt::format("SELECT v.id, v.incident, v.type, v.at, v.data FROM {} v WHERE {} AND v.incident IN "
                                    "({}) AND v.type NOT IN ('correction', 'retraction')",
                                    projection::versions_table, b.sql, in),
                        params, cols);
  REQUIRE_MESSAGE(rs, (rs ? "" : rs.error().message));
  std::vector<fact> out;
  for (const auto& r : rs->rows)
    out.push_back({std::get<std::string>(r[0]), std::get<std::string>(r[1]), std::get<std::string>(r[2]),
                   std::get<std::int64_t>(r[3]), std::get<std::string>(r[4])});
  std::ranges::sort(out);
  return out;
}

// Appends `facts` to `store`, written right the first time, in the order in which `log` first
// holds them (events at the same moment are ordered by position), recorded whenever: only the
// store's present is asked. Each fact's incident and id get `prefix` in front.
void write_clean(event_store& store, std::vector<fact> facts, const std::vector<event>& log,
                 const std::string& prefix = "") {
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < log.size(); ++i) position.emplace(log[i].id, i);
  std::ranges::sort(facts, {}, [&](const fact& f) { return position.at(f.id); });
  std::vector<event> batch;
  for (const auto& f : facts) batch.push_back(make(prefix + f.id, prefix + f.incident, f.type, f.at, t0, f.data));
  auto r = store.append(batch);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
}

// The one duration cell of statement `text` (a `time from … to …` statement about `incident`)
// through the shell's path: parse, compile against the store's catalog (`incident` the current
// one, `as_of` the session's view), run.
std::optional<std::int64_t> duration_of(const event_store& store, std::string_view text, const std::string& incident,
                                        std::optional<std::int64_t> as_of = std::nullopt) {
  auto script = query::parse(text);
  REQUIRE_MESSAGE(script, (script ? "" : script.error().message));
  REQUIRE(script->statements.size() == 1);
  query::context ctx;
  ctx.current_incident = incident;
  ctx.as_of = as_of;
  auto act = query::compile(script->statements.front(), shell::catalog_of(store), ctx, text);
  REQUIRE_MESSAGE(act, (act ? "" : act.error().message));
  const auto* run = std::get_if<query::run_query>(&*act);
  REQUIRE(run);
  auto rs = store.query(run->query.sql, run->query.params, run->query.columns);
  REQUIRE_MESSAGE(rs, (rs ? "" : rs.error().message));
  REQUIRE(rs->rows.size() == 1);
  REQUIRE(rs->rows[0].size() == 1);
  const value& v = rs->rows[0][0];
  if (std::holds_alternative<null_value>(v)) return std::nullopt;
  REQUIRE(std::holds_alternative<duration>(v));
  return std::get<duration>(v).ms;
}

// The same question asked of every incident in a pipeline (`incidents | let d = time from … |
// …`): the span's `from` milestone is computed in a stage of its own, joined to the milestones
// read model when it is one of its keys, as of T too.
std::optional<std::int64_t> let_duration_of(const event_store& store, std::string_view question,
                                            const std::string& incident,
                                            std::optional<std::int64_t> as_of = std::nullopt) {
  return duration_of(store, fmt::format("incidents | where id = \"{}\" | let d = {} | select d", incident, question),
                       incident, as_of);
}

// The incidents relation's started, ended and status of `incidents` (now, or as of `when`),
// each row named by the incident without `prefix`.
std::vector<std::string> spans_of(const event_store& store, const std::vector<std::string>& incidents,
                                  std::optional<std::int64_t> when, const std::string& prefix = "") {
  std::string ids;
  for (const auto& i : incidents) ids += fmt::format("{}SELECT '{}{}' AS incident", ids.empty() ? "" : " UNION ALL ", prefix, i);
  const auto rel = projection::incidents_of(fmt::format("({})", ids), when.has_value());
  std::vector<value> params;
  for (int i = 0; i < rel.as_of_params; ++i) params.emplace_back(timestamp{*when});
  // Now, the stored read model; as of T, the relation computed then.
  const std::string sql = when ? fmt::format("SELECT id, started, ended, status FROM ({}) ORDER BY id", rel.sql)
                               : fmt::format("SELECT i.id, i.started, i.ended, i.status FROM {} i JOIN ({}) x ON "
                                             "x.incident = i.id ORDER BY i.id",
                                             projection::incidents_table, ids);
  const std::vector<column> cols = {{"id"}, {"started", value_type::integer}, {"ended", value_type::integer}, {"status"}};
  auto rs = store.query(sql, params, cols);
  REQUIRE_MESSAGE(rs, (rs ? "" : rs.error().message));
  std::vector<std::string> out;
  for (const auto& r : rs->rows) {
    if (std::holds_alternative<null_value>(r[1])) continue;  // no event believed then
    out.push_back(fmt::format("{} {} {} {}", std::get<std::string>(r[0]).substr(prefix.size()),
                              std::get<std::int64_t>(r[1]), std::get<std::int64_t>(r[2]),
                              std::holds_alternative<null_value>(r[3]) ? "-" : std::get<std::string>(r[3])));
  }
  return out;
}

constexpr std::string_view questions[] = {
    "time from first report to status resolved",
    "time from first alert to last status resolved",
    "time from start to end",
    "time from first status investigating to status resolved",
    "time from first metric fixed to last report",
    "time from start to first 99% fixed",
    "time from first comm on x to last alert",
    "time from first status identified to first report where value >= 500",
    // Every kind of key of the milestones read model, and "at or after" in each shape.
    "time from first status identified to first status resolved after first status monitoring",
    "time from first report to last alert after first status identified",
    "time from first comm on statuspage to status resolved",
    "time from first component \"API\" major_outage to component \"API\" operational",
    "time from first component \"api\" to last component",
    "time from first metric Fixed to end",
    "time from first metric affected to metric fixed",
    "time from first alert after first report to last status after first metric fixed",
    "time from status monitoring after status identified to comm after alert",
    "time from last report to alert",
};

// Far after every recorded time of the generated logs: `as of` it, every event is believed as
// now, and every incident was last recorded before it (the read models answer for it).
const std::int64_t far_future = parse_timestamp("2100-01-01T00:00:00Z").value().ms;

}  // namespace

TEST_SUITE("projection") {

TEST_CASE("property: a log fixed by corrections and retractions answers like the log written right") {
  constexpr int iterations = 200;
  // Every case in the same stores, each under its own incidents: the messy log; the true facts
  // written right; the messy log without its corrections and retractions (how wrong it was);
  // and, under prefixed names, what the rule says was believed at some moments.
  auto messy = memory_store(), clean = memory_store(), uncorrected = memory_store(), reference = memory_store();
  int corrections = 0, retractions = 0, wrong = 0, spurious = 0, out_of_order = 0, resent = 0;
  std::map<std::string_view, int> answered;  // non-null answers, by question
  int asked = 0, as_of_asked = 0, fixed_answers = 0, snapshots = 0;
  for (int it = 0; it < iterations; ++it) {
    CAPTURE(it);
    const std::vector<std::string> incidents = {fmt::format("p{}-a", it), fmt::format("p{}-b", it)};
    const scenario s = generate(static_cast<std::uint32_t>(it), incidents);
    corrections += s.corrections;
    retractions += s.retractions;
    wrong += s.wrong;
    spurious += s.spurious;
    out_of_order += s.out_of_order;

    // The generator's own check: by the rule, the messy log says the truth.
    std::vector<fact> truth = s.truth;
    std::ranges::sort(truth);
    REQUIRE(believed(s.log, std::nullopt) == truth);

    generator g(static_cast<std::uint32_t>(it) + 1'000'000);
    std::size_t from = 0;
    for (const std::size_t n : s.batches) {
      const std::span<const event> batch(s.log.data() + from, n);
      auto r = messy.append(batch);
      REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
      CHECK(r->appended == n);
      if (g.chance(0.15)) {  // the same batch sent again: nothing new, nothing refused
        auto again = messy.append(batch);
        REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
        CHECK(again->appended == 0);
        CHECK(again->existing == n);
        ++resent;
      }
      from += n;
    }
    write_clean(clean, truth, s.log);
    std::vector<fact> raw;
    for (const auto& e : s.log)
      if (!projection::is_audit_type(e.type)) raw.push_back({e.id, e.incident, e.type, e.at, e.data});
    write_clean(uncorrected, raw, s.log);

    CHECK(facts_of(messy, incidents, std::nullopt) == truth);
    CHECK(spans_of(messy, incidents, std::nullopt) == spans_of(clean, incidents, std::nullopt));
    for (const auto& incident : incidents)
      for (const auto q : questions) {
        CAPTURE(incident);
        CAPTURE(q);
        const auto want = duration_of(clean, q, incident);
        CHECK(duration_of(messy, q, incident) == want);
        CHECK(duration_of(messy, q, incident, far_future) == want);
        if (it % 4 == 0) {  // (compiling and preparing a pipeline costs more: every fourth case)
          CHECK(let_duration_of(messy, q, incident) == want);
          CHECK(let_duration_of(messy, q, incident, far_future) == want);
        }
        if (want) ++answered[q];
        if (duration_of(uncorrected, q, incident) != want) ++fixed_answers;
        ++asked;
      }

    // As of a moment (on a recorded time, or a millisecond either side): what had been
    // recorded by then, by the same rule.
    {
      const std::int64_t when = g.recorded() + g.uniform(-1, 1);
      CAPTURE(format_iso(timestamp{when}));
      const auto then = believed(s.log, when);
      CHECK(facts_of(messy, incidents, when) == then);
      if (then.empty()) continue;  // nothing believed yet
      const std::string prefix = fmt::format("r{}-", snapshots++);
      write_clean(reference, then, s.log, prefix);
      // Only incidents with a fact believed then: the others may have only a correction or a
      // retraction believed, which are no facts.
      std::vector<std::string> known;
      for (const auto& incident : incidents)
        if (std::ranges::any_of(then, [&](const fact& f) { return f.incident == incident; })) known.push_back(incident);
      CHECK(spans_of(messy, known, when) == spans_of(reference, known, std::nullopt, prefix));
      for (const auto& incident : known)
        for (const auto q : questions) {
          CAPTURE(incident);
          CAPTURE(q);
          const auto then_answer = duration_of(reference, q, prefix + incident);
          CHECK(duration_of(messy, q, incident, when) == then_answer);
          if (it % 4 == 0) CHECK(let_duration_of(messy, q, incident, when) == then_answer);
          ++as_of_asked;
        }
    }
  }
  MESSAGE(fmt::format("{} corrections ({} targets recorded out of log order), {} retractions, {} wrong facts, {} "
                      "spurious, {} batches re-sent; {} questions now ({} answered differently by the uncorrected log), "
                      "{} as of",
                      corrections, out_of_order, retractions, wrong, spurious, resent, asked, fixed_answers, as_of_asked));
  // The test exercises what it claims to.
  CHECK(corrections > 600);
  CHECK(out_of_order > 50);
  CHECK(retractions > 150);
  CHECK(resent > 50);
  CHECK(fixed_answers > asked / 6);
  for (const auto q : questions) {  // each question answered often enough to mean something
    CAPTURE(q);
    CHECK(answered[q] >= 10);
  }
  CHECK(as_of_asked > 1000);

  // The whole messy store, rebuilt from its log, holds the same read models byte for byte.
  const std::string versions = dump(messy, "event_versions", "seq, made_by");
  const std::string incidents_rows = dump(messy, "incidents", "id");
  const std::string milestones = dump(messy, "milestones", "incident, type, key");
  CHECK(std::ranges::count(milestones, '\n') > 4'000);
  REQUIRE(messy.rebuild());
  CHECK(dump(messy, "event_versions", "seq, made_by") == versions);
  CHECK(dump(messy, "incidents", "id") == incidents_rows);
  CHECK(dump(messy, "milestones", "incident, type, key") == milestones);
}

}  // TEST_SUITE
