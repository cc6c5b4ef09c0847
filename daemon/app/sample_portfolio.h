#pragma once
// A small synthetic portfolio in the event catalog's format, for `kamwatch demo` and smoke
// runs: accounts with Pareto-skewed revenue, daily usage, tickets, meetings, and a few
// deliberately malformed events to show the dead-letter path.
#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace kamwatch::app {

struct SampleMessage {
  std::string key;    // account id (the Kafka message key)
  std::string value;  // structured CloudEvents JSON
  bool valid = true;
};

struct SampleOptions {
  int accounts = 40;
  int days = 120;
  TimeMs end = 0;  // last day covered; 0 = today
  std::uint64_t seed = 42;
  int malformed = 5;  // how many broken events to mix in
};

[[nodiscard]] std::vector<SampleMessage> sample_portfolio(const SampleOptions& options);

}  // namespace kamwatch::app
