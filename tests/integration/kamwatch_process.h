#pragma once
// A kamwatch daemon for alerting/API tests: its own topic, group, state directory and HTTP
// port, configured through a YAML file, with helpers to read its API and metrics.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace kamwatch::testing {

// Waits until pred() holds (polling every 200 ms); false on timeout (scaled, see time_scale()).
bool eventually(const std::function<bool()>& pred, std::chrono::seconds timeout);

// CloudEvents JSON for the tests (structured mode), event time `time_ms`.
std::string event_json(const std::string& id, const std::string& type, const std::string& account,
                       std::int64_t time_ms, const std::string& data_json);
std::string profile_event(const std::string& id, const std::string& account,
                          const std::string& name, const std::string& kam, const std::string& tier);

class KamwatchProcess {
 public:
  // extra_yaml is appended to the generated config (e.g. an `alerting:` section); rules
  // defaults to the shipped rule packs.
  // With `join`, the instance consumes join's topics in join's consumer group (several
  // instances of one cluster).
  explicit KamwatchProcess(const std::string& name, std::string extra_yaml = "",
                           std::string listen_host = "127.0.0.1",
                           const KamwatchProcess* join = nullptr);
  ~KamwatchProcess();

  void start();
  void stop();  // SIGTERM and wait
  void kill();  // SIGKILL and wait
  [[nodiscard]] const std::string& topic() const { return topic_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string url() const;  // http://127.0.0.1:PORT
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& alerts_topic() const { return alerts_topic_; }
  [[nodiscard]] std::string log_tail() const;

  // Produces messages keyed by account to the input topic.
  void produce(const std::vector<Message>& messages) const;
  // The value of one sample in /metrics ("name{labels}" exactly as exposed); nullopt when
  // absent or the daemon does not answer.
  [[nodiscard]] std::optional<double> metric(const std::string& sample) const;
  [[nodiscard]] std::string metrics_text() const;
  // Waits for /readyz to say ready.
  bool wait_ready(std::chrono::seconds timeout) const;

 private:
  std::string dir_, topic_, alerts_topic_, group_, config_path_, listen_;
  int port_ = 0;
  std::unique_ptr<Daemon> daemon_;
};

}  // namespace kamwatch::testing
