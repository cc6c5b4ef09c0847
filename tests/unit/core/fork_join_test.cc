#include "core/fork_join.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
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

TEST(ForkJoin, RethrowsAPartsExceptionAfterEveryPartReturned) {
  ForkJoin fj(3);
  for (const std::size_t thrower : {0, 1, 2}) {
    std::vector<int> done(3, 0);
    try {
      fj.run([&](std::size_t k) {
        if (k == thrower) throw std::runtime_error("part " + std::to_string(k));
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        done[k] = 1;
      });
      ADD_FAILURE() << "run() returned although part " << thrower << " threw";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "part " + std::to_string(thrower));
    }
    // The other parts had finished when run() threw.
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(done[k], k == thrower ? 0 : 1) << k;
  }
  // And the workers still take jobs.
  std::vector<int> after(3, 0);
  fj.run([&](std::size_t k) { after[k] = 1; });
  EXPECT_EQ(after, std::vector<int>(3, 1));
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
