#pragma once
// Runs the parts of one job on a fixed set of threads and waits for all of them: part 0 on the
// calling thread, part k on worker k (started once, parked between jobs). For work that splits
// into independent shares of one batch (app/pipeline.cc: accounts by a hash of their id).
// Lifecycle: construct with the number of parts a job may have -> run() per job -> destroy
// (joins the workers). Thread-safety: run() from one thread at a time; fn(k) runs on its own
// thread. Errors: an exception from any part is rethrown by run() once every part has returned
// (the first part's, else the lowest worker's).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kamwatch::core {

class ForkJoin {
 public:
  // parts: at most how many parts a job has (1 = no workers: run() calls fn(0) inline).
  explicit ForkJoin(std::size_t parts);
  ~ForkJoin();
  ForkJoin(const ForkJoin&) = delete;
  ForkJoin& operator=(const ForkJoin&) = delete;

  // Calls fn(0) ... fn(parts() - 1), each on its own thread, and returns when all have
  // returned (or rethrows, see above). With parallel false they run one after the other on the
  // calling thread (for jobs too small to be worth waking the workers).
  void run(const std::function<void(std::size_t)>& fn, bool parallel = true);
  [[nodiscard]] std::size_t parts() const { return workers_.size() + 1; }

 private:
  void work(std::size_t part);

  std::mutex mu_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(std::size_t)>* job_ = nullptr;  // guarded by mu_
  std::uint64_t generation_ = 0;                           // of jobs; guarded by mu_
  std::size_t running_ = 0;                 // workers still on the current job; guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::vector<std::exception_ptr> errors_;  // per worker, of the current job; guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace kamwatch::core
