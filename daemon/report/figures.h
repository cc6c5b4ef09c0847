#pragma once
// Reading an account's bucketed history by calendar period: the weeks, months and quarters a
// report shows, and sums/counts/averages/last values of a series over them (from the daily
// buckets, so exact within the daily retention back from the account's watermark).
// Thread-safety: pure functions over values.
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "model/account_state.h"
#include "model/series_spec.h"

namespace kamwatch::report {

// [start, end), whole UTC days.
struct Period {
  TimeMs start = 0;
  TimeMs end = 0;
  std::string label;
};

// n weeks of 7 whole UTC days, oldest first, the last ending with now's day (inclusive).
// Labels: the first day, "2026-03-02".
[[nodiscard]] std::vector<Period> weeks_ending(TimeMs now, int n);
// n calendar months, oldest first, the last being now's month (to date). Labels "Mar 2026".
[[nodiscard]] std::vector<Period> months_ending(TimeMs now, int n);
// n calendar quarters, oldest first, the last being now's quarter. Labels "Q1 2026".
[[nodiscard]] std::vector<Period> quarters_ending(TimeMs now, int n);

struct Aggregate {
  std::int64_t count = 0;
  double sum = 0;
  double last = NAN;  // value of the latest event in the period
  TimeMs last_time = 0;
  [[nodiscard]] double mean() const { return count ? sum / static_cast<double>(count) : NAN; }
};

// The daily buckets of s that start in [start, end).
[[nodiscard]] Aggregate aggregate(const model::Series& s, TimeMs start, TimeMs end);
[[nodiscard]] std::vector<Aggregate> aggregate(const model::Series& s,
                                               const std::vector<Period>& periods);

// The per-type statistics of type, or nullptr.
[[nodiscard]] const model::TypeStats* type_stats(const model::AccountState& a,
                                                 std::string_view type);
// A numeric field's series of a type's statistics ("" = the event counts), or nullptr.
[[nodiscard]] const model::Series* field_series(const model::TypeStats* stats,
                                                std::string_view field);
// The derived series for spec, when the state keeps it (the loaded rules read it), or nullptr.
[[nodiscard]] const model::DerivedSeries* derived(const model::AccountState& a,
                                                  const model::SeriesSpec& spec);
// Whether the series is kept: the state has it, or specs (the loaded rules) asks for it, so
// its absence from the state means "no such event yet".
[[nodiscard]] bool kept(const model::AccountState& a, const model::SeriesSpecs* specs,
                        const model::SeriesSpec& spec);

// The statistics of the events of a type whose string field equals value: the filtered series
// `type{field=="value"}`, else group `value` of the series `type by field`.
struct Subset {
  bool kept = false;                        // false: neither series is kept, nothing is known
  const model::TypeStats* stats = nullptr;  // null when kept but no such event yet
};
[[nodiscard]] Subset events_where(const model::AccountState& a, const model::SeriesSpecs* specs,
                                  std::string_view type, std::string_view field,
                                  std::string_view value);

// The latest value of s in a bucket starting at or before now (daily buckets), or nullopt.
[[nodiscard]] std::optional<double> last_value(const model::Series& s, TimeMs now);

}  // namespace kamwatch::report
