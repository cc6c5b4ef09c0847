#pragma once
// Puts the events of all accounts into global event-time order, one day at a time: events of
// the current day are collected and sorted; events due later (invoices, ticket resolutions,
// survey answers) wait in a min-heap until their day. Events at or after the end of the
// history are dropped. Thread-safety: one queue per simulation.
#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace kamwatch::sim {

struct QueuedEvent {
  TimeMs time = 0;
  std::uint64_t seq = 0;  // generation order: breaks ties in time deterministically
  std::uint32_t account = 0;
  std::string json;
};

class EventQueue {
 public:
  explicit EventQueue(TimeMs end) : end_(end) {}

  // Starts a day; add() then accepts events at or after day_start.
  void begin_day(TimeMs day_start);
  void add(TimeMs time, std::uint32_t account, std::string json);
  // The day's events (including those queued earlier for it), sorted by (time, seq). The
  // vector is reused by the next day.
  std::vector<QueuedEvent>& finish_day();
  [[nodiscard]] std::size_t pending() const { return later_.size(); }

 private:
  TimeMs end_;
  TimeMs day_end_ = 0;
  std::uint64_t seq_ = 0;
  std::vector<QueuedEvent> today_;
  std::vector<QueuedEvent> later_;  // min-heap on (time, seq)
};

}  // namespace kamwatch::sim
