#pragma once
// Event time: milliseconds since the Unix epoch, UTC. RFC 3339 parsing and formatting.
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kamwatch {

using TimeMs = std::int64_t;

inline constexpr TimeMs kSecondMs = 1000;
inline constexpr TimeMs kMinuteMs = 60 * kSecondMs;
inline constexpr TimeMs kHourMs = 60 * kMinuteMs;
inline constexpr TimeMs kDayMs = 24 * kHourMs;

// Proleptic Gregorian calendar <-> days since 1970-01-01 (Howard Hinnant's algorithms).
struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};
CivilDate civil_from_days(std::int64_t days);
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

// Parses RFC 3339 ("2026-03-02T09:15:00Z", "2026-03-02T09:15:00.123+01:00"; 't', 'z' and
// a space separator accepted). Returns nullopt when the text is not a valid timestamp.
std::optional<TimeMs> parse_rfc3339(std::string_view text);

// Parses a calendar date "YYYY-MM-DD" to midnight UTC.
std::optional<TimeMs> parse_date(std::string_view text);

// Formats as "2026-03-02T09:15:00Z", with ".123" when the milliseconds are not zero.
std::string format_rfc3339(TimeMs t);

// Parses a duration such as "90s", "15m", "36h", "14d", "2w", "1y" (365d), or "1d12h".
std::optional<TimeMs> parse_duration(std::string_view text);
std::string format_duration(TimeMs d);

// Floors t to a multiple of step (works for negative times too).
constexpr TimeMs floor_to(TimeMs t, TimeMs step) {
  TimeMs q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
}

}  // namespace kamwatch
