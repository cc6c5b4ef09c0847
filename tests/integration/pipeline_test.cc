// End-to-end against the real broker: 200k+ events for 60 accounts with malformed, duplicate
// and late events; state must equal the oracle and every bad event must be dead-lettered.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "harness.h"
#include "workload.h"

namespace kamwatch::testing {
namespace {

constexpr int kPartitions = 6;

std::string write_config(const std::string& dir, const std::string& topic, const std::string& dlq,
                         const std::string& group, const std::string& extra_properties = "") {
  const std::string path = dir + "/kamwatch.yaml";
  std::ofstream f(path);
  f << "kafka:\n"
    << "  brokers: " << broker() << "\n"
    << "  topics: [" << topic << "]\n"
    << "  group: " << group << "\n"
    << "  dead_letter_topic: " << dlq << "\n"
    << "  batch_max_events: 2000\n"
    << "  properties:\n"
    << "    session.timeout.ms: \"6000\"\n"
    << extra_properties << "state:\n"
    << "  data_dir: " << dir << "/data\n"
    << "log:\n  level: info\n";
  return path;
}

TEST(Pipeline, AppliesEveryValidEventOnceAndDeadLettersTheRest) {
  const std::string topic = unique_name("kw-it-events");
  const std::string dlq = unique_name("kw-it-dlq");
  create_topic(topic, kPartitions);
  create_topic(dlq, 1);
  const std::string dir = temp_dir("kw-it-pipeline");

  WorkloadOptions wo;
  wo.events = 200000;
  const Workload w = make_workload(wo);
  ASSERT_GE(w.oracle.size(), 50u);
  ASSERT_GT(w.malformed, 1000u);
  ASSERT_GT(w.duplicates, 1000u);
  produce(topic, w.messages);
  const auto marks = high_watermarks(topic, kPartitions);

  const std::string group = unique_name("kw-it-group");
  Daemon d({"run", "--config", write_config(dir, topic, dlq, group)}, dir + "/kamwatch.log");
  d.start();
  const bool caught_up = wait_caught_up(dir + "/data", topic, marks, std::chrono::seconds(240));
  // The group's committed offsets (what lag dashboards read) follow the store: sent at most
  // every 100 ms, they reach the end soon after the last batch, with no more input to carry
  // them, and stay there through the stop.
  GroupOffsets offsets(group);
  std::vector<std::int64_t> committed;
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(10));
  while (caught_up && (committed = offsets.committed(topic, kPartitions)) != marks &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait(std::chrono::seconds(60)), 0) << "see " << d.log_path();
  ASSERT_TRUE(caught_up) << "kamwatch did not consume the topic; see " << d.log_path();
  EXPECT_EQ(committed, marks) << "group offsets short of the end 10 s after the store caught up";
  EXPECT_EQ(offsets.committed(topic, kPartitions), marks) << "after the stop";

  // Ready only once the backlog found at start is applied: before, an empty first poll on a
  // new group counted as caught up (ready with nothing applied, and a timer sweep).
  const auto logged_total = [&](const std::string& msg) -> std::optional<std::int64_t> {
    std::ifstream log(d.log_path());
    for (std::string line; std::getline(log, line);) {
      if (line.find("\"msg\":\"" + msg + "\"") == std::string::npos) continue;
      const auto at = line.find("\"applied_total\":");
      if (at != std::string::npos) return std::stoll(line.substr(at + 16));
    }
    return std::nullopt;
  };
  const auto at_ready = logged_total("kamwatch ready (caught up)");
  const auto at_stop = logged_total("kamwatch stopping");
  ASSERT_TRUE(at_ready && at_stop) << "see " << d.log_path();
  EXPECT_GT(*at_stop, 100000);
  EXPECT_EQ(*at_ready, *at_stop) << "ready before the backlog was applied";

  const auto diffs = compare_with_oracle(dir + "/data", w.oracle);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();

  // Every malformed and late event is on the dead-letter topic, with its reason and origin.
  const auto dead = consume(dlq, 1, w.expected_reason.size(), std::chrono::seconds(60));
  std::set<std::string> found;
  for (Consumed c : dead) {
    auto it = w.expected_reason.find(c.value);
    ASSERT_NE(it, w.expected_reason.end()) << "unexpected dead letter: " << c.value.substr(0, 200)
                                           << " reason " << c.headers["kamwatch.error.reason"];
    EXPECT_EQ(c.headers["kamwatch.error.reason"], it->second) << c.value.substr(0, 200);
    EXPECT_FALSE(c.headers["kamwatch.error.message"].empty());
    EXPECT_EQ(c.headers["kamwatch.origin.topic"], topic);
    EXPECT_FALSE(c.headers["kamwatch.origin.partition"].empty());
    EXPECT_FALSE(c.headers["kamwatch.origin.offset"].empty());
    EXPECT_FALSE(c.headers["kamwatch.error.time"].empty());
    found.insert(c.value);
  }
  EXPECT_EQ(found.size(), w.expected_reason.size())
      << "dead letters missing: " << w.expected_reason.size() - found.size();

  // The offline inspector shows the same counts.
  const std::string account = w.oracle.begin()->first;
  const std::string out_path = dir + "/show.json";
  const std::string cmd =
      kamwatch_binary() + " state show " + account + " --data " + dir + "/data > " + out_path;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out_path);
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto& usage = w.oracle.begin()->second.at("usage.activity");
  EXPECT_NE(json.find("\"usage.activity\":" + std::to_string(usage.count)), std::string::npos)
      << json.substr(0, 400);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kamwatch::testing
