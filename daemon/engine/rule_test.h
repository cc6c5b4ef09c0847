#pragma once
// Rule unit tests, as `promtool test rules` does for Prometheus: a YAML file names rule files,
// gives input events (one by one, or generated series), and expects the set of firing alerts
// of a rule at given times. Runs on the Replayer, so tests see exactly what replay and the
// daemon's evaluation would. Format: docs/rules.md ("Rule tests").
#include <string>
#include <vector>

namespace kamwatch::engine {

struct RuleTestReport {
  int passed = 0;
  int failed = 0;
  std::vector<std::string> lines;  // "PASS file: name", "FAIL file:line: name: why"
};

// Runs every test in the file. Problems with the file itself count as one failure each,
// reported as file:line:col.
RuleTestReport run_rule_tests(const std::string& path);

}  // namespace kamwatch::engine
