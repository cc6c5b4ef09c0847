#pragma once
// Where outbox records go: a Kafka topic, an Alertmanager, a webhook. The forwarder hands a
// sink the oldest records of its outbox; the sink says which it delivered.
// Thread-safety: one forwarder thread calls a sink.
#include <string>
#include <vector>

#include "core/time.h"
#include "state/state_store.h"

namespace kamwatch::delivery {

class Sink {
 public:
  virtual ~Sink() = default;
  // The outbox sink name, also the `sink` label of the delivery metrics.
  [[nodiscard]] virtual const std::string& name() const = 0;
  // Tries to deliver records, oldest first; one flag per record: true = acknowledged (or
  // permanently refused and logged, so it must not block the ones behind it).
  [[nodiscard]] virtual std::vector<bool> deliver(
      const std::vector<state::OutboxRecord>& records) = 0;
  // Periodic work besides the outbox (Alertmanager re-sends firing alerts), every
  // tick_interval() (0 = never). Runs on the forwarder thread after the outbox was drained.
  // Returns false on failure (retried at the next tick).
  [[nodiscard]] virtual bool tick(TimeMs /*now*/) { return true; }
  [[nodiscard]] virtual TimeMs tick_interval() const { return 0; }
};

}  // namespace kamwatch::delivery
