#pragma once
// Command-line parsing: "--name value", "--name=value" and boolean switches. Unknown flags are
// errors that name the flag and point to --help.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace kamwatch::app {

struct FlagSpec {
  std::set<std::string> with_value;  // e.g. "config", "brokers"
  std::set<std::string> switches;    // e.g. "help", "buckets"
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> switches;

  [[nodiscard]] bool has(const std::string& s) const { return switches.count(s) > 0; }
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

[[nodiscard]] Result<Args> parse_args(const std::vector<std::string>& argv, const FlagSpec& spec);

}  // namespace kamwatch::app
