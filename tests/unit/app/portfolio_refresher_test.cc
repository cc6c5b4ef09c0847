#include "app/portfolio_refresher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "../scoring/simulated_portfolio.h"
#include "app/portfolio_attributes.h"
#include "scoring/portfolio_partial.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

// The summary topic in memory, shared by the instances of a test.
struct Topic {
  std::map<std::int32_t, std::string> values;
  int publishes = 0;
};

class MemoryExchange final : public ingest::SummaryExchange {
 public:
  explicit MemoryExchange(std::shared_ptr<Topic> topic) : topic_(std::move(topic)) {}
  Result<void> publish(std::int32_t partition, std::string_view value) override {
    topic_->values[partition] = std::string(value);
    ++topic_->publishes;
    return ok();
  }
  Result<void> sync(TimeMs) override { return ok(); }
  std::map<std::int32_t, std::string> latest() const override { return topic_->values; }

 private:
  std::shared_ptr<Topic> topic_;
};

std::int32_t partition_of(const std::string& id, int partitions) {
  std::uint32_t h = 2166136261u;
  for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return static_cast<std::int32_t>(h % static_cast<std::uint32_t>(partitions));
}

class PortfolioRefresherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim::SimOptions o;
    o.accounts = 160;
    states_ = new std::map<std::string, model::AccountState>(testing::simulated_states(o));
    now_ = sim::history_end(o) - kHourMs;
  }
  static void TearDownTestSuite() { delete states_; }

  void SetUp() override {
    char tmpl[] = "/tmp/kw-portfolio-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state::StoreOptions o;
    o.path = dir_;
    auto s = state::RocksDbStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    state::CommitBatch batch;
    for (const auto& [id, st] : *states_) batch.accounts.push_back(&st);
    ASSERT_TRUE(store_->commit(batch).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static scoring::Portfolio single_instance() {
    std::vector<const model::AccountState*> all;
    for (const auto& [id, st] : *states_) all.push_back(&st);
    return scoring::score_portfolio(all, now_).value();
  }

  static void expect_same(const rules::AccountAttributes& got, const rules::AccountAttributes& want,
                          const std::string& id) {
    EXPECT_EQ(got.key_account, want.key_account) << id;
    EXPECT_EQ(got.revenue_rank, want.revenue_rank) << id;
    EXPECT_EQ(std::isnan(got.p_alive), std::isnan(want.p_alive)) << id;
    if (!std::isnan(want.p_alive)) {
      EXPECT_EQ(got.p_alive, want.p_alive) << id;
    }
    if (!std::isnan(want.expected_purchases)) {
      EXPECT_EQ(got.expected_purchases, want.expected_purchases) << id;
    }
    EXPECT_EQ(std::isnan(got.clv), std::isnan(want.clv)) << id;
    if (!std::isnan(want.clv)) {
      EXPECT_NEAR(got.clv, want.clv, 1e-9 * std::abs(want.clv)) << id;
    }
  }

  static std::map<std::string, model::AccountState>* states_;
  static TimeMs now_;
  std::string dir_;
  std::unique_ptr<state::RocksDbStore> store_;
  ManualClock clock_{0};
};

std::map<std::string, model::AccountState>* PortfolioRefresherTest::states_ = nullptr;
TimeMs PortfolioRefresherTest::now_ = 0;

TEST_F(PortfolioRefresherTest, SingleInstanceModeIsScorePortfolioOverTheStore) {
  clock_.set(now_);
  PortfolioRefresherOptions o;
  o.clock = &clock_;
  PortfolioRefresher refresher(*store_, std::move(o));
  EXPECT_EQ(refresher.snapshot(), nullptr);
  ASSERT_TRUE(refresher.refresh().ok());
  const auto snap = refresher.snapshot();
  ASSERT_NE(snap, nullptr);

  const scoring::Portfolio want = single_instance();
  EXPECT_EQ(snap->summary.as_of, now_);
  EXPECT_EQ(snap->summary.accounts, states_->size());
  EXPECT_EQ(snap->summary.key_accounts, want.summary.key_accounts);
  EXPECT_EQ(snap->summary.total_revenue, want.summary.total_revenue);
  EXPECT_EQ(snap->summary.mean_day_value, want.summary.mean_day_value);
  ASSERT_TRUE(want.summary.bgnbd.has_value());
  EXPECT_EQ(snap->summary.bgnbd->params, want.summary.bgnbd->params);
  EXPECT_EQ(snap->partitions, 0u);
  EXPECT_EQ(snap->oldest_partial, 0);
  ASSERT_EQ(snap->attributes.size(), states_->size());
  EXPECT_EQ(snap->attributes.find("no-such-account"), nullptr);
  EXPECT_TRUE(std::is_sorted(snap->attributes.begin(), snap->attributes.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));
  for (const scoring::AccountFigures& f : want.accounts) {
    const rules::AccountAttributes a = attributes_of(f);
    ASSERT_NE(snap->attributes.find(f.account), nullptr) << f.account;
    const rules::AccountAttributes& got = *snap->attributes.find(f.account);
    // Bit for bit: single-instance mode is the computation it always was.
    EXPECT_EQ(got.key_account, a.key_account);
    EXPECT_EQ(got.revenue_rank, a.revenue_rank);
    EXPECT_TRUE(got.clv == a.clv || (std::isnan(got.clv) && std::isnan(a.clv))) << f.account;
    EXPECT_TRUE(got.p_alive == a.p_alive || (std::isnan(got.p_alive) && std::isnan(a.p_alive)));
  }
}

TEST_F(PortfolioRefresherTest, InstancesOwningDifferentPartitionsComputeTheWholePortfolio) {
  constexpr int kPartitions = 4;
  auto topic = std::make_shared<Topic>();
  // Instance A owns partitions 0 and 1, B owns 2 and 3. Both see every account in their store
  // (as after a rebalance that has not dropped the old ones): only ownership decides.
  auto make = [&](std::set<std::int32_t> mine) {
    PortfolioRefresherOptions o;
    o.clock = &clock_;
    o.exchange = std::make_unique<MemoryExchange>(topic);
    o.partition_of = [mine](const model::AccountState& s) -> std::optional<std::int32_t> {
      const std::int32_t p = partition_of(s.id, kPartitions);
      return mine.count(p) != 0 ? std::optional(p) : std::nullopt;
    };
    o.owned_partitions = [mine] { return std::vector<std::int32_t>(mine.begin(), mine.end()); };
    o.input_partitions = [] { return kPartitions; };
    return std::make_unique<PortfolioRefresher>(*store_, std::move(o));
  };
  const std::set<std::int32_t> a_parts{0, 1}, b_parts{2, 3};
  auto a = make(a_parts);
  auto b = make(b_parts);

  clock_.set(now_);
  // A alone: half the portfolio is missing, so no figures rather than wrong ones.
  Result<void> first = a->refresh();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, "partials_missing");
  EXPECT_EQ(a->snapshot(), nullptr);
  EXPECT_EQ(topic->values.size(), 2u);  // but it published its own partitions
  ASSERT_TRUE(b->refresh().ok());
  ASSERT_TRUE(a->refresh().ok());

  const scoring::Portfolio want = single_instance();
  std::size_t attributed = 0;
  for (const auto* r : {a.get(), b.get()}) {
    const auto snap = r->snapshot();
    ASSERT_NE(snap, nullptr);
    EXPECT_EQ(snap->partitions, static_cast<std::size_t>(kPartitions));
    EXPECT_EQ(snap->oldest_partial, now_);
    EXPECT_EQ(snap->summary.accounts, want.summary.accounts);
    EXPECT_EQ(snap->summary.key_accounts, want.summary.key_accounts);
    EXPECT_EQ(snap->summary.key_threshold_revenue, want.summary.key_threshold_revenue);
    EXPECT_EQ(snap->summary.total_revenue, want.summary.total_revenue);
    EXPECT_EQ(snap->summary.gini, want.summary.gini);
    ASSERT_TRUE(snap->summary.bgnbd.has_value());
    EXPECT_EQ(snap->summary.bgnbd->params, want.summary.bgnbd->params);
    ASSERT_TRUE(snap->summary.retention.has_value());
    EXPECT_EQ(snap->summary.retention->retention, want.summary.retention->retention);
    const auto& mine = r == a.get() ? a_parts : b_parts;
    for (const auto& [id, attrs] : snap->attributes) {
      EXPECT_EQ(mine.count(partition_of(id, kPartitions)), 1u) << id << " is not owned here";
      expect_same(attrs, attributes_of(*want.find(id)), id);
      ++attributed;
    }
  }
  EXPECT_EQ(attributed, states_->size());  // every account, by exactly one instance

  // A day later B has not refreshed: A's figures mix today's partials with B's of yesterday,
  // and say so.
  clock_.set(now_ + kDayMs);
  ASSERT_TRUE(a->refresh().ok());
  EXPECT_EQ(a->snapshot()->oldest_partial, now_);
  EXPECT_EQ(a->snapshot()->summary.as_of, now_ + kDayMs);
}

TEST_F(PortfolioRefresherTest, AnUnreadableSummaryKeepsThePreviousFigures) {
  auto topic = std::make_shared<Topic>();
  PortfolioRefresherOptions o;
  o.clock = &clock_;
  o.exchange = std::make_unique<MemoryExchange>(topic);
  o.partition_of = [](const model::AccountState& s) -> std::optional<std::int32_t> {
    return partition_of(s.id, 2) == 0 ? std::optional<std::int32_t>(0) : std::nullopt;
  };
  PortfolioRefresher r(*store_, std::move(o));
  clock_.set(now_);
  ASSERT_TRUE(r.refresh().ok());  // only partition 0 is known, and no count was given
  const auto before = r.snapshot();
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->partitions, 1u);

  std::string newer = topic->values.at(0);
  newer[0] = static_cast<char>(scoring::kPartialCodecVersion + 1);
  topic->values[1] = newer;  // another instance, a newer kamwatch
  Result<void> again = r.refresh();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "codec_version");
  EXPECT_EQ(r.snapshot(), before);
}

}  // namespace
}  // namespace kamwatch::app
