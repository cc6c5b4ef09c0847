#include "report/figures.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace kamwatch::report {
namespace {

model::Event event(const std::string& id, const std::string& type, TimeMs t,
                   std::vector<model::Field> data) {
  return model::Event{id, "test", type, "A", t, std::move(data)};
}

TEST(Periods, WeeksEndWithTodayInclusive) {
  const auto w = weeks_ending(at("2026-06-15T12:00:00Z"), 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[2].end, at("2026-06-16T00:00:00Z"));
  EXPECT_EQ(w[2].start, at("2026-06-09T00:00:00Z"));
  EXPECT_EQ(w[0].start, at("2026-05-26T00:00:00Z"));
  EXPECT_EQ(w[1].end, w[2].start);
  EXPECT_EQ(w[2].label, "2026-06-09");
}

TEST(Periods, CalendarMonthsAcrossTheYear) {
  const auto m = months_ending(at("2026-02-10T08:00:00Z"), 3);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].label, "Dec 2025");
  EXPECT_EQ(m[0].start, at("2025-12-01T00:00:00Z"));
  EXPECT_EQ(m[0].end, at("2026-01-01T00:00:00Z"));
  EXPECT_EQ(m[2].label, "Feb 2026");
  EXPECT_EQ(m[2].end, at("2026-03-01T00:00:00Z"));
}

TEST(Periods, CalendarQuarters) {
  const auto q = quarters_ending(at("2026-05-20T00:00:00Z"), 3);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].label, "Q4 2025");
  EXPECT_EQ(q[0].start, at("2025-10-01T00:00:00Z"));
  EXPECT_EQ(q[2].label, "Q2 2026");
  EXPECT_EQ(q[2].start, at("2026-04-01T00:00:00Z"));
  EXPECT_EQ(q[2].end, at("2026-07-01T00:00:00Z"));
}

TEST(Aggregate, SumsCountsAndLastValueFromDailyBuckets) {
  model::AccountState s;
  const model::Retention r;
  model::apply(s,
               event("1", "usage.seats", at("2026-06-01T10:00:00Z"),
                     {{"used", model::FieldValue::of_number(10)}}),
               r);
  model::apply(s,
               event("2", "usage.seats", at("2026-06-03T10:00:00Z"),
                     {{"used", model::FieldValue::of_number(14)}}),
               r);
  model::apply(s,
               event("3", "usage.seats", at("2026-06-09T10:00:00Z"),
                     {{"used", model::FieldValue::of_number(20)}}),
               r);
  const model::Series* used = field_series(type_stats(s, "usage.seats"), "used");
  ASSERT_NE(used, nullptr);
  const Aggregate a = aggregate(*used, at("2026-06-01T00:00:00Z"), at("2026-06-08T00:00:00Z"));
  EXPECT_EQ(a.count, 2);
  EXPECT_DOUBLE_EQ(a.sum, 24);
  EXPECT_DOUBLE_EQ(a.mean(), 12);
  EXPECT_DOUBLE_EQ(a.last, 14);
  EXPECT_EQ(*last_value(*used, at("2026-06-05T00:00:00Z")), 14);
  EXPECT_EQ(*last_value(*used, at("2026-06-30T00:00:00Z")), 20);
  EXPECT_FALSE(last_value(*used, at("2026-05-30T00:00:00Z")).has_value());
  EXPECT_TRUE(std::isnan(aggregate(*used, 0, 1).mean()));
  EXPECT_EQ(field_series(type_stats(s, "usage.seats"), ""), &s.types.at("usage.seats").events);
  EXPECT_EQ(field_series(type_stats(s, "usage.activity"), "used"), nullptr);
}

TEST(Subsets, FilteredOrGroupedDerivedSeries) {
  const model::SeriesSpec opened{
      "support.ticket",
      {{"action", model::Predicate::Op::kEq, model::FieldValue::of_string("opened")}},
      ""};
  const model::SeriesSpec by_level{"relationship.meeting", {}, "level"};
  const model::SeriesSpecs specs({opened, by_level});
  model::AccountState s;
  const model::Retention r;
  const TimeMs t = at("2026-06-01T10:00:00Z");
  model::apply(
      s, event("1", "support.ticket", t, {{"action", model::FieldValue::of_string("resolved")}}), r,
      &specs);
  // Kept but no matching event yet: known to be none.
  Subset o = events_where(s, &specs, "support.ticket", "action", "opened");
  EXPECT_TRUE(o.kept);
  EXPECT_EQ(o.stats, nullptr);
  model::apply(
      s, event("2", "support.ticket", t + 1, {{"action", model::FieldValue::of_string("opened")}}),
      r, &specs);
  o = events_where(s, &specs, "support.ticket", "action", "opened");
  ASSERT_NE(o.stats, nullptr);
  EXPECT_EQ(o.stats->count, 1);

  model::apply(
      s,
      event("3", "relationship.meeting", t + 2, {{"level", model::FieldValue::of_string("exec")}}),
      r, &specs);
  const Subset exec = events_where(s, &specs, "relationship.meeting", "level", "exec");
  ASSERT_NE(exec.stats, nullptr);
  EXPECT_EQ(exec.stats->last_time, t + 2);
  const Subset it = events_where(s, &specs, "relationship.meeting", "level", "it");
  EXPECT_TRUE(it.kept);
  EXPECT_EQ(it.stats, nullptr);
  // Nothing kept: unknown.
  const Subset qbr = events_where(s, &specs, "relationship.meeting", "kind", "qbr");
  EXPECT_FALSE(qbr.kept);
}

}  // namespace
}  // namespace kamwatch::report
