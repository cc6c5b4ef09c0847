// Alert latency on the real broker: events are produced at a fixed rate, and for the probe
// events among them (a critical ticket on a fresh account, which fires a one-event rule) the
// time from produce to the alert arriving on the Kafka alerts topic is measured. Not a test:
// prints p50/p99/max per rate.
//
//   build/release/bench/kamwatch_latency_bench [--rates 20000,100000] [--seconds 20]
//                                              [--probes-per-second 200] [--timeline]
//                                              [--dump FILE] [--raw-baseline]
//
// Background traffic is usage.activity on 20,000 accounts (the rule does not read it, as most
// traffic does not fire anything); probes are support.ticket events with severity 1, each on
// an account of its own, so each one fires `CriticalTicket` once. Times are wall-clock
// milliseconds on this machine (producer and consumer share the clock). --timeline also prints,
// per rate, p50/p99/max of the probes sent in each second (where in the run the tail comes from).
// The table also splits each probe's time at the moment its rule fired (the alert's `at`);
// --dump appends each probe's times (rate, produced, fired, received, received by the plain
// consumer or -1, the alert's Kafka timestamp (when kamwatch's forwarder produced it) or -1;
// epoch ms) to FILE.
// --raw-baseline runs a plain consumer of the input topic beside kamwatch, with kamwatch's fetch
// settings, and reports its produce-to-receive times (the floor under kamwatch's).
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "flags.h"
#include "harness.h"
#include "services.h"

using namespace kamwatch::testing;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 2h, not 1h: a window holds the hourly buckets whose start lies in it (docs/rules.md), so
// right after a full hour a 1h window holds only the new hour, and a probe produced at
// hh:59:59.99 and evaluated at hh:00:00.01 did not fire (5 of 4,000 probes once).
constexpr const char* kRule = R"(alerts:
  - alert: CriticalTicket
    expr: count(support.ticket{severity <= 1}, 2h) >= 1
    severity: critical
    labels: {signal: churn}
    summary: 'A critical ticket at {{ account.name }}'
)";

rd_kafka_t* make_producer() {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof err);
  rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err);
  return rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
}

// Reads a topic from the beginning on its own thread and records when each probe arrived:
// - kAlerts: the alerts topic; a probe account's firing alert (and the alert's `at`).
// - kRaw: the input topic itself, with kamwatch's fetch settings (kafka_source.cc): the
//   produce-to-consume floor that kamwatch's processing adds to.
class Reader {
 public:
  enum class Mode { kAlerts, kRaw };
  Reader(const std::string& topic, int partitions, Mode mode, int fetch_wait_ms = 5) : mode_(mode) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", unique_name("latency-reader").c_str(), err, sizeof err);
    if (mode == Mode::kRaw) {
      rd_kafka_conf_set(conf, "fetch.wait.max.ms", std::to_string(fetch_wait_ms).c_str(), err,
                        sizeof err);
      rd_kafka_conf_set(conf, "fetch.min.bytes", "65536", err, sizeof err);
    } else {
      rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", err, sizeof err);
    }
    rd_kafka_conf_set(conf, "fetch.error.backoff.ms", "5", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    thread_ = std::thread([this] { loop(); });
  }
  ~Reader() {
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  std::map<std::string, std::int64_t> arrivals() {
    std::lock_guard lock(mu_);
    return arrivals_;
  }
  // When the rule fired for each probe account (the alert's `at`, kamwatch's clock).
  std::map<std::string, std::int64_t> fired() {
    std::lock_guard lock(mu_);
    return fired_;
  }
  // When kamwatch's forwarder handed each probe's alert to its producer (the record's Kafka
  // timestamp).
  std::map<std::string, std::int64_t> forwarded() {
    std::lock_guard lock(mu_);
    return forwarded_;
  }

 private:
  void loop() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 20);
      if (!m) continue;
      const std::int64_t at = now_ms();
      if (!m->err && mode_ == Mode::kRaw && m->key) {
        const std::string key(static_cast<const char*>(m->key), m->key_len);
        if (key.rfind("PROBE", 0) == 0) {
          std::lock_guard lock(mu_);
          arrivals_.emplace(key, at);
        }
      } else if (!m->err && m->payload) {
        const std::string v(static_cast<const char*>(m->payload), m->len);
        const auto k = v.find("\"account\":\"");
        if (k != std::string::npos && v.find("\"status\":\"firing\"") != std::string::npos) {
          const auto start = k + 11;
          const std::string account = v.substr(start, v.find('"', start) - start);
          std::int64_t fired_at = 0;
          if (const auto a = v.find("\"at\":\""); a != std::string::npos)
            fired_at =
                kamwatch::parse_rfc3339(v.substr(a + 6, v.find('"', a + 6) - a - 6)).value_or(0);
          const std::int64_t forwarded_at = rd_kafka_message_timestamp(m, nullptr);
          std::lock_guard lock(mu_);
          arrivals_.emplace(account, at);
          if (fired_at > 0) fired_.emplace(account, fired_at);
          if (forwarded_at > 0) forwarded_.emplace(account, forwarded_at);
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  Mode mode_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, std::int64_t> fired_;
  std::map<std::string, std::int64_t> forwarded_;
  std::map<std::string, std::int64_t> arrivals_;
  std::thread thread_;
};

std::string event(const std::string& id, const std::string& type, const std::string& account,
                  std::int64_t t, const std::string& data) {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":"latency","type":")" + type +
         R"(","time":")" + kamwatch::format_rfc3339(t) + R"(","subject":")" + account +
         R"(","data":)" + data + "}";
}

void produce_one(rd_kafka_t* rk, const std::string& topic, const std::string& key,
                 const std::string& value) {
  for (;;) {
    const auto e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    rd_kafka_poll(rk, 10);
  }
}

double percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> rates = {20000, 100000};
  int seconds = 20, probes_per_second = 200;
  int fetch_wait_ms = 0;  // --fetch-wait MS: kamwatch's fetch.wait.max.ms (0: its default)
  bool timeline = false, raw_baseline = false;
  std::string dump;  // --dump FILE: one line per probe: rate, produced, fired, received, raw
                     // consumer, alert forwarded (ms; -1: none)
  kamwatch::bench::Flags flags(
      "kamwatch_latency_bench",
      "Produces events at fixed rates, with probes that fire a one-event rule, and prints\n"
      "p50/p99/max from each probe's produce time to its alert on the Kafka alerts topic, split\n"
      "at the moment the rule fired. Broker: KAMWATCH_TEST_BROKERS, else scripts/kafka.sh\n"
      "starts one. KAMWATCH_BINARY_OVERRIDE: the kamwatch binary to run (default: this build's).");
  flags.add("--rates", "R1,R2,...", "events per second, one run each (default 20000,100000)",
            [&](std::string_view v) -> std::string {
              rates.clear();
              std::stringstream in{std::string(v)};
              for (std::string r; std::getline(in, r, ',');) {
                int rate = 0;
                const std::string error =
                    kamwatch::bench::Flags::parse_int(r, 1, std::numeric_limits<int>::max(), rate);
                if (!error.empty()) return "'" + r + "': " + error;
                rates.push_back(rate);
              }
              return rates.empty() ? "no rate given" : "";
            });
  flags.add("--seconds", &seconds, "S", "seconds per rate (default 20)", 1);
  flags.add("--probes-per-second", &probes_per_second, "N", "probe events per second (200)", 1);
  flags.add("--fetch-wait", &fetch_wait_ms, "MS",
            "fetch.wait.max.ms of kamwatch and the plain consumer (default: kamwatch's)", 1);
  flags.add("--raw-baseline", &raw_baseline,
            "also time a plain consumer of the input topic (the floor)");
  flags.add("--timeline", &timeline, "also print p50/p99/max per second of each run");
  flags.add("--dump", &dump, "FILE", "append every probe's times (epoch ms) to FILE");
  if (const int code = flags.parse(argc, argv); code >= 0) return code;
  const std::string topic = unique_name("kw-latency-events");
  const std::string alerts = topic + ".alerts";
  create_topic(topic, 4);
  create_topic(alerts, 1);
  create_topic(topic + ".dlq", 1);
  const std::string dir = temp_dir("kw-latency");
  const int port = free_port();
  std::filesystem::create_directories(dir + "/rules");
  std::ofstream(dir + "/rules/latency.yaml") << kRule;
  std::ofstream(dir + "/kamwatch.yaml")
      << "kafka:\n  brokers: " << broker() << "\n  topics: [" << topic
      << "]\n  group: " << unique_name("kw-latency-group") << "\n  alerts_topic: " << alerts
      << "\n  dead_letter_topic: " << topic << ".dlq\n"
      << (fetch_wait_ms > 0
              ? "  properties: {fetch.wait.max.ms: " + std::to_string(fetch_wait_ms) + "}\n"
              : std::string())
      << "state:\n  data_dir: " << dir << "/data\nrules:\n  dir: " << dir
      << "/rules\nlog:\n  level: warn\n";
  Daemon d(
      {"run", "--config", dir + "/kamwatch.yaml", "--http", "127.0.0.1:" + std::to_string(port)},
      dir + "/kamwatch.log");
  d.start();
  Reader reader(alerts, 1, Reader::Mode::kAlerts);
  // --raw-baseline: a plain consumer of the input topic beside kamwatch.
  std::unique_ptr<Reader> raw;
  if (raw_baseline)
    raw = std::make_unique<Reader>(topic, 4, Reader::Mode::kRaw,
                                   fetch_wait_ms > 0 ? fetch_wait_ms : 5);  // kamwatch's default
  rd_kafka_t* producer = make_producer();

  // Warm-up: the first probe's alert arrives once the daemon consumes and delivers.
  produce_one(producer, topic, "WARMUP",
              event("warmup", "support.ticket", "WARMUP", now_ms(), R"({"severity":1})"));
  rd_kafka_flush(producer, 5000);
  const auto warm_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!reader.arrivals().count("WARMUP")) {
    if (std::chrono::steady_clock::now() > warm_deadline) {
      std::printf("latency: no alert within 120 s; see %s/kamwatch.log\n", dir.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  std::printf(
      "\n| rate (events/s) | events | probes | alerts received | p50 ms | p99 ms | max ms | "
      "produce to fired p50 / p99 | fired to received p50 / p99 | raw consumer p50 / p99 |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  std::uint64_t seq = 0;
  for (int rate : rates) {
    std::map<std::string, std::int64_t> sent;  // probe account -> produce time
    const std::int64_t total = static_cast<std::int64_t>(rate) * seconds;
    const std::int64_t probe_every = std::max<std::int64_t>(1, rate / probes_per_second);
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < total; ++i) {
      // Paced in 1 ms steps: event i is due at start + i / rate, and the events due within the
      // same millisecond go out together (one wake-up a millisecond, not one an event: at
      // 100,000/s a sleep per event cost the machine's other processes more than producing).
      const auto due = start + std::chrono::milliseconds(i * 1000 / rate);
      if (std::chrono::steady_clock::now() < due) {
        rd_kafka_poll(producer, 0);
        std::this_thread::sleep_until(due);
      }
      const std::string id = std::to_string(++seq);
      const std::int64_t t = now_ms();
      if (i % probe_every == 0) {
        const std::string account = "PROBE-" + std::to_string(rate) + "-" + id;
        sent[account] = t;
        produce_one(producer, topic, account,
                    event("p" + id, "support.ticket", account, t, R"({"severity":1})"));
      } else {
        const std::string account = "BG-" + std::to_string(i % 20000);
        produce_one(producer, topic, account,
                    event("b" + id, "usage.activity", account, t, R"({"active_users":12})"));
      }
    }
    rd_kafka_flush(producer, 30000);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Wait for the stragglers (up to 60 s after the last event).
    std::vector<std::int64_t> latencies;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      const auto got = reader.arrivals();
      latencies.clear();
      for (const auto& [account, t] : sent) {
        auto it = got.find(account);
        if (it != got.end()) latencies.push_back(it->second - t);
      }
      if (latencies.size() == sent.size() || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    // Where the time went: produce -> the rule fired (the alert's `at`), fired -> received.
    std::vector<std::int64_t> to_fire, to_receive;
    {
      const auto got = reader.arrivals();
      const auto fired = reader.fired();
      const auto forwarded = reader.forwarded();
      const auto raw_got = raw ? raw->arrivals() : std::map<std::string, std::int64_t>();
      std::ofstream out;
      if (!dump.empty()) out.open(dump, std::ios::app);
      for (const auto& [account, t] : sent) {
        auto f = fired.find(account);
        auto r = got.find(account);
        if (f == fired.end() || r == got.end()) continue;
        if (out.is_open()) {
          const auto w = raw_got.find(account);
          const auto a = forwarded.find(account);
          out << rate << ' ' << t << ' ' << f->second << ' ' << r->second << ' '
              << (w == raw_got.end() ? -1 : w->second) << ' '
              << (a == forwarded.end() ? -1 : a->second) << '\n';
        }
        to_fire.push_back(f->second - t);
        to_receive.push_back(r->second - f->second);
      }
    }
    std::vector<std::int64_t> to_raw;  // produce -> a plain consumer got it (--raw-baseline)
    if (raw) {
      const auto got = raw->arrivals();
      for (const auto& [account, t] : sent)
        if (auto r = got.find(account); r != got.end()) to_raw.push_back(r->second - t);
    }
    std::printf(
        "| %d (achieved %.0f) | %lld | %zu | %zu | %.0f | %.0f | %.0f | %.0f / %.0f | %.0f / %.0f "
        "| %.0f / %.0f |\n",
        rate, static_cast<double>(total) / took, static_cast<long long>(total), sent.size(),
        latencies.size(), percentile(latencies, 0.5), percentile(latencies, 0.99),
        percentile(latencies, 1.0), percentile(to_fire, 0.5), percentile(to_fire, 0.99),
        percentile(to_receive, 0.5), percentile(to_receive, 0.99), percentile(to_raw, 0.5),
        percentile(to_raw, 0.99));
    if (timeline) {
      const auto got = reader.arrivals();
      std::map<std::int64_t, std::vector<std::int64_t>> by_second;  // second of the run
      const std::int64_t first =
          sent.empty()
              ? 0
              : std::min_element(sent.begin(), sent.end(), [](const auto& a, const auto& b) {
                  return a.second < b.second;
                })->second;
      for (const auto& [account, t] : sent)
        if (auto it = got.find(account); it != got.end())
          by_second[(t - first) / 1000].push_back(it->second - t);
      std::printf("rate %d by second of the run: second p50/p99/max ms\n", rate);
      for (const auto& [second, v] : by_second)
        std::printf("  %lld: %.0f / %.0f / %.0f\n", static_cast<long long>(second),
                    percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1.0));
    }
    std::fflush(stdout);
  }
  rd_kafka_destroy(producer);
  // kamwatch's own view over the whole run: Kafka timestamp to commit, batch time and size
  // (cumulative histogram buckets).
  {
    std::istringstream metrics(http_get("http://127.0.0.1:" + std::to_string(port) + "/metrics"));
    std::map<std::string, std::string> lines;
    for (std::string line; std::getline(metrics, line);)
      for (const char* name :
           {"kamwatch_event_delay_seconds_bucket", "kamwatch_batch_duration_seconds_bucket",
            "kamwatch_batch_messages_bucket"})
        if (line.rfind(name, 0) == 0) {
          const auto le = line.find("le=\"");
          lines[name] += " " + line.substr(le + 4, line.find('"', le + 4) - le - 4) + ":" +
                         line.substr(line.rfind(' ') + 1);
        }
    for (const auto& [name, buckets] : lines)
      std::printf("%s (le:count)%s\n", name.c_str(), buckets.c_str());
  }
  d.signal(SIGTERM);
  d.wait(std::chrono::seconds(60));
  std::filesystem::remove_all(dir);
  return 0;
}
