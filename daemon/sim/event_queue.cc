#include "sim/event_queue.h"

#include <algorithm>

namespace kamwatch::sim {
namespace {

bool earlier(const QueuedEvent& a, const QueuedEvent& b) {
  return a.time != b.time ? a.time < b.time : a.seq < b.seq;
}
// std heap functions build a max-heap; invert the order for a min-heap.
bool later(const QueuedEvent& a, const QueuedEvent& b) { return earlier(b, a); }

}  // namespace

void EventQueue::begin_day(TimeMs day_start) {
  today_.clear();
  day_end_ = day_start + kDayMs;
}

void EventQueue::add(TimeMs time, std::uint32_t account, std::string json) {
  if (time >= end_) return;
  QueuedEvent e{time, seq_++, account, std::move(json)};
  if (time < day_end_) {
    today_.push_back(std::move(e));
  } else {
    later_.push_back(std::move(e));
    std::push_heap(later_.begin(), later_.end(), later);
  }
}

std::vector<QueuedEvent>& EventQueue::finish_day() {
  while (!later_.empty() && later_.front().time < day_end_) {
    std::pop_heap(later_.begin(), later_.end(), later);
    today_.push_back(std::move(later_.back()));
    later_.pop_back();
  }
  std::sort(today_.begin(), today_.end(), earlier);
  return today_;
}

}  // namespace kamwatch::sim
