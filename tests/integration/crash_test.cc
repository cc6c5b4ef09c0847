// SIGKILL at random moments while consuming, restart each time: at the end the state must equal
// the oracle exactly (nothing lost, nothing counted twice).
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "harness.h"
#include "workload.h"

namespace kamwatch::testing {
namespace {

constexpr int kPartitions = 4;

TEST(Crash, SigkillLoopLosesNothingAndCountsNothingTwice) {
  const int kills =
      std::getenv("KAMWATCH_CRASH_KILLS") ? std::atoi(std::getenv("KAMWATCH_CRASH_KILLS")) : 25;
  const std::string topic = unique_name("kw-crash-events");
  const std::string dlq = unique_name("kw-crash-dlq");
  create_topic(topic, kPartitions);
  create_topic(dlq, 1);
  const std::string dir = temp_dir("kw-crash");
  const std::string config = dir + "/kamwatch.yaml";
  {
    std::ofstream f(config);
    // Static membership lets a restarted instance take its partitions back without waiting for
    // the killed one's session to expire; small batches make kills land mid-stream.
    f << "kafka:\n  brokers: " << broker() << "\n  topics: [" << topic
      << "]\n  group: " << unique_name("kw-crash-group") << "\n  dead_letter_topic: " << dlq
      << "\n  batch_max_events: 500\n  properties:\n    group.instance.id: crash-instance\n"
      << "    session.timeout.ms: \"6000\"\n"
      << "state:\n  data_dir: " << dir << "/data\n";
  }

  WorkloadOptions wo;
  wo.events = 250000;
  wo.seed = 11;
  const Workload w = make_workload(wo);
  const auto waves = split(w.messages, kills);

  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_ms(0, 150);
  auto progress = [&] {
    std::int64_t sum = 0;
    for (const auto& [p, o] : stored_offsets(dir + "/data", topic)) sum += o;
    return sum;
  };
  int mid_stream_kills = 0;
  for (int i = 0; i < kills; ++i) {
    produce(topic, waves[i]);  // events keep arriving between crashes
    const std::int64_t start_progress = progress();
    Daemon d({"run", "--config", config}, dir + "/kamwatch.log");
    d.start();
    // Kill at a random moment after consumption has visibly started (or after 10 s, scaled:
    // a sanitizer build's daemon takes longer to open the store and join the group).
    const auto give_up = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(10));
    while (progress() == start_progress && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    const auto before = stored_offsets(dir + "/data", topic);
    d.signal(SIGKILL);
    EXPECT_EQ(d.wait(std::chrono::seconds(10)), 128 + SIGKILL);
    const auto marks = high_watermarks(topic, kPartitions);
    bool behind = false;
    for (int p = 0; p < kPartitions; ++p) {
      auto it = before.find(p);
      if (marks[p] > 0 && (it == before.end() || it->second < marks[p])) behind = true;
    }
    mid_stream_kills += behind;
  }
  // Finally let it finish.
  const auto marks = high_watermarks(topic, kPartitions);
  Daemon d({"run", "--config", config}, dir + "/kamwatch.log");
  d.start();
  const bool caught_up = wait_caught_up(dir + "/data", topic, marks, std::chrono::seconds(240));
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait(std::chrono::seconds(60)), 0);
  ASSERT_TRUE(caught_up) << "see " << d.log_path();

  std::printf("[ crash    ] %d SIGKILLs, %d of them while events were still unconsumed\n", kills,
              mid_stream_kills);
  EXPECT_GE(mid_stream_kills, kills / 2) << "kills should land while consuming";
  const auto diffs = compare_with_oracle(dir + "/data", w.oracle);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();

  // Dead letters are delivered at least once: every bad event is there (copies are allowed
  // when a kill fell between delivery and its acknowledgement being recorded).
  const auto dlq_end = high_watermarks(dlq, 1);
  EXPECT_GE(static_cast<std::size_t>(dlq_end[0]), w.expected_reason.size());
  const auto dead = consume(dlq, 1, static_cast<std::size_t>(dlq_end[0]), std::chrono::seconds(60));
  std::set<std::string> found;
  for (const Consumed& c : dead) found.insert(c.value);
  for (const auto& [value, reason] : w.expected_reason)
    EXPECT_TRUE(found.count(value)) << "missing dead letter (" << reason << ")";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kamwatch::testing
