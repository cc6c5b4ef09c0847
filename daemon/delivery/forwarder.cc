#include "delivery/forwarder.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"

namespace kamwatch::delivery {

OutboxForwarder::OutboxForwarder(state::StateStore& store, std::unique_ptr<Sink> sink,
                                 metrics::Metrics* metrics)
    : store_(store), sink_(std::move(sink)) {
  if (metrics) {
    const prometheus::Labels labels{{"sink", sink_->name()}};
    deliveries_ = &metrics->sink_deliveries.Add(labels);
    failures_ = &metrics->sink_failures.Add(labels);
    retries_ = &metrics->sink_retries.Add(labels);
  }
}

OutboxForwarder::~OutboxForwarder() { stop(0); }

void OutboxForwarder::start() {
  thread_ = std::thread([this] { run(); });
}

void OutboxForwarder::notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void OutboxForwarder::stop(TimeMs drain_ms) {
  if (!thread_.joinable()) return;
  drain_deadline_.store(SystemClock().now() + drain_ms);
  stopping_.store(true);
  notify();
  thread_.join();
}

long OutboxForwarder::forward_once() {
  const std::string& sink = sink_->name();
  auto records = store_.outbox_peek(sink, 1000);
  if (!records.ok()) {
    log::error("outbox read failed", {{"sink", sink}, {"error", records.error().message}});
    return -1;
  }
  if (records->empty()) return 0;
  const std::vector<bool> ok = sink_->deliver(*records);
  std::vector<std::uint64_t> done;
  for (std::size_t i = 0; i < ok.size() && i < records->size(); ++i)
    if (ok[i]) done.push_back((*records)[i].seq);
  if (!done.empty()) {
    if (auto r = store_.outbox_remove(sink, done); !r.ok()) {
      log::error("outbox remove failed", {{"sink", sink}, {"error", r.error().message}});
      return -1;
    }
    delivered_.fetch_add(done.size());
    if (deliveries_) deliveries_->Increment(static_cast<double>(done.size()));
  }
  if (done.size() < records->size()) return -1;
  return static_cast<long>(done.size());
}

void OutboxForwarder::run() {
  TimeMs backoff = 0;
  TimeMs next_tick = sink_->tick_interval() > 0 ? SystemClock().now() : 0;
  for (;;) {
    if (backoff > 0 && retries_) retries_->Increment();
    long n = forward_once();
    if (n > 0) {
      backoff = 0;
      continue;  // more may be waiting
    }
    if (n == 0 && next_tick > 0 && SystemClock().now() >= next_tick) {
      // The outbox is drained: the periodic work sees every transition delivered so far.
      if (sink_->tick(SystemClock().now())) {
        next_tick = SystemClock().now() + sink_->tick_interval();
      } else {
        n = -1;
      }
    }
    if (stopping_.load() && (n == 0 || SystemClock().now() >= drain_deadline_.load())) return;
    if (n < 0) {
      if (failures_) failures_->Increment();
      backoff = std::clamp<TimeMs>(backoff * 2, 500, 30000);
      log::warn("delivery failed; retrying", {{"sink", sink_->name()}, {"retry_in_ms", backoff}});
    } else {
      backoff = 0;
    }
    TimeMs wait = n < 0 ? backoff : 1000;
    if (n >= 0 && next_tick > 0)
      wait = std::clamp<TimeMs>(next_tick - SystemClock().now(), 1, wait);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait),
                 [this] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
}

}  // namespace kamwatch::delivery
