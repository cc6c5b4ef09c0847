#pragma once
// Alert transitions to an Alertmanager (API v2, POST /api/v2/alerts), the way Prometheus sends
// them: a firing alert carries endsAt = now + 4 x resend interval and is re-sent every resend
// interval while it fires (so a restarted Alertmanager gets it back and a dead kamwatch's
// alerts expire on their own); a resolved one carries endsAt = the resolution time.
// Labels are the transition's (alertname, account, account_name, kam, tier, severity, signal,
// the rule's own and the group key); annotations its summary/description/playbook/runbook_url
// plus `evidence` (the values behind the verdict) and a `description` fallback;
// generatorURL = <external_url>/api/v1/accounts/<account>.
// Thread-safety: one forwarder thread per sink.
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sink.h"
#include "engine/alert.h"

namespace kamwatch::delivery {

struct AlertmanagerOptions {
  std::string url;  // base URL, e.g. http://127.0.0.1:9093
  TimeMs timeout = 10000;
  TimeMs resend_interval = kMinuteMs;
  std::string external_url;  // kamwatch's own base URL for generatorURL
};

// The firing alerts to re-send (the firing-alert index), a page of about max at a time after
// `after` ("" = from the start; then the last page's next, until it is "").
using FiringAlerts =
    std::function<Result<engine::AlertPage>(std::string_view after, std::size_t max)>;

// The Alertmanager v2 JSON array for transitions at `now`.
[[nodiscard]] std::string alertmanager_payload(const std::vector<engine::AlertTransition>& alerts,
                                               TimeMs now, const AlertmanagerOptions& options);

class AlertmanagerSink final : public Sink {
 public:
  AlertmanagerSink(AlertmanagerOptions options, FiringAlerts firing);
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] std::vector<bool> deliver(const std::vector<state::OutboxRecord>& records) override;
  [[nodiscard]] bool tick(TimeMs now) override;
  [[nodiscard]] TimeMs tick_interval() const override { return options_.resend_interval; }

 private:
  // Posts alerts; true when Alertmanager accepted them (or refused them for good: 4xx).
  bool post(const std::vector<engine::AlertTransition>& alerts, TimeMs now);

  AlertmanagerOptions options_;
  FiringAlerts firing_;
  std::string name_;
  // Resolutions delivered recently (fingerprint -> time): a re-send snapshot taken just before a
  // resolution must not bring the alert back.
  std::map<std::string, TimeMs> resolved_;
};

}  // namespace kamwatch::delivery
