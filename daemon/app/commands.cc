#include "app/commands.h"

#include <csignal>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/daemon.h"
#include "config/config.h"
#include "core/log.h"
#include "core/memory.h"
#include "model/account_json.h"
#include "state/rocksdb_store.h"
#include "version.h"

namespace kamwatch::app {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop.store(true); }

constexpr const char* kMainHelp = R"(kamwatch - key-account health monitoring from Kafka events

Usage: kamwatch COMMAND [FLAGS]

Commands:
  run       consume events from Kafka and keep per-account state (the daemon)
  demo      run kamwatch on an embedded Kafka with a simulated portfolio
  rules     check rule files, run rule unit tests
  replay    run rules over a history of events with an event-time clock (backtest)
  simulate  generate a realistic portfolio of events with injected scenarios
  state     inspect the state directory offline (show, list, offsets)
  report    an account's business-review page (HTML)
  config    print the configuration reference with every default
  version   print the version

Run 'kamwatch COMMAND --help' for a command's flags and examples.
)";

constexpr const char* kRunHelp = R"(Usage: kamwatch run [--config FILE] [FLAGS]

Consumes CloudEvents from Kafka as one member of a consumer group, applies each valid event
exactly once to per-account state in RocksDB (state and input offsets are written in one
atomic batch), and sends invalid or late events to the dead-letter topic with the reason.
Evaluates the rules on every change and on a timer; alert transitions go to the alerts topic,
to every Alertmanager and to webhooks (docs/alerts.md). Serves /metrics, /healthz, /readyz
and the JSON API on --http (docs/api.md). SIGHUP or POST /-/reload reloads the rules.
Stops cleanly on SIGINT/SIGTERM: the batch in flight is committed whole or not at all.

Flags (override the config file):
  --config FILE          YAML config (see 'kamwatch config reference')
  --brokers HOST:PORT,.. bootstrap servers, or 'embedded' for an in-process cluster
                         (default: embedded)
  --topics T1,T2         input topics (default: kamwatch.events)
  --group ID             consumer group id (default: kamwatch)
  --data DIR             RocksDB state directory (default: kamwatch-data)
  --rules DIR            rule files directory (default: rules)
  --http ADDR            HTTP listen address (default: 127.0.0.1:9470); off loopback,
                         POST /-/reload needs http.token_file
  --alertmanager URL,..  Alertmanager base URLs, e.g. http://127.0.0.1:9093
  --log-level LEVEL      debug, info, warn or error (default: info)

Example:
  kamwatch run --brokers 127.0.0.1:9092 --topics crm,support,usage --data /var/lib/kamwatch \
      --alertmanager http://127.0.0.1:9093
  curl -s 127.0.0.1:9470/api/v1/alerts
)";

constexpr const char* kStateHelp = R"(Usage: kamwatch state SUBCOMMAND --data DIR

Reads the state directory without changing it (works while the daemon runs).

Subcommands:
  show ACCOUNT [--buckets]   the account as JSON: profile, 'events' (applied events per
                             type, all time), per-type field aggregates; --buckets adds
                             every hourly and daily bucket
  list                       one line per account: id, applied events
  offsets                    the stored input positions (next offset per partition)

Example:
  kamwatch state show ACME-0042 --data kamwatch-data
)";

constexpr const char* kConfigHelp = R"(Usage: kamwatch config reference | kamwatch config check FILE

  reference     print every configuration option with its default and meaning
  check FILE    validate a config file; errors name the file, line and column

Examples:
  kamwatch config reference > kamwatch.yaml     # start from every default
  kamwatch config check /etc/kamwatch/kamwatch.yaml
)";

bool wants_help(const Argv& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") return true;
  return false;
}

int usage_error(const std::string& msg, const char* help) {
  std::fprintf(stderr, "kamwatch: %s\n\n%s", msg.c_str(), help);
  return 2;
}

}  // namespace

const std::atomic<bool>& install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return g_stop;
}

int cmd_version(const Argv& args) {
  if (wants_help(args)) {
    std::fputs(
        "Usage: kamwatch version\n\nPrints the version and the source revision, and the memory\n"
        "allocator the build uses (jemalloc, with its version and options in effect: MALLOC_CONF\n"
        "in the environment changes them).\n\n"
        "Example:\n  kamwatch version\n",
        stdout);
    return 0;
  }
  std::printf("kamwatch %s (%s)\nallocator: %s\n", kVersion, kRevision,
              memory::allocator_description().c_str());
  return 0;
}

int cmd_config(const Argv& args) {
  if (wants_help(args) || args.empty()) {
    std::fputs(kConfigHelp, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "reference") {
    std::fputs(config::reference_yaml().c_str(), stdout);
    return 0;
  }
  if (args[0] == "check" && args.size() == 2) {
    auto c = config::load_file(args[1]);
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.error().message.c_str());
      return 1;
    }
    std::printf("%s: ok\n", args[1].c_str());
    return 0;
  }
  return usage_error("unknown config subcommand", kConfigHelp);
}

int cmd_run(const Argv& argv) {
  if (wants_help(argv)) {
    std::fputs(kRunHelp, stdout);
    return 0;
  }
  FlagSpec spec{{"config", "brokers", "topics", "group", "data", "rules", "http", "alertmanager",
                 "log-level"},
                {"help"}};
  auto args = parse_args(argv, spec);
  if (!args.ok()) return usage_error(args.error().message, kRunHelp);
  if (!args->positional.empty())
    return usage_error("unexpected argument '" + args->positional[0] + "'", kRunHelp);
  config::Config cfg;
  if (auto path = args->get("config")) {
    auto loaded = config::load_file(*path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "kamwatch: %s\n", loaded.error().message.c_str());
      return 1;
    }
    cfg = std::move(*loaded);
  }
  auto list = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
      const auto comma = s.find(',', pos);
      const auto item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return out;
  };
  if (auto v = args->get("brokers")) cfg.kafka.brokers = *v;
  if (auto v = args->get("topics")) cfg.kafka.topics = list(*v);
  if (auto v = args->get("group")) cfg.kafka.group = *v;
  if (auto v = args->get("data")) cfg.state.data_dir = *v;
  if (auto v = args->get("rules")) {
    cfg.rules.dir = *v;
    cfg.rules.dir_explicit = true;
  }
  if (auto v = args->get("http")) cfg.http.listen = *v;
  if (auto v = args->get("alertmanager")) cfg.alerting.alertmanagers = list(*v);
  if (auto v = args->get("log-level")) cfg.log_level = *v;
  if (auto r = config::validate(cfg); !r.ok()) {
    std::fprintf(stderr, "kamwatch: %s\n", r.error().message.c_str());
    return 1;
  }
  log::set_level(cfg.log_level);
  const auto& stop = install_stop_signals();
  if (auto r = run_daemon(cfg, stop); !r.ok()) {
    log::error("kamwatch failed", {{"error", r.error().to_string()}});
    return 1;
  }
  return 0;
}

int cmd_state(const Argv& argv) {
  if (wants_help(argv)) {
    std::fputs(kStateHelp, stdout);
    return 0;
  }
  auto args = parse_args(argv, FlagSpec{{"data"}, {"help", "buckets"}});
  if (!args.ok()) return usage_error(args.error().message, kStateHelp);
  const auto& pos = args->positional;
  if (pos.empty()) return usage_error("missing subcommand", kStateHelp);
  const std::string data = args->get("data").value_or("kamwatch-data");
  state::StoreOptions opts;
  opts.path = data;
  opts.read_only = true;
  opts.create_if_missing = false;
  auto store = state::RocksDbStore::open(opts);
  if (!store.ok()) {
    std::fprintf(stderr, "kamwatch: cannot open state directory '%s': %s\n", data.c_str(),
                 store.error().message.c_str());
    return 1;
  }
  if (pos[0] == "show") {
    if (pos.size() != 2) return usage_error("state show needs one ACCOUNT", kStateHelp);
    auto account = (*store)->get_account(pos[1]);
    if (!account.ok()) {
      std::fprintf(stderr, "kamwatch: %s\n", account.error().message.c_str());
      return 1;
    }
    if (!account->has_value()) {
      std::fprintf(stderr, "kamwatch: no account '%s' in %s\n", pos[1].c_str(), data.c_str());
      return 1;
    }
    model::AccountJsonOptions jo;
    jo.buckets = args->has("buckets");
    std::printf("%s\n", model::account_json(**account, jo).c_str());
    return 0;
  }
  if (pos[0] == "list") {
    auto r = (*store)->for_each_account([](const model::AccountState& s) {
      std::printf("%s\t%lld\n", s.id.c_str(), static_cast<long long>(s.applied));
      return true;
    });
    if (!r.ok()) {
      std::fprintf(stderr, "kamwatch: %s\n", r.error().message.c_str());
      return 1;
    }
    return 0;
  }
  if (pos[0] == "offsets") {
    auto offsets = (*store)->all_offsets();
    if (!offsets.ok()) {
      std::fprintf(stderr, "kamwatch: %s\n", offsets.error().message.c_str());
      return 1;
    }
    for (const auto& o : *offsets)
      std::printf("%s\t%d\t%lld\n", o.topic.c_str(), o.partition,
                  static_cast<long long>(o.next_offset));
    return 0;
  }
  return usage_error("unknown state subcommand '" + pos[0] + "'", kStateHelp);
}

int main_dispatch(int argc, char** argv) {
  Argv all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    std::fputs(kMainHelp, all.empty() ? stderr : stdout);
    return all.empty() ? 2 : 0;
  }
  const std::string cmd = all[0];
  const Argv rest(all.begin() + 1, all.end());
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "demo") return cmd_demo(rest);
  if (cmd == "state") return cmd_state(rest);
  if (cmd == "config") return cmd_config(rest);
  if (cmd == "rules") return cmd_rules(rest);
  if (cmd == "replay") return cmd_replay(rest);
  if (cmd == "simulate") return cmd_simulate(rest);
  if (cmd == "report") return cmd_report(rest);
  if (cmd == "version" || cmd == "--version") return cmd_version(rest);
  std::fprintf(stderr, "kamwatch: unknown command '%s'\n\n%s", cmd.c_str(), kMainHelp);
  return 2;
}

}  // namespace kamwatch::app
