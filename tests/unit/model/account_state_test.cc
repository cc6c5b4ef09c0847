#include "model/account_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kamwatch::model {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z, a day boundary

Event event(std::string type, TimeMs t, std::vector<Field> data = {}) {
  static int n = 0;
  return Event{"e" + std::to_string(++n), "src", std::move(type), "acme", t, std::move(data)};
}

Event order(TimeMs t, double amount) {
  return event("sales.order", t, {{"amount", FieldValue::of_number(amount)}});
}

std::vector<TimeMs> starts(const std::vector<Bucket>& buckets) {
  std::vector<TimeMs> out;
  for (const Bucket& b : buckets) out.push_back(b.start);
  return out;
}

TEST(AccountState, CountsAndSums) {
  AccountState s;
  const Retention r;
  apply(s, order(kT0 + 5 * kMinuteMs, 100), r);
  apply(s, order(kT0 + 10 * kMinuteMs, 50.5), r);
  apply(s, event("support.ticket", kT0 + 20 * kMinuteMs), r);

  EXPECT_EQ(s.id, "acme");
  EXPECT_EQ(s.applied, 3);
  EXPECT_EQ(s.first_time, kT0 + 5 * kMinuteMs);
  EXPECT_EQ(s.max_time, kT0 + 20 * kMinuteMs);
  const TypeStats& orders = s.types.at("sales.order");
  EXPECT_EQ(orders.count, 2);
  EXPECT_EQ(orders.first_time, kT0 + 5 * kMinuteMs);
  EXPECT_EQ(orders.last_time, kT0 + 10 * kMinuteMs);
  EXPECT_EQ(orders.events.count, 2);
  EXPECT_EQ(orders.events.sum, 2);
  const Series& amount = orders.fields.at("amount");
  EXPECT_EQ(amount.count, 2);
  EXPECT_DOUBLE_EQ(amount.sum, 150.5);
  EXPECT_EQ(s.types.at("support.ticket").count, 1);
  EXPECT_TRUE(s.types.at("support.ticket").fields.empty());
}

TEST(AccountState, BucketKeepsMinMaxAndLastByEventTime) {
  AccountState s;
  const Retention r;
  // Out of order within one hour: the latest *event time* (40 min) is last, not the last applied.
  apply(s, order(kT0 + 10 * kMinuteMs, 5), r);
  apply(s, order(kT0 + 40 * kMinuteMs, 7), r);
  apply(s, order(kT0 + 20 * kMinuteMs, -3), r);
  apply(s, order(kT0 + 30 * kMinuteMs, 12), r);

  const Series& amount = s.types.at("sales.order").fields.at("amount");
  ASSERT_EQ(amount.hourly.size(), 1u);
  const Bucket& b = amount.hourly[0];
  EXPECT_EQ(b.start, kT0);
  EXPECT_EQ(b.count, 4);
  EXPECT_DOUBLE_EQ(b.sum, 21);
  EXPECT_EQ(b.min, -3);
  EXPECT_EQ(b.max, 12);
  EXPECT_EQ(b.last, 7);
  EXPECT_EQ(b.last_time, kT0 + 40 * kMinuteMs);
  ASSERT_EQ(amount.daily.size(), 1u);
  EXPECT_EQ(amount.daily[0].last, 7);
  EXPECT_EQ(amount.daily[0].count, 4);
}

TEST(AccountState, HourlyAndDailyBuckets) {
  AccountState s;
  const Retention r;
  apply(s, order(kT0 + 1 * kHourMs, 1), r);
  apply(s, order(kT0 + 1 * kHourMs + 59 * kMinuteMs, 2), r);
  apply(s, order(kT0 + 5 * kHourMs, 3), r);
  apply(s, order(kT0 + kDayMs + 3 * kHourMs, 4), r);
  apply(s, order(kT0 + 3 * kHourMs, 5), r);  // late, but inside retention: fills its bucket

  const Series& amount = s.types.at("sales.order").fields.at("amount");
  EXPECT_EQ(starts(amount.hourly),
            (std::vector<TimeMs>{kT0 + kHourMs, kT0 + 3 * kHourMs, kT0 + 5 * kHourMs,
                                 kT0 + kDayMs + 3 * kHourMs}));
  EXPECT_EQ(amount.hourly[0].count, 2);
  EXPECT_EQ(amount.hourly[0].sum, 3);
  EXPECT_EQ(starts(amount.daily), (std::vector<TimeMs>{kT0, kT0 + kDayMs}));
  EXPECT_EQ(amount.daily[0].count, 4);
  EXPECT_EQ(amount.daily[0].sum, 11);
  EXPECT_EQ(amount.daily[0].min, 1);
  EXPECT_EQ(amount.daily[0].max, 5);
  EXPECT_EQ(amount.daily[0].last, 3);  // 05:00 is the latest event of that day
  // The event count series buckets the same way, one per event.
  const Series& events = s.types.at("sales.order").events;
  EXPECT_EQ(starts(events.hourly), starts(amount.hourly));
  EXPECT_EQ(events.daily[0].count, 4);
  EXPECT_EQ(events.daily[0].sum, 4);
}

TEST(AccountState, RetentionPrunesAsWatermarkAdvances) {
  AccountState s;
  const Retention r{2 * kDayMs, 10 * kDayMs};
  apply(s, order(kT0 + 30 * kMinuteMs, 1), r);
  apply(s, event("login", kT0 + kHourMs), r);
  apply(s, order(kT0 + kDayMs, 2), r);
  EXPECT_EQ(s.types.at("sales.order").fields.at("amount").hourly.size(), 2u);

  // Watermark moves to day 2 + 1h: the hourly horizon is day 0 + 1h, so hour 0 goes.
  apply(s, order(kT0 + 2 * kDayMs + kHourMs, 3), r);
  const Series& amount = s.types.at("sales.order").fields.at("amount");
  EXPECT_EQ(starts(amount.hourly), (std::vector<TimeMs>{kT0 + kDayMs, kT0 + 2 * kDayMs + kHourMs}));
  EXPECT_EQ(starts(amount.daily), (std::vector<TimeMs>{kT0, kT0 + kDayMs, kT0 + 2 * kDayMs}));
  // Pruning covers every type, not just the one that moved the watermark.
  EXPECT_EQ(starts(s.types.at("login").events.hourly), std::vector<TimeMs>{kT0 + kHourMs});

  // Day 11: daily buckets before day 1 go; all-time totals are untouched.
  apply(s, order(kT0 + 11 * kDayMs, 4), r);
  EXPECT_EQ(starts(amount.daily),
            (std::vector<TimeMs>{kT0 + kDayMs, kT0 + 2 * kDayMs, kT0 + 11 * kDayMs}));
  EXPECT_EQ(starts(amount.hourly), std::vector<TimeMs>{kT0 + 11 * kDayMs});
  EXPECT_TRUE(s.types.at("login").events.hourly.empty());
  EXPECT_TRUE(s.types.at("login").events.daily.empty());
  EXPECT_EQ(amount.count, 4);
  EXPECT_EQ(amount.sum, 10);
  EXPECT_EQ(s.types.at("login").count, 1);

  // An event older than every horizon still counts all-time, but makes no bucket.
  apply(s, order(kT0, 100), r);
  EXPECT_EQ(amount.count, 5);
  EXPECT_EQ(amount.sum, 110);
  EXPECT_EQ(starts(amount.daily).front(), kT0 + kDayMs);
  EXPECT_EQ(starts(amount.hourly).front(), kT0 + 11 * kDayMs);
  EXPECT_EQ(s.first_time, kT0);
  EXPECT_EQ(s.max_time, kT0 + 11 * kDayMs);
}

TEST(AccountState, RetentionThatIsNotWholeHoursStillPrunes) {
  // 90 minutes of hourly history: the horizon moves at hh:30, not when the watermark enters a
  // new hour; pruning must follow the horizon.
  AccountState s;
  const Retention r{90 * kMinuteMs, 10 * kDayMs};
  for (TimeMs m : {0, 60, 105, 140, 160}) apply(s, order(kT0 + m * kMinuteMs, 1), r);
  // Watermark 02:40 -> horizon floor(01:10) = 01:00: the 00:00 bucket is gone.
  EXPECT_EQ(starts(s.types.at("sales.order").fields.at("amount").hourly),
            (std::vector<TimeMs>{kT0 + kHourMs, kT0 + 2 * kHourMs}));
}

TEST(AccountState, ProfileMergesLatestAccountProfileFields) {
  AccountState s;
  const Retention r;
  apply(s,
        event("account.profile", kT0 + 10 * kMinuteMs,
              {{"name", FieldValue::of_string("ACME")},
               {"kam", FieldValue::of_string("alice")},
               {"tier", FieldValue::of_number(1)}}),
        r);
  apply(s,
        event("account.profile", kT0 + 20 * kMinuteMs,
              {{"kam", FieldValue::of_string("bob")}, {"strategic", FieldValue::of_bool(true)}}),
        r);
  // An older profile event arriving late does not overwrite newer values.
  apply(s, event("account.profile", kT0, {{"kam", FieldValue::of_string("carol")}}), r);
  // Other types never touch the profile.
  apply(s, event("crm.note", kT0 + kHourMs, {{"kam", FieldValue::of_string("mallory")}}), r);

  EXPECT_EQ(s.profile.at("name"), FieldValue::of_string("ACME"));
  EXPECT_EQ(s.profile.at("kam"), FieldValue::of_string("bob"));
  EXPECT_EQ(s.profile.at("tier"), FieldValue::of_number(1));
  EXPECT_EQ(s.profile.at("strategic"), FieldValue::of_bool(true));
  EXPECT_EQ(s.types.at("account.profile").count, 3);
  EXPECT_EQ(s.types.at("account.profile").fields.at("tier").count, 1);
}

TEST(AccountState, LastValuesFollowEventTime) {
  AccountState s;
  const Retention r;
  apply(s, event("ticket", kT0 + 2 * kMinuteMs, {{"status", FieldValue::of_string("open")}}), r);
  apply(s, event("ticket", kT0 + kMinuteMs, {{"status", FieldValue::of_string("new")}}), r);
  apply(s, event("ticket", kT0 + 3 * kMinuteMs, {{"meta", FieldValue::of_json(R"({"a":1})")}}), r);
  const TypeStats& t = s.types.at("ticket");
  EXPECT_EQ(t.last_values.at("status"), FieldValue::of_string("open"));
  EXPECT_EQ(t.last_values.at("meta"), FieldValue::of_json(R"({"a":1})"));
  EXPECT_EQ(t.first_time, kT0 + kMinuteMs);
  EXPECT_EQ(t.last_time, kT0 + 3 * kMinuteMs);
  EXPECT_TRUE(t.fields.empty());  // non-numeric fields make no series
}

TEST(AccountState, ApplyingTheSameEventsInAnotherOrderWithinRetentionGivesTheSameState) {
  // Replays after a crash may interleave differently; state must not depend on it.
  const Retention r;
  std::vector<Event> events;
  for (int i = 0; i < 20; ++i) events.push_back(order(kT0 + i * 7 * kMinuteMs, i));
  AccountState forward;
  AccountState backward;
  for (const Event& e : events) apply(forward, e, r);
  for (auto it = events.rbegin(); it != events.rend(); ++it) apply(backward, *it, r);
  EXPECT_EQ(forward, backward);
}

// The account cache keeps its byte count from apply()'s return instead of measuring every state
// again after each batch: the two must agree after every event, whatever the event adds (new
// types, fields, long strings, profile fields, derived groups, buckets before the last) and
// whatever pruning drops.
TEST(AccountState, ApplyReturnsTheChangeInMemoryBytes) {
  AccountState s;
  const Retention r{2 * kDayMs, 30 * kDayMs};
  const std::vector<DerivedTarget> none;
  const std::string long_text(100, 'x');
  std::size_t expected = memory_bytes(s);
  for (int i = 0; i < 3000; ++i) {
    // Every 13th event comes 5 hours late: it lands in (or creates) a bucket before the last.
    const TimeMs t = kT0 + i * 3 * kHourMs + (i % 7) * kMinuteMs - (i % 13 == 0 ? 5 * kHourMs : 0);
    std::vector<DerivedTarget> targets;
    Event e = order(t, i);
    switch (i % 5) {
      case 0:
        e = event("account.profile", t,
                  {{"name", FieldValue::of_string(long_text + std::to_string(i % 3))},
                   {"seats", FieldValue::of_number(i)},
                   {"field" + std::to_string(i % 11) + long_text, FieldValue::of_bool(true)}});
        break;
      case 1:
        e = event(
            "usage.activity" + std::to_string(i % 4), t,
            {{"metric_" + std::to_string(i % 9) + long_text, FieldValue::of_number(i)},
             {"note", FieldValue::of_string(std::string(static_cast<std::size_t>(i % 40), 'n'))}});
        break;
      case 2:
        targets = {{"competitor_share" + long_text, "category" + std::to_string(i % 6)},
                   {"deals", ""}};
        break;
      default:
        break;
    }
    const std::ptrdiff_t grew = apply(s, e, r, targets.empty() ? none : targets);
    expected = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(expected) + grew);
    ASSERT_EQ(memory_bytes(s), expected) << "after event " << i;
  }
  EXPECT_GT(expected, memory_bytes(AccountState{}) + 10000);  // it did grow
}

// Applied ids are kept by day while the day reaches into the grace (Retention::ids) of the
// watermark, whatever order the events come in.
TEST(AccountState, RecentIdsCoverTheGraceAndNoMore) {
  AccountState s;
  const Retention r{3 * kDayMs, 800 * kDayMs, 2 * kDayMs};
  Event a = order(kT0 + 10 * kHourMs, 1);
  Event b = order(kT0 + kDayMs + 10 * kHourMs, 1);
  Event c = order(kT0 + kHourMs, 1);  // earlier, out of order, same day as a
  apply(s, a, r);
  apply(s, b, r);
  apply(s, c, r);
  for (const Event* e : {&a, &b, &c})
    EXPECT_TRUE(s.recent_ids.contains(event_id_hash(e->source, e->id))) << e->id;
  EXPECT_FALSE(s.recent_ids.contains(event_id_hash("src", "never")));
  EXPECT_EQ(s.recent_ids.entries.size(), 3u);
  EXPECT_TRUE(std::is_sorted(s.recent_ids.entries.begin(), s.recent_ids.entries.end()));
  // The watermark moves to day 3, 10:00: the horizon is day 1, 10:00. Day 0 ends before it
  // and goes; day 1 reaches past it and stays whole.
  Event d = order(kT0 + 3 * kDayMs + 10 * kHourMs, 1);
  apply(s, d, r);
  EXPECT_FALSE(s.recent_ids.contains(event_id_hash(a.source, a.id)));
  EXPECT_FALSE(s.recent_ids.contains(event_id_hash(c.source, c.id)));
  EXPECT_TRUE(s.recent_ids.contains(event_id_hash(b.source, b.id)));
  EXPECT_TRUE(s.recent_ids.contains(event_id_hash(d.source, d.id)));
  // An id given explicitly is recorded as given; none for nullopt.
  apply(s, order(kT0 + 3 * kDayMs, 1), r, {}, 42);
  apply(s, order(kT0 + 3 * kDayMs, 1), r, {}, std::nullopt);
  EXPECT_TRUE(s.recent_ids.contains(42));
  EXPECT_EQ(s.recent_ids.entries.size(), 3u);
}

TEST(AccountState, EventIdHashSeparatesSourceFromId) {
  EXPECT_NE(event_id_hash("ab", "c"), event_id_hash("a", "bc"));
  EXPECT_NE(event_id_hash("", "x"), event_id_hash("x", ""));
  EXPECT_EQ(event_id_hash("crm", "42"), event_id_hash("crm", "42"));
  // Stored in account states: the value must never change between builds. (FNV-1a 64 over the
  // source's length as 8 little-endian bytes, the source and the id, then fmix64; computed
  // independently in Python.)
  EXPECT_EQ(event_id_hash("crm", "42"), 6720922913686761982u);
}

}  // namespace
}  // namespace kamwatch::model
