// The dead-letter topic cannot be written: it does not exist and nobody may create it (deleted,
// and kamwatch's producer runs with allow.auto.create.topics=false), so every produce fails
// with the retriable "unknown topic" after topic.metadata.propagation.max.ms. (Raising
// min.insync.replicas above the replication factor does not work: Kafka caps the effective
// minimum at the replication factor.) The dead-letter outbox
// never skips: once it holds more than kafka.dead_letter_max_pending records, consumption
// pauses (/readyz 503 dead_letter_backlog, kamwatch_consumer_paused 1, positions frozen) and it
// resumes when the topic is writable again and the backlog drains. At the end every malformed
// event is in the dead-letter topic (at least once) and the state equals the oracle.
#include <gtest/gtest.h>

#include <thread>

#include "fault_harness.h"

namespace kamwatch::testing::fault {
namespace {

TEST(DeadLetter, AnUnwritableDeadLetterTopicPausesConsumptionAndLosesNothing) {
  constexpr std::size_t kMaxPending = 200;
  constexpr std::size_t kBatch = 200;
  Group::Options go;
  go.name = "dlq";
  go.partitions = 2;
  go.batch_max_events = kBatch;
  go.kafka_yaml = "  dead_letter_max_pending: " + std::to_string(kMaxPending) + "\n";
  go.kafka_properties =
      "    allow.auto.create.topics: \"false\"\n    topic.metadata.propagation.max.ms: \"5000\"\n";
  Group g(go);

  WorkloadOptions wo;
  wo.events = full_run() ? 80000 : 30000;
  wo.malformed = 0.05;
  wo.seed = 41;
  const Workload w = make_workload(wo);
  ASSERT_GT(w.malformed + w.late, 4 * kMaxPending);

  ASSERT_TRUE(delete_topic(g.dead_letter_topic()));
  g.start(0);
  produce(g.topic(), w.messages);

  // The backlog fills and consumption pauses.
  ASSERT_TRUE(eventually(
      [&] {
        auto [status, body] = get(g.url(0) + "/readyz");
        return status == 503 && body.find("dead_letter_backlog") != std::string::npos;
      },
      std::chrono::seconds(120)))
      << g.log_tail(0);
  const std::string metrics = get(g.url(0) + "/metrics").second;
  EXPECT_EQ(sample(metrics, "kamwatch_consumer_paused"), 1.0);
  const double pending = sample(metrics, "kamwatch_outbox_records{sink=\"dlq\"}").value_or(-1);
  EXPECT_GT(pending, static_cast<double>(kMaxPending));
  EXPECT_LE(pending, static_cast<double>(kMaxPending + kBatch)) << "more than one batch over";
  // Nothing advances while paused.
  const std::int64_t paused_at = g.progress(0);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(g.progress(0), paused_at) << "positions advanced while paused";
  std::int64_t end = 0;
  for (auto m : high_watermarks(g.topic(), g.partitions())) end += m;
  EXPECT_LT(paused_at, end);

  // The topic is writable again: the backlog drains and consumption resumes by itself.
  create_topic(g.dead_letter_topic(), 1, {});
  const bool caught_up = g.wait_caught_up(0, std::chrono::seconds(240));
  EXPECT_TRUE(eventually(
      [&] {
        return sample(get(g.url(0) + "/metrics").second, "kamwatch_outbox_records{sink=\"dlq\"}") ==
               0.0;
      },
      std::chrono::seconds(120)));
  EXPECT_TRUE(g.wait_ready(0, std::chrono::seconds(60))) << get(g.url(0) + "/readyz").second;
  EXPECT_EQ(sample(get(g.url(0) + "/metrics").second, "kamwatch_consumer_paused"), 0.0);
  g.stop(0);
  ASSERT_TRUE(caught_up) << g.log_tail(0);

  const auto dead = dead_letters(g.dead_letter_topic());
  std::size_t missing = 0;
  for (const auto& [value, reason] : w.expected_reason) {
    auto it = dead.find(value);
    if (it == dead.end()) {
      ++missing;
      continue;
    }
    EXPECT_EQ(it->second, reason);
  }
  EXPECT_EQ(missing, 0u) << "dead letters lost";
  EXPECT_GE(dead.size(), w.expected_reason.size());

  const OracleTally t = g.tally(w.oracle);
  record({"dead-letter topic unwritable", t.expected, 1, 1,
          t.lost + static_cast<std::int64_t>(missing), t.double_counted,
          std::to_string(w.expected_reason.size()) + " dead letters, " +
              std::to_string(dead.size() > w.expected_reason.size()
                                 ? dead.size() - w.expected_reason.size()
                                 : 0) +
              " extra copies, " + std::to_string(missing) + " missing"});
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();
}

}  // namespace
}  // namespace kamwatch::testing::fault
