// `kamwatch demo`: embedded Kafka + simulated portfolio + the real pipeline, in one process.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/cli.h"
#include "app/commands.h"
#include "app/daemon.h"
#include "core/clock.h"
#include "core/log.h"
#include "ingest/kafka.h"
#include "sim/simulator.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

constexpr const char* kDemoHelp =
    R"(Usage: kamwatch demo [--accounts N] [--days N] [--data DIR] [--duration D] [--http ADDR]

Starts an in-process Kafka cluster, produces a simulated portfolio ending today (the same
simulator as 'kamwatch simulate': Pareto-skewed accounts, usage, orders, tickets, surveys,
meetings, a few accounts sliding toward churn or a competitor, a few ready to grow, and five
malformed events), runs the kamwatch pipeline with the rules in ./rules on it, prints every
alert as it fires, and a summary of the accounts. Keeps running until Ctrl-C, or for
--duration (e.g. 30s).

Flags:
  --accounts N     accounts to simulate (default 40)
  --days N         days of history, ending today (default 400)
  --data DIR       state directory (default: a fresh temporary directory)
  --duration D     stop after this long (default: run until Ctrl-C)
  --http ADDR      the API and metrics address (default 127.0.0.1:9470; :0 picks a free port)
  --log-level L    the daemon's JSON log on stderr: debug, info, warn (default), error

Example:
  kamwatch demo --accounts 20 --duration 20s
)";

void print_summary(const std::string& data_dir) {
  state::StoreOptions opts;
  opts.path = data_dir;
  opts.read_only = true;
  opts.create_if_missing = false;
  auto store = state::RocksDbStore::open(opts);
  if (!store.ok()) return;
  std::printf("\n%-10s %-24s %-24s %7s %12s %8s %10s\n", "account", "name", "kam", "events",
              "revenue", "tickets", "users/day");
  auto r = (*store)->for_each_account([](const model::AccountState& s) {
    auto str = [&](const char* k) {
      auto it = s.profile.find(k);
      return it == s.profile.end() ? std::string("-") : it->second.text;
    };
    double revenue = 0, users = 0;
    std::int64_t tickets = 0, days = 0;
    if (auto t = s.types.find("sales.order"); t != s.types.end())
      if (auto f = t->second.fields.find("amount"); f != t->second.fields.end())
        revenue = f->second.sum;
    if (auto t = s.types.find("support.ticket"); t != s.types.end()) tickets = t->second.count;
    if (auto t = s.types.find("usage.activity"); t != s.types.end())
      if (auto f = t->second.fields.find("active_users"); f != t->second.fields.end()) {
        users = f->second.sum;
        days = f->second.count;
      }
    std::printf("%-10s %-24s %-24s %7lld %12.0f %8lld %10.1f\n", s.id.c_str(), str("name").c_str(),
                str("kam").c_str(), static_cast<long long>(s.applied), revenue,
                static_cast<long long>(tickets), days ? users / static_cast<double>(days) : 0.0);
    return true;
  });
  (void)r;
  std::fflush(stdout);
}

}  // namespace

int cmd_demo(const Argv& argv) {
  auto args = parse_args(
      argv, FlagSpec{{"accounts", "days", "data", "duration", "http", "log-level"}, {"help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "kamwatch: %s (see kamwatch demo --help)\n", args.error().message.c_str());
    return 2;
  }
  if (args->has("help")) {
    std::fputs(kDemoHelp, stdout);
    return 0;
  }
  sim::SimOptions so;
  so.accounts = 40;
  so.days = 400;
  try {
    if (auto v = args->get("accounts")) so.accounts = std::stoi(*v);
    if (auto v = args->get("days")) so.days = std::stoi(*v);
  } catch (const std::exception&) {
    std::fprintf(stderr, "kamwatch: --accounts and --days take whole numbers\n");
    return 2;
  }
  TimeMs duration = 0;
  if (auto v = args->get("duration")) {
    auto d = parse_duration(*v);
    if (!d) {
      std::fprintf(stderr, "kamwatch: --duration takes a duration such as 30s or 2m\n");
      return 2;
    }
    duration = *d;
  }
  std::string data = args->get("data").value_or("");
  bool temp_data = false;
  if (data.empty()) {
    char tmpl[] = "/tmp/kamwatch-demo-XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::perror("kamwatch: mkdtemp");
      return 1;
    }
    data = tmpl;
    temp_data = true;
  }

  // A simulated portfolio ending today (so live, wall-clock rules see it as current), with a
  // few malformed events as real producers sometimes send, to show the dead-letter path.
  so.end = floor_to(SystemClock().now(), kDayMs) + kDayMs;
  if (auto v = sim::validate(so); !v.ok()) {
    std::fprintf(stderr, "kamwatch: %s\n", v.error().message.c_str());
    return 2;
  }
  struct Message {
    std::string key, value;
  };
  std::vector<Message> portfolio;
  sim::simulate(
      so,
      [&](const sim::SimEvent& e) {
        portfolio.push_back({e.account, e.json});
      },
      nullptr);
  static const char* kBroken[] = {
      R"({"specversion":"1.0","id":"bad-1","source":"demo","type":"sales.order","time":"2026-01-01T00:00:00Z","subject":"ACME-0001","data":{"amount":"lots"}})",
      R"({"specversion":"1.0","id":"bad-2","source":"demo","type":"usage.activity","time":"yesterday","subject":"ACME-0002","data":{"active_users":5}})",
      R"({"specversion":"1.0","id":"bad-3","source":"demo","type":"support.ticket","subject":"ACME-0003","data":{}})",
      R"({"specversion":"1.0","id":"bad-4","source":"demo","type":"sales.order","time":"2026-01-01T00:00:00Z","subject":"ACME-0004","data":{"amount":12)",
      R"({"specversion":"1.0","id":"bad-5","source":"demo","type":"survey.nps","time":"2026-01-01T00:00:00Z","subject":"ACME-0005","data":[7]})",
  };
  for (int i = 0; i < 5; ++i)
    portfolio.insert(portfolio.begin() + static_cast<long>(portfolio.size() * (i + 1) / 6),
                     Message{"ACME-000" + std::to_string(i + 1), kBroken[i]});
  const std::size_t valid = portfolio.size() - 5;

  // The demo's own lines tell the story; the daemon's JSON log only shows problems.
  if (!log::set_level(args->get("log-level").value_or("warn"))) {
    std::fprintf(stderr, "kamwatch: --log-level takes debug, info, warn or error\n");
    return 2;
  }
  config::Config cfg;
  cfg.kafka.brokers = "embedded";
  cfg.state.data_dir = data;
  if (auto v = args->get("http")) cfg.http.listen = *v;
  const auto& stop_signal = install_stop_signals();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> applied{0};
  std::thread producer;
  DaemonHooks hooks;
  hooks.on_ready = [&](const std::string& bootstrap, const std::string& http_url) {
    std::printf("kamwatch demo: embedded Kafka at %s, state in %s\n", bootstrap.c_str(),
                data.c_str());
    std::printf("kamwatch demo: API %s/api/v1/alerts  %s/api/v1/accounts  metrics %s/metrics\n",
                http_url.c_str(), http_url.c_str(), http_url.c_str());
    std::printf(
        "kamwatch demo: producing %zu events for %d accounts over %d days (%zu malformed)\n",
        portfolio.size(), so.accounts, so.days, portfolio.size() - valid);
    std::fflush(stdout);
    producer = std::thread([&, bootstrap] {
      auto p = ingest::open_kafka_producer({bootstrap, {}});
      if (!p.ok()) {
        log::error("demo producer failed", {{"error", p.error().message}});
        return;
      }
      std::vector<ingest::ProduceRecord> records;
      for (const auto& m : portfolio) records.push_back({cfg.kafka.topics[0], m.key, m.value, {}});
      const auto ok = (*p)->deliver(records, 60000);
      std::size_t n = 0;
      for (bool b : ok) n += b;
      std::printf("kamwatch demo: %zu events produced\n", n);
      std::fflush(stdout);
    });
  };
  bool summarised = false;
  hooks.on_batch = [&](std::uint64_t total) { applied.store(total); };
  hooks.on_transitions = [](const std::vector<engine::AlertTransition>& ts) {
    for (const engine::AlertTransition& t : ts) {
      auto label = [&](const char* k) {
        auto it = t.labels.find(k);
        return it == t.labels.end() ? std::string("-") : it->second;
      };
      auto summary = t.annotations.find("summary");
      std::string evidence;
      for (const auto& [k, v] : t.evidence) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s=%.4g", evidence.empty() ? "" : ", ", k.c_str(), v);
        evidence += buf;
      }
      std::printf("ALERT %-8s %-22s %-10s %-8s %-9s kam %s\n      %s\n",
                  std::string(t.status_text()).c_str(), t.alert.c_str(), t.account.c_str(),
                  label("signal").c_str(), label("severity").c_str(), label("kam").c_str(),
                  summary == t.annotations.end() ? "" : summary->second.c_str());
      if (!evidence.empty()) std::printf("      evidence: %s\n", evidence.c_str());
    }
    std::fflush(stdout);
  };
  const auto started = std::chrono::steady_clock::now();
  std::thread watcher([&] {
    while (!stop.load()) {
      if (stop_signal.load()) stop.store(true);
      if (duration > 0 &&
          std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(duration))
        stop.store(true);
      if (!summarised && applied.load() >= valid) {
        summarised = true;
        std::printf("kamwatch demo: all %zu valid events applied; dead letters on topic %s\n",
                    valid, cfg.kafka.dead_letter_topic.c_str());
        print_summary(data);
        std::printf(
            "\nkamwatch demo: inspect an account with: kamwatch state show ACME-0001 --data %s\n"
            "kamwatch demo: running; press Ctrl-C to stop\n",
            data.c_str());
        std::fflush(stdout);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto result = run_daemon(cfg, stop, hooks);
  stop.store(true);
  watcher.join();
  if (producer.joinable()) producer.join();
  if (temp_data) std::filesystem::remove_all(data);
  if (!result.ok()) {
    log::error("demo failed", {{"error", result.error().to_string()}});
    return 1;
  }
  std::printf("kamwatch demo: stopped\n");
  return 0;
}

}  // namespace kamwatch::app
