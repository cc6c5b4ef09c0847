// Alerts reach people: the real Alertmanager lists kamwatch's alerts with their labels and
// annotations and sees them resolve; an Alertmanager outage and a kamwatch SIGKILL lose no
// alert and duplicate none; webhooks get signed transitions with retries; the Kafka alerts
// topic gets one JSON object per transition.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "core/time.h"
#include "http/client.h"
#include "kamwatch_process.h"
#include "services.h"

namespace kamwatch::testing {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Events that make the shipped rule CsatDecline fire for `account` (5 CSAT scores of 1 in the
// last days: average 1 < 2.8), and events that resolve it (20 scores of 5: average 4.2 > 3.5).
std::vector<Message> csat(const std::string& account, int n, int score, const std::string& tag) {
  std::vector<Message> out;
  for (int i = 0; i < n; ++i)
    out.push_back(
        {account,
         event_json(account + "-" + tag + "-" + std::to_string(i), "support.csat", account,
                    now_ms() - (n - i) * kHourMs, "{\"score\":" + std::to_string(score) + "}"),
         {}});
  return out;
}
std::vector<Message> firing_csat(const std::string& account) { return csat(account, 5, 1, "low"); }
std::vector<Message> resolving_csat(const std::string& account) {
  return csat(account, 20, 5, "high");
}
Message profile(const std::string& account, const std::string& kam, const std::string& tier) {
  return {
      account, profile_event(account + "-profile", account, "Account " + account, kam, tier), {}};
}

std::vector<AmAlert> am_alerts_for(const Alertmanager& am, const std::string& alertname) {
  std::vector<AmAlert> out;
  for (auto& a : am.alerts())
    if (a.labels["alertname"] == alertname) out.push_back(a);
  return out;
}

std::string alerting_yaml(const std::string& am_url) {
  return "alerting:\n  alertmanagers: [" + am_url + "]\n  resend_interval: 2s\n  timeout: 2s\n";
}

TEST(Alerting, AlertmanagerListsTheAlertWithLabelsAndSeesItResolve) {
  HttpReceiver receiver;
  Alertmanager am(receiver.url() + "/alertmanager");
  ASSERT_TRUE(am.start());
  KamwatchProcess kw("it-am", alerting_yaml(am.url()));
  kw.start();
  ASSERT_TRUE(kw.wait_ready(std::chrono::seconds(60))) << kw.log_tail();

  std::vector<Message> events = {profile("acme", "alice@example.com", "strategic")};
  for (auto& m : firing_csat("acme")) events.push_back(m);
  kw.produce(events);

  ASSERT_TRUE(eventually([&] { return am_alerts_for(am, "CsatDecline").size() == 1; },
                         std::chrono::seconds(60)))
      << kw.log_tail() << am.log_tail();
  AmAlert a = am_alerts_for(am, "CsatDecline").front();
  EXPECT_EQ(a.labels["account"], "acme");
  EXPECT_EQ(a.labels["account_name"], "Account acme");
  EXPECT_EQ(a.labels["kam"], "alice@example.com");
  EXPECT_EQ(a.labels["tier"], "strategic");
  EXPECT_EQ(a.labels["severity"], "warning");
  EXPECT_EQ(a.labels["signal"], "churn");
  EXPECT_NE(a.annotations["summary"].find("Account acme"), std::string::npos)
      << a.annotations["summary"];
  EXPECT_FALSE(a.annotations["description"].empty());
  EXPECT_EQ(a.generator_url, kw.url() + "/api/v1/accounts/acme");
  // Firing alerts carry an endsAt in the future (re-sent before it passes).
  EXPECT_GT(a.ends_at, format_rfc3339(now_ms()));

  // Alertmanager notified its receiver of the firing alert; now clear the condition.
  ASSERT_TRUE(receiver.wait_for(
      [](const std::vector<ReceivedRequest>& r) {
        for (const auto& n : notifications(r))
          if (n.status == "firing") return true;
        return false;
      },
      std::chrono::seconds(30)));
  kw.produce(resolving_csat("acme"));
  ASSERT_TRUE(receiver.wait_for(
      [](const std::vector<ReceivedRequest>& r) {
        for (const auto& n : notifications(r))
          for (const auto& x : n.alerts)
            if (x.state == "resolved" && x.labels.at("alertname") == "CsatDecline" &&
                x.labels.at("account") == "acme")
              return true;
        return false;
      },
      std::chrono::seconds(60)))
      << kw.log_tail() << am.log_tail();
  EXPECT_TRUE(am_alerts_for(am, "CsatDecline").empty());
  // kamwatch's own view agrees, and the Alertmanager outbox is empty.
  EXPECT_EQ(http_get(kw.url() + "/api/v1/alerts?account=acme"), R"({"alerts":[],"count":0})");
  EXPECT_TRUE(eventually(
      [&] {
        return kw.metric("kamwatch_outbox_records{sink=\"alertmanager:" + am.url() + "\"}") == 0.0;
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(kw.metric("kamwatch_alert_transitions_total{alertname=\"CsatDecline\",severity="
                      "\"warning\",status=\"resolved\"}"),
            1.0);
  kw.stop();
}

TEST(Alerting, NoAlertLostOrDuplicatedAcrossAnAlertmanagerOutageAndAKamwatchCrash) {
  HttpReceiver receiver;
  Alertmanager am(receiver.url() + "/alertmanager");
  ASSERT_TRUE(am.start());
  KamwatchProcess kw("it-am-outage", alerting_yaml(am.url()));
  kw.start();
  ASSERT_TRUE(kw.wait_ready(std::chrono::seconds(60))) << kw.log_tail();
  const std::string sink_depth = "kamwatch_outbox_records{sink=\"alertmanager:" + am.url() + "\"}";

  // Three alerts fire while Alertmanager is up.
  std::vector<Message> first;
  for (const char* acct : {"a1", "a2", "a3"})
    for (auto& m : firing_csat(acct)) first.push_back(m);
  kw.produce(first);
  ASSERT_TRUE(eventually([&] { return am_alerts_for(am, "CsatDecline").size() == 3; },
                         std::chrono::seconds(60)))
      << kw.log_tail();

  // Alertmanager goes down; three more fire and a1 resolves meanwhile.
  am.stop();
  std::vector<Message> second;
  for (const char* acct : {"a4", "a5", "a6"})
    for (auto& m : firing_csat(acct)) second.push_back(m);
  for (auto& m : resolving_csat("a1")) second.push_back(m);
  kw.produce(second);
  ASSERT_TRUE(
      eventually([&] { return kw.metric(sink_depth).value_or(0) >= 4; }, std::chrono::seconds(60)))
      << kw.log_tail();

  // kamwatch dies with the outbox non-empty; Alertmanager comes back (with no alerts: it keeps
  // them in memory only), then kamwatch.
  kw.kill();
  ASSERT_TRUE(am.start());
  kw.start();
  ASSERT_TRUE(eventually(
      [&] {
        std::set<std::string> accounts;
        for (auto& a : am_alerts_for(am, "CsatDecline")) accounts.insert(a.labels["account"]);
        return accounts == std::set<std::string>{"a2", "a3", "a4", "a5", "a6"};
      },
      std::chrono::seconds(90)))
      << kw.log_tail() << am.log_tail();
  ASSERT_TRUE(eventually([&] { return kw.metric(sink_depth) == 0.0; }, std::chrono::seconds(30)))
      << kw.log_tail();
  // Exactly one Alertmanager alert per account: the re-sent and the outbox copies are the same
  // alert (same labels), never a second one.
  const auto alerts = am_alerts_for(am, "CsatDecline");
  EXPECT_EQ(alerts.size(), 5u);
  std::map<std::string, std::set<std::string>> fingerprints;
  for (const auto& a : alerts) fingerprints[a.labels.at("account")].insert(a.fingerprint);
  for (const auto& n : notifications(receiver))
    for (const auto& a : n.alerts) fingerprints[a.labels.at("account")].insert(a.fingerprint);
  for (const auto& [account, fps] : fingerprints)
    EXPECT_EQ(fps.size(), 1u) << account << " reached Alertmanager as distinct alerts";
  kw.stop();
}

TEST(Alerting, WebhookGetsSignedTransitionsAndRetriesAfterErrors) {
  HttpReceiver hook;
  hook.fail_next(2, 503);
  const std::string secret_dir = temp_dir("it-hook-secret");
  { std::ofstream(secret_dir + "/key") << "s3cret\n"; }
  KamwatchProcess kw("it-webhook", "alerting:\n  webhooks:\n    - name: crm\n      url: " +
                                       hook.url() + "/kamwatch\n      secret_file: " + secret_dir +
                                       "/key\n      timeout: 2s\n");
  kw.start();
  ASSERT_TRUE(kw.wait_ready(std::chrono::seconds(60))) << kw.log_tail();
  kw.produce(firing_csat("hooked"));

  ASSERT_TRUE(hook.wait_for(
      [](const std::vector<ReceivedRequest>& r) { return !r.empty() && r.back().status == 200; },
      std::chrono::seconds(60)))
      << kw.log_tail();
  const auto requests = hook.requests();
  ASSERT_GE(requests.size(), 3u);  // two refused with 503, then delivered
  EXPECT_EQ(requests[0].status, 503);
  EXPECT_EQ(requests[1].status, 503);
  const ReceivedRequest& ok = requests.back();
  EXPECT_EQ(ok.path, "/kamwatch");
  EXPECT_EQ(ok.body, requests[0].body);  // the same transition, retried
  EXPECT_NE(ok.body.find("\"alert\":\"CsatDecline\""), std::string::npos) << ok.body;
  EXPECT_NE(ok.body.find("\"status\":\"firing\""), std::string::npos);
  // The signature verifies with the shared secret over timestamp + "." + body.
  const std::string expected =
      "sha256=" +
      http::hmac_sha256_hex("s3cret", ok.headers.at("x-kamwatch-timestamp") + "." + ok.body);
  EXPECT_EQ(ok.headers.at("x-kamwatch-signature"), expected);
  EXPECT_NE(http::hmac_sha256_hex("wrong", ok.headers.at("x-kamwatch-timestamp") + "." + ok.body),
            expected.substr(7));
  EXPECT_EQ(ok.headers.at("x-kamwatch-fingerprint").size(), 16u);
  EXPECT_GE(kw.metric("kamwatch_sink_retries_total{sink=\"webhook:crm\"}").value_or(0), 2.0);
  EXPECT_EQ(kw.metric("kamwatch_sink_deliveries_total{sink=\"webhook:crm\"}"), 1.0);
  kw.stop();
}

TEST(Alerting, KafkaAlertsTopicGetsOneJsonObjectPerTransitionKeyedByAccount) {
  KamwatchProcess kw("it-alerts-topic");
  kw.start();
  ASSERT_TRUE(kw.wait_ready(std::chrono::seconds(60))) << kw.log_tail();
  kw.produce(firing_csat("topical"));
  std::vector<Consumed> got;
  ASSERT_TRUE(eventually(
      [&] {
        got = consume(kw.alerts_topic(), 1, 1, std::chrono::seconds(2));
        return !got.empty();
      },
      std::chrono::seconds(60)))
      << kw.log_tail();
  kw.produce(resolving_csat("topical"));
  ASSERT_TRUE(eventually(
      [&] {
        got = consume(kw.alerts_topic(), 1, 2, std::chrono::seconds(2));
        return got.size() == 2;
      },
      std::chrono::seconds(60)))
      << kw.log_tail();
  EXPECT_EQ(got[0].key, "topical");
  EXPECT_EQ(got[1].key, "topical");
  EXPECT_NE(got[0].value.find("\"status\":\"firing\""), std::string::npos) << got[0].value;
  EXPECT_NE(got[1].value.find("\"status\":\"resolved\""), std::string::npos) << got[1].value;
  for (const auto& c : got) {
    EXPECT_NE(c.value.find("\"alert\":\"CsatDecline\""), std::string::npos);
    EXPECT_NE(c.value.find("\"labels\":{"), std::string::npos);
    EXPECT_EQ(c.headers.at("kamwatch.alert.fingerprint").size(), 16u);
  }
  kw.stop();
}

}  // namespace
}  // namespace kamwatch::testing
