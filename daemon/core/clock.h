#pragma once
// Clock interface: live mode uses SystemClock, tests and replay a ManualClock.
// Thread-safety: SystemClock is safe from any thread; ManualClock's now() too (set() and
// advance() from one thread, while nothing else reads it for a consistent view).
#include <atomic>
#include <chrono>

#include "core/time.h"

namespace kamwatch {

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimeMs now() const = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimeMs now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start = 0) : now_(start) {}
  [[nodiscard]] TimeMs now() const override { return now_.load(); }
  void set(TimeMs t) { now_.store(t); }
  void advance(TimeMs d) { now_.fetch_add(d); }

 private:
  std::atomic<TimeMs> now_;
};

}  // namespace kamwatch
