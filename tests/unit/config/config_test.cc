#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace kamwatch::config {
namespace {

TEST(Config, ReferenceYamlLoadsToTheCodeDefaults) {
  // The documented reference must say exactly what the code does by default.
  auto loaded = load_string(reference_yaml(), "reference");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const Config defaults;
  EXPECT_EQ(loaded->kafka.brokers, defaults.kafka.brokers);
  EXPECT_EQ(loaded->kafka.topics, defaults.kafka.topics);
  EXPECT_EQ(loaded->kafka.group, defaults.kafka.group);
  EXPECT_EQ(loaded->kafka.dead_letter_topic, defaults.kafka.dead_letter_topic);
  EXPECT_EQ(loaded->kafka.batch_max_events, defaults.kafka.batch_max_events);
  EXPECT_EQ(loaded->kafka.batch_max_wait, defaults.kafka.batch_max_wait);
  EXPECT_EQ(loaded->cluster.summary_topic, defaults.cluster.summary_topic);
  EXPECT_EQ(loaded->state.data_dir, defaults.state.data_dir);
  EXPECT_EQ(loaded->state.cache_accounts, defaults.state.cache_accounts);
  EXPECT_EQ(loaded->state.block_cache_bytes, defaults.state.block_cache_bytes);
  EXPECT_EQ(loaded->state.sync_writes, defaults.state.sync_writes);
  EXPECT_EQ(loaded->state.late_grace, defaults.state.late_grace);
  EXPECT_EQ(loaded->state.retention_hourly, defaults.state.retention_hourly);
  EXPECT_EQ(loaded->state.retention_daily, defaults.state.retention_daily);
  EXPECT_EQ(loaded->ingest.max_message_bytes, defaults.ingest.max_message_bytes);
  EXPECT_EQ(loaded->ingest.max_string_bytes, defaults.ingest.max_string_bytes);
  EXPECT_EQ(loaded->kafka.alerts_topic, defaults.kafka.alerts_topic);
  EXPECT_EQ(loaded->rules.dir, defaults.rules.dir);
  EXPECT_EQ(loaded->rules.evaluation_interval, defaults.rules.evaluation_interval);
  EXPECT_EQ(loaded->rules.portfolio_refresh, defaults.rules.portfolio_refresh);
  EXPECT_EQ(loaded->http.listen, defaults.http.listen);
  EXPECT_EQ(loaded->alerting.alertmanagers, defaults.alerting.alertmanagers);
  EXPECT_EQ(loaded->alerting.resend_interval, defaults.alerting.resend_interval);
  EXPECT_EQ(loaded->metrics.key_account_series_cap, defaults.metrics.key_account_series_cap);
  EXPECT_EQ(loaded->log_level, defaults.log_level);
}

TEST(Config, TheConfigurationDocShowsTheReferenceVerbatim) {
  // docs/configuration.md must list every option with the defaults the code has.
  std::ifstream f(KAMWATCH_SOURCE_DIR "/docs/configuration.md");
  ASSERT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  std::string body = reference_yaml();
  body = body.substr(body.find("kafka:"));  // the doc has its own introduction
  EXPECT_NE(ss.str().find(body), std::string::npos)
      << "update docs/configuration.md from `kamwatch config reference`";
}

// Every key the parser accepts is in the reference (and so in the docs): the parser's own list
// of known keys, from its unknown-key error, is checked section by section.
TEST(Config, EveryKeyTheParserKnowsIsInTheReference) {
  const std::string ref = reference_yaml();
  auto known_keys = [](const std::string& yaml) {
    auto r = load_string(yaml, "probe");
    EXPECT_FALSE(r.ok());
    if (r.ok()) return std::vector<std::string>{};
    const std::string& m = r.error().message;
    const auto open = m.find("(known: ");
    EXPECT_NE(open, std::string::npos) << m;
    std::vector<std::string> keys;
    std::stringstream ss(m.substr(open + 8, m.rfind(')') - open - 8));
    for (std::string k; std::getline(ss, k, ',');)
      keys.push_back(k.substr(k.find_first_not_of(' ')));
    return keys;
  };
  // Top level: every section appears at the start of a line.
  for (const std::string& k : known_keys("nonsense_key: 1\n"))
    EXPECT_NE(ref.find("\n" + k + ":"), std::string::npos) << "section " << k;
  for (const char* section :
       {"kafka", "cluster", "state", "ingest", "rules", "http", "alerting", "metrics", "log"}) {
    const std::size_t at = ref.find(std::string("\n") + section + ":\n");
    ASSERT_NE(at, std::string::npos) << section;
    // The section's block: indented lines after its header.
    std::string block;
    for (std::size_t pos = ref.find('\n', at + 1) + 1; pos < ref.size() && ref[pos] == ' ';) {
      const std::size_t eol = ref.find('\n', pos);
      block += ref.substr(pos, eol - pos + 1);
      pos = eol + 1;
    }
    for (const std::string& k : known_keys(std::string(section) + ":\n  nonsense_key: 1\n"))
      EXPECT_NE(block.find("  " + k + ":"), std::string::npos) << section << "." << k;
  }
  // A webhook's keys are in the reference's webhook example.
  for (const std::string& k : known_keys("alerting:\n  webhooks:\n    - {nonsense_key: 1}\n"))
    EXPECT_NE(ref.find(k + ":"), std::string::npos) << "webhook " << k;
}

TEST(Config, ReadsValuesAndKafkaProperties) {
  auto c = load_string(R"(
kafka:
  brokers: k1:9092,k2:9092
  topics: crm,support
  group: g1
  batch_max_wait: 250ms
  properties:
    security.protocol: SASL_SSL
    sasl.password: hunter2
state:
  data_dir: /var/lib/kamwatch
  late_grace: 2d
  block_cache_bytes: 64MiB
  cache_bytes: 100MiB
)",
                       "t.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->kafka.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka.topics, (std::vector<std::string>{"crm", "support"}));
  EXPECT_EQ(c->kafka.batch_max_wait, 250);
  EXPECT_EQ(c->kafka.properties.at("sasl.password"), "hunter2");
  EXPECT_EQ(c->state.late_grace, 2 * kDayMs);
  EXPECT_EQ(c->state.block_cache_bytes, 64u << 20);
  EXPECT_EQ(c->state.cache_bytes, 100u << 20);
  auto tiny = load_string("state:\n  cache_bytes: 1000\n", "t.yaml");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().message.find("state.cache_bytes must be at least 1MiB"), std::string::npos)
      << tiny.error().message;
}

TEST(Config, IngestThreadsAreReadAndBounded) {
  EXPECT_EQ(load_string("kafka:\n  brokers: x:1\n", "t.yaml")->ingest.threads, 2u);  // default
  auto four = load_string("ingest:\n  threads: 4\n", "t.yaml");
  ASSERT_TRUE(four.ok()) << four.error().message;
  EXPECT_EQ(four->ingest.threads, 4u);
  for (const char* bad : {"0", "65"}) {
    auto c = load_string(std::string("ingest:\n  threads: ") + bad + "\n", "t.yaml");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.error().message.find("ingest.threads must be between 1 and 64"), std::string::npos)
        << c.error().message;
  }
}

TEST(Config, UnknownKeyIsAnErrorWithPosition) {
  auto c = load_string("kafka:\n  brokers: x:1\n  topcis: [a]\n", "k.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("k.yaml:3:3"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("unknown key 'topcis'"), std::string::npos);
}

TEST(Config, BadValuesNameTheKeyAndPosition) {
  auto d = load_string("state:\n  late_grace: soon\n", "d.yaml");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("d.yaml:2:15"), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("late_grace"), std::string::npos);
  auto b = load_string("state:\n  sync_writes: maybe\n", "b.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("true or false"), std::string::npos);
  auto n = load_string("kafka:\n  batch_max_events: -5\n", "n.yaml");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("batch_max_events"), std::string::npos);
}

TEST(Config, SyntaxErrorHasPosition) {
  auto c = load_string("kafka:\n  brokers: [a, b\n", "s.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "config_syntax");
  EXPECT_NE(c.error().message.find("s.yaml:"), std::string::npos);
}

TEST(Config, CrossFieldValidation) {
  auto c = load_string("kafka:\n  topics: [a]\n  dead_letter_topic: a\n", "v.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("dead_letter_topic"), std::string::npos);
  auto l = load_string("log:\n  level: loud\n", "l.yaml");
  ASSERT_FALSE(l.ok());
}

TEST(Config, ClusterSummaryTopic) {
  EXPECT_EQ(Config{}.cluster.summary_topic, "");  // single-instance mode
  auto c = load_string("cluster:\n  summary_topic: kamwatch.portfolio\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cluster.summary_topic, "kamwatch.portfolio");
  // It must be a topic of its own.
  for (const char* taken : {"kamwatch.events", "kamwatch.alerts", "kamwatch.deadletter"}) {
    auto bad = load_string(std::string("cluster:\n  summary_topic: ") + taken + "\n", "c.yaml");
    ASSERT_FALSE(bad.ok()) << taken;
    EXPECT_NE(bad.error().message.find("cluster.summary_topic"), std::string::npos);
  }
}

TEST(Config, MissingFileIsAClearError) {
  auto c = load_file("/nonexistent/kamwatch.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/kamwatch.yaml"), std::string::npos);
}

}  // namespace
}  // namespace kamwatch::config
