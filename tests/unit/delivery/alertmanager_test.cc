#include "delivery/alertmanager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "http/server.h"

namespace kamwatch::delivery {
namespace {

using engine::AlertTransition;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

AlertTransition firing(int i) {
  char id[24];
  std::snprintf(id, sizeof id, "acct-%04d", i);
  AlertTransition t;
  t.alert = "Quiet";
  t.account = id;
  t.at = t.starts_at = kT0;
  t.labels = {{"alertname", "Quiet"}, {"account", id}, {"severity", "warning"}};
  t.annotations = {{"summary", std::string("quiet: ") + id}};
  t.fingerprint = engine::fingerprint("Quiet", id, "");
  return t;
}

// A real HTTP server standing in for Alertmanager's POST /api/v2/alerts.
class AlertmanagerSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Router router;
    router.post(
        "/api/v2/alerts",
        [this](const http::Request& q) {
          std::lock_guard lock(mu_);
          bodies_.push_back(q.body);
          return http::Response::json(200, "{}");
        },
        false);
    http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    auto server = http::Server::start(options, std::move(router));
    ASSERT_TRUE(server.ok()) << server.error().to_string();
    server_ = std::move(server).value();
    options_.url = "http://127.0.0.1:" + std::to_string(server_->port());
    options_.timeout = 5000;
  }
  // The accounts of every alert posted so far (one per alert), and the number of POSTs.
  std::vector<std::string> posted_accounts(std::size_t* posts) {
    std::lock_guard lock(mu_);
    *posts = bodies_.size();
    std::vector<std::string> out;
    const std::string label = "\"account\":\"";  // the account label's value
    for (const std::string& b : bodies_)
      for (std::size_t at = b.find(label); at != std::string::npos; at = b.find(label, at)) {
        at += label.size();
        out.push_back(b.substr(at, b.find('"', at) - at));
      }
    return out;
  }

  AlertmanagerOptions options_;
  std::unique_ptr<http::Server> server_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
};

TEST_F(AlertmanagerSinkTest, ReSendsEveryFiringAlertAPageAtATimeButNotOneJustResolved) {
  std::vector<AlertTransition> index;  // in account order, as ActiveAlerts pages them
  for (int i = 0; i < 2500; ++i) index.push_back(firing(i));
  std::vector<std::string> asked;
  FiringAlerts source = [&](std::string_view after, std::size_t max) -> Result<engine::AlertPage> {
    asked.emplace_back(after);
    engine::AlertPage page;
    auto it = std::upper_bound(
        index.begin(), index.end(), after,
        [](std::string_view a, const AlertTransition& t) { return a < t.account; });
    if (after.empty()) it = index.begin();
    for (; it != index.end() && page.alerts.size() < max; ++it) page.alerts.push_back(*it);
    if (it != index.end()) page.next = page.alerts.back().account;
    return page;
  };
  AlertmanagerSink sink(options_, source);

  // acct-0005's resolution is delivered just after the index was read: no re-send revives it.
  AlertTransition resolved = firing(5);
  resolved.status = AlertTransition::Status::kResolved;
  resolved.at = kT0 + 1000;
  state::OutboxRecord record;
  record.value = engine::transition_json(resolved);
  EXPECT_EQ(sink.deliver({record}), std::vector<bool>{true});

  ASSERT_TRUE(sink.tick(kT0 + 2000));
  std::size_t posts = 0;
  const std::vector<std::string> accounts = posted_accounts(&posts);
  EXPECT_EQ(asked, (std::vector<std::string>{"", "acct-0999", "acct-1999"}));
  EXPECT_EQ(posts, 4u);               // the resolution, then three pages of re-sends
  ASSERT_EQ(accounts.size(), 2500u);  // the resolution once, and 2,499 firing alerts
  const std::set<std::string> distinct(accounts.begin(), accounts.end());
  EXPECT_EQ(distinct.size(), 2500u);
  EXPECT_EQ(std::count(accounts.begin(), accounts.end(), "acct-0005"), 1);  // only resolved
}

TEST_F(AlertmanagerSinkTest, AFailingIndexReadFailsTheTickWithoutPosting) {
  FiringAlerts source = [](std::string_view, std::size_t) -> Result<engine::AlertPage> {
    return Error{"rocksdb_io", "injected"};
  };
  AlertmanagerSink sink(options_, source);
  EXPECT_FALSE(sink.tick(kT0));
  std::size_t posts = 0;
  EXPECT_TRUE(posted_accounts(&posts).empty());
  EXPECT_EQ(posts, 0u);
}

}  // namespace
}  // namespace kamwatch::delivery
