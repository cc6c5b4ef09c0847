#include "app/outbox_forwarder.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"

namespace kamwatch::app {

OutboxForwarder::OutboxForwarder(state::StateStore& store,
                                 std::unique_ptr<ingest::KafkaProducer> producer, std::string sink,
                                 std::string topic)
    : store_(store),
      producer_(std::move(producer)),
      sink_(std::move(sink)),
      topic_(std::move(topic)) {}

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
  auto records = store_.outbox_peek(sink_, 1000);
  if (!records.ok()) {
    log::error("outbox read failed", {{"sink", sink_}, {"error", records.error().message}});
    return -1;
  }
  if (records->empty()) return 0;
  std::vector<ingest::ProduceRecord> out;
  out.reserve(records->size());
  for (auto& r : *records) out.push_back({topic_, r.key, r.value, r.headers});
  const std::vector<bool> ok = producer_->deliver(out, 10000);
  std::vector<std::uint64_t> done;
  for (std::size_t i = 0; i < ok.size(); ++i)
    if (ok[i]) done.push_back((*records)[i].seq);
  if (!done.empty()) {
    if (auto r = store_.outbox_remove(sink_, done); !r.ok()) {
      log::error("outbox remove failed", {{"sink", sink_}, {"error", r.error().message}});
      return -1;
    }
    delivered_.fetch_add(done.size());
  }
  if (done.size() < records->size()) return -1;
  return static_cast<long>(done.size());
}

void OutboxForwarder::run() {
  TimeMs backoff = 0;
  for (;;) {
    const long n = forward_once();
    if (n > 0) {
      backoff = 0;
      continue;  // more may be waiting
    }
    if (stopping_.load() && (n == 0 || SystemClock().now() >= drain_deadline_.load())) return;
    if (n < 0) {
      backoff = std::clamp<TimeMs>(backoff * 2, 500, 30000);
      log::warn("outbox delivery failed; retrying",
                {{"sink", sink_}, {"topic", topic_}, {"retry_in_ms", backoff}});
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(n < 0 ? backoff : 1000),
                 [this] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
}

}  // namespace kamwatch::app
