#pragma once
// The HTTP endpoints of `kamwatch run` (docs/api.md): /metrics, /healthz, /readyz, the JSON
// API under /api/v1 and POST /-/reload. Handlers read the registries, the store (read
// concurrently with the pipeline's writes) and the rules in force; reload requests are carried
// out by the pipeline thread, which owns the rules.
// Thread-safety: the router's handlers run on HTTP threads; everything they read is
// thread-safe (see registries.h, ReloadChannel, RuleStatus).
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "app/registries.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "rules/rules.h"
#include "state/state_store.h"

namespace kamwatch::app {

// The rules in force and how the last load went.
class RuleStatus {
 public:
  struct View {
    std::shared_ptr<const rules::RuleSet> rules;  // null: running without rules
    std::string dir;
    bool last_ok = true;
    TimeMs last_attempt = 0;
    TimeMs last_success = 0;
    std::string last_error;
  };
  void loaded(std::shared_ptr<const rules::RuleSet> rules, std::string dir, TimeMs now);
  void failed(std::string error, TimeMs now);
  [[nodiscard]] View get() const;

 private:
  mutable std::mutex mu_;
  View view_;
};

// POST /-/reload hands the reload to the pipeline thread and waits for its outcome.
class ReloadChannel {
 public:
  struct Outcome {
    bool ok = false;
    std::string message;  // the rule-set hash, or the error
  };
  // HTTP thread: asks for a reload and waits up to timeout; nullopt on timeout.
  [[nodiscard]] std::optional<Outcome> request_and_wait(TimeMs timeout);
  // Pipeline thread: true when a reload was requested since the last complete().
  [[nodiscard]] bool pending() const;
  void complete(Outcome outcome);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t requested_ = 0;
  std::uint64_t completed_ = 0;
  Outcome last_;
};

struct Readiness {
  bool ready = false;
  std::string reason;   // why not ready: "starting", "catching_up", "state_write_failed"
  TimeMs loop_age = 0;  // ms since the pipeline loop last turned (liveness)
};

struct ApiContext {
  state::StateStore* store = nullptr;
  const ActiveAlerts* alerts = nullptr;
  const AccountDirectory* directory = nullptr;
  const RuleStatus* rules = nullptr;
  ReloadChannel* reload = nullptr;
  metrics::Metrics* metrics = nullptr;
  std::function<Readiness()> readiness;
  // Portfolio attributes of an account (key account, CLV, ...).
  std::function<rules::AccountAttributes(const std::string&)> attributes;
  model::Retention retention;
  std::function<TimeMs()> now;
  TimeMs liveness_limit = 60000;  // /healthz fails when the loop has not turned for this long
};

[[nodiscard]] http::Router make_api_router(ApiContext context);

}  // namespace kamwatch::app
