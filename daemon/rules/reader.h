#pragma once
// Reader stage of the loader: one rule file's YAML tree -> info structs that keep the
// position of everything, checking the file's shape (known keys, value kinds, durations,
// names). Expressions stay text here; the compiler stage parses them.
// Thread-safety: pure functions; run on the loading thread.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/yaml_tree.h"
#include "rules/compiler.h"

namespace kamwatch::rules::detail {

struct DerivedInfo {
  std::string name;
  SourcePos pos;
  Located expr;
};

struct MeasureInfo {
  std::string name;
  SourcePos pos;
  double weight = 0;
  Located expr;
  std::vector<std::pair<double, double>> map;  // durations in ms when map_durations
  bool map_durations = false;
  SourcePos map_pos;
  std::optional<double> missing;
};

struct ScorecardInfo {
  SourcePos pos;
  std::optional<std::pair<double, double>> bands;  // red, yellow
  SourcePos bands_pos;
  std::optional<std::pair<TimeMs, TimeMs>> trend;  // window, step
  SourcePos trend_pos;
  std::vector<MeasureInfo> measures;
};

struct NamedText {
  std::string name;
  SourcePos pos;  // of the key
  Located text;
};

struct LabelInfo {
  std::string name;
  std::string value;
  SourcePos pos;        // of the key
  SourcePos value_pos;  // of the value
};

struct AlertInfo {
  std::string name;
  SourcePos pos;  // of the name's value
  std::optional<Located> expr;
  std::optional<Located> resolve;
  TimeMs hold = 0;
  TimeMs keep_firing_for = 0;
  TimeMs min_history = 0;
  std::string by;
  SourcePos by_pos;
  std::optional<Located> severity;
  std::vector<LabelInfo> labels;
  std::vector<NamedText> evidence;
  std::vector<NamedText> annotations;  // summary, description, playbook, annotations: {...}
};

struct FileInfo {
  std::string name;
  std::vector<DerivedInfo> derived;
  std::optional<ScorecardInfo> scorecard;
  std::vector<AlertInfo> alerts;
  std::vector<std::pair<std::string, SourcePos>> custom_types;
};

// Reads one parsed rule file. Problems are added to diags; what could be read is returned.
[[nodiscard]] FileInfo read_rule_file(std::shared_ptr<const std::string> name,
                                      const config::YamlDocument& doc, Diagnostics& diags);

}  // namespace kamwatch::rules::detail
