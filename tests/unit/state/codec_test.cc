#include "state/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "model/account_state.h"

namespace kamwatch::state {
namespace {

using model::AccountState;
using model::Event;
using model::Field;
using model::FieldValue;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

Event event(std::string type, TimeMs t, std::vector<Field> data) {
  static int n = 0;
  return Event{"e" + std::to_string(++n), "test", std::move(type), "acme", t, std::move(data)};
}

// A state touching every field kind, many buckets of both widths, and awkward doubles.
AccountState rich_state() {
  AccountState s;
  s.partition = 11;
  const model::Retention retention{8 * kDayMs, 800 * kDayMs};  // many hourly buckets
  model::apply(s,
               event("account.profile", kT0,
                     {{"name", FieldValue::of_string("ACME Corp")},
                      {"tier", FieldValue::of_number(1)},
                      {"strategic", FieldValue::of_bool(true)},
                      {"owner", FieldValue::null()},
                      {"tags", FieldValue::of_json(R"(["a","b"])")}}),
               retention);
  for (int i = 0; i < 120; ++i) {
    const TimeMs t = kT0 + i * 90 * kMinuteMs;
    model::apply(s,
                 event("sales.order", t,
                       {{"amount", FieldValue::of_number(100.25 * (i % 7) - 50)},
                        {"tiny", FieldValue::of_number(i % 2 ? 1e-300 : -0.0)},
                        {"currency", FieldValue::of_string(i % 3 ? "EUR" : "USD")},
                        {"rush", FieldValue::of_bool(i % 2 == 0)}}),
                 retention);
    if (i % 10 == 0) {
      model::apply(s, event("support.ticket", t - kHourMs, {{"sev", FieldValue::of_number(i)}}),
                   retention);
    }
  }
  // Non-finite values must survive too, even though JSON input cannot produce them.
  model::apply(s,
               event("usage.metric", kT0 + 200 * kHourMs,
                     {{"inf", FieldValue::of_number(std::numeric_limits<double>::infinity())},
                      {"max", FieldValue::of_number(std::numeric_limits<double>::max())}}),
               retention);
  return s;
}

TEST(Codec, RoundTripsRichState) {
  const AccountState s = rich_state();
  ASSERT_GT(s.types.at("sales.order").events.hourly.size(), 100u);
  ASSERT_GT(s.types.at("sales.order").events.daily.size(), 5u);
  const std::string bytes = encode_account(s);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), kAccountCodecVersion);
  auto decoded = decode_account(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(*decoded, s);
  // Bit-exact, not just ==: -0.0 stays -0.0.
  EXPECT_EQ(encode_account(*decoded), bytes);
  int negative_zeros = 0;
  for (const auto& b : decoded->types.at("sales.order").fields.at("tiny").hourly) {
    negative_zeros += b.min == 0 && std::signbit(b.min);
  }
  EXPECT_GT(negative_zeros, 0);
}

TEST(Codec, RoundTripsEveryFieldValueKindAndEmptyState) {
  AccountState s;
  s.id = "";
  EXPECT_EQ(*decode_account(encode_account(s)), s);
  s.id = std::string("with\0nul", 8);
  s.profile["null"] = FieldValue::null();
  s.profile["num"] = FieldValue::of_number(-1.5);
  s.profile["str"] = FieldValue::of_string(std::string(300, 'x'));
  s.profile["bool_t"] = FieldValue::of_bool(true);
  s.profile["bool_f"] = FieldValue::of_bool(false);
  s.profile["json"] = FieldValue::of_json(R"({"k":[1,2]})");
  s.profile["nan"] = FieldValue::of_number(std::nan(""));
  s.applied = std::numeric_limits<std::int64_t>::max();
  s.first_time = std::numeric_limits<std::int64_t>::min();
  s.max_time = -1;
  auto& b = s.types["t"].fields["f"].hourly.emplace_back();
  b.start = std::numeric_limits<std::int64_t>::max();
  b.last_time = std::numeric_limits<std::int64_t>::min();
  b.count = -3;
  b.sum = 7;
  const std::string bytes = encode_account(s);
  auto decoded = decode_account(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(encode_account(*decoded), bytes);  // NaN != NaN, so compare the bytes
  EXPECT_EQ(decoded->id, s.id);
  EXPECT_EQ(decoded->profile.at("str"), s.profile.at("str"));
  EXPECT_EQ(decoded->profile.at("bool_f"), s.profile.at("bool_f"));
  EXPECT_EQ(decoded->types, s.types);
  EXPECT_TRUE(std::isnan(decoded->profile.at("nan").number));
}

TEST(Codec, EncodeToAppendsAndReusesBuffer) {
  const AccountState s = rich_state();
  std::string buf = "prefix";
  encode_account_to(s, buf);
  EXPECT_EQ(buf.substr(6), encode_account(s));
}

TEST(Codec, CountSeriesIsCompact) {
  // An event count series elides every double: ~8 bytes per bucket, not ~40.
  AccountState s;
  for (int i = 0; i < 100; ++i) model::apply(s, event("login", kT0 + i * kHourMs, {}), {});
  s.recent_ids = {};  // ~9 bytes per id, measured in RecentIdsRoundTripCompactly
  EXPECT_LT(encode_account(s).size(), 100u * 12);
}

TEST(Codec, EveryTruncationIsAnError) {
  const std::string bytes = encode_account(rich_state());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_account(std::string_view(bytes.data(), n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_TRUE(r.error().code == "codec_truncated" || r.error().code == "codec_corrupt")
        << r.error().to_string();
  }
  auto r = decode_account(std::string_view(bytes.data(), bytes.size() / 2));
  EXPECT_EQ(r.error().code, "codec_truncated");
  EXPECT_NE(r.error().message.find("truncated at byte"), std::string::npos);
}

TEST(Codec, TrailingBytesAreCorrupt) {
  auto r = decode_account(encode_account(rich_state()) + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "codec_corrupt");
}

TEST(Codec, UnknownVersionIsRefused) {
  std::string bytes = encode_account(rich_state());
  for (std::uint8_t v : {0, 5, 255}) {
    bytes[0] = static_cast<char>(v);
    auto r = decode_account(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "codec_version");
    EXPECT_NE(r.error().message.find("version " + std::to_string(v)), std::string::npos);
  }
}

TEST(Codec, HugeLengthsFailWithoutAllocating) {
  // version, id length = 2^62: must fail on the bounds check, not try to allocate.
  const std::string huge_string = std::string("\x01") + "\x80\x80\x80\x80\x80\x80\x80\x80\x40";
  EXPECT_EQ(decode_account(huge_string).error().code, "codec_truncated");
  // A bucket count far beyond the input.
  AccountState s;
  s.id = "a";
  s.types["t"];
  std::string bytes = encode_account(s);
  // Layout tail: ... events series: count(0) sum(8 bytes) hourly n(0) daily n(0), fields n(0),
  // last_values n(0), then (v2) derived n(0), alerts n(0). Patch hourly n to a huge varint.
  const std::size_t hourly_n = bytes.size() - 6;
  ASSERT_EQ(bytes[hourly_n], 0);
  bytes.replace(hourly_n, 1, "\xff\xff\xff\xff\xff\xff\xff\xff\x7f");
  EXPECT_EQ(decode_account(bytes).error().code, "codec_truncated");
}

TEST(Codec, CorruptBytesNeverCrash) {
  // Deterministic mutation sweep: flip every byte to a few values; each result must either
  // decode or fail cleanly (run under ASan to catch out-of-bounds reads).
  const std::string good = encode_account(rich_state());
  std::size_t failures = 0;
  for (std::size_t i = 0; i < good.size(); i += 5) {
    for (char v : {'\x00', '\x7f', '\x80', '\xff'}) {
      std::string bad = good;
      bad[i] = v;
      auto r = decode_account(bad);
      if (!r.ok()) {
        ++failures;
        EXPECT_FALSE(r.error().message.empty());
      }
    }
  }
  EXPECT_GT(failures, 0u);
}

TEST(Codec, RejectsUnknownKindAndUnsortedKeys) {
  AccountState s;
  s.id = "a";
  s.profile["k"] = FieldValue::null();
  std::string bytes = encode_account(s);
  // The kind byte of profile["k"] (then 0 types, 0 derived, 0 alerts, partition -1, 0 ids).
  bytes[bytes.size() - 6] = 9;
  EXPECT_EQ(decode_account(bytes).error().code, "codec_corrupt");

  s.profile["j"] = FieldValue::null();
  bytes = encode_account(s);
  // Swap the two keys' bytes: "j" then "k" becomes "k" then "j".
  const std::size_t j = bytes.find('j');
  const std::size_t k = bytes.find('k');
  std::swap(bytes[j], bytes[k]);
  EXPECT_EQ(decode_account(bytes).error().code, "codec_corrupt");
}

TEST(Codec, OutboxRecordRoundTrip) {
  OutboxRecord rec{42, "dlq", "acme", std::string("pay\0load", 8), {{"reason", "late"}, {"a", ""}}};
  const std::string bytes = encode_outbox(rec);
  auto decoded = decode_outbox(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(decoded->seq, 0u);  // the seq lives in the store key
  EXPECT_EQ(decoded->sink, rec.sink);
  EXPECT_EQ(decoded->key, rec.key);
  EXPECT_EQ(decoded->value, rec.value);
  EXPECT_EQ(decoded->headers, rec.headers);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_outbox(std::string_view(bytes.data(), n)).ok());
  }
}

TEST(Codec, DedupKeyIsUnambiguous) {
  EXPECT_EQ(dedup_key("src", "id"), "src\x1fid");
  EXPECT_NE(dedup_key("a\x1f"
                      "b",
                      "c"),
            dedup_key("a",
                      "b\x1f"
                      "c"));
  EXPECT_NE(dedup_key("a\x1e",
                      "\x1f"
                      "b"),
            dedup_key("a",
                      "\x1e\x1f"
                      "b"));
  EXPECT_NE(dedup_key("", "x"), dedup_key("x", ""));
}

TEST(Codec, DerivedSeriesAndAlertStatesRoundTrip) {
  AccountState s = rich_state();
  model::SeriesSpec spec{"support.ticket",
                         {{"severity", model::Predicate::Op::kLe, FieldValue::of_number(2)}},
                         "category"};
  model::Event e;
  e.id = "x";
  e.source = "t";
  e.type = "support.ticket";
  e.subject = s.id;
  e.time = s.max_time;
  e.data = {{"severity", FieldValue::of_number(1)}, {"category", FieldValue::of_string("billing")}};
  const model::SeriesSpecs specs({spec});
  model::apply(s, e, model::Retention{}, &specs);
  ASSERT_EQ(s.derived.at(spec.key()).groups.at("billing").count, 1);
  model::AlertState a;
  a.phase = model::AlertState::Phase::kFiring;
  a.since = 5;
  a.fired_at = 7;
  a.value = 0.25;
  a.labels = {{"signal", "churn"}, {"severity", "critical"}};
  s.alerts["UsageDrop\x1f"] = a;
  auto decoded = decode_account(encode_account(s));
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(*decoded, s);
}

TEST(Codec, Version1RecordsStillDecode) {
  AccountState s;
  s.id = "a";
  s.profile["k"] = FieldValue::of_string("v");
  std::string bytes = encode_account(s);
  bytes[0] = 1;
  bytes.resize(bytes.size() - 4);  // version 1 had no derived, alerts, partition and ids
  auto decoded = decode_account(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(*decoded, s);
}

TEST(Codec, Version2RecordsDecodeWithoutAPartition) {
  AccountState s;
  s.id = "a";
  s.partition = 7;
  std::string bytes = encode_account(s);
  auto v3 = decode_account(bytes);
  ASSERT_TRUE(v3.ok()) << v3.error().to_string();
  EXPECT_EQ(v3->partition, 7);
  bytes[0] = 2;
  bytes.resize(bytes.size() - 2);  // version 2 ended before the partition (and the ids)
  auto v2 = decode_account(bytes);
  ASSERT_TRUE(v2.ok()) << v2.error().to_string();
  EXPECT_EQ(v2->partition, -1);
}

TEST(Codec, RecentIdsRoundTripCompactly) {
  AccountState s;
  for (int i = 0; i < 100; ++i) {
    model::Event e = event("login", kT0 + i * kHourMs, {});
    e.id = "id-" + std::to_string(i);
    model::apply(s, e, {});
  }
  // 7 days of grace from the last event (day 4) keep every day: all 100 ids.
  ASSERT_EQ(s.recent_ids.entries.size(), 100u);
  const std::string bytes = encode_account(s);
  auto decoded = decode_account(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  EXPECT_EQ(*decoded, s);
  EXPECT_TRUE(decoded->recent_ids.contains(model::event_id_hash("test", "id-42")));
  AccountState without = s;
  without.recent_ids = {};
  // 9 bytes per id (a 1-byte day step and the hash), plus the count and the first day's number.
  EXPECT_LE(bytes.size() - encode_account(without).size(), 100u * 9 + 4);
  // A version 3 record (no ids) decodes with none.
  std::string v3 = encode_account(without);
  v3[0] = 3;
  v3.pop_back();
  auto old = decode_account(v3);
  ASSERT_TRUE(old.ok()) << old.error().to_string();
  EXPECT_EQ(*old, without);
}

TEST(Codec, RecentIdsOutOfOrderAreCorrupt) {
  AccountState s;
  s.id = "a";
  s.recent_ids.entries = {{kT0 - kT0 % kDayMs, 2}, {kT0 - kT0 % kDayMs, 1}};
  EXPECT_EQ(decode_account(encode_account(s)).error().code, "codec_corrupt");
  s.recent_ids.entries = {{kT0 - kT0 % kDayMs, 1}, {kT0 - kT0 % kDayMs, 1}};
  EXPECT_EQ(decode_account(encode_account(s)).error().code, "codec_corrupt");
}

// Deltas written before recent ids were kept (0x81: no retention.ids, no hash) still apply,
// recording no id; current ones (0x82) record theirs.
TEST(Codec, DeltasWithAndWithoutIdsApply) {
  const model::Event e = event("login", kT0, {});
  std::string delta;
  encode_account_delta_to(e, 77, 0, model::Retention{}, {}, delta);
  ASSERT_EQ(static_cast<std::uint8_t>(delta[0]), kAccountDeltaCodecVersion);
  AccountState with;
  AccountDeltaScratch scratch;
  ASSERT_TRUE(apply_account_delta(with, delta, scratch).ok());
  ASSERT_EQ(with.recent_ids.entries.size(), 1u);
  EXPECT_EQ(with.recent_ids.entries[0].hash, 77u);
  // The 0x81 layout is the same without retention.ids (7 days: a 5-byte varint) and the 8-byte
  // hash, which come just before the two empty counts (fields, targets) that end this delta.
  ASSERT_EQ(delta.substr(delta.size() - 2), std::string(2, '\0'));
  std::string v81 = delta.substr(0, delta.size() - 2 - 13) + delta.substr(delta.size() - 2);
  v81[0] = static_cast<char>(kAccountDeltaCodecVersionNoIds);
  AccountState reference;
  model::apply(reference, e, model::Retention{}, {}, std::nullopt);
  reference.partition = 0;  // the delta's
  AccountState without;
  ASSERT_TRUE(apply_account_delta(without, v81, scratch).ok());
  EXPECT_TRUE(without.recent_ids.entries.empty());
  EXPECT_EQ(without, reference);
}

}  // namespace
}  // namespace kamwatch::state
