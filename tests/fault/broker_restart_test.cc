// The broker is SIGKILLed and restarted (scripts/kafka.sh kill + start) while kamwatch
// consumes: kamwatch rides the outage out (no exit), its stored positions never jump (never
// backwards, never past the end of a partition: no silent auto.offset.reset), and the state
// equals the oracle. Restarts: 1 in the short run, 3 in the full one. Needs the broker that
// scripts/kafka.sh manages; skipped for an external one.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "fault_harness.h"

namespace kamwatch::testing::fault {
namespace {

TEST(BrokerRestart, OutagesAreRiddenOutWithoutOffsetJumps) {
  if (!broker_is_managed())
    GTEST_SKIP() << "the broker is not managed by scripts/kafka.sh (KAMWATCH_TEST_BROKERS)";
  const int restarts = full_run() ? 3 : 1;
  Group::Options go;
  go.name = "broker";
  go.batch_max_events = 200;  // many small commits: consumption takes a while
  // A small fetch queue: kamwatch cannot have the whole wave prefetched when the broker dies.
  go.kafka_properties = "    queued.max.messages.kbytes: \"256\"\n";
  Group g(go);

  WorkloadOptions wo;
  wo.events = full_run() ? 240000 : 80000;
  wo.seed = 21;
  const Workload w = make_workload(wo);
  const auto waves = split(w.messages, restarts + 1);

  // Watch the stored positions the whole time: every sample must be >= the previous one.
  std::atomic<bool> watching{true};
  std::atomic<int> backwards{0};
  std::map<std::int32_t, std::int64_t> last;
  std::thread watcher([&] {
    while (watching.load()) {
      for (const auto& [p, o] : stored_offsets(g.data_dir(0), g.topic())) {
        if (last.count(p) && o < last[p]) backwards.fetch_add(1);
        last[p] = o;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  g.start(0);
  int mid_stream = 0;  // restarts while part of the produced events were still unconsumed
  for (int r = 0; r < restarts; ++r) {
    produce(g.topic(), waves[r]);
    // Kill the broker once consumption of this wave is under way.
    const std::int64_t at = g.progress(0);
    ASSERT_TRUE(eventually([&] { return g.progress(0) > at; }, std::chrono::seconds(60)))
        << g.log_tail(0);
    ASSERT_TRUE(kafka_script("kill"));
    std::int64_t produced = 0;
    for (int k = 0; k <= r; ++k) produced += static_cast<std::int64_t>(waves[k].size());
    mid_stream += g.progress(0) < produced;
    std::this_thread::sleep_for(std::chrono::seconds(3));
    EXPECT_FALSE(g.exited(0).has_value()) << "kamwatch exited during the outage\n" << g.log_tail(0);
    ASSERT_TRUE(kafka_script("start"));
  }
  produce(g.topic(), waves[restarts]);
  const bool caught_up = g.wait_caught_up(0, std::chrono::seconds(300));
  EXPECT_FALSE(g.exited(0).has_value()) << g.log_tail(0);
  g.stop(0);
  watching.store(false);
  watcher.join();
  ASSERT_TRUE(caught_up) << g.log_tail(0);

  EXPECT_EQ(backwards.load(), 0) << "a stored position moved backwards";
  const auto marks = high_watermarks(g.topic(), g.partitions());
  for (const auto& [p, o] : stored_offsets(g.data_dir(0), g.topic()))
    EXPECT_EQ(o, marks[static_cast<std::size_t>(p)]) << "partition " << p;
  std::ifstream log(g.log_path(0));
  for (std::string line; std::getline(log, line);)
    EXPECT_EQ(line.find("out of range"), std::string::npos) << line;

  const OracleTally t = g.tally(w.oracle);
  record({"broker restart", t.expected, 1, restarts, t.lost, t.double_counted,
          std::to_string(mid_stream) + " of " + std::to_string(restarts) +
              " broker kills mid-stream"});
  EXPECT_GE(mid_stream, (restarts + 1) / 2) << "the broker should die while events are unconsumed";
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();
}

}  // namespace
}  // namespace kamwatch::testing::fault
