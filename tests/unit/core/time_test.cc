#include "core/time.h"

#include <gtest/gtest.h>

namespace kamwatch {
namespace {

// 2026-03-02T09:15:00Z, computed independently: 20514 days after the epoch, plus 09:15.
constexpr TimeMs kT = 20514 * kDayMs + 9 * kHourMs + 15 * kMinuteMs;

TEST(ParseRfc3339, UtcAndOffsetsAgree) {
  EXPECT_EQ(parse_rfc3339("2026-03-02T09:15:00Z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-03-02t09:15:00z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-03-02 09:15:00Z"), kT);
  EXPECT_EQ(parse_rfc3339("2026-03-02T10:15:00+01:00"), kT);
  EXPECT_EQ(parse_rfc3339("2026-03-02T04:45:00-04:30"), kT);
  EXPECT_EQ(parse_rfc3339("2026-03-01T23:15:00-10:00"), kT);  // crosses midnight
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z"), -1000);
}

TEST(ParseRfc3339, FractionsKeepMilliseconds) {
  EXPECT_EQ(parse_rfc3339("2026-03-02T09:15:00.5Z"), kT + 500);
  EXPECT_EQ(parse_rfc3339("2026-03-02T09:15:00.123Z"), kT + 123);
  EXPECT_EQ(parse_rfc3339("2026-03-02T09:15:00.123999999Z"), kT + 123);  // truncated, not rounded
  EXPECT_EQ(parse_rfc3339("2026-03-02T10:15:00.250+01:00"), kT + 250);
}

TEST(ParseRfc3339, LeapDaysAndLeapSeconds) {
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z"));   // divisible by 400
  EXPECT_FALSE(parse_rfc3339("1900-02-29T00:00:00Z"));  // divisible by 100 only
  EXPECT_FALSE(parse_rfc3339("2026-02-29T00:00:00Z"));
  // A leap second is accepted and folded into the second before.
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60Z"), parse_rfc3339("2016-12-31T23:59:59Z"));
}

TEST(ParseRfc3339, RejectsInvalidText) {
  for (const char* bad : {"",
                          "yesterday",
                          "2026-02-30T09:15:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-10T00:00:00Z",
                          "2026-03-00T00:00:00Z",
                          "2026-03-02",
                          "2026-03-02T09:15:00",
                          "2026-03-02T09:15Z",
                          "2026-03-02T24:00:00Z",
                          "2026-03-02T09:60:00Z",
                          "2026-03-02T09:15:61Z",
                          "2026-03-02T09:15:00.Z",
                          "2026-03-02T09:15:00+0100",
                          "2026-03-02T09:15:00+24:00",
                          "2026-03-02T09:15:00Z ",
                          " 2026-03-02T09:15:00Z",
                          "26-03-02T09:15:00Z",
                          "2026-3-2T09:15:00Z",
                          "2026/03/02T09:15:00Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << '"' << bad << '"';
  }
}

TEST(ParseDate, MidnightUtcAndCalendarChecks) {
  EXPECT_EQ(parse_date("2026-03-02"), 20514 * kDayMs);
  EXPECT_EQ(parse_date("1970-01-01"), 0);
  EXPECT_TRUE(parse_date("2028-02-29"));
  EXPECT_FALSE(parse_date("2026-02-30"));
  EXPECT_FALSE(parse_date("2026-03-02T00:00:00Z"));
  EXPECT_FALSE(parse_date("20260302"));
  EXPECT_FALSE(parse_date(""));
}

TEST(FormatRfc3339, RoundTrips) {
  EXPECT_EQ(format_rfc3339(kT), "2026-03-02T09:15:00Z");
  EXPECT_EQ(format_rfc3339(kT + 7), "2026-03-02T09:15:00.007Z");
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
  for (const TimeMs t :
       {kT, kT + 1, kT + 999, TimeMs{0}, TimeMs{-1}, TimeMs{-86'400'001},
        *parse_rfc3339("2000-02-29T23:59:59.5Z"), *parse_rfc3339("9999-12-31T23:59:59.999Z")}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
  }
}

TEST(ParseDuration, UnitsAndCompounds) {
  EXPECT_EQ(parse_duration("14d"), 14 * kDayMs);
  EXPECT_EQ(parse_duration("1d12h"), 36 * kHourMs);
  EXPECT_EQ(parse_duration("90s"), 90 * kSecondMs);
  EXPECT_EQ(parse_duration("15m"), 15 * kMinuteMs);
  EXPECT_EQ(parse_duration("2w"), 14 * kDayMs);
  EXPECT_EQ(parse_duration("1y"), 365 * kDayMs);
  EXPECT_EQ(parse_duration("250ms"), 250);
  EXPECT_EQ(parse_duration("1h30m"), 90 * kMinuteMs);
  EXPECT_EQ(parse_duration("0s"), 0);
}

TEST(ParseDuration, RejectsBadInput) {
  for (const char* bad :
       {"", "d", "14", "14x", "-1d", "1.5h", "1d 12h", " 1d", "1dd", "h1", "99999999999d"}) {
    EXPECT_FALSE(parse_duration(bad)) << '"' << bad << '"';
  }
}

TEST(FormatDuration, RoundTrips) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(36 * kHourMs), "1d12h");
  EXPECT_EQ(format_duration(14 * kDayMs), "14d");
  EXPECT_EQ(format_duration(-90 * kSecondMs), "-1m30s");
  for (const char* d : {"14d", "1d12h", "90m", "2w", "1d2h3m4s5ms"}) {
    EXPECT_EQ(parse_duration(format_duration(*parse_duration(d))), parse_duration(d)) << d;
  }
}

TEST(FloorTo, NegativeTimesFloorDown) {
  EXPECT_EQ(floor_to(kT + 5, kDayMs), 20514 * kDayMs);
  EXPECT_EQ(floor_to(-1, kDayMs), -kDayMs);
  EXPECT_EQ(floor_to(-kDayMs, kDayMs), -kDayMs);
  EXPECT_EQ(floor_to(0, kDayMs), 0);
}

}  // namespace
}  // namespace kamwatch
