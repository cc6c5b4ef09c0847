#include "kamwatch_process.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json_writer.h"
#include "core/time.h"
#include "services.h"

namespace kamwatch::testing {

bool eventually(const std::function<bool()>& pred, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pred();
}

std::string event_json(const std::string& id, const std::string& type, const std::string& account,
                       std::int64_t time_ms, const std::string& data_json) {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":"it-alerting","type":")" + type +
         R"(","time":")" + format_rfc3339(time_ms) + R"(","subject":")" + account + R"(","data":)" +
         data_json + "}";
}

std::string profile_event(const std::string& id, const std::string& account,
                          const std::string& name, const std::string& kam,
                          const std::string& tier) {
  JsonWriter w;
  w.begin_object().field("name", name).field("kam", kam).field("tier", tier).end_object();
  return event_json(id, "account.profile", account,
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                            .count() -
                        10 * kDayMs,
                    w.take());
}

KamwatchProcess::KamwatchProcess(const std::string& name, std::string extra_yaml,
                                 std::string listen_host, const KamwatchProcess* join) {
  dir_ = temp_dir(name);
  if (join) {
    topic_ = join->topic_;
    alerts_topic_ = join->alerts_topic_;
    group_ = join->group_;
  } else {
    topic_ = unique_name(name);
    alerts_topic_ = topic_ + ".alerts";
    group_ = topic_;
    create_topic(topic_, 2);
    create_topic(alerts_topic_, 1);
    create_topic(topic_ + ".dlq", 1);
  }
  port_ = free_port();
  listen_ = listen_host + ":" + std::to_string(port_);
  config_path_ = dir_ + "/kamwatch.yaml";
  std::ofstream f(config_path_);
  f << "kafka:\n  brokers: " << broker() << "\n  topics: [" << topic_ << "]\n  group: " << group_
    << "\n  alerts_topic: " << alerts_topic_ << "\n  dead_letter_topic: " << topic_
    << ".dlq\n  batch_max_wait: 50ms\n"
    << "state:\n  data_dir: " << dir_ << "/data\n"
    << "rules:\n  dir: " << KAMWATCH_SOURCE_DIR
    << "/rules\n  evaluation_interval: 2s\n  portfolio_refresh: 2s\n"
    << "http:\n  listen: " << listen_ << "\n"
    << extra_yaml;
}

KamwatchProcess::~KamwatchProcess() {
  if (daemon_ && daemon_->running()) kill();
}

void KamwatchProcess::start() {
  daemon_ = std::make_unique<Daemon>(
      std::vector<std::string>{"run", "--config", config_path_, "--http", listen_},
      dir_ + "/kamwatch.log");
  daemon_->start();
}

void KamwatchProcess::stop() {
  if (!daemon_ || !daemon_->running()) return;
  daemon_->signal(SIGTERM);
  EXPECT_EQ(daemon_->wait(std::chrono::seconds(60)), 0) << log_tail();
}

void KamwatchProcess::kill() {
  if (!daemon_ || !daemon_->running()) return;
  daemon_->signal(SIGKILL);
  daemon_->wait(std::chrono::seconds(30));
}

std::string KamwatchProcess::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string KamwatchProcess::log_tail() const {
  std::ifstream f(dir_ + "/kamwatch.log");
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  std::string out;
  for (std::size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i)
    out += lines[i] + "\n";
  return out;
}

void KamwatchProcess::produce(const std::vector<Message>& messages) const {
  testing::produce(topic_, messages);
}

std::string KamwatchProcess::metrics_text() const {
  auto [status, body] = http_call("GET", url() + "/metrics");
  return status == 200 ? body : std::string();
}

std::optional<double> KamwatchProcess::metric(const std::string& sample) const {
  const std::string text = metrics_text();
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return std::nullopt;
}

bool KamwatchProcess::wait_ready(std::chrono::seconds timeout) const {
  return eventually([&] { return http_call("GET", url() + "/readyz").first == 200; }, timeout);
}

}  // namespace kamwatch::testing
