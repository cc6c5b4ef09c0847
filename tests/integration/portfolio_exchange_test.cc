// Portfolio-wide figures with several instances, against the real broker: the summary
// exchange (ingest::SummaryExchange on a compacted topic) carries every partition's partial
// between instances, and the figures computed from the partials equal the single-instance
// computation over the union. The daemon publishes its summary when cluster.summary_topic is
// set, and without it computes over its own store as before.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../unit/scoring/simulated_portfolio.h"
#include "core/time.h"
#include "harness.h"
#include "ingest/summary_exchange.h"
#include "kamwatch_process.h"
#include "scoring/portfolio_partial.h"

namespace kamwatch::testing {
namespace {

constexpr int kPartitions = 4;

std::int32_t partition_of(const std::string& id) {
  std::uint32_t h = 2166136261u;
  for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return static_cast<std::int32_t>(h % kPartitions);
}

// The topic's configuration as the broker reports it.
std::map<std::string, std::string> topic_configs(const std::string& topic) {
  std::map<std::string, std::string> out;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) return out;
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &res, 1, nullptr, q);
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000)) {
    if (const auto* r = rd_kafka_event_DescribeConfigs_result(ev)) {
      std::size_t n = 0;
      const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(r, &n);
      for (std::size_t i = 0; i < n; ++i) {
        std::size_t cn = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &cn);
        for (std::size_t k = 0; k < cn; ++k) {
          const char* v = rd_kafka_ConfigEntry_value(entries[k]);
          out[rd_kafka_ConfigEntry_name(entries[k])] = v ? v : "";
        }
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return out;
}

std::unique_ptr<ingest::SummaryExchange> open(const std::string& topic,
                                              std::size_t max_bytes = 16 * 1024 * 1024) {
  ingest::SummaryExchangeOptions o;
  o.kafka.brokers = broker();
  o.topic = topic;
  o.max_message_bytes = max_bytes;
  auto e = ingest::open_summary_exchange(o);
  EXPECT_TRUE(e.ok()) << e.error().to_string();
  return e.ok() ? std::move(*e) : nullptr;
}

std::vector<scoring::PortfolioPartial> decoded(const std::map<std::int32_t, std::string>& values) {
  std::vector<scoring::PortfolioPartial> out;
  for (const auto& [p, bytes] : values) {
    auto partial = scoring::decode_partial(bytes);
    EXPECT_TRUE(partial.ok()) << partial.error().to_string();
    if (!partial.ok()) continue;
    EXPECT_EQ(partial->partition, p);
    out.push_back(std::move(*partial));
  }
  return out;
}

TEST(SummaryExchange, TwoInstancesComputeTheWholePortfolioFromEachOthersPartials) {
  sim::SimOptions so;
  so.accounts = 160;
  const auto states = simulated_states(so);
  const TimeMs now = sim::history_end(so) - kHourMs;
  std::vector<const model::AccountState*> all;
  std::map<std::int32_t, std::vector<const model::AccountState*>> by_partition;
  for (const auto& [id, s] : states) {
    all.push_back(&s);
    by_partition[partition_of(id)].push_back(&s);
  }
  ASSERT_EQ(by_partition.size(), static_cast<std::size_t>(kPartitions));
  const scoring::Portfolio single = scoring::score_portfolio(all, now).value();
  ASSERT_TRUE(single.summary.bgnbd.has_value());

  const std::string topic = unique_name("it-summary");
  auto x = open(topic);  // creates the topic
  auto y = open(topic);  // finds it
  ASSERT_TRUE(x && y);
  const std::map<std::string, std::string> configs = topic_configs(topic);
  EXPECT_EQ(configs.count("cleanup.policy") ? configs.at("cleanup.policy") : "", "compact");
  EXPECT_EQ(configs.count("max.message.bytes") ? configs.at("max.message.bytes") : "",
            std::to_string(16 * 1024 * 1024 + 64 * 1024));

  const std::set<std::int32_t> x_parts{0, 1}, y_parts{2, 3};
  auto publish = [&](ingest::SummaryExchange& e, const std::set<std::int32_t>& parts, TimeMs at) {
    for (const std::int32_t p : parts) {
      auto partial = scoring::portfolio_partial(by_partition.at(p), p, at);
      ASSERT_TRUE(partial.ok());
      auto sent = e.publish(p, scoring::encode_partial(*partial));
      ASSERT_TRUE(sent.ok()) << sent.error().to_string();
    }
  };
  publish(*x, x_parts, now);
  publish(*y, y_parts, now);

  for (auto* e : {x.get(), y.get()}) {
    const auto& mine = e == x.get() ? x_parts : y_parts;
    ASSERT_TRUE(e->sync(30000).ok());
    const std::vector<scoring::PortfolioPartial> partials = decoded(e->latest());
    ASSERT_EQ(partials.size(), static_cast<std::size_t>(kPartitions));
    std::vector<const model::AccountState*> local;
    for (const std::int32_t p : mine)
      local.insert(local.end(), by_partition.at(p).begin(), by_partition.at(p).end());
    auto got = scoring::score_portfolio_from_partials(partials, local, now);
    ASSERT_TRUE(got.ok()) << got.error().to_string();
    const scoring::PortfolioSummary& g = got->summary;
    const scoring::PortfolioSummary& w = single.summary;
    EXPECT_EQ(g.accounts, w.accounts);
    EXPECT_EQ(g.key_accounts, w.key_accounts);
    EXPECT_EQ(g.key_threshold_revenue, w.key_threshold_revenue);
    EXPECT_EQ(g.total_revenue, w.total_revenue);
    EXPECT_EQ(g.top_share, w.top_share);
    EXPECT_EQ(g.gini, w.gini);
    EXPECT_EQ(g.order_accounts, w.order_accounts);
    EXPECT_NEAR(g.mean_day_value, w.mean_day_value, 1e-12 * w.mean_day_value);
    ASSERT_TRUE(g.bgnbd.has_value());
    EXPECT_EQ(g.bgnbd->params, w.bgnbd->params);
    ASSERT_TRUE(g.retention.has_value() && w.retention.has_value());
    EXPECT_EQ(g.retention->retention, w.retention->retention);
    ASSERT_EQ(got->accounts.size(), local.size());
    for (const scoring::AccountFigures& f : got->accounts) {
      const scoring::AccountFigures* want = single.find(f.account);
      ASSERT_NE(want, nullptr);
      EXPECT_EQ(f.rank, want->rank) << f.account;
      EXPECT_EQ(f.key, want->key) << f.account;
      EXPECT_EQ(f.p_alive, want->p_alive) << f.account;
      ASSERT_EQ(f.clv.has_value(), want->clv.has_value()) << f.account;
      if (want->clv) {
        EXPECT_NEAR(*f.clv, *want->clv, 1e-9 * std::abs(*want->clv)) << f.account;
      }
    }
  }

  // A newer partial replaces the older one for everybody, and an instance that starts later
  // reads the latest of every partition from the compacted topic.
  publish(*x, {0}, now + kDayMs);
  ASSERT_TRUE(y->sync(30000).ok());
  EXPECT_EQ(scoring::decode_partial(y->latest().at(0)).value().as_of, now + kDayMs);
  auto z = open(topic);
  ASSERT_TRUE(z);
  ASSERT_TRUE(z->sync(30000).ok());
  const auto latest = z->latest();
  ASSERT_EQ(latest.size(), static_cast<std::size_t>(kPartitions));
  EXPECT_EQ(scoring::decode_partial(latest.at(0)).value().as_of, now + kDayMs);
  EXPECT_EQ(scoring::decode_partial(latest.at(3)).value().as_of, now);
}

TEST(SummaryExchange, LargeSummariesTravelAndTheLimitIsEnforced) {
  const std::string topic = unique_name("it-summary-large");
  auto e = open(topic, 4 * 1024 * 1024);
  ASSERT_TRUE(e);
  // 3 MiB that zstd cannot shrink: above Kafka's 1 MB defaults, within the topic's limit.
  std::string big(3 * 1024 * 1024, '\0');
  std::uint64_t s = 7;
  for (char& c : big) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(s >> 56);
  }
  auto sent = e->publish(5, big);
  ASSERT_TRUE(sent.ok()) << sent.error().to_string();
  ASSERT_TRUE(e->sync(30000).ok());
  EXPECT_EQ(e->latest().at(5), big);
  auto refused = e->publish(5, std::string(4 * 1024 * 1024 + 1, 'x'));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "exchange_too_large");
  // An empty value removes the partition.
  ASSERT_TRUE(e->publish(5, "").ok());
  ASSERT_TRUE(e->sync(30000).ok());
  EXPECT_EQ(e->latest().count(5), 0u);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Five accounts with three orders each in the last 90 days: 45,000 of trailing revenue.
std::vector<Message> orders() {
  std::vector<Message> m;
  for (int i = 1; i <= 5; ++i) {
    const std::string id = "acct-" + std::to_string(i);
    for (int k = 2; k >= 0; --k)
      m.push_back({id,
                   event_json(id + "-o" + std::to_string(k), "sales.order", id,
                              now_ms() - (k + 1) * 20 * kDayMs,
                              "{\"amount\":" + std::to_string(1000 * (6 - i)) +
                                  ",\"currency\":\"EUR\",\"category\":\"sensors\"}"),
                   {}});
  }
  return m;
}

// The summary topic's latest partial per partition.
std::map<std::string, scoring::PortfolioPartial> latest_partials(const std::string& topic) {
  std::map<std::string, scoring::PortfolioPartial> out;
  for (const Consumed& c : consume(topic, 1, 1000, std::chrono::seconds(5))) {
    auto p = scoring::decode_partial(c.value);
    if (p.ok()) out.insert_or_assign(c.key, std::move(p).value());
  }
  return out;
}

std::size_t accounts_in(const std::map<std::string, scoring::PortfolioPartial>& partials) {
  std::size_t n = 0;
  for (const auto& [k, p] : partials) n += p.accounts;
  return n;
}

TEST(ClusterMode, OneInstanceWithASummaryTopicPublishesEveryPartitionsSummary) {
  const std::string summary = unique_name("it-cluster-summary");
  KamwatchProcess kw("it-cluster", "cluster:\n  summary_topic: " + summary + "\n");
  kw.start();
  ASSERT_TRUE(kw.wait_ready(std::chrono::seconds(60))) << kw.log_tail();
  kw.produce(orders());
  ASSERT_TRUE(eventually(
      [&] {
        return kw.metric("kamwatch_portfolio_revenue") == 45000.0 &&
               kw.metric("kamwatch_portfolio_partials") == 2.0;  // the input has 2 partitions
      },
      std::chrono::seconds(60)))
      << kw.log_tail();
  EXPECT_EQ(kw.metric("kamwatch_key_accounts"), 3.0);  // 15k + 12k + 9k of 45k reach 80%
  EXPECT_GT(kw.metric("kamwatch_portfolio_oldest_partial_timestamp_seconds").value_or(0),
            static_cast<double>(now_ms()) / 1000.0 - 600);
  // On the topic: one summary per input partition, all five accounts between them.
  std::map<std::string, scoring::PortfolioPartial> partials;
  ASSERT_TRUE(eventually(
      [&] {
        partials = latest_partials(summary);
        return partials.size() == 2 && accounts_in(partials) == 5;
      },
      std::chrono::seconds(30)))
      << partials.size() << " partials, " << accounts_in(partials) << " accounts";
  EXPECT_TRUE(partials.count("0") && partials.count("1"));
  EXPECT_EQ(topic_configs(summary)["cleanup.policy"], "compact");
  kw.stop();
}

// Two instances share the input's two partitions: each owns part of the accounts, and both
// report the figures of the whole portfolio.
TEST(ClusterMode, TwoInstancesEachOwningSomeAccountsReportTheWholePortfolio) {
  const std::string cluster = "cluster:\n  summary_topic: " + unique_name("it-cluster-summary") +
                              "\n  changelog_topic: " + unique_name("it-cluster-changelog") + "\n";
  KamwatchProcess a("it-cluster-a", cluster);
  KamwatchProcess b("it-cluster-b", cluster, "127.0.0.1", &a);
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_ready(std::chrono::seconds(60))) << a.log_tail();
  ASSERT_TRUE(b.wait_ready(std::chrono::seconds(60))) << b.log_tail();
  a.produce(orders());
  auto whole = [](const KamwatchProcess& kw) {
    return kw.metric("kamwatch_portfolio_revenue") == 45000.0 &&
           kw.metric("kamwatch_portfolio_partials") == 2.0 &&
           kw.metric("kamwatch_key_accounts") == 3.0;
  };
  ASSERT_TRUE(eventually([&] { return whole(a) && whole(b); }, std::chrono::seconds(90)))
      << "a: " << a.log_tail() << "\nb: " << b.log_tail();
  a.stop();
  b.stop();
  // Both owned a partition (each restored one before consuming it), so neither computed the
  // figures from its own accounts alone.
  for (const KamwatchProcess* kw : {&a, &b}) {
    std::ifstream in(kw->dir() + "/kamwatch.log");
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find("partition state restored"), std::string::npos) << kw->dir();
  }
}

TEST(ClusterMode, WithoutASummaryTopicTheDaemonScoresItsOwnStore) {
  KamwatchProcess kw("it-single");
  kw.start();
  ASSERT_TRUE(kw.wait_ready(std::chrono::seconds(60))) << kw.log_tail();
  kw.produce(orders());
  ASSERT_TRUE(eventually([&] { return kw.metric("kamwatch_portfolio_revenue") == 45000.0; },
                         std::chrono::seconds(60)))
      << kw.log_tail();
  EXPECT_EQ(kw.metric("kamwatch_key_accounts"), 3.0);
  EXPECT_EQ(kw.metric("kamwatch_portfolio_partials"), 0.0);
  kw.stop();
}

}  // namespace
}  // namespace kamwatch::testing
