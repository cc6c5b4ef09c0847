// Poison and oversize events (docs/faults.md):
// - an event whose processing kills kamwatch (the test hook KAMWATCH_FAULT_CRASH_ON_EVENT_ID
//   makes applying it abort()) never crash-loops the daemon: restarted by the test after each
//   crash, as systemd would, kamwatch quarantines it to the dead-letter topic with reason
//   poison after at most ingest.max_batch_attempts + 2 crashes;
// - an event whose processing throws (KAMWATCH_FAULT_THROW_ON_EVENT_ID) is dead-lettered as
//   processing_error without a restart;
// - a message larger than ingest.max_message_bytes is dead-lettered as oversize (its head only).
// Every other event is applied exactly once (oracle).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <thread>

#include "fault_harness.h"

namespace kamwatch::testing::fault {
namespace {

std::string valid_event(const std::string& id, const std::string& account) {
  // Far in the future: never late. It is never applied either (it is the poison), so it does
  // not move the account's watermark.
  return R"({"specversion":"1.0","id":")" + id +
         R"(","source":"itest","type":"usage.activity","time":"2030-01-01T00:00:00Z","subject":")" +
         account + R"(","data":{"active_users":1}})";
}

bool caught_up(const Group& g) {
  const auto marks = high_watermarks(g.topic(), g.partitions());
  const auto stored = stored_offsets(g.data_dir(0), g.topic());
  for (int p = 0; p < g.partitions(); ++p) {
    auto it = stored.find(p);
    if (marks[p] > 0 && (it == stored.end() || it->second < marks[p])) return false;
  }
  return true;
}

// Runs instance 0 until it has consumed everything, restarting it whenever it dies (each death
// must be the hook's SIGABRT; at most max_deaths). Returns the deaths, and in `streak` the most
// deaths in a row without the stored positions moving in between: a crash loop. (Batches that
// end before the poison event commit progress and restart the count, which is right.)
int run_restarting(Group& g, const std::vector<std::pair<std::string, std::string>>& env,
                   int max_deaths, int* streak = nullptr) {
  int deaths = 0, run = 0, longest = 0;
  std::int64_t at_last_death = -1;
  g.start(0, env);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto status = g.exited(0)) {
      EXPECT_EQ(*status, 128 + SIGABRT) << g.log_tail(0);
      const std::int64_t progress = g.progress(0);
      run = progress == at_last_death ? run + 1 : 1;
      at_last_death = progress;
      longest = std::max(longest, run);
      if (++deaths > max_deaths) break;
      g.start(0, env);  // like systemd's Restart=on-failure
      continue;
    }
    if (caught_up(g)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(caught_up(g)) << g.log_tail(0);
  g.stop(0);
  if (streak) *streak = longest;
  return deaths;
}

Workload workload_with(const std::vector<std::string>& extra_values, std::uint64_t seed) {
  WorkloadOptions wo;
  wo.events = full_run() ? 60000 : 20000;
  wo.seed = seed;
  Workload w = make_workload(wo);
  // The extra events go in the middle of the stream, to an account with other events.
  auto at = w.messages.begin() + static_cast<std::ptrdiff_t>(w.messages.size() / 2);
  for (const std::string& v : extra_values) at = w.messages.insert(at, {"ACC-001", v, {}}) + 1;
  return w;
}

TEST(Poison, AnEventThatCrashesKamwatchIsQuarantinedAfterBoundedRestarts) {
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // the hook's abort() need not dump core
  Group::Options go;
  go.name = "poison";
  go.partitions = 2;
  Group g(go);
  const std::string poison = valid_event("poison-crash", "ACC-001");
  const Workload w = workload_with({poison}, 31);
  produce(g.topic(), w.messages);

  const int max_attempts = 3;  // ingest.max_batch_attempts, default
  int streak = 0;
  const int deaths = run_restarting(g, {{"KAMWATCH_FAULT_CRASH_ON_EVENT_ID", "poison-crash"}},
                                    4 * (max_attempts + 2), &streak);
  EXPECT_GE(deaths, 1) << "the hook never fired";
  EXPECT_LE(streak, max_attempts + 2) << "crash loop not bounded";

  const auto dead = dead_letters(g.dead_letter_topic());
  auto it = dead.find(poison);
  ASSERT_NE(it, dead.end()) << "the poison event is not in the dead-letter topic";
  EXPECT_EQ(it->second, "poison");
  for (const auto& [value, reason] : w.expected_reason) EXPECT_EQ(dead.count(value) > 0, true);

  const OracleTally t = g.tally(w.oracle);
  record({"poison (crash)", t.expected, 1, deaths, t.lost, t.double_counted,
          std::to_string(deaths) + " crashes, at most " + std::to_string(streak) +
              " in a row without progress (bound " + std::to_string(max_attempts + 2) + ")"});
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();
}

TEST(Poison, AnEventThatThrowsIsDeadLetteredWithoutARestart) {
  Group::Options go;
  go.name = "throw";
  go.partitions = 2;
  Group g(go);
  const std::string bad = valid_event("poison-throw", "ACC-001");
  const Workload w = workload_with({bad}, 32);
  produce(g.topic(), w.messages);
  const int deaths = run_restarting(g, {{"KAMWATCH_FAULT_THROW_ON_EVENT_ID", "poison-throw"}}, 0);
  EXPECT_EQ(deaths, 0);

  const auto dead = dead_letters(g.dead_letter_topic());
  auto it = dead.find(bad);
  ASSERT_NE(it, dead.end()) << "the throwing event is not in the dead-letter topic";
  EXPECT_EQ(it->second, "processing_error");
  EXPECT_EQ(dead.count(bad), 1u);

  const OracleTally t = g.tally(w.oracle);
  record({"poison (exception)", t.expected, 1, 1, t.lost, t.double_counted,
          "dead-lettered as processing_error, no restart"});
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();
}

TEST(Poison, OversizeMessagesAreDeadLetteredWithTheirHead) {
  Group::Options go;
  go.name = "oversize";
  go.partitions = 2;
  go.create_topics = false;
  Group g(go);
  // The input topic takes messages up to 4 MiB; kamwatch's limit is 1 MiB (the default).
  create_topic(g.topic(), g.partitions(), {{"max.message.bytes", "4194304"}});
  testing::create_topic(g.dead_letter_topic(), 1);
  testing::create_topic(g.topic() + ".alerts", 1);

  const Workload w = workload_with({}, 33);
  const std::size_t half = w.messages.size() / 2;
  produce(g.topic(), {w.messages.begin(), w.messages.begin() + static_cast<std::ptrdiff_t>(half)});
  std::vector<Message> big;
  for (std::size_t size : {std::size_t{1100000}, std::size_t{2 << 20}, std::size_t{3 << 20}}) {
    std::string v = valid_event("big-" + std::to_string(size), "ACC-002");
    v.insert(v.size() - 2, ",\"pad\":\"" + std::string(size - v.size(), 'x') + "\"");
    big.push_back({"ACC-002", v, {}});
  }
  produce_big(g.topic(), big);
  produce(g.topic(), {w.messages.begin() + static_cast<std::ptrdiff_t>(half), w.messages.end()});
  EXPECT_EQ(run_restarting(g, {}, 0), 0);

  const auto end = high_watermarks(g.dead_letter_topic(), 1);
  std::size_t oversize = 0;
  for (const Consumed& c : consume(g.dead_letter_topic(), 1, static_cast<std::size_t>(end[0]),
                                   std::chrono::seconds(60))) {
    if (c.headers.count("kamwatch.error.reason") == 0 ||
        c.headers.at("kamwatch.error.reason") != "oversize")
      continue;
    ++oversize;
    EXPECT_EQ(c.value.size(), 64u * 1024);
    ASSERT_TRUE(c.headers.count("kamwatch.error.truncated_from"));
    const std::size_t original = std::stoul(c.headers.at("kamwatch.error.truncated_from"));
    bool known = false;
    for (const Message& m : big)
      known |= m.value.size() == original && m.value.rfind(c.value, 0) == 0;
    EXPECT_TRUE(known) << "a dead letter that is not the head of a big message";
  }
  EXPECT_EQ(oversize, big.size());

  const OracleTally t = g.tally(w.oracle);
  record({"oversize", t.expected, 1, static_cast<std::int64_t>(big.size()), t.lost,
          t.double_counted, "1.1-3 MiB messages dead-lettered as oversize (64 KiB head)"});
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();
}

}  // namespace
}  // namespace kamwatch::testing::fault
