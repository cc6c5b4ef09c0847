#pragma once
// Helpers for integration tests against the real Kafka broker (scripts/kafka.sh) and the real
// kamwatch binary: topics, producing, consuming, watermarks, and daemon processes.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct rd_kafka_s;  // librdkafka's rd_kafka_t

namespace kamwatch::testing {

// The broker to test against: $KAMWATCH_TEST_BROKERS, else the project's broker, started on
// demand with scripts/kafka.sh.
std::string broker();
// Sanitizer builds run several times slower than release. Deadlines of waits for something to
// happen (kamwatch ready, caught up, an alert delivered, a process exited) are multiplied by
// time_scale(): $KAMWATCH_TEST_TIME_SCALE, else the build's KAMWATCH_TEST_TIME_SCALE (1; the
// asan preset 2, tsan 3). eventually(), wait_caught_up(), Daemon::wait() and
// HttpReceiver::wait_for() apply it themselves. Never for durations a test asserts on.
double time_scale();
std::chrono::milliseconds scaled(std::chrono::milliseconds timeout);

// A name no earlier run used: prefix-<time>-<pid>.
std::string unique_name(const std::string& prefix);
// A fresh temporary directory (removed by the caller when it wants).
std::string temp_dir(const std::string& prefix);

void create_topic(const std::string& topic, int partitions);

struct Message {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};
// Produces in order with an idempotent producer; fails the test unless every message is acked.
void produce(const std::string& topic, const std::vector<Message>& messages);

// Next offset to be written, per partition.
std::vector<std::int64_t> high_watermarks(const std::string& topic, int partitions);

// The offsets a consumer group committed (what lag monitoring reads), through one client kept
// for repeated reads.
class GroupOffsets {
 public:
  explicit GroupOffsets(const std::string& group);
  ~GroupOffsets();
  GroupOffsets(const GroupOffsets&) = delete;
  GroupOffsets& operator=(const GroupOffsets&) = delete;
  // Per partition: the committed next offset, -1 when none (or the broker did not answer).
  std::vector<std::int64_t> committed(const std::string& topic, int partitions);

 private:
  ::rd_kafka_s* rk_;
};

struct Consumed {
  std::string key;
  std::string value;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::map<std::string, std::string> headers;
};
// Reads every partition from the beginning until `count` messages arrived or timeout.
std::vector<Consumed> consume(const std::string& topic, int partitions, std::size_t count,
                              std::chrono::seconds timeout);

// A kamwatch child process; its stderr goes to log_path.
class Daemon {
 public:
  // env: variables added to the inherited environment (e.g. fault hooks).
  Daemon(std::vector<std::string> args, std::string log_path,
         std::vector<std::pair<std::string, std::string>> env = {});
  ~Daemon();
  void start();
  void signal(int sig);
  // Waits for exit (timeout scaled); returns the exit status (or 128+signal).
  int wait(std::chrono::seconds timeout);
  // The exit status (or 128+signal) if the process has exited (it is reaped then), else
  // nullopt (also when it was never started).
  std::optional<int> try_wait();
  [[nodiscard]] bool running() const { return pid_ > 0; }
  [[nodiscard]] const std::string& log_path() const { return log_path_; }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> args_;
  std::string log_path_;
  std::vector<std::pair<std::string, std::string>> env_;
  pid_t pid_ = -1;
};

// The kamwatch binary under test ($KAMWATCH_BINARY_OVERRIDE when set, else this build's).
std::string kamwatch_binary();

// Positions stored in the state directory (read-only open; works while the daemon runs).
// Empty when the directory does not exist yet.
std::map<std::int32_t, std::int64_t> stored_offsets(const std::string& data_dir,
                                                    const std::string& topic);

// Waits until the stored offsets reach the watermarks; false on timeout (scaled).
bool wait_caught_up(const std::string& data_dir, const std::string& topic,
                    const std::vector<std::int64_t>& watermarks, std::chrono::seconds timeout);

}  // namespace kamwatch::testing
