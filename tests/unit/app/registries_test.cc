#include "app/registries.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "../state/test_dir.h"
#include "engine/alert.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

AccountSummary summary(const std::string& id, const std::string& kam, const std::string& band,
                       double score, bool key = false) {
  AccountSummary s;
  s.id = id;
  s.name = "Account " + id + " with a name longer than the small-string buffer";
  s.kam = kam;
  s.tier = key ? "key" : "standard";
  s.key_account = key;
  s.score = score;
  s.band = band;
  s.last_event = 1000 + static_cast<TimeMs>(id.size());
  s.events = 7;
  return s;
}

void expect_same(const AccountSummary& a, const AccountSummary& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.kam, b.kam);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.key_account, b.key_account);
  EXPECT_TRUE(a.score == b.score || (std::isnan(a.score) && std::isnan(b.score)));
  EXPECT_EQ(a.band, b.band);
  EXPECT_EQ(a.last_event, b.last_event);
  EXPECT_EQ(a.events, b.events);
}

TEST(AccountDirectory, KeepsEverySummaryFieldAndReplacesOnUpdate) {
  AccountDirectory d;
  const auto a = summary("a", "alice@example.com", "healthy", 81.5, true);
  const auto b = summary("b", "bob@example.com", "unknown", NAN);
  d.update({a, b});
  ASSERT_TRUE(d.get("a"));
  expect_same(*d.get("a"), a);
  expect_same(*d.get("b"), b);
  EXPECT_FALSE(d.get("c"));
  auto a2 = summary("a", "bob@example.com", "at_risk", 40);
  d.update({a2});
  expect_same(*d.get("a"), a2);
  EXPECT_EQ(d.size(), 2u);
}

TEST(AccountDirectory, ListsFilteredPagesInIdOrder) {
  AccountDirectory d;
  d.update({summary("c", "alice", "healthy", 90), summary("a", "alice", "at_risk", 30),
            summary("b", "bob", "healthy", 85), summary("d", "alice", "healthy", 70)});
  auto alice = [](const AccountSummary& s) { return s.kam == "alice"; };
  auto page = d.list(alice, "", 2);
  ASSERT_EQ(page.accounts.size(), 2u);
  EXPECT_EQ(page.accounts[0].id, "a");
  EXPECT_EQ(page.accounts[1].id, "c");
  EXPECT_EQ(page.next, "c");
  page = d.list(alice, page.next, 2);
  ASSERT_EQ(page.accounts.size(), 1u);
  EXPECT_EQ(page.accounts[0].id, "d");
  EXPECT_EQ(page.accounts[0].band, "healthy");
  EXPECT_EQ(page.next, "");
}

TEST(AccountDirectory, ForEachVisitsAllInIdOrderAndRemoveIfDrops) {
  AccountDirectory d;
  d.update({summary("b", "bob", "healthy", 85), summary("a", "alice", "at_risk", 30),
            summary("c", "carol", "healthy", 90)});
  std::vector<std::string> seen;
  d.for_each([&](const AccountSummary& s) { seen.push_back(s.id + ":" + s.kam); });
  EXPECT_EQ(seen, (std::vector<std::string>{"a:alice", "b:bob", "c:carol"}));
  d.remove_if([](const AccountSummary& s) { return s.band == "healthy"; });
  EXPECT_EQ(d.size(), 1u);
  EXPECT_TRUE(d.get("a"));
  EXPECT_FALSE(d.get("b"));
}

using Status = engine::AlertTransition::Status;

engine::AlertTransition transition(const std::string& alert, const std::string& account,
                                   Status status, const std::string& signal = "churn") {
  engine::AlertTransition t;
  t.status = status;
  t.alert = alert;
  t.account = account;
  t.labels = {{"alertname", alert},
              {"account", account},
              {"account_name", "Name of " + account},
              {"signal", signal}};
  t.annotations = {{"summary", alert + " on " + account}};
  t.evidence = {{"days", 42}};
  t.value = 3.5;
  t.fingerprint = engine::fingerprint(alert, account, "");
  return t;
}

// A real store with the transitions committed to its firing index, as the pipeline does, and
// then applied to the in-memory index.
class ActiveAlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state::StoreOptions o;
    o.path = dir_.path();
    auto s = state::RocksDbStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    active_ = std::make_unique<ActiveAlerts>(*store_);
  }
  void commit(const std::vector<engine::AlertTransition>& ts, bool apply = true) {
    state::CommitBatch batch;
    for (const auto& t : ts)
      batch.active_alerts.push_back(
          {t.fingerprint, t.status == Status::kFiring ? engine::transition_json(t) : ""});
    ASSERT_TRUE(store_->commit(batch).ok());
    if (apply) active_->apply(ts);
  }
  std::set<std::string> listed() const {
    std::set<std::string> out;
    active_->for_each([&](const ActiveAlerts::Firing& f) {
      out.insert(std::string(f.label("alertname")) + ":" + std::string(f.account));
    });
    return out;
  }

  state::testing::TempDir dir_;
  std::unique_ptr<state::RocksDbStore> store_;
  std::unique_ptr<ActiveAlerts> active_;
};

TEST_F(ActiveAlertsTest, ForEachSeesExactlyTheFiringOnesAndOfAccountReadsThemWhole) {
  commit({transition("Quiet", "a", Status::kFiring), transition("Quiet", "b", Status::kFiring),
          transition("Late", "a", Status::kFiring)});
  commit({transition("Quiet", "b", Status::kResolved)});
  EXPECT_EQ(listed(), (std::set<std::string>{"Late:a", "Quiet:a"}));
  EXPECT_EQ(active_->size(), 2u);
  auto a = active_->of_account("a");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u);
  std::set<std::string> alerts;
  for (const auto& t : *a) {
    alerts.insert(t.alert);
    EXPECT_EQ(t.annotations.at("summary"), t.alert + " on a");  // the whole transition
    EXPECT_EQ(t.labels.at("account_name"), "Name of a");
    EXPECT_EQ(t.evidence, (std::vector<std::pair<std::string, double>>{{"days", 42}}));
    EXPECT_EQ(t.value, 3.5);
  }
  EXPECT_EQ(alerts, (std::set<std::string>{"Late", "Quiet"}));
  EXPECT_TRUE(active_->of_account("b")->empty());
}

TEST_F(ActiveAlertsTest, FiringAgainReplacesAndLoadRebuildsFromTheStore) {
  commit({transition("Quiet", "a", Status::kFiring), transition("Quiet", "b", Status::kFiring)});
  commit({transition("Quiet", "a", Status::kFiring, "growth")});  // fired again, new labels
  EXPECT_EQ(active_->size(), 2u);
  std::map<std::string, std::string> signals;
  active_->for_each([&](const ActiveAlerts::Firing& f) {
    signals[std::string(f.account)] = std::string(f.label("signal"));
  });
  EXPECT_EQ(signals, (std::map<std::string, std::string>{{"a", "growth"}, {"b", "churn"}}));

  ActiveAlerts reloaded(*store_);
  ASSERT_TRUE(reloaded.load().ok());
  EXPECT_EQ(reloaded.size(), 2u);
  std::map<std::string, std::string> again;
  reloaded.for_each([&](const ActiveAlerts::Firing& f) {
    again[std::string(f.account)] = std::string(f.label("signal"));
  });
  EXPECT_EQ(again, signals);
}

TEST_F(ActiveAlertsTest, PagesListEveryAlertOnceWithTheFilterAndSkipWhatResolvedMeanwhile) {
  std::vector<engine::AlertTransition> ts;
  for (int i = 0; i < 1200; ++i) {
    char id[24];
    std::snprintf(id, sizeof id, "acct-%04d", i);
    ts.push_back(transition("Quiet", id, Status::kFiring, i % 3 == 0 ? "growth" : "churn"));
    if (i % 2 == 0) ts.push_back(transition("Late", id, Status::kFiring));
  }
  commit(ts);
  // Resolved in the store but not yet in the index (the pipeline applies after committing).
  commit({transition("Quiet", "acct-0007", Status::kResolved)}, false);

  auto all_pages = [&](const ActiveAlerts::Filter& filter, int* pages) {
    std::vector<std::string> seen;
    std::string after;
    *pages = 0;
    do {
      auto page = active_->page(after, 500, filter);
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      ++*pages;
      for (const auto& t : page->alerts) {
        EXPECT_EQ(t.annotations.at("summary"), t.alert + " on " + t.account);
        seen.push_back(t.alert + ":" + t.account);
      }
      after = page->next;
    } while (!after.empty());
    return seen;
  };
  int pages = 0;
  auto seen = all_pages({}, &pages);
  EXPECT_EQ(seen.size(), ts.size() - 1);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());  // once each
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "Quiet:acct-0007"), 0);
  EXPECT_EQ(pages, 4);  // 1,799 alerts, ~500 a page, an account's alerts on one page

  auto growth = all_pages(
      [](const ActiveAlerts::Firing& f) { return f.label("signal") == "growth"; }, &pages);
  EXPECT_EQ(growth.size(), 400u);
  for (const auto& g : growth) EXPECT_EQ(g.rfind("Quiet:", 0), 0u) << g;

  // One account's alerts, looked up, with the other filters applied to them.
  auto names = [](const Result<std::vector<engine::AlertTransition>>& r) {
    std::set<std::string> out;
    EXPECT_TRUE(r.ok());
    if (r.ok())
      for (const auto& t : *r) out.insert(t.alert + ":" + t.account);
    return out;
  };
  EXPECT_EQ(names(active_->of_account("acct-0012")),
            (std::set<std::string>{"Quiet:acct-0012", "Late:acct-0012"}));
  EXPECT_EQ(names(active_->of_account(
                "acct-0012",
                [](const ActiveAlerts::Firing& f) { return f.label("alertname") == "Late"; })),
            (std::set<std::string>{"Late:acct-0012"}));
  EXPECT_TRUE(names(active_->of_account("acct-0007")).empty());  // resolved meanwhile
  EXPECT_TRUE(names(active_->of_account("acct-9999")).empty());
}

TEST_F(ActiveAlertsTest, AlertsWithTheSameLabelsShareOneSetFreedWithTheLast) {
  std::vector<engine::AlertTransition> ts;
  for (int i = 0; i < 100; ++i)  // account and account_name differ, the rest is the same
    ts.push_back(transition("Quiet", "acct-" + std::to_string(i), Status::kFiring));
  ts.push_back(transition("Late", "acct-1", Status::kFiring));
  commit(ts);
  EXPECT_EQ(active_->label_sets(), 2u);
  for (auto& t : ts) t.status = Status::kResolved;
  ts.pop_back();
  commit(ts);
  EXPECT_EQ(active_->size(), 1u);
  EXPECT_EQ(active_->label_sets(), 1u);
  commit({transition("Late", "acct-1", Status::kResolved)});
  EXPECT_EQ(active_->size(), 0u);
  EXPECT_EQ(active_->label_sets(), 0u);
  EXPECT_TRUE(listed().empty());
}

}  // namespace
}  // namespace kamwatch::app
