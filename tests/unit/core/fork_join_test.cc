#include "core/fork_join.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace kamwatch::core {
namespace {

TEST(ForkJoin, RunsEveryPartOnItsOwnThreadAndWaitsForAll) {
  ForkJoin fj(3);
  ASSERT_EQ(fj.parts(), 3u);
  for (int job = 0; job < 50; ++job) {  // the workers are reused job after job
    std::vector<int> done(3, 0);
    std::vector<std::thread::id> ran_on(3);
    fj.run([&](std::size_t k) {
      if (k == 2) std::this_thread::sleep_for(std::chrono::microseconds(200));  // the slowest
      done[k] = job + 1;
      ran_on[k] = std::this_thread::get_id();
    });
    // run() returned, so every part has finished, the slow one too.
    EXPECT_EQ(done, std::vector<int>(3, job + 1));
    EXPECT_EQ(ran_on[0], std::this_thread::get_id());
    EXPECT_EQ(std::set<std::thread::id>(ran_on.begin(), ran_on.end()).size(), 3u);
  }
}

TEST(ForkJoin, RunsThePartsInOrderOnTheCallerWhenNotParallel) {
  ForkJoin fj(4);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::size_t> order;
  std::vector<std::thread::id> ran_on;
  fj.run(
      [&](std::size_t k) {
        order.push_back(k);  // no lock: all on one thread
        ran_on.push_back(std::this_thread::get_id());
      },
      /*parallel=*/false);
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(ran_on, std::vector<std::thread::id>(4, caller));
}

TEST(ForkJoin, OnePartNeedsNoWorker) {
  ForkJoin fj(1);
  std::thread::id ran_on;
  fj.run([&](std::size_t k) {
    EXPECT_EQ(k, 0u);
    ran_on = std::this_thread::get_id();
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace kamwatch::core
