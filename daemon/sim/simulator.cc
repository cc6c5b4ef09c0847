#include "sim/simulator.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/json_writer.h"
#include "sim/account_sim.h"
#include "sim/calendar.h"
#include "sim/event_queue.h"
#include "sim/event_writer.h"
#include "sim/portfolio.h"

namespace kamwatch::sim {
namespace {

// 2026-06-30T00:00:00Z: the default end, fixed so output never depends on the wall clock.
constexpr TimeMs kDefaultEnd = 20634 * kDayMs;

void time_or_null(JsonWriter& w, std::string_view key, TimeMs t) {
  w.key(key);
  if (t == 0) {
    w.null();
  } else {
    w.value(format_rfc3339(t));
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr && f != stdout) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Result<File> open_output(const std::string& path) {
  if (path == "-") return File(stdout);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Error{"io_error", "cannot write " + path + ": " + std::strerror(errno)};
  return File(f);
}

Result<void> close_output(File f, const std::string& path) {
  std::FILE* raw = f.release();
  const bool failed = std::ferror(raw) != 0;
  const int rc = raw == stdout ? std::fflush(raw) : std::fclose(raw);
  if (failed || rc != 0)
    return Error{"io_error", "error writing " + path + ": " + std::strerror(errno)};
  return ok();
}

}  // namespace

Result<void> validate(const SimOptions& o) {
  auto bad = [](std::string m) { return Error{"invalid_option", std::move(m)}; };
  if (o.accounts < 1 || o.accounts > 100000) return bad("accounts must be 1..100000");
  if (o.days < 1 || o.days > 3650) return bad("days must be 1..3650");
  for (const double f :
       {o.churn_fraction, o.competitor_fraction, o.growth_fraction, o.new_logo_fraction})
    if (!(f >= 0 && f <= 1)) return bad("fractions must be between 0 and 1");
  if (o.churn_fraction + o.competitor_fraction + o.growth_fraction > 1 + 1e-9)
    return bad("churn, competitor and growth fractions must add up to at most 1");
  if (!(o.noise >= 0 && o.noise <= 10)) return bad("noise must be 0..10");
  if (o.account_prefix.empty() || o.account_prefix.size() > 32)
    return bad("account prefix must be 1..32 characters");
  if (o.end < 0) return bad("end must not be before 1970");
  return ok();
}

TimeMs history_end(const SimOptions& o) { return o.end != 0 ? o.end : kDefaultEnd; }

std::string GroundTruth::to_json() const {
  JsonWriter w;
  w.begin_object().field("account", account).field("scenario", scenario).field("signal", signal);
  time_or_null(w, "onset", onset);
  time_or_null(w, "outcome_time", outcome_time);
  w.key("outcome");
  outcome.empty() ? w.null() : w.value(outcome);
  w.key("category");
  category.empty() ? w.null() : w.value(category);
  w.key("competitor");
  competitor.empty() ? w.null() : w.value(competitor);
  w.key("symptoms").begin_array();
  for (const std::string& s : symptoms) w.value(s);
  w.end_array();
  time_or_null(w, "last_activity", last_activity);
  w.field("tier", tier).field("kam", kam).field("annual_value", std::round(annual_value));
  w.field("new_logo", new_logo);
  w.key("noise").begin_array();
  for (const NoiseEpisode& e : noise) {
    w.begin_object()
        .field("kind", e.kind)
        .field("start", date_string(e.start))
        .field("days", e.days)
        .end_object();
  }
  w.end_array().end_object();
  return w.take();
}

SimStats simulate(const SimOptions& o, const std::function<void(const SimEvent&)>& sink,
                  std::vector<GroundTruth>* truth) {
  SimStats stats;
  stats.end = history_end(o);
  stats.start = floor_to(stats.end, kDayMs) - static_cast<TimeMs>(o.days) * kDayMs;
  stats.accounts = o.accounts;

  std::vector<AccountSim> accounts;
  accounts.reserve(static_cast<std::size_t>(o.accounts));
  for (AccountPlan& plan : plan_portfolio(o, stats.start, stats.end))
    accounts.emplace_back(std::move(plan), o.noise, o.seed);

  EventWriter writer(o.seed);
  EventQueue queue(stats.end);
  SimEvent event;
  for (TimeMs day = stats.start; day < stats.end; day += kDayMs) {
    const DayInfo info = day_info(day);
    queue.begin_day(day);
    for (AccountSim& a : accounts) a.run_day(info, writer, queue);
    for (QueuedEvent& e : queue.finish_day()) {
      event.time = e.time;
      event.account = accounts[e.account].plan().id;
      event.json = std::move(e.json);
      ++stats.events;
      stats.bytes += event.json.size();
      sink(event);
    }
  }
  if (truth != nullptr) {
    truth->clear();
    truth->reserve(accounts.size());
    for (const AccountSim& a : accounts) truth->push_back(a.truth());
  }
  return stats;
}

Result<SimStats> write_jsonl(const std::string& path, const SimOptions& options,
                             const std::string& truth_path) {
  if (auto v = validate(options); !v) return v.error();
  auto out = open_output(path);
  if (!out) return out.error();
  std::FILE* f = out->get();
  std::vector<char> buffer(1 << 20);  // outlives the file: it is closed below
  if (f != stdout) std::setvbuf(f, buffer.data(), _IOFBF, buffer.size());
  std::vector<GroundTruth> truth;
  const SimStats stats = simulate(
      options,
      [f](const SimEvent& e) {
        std::fwrite(e.json.data(), 1, e.json.size(), f);
        std::fputc('\n', f);
      },
      truth_path.empty() ? nullptr : &truth);
  if (auto c = close_output(std::move(*out), path); !c) return c.error();

  if (!truth_path.empty()) {
    auto tout = open_output(truth_path);
    if (!tout) return tout.error();
    for (const GroundTruth& t : truth) {
      const std::string line = t.to_json();
      std::fwrite(line.data(), 1, line.size(), tout->get());
      std::fputc('\n', tout->get());
    }
    if (auto c = close_output(std::move(*tout), truth_path); !c) return c.error();
  }
  return stats;
}

}  // namespace kamwatch::sim
