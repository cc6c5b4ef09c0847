#include "sim/calendar.h"

#include <cmath>
#include <numbers>

namespace kamwatch::sim {
namespace {

struct Civil {
  int y;
  int m;
  int d;
};

Civil civil_from_days(std::int64_t z) {
  const CivilDate c = kamwatch::civil_from_days(z);
  return {static_cast<int>(c.year), static_cast<int>(c.month), static_cast<int>(c.day)};
}

void two(std::string& out, int v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

void append_date(std::string& out, const Civil& c) {
  two(out, c.y / 100);
  two(out, c.y % 100);
  out.push_back('-');
  two(out, c.m);
  out.push_back('-');
  two(out, c.d);
}

}  // namespace

DayInfo day_info(TimeMs day_start) {
  const std::int64_t days = floor_to(day_start, kDayMs) / kDayMs;
  const Civil c = civil_from_days(days);
  DayInfo d;
  d.start = days * kDayMs;
  d.year = c.y;
  d.month = c.m;
  d.mday = c.d;
  // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
  d.weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);
  d.yday = static_cast<int>(days - kamwatch::days_from_civil(c.y, 1, 1));
  return d;
}

std::string date_string(TimeMs t) {
  std::string out;
  out.reserve(10);
  append_date(out, civil_from_days(floor_to(t, kDayMs) / kDayMs));
  return out;
}

void append_rfc3339(std::string& out, TimeMs t) {
  const TimeMs day = floor_to(t, kDayMs);
  append_date(out, civil_from_days(day / kDayMs));
  const auto secs = static_cast<int>((t - day) / kSecondMs);
  out.push_back('T');
  two(out, secs / 3600);
  out.push_back(':');
  two(out, secs / 60 % 60);
  out.push_back(':');
  two(out, secs % 60);
  out.push_back('Z');
}

double usage_season(const DayInfo& d, bool emea) {
  double f = 1.0 + 0.04 * std::sin(2 * std::numbers::pi * (d.yday - 80) / 365.0);
  if (d.month == 8) f *= emea ? 0.72 : 0.9;
  if (d.month == 12 && d.mday >= 20 && d.mday <= 23) f *= 0.85;
  if ((d.month == 12 && (d.mday == 24 || d.mday == 25 || d.mday == 26)) ||
      (d.month == 1 && d.mday == 1))
    f *= 0.3;
  else if (d.month == 12 && d.mday >= 27)
    f *= 0.5;
  return f;
}

double order_season(const DayInfo& d) {
  if (d.month == 8) return 0.8;
  if ((d.month == 12 && d.mday >= 20) || (d.month == 1 && d.mday == 1)) return 0.3;
  return 1.0;
}

}  // namespace kamwatch::sim
