#pragma once
// A realistic key-account portfolio as a stream of CloudEvents (shared/event-catalog.md), with
// injected churn, competitor and growth scenarios and their ground truth, so that rules can be
// measured for recall, precision and lead time (`kamwatch simulate`, then `kamwatch replay`).
// Deterministic: the same options (seed included) give byte-identical output on a platform.
// Memory stays small: events are streamed in event-time order, only pending future events
// (invoices, ticket resolutions, ...) are held. See daemon/sim/README.md for the model.
// Thread-safety: simulate() and write_jsonl() keep no global state; calls may run in parallel.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace kamwatch::sim {

struct SimOptions {
  int accounts = 300;
  int days = 730;  // length of the history
  // End of the history (exclusive): events fall in [end - days, end), whole UTC days from
  // floor(end) - days. 0 = the fixed default 2026-06-30T00:00:00Z (so output never depends
  // on the wall clock).
  TimeMs end = 0;
  std::uint64_t seed = 1;
  // Shares of accounts that get an injected scenario (rounded to whole accounts).
  double churn_fraction = 0.12;
  double competitor_fraction = 0.10;
  double growth_fraction = 0.10;
  // Scales healthy noise: the rate of usage dips, ticket bursts, late invoices, detractors,
  // background competitor mentions, skipped meetings, champion changes, downgrades, and the
  // day-to-day jitter of usage. 0 = none (base processes such as orders remain random).
  double noise = 1.0;
  // Share of accounts signed during the first months of the history (never given a scenario).
  double new_logo_fraction = 0.05;
  std::string account_prefix = "ACME";  // account ids are "<prefix>-0001", ...
};

// Checks ranges (accounts 1..100000, days 1..3650, fractions 0..1 summing to at most 1,
// noise 0..10). simulate() assumes valid options; write_jsonl() checks them.
[[nodiscard]] Result<void> validate(const SimOptions& options);

// The resolved end of the history (options.end or the default).
[[nodiscard]] TimeMs history_end(const SimOptions& options);

struct SimEvent {
  TimeMs time = 0;
  std::string account;  // CloudEvents subject (Kafka message key)
  std::string json;     // one structured CloudEvents JSON object, no newline
};

// A noise episode on an account (healthy accounts have them too), for explaining alerts.
struct NoiseEpisode {
  std::string kind;  // usage_dip, ticket_burst, late_invoice, detractor, champion_change,
                     // downgrade, lost_deal, skipped_meeting
  TimeMs start = 0;
  int days = 1;
};

// One record per account (healthy ones too, with scenario and signal "none").
struct GroundTruth {
  std::string account;
  std::string scenario = "none";  // none, churn_silent, churn_service, churn_champion,
                                  // churn_budget, competitor_displacement, growth_expansion
  std::string signal = "none";    // none, churn, competitor, growth
  TimeMs onset = 0;               // scenario start; 0 for none
  TimeMs outcome_time = 0;        // churn: contract cancelled; competitor: share lost;
                                  // growth: first order in the new category; 0 for none
  std::string outcome;            // terminated, non_renewal, share_lost, new_category
  std::string category;           // competitor: the category lost; growth: the new one
  std::string competitor;         // competitor scenarios
  std::vector<std::string> symptoms;
  TimeMs last_activity = 0;  // time of the account's last usage.activity event
  std::string tier;
  std::string kam;
  double annual_value = 0;  // the account's planned yearly revenue (EUR)
  bool new_logo = false;
  std::vector<NoiseEpisode> noise;

  // One JSON object (format in README.md); times as RFC 3339, absent ones as null.
  [[nodiscard]] std::string to_json() const;
};

struct SimStats {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;  // JSON bytes, without newlines
  int accounts = 0;
  TimeMs start = 0;
  TimeMs end = 0;
};

// Generates the portfolio, calling sink once per event in global event-time order (ties in
// generation order). When truth is not null it receives one record per account, in account
// order, after the last event.
SimStats simulate(const SimOptions& options, const std::function<void(const SimEvent&)>& sink,
                  std::vector<GroundTruth>* truth);

// Writes the events as JSON Lines to path ("-" = stdout) and, when truth_path is not empty,
// the ground truth as JSON Lines (one record per account). Checks the options first.
[[nodiscard]] Result<SimStats> write_jsonl(const std::string& path, const SimOptions& options,
                                           const std::string& truth_path = {});

}  // namespace kamwatch::sim
