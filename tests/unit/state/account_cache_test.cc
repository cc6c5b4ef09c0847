#include "state/account_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "state/rocksdb_store.h"
#include "test_dir.h"

namespace kamwatch::state {
namespace {

using model::AccountState;

StoreOptions options_at(const std::string& path) {
  StoreOptions o;
  o.path = path;
  return o;
}

// An in-memory store that counts account reads and can be told to fail them.
class FakeStore final : public StateStore {
 public:
  std::map<std::string, AccountState, std::less<>> accounts;
  int loads = 0;
  bool fail = false;

  Result<std::optional<AccountState>> get_account(std::string_view id) override {
    ++loads;
    if (fail) return Error{"rocksdb_io", "injected"};
    auto it = accounts.find(id);
    if (it == accounts.end()) return std::optional<AccountState>();
    return std::optional<AccountState>(it->second);
  }
  Result<std::vector<bool>> seen(const std::vector<std::string_view>& keys) override {
    return std::vector<bool>(keys.size(), false);
  }
  bool holds_seen_ids() const override { return false; }
  Result<std::optional<std::int64_t>> get_offset(std::string_view, std::int32_t) override {
    return std::optional<std::int64_t>();
  }
  Result<std::vector<PartitionOffset>> all_offsets() override {
    return std::vector<PartitionOffset>();
  }
  Result<void> commit(CommitBatch& batch) override {
    for (const AccountState* a : batch.accounts) accounts[a->id] = *a;
    return ok();
  }
  Result<std::vector<OutboxRecord>> outbox_peek(std::string_view, std::size_t) override {
    return std::vector<OutboxRecord>();
  }
  Result<void> outbox_remove(std::string_view, const std::vector<std::uint64_t>&) override {
    return ok();
  }
  Result<void> for_each_account(const std::function<bool(const AccountState&)>&) override {
    return ok();
  }
  Result<std::vector<std::string>> account_ids_after(std::string_view, std::size_t) override {
    return std::vector<std::string>{};
  }
  std::map<std::string, std::uint64_t> outbox_depths() override { return {}; }
  Result<std::optional<std::int64_t>> changelog_checkpoint(std::int32_t) override {
    return std::optional<std::int64_t>();
  }
  Result<void> restore(const RestoreBatch&) override { return ok(); }
  Result<void> for_each_active_alert(const std::function<void(std::string_view)>&) override {
    return ok();
  }
  Result<std::vector<std::optional<std::string>>> active_alert_records(
      const std::vector<std::string>& fingerprints) override {
    return std::vector<std::optional<std::string>>(fingerprints.size());
  }
};

AccountState stored(const std::string& id, std::int64_t applied) {
  AccountState s;
  s.id = id;
  s.applied = applied;
  return s;
}

TEST(AccountCache, UnknownAccountIsNewAndEmptyWithItsId) {
  FakeStore store;
  AccountCache cache(store, 10);
  auto a = cache.get("acme");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->id, "acme");
  EXPECT_EQ((*a)->applied, 0);
  EXPECT_TRUE(store.accounts.empty());            // not stored until committed
  EXPECT_EQ(cache.get("acme")->get(), a->get());  // the same object on the next lookup
  EXPECT_EQ(store.loads, 1);
}

TEST(AccountCache, LoadsFromStoreOnceAndKeepsChanges) {
  FakeStore store;
  store.accounts["acme"] = stored("acme", 7);
  AccountCache cache(store, 10);
  model::AccountState* a = cache.get("acme")->get();
  EXPECT_EQ(a->applied, 7);
  a->applied = 8;  // the pipeline mutates in place
  EXPECT_EQ((*cache.get(std::string("acme")))->applied, 8);
  EXPECT_EQ(store.loads, 1);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(AccountCache, TrimEvictsLeastRecentlyUsed) {
  FakeStore store;
  AccountCache cache(store, 2);
  AccountState* a = cache.get("a")->get();
  ASSERT_TRUE(cache.get("b").ok());
  ASSERT_TRUE(cache.get("c").ok());
  // get() never evicts: all three pointers stay valid for the batch.
  EXPECT_EQ(cache.size(), 3u);
  a->applied = 1;
  ASSERT_TRUE(cache.get("a").ok());  // a is now the most recent; b the least
  cache.trim();
  EXPECT_EQ(cache.size(), 2u);
  store.loads = 0;
  EXPECT_EQ((*cache.get("a"))->applied, 1);  // kept, with its change
  ASSERT_TRUE(cache.get("c").ok());
  EXPECT_EQ(store.loads, 0);
  ASSERT_TRUE(cache.get("b").ok());  // evicted: read again
  EXPECT_EQ(store.loads, 1);
  cache.trim();  // order now b, c, a: a goes
  ASSERT_TRUE(cache.get("b").ok());
  ASSERT_TRUE(cache.get("c").ok());
  EXPECT_EQ(store.loads, 1);
  ASSERT_TRUE(cache.get("a").ok());
  EXPECT_EQ(store.loads, 2);
}

// The pipeline pins the entries of a commit still being written: trim() stops at the first
// pinned entry from the least recent end, so those (and all more recent ones) stay.
TEST(AccountCache, TrimStopsAtAPinnedEntry) {
  FakeStore store;
  AccountCache cache(store, 1);
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(cache.get(id).ok());
  cache.get("c")->tag() = 7;  // order now c, d, b, a: c is the most recent
  cache.get("d")->tag() = 7;  // d, c, b, a
  cache.trim([](std::uint64_t tag) { return tag == 7; });
  EXPECT_EQ(cache.size(), 2u);  // a and b went; c is pinned (so is d)
  store.loads = 0;
  ASSERT_TRUE(cache.get("c").ok());
  ASSERT_TRUE(cache.get("d").ok());
  EXPECT_EQ(store.loads, 0);
  cache.trim();  // unpinned: down to the capacity, the most recent (d) stays
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.get("d").ok());
  EXPECT_EQ(store.loads, 0);
}

TEST(AccountCache, PeekOrLoadNeitherCachesNorPromotes) {
  FakeStore store;
  store.accounts["cold"] = stored("cold", 3);
  AccountCache cache(store, 2);
  AccountState* a = cache.get("a")->get();
  ASSERT_TRUE(cache.get("b").ok());
  cache.trim();
  AccountState scratch;
  // Cached: the very object, not made more recent.
  auto peeked = cache.peek_or_load("a", scratch);
  ASSERT_TRUE(peeked.ok());
  EXPECT_EQ(*peeked, a);
  // Not cached: read into scratch, with its id, and not kept.
  store.loads = 0;
  auto cold = cache.peek_or_load("cold", scratch);
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(*cold, &scratch);
  EXPECT_EQ(scratch.id, "cold");
  EXPECT_EQ(scratch.applied, 3);
  auto unknown = cache.peek_or_load("new", scratch);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(scratch.id, "new");
  EXPECT_EQ(scratch.applied, 0);
  EXPECT_EQ(store.loads, 2);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.hits() + cache.misses(), 2u);  // scans are not counted
  // a was peeked, not used: it is still the least recent and goes first.
  ASSERT_TRUE(cache.get("c").ok());
  cache.trim();
  store.loads = 0;
  ASSERT_TRUE(cache.get("b").ok());
  EXPECT_EQ(store.loads, 0);
  ASSERT_TRUE(cache.get("a").ok());
  EXPECT_EQ(store.loads, 1);
}

// A state that grew by applying events: one series with n daily buckets.
void grow(AccountState& s, int n) {
  model::Series& series = s.types["usage.activity"].events;
  for (int i = 0; i < n; ++i) series.daily.push_back({i * kDayMs, 1, 1, 1, 1, 1, i * kDayMs});
}

TEST(AccountCache, TrimKeepsTheStatesWithinTheByteBudgetAsTheyGrow) {
  FakeStore store;
  AccountCache cache(store, 100, 40 * 1024);
  for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(cache.get(id).ok());
  cache.trim();
  EXPECT_EQ(cache.size(), 4u);  // small states: the account bound is the one that counts
  EXPECT_LE(cache.bytes(), 40u * 1024);
  // The states grow, and the cache is told so: trim measures them again.
  for (const char* id : {"a", "b", "c"}) {
    const AccountCache::Ref ref = *cache.get(id);
    grow(*ref, 250);  // ~15 KiB each
    cache.changed(ref);
  }
  ASSERT_TRUE(cache.get("d").ok());  // order now d, c, b, a
  cache.trim();
  EXPECT_EQ(cache.size(), 3u);  // a, the least recently used, goes
  EXPECT_LE(cache.bytes(), 40u * 1024);
  EXPECT_GT(cache.bytes(), 2u * 250 * sizeof(model::Bucket));
  store.loads = 0;
  for (const char* id : {"d", "c", "b"}) ASSERT_TRUE(cache.get(id).ok());
  EXPECT_EQ(store.loads, 0);
  // One state larger than the whole budget stays while it is the most recent.
  grow(**cache.get("d"), 4000);
  cache.changed(*cache.get("d"));
  cache.trim();
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_GT(cache.bytes(), 40u * 1024);
  cache.clear();
  EXPECT_EQ(cache.bytes(), 0u);
}

// The pipeline reports what model::apply returned instead of having every state it changed
// measured again: the count must come out the same as measuring.
TEST(AccountCache, GrewKeepsTheCountThatMeasuringGives) {
  FakeStore store;
  store.accounts["acme"] = stored("acme", 0);
  AccountCache cache(store, 10);
  ASSERT_TRUE(cache.get("acme").ok());
  cache.trim();
  const std::size_t empty = cache.bytes();
  const AccountCache::Ref acme = *cache.get("acme");
  std::ptrdiff_t grew = 0;
  for (int i = 0; i < 200; ++i) {
    model::Event e{"e" + std::to_string(i),
                   "src",
                   i % 2 ? "sales.order" : "usage.activity",
                   "acme",
                   1000 + i * kHourMs,
                   {{"amount", model::FieldValue::of_number(i)}}};
    grew += model::apply(*acme, e, {});
  }
  cache.grew(acme, grew);
  cache.trim();
  const std::size_t counted = cache.bytes();
  EXPECT_GT(counted, empty + 200 * sizeof(model::Bucket));
  cache.changed(*cache.get("acme"));
  cache.trim();
  EXPECT_EQ(cache.bytes(), counted);
  // Without being told, a changed state keeps its old count until it is measured again.
  grow(**cache.get("acme"), 100);
  cache.trim();
  EXPECT_EQ(cache.bytes(), counted);
  cache.changed(*cache.get("acme"));
  cache.trim();
  EXPECT_GE(cache.bytes(), counted + 100 * sizeof(model::Bucket));
}

// The pipeline keeps a batch position on each entry it changes instead of a hash map.
TEST(AccountCache, TagStaysOnTheEntryWhileItIsCached) {
  FakeStore store;
  AccountCache cache(store, 1);
  EXPECT_EQ(cache.get("a")->tag(), 0u);  // read: 0
  cache.get("a")->tag() = 42;
  EXPECT_EQ(cache.get("a")->tag(), 42u);
  EXPECT_EQ(cache.get("b")->tag(), 0u);
  cache.trim();  // "a" goes
  EXPECT_EQ(cache.get("a")->tag(), 0u);
}

TEST(AccountCache, ClearDropsUncommittedChanges) {
  FakeStore store;
  store.accounts["acme"] = stored("acme", 7);
  AccountCache cache(store, 10);
  (*cache.get("acme"))->applied = 99;  // a change whose commit then failed
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ((*cache.get("acme"))->applied, 7);  // the persisted state again
}

TEST(AccountCache, StoreErrorsPropagateAndCacheNothing) {
  FakeStore store;
  AccountCache cache(store, 10);
  store.fail = true;
  auto r = cache.get("acme");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "rocksdb_io");
  EXPECT_EQ(cache.size(), 0u);
  store.fail = false;
  EXPECT_TRUE(cache.get("acme").ok());
}

TEST(AccountCache, WorksInFrontOfRocksDb) {
  testing::TempDir dir;
  auto opened = RocksDbStore::open(options_at(dir.path()));
  ASSERT_TRUE(opened.ok()) << opened.error().to_string();
  RocksDbStore& store = **opened;
  {
    AccountCache cache(store, 1);
    AccountState* a = cache.get("acme")->get();
    model::apply(*a, model::Event{"1", "src", "login", "acme", 1000, {}}, {});
    CommitBatch batch;
    batch.accounts = {a};
    ASSERT_TRUE(store.commit(batch).ok());
    cache.trim();
  }
  AccountCache fresh(store, 1);
  auto a = fresh.get("acme");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->applied, 1);
  EXPECT_EQ((*a)->types.at("login").count, 1);
}

}  // namespace
}  // namespace kamwatch::state
