#pragma once
// `kamwatch run`: startup steps, the consume -> process -> commit loop, and orderly shutdown.
#include <atomic>
#include <functional>

#include "config/config.h"
#include "core/result.h"
#include "engine/alert.h"

namespace kamwatch::app {

struct DaemonHooks {
  // Called once the consumer is subscribed, state is open and the HTTP server listens (demo:
  // start producing). http_url: e.g. "http://127.0.0.1:9470".
  std::function<void(const std::string& bootstrap, const std::string& http_url)> on_ready;
  // Called after every committed batch with the number of events applied so far.
  std::function<void(std::uint64_t applied_total)> on_batch;
  // Called with the alert transitions of every committed batch or sweep.
  std::function<void(const std::vector<engine::AlertTransition>&)> on_transitions;
};

// Runs until stop becomes true. A batch in flight is either fully committed or not at all.
[[nodiscard]] Result<void> run_daemon(const config::Config& config, const std::atomic<bool>& stop,
                                      const DaemonHooks& hooks = {});

}  // namespace kamwatch::app
