#pragma once
// Helpers shared by the micro-benchmarks (rules_bench.cc, micro_bench.cc): realistic events from
// the simulator, decoded and applied the way the pipeline does it, and the shipped rule packs.
// Thread-safety: none needed (benchmarks run on one thread).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/account_state.h"
#include "model/event.h"
#include "rules/rules.h"
#include "sim/simulator.h"

namespace kamwatch::bench {

// The shipped rule packs (rules/ in the source tree), loaded once.
[[nodiscard]] std::shared_ptr<const rules::RuleSet> shipped_rules();

// Runs the simulator and hands every event to fn decoded from its structured JSON (the events
// are valid: a rejection aborts the benchmark), in event-time order. fn also gets the JSON.
void simulate_decoded(const sim::SimOptions& options,
                      const std::function<void(const sim::SimEvent&, const model::Event&)>& fn);

// The pipeline's state update for one event (app/pipeline.cc): the derived series of the rule
// set's specs that the event feeds, then model::apply. targets is scratch (reuse it).
void apply_event(model::AccountState& state, const model::Event& event, const rules::RuleSet& rs,
                 std::vector<model::DerivedTarget>& targets,
                 const model::Retention& retention = {});

// A directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kamwatch::bench
