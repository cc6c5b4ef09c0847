// The changelog record layout: what the pipeline writes reads back into the same restore.
#include "app/changelog.h"

#include <gtest/gtest.h>

#include "state/codec.h"

namespace kamwatch::app {
namespace {

Result<void> add(const ingest::ChangelogRecord& r, state::RestoreBatch& batch) {
  return add_to_restore(r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt,
                        batch);
}

TEST(Changelog, EveryRecordKindReadsBackIntoARestore) {
  model::AccountState account;
  account.id = "ACME-1";
  account.partition = 3;
  account.applied = 7;
  state::RestoreBatch batch;

  const auto acc = account_record(account);
  EXPECT_EQ(acc.partition, 3);
  ASSERT_TRUE(add(acc, batch).ok());
  ASSERT_EQ(batch.accounts.size(), 1u);
  EXPECT_EQ(batch.accounts[0].first, "ACME-1");
  auto decoded = state::decode_account(batch.accounts[0].second);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, account);

  const std::string k1 = state::dedup_key("crm", "e1"), k2 = state::dedup_key("crm", "e2");
  const auto seen = seen_record("events", 3, 100, {k1, k2});
  EXPECT_EQ(seen.partition, 3);
  ASSERT_TRUE(add(seen, batch).ok());
  EXPECT_EQ(batch.seen_ids, (std::vector<std::string>{k1, k2}));

  ASSERT_TRUE(add(position_record({"events", 3, 12345}), batch).ok());
  ASSERT_EQ(batch.offsets.size(), 1u);
  EXPECT_EQ(batch.offsets[0].topic, "events");
  EXPECT_EQ(batch.offsets[0].partition, 3);
  EXPECT_EQ(batch.offsets[0].next_offset, 12345);

  ASSERT_TRUE(add(alert_record(3, {"fp1", "{\"status\":\"firing\"}"}), batch).ok());
  const auto resolved = alert_record(3, {"fp1", ""});
  EXPECT_FALSE(resolved.value.has_value()) << "a resolution is a tombstone";
  ASSERT_TRUE(add(resolved, batch).ok());
  ASSERT_EQ(batch.active_alerts.size(), 2u);
  EXPECT_EQ(batch.active_alerts[1].fingerprint, "fp1");
  EXPECT_TRUE(batch.active_alerts[1].record.empty());
}

TEST(Changelog, ForeignOrDamagedRecordsAreRefused) {
  state::RestoreBatch batch;
  EXPECT_EQ(add_to_restore("", std::string_view("x"), batch).error().code, "changelog_corrupt");
  EXPECT_EQ(add_to_restore("ACME-1", std::nullopt, batch).error().code, "changelog_corrupt");
  EXPECT_EQ(
      add_to_restore(std::string_view("\0what\0", 6), std::string_view("x"), batch).error().code,
      "changelog_corrupt");
  auto seen = seen_record("t", 0, 0, {"abc"});
  seen.value->pop_back();  // truncated
  EXPECT_EQ(add(seen, batch).error().code, "changelog_corrupt");
  auto pos = position_record({"t", 0, 5});
  pos.value = "five";
  EXPECT_EQ(add(pos, batch).error().code, "changelog_corrupt");
}

}  // namespace
}  // namespace kamwatch::app
