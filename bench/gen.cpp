// pmdb-gen: a deterministic generator of realistic incident streams in pmdb's JSONL event
// format (schemas/README.md). The same seed and size give the same bytes on every run (the
// generator uses its own random number generator and distributions, not <random>'s, whose
// output differs between standard libraries).
//
// Usage: pmdb-gen [--seed N] [--incidents N] [--giants N] [--giant-events N] [--out FILE]
//
// What an incident looks like:
//   * one `incident` event (title, org, services, severity), sometimes a second one later
//     raising the severity;
//   * a `change` (the deploy that set it off) and `cause` events (trigger, root cause, sometimes
//     contributing causes), an `alert` or two;
//   * outside `report`s, most with a Downdetector-style `count` that rises and falls;
//   * status posts investigating → identified → monitoring → resolved (13% of incidents are
//     never resolved and stop earlier), with repeated updates and sometimes a `postmortem`;
//   * metrics `affected` (%, rising then falling) and `fixed` (%, rising to 100 when resolved),
//     and `error_rate`;
//   * `comm` posts on statuspage, x, email, blog, press and chat, `component` states going
//     down and back to operational, `note`s with tags, `action` items after resolution, and a
//     rare `correction` of a post's time.
// Durations are log-normal (heavy-tailed): time to resolve has a median of ~100 minutes and a
// tail of days. Events per incident are log-normal too, clamped to 10..500, plus `--giants`
// incidents of `--giant-events` (default 10,000+) events each. Organisations are chosen with a
// Zipf-like popularity. Incidents are written one after the other, in order of start time;
// each incident's events are in order of `at`. About 70% of events carry an explicit id, the
// rest get the store's derived id; about 60% carry `recorded_at`; 8% are `approx`.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace {

// ------------------------------------------------------------------ randomness

// splitmix64 seeds xoshiro256**; both are fully specified, so the stream is the same everywhere.
struct rng {
  std::uint64_t s[4];

  explicit rng(std::uint64_t seed) {
    for (auto& x : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      x = z ^ (z >> 31);
    }
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(double p) { return uniform() < p; }
  // Standard normal (Box-Muller; the second value is dropped to keep the stream simple).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  // Log-normal with the given median and shape sigma.
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(next() % v.size())];
  }
  template <class T, std::size_t N>
  const T& pick(const T (&a)[N]) {
    return a[next() % N];
  }
};

// ------------------------------------------------------------------ time

constexpr std::int64_t second = 1000, minute = 60 * second, hour = 60 * minute, day = 24 * hour;

// Days since 1970-01-01 → civil date (H. Hinnant's algorithm).
void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// ISO 8601 with seconds; `offset_min` != 0 writes the local time with its offset (the store
// normalises both forms to the same UTC instant).
void write_time(std::string& out, std::int64_t ms, int offset_min = 0) {
  const std::int64_t local = ms + offset_min * minute;
  const std::int64_t days = floor_div(local, day);
  const std::int64_t rem = local - days * day;
  int y;
  unsigned mo, d;
  civil_from_days(days, y, mo, d);
  const auto s = rem / second;
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, mo, d, s / 3600, s / 60 % 60, s % 60);
  if (offset_min == 0) {
    out += 'Z';
  } else {
    const int a = std::abs(offset_min);
    fmt::format_to(std::back_inserter(out), "{}{:02}:{:02}", offset_min < 0 ? '-' : '+', a / 60, a % 60);
  }
}

std::string date_slug(std::int64_t ms) {
  int y;
  unsigned mo, d;
  civil_from_days(floor_div(ms, day), y, mo, d);
  return fmt::format("{:04}-{:02}-{:02}", y, mo, d);
}

// ------------------------------------------------------------------ world

constexpr const char* syllables[] = {"ac", "al", "an", "ar", "bel", "bri", "cal", "cor", "da", "del", "dyn", "el",
                                     "en", "fa", "fin", "gal", "hal", "in", "io", "ka", "kor", "la", "lum", "ma",
                                     "mer", "nex", "no", "or", "pa", "pix", "qu", "ra", "ro", "sa", "sol", "ta",
                                     "ter", "tri", "ul", "va", "ver", "vo", "wa", "xe", "yo", "za", "zen", "zu"};
constexpr const char* org_suffixes[] = {"", "", "", " Cloud", " Labs", " Pay", " Systems", " Networks", " Games",
                                        " Health", " Bank", " Mobile", " AI", " Hosting", " Social"};
constexpr const char* service_names[] = {
    "API", "Dashboard", "Login", "Payments", "Search", "Storage", "CDN", "Email delivery", "Webhooks",
    "Mobile app", "Chat", "Video calls", "Billing", "DNS", "Database", "Message queue", "Auth", "Git",
    "CI runners", "Maps", "Notifications", "Checkout", "Feeds", "Uploads", "Streaming", "Analytics",
    "Support portal", "Marketplace", "Voice", "Identity", "Object storage", "Functions", "Registry", "Pages"};
constexpr const char* symptoms[] = {"elevated error rates", "increased latency", "failed logins", "timeouts",
                                    "degraded performance", "failed deployments", "missing notifications",
                                    "delayed processing", "500 errors", "intermittent connectivity issues"};
constexpr const char* triggers[] = {"a configuration change to the load balancers",
                                    "a database schema migration",
                                    "a certificate rotation",
                                    "a new release of the edge proxy",
                                    "a routine capacity change",
                                    "a feature flag enabled for all users",
                                    "a dependency upgrade in the request path",
                                    "a network maintenance at a cloud provider",
                                    "a traffic spike after a product launch",
                                    "an expired credential"};
constexpr const char* root_causes[] = {"a connection pool that was exhausted under load",
                                       "a retry storm that overloaded the control plane",
                                       "a cache stampede after a mass invalidation",
                                       "a bug in the rate limiter that rejected valid requests",
                                       "a full disk on the primary database",
                                       "a BGP route withdrawal",
                                       "a deadlock in the job scheduler",
                                       "an unbounded query that saturated the replicas",
                                       "a memory leak in the API gateway",
                                       "DNS records that were deleted by an automation"};
constexpr const char* contributing[] = {"alerting thresholds were too loose to catch the early signs",
                                        "the rollback procedure was slow and manual",
                                        "the staging environment did not reproduce production traffic",
                                        "a runbook was out of date",
                                        "the status page was updated late"};
constexpr const char* action_texts[] = {"Add a canary stage to the deployment pipeline",
                                        "Alert on connection pool saturation",
                                        "Automate the rollback of configuration changes",
                                        "Load-test the control plane at twice the peak",
                                        "Add circuit breakers to the client libraries",
                                        "Review and update the incident runbooks",
                                        "Rate-limit retries with jittered backoff",
                                        "Add disk usage forecasts to capacity planning"};
constexpr const char* action_kinds[] = {"prevention", "detection", "mitigation", "process"};
constexpr const char* note_tags[] = {"impact-start", "impact-peak", "mitigation", "recovery", "symptoms"};
constexpr const char* report_sources[] = {"Downdetector", "Downdetector", "Downdetector", "user reports", "press",
                                          "social media", "ThousandEyes", "IsDown"};
constexpr const char* comm_channels[] = {"statuspage", "x", "x", "x", "email", "blog", "press", "chat", "other"};
constexpr const char* langs[] = {"en", "en", "en", "en", "en", "de", "fr", "es", "pt-BR", "ja"};
constexpr const char* severities[] = {"minor", "minor", "minor", "minor", "minor", "major", "major", "major",
                                      "critical", "critical"};
constexpr int offsets_min[] = {-480, -420, -300, -240, 60, 120, 330, 540};  // for the few local-time stamps

struct org {
  std::string name, slug, domain;
  std::vector<std::string> services;
};

std::vector<org> make_orgs(rng& r, std::size_t n) {
  std::vector<org> out;
  std::set<std::string> used;
  while (out.size() < n) {
    std::string base;
    const int parts = static_cast<int>(r.between(2, 3));
    for (int i = 0; i < parts; ++i) base += r.pick(syllables);
    std::string slug = base;
    for (int k = 2; used.count(slug); ++k) slug = base + std::to_string(k);
    used.insert(slug);
    org o;
    o.slug = slug;
    o.name = slug;
    o.name[0] = static_cast<char>(o.name[0] - 'a' + 'A');
    o.name += r.pick(org_suffixes);
    o.domain = slug + (r.chance(0.7) ? ".com" : ".io");
    std::vector<std::string> all(std::begin(service_names), std::end(service_names));
    const auto k = static_cast<std::size_t>(r.between(3, 12));
    for (std::size_t i = 0; i < k; ++i) {
      const auto j = i + static_cast<std::size_t>(r.next() % (all.size() - i));
      std::swap(all[i], all[j]);
      o.services.push_back(all[i]);
    }
    out.push_back(std::move(o));
  }
  return out;
}

// ------------------------------------------------------------------ events

struct event {
  std::int64_t at = 0;
  int order = 0;        // tie-break: generation order
  std::string line;     // the whole JSON line, without '\n'
};

// Builds one incident's events; `writer` assembles each line.
class incident_builder {
 public:
  incident_builder(rng& r, const org& o, std::string slug, std::int64_t start)
      : r_(r), org_(o), slug_(std::move(slug)), start_(start) {}

  std::vector<event>& events() { return events_; }

  void build(std::size_t budget, bool giant) {
    const bool resolved = r_.chance(0.87);
    const double sev_roll = r_.uniform();
    std::string severity = r_.pick(severities);
    const double ttr_median = giant ? 12.0 * hour : 100.0 * minute;
    const auto ttr = std::clamp<std::int64_t>(static_cast<std::int64_t>(r_.lognormal(ttr_median, 1.1)), 10 * minute,
                                              30 * day);
    const std::int64_t t0 = start_;
    const std::int64_t t_end = t0 + ttr;
    const auto t_detect = t0 + std::max<std::int64_t>(30 * second, static_cast<std::int64_t>(r_.lognormal(4.0 * minute, 0.8)));
    const auto t_invest = t_detect + static_cast<std::int64_t>(r_.lognormal(6.0 * minute, 0.9));
    const std::int64_t t_last = std::max(t_end, t_invest + 5 * minute);
    const auto span = t_last - t_invest;
    const auto t_ident = t_invest + static_cast<std::int64_t>(span * r_.uniform(0.1, 0.5));
    const auto t_monit = t_ident + static_cast<std::int64_t>((t_last - t_ident) * r_.uniform(0.5, 0.9));
    const auto t_resolve = t_last;
    // How far an unresolved incident got: 0 investigating, 1 identified, 2 monitoring.
    const int reached = resolved ? 3 : static_cast<int>(r_.between(0, 2));
    const std::int64_t horizon = resolved ? t_resolve : (reached == 0 ? t_ident : reached == 1 ? t_monit : t_last);
    const auto services = pick_services();
    const std::string& main_service = services.front();
    const std::string symptom = r_.pick(symptoms);
    const auto ppm = [&](std::int64_t t) { return t_resolve + static_cast<std::int64_t>(r_.lognormal(3.0 * day, 0.6)) + (t - t0) / 100; };
    const std::string sp_source = "status." + org_.domain;

    // What the incident is.
    {
      std::string title = fmt::format("{} for {}", cap(symptom), fmt::join(services, ", "));
      std::string d = fmt::format(R"({{"title":"{}","org":"{}","services":[)", title, org_.name);
      for (std::size_t i = 0; i < services.size(); ++i) fmt::format_to(std::back_inserter(d), "{}\"{}\"", i ? "," : "", services[i]);
      fmt::format_to(std::back_inserter(d), R"(],"severity":"{}")", severity);
      if (r_.chance(0.5))
        fmt::format_to(std::back_inserter(d), R"(,"summary":"{} on {} after {}.")", cap(symptom), main_service, r_.pick(triggers));
      if (r_.chance(0.6)) fmt::format_to(std::back_inserter(d), R"(,"url":"https://{}/incidents/{}")", sp_source, slug_);
      d += '}';
      add("incident", t_invest, sp_source, d, "incident", true, t_invest);
      if (sev_roll < 0.08 && severity != "critical") {
        std::string d2 = d;
        const auto p = d2.find("\"severity\":\"");
        d2.replace(p, d2.find('"', p + 12) - p, "\"severity\":\"critical");
        add("incident", t_ident, sp_source, d2, "incident-escalated", true, t_ident);
      }
    }
    // What set it off.
    const auto t_change = t0 - static_cast<std::int64_t>(r_.lognormal(20.0 * minute, 1.0));
    const std::string trigger = r_.pick(triggers);
    add("change", t_change, "deploy log", text_data(fmt::format("Change rolled out: {}", trigger)), "change-trigger",
        true, ppm(t_change));
    add("cause", t_change, "postmortem", fmt::format(R"({{"text":"{}","kind":"trigger"}})", cap(trigger)), "cause-trigger",
        true, ppm(t_change));
    if (resolved || r_.chance(0.3)) {
      add("cause", t0, "postmortem", fmt::format(R"({{"text":"{}","kind":"root_cause"}})", cap(r_.pick(root_causes))),
          "cause-root", true, ppm(t0));
      const auto nc = r_.between(0, 2);
      for (std::int64_t i = 0; i < nc; ++i)
        add("cause", t0 + i * minute, "postmortem",
            fmt::format(R"({{"text":"{}","kind":"contributing"}})", cap(r_.pick(contributing))), "cause-contributing",
            true, ppm(t0));
    }
    // Detection.
    const auto n_alerts = r_.between(1, 2);
    for (std::int64_t i = 0; i < n_alerts; ++i) {
      const auto t = t0 + static_cast<std::int64_t>(r_.lognormal(3.0 * minute, 0.9));
      add("alert", t, "monitoring", text_data(fmt::format("{} alert fired for {}; on-call paged", cap(symptom), main_service)),
          "alert", true, t + minute);
    }
    add("report", t_detect, r_.pick(report_sources),
        fmt::format(R"({{"count":{},"text":"First reports of {} on {}"}})", r_.between(5, 60), symptom, main_service),
        "report-first", true, t_detect);
    add("note", t0, "postmortem", fmt::format(R"({{"text":"Impact starts: {} on {}.","tags":["impact-start"]}})", symptom, main_service),
        "note-impact-start", true, ppm(t0));

    // Status posts.
    const std::string post_text[] = {
        fmt::format("We are investigating reports of {} affecting {}.", symptom, main_service),
        fmt::format("The issue has been identified and a fix is being implemented."),
        fmt::format("A fix has been implemented and we are monitoring the results."),
        fmt::format("This incident has been resolved.")};
    const char* statuses[] = {"investigating", "identified", "monitoring", "resolved"};
    const std::int64_t status_at[] = {t_invest, t_ident, t_monit, t_resolve};
    for (int i = 0; i <= std::min(reached, 3); ++i) {
      if (i == 3 && !resolved) break;
      add("status", status_at[i], sp_source, fmt::format(R"({{"status":"{}","text":"{}"}})", statuses[i], post_text[i]),
          fmt::format("status-{}", statuses[i]), true, status_at[i]);
      if (r_.chance(0.5))
        add("comm", status_at[i] + r_.between(0, 5) * minute, "x.com",
            fmt::format(R"({{"channel":"x","author":"{}Status","lang":"en","text":"{}"}})", org_.name.substr(0, org_.name.find(' ')), post_text[i]),
            "comm-x", true, status_at[i]);
    }
    if (resolved && r_.chance(0.25)) {
      const auto t = ppm(t_resolve);
      add("status", t, sp_source, R"({"status":"postmortem","text":"We have published a postmortem of this incident."})",
          "status-postmortem", true, t);
    }

    // Component states: down during the impact, back to operational at resolution.
    const auto n_comp = std::min<std::size_t>(services.size(), static_cast<std::size_t>(r_.between(1, 3)));
    for (std::size_t c = 0; c < n_comp; ++c) {
      const char* first = r_.chance(0.4) ? "major_outage" : r_.chance(0.5) ? "partial_outage" : "degraded_performance";
      add("component", t_invest, sp_source, component_data(services[c], first, "Status set with the first post"),
          "component", true, t_invest);
      if (reached >= 1)
        add("component", t_monit, sp_source, component_data(services[c], "degraded_performance", "Recovering"),
            "component", true, t_monit);
      if (resolved)
        add("component", t_resolve, sp_source, component_data(services[c], "operational", "Fully recovered"),
            "component", true, t_resolve);
    }

    // `fixed`: rises from identified to resolved; unresolved incidents may stop short of 99%.
    if (reached >= 1 && r_.chance(0.8)) {
      static constexpr double steps[] = {10, 25, 40, 50, 60, 75, 80, 90, 95, 97, 99, 99.5, 99.9, 100};
      const double cap_value = resolved ? 100.0 : r_.pick(steps);
      const auto from = t_ident, to = resolved ? t_resolve : horizon;
      std::vector<double> vals;
      for (double v : steps)
        if (v <= cap_value && r_.chance(0.45)) vals.push_back(v);
      if (resolved && (vals.empty() || vals.back() < 99)) vals.push_back(r_.chance(0.5) ? 99 : 100);
      for (std::size_t i = 0; i < vals.size(); ++i) {
        const auto t = from + static_cast<std::int64_t>((to - from) * (static_cast<double>(i + 1) / static_cast<double>(vals.size() + 1)));
        const auto src = r_.chance(0.7) ? sp_source : std::string("press");
        add("metric", t, src, fmt::format(R"({{"name":"fixed","value":{},"unit":"%","text":"{}% of affected users have recovered"}})", vals[i], vals[i]),
            "metric-fixed", true, t);
      }
    }

    const auto fixed_count = events_.size();
    std::size_t remaining = budget > fixed_count ? budget - fixed_count : 0;

    // Actions, after the fact.
    if (resolved) {
      const auto na = std::min<std::size_t>(remaining / 4, static_cast<std::size_t>(r_.between(0, 5)));
      for (std::size_t i = 0; i < na; ++i) {
        const auto t = ppm(t_resolve);
        add("action", t, "postmortem",
            fmt::format(R"({{"text":"{}","owner":"{} SRE","kind":"{}","tracker":"{}-{}"}})", r_.pick(action_texts),
                        org_.name.substr(0, org_.name.find(' ')), r_.pick(action_kinds), "INC", r_.between(1000, 99999)),
            "action", true, t);
      }
      remaining -= na;
    }

    // The rest: the bulk of an incident's stream, spread over its life.
    const double peak_at = 0.3;
    const double peak_reports = r_.lognormal(giant ? 40000 : 800, 1.2);
    const double peak_affected = std::clamp(r_.lognormal(15, 1.0), 0.5, 100.0);
    std::vector<std::string> comm_ids;
    for (std::size_t i = 0; i < remaining; ++i) {
      const double u = r_.uniform();
      const double frac = std::pow(r_.uniform(), 1.6);  // denser early, as reports are
      const std::int64_t t = t_detect + static_cast<std::int64_t>(static_cast<double>(horizon - t_detect) * frac);
      const double shape = std::exp(-std::pow((frac - peak_at) / 0.25, 2));
      if (u < 0.42) {
        const auto count = static_cast<std::int64_t>(peak_reports * shape * r_.uniform(0.8, 1.2)) + r_.between(0, 20);
        add("report", t, r_.pick(report_sources),
            fmt::format(R"({{"count":{},"text":"{} reports of {}, sample {}"}})", count, count, symptom, i), "report",
            false, t + 2 * minute);
      } else if (u < 0.62) {
        const char* ch = r_.pick(comm_channels);
        const bool with_id = r_.chance(0.7);
        const std::string id = add("comm", t, std::string(ch) == "statuspage" ? sp_source : std::string(ch) + " post",
            fmt::format(R"({{"channel":"{}","author":"{}","lang":"{}","text":"Update {} on {}: teams are working on {}."}})", ch,
                        org_.name, r_.pick(langs), i, main_service, symptom),
            "comm", with_id, t);
        if (with_id) comm_ids.push_back(id);
      } else if (u < 0.74) {
        const double v = std::round(peak_affected * (0.2 + 0.8 * shape) * 10) / 10;
        add("metric", t, sp_source,
            fmt::format(R"({{"name":"affected","value":{},"unit":"%","text":"About {}% of requests affected, sample {}"}})", v, v, i),
            "metric-affected", r_.chance(0.7), t);
      } else if (u < 0.80) {
        const double v = std::round(r_.lognormal(2.0, 0.8) * 100 * shape) / 100;
        add("metric", t, "monitoring", fmt::format(R"({{"name":"error_rate","value":{},"unit":"%","text":"Error rate, sample {}"}})", v, i),
            "metric-error-rate", r_.chance(0.7), t);
      } else if (u < 0.88) {
        add("component", t, sp_source,
            component_data(r_.pick(services), shape > 0.5 ? "major_outage" : "partial_outage", fmt::format("State update {}", i)),
            "component", r_.chance(0.7), t);
      } else if (u < 0.96) {
        add("note", t, r_.chance(0.5) ? "postmortem" : "analyst",
            fmt::format(R"({{"text":"Observation {}: {} seen in {}.","tags":["{}"]}})", i, symptom, main_service, r_.pick(note_tags)),
            "note", r_.chance(0.7), ppm(t));
      } else {
        // A repeated status post ("Update") keeps the current status.
        const char* st = t < t_ident ? "investigating" : t < t_monit ? "identified" : "monitoring";
        add("status", t, sp_source, fmt::format(R"({{"status":"{}","text":"Update {}: we continue to work on {}."}})", st, i, symptom),
            "status-update", true, t);
      }
    }
    // A rare correction: a post's time was wrong.
    if (!comm_ids.empty() && r_.chance(0.02)) {
      const auto t = t_last + day;
      add("correction", t, "analyst",
          fmt::format(R"({{"target":"{}","reason":"the post's own timestamp is known","at":"{}"}})", r_.pick(comm_ids),
                      iso(t_last - minute)),
          "correction", true, t);
    }
  }

 private:
  rng& r_;
  const org& org_;
  std::string slug_;
  std::int64_t start_;
  std::vector<event> events_;
  int seq_ = 0;

  static std::string cap(std::string s) {
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
  }
  static std::string iso(std::int64_t ms) {
    std::string s;
    write_time(s, ms);
    return s;
  }
  static std::string text_data(const std::string& text) { return fmt::format(R"({{"text":"{}"}})", text); }
  static std::string component_data(const std::string& c, const char* state, const std::string& text) {
    return fmt::format(R"({{"component":"{}","state":"{}","text":"{}"}})", c, state, text);
  }

  std::vector<std::string> pick_services() {
    std::vector<std::string> s = org_.services;
    const auto k = static_cast<std::size_t>(r_.between(1, std::min<std::int64_t>(4, static_cast<std::int64_t>(s.size()))));
    for (std::size_t i = 0; i < k; ++i) std::swap(s[i], s[i + static_cast<std::size_t>(r_.next() % (s.size() - i))]);
    s.resize(k);
    return s;
  }

  // Appends one event; returns its id ("" when it is left to the store to derive).
  std::string add(std::string_view type, std::int64_t at, const std::string& source, const std::string& data,
                  std::string_view id_stem, bool with_id, std::int64_t recorded) {
    event e;
    e.at = at;
    e.order = seq_++;
    std::string& l = e.line;
    l.reserve(160 + data.size());
    std::string id;
    if (with_id) {
      id = fmt::format("{}/{}-{}", slug_, id_stem, e.order);
      l += R"({"id":")";
      l += id;
      l += R"(",)";
    } else {
      l += '{';
    }
    l += R"("incident":")";
    l += slug_;
    l += R"(","type":")";
    l += type;
    l += R"(","at":")";
    const double roll = r_.uniform();
    write_time(l, at, roll < 0.05 ? r_.pick(offsets_min) : 0);
    l += '"';
    if (roll > 0.40) {
      l += R"(,"recorded_at":")";
      write_time(l, std::max(recorded, at));
      l += '"';
    }
    l += R"(,"source":")";
    l += source;
    l += '"';
    if (r_.chance(0.08)) l += R"(,"approx":true)";
    l += R"(,"data":)";
    l += data;
    l += '}';
    events_.push_back(std::move(e));
    return id;
  }
};

struct options {
  std::uint64_t seed = 1;
  std::size_t incidents = 1000;
  std::size_t giants = 1;
  std::size_t giant_events = 10'000;
  std::string out;
};

int usage() {
  std::fputs(
      "usage: pmdb-gen [--seed N] [--incidents N] [--giants N] [--giant-events N] [--out FILE]\n"
      "Writes a deterministic stream of incidents as pmdb JSONL (stdout unless --out).\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "-h" || a == "--help") return usage(), 0;
    if (a != "--seed" && a != "--incidents" && a != "--giants" && a != "--giant-events" && a != "--out") return usage();
    if (!(v = next())) return usage();
    if (a == "--out") opt.out = v;
    else {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v, &end, 10);
      if (!end || *end) return usage();
      if (a == "--seed") opt.seed = n;
      else if (a == "--incidents") opt.incidents = n;
      else if (a == "--giants") opt.giants = n;
      else opt.giant_events = n;
    }
  }
  if (opt.giants > opt.incidents) opt.giants = opt.incidents;

  FILE* out = opt.out.empty() ? stdout : std::fopen(opt.out.c_str(), "wb");
  if (!out) {
    std::perror(opt.out.c_str());
    return 1;
  }
  static char buf[1 << 20];
  std::setvbuf(out, buf, _IOFBF, sizeof buf);

  rng world(opt.seed);
  const std::size_t n_orgs = std::clamp<std::size_t>(opt.incidents / 100, 20, 1000);
  const auto orgs = make_orgs(world, n_orgs);
  // Zipf-like popularity: org i has weight 1/(i+1)^0.8.
  std::vector<double> cdf(n_orgs);
  double total = 0;
  for (std::size_t i = 0; i < n_orgs; ++i) cdf[i] = total += 1.0 / std::pow(static_cast<double>(i + 1), 0.8);

  // Start times, uniform over 2019-01-01 .. 2025-07-01, then sorted: the file is chronological.
  const std::int64_t t_from = 1546300800000, t_to = 1751328000000;
  struct plan {
    std::int64_t start;
    std::uint32_t org;
    bool giant;
  };
  std::vector<plan> plans(opt.incidents);
  for (auto& p : plans) {
    p.start = world.between(t_from, t_to) / minute * minute;
    const double u = world.uniform() * total;
    p.org = static_cast<std::uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    if (p.org >= n_orgs) p.org = static_cast<std::uint32_t>(n_orgs - 1);
    p.giant = false;
  }
  // The giants are spread evenly through the list.
  for (std::size_t g = 0; g < opt.giants; ++g) plans[(g * 2 + 1) * opt.incidents / (2 * opt.giants)].giant = true;
  std::stable_sort(plans.begin(), plans.end(), [](const plan& a, const plan& b) { return a.start < b.start; });

  std::size_t total_events = 0;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const plan& p = plans[i];
    // Each incident has its own stream, so that a change to one incident's shape does not
    // change every later incident.
    rng r(opt.seed * 0x100000001b3ULL + i * 0x9e3779b97f4a7c15ULL + 1);
    const org& o = orgs[p.org];
    std::string slug = fmt::format("{}-{}-{}", o.slug, date_slug(p.start), i + 1);
    const std::size_t budget =
        p.giant ? opt.giant_events + static_cast<std::size_t>(r.between(0, static_cast<std::int64_t>(opt.giant_events / 2)))
                : static_cast<std::size_t>(std::clamp(std::llround(r.lognormal(31, 0.9)), 10LL, 500LL));
    incident_builder b(r, o, std::move(slug), p.start);
    b.build(budget, p.giant);
    auto& evs = b.events();
    std::stable_sort(evs.begin(), evs.end(), [](const event& x, const event& y) { return x.at < y.at; });
    for (const auto& e : evs) {
      std::fwrite(e.line.data(), 1, e.line.size(), out);
      std::fputc('\n', out);
    }
    total_events += evs.size();
  }
  if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) {
    std::perror("write");
    return 1;
  }
  std::fprintf(stderr, "pmdb-gen: %zu incidents, %zu events, %zu organisations\n", plans.size(), total_events, n_orgs);
  return 0;
}
