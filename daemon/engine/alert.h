#pragma once
// Alert lifecycle (inactive -> pending -> firing -> resolved) and the transition records that
// leave kamwatch (replay output, outbox, sinks). Pure.
// Thread-safety: free functions over values.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/json_writer.h"
#include "core/result.h"
#include "core/time.h"
#include "model/account_state.h"
#include "rules/rules.h"

namespace kamwatch::engine {

// One firing or resolution, with everything a receiver needs to show and deduplicate it.
struct AlertTransition {
  enum class Status { kFiring, kResolved } status = Status::kFiring;
  std::string alert;     // rule name
  std::string account;   // account id
  std::string group;     // the `by` value, "" when ungrouped
  TimeMs at = 0;         // evaluation time of the transition (event time in replay)
  TimeMs starts_at = 0;  // when the alert started firing
  double value = 0;      // the condition's main value at the transition
  std::map<std::string, std::string> labels;       // alertname, account, signal, severity, ...
  std::map<std::string, std::string> annotations;  // summary, description, evidence, playbook
  std::vector<std::pair<std::string, double>> evidence;
  std::string fingerprint;  // stable across restarts: hash of (alert, account, group)

  [[nodiscard]] std::string_view status_text() const {
    return status == Status::kFiring ? "firing" : "resolved";
  }
};

// Firing alerts read a page at a time (the firing-alert index): the alerts, and where the next
// page starts ("" after the last).
struct AlertPage {
  std::vector<AlertTransition> alerts;
  std::string next;
};

// The key of a rule's state in AccountState::alerts.
std::string alert_key(std::string_view rule, std::string_view group);
// Stable hex fingerprint of (rule, account, group).
std::string fingerprint(std::string_view rule, std::string_view account, std::string_view group);

// Advances one rule's state for one account/group given its verdict at `now`. Returns the
// transition to emit, if any. hold = `for`; keep = `keep_firing_for`.
std::optional<AlertTransition::Status> step(model::AlertState& state,
                                            const rules::RuleResult& result, TimeMs hold,
                                            TimeMs keep, TimeMs now);

// JSON object of a transition, one line (the replay output and Kafka alerts topic format):
// {"status","alert","account","group","labels","annotations","at","starts_at","value",
//  "evidence","fingerprint"}.
std::string transition_json(const AlertTransition& t);
// The same object written into a larger document (the HTTP API's alert lists).
void write_transition_json(JsonWriter& w, const AlertTransition& t);
// Reads transition_json's output back (sinks read transitions from the outbox and the firing
// index). Errors: "invalid_transition" with what is wrong.
[[nodiscard]] Result<AlertTransition> parse_transition_json(std::string_view json);

}  // namespace kamwatch::engine
