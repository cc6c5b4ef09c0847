#pragma once
// Delivers one outbox sink's records to a Kafka topic, at least once, oldest first, and removes
// them from the store once acknowledged. Runs on its own thread; a failing topic is retried
// with backoff and holds back nothing but its own records.
// Thread-safety: start/stop/notify from the owning thread; the worker owns the producer.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ingest/kafka.h"
#include "state/state_store.h"

namespace kamwatch::app {

class OutboxForwarder {
 public:
  OutboxForwarder(state::StateStore& store, std::unique_ptr<ingest::KafkaProducer> producer,
                  std::string sink, std::string topic);
  ~OutboxForwarder();

  void start();
  // Wakes the worker: new records were committed.
  void notify();
  // Stops after trying to drain for at most drain_ms.
  void stop(TimeMs drain_ms = 5000);
  [[nodiscard]] std::uint64_t delivered() const { return delivered_.load(); }

 private:
  void run();
  // One round: returns records delivered, or -1 on failure.
  long forward_once();

  state::StateStore& store_;
  std::unique_ptr<ingest::KafkaProducer> producer_;
  std::string sink_;
  std::string topic_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<TimeMs> drain_deadline_{0};
  std::atomic<std::uint64_t> delivered_{0};
};

}  // namespace kamwatch::app
