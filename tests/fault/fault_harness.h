#pragma once
// The fault suite's kit (tests/fault, docs/faults.md): kamwatch instances of one consumer
// group that can be started, stopped, SIGKILLed, SIGSTOPped and continued; broker control
// through scripts/kafka.sh; topic configuration on the real broker; the suite's size (short
// for CI, full for scripts/fault.sh --full); and the results table rows.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "kamwatch_process.h"
#include "workload.h"

namespace kamwatch::testing::fault {

// True for the full run (KAMWATCH_FAULT_FULL=1, set by scripts/fault.sh --full).
bool full_run();
// An integer from the environment, or `def`.
long env_int(const char* name, long def);

// One row of the results table: appended as a tab-separated line to $KAMWATCH_FAULT_RESULTS
// (scripts/fault.sh prints the table) and printed to stdout.
struct Row {
  std::string scenario;
  std::int64_t events = 0;   // valid events the oracle expects
  int instances = 1;         // kamwatch instances at most at once
  std::int64_t faults = 0;   // kills, broker restarts, injected failures
  std::int64_t lost = 0;     // oracle says applied, state does not have it
  std::int64_t doubled = 0;  // counted more than once
  std::string note;          // e.g. "97 of 100 kills mid-stream"
};
void record(const Row& r);

// Topics with configs (e.g. max.message.bytes), replication factor 1.
void create_topic(const std::string& topic, int partitions,
                  const std::map<std::string, std::string>& configs);
// Deletes a topic; true once the broker confirmed.
bool delete_topic(const std::string& topic);
// Produces messages (larger than librdkafka's 1 MB default allowed).
void produce_big(const std::string& topic, const std::vector<Message>& messages);

// The broker under test when scripts/kafka.sh manages it (the address matches its bootstrap);
// false for an external broker, which the broker scenarios then skip.
bool broker_is_managed();
// scripts/kafka.sh COMMAND (kill, start, ...); true on exit status 0.
bool kafka_script(const std::string& command);

// GET url: {status, body}; {0, ""} when nothing answers.
std::pair<int, std::string> get(const std::string& url);
// A sample's value in a Prometheus text exposition, or nullopt.
std::optional<double> sample(const std::string& metrics_text, const std::string& name);

// Instances of one kamwatch consumer group on one input topic, each with its own state
// directory and HTTP port. Instance i's config is <dir>/i/kamwatch.yaml, its log
// <dir>/i/kamwatch.log.
class Group {
 public:
  struct Options {
    std::string name = "fault";
    int partitions = 4;
    std::size_t batch_max_events = 500;
    std::string extra_yaml;  // appended to every instance's config (state:, ingest:, ...)
    std::string kafka_yaml;  // extra lines of the kafka: section ("  key: value\n")
    // Extra kafka.properties lines ("    key: value\n"), e.g. a short session timeout.
    std::string kafka_properties;
    bool static_membership = true;  // group.instance.id = <name>-<i>
    bool create_topics = true;
  };
  explicit Group(Options options);
  ~Group();  // SIGKILLs what still runs; removes the directory unless a test failed
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  [[nodiscard]] const std::string& topic() const { return topic_; }
  [[nodiscard]] const std::string& dead_letter_topic() const { return dlq_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] int partitions() const { return options_.partitions; }
  [[nodiscard]] std::string data_dir(int i) const;
  [[nodiscard]] std::string log_path(int i) const;
  [[nodiscard]] std::string url(int i) const;  // http://127.0.0.1:PORT

  // Starts instance i (creating its config on first use), with extra environment variables
  // (e.g. the crash hook). The instance keeps its state directory across restarts.
  void start(int i, const std::vector<std::pair<std::string, std::string>>& env = {});
  void stop(int i);    // SIGTERM, wait; expects exit status 0
  void kill(int i);    // SIGKILL, wait
  void pause(int i);   // SIGSTOP (a zombie: alive, silent)
  void resume(int i);  // SIGCONT
  [[nodiscard]] bool running(int i) const;
  // Reaps an instance that exited by itself; its exit status (128+signal) or nullopt while
  // it runs.
  std::optional<int> exited(int i);
  [[nodiscard]] int started() const { return starts_; }  // starts so far, all instances
  [[nodiscard]] int max_running() const { return max_running_; }

  // Sum of the stored positions over every partition of the topic, in instance i's state.
  [[nodiscard]] std::int64_t progress(int i) const;
  // Waits until instance i's stored positions reach the topic's current end; false on timeout.
  bool wait_caught_up(int i, std::chrono::seconds timeout) const;
  // Waits for GET /readyz = 200.
  bool wait_ready(int i, std::chrono::seconds timeout) const;
  [[nodiscard]] std::string log_tail(int i, std::size_t lines = 30) const;

  // Every account against the oracle. With several instances each account is read from the
  // instance whose state holds the furthest position of the account's partition (the owner
  // at the end); pass the instances that took part.
  OracleTally tally(const Oracle& oracle, const std::vector<int>& instances = {0}) const;

 private:
  struct Instance;
  Instance& instance(int i);
  Options options_;
  std::string dir_, topic_, dlq_, alerts_, group_;
  std::map<int, std::unique_ptr<Instance>> instances_;
  int starts_ = 0;
  int max_running_ = 0;
};

// The dead letters in a topic: value -> reason header, every copy (at least once).
std::multimap<std::string, std::string> dead_letters(const std::string& topic);

}  // namespace kamwatch::testing::fault
