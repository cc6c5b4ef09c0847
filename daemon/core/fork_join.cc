#include "core/fork_join.h"

namespace kamwatch::core {

ForkJoin::ForkJoin(std::size_t parts) : errors_(parts > 1 ? parts - 1 : 0) {
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
    for (std::exception_ptr& e : errors_) e = nullptr;
    ++generation_;
  }
  start_.notify_all();
  // The workers hold a pointer to fn: wait for them even when part 0 throws.
  std::exception_ptr first;
  try {
    fn(0);
  } catch (...) {
    first = std::current_exception();
  }
  std::unique_lock lock(mu_);
  done_.wait(lock, [&] { return running_ == 0; });
  job_ = nullptr;
  for (const std::exception_ptr& e : errors_)
    if (!first && e) first = e;
  lock.unlock();
  if (first) std::rethrow_exception(first);
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
    std::exception_ptr error;
    try {
      (*job)(part);
    } catch (...) {
      error = std::current_exception();
    }
    bool last = false;
    {
      std::lock_guard lock(mu_);
      errors_[part - 1] = error;
      last = --running_ == 0;
    }
    if (last) done_.notify_one();
  }
}

}  // namespace kamwatch::core
