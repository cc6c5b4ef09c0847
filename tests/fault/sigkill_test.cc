// SIGKILL at random moments while consuming, restart each time (as systemd would): at the end
// the state must equal the oracle exactly (nothing lost, nothing counted twice), and every
// dead letter is in the dead-letter topic. Kills: KAMWATCH_FAULT_KILLS, default 100 in the full
// run (scripts/fault.sh --full), 20 in the short one (CI).
#include <gtest/gtest.h>

#include <csignal>
#include <random>
#include <set>
#include <thread>

#include "fault_harness.h"

namespace kamwatch::testing::fault {
namespace {

TEST(Sigkill, LoopLosesNothingAndCountsNothingTwice) {
  const int kills = static_cast<int>(env_int("KAMWATCH_FAULT_KILLS", full_run() ? 100 : 20));
  // Static membership lets a restarted instance take its partitions back without waiting for
  // the killed one's session to expire; small batches make kills land mid-stream.
  Group::Options go;
  go.name = "sigkill";
  go.batch_max_events = 200;
  go.kafka_properties = "    queued.max.messages.kbytes: \"256\"\n";  // no wave prefetched whole
  Group g(go);

  WorkloadOptions wo;
  wo.events = static_cast<std::size_t>(kills) * 6000;  // a wave outlasts the random delay
  wo.seed = 11;
  const Workload w = make_workload(wo);
  const auto waves = split(w.messages, kills);

  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_ms(0, 150);
  int mid_stream_kills = 0;
  for (int i = 0; i < kills; ++i) {
    produce(g.topic(), waves[i]);  // events keep arriving between crashes
    const std::int64_t start_progress = g.progress(0);
    g.start(0);
    // Kill at a random moment after consumption has visibly started (or after 10 s).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (g.progress(0) == start_progress && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    const auto before = stored_offsets(g.data_dir(0), g.topic());
    g.kill(0);
    const auto marks = high_watermarks(g.topic(), g.partitions());
    bool behind = false;
    for (int p = 0; p < g.partitions(); ++p) {
      auto it = before.find(p);
      if (marks[p] > 0 && (it == before.end() || it->second < marks[p])) behind = true;
    }
    mid_stream_kills += behind;
  }
  // Finally let it finish.
  g.start(0);
  const bool caught_up = g.wait_caught_up(0, std::chrono::seconds(300));
  g.stop(0);
  ASSERT_TRUE(caught_up) << g.log_tail(0);

  const OracleTally t = g.tally(w.oracle);
  record({"sigkill loop", t.expected, 1, kills, t.lost, t.double_counted,
          std::to_string(mid_stream_kills) + " of " + std::to_string(kills) + " kills mid-stream"});
  EXPECT_GE(mid_stream_kills, kills / 2) << "kills should land while consuming";
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();

  // Dead letters are delivered at least once: every bad event is there (copies are allowed
  // when a kill fell between delivery and its acknowledgement being recorded).
  const auto dead = dead_letters(g.dead_letter_topic());
  for (const auto& [value, reason] : w.expected_reason) {
    auto it = dead.find(value);
    ASSERT_NE(it, dead.end()) << "missing dead letter (" << reason << ")";
    EXPECT_EQ(it->second, reason);
  }
}

}  // namespace
}  // namespace kamwatch::testing::fault
