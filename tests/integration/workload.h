#pragma once
// A reproducible event workload for integration and fault tests, and its oracle: what every
// account's per-type counts and field sums must be once each valid event is applied once.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "harness.h"

namespace kamwatch::testing {

struct TypeTotals {
  std::int64_t count = 0;
  std::map<std::string, double> sums;     // numeric field -> sum
  std::map<std::string, std::int64_t> n;  // numeric field -> events carrying it
};
using Oracle = std::map<std::string, std::map<std::string, TypeTotals>>;  // account -> type

struct WorkloadOptions {
  int accounts = 60;
  std::size_t events = 200000;  // valid, distinct events
  double malformed = 0.01;      // fraction added as malformed messages
  double duplicates = 0.01;     // fraction re-sent as exact duplicates
  double late = 0.002;          // fraction added with a time older than the late grace
  std::uint64_t seed = 7;
};

struct Workload {
  std::vector<Message> messages;                       // in produce order
  std::map<std::string, std::string> expected_reason;  // dead-letter value -> reason code
  Oracle oracle;
  std::size_t valid = 0, malformed = 0, duplicates = 0, late = 0;
};

Workload make_workload(const WorkloadOptions& options);

// Splits a workload into waves of about `waves` equal parts (produce order kept).
std::vector<std::vector<Message>> split(const std::vector<Message>& messages, int waves);

// Compares the state directory with the oracle; returns a list of differences (empty = equal).
std::vector<std::string> compare_with_oracle(const std::string& data_dir, const Oracle& oracle);

// The comparison in figures: events the oracle expects, events missing (lost) and events
// counted more than once (double counted), summed over every account and type, and the list
// of differences (counts, field sums, accounts the oracle does not know).
struct OracleTally {
  std::int64_t expected = 0;
  std::int64_t lost = 0;
  std::int64_t double_counted = 0;
  std::vector<std::string> diffs;
};
// Each account is read from data_dirs[owner(account)] (one state directory per instance of a
// consumer group; the owner is the instance holding the account's partition at the end).
// Without an owner every account is read from data_dirs[0].
OracleTally tally_with_oracle(const std::vector<std::string>& data_dirs, const Oracle& oracle,
                              const std::function<std::size_t(const std::string&)>& owner = {});

}  // namespace kamwatch::testing
