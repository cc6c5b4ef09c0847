#pragma once
// Calendar arithmetic on UTC days for the simulator: civil dates, weekdays, and the seasonal
// factors that shape usage and ordering (documented in README.md). Thread-safety: pure.
#include <cstdint>
#include <string>

#include "core/time.h"

namespace kamwatch::sim {

struct DayInfo {
  TimeMs start = 0;  // midnight UTC
  int year = 0;
  int month = 0;    // 1..12
  int mday = 0;     // 1..31
  int weekday = 0;  // 0 = Monday .. 6 = Sunday
  int yday = 0;     // 0..365
};

[[nodiscard]] DayInfo day_info(TimeMs day_start);

// "YYYY-MM-DD" of the UTC day containing t.
[[nodiscard]] std::string date_string(TimeMs t);

// Appends "YYYY-MM-DDTHH:MM:SSZ" (whole seconds; t is rounded down to the second).
void append_rfc3339(std::string& out, TimeMs t);

// Relative usage on each weekday (Monday first); weekends are low.
inline constexpr double kWeekdayUsage[7] = {1.0, 1.03, 1.02, 0.99, 0.86, 0.14, 0.09};

// Seasonal usage factor: August holidays (deeper in EMEA), the Christmas to New Year lull,
// and a mild annual wave. emea selects the deeper August dip.
[[nodiscard]] double usage_season(const DayInfo& d, bool emea);

// Seasonal factor on ordering: slower in August and over the year-end holidays.
[[nodiscard]] double order_season(const DayInfo& d);

}  // namespace kamwatch::sim
