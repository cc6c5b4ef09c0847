#include "core/time.h"

#include <cstdio>

namespace kamwatch {
namespace {

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at pos; advances pos.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

bool parse_ymd(std::string_view s, size_t& pos, int& y, int& mo, int& d) {
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !digits(s, pos, 2, d))
    return false;
  if (mo < 1 || mo > 12 || d < 1) return false;
  return static_cast<unsigned>(d) <= days_in_month(y, static_cast<unsigned>(mo));
}

}  // namespace

// Howard Hinnant's days_from_civil: days since 1970-01-01 for a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

std::optional<TimeMs> parse_date(std::string_view s) {
  size_t pos = 0;
  int y, mo, d;
  if (!parse_ymd(s, pos, y, mo, d) || pos != s.size()) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * kDayMs;
}

std::optional<TimeMs> parse_rfc3339(std::string_view s) {
  size_t pos = 0;
  int y, mo, d, h, mi, sec;
  if (!parse_ymd(s, pos, y, mo, d)) return std::nullopt;
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !digits(s, pos, 2, sec))
    return std::nullopt;
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 60: leap second, folded below
  if (sec == 60) sec = 59;
  TimeMs frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t n = 0;
    TimeMs scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;  // offset is required
  TimeMs offset_ms = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om))
      return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_ms = sign * (oh * kHourMs + om * kMinuteMs);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const TimeMs days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * kDayMs + h * kHourMs + mi * kMinuteMs + sec * kSecondMs + frac_ms - offset_ms;
}

std::string format_rfc3339(TimeMs t) {
  const TimeMs day = floor_to(t, kDayMs);
  const CivilDate c = civil_from_days(day / kDayMs);
  TimeMs rest = t - day;
  const auto h = static_cast<int>(rest / kHourMs);
  rest %= kHourMs;
  const auto mi = static_cast<int>(rest / kMinuteMs);
  rest %= kMinuteMs;
  const auto sec = static_cast<int>(rest / kSecondMs);
  const auto ms = static_cast<int>(rest % kSecondMs);
  char buf[40];
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                  static_cast<long long>(c.year), c.month, c.day, h, mi, sec, ms);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<long long>(c.year), c.month, c.day, h, mi, sec);
  }
  return buf;
}

std::optional<TimeMs> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  TimeMs total = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    TimeMs n = 0;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      n = n * 10 + (s[pos] - '0');
      if (n > 1'000'000'000) return std::nullopt;
      ++pos;
    }
    if (pos == start || pos >= s.size()) return std::nullopt;
    TimeMs unit;
    if (s.substr(pos, 2) == "ms") {
      unit = 1;
      pos += 2;
    } else {
      switch (s[pos]) {
        case 's':
          unit = kSecondMs;
          break;
        case 'm':
          unit = kMinuteMs;
          break;
        case 'h':
          unit = kHourMs;
          break;
        case 'd':
          unit = kDayMs;
          break;
        case 'w':
          unit = 7 * kDayMs;
          break;
        case 'y':
          unit = 365 * kDayMs;
          break;
        default:
          return std::nullopt;
      }
      ++pos;
    }
    total += n * unit;
  }
  return total;
}

std::string format_duration(TimeMs d) {
  if (d == 0) return "0s";
  std::string out;
  if (d < 0) {
    out = "-";
    d = -d;
  }
  struct U {
    TimeMs ms;
    const char* name;
  };
  static constexpr U kUnits[] = {
      {kDayMs, "d"}, {kHourMs, "h"}, {kMinuteMs, "m"}, {kSecondMs, "s"}, {1, "ms"}};
  for (const U& u : kUnits) {
    if (d >= u.ms) {
      out += std::to_string(d / u.ms) + u.name;
      d %= u.ms;
    }
  }
  return out;
}

}  // namespace kamwatch
