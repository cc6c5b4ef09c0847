#pragma once
// In-memory engine over a stream of events with a simulated clock: applies events to account
// state, evaluates the rules on every event (rules reading its type) and on timer ticks (all
// rules, all accounts), and reports alert transitions in order. `kamwatch replay` and
// `kamwatch rules test` run on it; the live pipeline uses the same evaluate_account().
// The clock is event time: it advances to each event's time, never backwards.
// Thread-safety: one thread.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/alert.h"
#include "model/account_state.h"
#include "rules/rules.h"

namespace kamwatch::engine {

struct ReplayOptions {
  model::Retention retention;
  TimeMs late_grace = 7 * kDayMs;
  TimeMs tick = kDayMs;  // timer evaluations at every multiple of this in event time
};

// Portfolio-wide figures per account, recomputed on ticks (key accounts, CLV, ...).
using AttributesFn = std::function<std::map<std::string, rules::AccountAttributes>(
    const std::map<std::string, model::AccountState>&, TimeMs now)>;

class Replayer {
 public:
  Replayer(std::shared_ptr<const rules::RuleSet> rules, ReplayOptions options,
           AttributesFn attributes = {});

  enum class Outcome { kApplied, kDuplicate, kLate };
  // Feeds one valid event; transitions caused by it (and by ticks it moved the clock past)
  // are appended to out.
  Outcome feed(const model::Event& event, std::vector<AlertTransition>& out);
  // Moves the clock to t (if later), evaluating every account at each tick passed.
  void advance_to(TimeMs t, std::vector<AlertTransition>& out);
  // Evaluates every account now (as a tick does).
  void evaluate_all(std::vector<AlertTransition>& out);

  [[nodiscard]] TimeMs now() const { return now_; }
  [[nodiscard]] const std::map<std::string, model::AccountState>& accounts() const {
    return accounts_;
  }
  [[nodiscard]] std::size_t evaluations() const { return evaluations_; }

 private:
  const rules::AccountAttributes& attributes_of(const std::string& account) const;

  std::shared_ptr<const rules::RuleSet> rules_;
  ReplayOptions options_;
  AttributesFn attributes_fn_;
  std::map<std::string, rules::AccountAttributes> attributes_;
  std::map<std::string, model::AccountState> accounts_;
  std::vector<model::DerivedTarget> targets_;  // of the event being fed (reused)
  TimeMs now_ = 0;
  bool started_ = false;
  std::size_t evaluations_ = 0;
};

}  // namespace kamwatch::engine
