// The HTTP API and the metrics over real HTTP: account view, filters and paging, errors;
// reload protection off loopback; a real Prometheus scraping kamwatch; promtool on the
// exposition; the deploy kit's dashboards and rules use only metric names kamwatch exposes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "core/time.h"
#include "kamwatch_process.h"
#include "services.h"

namespace kamwatch::testing {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Sends raw bytes and returns the whole response (the server closes after an error).
std::string raw_request(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!write(fd, bytes.data(), bytes.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

std::string run(const std::string& command, int& rc) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  rc = p ? pclose(p) : -1;
  return out;
}

// A small portfolio: five accounts of two KAMs; acct-1 has poor CSAT (CsatDecline fires).
std::vector<Message> portfolio() {
  std::vector<Message> m;
  // Per account oldest first: an event more than the late grace (7d) older than the account's
  // newest one would be dead-lettered as late.
  for (int i = 1; i <= 5; ++i) {
    const std::string id = "acct-" + std::to_string(i);
    for (int k = 2; k >= 0; --k)
      m.push_back({id,
                   event_json(id + "-o" + std::to_string(k), "sales.order", id,
                              now_ms() - (k + 1) * 20 * kDayMs,
                              "{\"amount\":" + std::to_string(1000 * (6 - i)) +
                                  ",\"currency\":\"EUR\",\"category\":\"sensors\"}"),
                   {}});
    m.push_back({id,
                 profile_event(id + "-p", id, "Account " + std::to_string(i),
                               i % 2 ? "alice@example.com" : "bob@example.com",
                               i == 1 ? "strategic" : "standard"),
                 {}});
  }
  for (int k = 0; k < 5; ++k)
    m.push_back({"acct-1",
                 event_json("acct-1-csat" + std::to_string(k), "support.csat", "acct-1",
                            now_ms() - (k + 1) * kHourMs, "{\"score\":1}"),
                 {}});
  m.push_back({"acct-2", "{not json", {}});  // one rejected message
  return m;
}

class Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kw_ = new KamwatchProcess("it-api");
    kw_->start();
    ASSERT_TRUE(kw_->wait_ready(std::chrono::seconds(60))) << kw_->log_tail();
    kw_->produce(portfolio());
    ASSERT_TRUE(eventually(
        [] {
          auto [status, body] = http_call("GET", kw_->url() + "/api/v1/accounts?limit=10");
          return status == 200 && contains(body, "\"acct-5\"") &&
                 contains(http_call("GET", kw_->url() + "/api/v1/alerts").second, "CsatDecline");
        },
        std::chrono::seconds(60)))
        << kw_->log_tail();
  }
  static void TearDownTestSuite() {
    kw_->stop();
    delete kw_;
  }
  static KamwatchProcess* kw_;
};
KamwatchProcess* Api::kw_ = nullptr;

TEST_F(Api, AccountViewHasProfileEventCountsHealthAndActiveAlerts) {
  const std::string body = http_get(kw_->url() + "/api/v1/accounts/acct-1");
  EXPECT_TRUE(contains(body, R"("id":"acct-1")")) << body;
  EXPECT_TRUE(contains(body, R"("name":"Account 1")")) << body;
  EXPECT_TRUE(contains(body, R"("kam":"alice@example.com")")) << body;
  EXPECT_TRUE(contains(body, R"("tier":"strategic")")) << body;
  EXPECT_TRUE(contains(body, R"("events":{"account.profile":1,"sales.order":3,"support.csat":5})"))
      << body;
  EXPECT_TRUE(contains(body, R"("health":{"score":)")) << body;
  EXPECT_TRUE(contains(body, R"("contributions":[{"measure":)")) << body;
  EXPECT_TRUE(contains(body, R"("alerts":[{"status":"firing","alert":"CsatDecline")")) << body;
}

TEST_F(Api, AccountReportIsASelfContainedHtmlPage) {
  auto [status, body] = http_call("GET", kw_->url() + "/api/v1/accounts/acct-1/report");
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(contains(body, "<!DOCTYPE html>") || contains(body, "<!doctype html>"))
      << body.substr(0, 200);
  for (const char* id : {"health-trend", "revenue", "alerts", "next-steps"})
    EXPECT_TRUE(contains(body, std::string("<section id=\"") + id + "\"")) << id;
  EXPECT_TRUE(contains(body, "CsatDecline"));
  EXPECT_FALSE(contains(body, "<script"));
  EXPECT_EQ(http_call("GET", kw_->url() + "/api/v1/accounts/nobody/report").first, 404);
}

TEST_F(Api, UnknownAccountIs404) {
  auto [status, body] = http_call("GET", kw_->url() + "/api/v1/accounts/no-such-account");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, R"({"error":"account 'no-such-account' not found"})");
}

TEST_F(Api, FiltersAndPaging) {
  std::string body = http_get(kw_->url() + "/api/v1/accounts?kam=alice%40example.com");
  EXPECT_TRUE(contains(body, "\"acct-1\"") && contains(body, "\"acct-3\"") &&
              contains(body, "\"acct-5\""))
      << body;
  EXPECT_FALSE(contains(body, "\"acct-2\"")) << body;
  body = http_get(kw_->url() + "/api/v1/accounts?signal=churn");
  EXPECT_TRUE(contains(body, "\"acct-1\"")) << body;
  EXPECT_FALSE(contains(body, "\"acct-2\"")) << body;
  body = http_get(kw_->url() + "/api/v1/accounts?tier=strategic");
  EXPECT_TRUE(contains(body, "\"acct-1\"") && !contains(body, "\"acct-3\"")) << body;
  // Pages of two: acct-1, acct-2 | acct-3, acct-4 | acct-5.
  body = http_get(kw_->url() + "/api/v1/accounts?limit=2");
  EXPECT_TRUE(contains(body, "\"acct-1\"") && contains(body, "\"acct-2\"") &&
              !contains(body, "\"acct-3\""))
      << body;
  EXPECT_TRUE(contains(body, R"("next":"acct-2")")) << body;
  body = http_get(kw_->url() + "/api/v1/accounts?limit=2&after=acct-4");
  EXPECT_TRUE(contains(body, "\"acct-5\"") && contains(body, R"("next":null)")) << body;
  body = http_get(kw_->url() + "/api/v1/alerts?signal=churn&account=acct-1");
  EXPECT_TRUE(contains(body, R"("count":1)")) << body;
  // The account's alerts are looked up; the other filters still apply to them.
  body = http_get(kw_->url() + "/api/v1/alerts?signal=growth&account=acct-1");
  EXPECT_EQ(body, R"({"alerts":[],"count":0})");
}

TEST_F(Api, MalformedRequestsGet400WithAMessage) {
  for (const char* q : {"limit=0", "limit=abc", "band=purple", "colour=red", "key=maybe"}) {
    auto [status, body] = http_call("GET", kw_->url() + "/api/v1/accounts?" + q);
    EXPECT_EQ(status, 400) << q;
    EXPECT_TRUE(contains(body, "\"error\":")) << q << ": " << body;
  }
  EXPECT_TRUE(contains(raw_request(kw_->port(), "GARBAGE\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(contains(
      raw_request(kw_->port(),
                  "GET /api/v1/accounts/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      "HTTP/1.1 400"));
  // ... and the server still serves.
  EXPECT_EQ(http_call("GET", kw_->url() + "/healthz").first, 200);
}

TEST_F(Api, RulesEndpointAndReloadOnLoopback) {
  const std::string rules = http_get(kw_->url() + "/api/v1/rules");
  EXPECT_TRUE(contains(rules, R"("name":"CsatDecline")")) << rules;
  EXPECT_TRUE(contains(rules, R"("success":true)")) << rules;
  auto [status, body] = http_call("POST", kw_->url() + "/-/reload");
  EXPECT_EQ(status, 200) << body;
  EXPECT_TRUE(contains(body, R"("status":"reloaded")")) << body;
}

TEST_F(Api, PrometheusScrapesKamwatchAndTheExpositionPassesPromtool) {
  Prometheus prom("127.0.0.1:" + std::to_string(kw_->port()));
  ASSERT_TRUE(prom.start());
  ASSERT_TRUE(
      eventually([&] { return prom.target_health("kamwatch") == "up"; }, std::chrono::seconds(30)))
      << prom.log_tail();
  ASSERT_TRUE(eventually(
      [&] {
        auto v = prom.query("kamwatch_events_applied_total");
        return !v.empty() && v[0].value >= 21;  // 5 profiles + 15 orders + 5 CSAT, minus none
      },
      std::chrono::seconds(30)));
  auto info = prom.query("kamwatch_build_info");
  ASSERT_EQ(info.size(), 1u);
  EXPECT_FALSE(info[0].labels["version"].empty());
  auto firing = prom.query("kamwatch_alerts_firing{alertname=\"CsatDecline\"}");
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].value, 1);
  auto rejected = prom.query("kamwatch_events_rejected_total{reason=\"invalid_json\"}");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].value, 1);
  // The five accounts' 25 events read each account from RocksDB once; the rest came from the
  // account cache (a lookup per account and batch: one batch may hold all of an account's
  // events, so the hits can be 0).
  EXPECT_EQ(kw_->metric("kamwatch_account_cache_accounts"), 5);
  EXPECT_EQ(kw_->metric("kamwatch_account_cache_misses_total"), 5);
  EXPECT_TRUE(kw_->metric("kamwatch_account_cache_hits_total").has_value());
  EXPECT_GT(kw_->metric("kamwatch_account_cache_bytes").value_or(0), 5 * 1000);

  const std::string path = kw_->dir() + "/metrics.txt";
  std::ofstream(path) << kw_->metrics_text();
  int rc = 0;
  std::string out = run("promtool check metrics < " + path, rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;
  out = run("python3 " KAMWATCH_SOURCE_DIR "/scripts/check_deploy.py --metrics " + path +
                " --deploy " KAMWATCH_SOURCE_DIR "/deploy",
            rc);
  EXPECT_EQ(rc, 0) << out;
}

TEST(ApiOffLoopback, ReloadNeedsTheBearerToken) {
  const std::string secrets = temp_dir("it-api-token");
  std::ofstream(secrets + "/token") << "t0ken\n";
  KamwatchProcess guarded("it-api-guarded", "", "0.0.0.0");
  KamwatchProcess open("it-api-open", "", "0.0.0.0");
  {
    // The guarded instance reads its token from a file.
    std::ofstream(guarded.dir() + "/kamwatch.yaml", std::ios::app)
        << "  token_file: " << secrets << "/token\n";
  }
  guarded.start();
  open.start();
  ASSERT_TRUE(guarded.wait_ready(std::chrono::seconds(60))) << guarded.log_tail();
  ASSERT_TRUE(open.wait_ready(std::chrono::seconds(60))) << open.log_tail();
  EXPECT_EQ(http_call("POST", guarded.url() + "/-/reload").first, 401);
  EXPECT_EQ(
      http_call("POST", guarded.url() + "/-/reload", "", {{"Authorization", "Bearer nope"}}).first,
      401);
  EXPECT_EQ(
      http_call("POST", guarded.url() + "/-/reload", "", {{"Authorization", "Bearer t0ken"}}).first,
      200);
  // Off loopback without a token file: reload is refused whatever is sent; reads still work.
  EXPECT_EQ(
      http_call("POST", open.url() + "/-/reload", "", {{"Authorization", "Bearer t0ken"}}).first,
      401);
  EXPECT_EQ(http_call("GET", open.url() + "/api/v1/alerts").first, 200);
  guarded.stop();
  open.stop();
}

}  // namespace
}  // namespace kamwatch::testing

namespace kamwatch::testing {
namespace {

// systemd's notify protocol: READY=1 once ready, WATCHDOG=1 while the loop turns.
TEST(Systemd, NotifiesReadyAndWatchdogOverTheNotifySocket) {
  const std::string dir = temp_dir("it-notify");
  const std::string path = dir + "/notify.sock";
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  KamwatchProcess kw("it-notify");
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  kw.start();
  unsetenv("NOTIFY_SOCKET");
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(30));
  while (std::chrono::steady_clock::now() < deadline &&
         !(contains(got, "READY=1") && contains(got, "WATCHDOG=1"))) {
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      const std::string msg(buf, static_cast<std::size_t>(n));
      // READY=1 comes only when /readyz already says ready.
      if (contains(msg, "READY=1") && !contains(got, "READY=1")) {
        EXPECT_EQ(http_call("GET", kw.url() + "/readyz").first, 200);
      }
      got += msg + "\n";
    }
  }
  close(fd);
  EXPECT_TRUE(contains(got, "READY=1")) << got << kw.log_tail();
  EXPECT_TRUE(contains(got, "WATCHDOG=1")) << got;
  kw.stop();
}

}  // namespace
}  // namespace kamwatch::testing
