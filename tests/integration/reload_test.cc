// Rules in the live daemon: a matching event produces an alert on the alerts topic; a rule
// reload with an error leaves the previous rules running; a good reload takes effect.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"
#include "core/json_writer.h"
#include "harness.h"

namespace kamwatch::testing {
namespace {

std::string order_event(const std::string& id, const std::string& account) {
  JsonWriter w;
  w.begin_object()
      .field("specversion", "1.0")
      .field("id", id)
      .field("source", "reload-test")
      .field("type", "sales.order")
      .field("time", format_rfc3339(SystemClock().now()))
      .field("subject", account)
      .key("data")
      .begin_object()
      .field("amount", 100.0)
      .field("currency", "EUR")
      .field("category", "sensors")
      .end_object()
      .end_object();
  return w.take();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string rule(const std::string& name) {
  return "alerts:\n  - alert: " + name +
         "\n    expr: count(sales.order, 1d) >= 1\n    labels: {signal: growth}\n"
         "    summary: 'order at {{ account.id }}'\n";
}

// Waits until the alerts topic holds a firing transition of `alert` for `account`.
bool alert_arrives(const std::string& topic, const std::string& alert, const std::string& account) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(60));
  while (std::chrono::steady_clock::now() < deadline) {
    const auto end = high_watermarks(topic, 1);
    for (const Consumed& c :
         consume(topic, 1, static_cast<std::size_t>(end[0]), std::chrono::seconds(10)))
      if (c.key == account && c.value.find("\"alert\":\"" + alert + "\"") != std::string::npos &&
          c.value.find("\"status\":\"firing\"") != std::string::npos)
        return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

bool log_contains(const std::string& path, const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(30));
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(path);
    const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (s.find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

TEST(Rules, BadReloadKeepsThePreviousRulesAndGoodOnesTakeEffect) {
  const std::string topic = unique_name("kw-reload-events");
  const std::string dlq = unique_name("kw-reload-dlq");
  const std::string alerts = unique_name("kw-reload-alerts");
  create_topic(topic, 2);
  create_topic(dlq, 1);
  create_topic(alerts, 1);
  const std::string dir = temp_dir("kw-reload");
  std::filesystem::create_directories(dir + "/rules");
  write_file(dir + "/rules/orders.yaml", rule("OrderSeen"));
  write_file(dir + "/kamwatch.yaml",
             "kafka:\n  brokers: " + broker() + "\n  topics: [" + topic +
                 "]\n  group: " + unique_name("kw-reload-group") + "\n  dead_letter_topic: " + dlq +
                 "\n  alerts_topic: " + alerts + "\n  batch_max_wait: 20ms\nstate:\n  data_dir: " +
                 dir + "/data\nrules:\n  dir: " + dir + "/rules\n  evaluation_interval: 1s\n");
  Daemon d({"run", "--config", dir + "/kamwatch.yaml"}, dir + "/kamwatch.log");
  d.start();
  ASSERT_TRUE(log_contains(d.log_path(), "kamwatch ready"));

  produce(topic, {{"A", order_event("1", "A"), {}}});
  EXPECT_TRUE(alert_arrives(alerts, "OrderSeen", "A")) << "see " << d.log_path();

  // A broken file: the reload is refused and the running rules stay in force.
  write_file(dir + "/rules/orders.yaml",
             "alerts:\n  - alert: OrderSeen\n    expr: count(sales.order, 1d >= \n");
  d.signal(SIGHUP);
  EXPECT_TRUE(log_contains(d.log_path(), "rule reload failed"));
  produce(topic, {{"B", order_event("2", "B"), {}}});
  EXPECT_TRUE(alert_arrives(alerts, "OrderSeen", "B")) << "old rules must keep running";

  // A good file takes effect.
  write_file(dir + "/rules/orders.yaml", rule("OrderSeenV2"));
  d.signal(SIGHUP);
  EXPECT_TRUE(log_contains(d.log_path(), "rules reloaded"));
  produce(topic, {{"C", order_event("3", "C"), {}}});
  EXPECT_TRUE(alert_arrives(alerts, "OrderSeenV2", "C"));

  // Editing a rule file is enough: the daemon notices the change and reloads.
  write_file(dir + "/rules/orders.yaml", rule("OrderSeenV3") + "\n");
  EXPECT_TRUE(log_contains(d.log_path(), "rule files changed"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  produce(topic, {{"D", order_event("4", "D"), {}}});
  EXPECT_TRUE(alert_arrives(alerts, "OrderSeenV3", "D"));

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait(std::chrono::seconds(60)), 0);
  std::filesystem::remove_all(dir);
}

TEST(Rules, BadRulesAtStartupExitWithTheErrorPosition) {
  const std::string dir = temp_dir("kw-badrules");
  std::filesystem::create_directories(dir + "/rules");
  write_file(dir + "/rules/bad.yaml",
             "alerts:\n  - alert: X\n    expr: nosuchfn(1)\n    labels: {signal: churn}\n    "
             "summary: x\n");
  Daemon d({"run", "--brokers", broker(), "--data", dir + "/data", "--rules", dir + "/rules"},
           dir + "/kamwatch.log");
  d.start();
  EXPECT_EQ(d.wait(std::chrono::seconds(60)), 1);
  EXPECT_TRUE(log_contains(d.log_path(), "bad.yaml:3:"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kamwatch::testing
