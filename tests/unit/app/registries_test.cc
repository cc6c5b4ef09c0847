#include "app/registries.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

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

engine::AlertTransition transition(const std::string& alert, const std::string& account,
                                   engine::AlertTransition::Status status) {
  engine::AlertTransition t;
  t.status = status;
  t.alert = alert;
  t.account = account;
  t.labels = {{"alertname", alert}, {"account", account}, {"signal", "churn"}};
  t.fingerprint = engine::fingerprint(alert, account, "");
  return t;
}

TEST(ActiveAlerts, ForEachSeesExactlyTheFiringOnes) {
  using Status = engine::AlertTransition::Status;
  ActiveAlerts active;
  active.apply({transition("Quiet", "a", Status::kFiring),
                transition("Quiet", "b", Status::kFiring),
                transition("Late", "a", Status::kFiring)});
  active.apply({transition("Quiet", "b", Status::kResolved)});
  std::set<std::string> seen;
  active.for_each(
      [&](const engine::AlertTransition& t) { seen.insert(t.alert + ":" + t.account); });
  EXPECT_EQ(seen, (std::set<std::string>{"Late:a", "Quiet:a"}));
  EXPECT_EQ(active.size(), 2u);
  EXPECT_EQ(active.of_account("a").size(), 2u);
  EXPECT_TRUE(active.of_account("b").empty());
}

}  // namespace
}  // namespace kamwatch::app
