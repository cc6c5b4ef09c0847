#pragma once
// Delivers one outbox sink's records at least once, oldest first, and removes them from the
// store once the sink acknowledged them. Runs on its own thread; a failing sink is retried with
// exponential backoff (0.5 s .. 30 s) and holds back nothing but its own records. Between
// rounds it runs the sink's periodic tick (Alertmanager re-sends).
// Thread-safety: start/stop/notify from the owning thread; the worker owns the sink.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "delivery/sink.h"
#include "metrics/metrics.h"
#include "state/state_store.h"

namespace kamwatch::delivery {

class OutboxForwarder {
 public:
  // metrics may be null (tools, tests).
  OutboxForwarder(state::StateStore& store, std::unique_ptr<Sink> sink,
                  metrics::Metrics* metrics = nullptr);
  ~OutboxForwarder();

  void start();
  // Wakes the worker: new records were committed.
  void notify();
  // Stops after trying to drain for at most drain_ms.
  void stop(TimeMs drain_ms = 5000);
  [[nodiscard]] std::uint64_t delivered() const { return delivered_.load(); }
  [[nodiscard]] const std::string& sink_name() const { return sink_->name(); }

 private:
  void run();
  // One round: returns records delivered, or -1 on failure.
  long forward_once();

  state::StateStore& store_;
  std::unique_ptr<Sink> sink_;
  metrics::Counter* deliveries_ = nullptr;
  metrics::Counter* failures_ = nullptr;
  metrics::Counter* retries_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<TimeMs> drain_deadline_{0};
  std::atomic<std::uint64_t> delivered_{0};
};

}  // namespace kamwatch::delivery
