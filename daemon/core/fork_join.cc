#include "core/fork_join.h"

namespace kamwatch::core {

ForkJoin::ForkJoin(std::size_t parts) {
  for (std::size_t k = 1; k < parts; ++k) workers_.emplace_back([this, k] { work(k); });
}

ForkJoin::~ForkJoin() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ForkJoin::run(const std::function<void(std::size_t)>& fn, bool parallel) {
  if (!parallel || workers_.empty()) {
    for (std::size_t k = 0; k < parts(); ++k) fn(k);
    return;
  }
  {
    std::lock_guard lock(mu_);
    job_ = &fn;
    running_ = workers_.size();
    ++generation_;
  }
  start_.notify_all();
  fn(0);
  std::unique_lock lock(mu_);
  done_.wait(lock, [&] { return running_ == 0; });
  job_ = nullptr;
}

void ForkJoin::work(std::size_t part) {
  std::uint64_t seen = 0;
  for (;;) {
    const std::function<void(std::size_t)>* job = nullptr;
    {
      std::unique_lock lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    (*job)(part);
    bool last = false;
    {
      std::lock_guard lock(mu_);
      last = --running_ == 0;
    }
    if (last) done_.notify_one();
  }
}

}  // namespace kamwatch::core
