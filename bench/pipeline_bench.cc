// End-to-end pipeline benchmark on the real broker: pre-fills a topic, then measures how fast
// `kamwatch run` consumes it to lag 0 with state in RocksDB, and how fast kcat reads the same
// topic to /dev/null (the raw baseline). Not a test: prints figures.
//
//   build/release/bench/kamwatch_pipeline_bench [--events N] [--accounts N] [--days N]
//       [--partitions N] [--workload sim|uniform] [--rules DIR | --no-rules]
//       [--batch N] [--runs N] [--compare BINARY]
//       [--perf FILE [--perf-seconds 30] [--perf-delay 5]]
//
// Workloads: `sim` (default) is the simulated portfolio (daemon/sim: the catalog's realistic
// mix, in event-time order, ending now) for --accounts accounts over --days days (default:
// enough days for --events at the portfolio's ~1.6 events per account and day); it is
// generated and produced in chunks, so memory stays small. `uniform` is the integration tests'
// workload (uniform over 8 types, 0.1% malformed and 0.1% duplicates, times in 2025), held in
// memory. Rules: the shipped packs (rules/) unless --rules or --no-rules. --perf FILE records
// `perf record --call-graph dwarf` of the kamwatch process for --perf-seconds, starting
// --perf-delay s after the first commit (if it reaches lag 0 sooner, the bench waits for perf to
// finish).
// --batch sets kafka.batch_max_events (default: kamwatch's). --runs N runs kamwatch N times over
// the same topic (fresh state each time) and reports medians; --compare BINARY runs that build
// too, alternating with the one under test in ABBA order, and reports the ratio of the medians.
// Progress is read from the consumer group's committed offsets (kamwatch commits them, for
// monitoring, right after each RocksDB commit), so watching costs the daemon nothing.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "core/time.h"
#include "flags.h"
#include "harness.h"
#include "proc_stats.h"
#include "sim/simulator.h"
#include "workload.h"

using namespace kamwatch::testing;
using kamwatch::bench::cpu_seconds;
using kamwatch::bench::peak_rss_kib;
using Clock = std::chrono::steady_clock;

namespace {

// Sum of the offsets the consumer group committed on the topic (0 while none).
std::int64_t committed_sum(GroupOffsets& group, const std::string& topic, int partitions) {
  std::int64_t sum = 0;
  for (std::int64_t o : group.committed(topic, partitions))
    if (o > 0) sum += o;
  return sum;
}

// Generates and produces the workload; returns the number of messages produced.
std::size_t fill(const std::string& topic, const std::string& workload, std::size_t events,
                 int accounts, int days) {
  constexpr std::size_t kChunk = 500000;
  if (workload == "uniform") {
    WorkloadOptions wo;
    wo.events = events;
    wo.accounts = accounts;
    wo.malformed = 0.001;
    wo.duplicates = 0.001;
    wo.late = 0;
    Workload w = make_workload(wo);
    produce(topic, w.messages);
    return w.messages.size();
  }
  kamwatch::sim::SimOptions o;
  o.accounts = accounts;
  o.days = days;
  o.end =
      kamwatch::floor_to(kamwatch::TimeMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()),
                         kamwatch::kDayMs);
  std::vector<Message> chunk;
  std::size_t total = 0;
  auto flush = [&] {
    produce(topic, chunk);
    total += chunk.size();
    chunk.clear();
  };
  kamwatch::sim::simulate(
      o,
      [&](const kamwatch::sim::SimEvent& e) {
        chunk.push_back({e.account, e.json, {}});
        if (chunk.size() >= kChunk) flush();
      },
      nullptr);
  flush();
  return total;
}

pid_t start_perf(pid_t target, const std::string& out, int seconds) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string p = std::to_string(target);
    const std::string s = std::to_string(seconds);
    // DWARF unwinding: the release build keeps no frame pointers. 99 Hz keeps the file small.
    execlp("perf", "perf", "record", "--call-graph", "dwarf,8192", "-F", "199", "-p", p.c_str(),
           "-o", out.c_str(), "--", "sleep", s.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// What one kamwatch run measured.
struct Run {
  std::string binary;
  double steady_s = 0;  // first commit to lag 0
  double wall_s = 0;    // process start to lag 0
  double rate = 0;      // events/s, first commit to lag 0
  double cpu_us = 0;    // CPU per event, process start to lag 0
  double rss_mib = 0;   // peak
  bool ok = false;
};

// What every run shares: the topic and kamwatch's settings.
struct RunSetup {
  std::string topic;
  std::string dlq;
  int partitions = 0;
  std::int64_t end_sum = 0;  // sum of the topic's high watermarks
  std::size_t total = 0;     // messages in the topic
  std::string rules_dir;     // "" = no rules
  std::size_t batch = 0;
  std::size_t threads = 0;  // ingest.threads; 0 = kamwatch's default
  std::string perf_out;     // "" = no profile
  int perf_seconds = 0;
  int perf_delay = 0;
};

// One `kamwatch run` of binary over the whole topic, with a fresh state directory and group;
// ok is false when it did not reach lag 0 within 30 minutes.
Run run_kamwatch(const RunSetup& setup, const std::string& binary) {
  Run out;
  out.binary = binary;
  ::setenv("KAMWATCH_BINARY_OVERRIDE", binary.c_str(), 1);  // read by Daemon::start
  const std::string dir = temp_dir("kw-bench");
  std::string rules_dir = setup.rules_dir;
  if (rules_dir.empty()) {
    rules_dir = dir + "/no-rules";
    std::filesystem::create_directories(rules_dir);
  }
  const std::string group = unique_name("kw-bench-group");
  {
    std::ofstream f(dir + "/kamwatch.yaml");
    f << "kafka:\n  brokers: " << broker() << "\n  topics: [" << setup.topic
      << "]\n  group: " << group
      << (setup.batch ? "\n  batch_max_events: " + std::to_string(setup.batch) : std::string())
      << "\n  dead_letter_topic: " << setup.dlq << "\nstate:\n  data_dir: " << dir
      << "/data\nrules:\n  dir: " << rules_dir << "\nlog:\n  level: warn\n"
      << (setup.threads ? "ingest:\n  threads: " + std::to_string(setup.threads) + "\n"
                        : std::string());
  }
  GroupOffsets reader(group);
  Daemon d({"run", "--config", dir + "/kamwatch.yaml"}, dir + "/kamwatch.log");
  const auto started = Clock::now();
  d.start();
  pid_t perf = -1;
  // From the first committed progress to lag 0 (excludes process start and the group join).
  Clock::time_point first{};
  std::int64_t first_sum = 0;
  long rss = 0;
  double cpu = 0;
  for (;;) {
    const std::int64_t sum = committed_sum(reader, setup.topic, setup.partitions);
    if (sum > 0 && first == Clock::time_point{}) {
      first = Clock::now();
      first_sum = sum;
    }
    // The profile starts --perf-delay s into the steady state (a warm cache, a non-empty store).
    if (!setup.perf_out.empty() && perf < 0 && first != Clock::time_point{} &&
        Clock::now() - first > std::chrono::seconds(setup.perf_delay))
      perf = start_perf(d.pid(), setup.perf_out, setup.perf_seconds);
    rss = std::max(rss, peak_rss_kib(d.pid()));
    cpu = cpu_seconds(d.pid());
    if (sum >= setup.end_sum) break;
    if (Clock::now() - started > std::chrono::minutes(30)) {
      std::printf("bench: %s timed out\n", binary.c_str());
      std::filesystem::remove_all(dir);
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto done = Clock::now();
  if (perf > 0) waitpid(perf, nullptr, 0);  // ends by itself after --perf-seconds
  out.steady_s = std::chrono::duration<double>(done - first).count();
  out.wall_s = std::chrono::duration<double>(done - started).count();
  d.signal(SIGTERM);
  d.wait(std::chrono::seconds(60));
  // The committed group offsets follow the RocksDB commits; check the store agrees.
  std::int64_t stored = 0;
  for (const auto& [p, o] : stored_offsets(dir + "/data", setup.topic)) stored += o;
  if (stored != setup.end_sum)
    std::printf("bench: WARNING stored offsets sum %lld != end %lld\n",
                static_cast<long long>(stored), static_cast<long long>(setup.end_sum));
  out.rate = static_cast<double>(setup.end_sum - first_sum) / out.steady_s;
  out.cpu_us = cpu * 1e6 / static_cast<double>(setup.total);
  out.rss_mib = static_cast<double>(rss) / 1024.0;
  out.ok = true;
  std::filesystem::remove_all(dir);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 5000000;
  int accounts = 100000, partitions = 4, days = 0;
  std::string rules_dir = std::string(KAMWATCH_SOURCE_DIR) + "/rules";
  std::string workload = "sim", perf_out;
  int perf_seconds = 30, perf_delay = 5;
  std::size_t batch = 0;    // kafka.batch_max_events; 0 = kamwatch's default
  std::size_t threads = 0;  // ingest.threads; 0 = kamwatch's default
  bool no_rules = false;
  int runs = 1;
  std::string compare;  // --compare: a second kamwatch binary
  kamwatch::bench::Flags flags(
      "kamwatch_pipeline_bench",
      "Pre-fills a topic, then measures kcat reading it to /dev/null and `kamwatch run` consuming\n"
      "it to lag 0 with state in RocksDB: events/s of both and their ratio, kamwatch's CPU per\n"
      "event and peak RSS. Broker: KAMWATCH_TEST_BROKERS, else scripts/kafka.sh starts one.\n"
      "KAMWATCH_BINARY_OVERRIDE: the kamwatch binary to run (default: this build's).");
  flags.add("--events", &events, "N", "events to produce (default 5000000)", std::size_t{1});
  flags.add("--accounts", &accounts, "N", "accounts they belong to (default 100000)", 1);
  flags.add("--days", &days, "N",
            "days of history (sim; default: --events at ~1.6 per account and day)", 0);
  flags.add("--partitions", &partitions, "N", "partitions of the input topic (default 4)", 1);
  flags.add("--workload", "sim|uniform",
            "sim: the catalog's mix (default); uniform: the integration tests'",
            [&](std::string_view v) -> std::string {
              if (v != "sim" && v != "uniform") return "must be sim or uniform";
              workload = std::string(v);
              return "";
            });
  flags.add("--rules", &rules_dir, "DIR", "rule packs to load (default: the shipped rules/)");
  flags.add("--no-rules", &no_rules, "run without rules");
  flags.add("--batch", &batch, "N", "kafka.batch_max_events (default: kamwatch's)", std::size_t{1});
  flags.add("--threads", &threads, "N",
            "ingest.threads of the build under test (default: kamwatch's; not given to --compare)",
            std::size_t{1}, std::size_t{64});
  flags.add("--runs", &runs, "N",
            "kamwatch runs over the same topic (per build); the table gives medians (1)", 1);
  flags.add("--compare", &compare, "BINARY",
            "also run this kamwatch build (a baseline), the two alternating ABBA");
  flags.add("--perf", &perf_out, "FILE", "record `perf record --call-graph dwarf` of kamwatch");
  flags.add("--perf-seconds", &perf_seconds, "S", "seconds to record (default 30)", 1);
  flags.add("--perf-delay", &perf_delay, "S", "start recording S s after the first commit (5)", 0);
  if (const int code = flags.parse(argc, argv); code >= 0) return code;
  if (no_rules) rules_dir.clear();
  no_rules = rules_dir.empty();
  // The simulated portfolio has about 1.6 events per account and day (daemon/sim/README.md).
  if (days == 0) days = static_cast<int>(std::ceil(static_cast<double>(events) / (1.6 * accounts)));
  const std::string topic = unique_name("kw-bench-events");
  const std::string dlq = unique_name("kw-bench-dlq");
  create_topic(topic, partitions);
  create_topic(dlq, 1);
  if (workload == "sim")
    std::printf("bench: simulating %d accounts over %d days, producing in chunks\n", accounts,
                days);
  else
    std::printf("bench: generating %zu uniform events for %d accounts\n", events, accounts);
  auto t = Clock::now();
  const std::size_t total = fill(topic, workload, events, accounts, days);
  std::printf("bench: produced %zu messages in %.1f s\n", total,
              std::chrono::duration<double>(Clock::now() - t).count());
  const auto marks = high_watermarks(topic, partitions);

  // Raw baseline: kcat reading the whole topic to /dev/null.
  rusage before{};
  getrusage(RUSAGE_CHILDREN, &before);
  t = Clock::now();
  const std::string kcat = "kcat -C -b " + broker() + " -t " + topic +
                           " -e -q -o beginning -X fetch.message.max.bytes=8000000 > /dev/null";
  if (std::system(kcat.c_str()) != 0) std::printf("bench: kcat failed\n");
  const double kcat_s = std::chrono::duration<double>(Clock::now() - t).count();
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  const double kcat_cpu =
      secs(after.ru_utime) + secs(after.ru_stime) - secs(before.ru_utime) - secs(before.ru_stime);

  RunSetup setup;
  setup.topic = topic;
  setup.dlq = dlq;
  setup.partitions = partitions;
  for (auto m : marks) setup.end_sum += m;
  setup.total = total;
  setup.rules_dir = rules_dir;
  setup.batch = batch;
  setup.threads = threads;
  setup.perf_seconds = perf_seconds;
  setup.perf_delay = perf_delay;
  // The runs alternate between the builds in ABBA order, so a drift of the machine over the
  // runs (it happens: tens of percent over an afternoon) weighs on both alike.
  const std::string binary = kamwatch_binary();
  std::vector<std::string> order;
  for (int r = 0; r < runs; ++r) {
    const bool swap = !compare.empty() && r % 2 == 1;
    order.push_back(swap ? compare : binary);
    if (!compare.empty()) order.push_back(swap ? binary : compare);
  }
  std::vector<Run> done;
  for (std::size_t i = 0; i < order.size(); ++i) {
    setup.perf_out = i == 0 ? perf_out : "";  // the first run of the build under test
    std::printf("bench: run %zu of %zu: %s\n", i + 1, order.size(), order[i].c_str());
    std::fflush(stdout);
    RunSetup one = setup;
    if (order[i] != binary) one.threads = 0;  // --threads is for the build under test
    Run r = run_kamwatch(one, order[i]);
    if (!r.ok) return 1;
    std::printf("bench: %.0f events/s, %.2f us CPU per event, peak RSS %.0f MiB\n", r.rate,
                r.cpu_us, r.rss_mib);
    done.push_back(std::move(r));
  }
  const auto figures = [&](const std::string& b, double Run::*field) {
    std::vector<double> v;
    for (const Run& r : done)
      if (r.binary == b) v.push_back(r.*field);
    return v;
  };
  const auto listed = [](const std::vector<double>& v, const char* format) {
    std::string out;
    char buf[64];
    for (double x : v) {
      std::snprintf(buf, sizeof buf, format, x);
      out += (out.empty() ? "" : ", ") + std::string(buf);
    }
    return out;
  };
  const double kcat_rate = static_cast<double>(total) / kcat_s;
  const bool several = runs > 1;
  std::printf("\n| measure | value |\n|---|---|\n");
  std::printf("| messages in topic | %zu (%s workload, %d partitions, %d accounts) |\n", total,
              workload.c_str(), partitions, accounts);
  std::printf("| rules | %s |\n", no_rules ? "none (pipeline alone)" : rules_dir.c_str());
  std::printf("| kcat -C -e -q to /dev/null | %.2f s, %.0f msgs/s, CPU %.2f us/msg |\n", kcat_s,
              kcat_rate, kcat_cpu * 1e6 / static_cast<double>(total));
  for (const std::string& b : {binary, compare}) {
    if (b.empty()) continue;
    const std::string who = compare.empty() ? "kamwatch" : "kamwatch (" + b + ")";
    const auto rates = figures(b, &Run::rate);
    const auto steady = figures(b, &Run::steady_s);
    const auto wall = figures(b, &Run::wall_s);
    const auto cpu = figures(b, &Run::cpu_us);
    const auto rss = figures(b, &Run::rss_mib);
    const char* m = several ? "median " : "";
    std::printf("| %s, first commit to lag 0 | %s%.2f s, %.0f events/s%s |\n", who.c_str(), m,
                median(steady), median(rates),
                several ? (" (runs: " + listed(rates, "%.0f") + ")").c_str() : "");
    std::printf("| %s, process start to lag 0 | %s%.2f s, %.0f events/s |\n", who.c_str(), m,
                median(wall), static_cast<double>(total) / median(wall));
    std::printf("| %s: ratio to kcat | %.2f |\n", who.c_str(), median(rates) / kcat_rate);
    std::printf("| %s, CPU per event (process start to lag 0) | %s%.2f us%s |\n", who.c_str(), m,
                median(cpu), several ? (" (runs: " + listed(cpu, "%.2f") + ")").c_str() : "");
    std::printf("| %s, peak RSS | %s%.0f MiB |\n", who.c_str(), m, median(rss));
  }
  if (!compare.empty())
    std::printf("| under test / compared, median events/s | %.3f |\n",
                median(figures(binary, &Run::rate)) / median(figures(compare, &Run::rate)));
  return 0;
}
