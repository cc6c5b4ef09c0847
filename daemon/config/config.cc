#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

namespace kamwatch::config {
namespace {

struct LoadError {
  std::string message;
};

std::string where(const std::string& name, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return name;
  return name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

[[noreturn]] void fail(const std::string& name, const YAML::Node& node, const std::string& msg) {
  throw LoadError{where(name, node) + ": " + msg};
}

std::string scalar(const std::string& name, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) fail(name, n, "'" + key + "' must be a single value");
  return n.Scalar();
}

bool to_bool(const std::string& name, const YAML::Node& n, const std::string& key) {
  const std::string s = scalar(name, n, key);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(name, n, "'" + key + "' must be true or false, got '" + s + "'");
}

std::size_t to_size(const std::string& name, const YAML::Node& n, const std::string& key) {
  const std::string s = scalar(name, n, key);
  std::size_t pos = 0;
  std::uint64_t v = 0;
  try {
    v = std::stoull(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  std::uint64_t mult = 1;
  const std::string suffix = s.substr(pos);
  if (suffix == "KiB")
    mult = 1024;
  else if (suffix == "MiB")
    mult = 1024 * 1024;
  else if (suffix == "GiB")
    mult = 1024ull * 1024 * 1024;
  else if (!suffix.empty() || pos == 0 || s[0] == '-')
    fail(
        name, n,
        "'" + key + "' must be a non-negative whole number (KiB/MiB/GiB allowed), got '" + s + "'");
  return static_cast<std::size_t>(v * mult);
}

TimeMs to_duration(const std::string& name, const YAML::Node& n, const std::string& key) {
  const std::string s = scalar(name, n, key);
  auto d = parse_duration(s);
  if (!d)
    fail(name, n, "'" + key + "' must be a duration such as 100ms, 30s, 14d, got '" + s + "'");
  return *d;
}

std::vector<std::string> to_list(const std::string& name, const YAML::Node& n,
                                 const std::string& key) {
  std::vector<std::string> out;
  if (n.IsScalar()) {  // "a,b,c" is accepted as well as a YAML list
    std::stringstream ss(n.Scalar());
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
    return out;
  }
  if (!n.IsSequence()) fail(name, n, "'" + key + "' must be a list");
  for (const auto& item : n) out.push_back(scalar(name, item, key));
  return out;
}

using Handler = std::function<void(const YAML::Node&)>;

// Walks a mapping; every key must have a handler, so typos are reported.
void walk(const std::string& name, const YAML::Node& map, const std::string& section,
          const std::map<std::string, Handler>& handlers) {
  if (!map.IsMap()) fail(name, map, "'" + section + "' must be a mapping");
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    auto it = handlers.find(key);
    if (it == handlers.end()) {
      std::string known;
      for (const auto& [k, _] : handlers) known += (known.empty() ? "" : ", ") + k;
      fail(name, kv.first, "unknown key '" + key + "' in " + section + " (known: " + known + ")");
    }
    it->second(kv.second);
  }
}

Config parse(const YAML::Node& root, const std::string& name) {
  Config c;
  if (!root || root.IsNull()) return c;
  walk(
      name, root, "the top level",
      {
          {"kafka",
           [&](const YAML::Node& n) {
             walk(name, n, "kafka",
                  {
                      {"brokers", [&](auto& v) { c.kafka.brokers = scalar(name, v, "brokers"); }},
                      {"topics", [&](auto& v) { c.kafka.topics = to_list(name, v, "topics"); }},
                      {"group", [&](auto& v) { c.kafka.group = scalar(name, v, "group"); }},
                      {"alerts_topic",
                       [&](auto& v) { c.kafka.alerts_topic = scalar(name, v, "alerts_topic"); }},
                      {"dead_letter_topic",
                       [&](auto& v) {
                         c.kafka.dead_letter_topic = scalar(name, v, "dead_letter_topic");
                       }},
                      {"batch_max_events",
                       [&](auto& v) {
                         c.kafka.batch_max_events = to_size(name, v, "batch_max_events");
                       }},
                      {"batch_max_wait",
                       [&](auto& v) {
                         c.kafka.batch_max_wait = to_duration(name, v, "batch_max_wait");
                       }},
                      {"dead_letter_max_pending",
                       [&](auto& v) {
                         c.kafka.dead_letter_max_pending =
                             to_size(name, v, "dead_letter_max_pending");
                       }},
                      {"properties",
                       [&](const YAML::Node& props) {
                         if (!props.IsMap()) fail(name, props, "'properties' must be a mapping");
                         for (const auto& p : props)
                           c.kafka.properties[p.first.as<std::string>()] =
                               scalar(name, p.second, p.first.as<std::string>());
                       }},
                  });
           }},
          {"cluster",
           [&](const YAML::Node& n) {
             walk(
                 name, n, "cluster",
                 {
                     {"summary_topic",
                      [&](auto& v) { c.cluster.summary_topic = scalar(name, v, "summary_topic"); }},
                     {"changelog_topic",
                      [&](auto& v) {
                        c.cluster.changelog_topic = scalar(name, v, "changelog_topic");
                      }},
                     {"instance_id",
                      [&](auto& v) { c.cluster.instance_id = scalar(name, v, "instance_id"); }},
                 });
           }},
          {"state",
           [&](const YAML::Node& n) {
             walk(
                 name, n, "state",
                 {
                     {"data_dir", [&](auto& v) { c.state.data_dir = scalar(name, v, "data_dir"); }},
                     {"cache_accounts",
                      [&](auto& v) {
                        c.state.cache_accounts = to_size(name, v, "cache_accounts");
                      }},
                     {"cache_bytes",
                      [&](auto& v) { c.state.cache_bytes = to_size(name, v, "cache_bytes"); }},
                     {"block_cache_bytes",
                      [&](auto& v) {
                        c.state.block_cache_bytes = to_size(name, v, "block_cache_bytes");
                      }},
                     {"sync_writes",
                      [&](auto& v) { c.state.sync_writes = to_bool(name, v, "sync_writes"); }},
                     {"min_free_bytes",
                      [&](auto& v) {
                        c.state.min_free_bytes = to_size(name, v, "min_free_bytes");
                      }},
                     {"late_grace",
                      [&](auto& v) { c.state.late_grace = to_duration(name, v, "late_grace"); }},
                     {"retention_hourly",
                      [&](auto& v) {
                        c.state.retention_hourly = to_duration(name, v, "retention_hourly");
                      }},
                     {"retention_daily",
                      [&](auto& v) {
                        c.state.retention_daily = to_duration(name, v, "retention_daily");
                      }},
                 });
           }},
          {"ingest",
           [&](const YAML::Node& n) {
             walk(name, n, "ingest",
                  {
                      {"max_message_bytes",
                       [&](auto& v) {
                         c.ingest.max_message_bytes = to_size(name, v, "max_message_bytes");
                       }},
                      {"max_string_bytes",
                       [&](auto& v) {
                         c.ingest.max_string_bytes = to_size(name, v, "max_string_bytes");
                       }},
                      {"max_batch_attempts",
                       [&](auto& v) {
                         c.ingest.max_batch_attempts = to_size(name, v, "max_batch_attempts");
                       }},
                      {"threads", [&](auto& v) { c.ingest.threads = to_size(name, v, "threads"); }},
                  });
           }},
          {"rules",
           [&](const YAML::Node& n) {
             walk(name, n, "rules",
                  {{"dir",
                    [&](auto& v) {
                      c.rules.dir = scalar(name, v, "dir");
                      c.rules.dir_explicit = true;
                    }},
                   {"evaluation_interval",
                    [&](auto& v) {
                      c.rules.evaluation_interval = to_duration(name, v, "evaluation_interval");
                    }},
                   {"portfolio_refresh", [&](auto& v) {
                      c.rules.portfolio_refresh = to_duration(name, v, "portfolio_refresh");
                    }}});
           }},
          {"http",
           [&](const YAML::Node& n) {
             walk(name, n, "http",
                  {
                      {"listen", [&](auto& v) { c.http.listen = scalar(name, v, "listen"); }},
                      {"token_file",
                       [&](auto& v) { c.http.token_file = scalar(name, v, "token_file"); }},
                      {"tls_cert_file",
                       [&](auto& v) { c.http.tls_cert_file = scalar(name, v, "tls_cert_file"); }},
                      {"tls_key_file",
                       [&](auto& v) { c.http.tls_key_file = scalar(name, v, "tls_key_file"); }},
                      {"external_url",
                       [&](auto& v) { c.http.external_url = scalar(name, v, "external_url"); }},
                  });
           }},
          {"alerting",
           [&](const YAML::Node& n) {
             walk(name, n, "alerting",
                  {
                      {"alertmanagers",
                       [&](auto& v) {
                         c.alerting.alertmanagers = to_list(name, v, "alertmanagers");
                       }},
                      {"resend_interval",
                       [&](auto& v) {
                         c.alerting.resend_interval = to_duration(name, v, "resend_interval");
                       }},
                      {"timeout",
                       [&](auto& v) { c.alerting.timeout = to_duration(name, v, "timeout"); }},
                      {"webhooks",
                       [&](const YAML::Node& list) {
                         if (!list.IsSequence()) fail(name, list, "'webhooks' must be a list");
                         for (const auto& item : list) {
                           WebhookConfig w;
                           walk(name, item, "a webhook",
                                {
                                    {"name", [&](auto& v) { w.name = scalar(name, v, "name"); }},
                                    {"url", [&](auto& v) { w.url = scalar(name, v, "url"); }},
                                    {"secret_file",
                                     [&](auto& v) {
                                       w.secret_file = scalar(name, v, "secret_file");
                                     }},
                                    {"timeout",
                                     [&](auto& v) { w.timeout = to_duration(name, v, "timeout"); }},
                                });
                           if (w.name.empty() || w.url.empty())
                             fail(name, item, "a webhook needs a name and a url");
                           c.alerting.webhooks.push_back(std::move(w));
                         }
                       }},
                  });
           }},
          {"metrics",
           [&](const YAML::Node& n) {
             walk(name, n, "metrics", {{"key_account_series_cap", [&](auto& v) {
                                          c.metrics.key_account_series_cap =
                                              to_size(name, v, "key_account_series_cap");
                                        }}});
           }},
          {"log",
           [&](const YAML::Node& n) {
             walk(name, n, "log",
                  {{"level", [&](auto& v) { c.log_level = scalar(name, v, "level"); }}});
           }},
      });
  return c;
}

}  // namespace

Result<Config> load_string(const std::string& yaml, const std::string& name) {
  try {
    Config c = parse(YAML::Load(yaml), name);
    if (auto v = validate(c); !v.ok())
      return Error{"config_invalid", name + ": " + v.error().message};
    return c;
  } catch (const LoadError& e) {
    return Error{"config_invalid", e.message};
  } catch (const YAML::Exception& e) {
    return Error{"config_syntax", name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
}

Result<Config> load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"config_unreadable", path + ": cannot open the config file"};
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path);
}

Result<void> validate(const Config& c) {
  if (c.kafka.brokers.empty()) return Error{"config_invalid", "kafka.brokers must not be empty"};
  if (c.kafka.topics.empty()) return Error{"config_invalid", "kafka.topics must name a topic"};
  if (c.kafka.group.empty()) return Error{"config_invalid", "kafka.group must not be empty"};
  if (c.kafka.alerts_topic.empty() || c.kafka.alerts_topic == c.kafka.dead_letter_topic)
    return Error{"config_invalid",
                 "kafka.alerts_topic must be set and differ from the dead-letter topic"};
  if (c.rules.evaluation_interval < kSecondMs)
    return Error{"config_invalid", "rules.evaluation_interval must be at least 1s"};
  if (c.kafka.dead_letter_topic.empty())
    return Error{"config_invalid", "kafka.dead_letter_topic must not be empty"};
  if (std::find(c.kafka.topics.begin(), c.kafka.topics.end(), c.kafka.dead_letter_topic) !=
      c.kafka.topics.end())
    return Error{"config_invalid", "kafka.dead_letter_topic must not be one of kafka.topics"};
  if (c.kafka.batch_max_events == 0)
    return Error{"config_invalid", "kafka.batch_max_events must be at least 1"};
  if (const std::string& t = c.cluster.summary_topic; !t.empty()) {
    if (std::find(c.kafka.topics.begin(), c.kafka.topics.end(), t) != c.kafka.topics.end() ||
        t == c.kafka.dead_letter_topic || t == c.kafka.alerts_topic)
      return Error{"config_invalid",
                   "cluster.summary_topic must be a topic of its own, not an input, dead-letter or "
                   "alerts topic"};
  }
  if (c.kafka.dead_letter_max_pending == 0)
    return Error{"config_invalid", "kafka.dead_letter_max_pending must be at least 1"};
  if (c.ingest.max_batch_attempts == 0)
    return Error{"config_invalid", "ingest.max_batch_attempts must be at least 1"};
  if (c.ingest.threads < 1 || c.ingest.threads > kMaxIngestThreads)
    return Error{"config_invalid",
                 "ingest.threads must be between 1 and " + std::to_string(kMaxIngestThreads)};
  if (c.state.data_dir.empty()) return Error{"config_invalid", "state.data_dir must not be empty"};
  if (c.state.cache_accounts == 0)
    return Error{"config_invalid", "state.cache_accounts must be at least 1"};
  if (c.state.cache_bytes < (1u << 20))
    return Error{"config_invalid", "state.cache_bytes must be at least 1MiB"};
  if (c.state.retention_hourly < kDayMs)
    return Error{"config_invalid", "state.retention_hourly must be at least 1d"};
  if (c.state.retention_daily < c.state.retention_hourly)
    return Error{"config_invalid", "state.retention_daily must be at least state.retention_hourly"};
  if (c.ingest.max_message_bytes < 256)
    return Error{"config_invalid", "ingest.max_message_bytes must be at least 256"};
  if (c.http.listen.empty()) return Error{"config_invalid", "http.listen must not be empty"};
  if (c.http.tls_cert_file.empty() != c.http.tls_key_file.empty())
    return Error{"config_invalid", "http.tls_cert_file and http.tls_key_file go together"};
  if (c.alerting.resend_interval < kSecondMs)
    return Error{"config_invalid", "alerting.resend_interval must be at least 1s"};
  for (const std::string& u : c.alerting.alertmanagers)
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
      return Error{"config_invalid",
                   "alerting.alertmanagers: '" + u + "' is not an http:// or https:// URL"};
  for (std::size_t i = 0; i < c.alerting.webhooks.size(); ++i) {
    const WebhookConfig& w = c.alerting.webhooks[i];
    if (w.url.rfind("http://", 0) != 0 && w.url.rfind("https://", 0) != 0)
      return Error{"config_invalid",
                   "alerting.webhooks " + w.name + ": '" + w.url + "' is not an http(s) URL"};
    for (std::size_t j = 0; j < i; ++j)
      if (c.alerting.webhooks[j].name == w.name)
        return Error{"config_invalid",
                     "alerting.webhooks: the name '" + w.name + "' is used twice"};
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    return Error{"config_invalid", "log.level must be debug, info, warn or error"};
  return ok();
}

std::string reference_yaml() {
  return R"(# kamwatch configuration: every option with its default. Flags of `kamwatch run`
# override the file (--brokers, --topics, --group, --data, --rules, --http, --alertmanager).
kafka:
  brokers: embedded            # HOST:PORT[,HOST:PORT..], or "embedded" (in-process mock cluster)
  topics: [kamwatch.events]    # input topics; message key = account id
  group: kamwatch              # consumer group id shared by all instances
  dead_letter_topic: kamwatch.deadletter  # invalid and late events go here, with reasons
  alerts_topic: kamwatch.alerts   # every alert transition as one JSON object, keyed by account
  batch_max_events: 200000     # events per processing batch (one RocksDB write each)
  batch_max_wait: 100ms        # how long to wait for a batch to fill
  dead_letter_max_pending: 100000  # undelivered dead letters above which consumption pauses
  properties: {}               # any librdkafka property, e.g. security.protocol: SASL_SSL
cluster:
  summary_topic: ""            # compacted topic where instances share portfolio summaries; "" = one instance
  changelog_topic: ""          # set to run several instances: state follows its partition (docs/scaling.md)
  instance_id: ""              # static group membership and changelog producer id; default: kept in the state
state:
  data_dir: kamwatch-data      # RocksDB directory
  cache_accounts: 100000       # accounts kept decoded in memory (LRU)
  cache_bytes: 4GiB            # and the most memory those decoded states may take
  block_cache_bytes: 256MiB    # RocksDB block cache; from 128MiB up memtables are charged to it (about half at most)
  sync_writes: false           # fsync each batch (survives power loss, slower)
  min_free_bytes: 256MiB       # writes stop (readyz 503, nothing advances) below this free space, resume at twice it
  late_grace: 7d               # events older than the account's newest event minus this are late
  retention_hourly: 3d         # hourly buckets kept behind the account's newest event
  retention_daily: 800d        # daily buckets kept (more than a year of baseline)
ingest:
  max_message_bytes: 1MiB      # larger messages are dead-lettered as oversize
  max_string_bytes: 1KiB       # longer strings are dead-lettered as string_too_long
  max_batch_attempts: 3        # a batch that crashed kamwatch this often runs event by event; the crashing event is dead-lettered as poison
  threads: 2                   # threads that decode, apply and evaluate each batch (accounts split between them by id); 1 = one
rules:
  dir: rules                   # rule files (*.yaml); missing default dir = run without rules
  evaluation_interval: 1m      # timer sweep: every rule over every account (time-driven rules)
  portfolio_refresh: 1h        # key accounts (Pareto), revenue rank, CLV, P(alive) recomputed
http:
  listen: 127.0.0.1:9470       # /metrics, /healthz, /readyz, /api/v1/... (docs/api.md)
  token_file: ""               # bearer token for POST /-/reload; required when not on loopback
  tls_cert_file: ""            # PEM certificate and key: both set = HTTPS only
  tls_key_file: ""
  external_url: ""             # how people reach this API (alerts' generatorURL); default http://<listen>
alerting:
  alertmanagers: []            # Alertmanager base URLs, e.g. http://127.0.0.1:9093; each gets every alert
  resend_interval: 1m          # firing alerts are re-sent this often (endsAt = 4 x this ahead)
  timeout: 10s                 # one request to an Alertmanager
  webhooks: []                 # - {name: crm, url: https://..., secret_file: /etc/kamwatch/crm.key, timeout: 5s}
metrics:
  key_account_series_cap: 500  # at most this many per-account health series (key accounts, worst first)
log:
  level: info                  # debug, info, warn, error
)";
}

}  // namespace kamwatch::config
