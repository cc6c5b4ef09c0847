// Smoke tests of the test kit's services (services.h) with the real Alertmanager and
// Prometheus binaries: they start, and the kit's parsing of their APIs works.
#include "services.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/json_writer.h"
#include "core/time.h"
#include "harness.h"
#include "http/client.h"
#include "http/server.h"

namespace kamwatch::testing {
namespace {

using namespace std::chrono_literals;

TimeMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls f() until it returns true or the timeout passes.
template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (f()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
}

bool has_notification(const std::vector<ReceivedRequest>& requests, const std::string& alertname,
                      const std::string& status) {
  for (const auto& n : notifications(requests))
    for (const auto& a : n.alerts)
      if (n.status == status && a.state == status && a.labels.count("alertname") &&
          a.labels.at("alertname") == alertname)
        return true;
  return false;
}

TEST(HttpReceiverTest, RecordsRequestsAndInjectsFailures) {
  HttpReceiver rx;
  ASSERT_GT(rx.port(), 0);
  rx.fail_next(2, 503);
  for (int expected : {503, 503, 200}) {
    auto [status, body] =
        http_call("POST", rx.url() + "/hooks/a?x=1", R"({"n":1})", {{"X-Test", "yes"}});
    EXPECT_EQ(status, expected) << body;
  }
  EXPECT_EQ(http_get(rx.url() + "/"), "{}");
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/hooks/a");
  EXPECT_EQ(reqs[0].query.at("x"), "1");
  EXPECT_EQ(reqs[0].body, R"({"n":1})");
  EXPECT_EQ(reqs[0].headers.at("x-test"), "yes");
  EXPECT_EQ(reqs[0].status, 503);
  EXPECT_EQ(reqs[2].status, 200);
  EXPECT_EQ(reqs[3].method, "GET");
  EXPECT_TRUE(rx.wait_for([](const auto& r) { return r.size() == 4; }, 1s));
  EXPECT_FALSE(rx.wait_for([](const auto& r) { return r.size() == 5; }, 100ms));
}

TEST(AlertmanagerTest, ListsAlertAndNotifiesResolved) {
  HttpReceiver rx;
  Alertmanager am(rx.url() + "/alertmanager");
  ASSERT_TRUE(am.start());

  const std::string name = unique_name("KamwatchSmoke");
  const TimeMs starts = now_ms() - kMinuteMs;
  auto post = [&](TimeMs ends) {
    JsonWriter w;
    w.begin_array().begin_object();
    w.key("labels").begin_object();
    w.field("alertname", name).field("account", "acme").field("severity", "warning");
    w.end_object();
    w.key("annotations").begin_object().field("summary", "smoke test").end_object();
    w.field("startsAt", format_rfc3339(starts)).field("endsAt", format_rfc3339(ends));
    w.field("generatorURL", "http://kamwatch.test/accounts/acme");
    w.end_object().end_array();
    http::ClientRequest req;
    req.url = am.url() + "/api/v2/alerts";
    req.body = w.take();
    auto resp = http::request(req);
    ASSERT_TRUE(resp.ok()) << resp.error().to_string();
    ASSERT_EQ(resp->status, 200) << resp->body;
  };

  ASSERT_NO_FATAL_FAILURE(post(now_ms() + kHourMs));
  AmAlert listed;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& a : am.alerts())
          if (a.labels.count("alertname") && a.labels.at("alertname") == name) {
            listed = a;
            return true;
          }
        return false;
      },
      10s))
      << am.log_tail();
  EXPECT_EQ(listed.labels.at("account"), "acme");
  EXPECT_EQ(listed.labels.at("severity"), "warning");
  EXPECT_EQ(listed.annotations.at("summary"), "smoke test");
  EXPECT_EQ(listed.generator_url, "http://kamwatch.test/accounts/acme");
  EXPECT_FALSE(listed.fingerprint.empty());
  EXPECT_FALSE(listed.starts_at.empty());
  EXPECT_NE(listed.state, "");

  // Alertmanager only sends "resolved" for a group it notified as firing.
  ASSERT_TRUE(rx.wait_for([&](const auto& r) { return has_notification(r, name, "firing"); }, 15s))
      << am.log_tail();

  ASSERT_NO_FATAL_FAILURE(post(now_ms()));
  ASSERT_TRUE(
      rx.wait_for([&](const auto& r) { return has_notification(r, name, "resolved"); }, 15s))
      << am.log_tail();
  const auto notes = notifications(rx);
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.back().receiver, "test-webhook");
  EXPECT_EQ(notes.back().alerts.at(0).fingerprint, listed.fingerprint);
  EXPECT_EQ(rx.requests().back().path, "/alertmanager");
}

TEST(PrometheusTest, ScrapesTarget) {
  http::Router router;
  router.get("/metrics", [](const http::Request&) {
    return http::Response::text(200, "# TYPE test_metric gauge\ntest_metric 42\n",
                                "text/plain; version=0.0.4");
  });
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server = http::Server::start(options, std::move(router));
  ASSERT_TRUE(server.ok()) << server.error().to_string();

  Prometheus prom("127.0.0.1:" + std::to_string((*server)->port()));
  ASSERT_TRUE(prom.start());
  ASSERT_TRUE(eventually([&] { return prom.target_health("kamwatch") == "up"; }, 20s))
      << prom.target_health("kamwatch") << "\n"
      << prom.log_tail();
  std::vector<PromSample> samples;
  ASSERT_TRUE(eventually(
      [&] {
        samples = prom.query("test_metric");
        return !samples.empty();
      },
      20s))
      << prom.log_tail();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[0].value, 42);
  EXPECT_EQ(samples[0].labels.at("job"), "kamwatch");
  EXPECT_EQ(samples[0].labels.at("__name__"), "test_metric");
  prom.stop();
  EXPECT_FALSE(prom.running());
  (*server)->stop();
}

}  // namespace
}  // namespace kamwatch::testing
