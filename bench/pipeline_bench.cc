// End-to-end pipeline benchmark on the real broker: pre-fills a topic, then measures how fast
// `kamwatch run` consumes it to lag 0 with state in RocksDB, and how fast kcat reads the same
// topic to /dev/null (the raw baseline). Not a test: prints figures.
//
//   build/release/bench/kamwatch_pipeline_bench [--events N] [--accounts N] [--partitions N]
//                                              [--rules DIR]   (default: no rules)
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"
#include "workload.h"

using namespace kamwatch::testing;
using Clock = std::chrono::steady_clock;

namespace {

long peak_rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 1000000;
  int accounts = 10000, partitions = 4;
  std::string rules_dir;  // empty: the pipeline alone, no rules
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rules")) rules_dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--events")) events = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--accounts")) accounts = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--partitions")) partitions = std::stoi(argv[i + 1]);
  }
  const std::string topic = unique_name("kw-bench-events");
  const std::string dlq = unique_name("kw-bench-dlq");
  create_topic(topic, partitions);
  create_topic(dlq, 1);
  WorkloadOptions wo;
  wo.events = events;
  wo.accounts = accounts;
  wo.malformed = 0.001;
  wo.duplicates = 0.001;
  wo.late = 0;
  std::printf("bench: generating %zu events for %d accounts\n", events, accounts);
  Workload w = make_workload(wo);
  const std::size_t total = w.messages.size();
  auto t = Clock::now();
  produce(topic, w.messages);
  std::printf("bench: produced %zu messages in %.1f s\n", total,
              std::chrono::duration<double>(Clock::now() - t).count());
  w.messages.clear();
  w.messages.shrink_to_fit();
  const auto marks = high_watermarks(topic, partitions);

  // Raw baseline: kcat reading the whole topic to /dev/null.
  t = Clock::now();
  const std::string kcat = "kcat -C -b " + broker() + " -t " + topic +
                           " -e -q -o beginning -X fetch.message.max.bytes=8000000 > /dev/null";
  if (std::system(kcat.c_str()) != 0) std::printf("bench: kcat failed\n");
  const double kcat_s = std::chrono::duration<double>(Clock::now() - t).count();

  const std::string dir = temp_dir("kw-bench");
  if (rules_dir.empty()) {
    rules_dir = dir + "/no-rules";
    std::filesystem::create_directories(rules_dir);
  }
  {
    std::ofstream f(dir + "/kamwatch.yaml");
    f << "kafka:\n  brokers: " << broker() << "\n  topics: [" << topic
      << "]\n  group: " << unique_name("kw-bench-group") << "\n  dead_letter_topic: " << dlq
      << "\nstate:\n  data_dir: " << dir << "/data\nrules:\n  dir: " << rules_dir
      << "\nlog:\n  level: warn\n";
  }
  Daemon d({"run", "--config", dir + "/kamwatch.yaml"}, dir + "/kamwatch.log");
  const auto started = Clock::now();
  d.start();
  // From the first stored progress to lag 0 (excludes process start and the group join).
  Clock::time_point first{};
  std::int64_t first_sum = 0;
  const std::int64_t end_sum = [&] {
    std::int64_t s = 0;
    for (auto m : marks) s += m;
    return s;
  }();
  long rss = 0;
  double cpu = 0;
  for (;;) {
    std::int64_t sum = 0;
    for (const auto& [p, o] : stored_offsets(dir + "/data", topic)) sum += o;
    if (sum > 0 && first == Clock::time_point{}) {
      first = Clock::now();
      first_sum = sum;
    }
    rss = std::max(rss, peak_rss_kib(d.pid()));
    cpu = cpu_seconds(d.pid());
    if (sum >= end_sum) break;
    if (Clock::now() - started > std::chrono::minutes(20)) {
      std::printf("bench: timed out\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto done = Clock::now();
  const double steady_s = std::chrono::duration<double>(done - first).count();
  const double wall_s = std::chrono::duration<double>(done - started).count();
  d.signal(SIGTERM);
  d.wait(std::chrono::seconds(60));
  const double kamwatch_rate = static_cast<double>(end_sum - first_sum) / steady_s;
  const double kcat_rate = static_cast<double>(total) / kcat_s;
  std::printf("\n| measure | value |\n|---|---|\n");
  std::printf("| messages in topic | %zu (%d partitions, %d accounts) |\n", total, partitions,
              accounts);
  std::printf("| rules | %s |\n", rules_dir.find("/no-rules") != std::string::npos
                                      ? "none (pipeline alone)"
                                      : rules_dir.c_str());
  std::printf("| kamwatch run, first commit to lag 0 | %.2f s, %.0f events/s |\n", steady_s,
              kamwatch_rate);
  std::printf("| kamwatch run, process start to lag 0 | %.2f s, %.0f events/s |\n", wall_s,
              static_cast<double>(total) / wall_s);
  std::printf("| kcat -C -e -q to /dev/null | %.2f s, %.0f msgs/s |\n", kcat_s, kcat_rate);
  std::printf("| ratio kamwatch / kcat | %.2f |\n", kamwatch_rate / kcat_rate);
  std::printf("| kamwatch CPU per event | %.2f us |\n", cpu * 1e6 / static_cast<double>(total));
  std::printf("| kamwatch peak RSS | %.0f MiB |\n", static_cast<double>(rss) / 1024.0);
  std::filesystem::remove_all(dir);
  return 0;
}
