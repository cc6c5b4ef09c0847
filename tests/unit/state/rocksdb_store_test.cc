#include "state/rocksdb_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "model/account_state.h"
#include "state/codec.h"
#include "test_dir.h"

namespace kamwatch::state {
namespace {

using model::AccountState;
using model::FieldValue;
using testing::TempDir;

StoreOptions options_at(const std::string& path) {
  StoreOptions o;
  o.path = path;
  return o;
}

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

AccountState account(const std::string& id, int events) {
  AccountState s;
  for (int i = 0; i < events; ++i) {
    model::apply(s,
                 model::Event{"e" + std::to_string(i),
                              "src",
                              "sales.order",
                              id,
                              kT0 + i * kHourMs,
                              {{"amount", FieldValue::of_number(10.0 * i)}}},
                 {});
  }
  s.id = id;
  return s;
}

OutboxRecord record(const std::string& sink, const std::string& value) {
  return OutboxRecord{0, sink, "key-" + value, value, {{"reason", "test"}}};
}

std::unique_ptr<RocksDbStore> open_store(const StoreOptions& options) {
  auto r = RocksDbStore::open(options);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::unique_ptr<RocksDbStore> open_store(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.block_cache_bytes = 8 << 20;
  return open_store(o);
}

std::vector<std::uint64_t> seqs_of(const std::vector<OutboxRecord>& records) {
  std::vector<std::uint64_t> seqs;
  for (const auto& r : records) seqs.push_back(r.seq);
  return seqs;
}

TEST(RocksDbStore, CommitThenReopenSeesEverything) {
  TempDir dir;
  const AccountState a = account("acme", 30);
  const AccountState b = account("globex", 3);
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    CommitBatch batch;
    batch.accounts = {&a, &b};
    batch.seen_ids = {dedup_key("src", "e1"), dedup_key("src", "e2")};
    batch.offsets = {{"sales", 0, 42}, {"sales", 7, 1000}, {"file:events.jsonl", -1, 12}};
    batch.outbox = {record("dlq", "bad json"), record("alerts", "fire")};
    ASSERT_TRUE(store->commit(batch).ok());
    EXPECT_EQ(batch.outbox[0].seq, 1u);
    EXPECT_EQ(batch.outbox[1].seq, 2u);
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto got = store->get_account("acme");
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, a);
  EXPECT_EQ(**store->get_account("globex"), b);
  EXPECT_FALSE(store->get_account("initech")->has_value());

  EXPECT_EQ(*store->get_offset("sales", 0), 42);
  EXPECT_EQ(*store->get_offset("sales", 7), 1000);
  EXPECT_EQ(*store->get_offset("file:events.jsonl", -1), 12);
  EXPECT_FALSE(store->get_offset("sales", 1)->has_value());
  auto offsets = store->all_offsets();
  ASSERT_TRUE(offsets.ok());
  ASSERT_EQ(offsets->size(), 3u);
  EXPECT_EQ((*offsets)[0].topic, "file:events.jsonl");
  EXPECT_EQ((*offsets)[1].topic, "sales");
  EXPECT_EQ((*offsets)[1].partition, 0);
  EXPECT_EQ((*offsets)[2].partition, 7);
  EXPECT_EQ((*offsets)[2].next_offset, 1000);

  EXPECT_EQ(*store->seen({dedup_key("src", "e1"), dedup_key("src", "e2")}),
            (std::vector<bool>{true, true}));

  auto dlq = store->outbox_peek("dlq", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 1u);
  EXPECT_EQ((*dlq)[0].seq, 1u);
  EXPECT_EQ((*dlq)[0].sink, "dlq");
  EXPECT_EQ((*dlq)[0].key, "key-bad json");
  EXPECT_EQ((*dlq)[0].value, "bad json");
  EXPECT_EQ((*dlq)[0].headers,
            (std::vector<std::pair<std::string, std::string>>{{"reason", "test"}}));
  EXPECT_EQ(seqs_of(*store->outbox_peek("alerts", 10)), std::vector<std::uint64_t>{2});
}

// Events committed as deltas (merge operands) read back as the state the pipeline computed in
// memory: before and after reopening, mixed with full-state commits, and with derived series
// whose targets were resolved at apply time.
TEST(RocksDbStore, AccountDeltasMergeIntoTheSameStateAsApplyingInMemory) {
  TempDir dir;
  const model::Retention retention{3 * kDayMs, 30 * kDayMs};
  AccountState live;
  live.id = "acme";
  auto event = [](int i) {
    return model::Event{"e" + std::to_string(i),
                        "src",
                        i % 3 ? "sales.order" : "support.ticket",
                        "acme",
                        kT0 + i * 7 * kHourMs,
                        {{"amount", FieldValue::of_number(2.5 * i)},
                         {"category", FieldValue::of_string(i % 2 ? "sensors" : "gateways")}}};
  };
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    std::vector<model::DerivedTarget> targets;
    for (int batch = 0; batch < 20; ++batch) {
      std::string deltas;
      for (int i = batch * 10; i < batch * 10 + 10; ++i) {
        const model::Event e = event(i);
        targets.clear();
        if (e.type == "sales.order") targets.push_back({"by_category", e.data[1].value.text});
        model::apply(live, e, retention, targets);
        live.partition = 3;
        encode_account_delta_to(e, model::event_id_hash(e.source, e.id), 3, retention, targets,
                                deltas);
      }
      CommitBatch commit;
      if (batch == 7) {
        live.alerts["Rule\x1f"].phase = model::AlertState::Phase::kPending;  // stored whole
        commit.accounts = {&live};
      } else {
        commit.account_deltas = {{live.id, deltas}};
      }
      commit.offsets = {{"sales", 3, batch + 1}};
      ASSERT_TRUE(store->commit(commit).ok());
      if (batch == 12) {
        ASSERT_TRUE(store->flush().ok());  // operands over an SST base
      }
      if (batch % 5 == 4) {
        auto got = store->get_account("acme");
        ASSERT_TRUE(got.ok()) << got.error().to_string();
        ASSERT_TRUE(got->has_value());
        EXPECT_EQ(**got, live) << "after batch " << batch;
      }
    }
    EXPECT_FALSE(live.derived.empty());
  }
  auto store = open_store(dir.path());  // the WAL replays the merge operands
  ASSERT_TRUE(store);
  auto got = store->get_account("acme");
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(**got, live);
  std::size_t visited = 0;
  ASSERT_TRUE(store
                  ->for_each_account([&](const AccountState& s) {
                    EXPECT_EQ(s, live);
                    ++visited;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(visited, 1u);
}

TEST(RocksDbStore, CorruptAccountDeltaIsAReadErrorNotAWrongState) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  CommitBatch commit;
  commit.account_deltas = {{"acme", "\x81garbage"}};
  ASSERT_TRUE(store->commit(commit).ok());
  EXPECT_FALSE(store->get_account("acme").ok());
}

TEST(RocksDbStore, LaterCommitOverwrites) {
  TempDir dir;
  auto store = open_store(dir.path());
  AccountState a = account("acme", 1);
  CommitBatch first;
  first.accounts = {&a};
  first.offsets = {{"sales", 0, 1}};
  ASSERT_TRUE(store->commit(first).ok());
  a = account("acme", 5);
  CommitBatch second;
  second.accounts = {&a};
  second.offsets = {{"sales", 0, 5}};
  ASSERT_TRUE(store->commit(second).ok());
  EXPECT_EQ((*store->get_account("acme"))->applied, 5);
  EXPECT_EQ(*store->get_offset("sales", 0), 5);
}

TEST(RocksDbStore, WritesBelowTheFreeSpaceReserveAreRefusedBeforeRocksDbSeesThem) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->free_bytes().has_value());
    CommitBatch batch;
    batch.outbox = {record("dlq", "x")};
    ASSERT_TRUE(store->commit(batch).ok());
  }
  StoreOptions o;
  o.path = dir.path();
  o.min_free_bytes = std::uint64_t{1} << 62;  // more than any disk has free
  auto store = open_store(o);
  ASSERT_TRUE(store);
  const AccountState a = account("acme", 2);
  CommitBatch batch;
  batch.accounts = {&a};
  batch.offsets = {{"sales", 0, 2}};
  auto r = store->commit(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "disk_full");
  EXPECT_NE(r.error().message.find("state.min_free_bytes"), std::string::npos);
  EXPECT_FALSE(store->get_account("acme")->has_value());
  EXPECT_FALSE(store->get_offset("sales", 0)->has_value());
  // Every write goes through the guard: outbox removals and meta records too.
  EXPECT_EQ(store->outbox_remove("dlq", {1}).error().code, "disk_full");
  EXPECT_EQ(store->outbox_peek("dlq", 10)->size(), 1u);
  EXPECT_EQ(store->put_meta("k", "v").error().code, "disk_full");
  store.reset();
  // Space returns (here: a smaller reserve): the same batch commits whole.
  o.min_free_bytes = 1 << 20;
  store = open_store(o);
  ASSERT_TRUE(store->commit(batch).ok());
  EXPECT_EQ(*store->get_offset("sales", 0), 2);
}

TEST(RocksDbStore, MetaRecordsRoundTripAndSurviveReopening) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    EXPECT_FALSE(store->get_meta("poison.attempts")->has_value());
    ASSERT_TRUE(store->put_meta("poison.attempts", std::string("a\tb\0c", 5)).ok());
    ASSERT_TRUE(store->put_meta("schema_version", "x").ok());  // no clash with the store's own
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);  // the schema version is intact
  EXPECT_EQ(**store->get_meta("poison.attempts"), std::string("a\tb\0c", 5));
}

TEST(RocksDbStore, FailedCommitWritesNothing) {
  TempDir dir;
  bool fail = true;
  StoreOptions o;
  o.path = dir.path();
  o.fail_writes = [&] { return fail; };
  auto store = open_store(o);
  ASSERT_TRUE(store);
  const AccountState a = account("acme", 2);
  CommitBatch batch;
  batch.accounts = {&a};
  batch.seen_ids = {
      "src\x1f"
      "e1"};
  batch.offsets = {{"sales", 0, 2}};
  batch.outbox = {record("dlq", "x")};
  auto r = store->commit(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "rocksdb_io");

  EXPECT_FALSE(store->get_account("acme")->has_value());
  EXPECT_EQ(*store->seen({"src\x1f"
                          "e1"}),
            std::vector<bool>{false});
  EXPECT_FALSE(store->get_offset("sales", 0)->has_value());
  EXPECT_TRUE(store->outbox_peek("dlq", 10)->empty());
  EXPECT_EQ(store->next_outbox_seq(), 1u);  // a failed commit consumes no seqs

  fail = false;  // the disk has space again: the retried batch commits whole
  ASSERT_TRUE(store->commit(batch).ok());
  EXPECT_TRUE(store->get_account("acme")->has_value());
  EXPECT_EQ(*store->seen({"src\x1f"
                          "e1"}),
            std::vector<bool>{true});
  EXPECT_EQ(*store->get_offset("sales", 0), 2);
  EXPECT_EQ(seqs_of(*store->outbox_peek("dlq", 10)), std::vector<std::uint64_t>{1});
}

TEST(RocksDbStore, InvalidBatchWritesNothing) {
  TempDir dir;
  auto store = open_store(dir.path());
  const AccountState a = account("acme", 1);
  CommitBatch batch;
  batch.accounts = {&a};
  batch.outbox = {record(std::string("bad\0sink", 8), "x")};
  auto r = store->commit(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "state_invalid");
  EXPECT_FALSE(store->get_account("acme")->has_value());
}

TEST(RocksDbStore, CommitSurvivesProcessDeathWithoutClose) {
  TempDir dir;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: commit, then die without closing the DB (no destructors, no flush), like SIGKILL.
    auto r = RocksDbStore::open(options_at(dir.path()));
    if (!r.ok()) ::_exit(2);
    const AccountState a = account("acme", 3);
    CommitBatch batch;
    batch.accounts = {&a};
    batch.offsets = {{"sales", 0, 3}};
    batch.outbox = {record("dlq", "x")};
    ::_exit((*r)->commit(batch).ok() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  EXPECT_EQ((*store->get_account("acme"))->applied, 3);
  EXPECT_EQ(*store->get_offset("sales", 0), 3);
  EXPECT_EQ(store->outbox_peek("dlq", 10)->size(), 1u);
}

TEST(RocksDbStore, OutboxSeqsAscendAcrossReopenEvenWhenDrained) {
  TempDir dir;
  std::uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    CommitBatch batch;
    batch.outbox = {record("dlq", "a"), record("alerts", "b"), record("dlq", "c")};
    ASSERT_TRUE(store->commit(batch).ok());
    for (const auto& rec : batch.outbox) {
      EXPECT_GT(rec.seq, last);
      last = rec.seq;
    }
    if (round == 1) {  // drain everything: the next open must not reuse seqs
      for (const char* sink : {"dlq", "alerts"}) {
        auto records = store->outbox_peek(sink, 100);
        ASSERT_TRUE(store->outbox_remove(sink, seqs_of(*records)).ok());
      }
    }
  }
  auto store = open_store(dir.path());
  EXPECT_EQ(store->next_outbox_seq(), last + 1);
}

TEST(RocksDbStore, OutboxPeekIsPerSinkOldestFirstAndRemoveDeletes) {
  TempDir dir;
  auto store = open_store(dir.path());
  CommitBatch batch;
  // "dlq" and "dlq2" share a prefix; "dl" sorts before both.
  for (const char* sink : {"dlq", "dlq2", "dl", "dlq"}) batch.outbox.push_back(record(sink, sink));
  for (int i = 0; i < 300; ++i) batch.outbox.push_back(record("dlq", std::to_string(i)));
  ASSERT_TRUE(store->commit(batch).ok());

  auto dlq = store->outbox_peek("dlq", 3);
  ASSERT_TRUE(dlq.ok());
  EXPECT_EQ(seqs_of(*dlq), (std::vector<std::uint64_t>{1, 4, 5}));
  EXPECT_EQ(store->outbox_peek("dlq", 1000)->size(), 302u);
  EXPECT_EQ(seqs_of(*store->outbox_peek("dlq2", 10)), std::vector<std::uint64_t>{2});
  EXPECT_EQ(seqs_of(*store->outbox_peek("dl", 10)), std::vector<std::uint64_t>{3});
  EXPECT_TRUE(store->outbox_peek("d", 10)->empty());
  EXPECT_TRUE(store->outbox_peek("dlq", 0)->empty());

  ASSERT_TRUE(store->outbox_remove("dlq", {1, 5, 999}).ok());  // 999: unknown, ignored
  EXPECT_EQ(seqs_of(*store->outbox_peek("dlq", 2)), (std::vector<std::uint64_t>{4, 6}));
  EXPECT_EQ(seqs_of(*store->outbox_peek("dlq2", 10)), std::vector<std::uint64_t>{2});
  ASSERT_TRUE(store->outbox_remove("dlq2", {2}).ok());
  EXPECT_TRUE(store->outbox_peek("dlq2", 10)->empty());
  EXPECT_EQ(seqs_of(*store->outbox_peek("dl", 10)), std::vector<std::uint64_t>{3});
}

// The forwarders' pattern: peek, deliver, remove what was delivered, again and again. Peeks
// seek past what is known removed (not over its tombstones) without ever skipping a record that
// is still there: one that failed delivery while later ones succeeded, or one committed later.
TEST(RocksDbStore, OutboxPeekAfterRemovalsNeverSkipsARecordStillThere) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::uint64_t expected_next = 0;
  for (int round = 0; round < 50; ++round) {
    CommitBatch batch;
    for (int i = 0; i < 3; ++i) batch.outbox.push_back(record("alerts", std::to_string(i)));
    batch.outbox.push_back(record("dlq", "other"));
    ASSERT_TRUE(store->commit(batch).ok());
    auto peeked = store->outbox_peek("alerts", 100);
    ASSERT_TRUE(peeked.ok());
    ASSERT_EQ(peeked->size(), 3u) << "round " << round;
    EXPECT_GT(peeked->front().seq, expected_next);
    // The first record fails, the two after it are delivered.
    ASSERT_TRUE(store->outbox_remove("alerts", {(*peeked)[1].seq, (*peeked)[2].seq}).ok());
    auto again = store->outbox_peek("alerts", 100);
    ASSERT_EQ(seqs_of(*again), std::vector<std::uint64_t>{peeked->front().seq});
    ASSERT_TRUE(store->outbox_remove("alerts", {peeked->front().seq}).ok());
    EXPECT_TRUE(store->outbox_peek("alerts", 100)->empty());
    expected_next = (*peeked)[2].seq;
  }
  EXPECT_EQ(store->outbox_peek("dlq", 100)->size(), 50u);
}

TEST(RocksDbStore, OutboxDepthsFollowCommitsRemovalsAndReopen) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    CommitBatch batch;
    batch.outbox = {record("dlq", "a"), record("alerts", "b"), record("dlq", "c")};
    ASSERT_TRUE(store->commit(batch).ok());
    EXPECT_EQ(store->outbox_depths(),
              (std::map<std::string, std::uint64_t>{{"alerts", 1}, {"dlq", 2}}));
    ASSERT_TRUE(store->outbox_remove("alerts", {batch.outbox[1].seq}).ok());
    EXPECT_EQ(store->outbox_depths(), (std::map<std::string, std::uint64_t>{{"dlq", 2}}));
  }
  auto store = open_store(dir.path());  // counted again from the stored records
  EXPECT_EQ(store->outbox_depths(), (std::map<std::string, std::uint64_t>{{"dlq", 2}}));
}

// The daemon's shape: the pipeline thread commits records while a forwarder thread removes them
// as soon as it can read them. Every removal must find its records counted, so a drained outbox
// has no depth left.
TEST(RocksDbStore, OutboxDepthsStayExactWhileAForwarderRemovesConcurrently) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  constexpr int kBatches = 1000;
  std::atomic<bool> committed_all{false};
  std::thread forwarder([&] {
    for (;;) {
      const bool last_round = committed_all.load();
      auto peeked = store->outbox_peek("alerts", 100);
      ASSERT_TRUE(peeked.ok());
      if (!peeked->empty()) {
        ASSERT_TRUE(store->outbox_remove("alerts", seqs_of(*peeked)).ok());
      } else if (last_round) {
        return;
      }
    }
  });
  for (int i = 0; i < kBatches; ++i) {
    CommitBatch batch;
    batch.outbox = {record("alerts", std::to_string(i)), record("alerts", "again")};
    if (!store->commit(batch).ok()) {
      ADD_FAILURE() << "commit " << i << " failed";
      break;
    }
  }
  committed_all.store(true);
  forwarder.join();
  EXPECT_TRUE(store->outbox_peek("alerts", 1)->empty());
  EXPECT_EQ(store->outbox_depths(), (std::map<std::string, std::uint64_t>{}));
}

TEST(RocksDbStore, ActiveAlertIndexIsWrittenWithTheBatchAndSurvivesReopen) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    CommitBatch batch;
    batch.active_alerts = {{"f2", "{\"alert\":\"B\"}"}, {"f1", "{\"alert\":\"A\"}"}};
    ASSERT_TRUE(store->commit(batch).ok());
    EXPECT_EQ(*store->active_alerts(),
              (std::vector<std::string>{"{\"alert\":\"A\"}", "{\"alert\":\"B\"}"}));
    CommitBatch resolve;
    resolve.active_alerts = {{"f1", ""}};  // empty record: the alert resolved
    ASSERT_TRUE(store->commit(resolve).ok());
  }
  auto store = open_store(dir.path());
  EXPECT_EQ(*store->active_alerts(), (std::vector<std::string>{"{\"alert\":\"B\"}"}));
}

TEST(RocksDbStore, FiguresReportSizesAndCacheCounters) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<AccountState> accounts;
  for (int i = 0; i < 50; ++i) accounts.push_back(account("acct-" + std::to_string(i), 20));
  CommitBatch batch;
  for (const auto& a : accounts) batch.accounts.push_back(&a);
  ASSERT_TRUE(store->commit(batch).ok());
  EXPECT_GT(store->figures().memtable_bytes, 0u);
  ASSERT_TRUE(store->flush().ok());
  for (const auto& a : accounts) ASSERT_TRUE(store->get_account(a.id).ok());
  const auto f = store->figures();
  EXPECT_GT(f.live_sst_bytes, 0u);
  EXPECT_GT(f.block_cache_hits + f.block_cache_misses, 0u);
  // The blocks those reads loaded stay in the block cache, bounded by its capacity.
  EXPECT_GT(f.block_cache_bytes, 0u);
  EXPECT_LE(f.block_cache_bytes, 8u << 20);  // open_store's cache
  EXPECT_LE(f.block_cache_pinned_bytes, f.block_cache_bytes);
  EXPECT_FALSE(f.write_stopped);
}

// From a 128 MiB cache up the memtables are charged to the block cache (one budget for
// RocksDB's memory); below it they are not (half a small cache is less than empty memtables
// take, and every write would flush).
TEST(RocksDbStore, MemtablesAreChargedToALargeBlockCacheOnly) {
  for (const std::size_t cache : {std::size_t{8} << 20, StoreOptions::kMinChargedCache}) {
    TempDir dir;
    StoreOptions o = options_at(dir.path());
    o.block_cache_bytes = cache;
    auto store = open_store(o);
    std::vector<AccountState> accounts;
    for (int i = 0; i < 50; ++i) accounts.push_back(account("acct-" + std::to_string(i), 20));
    CommitBatch batch;
    for (const auto& a : accounts) batch.accounts.push_back(&a);
    ASSERT_TRUE(store->commit(batch).ok());
    const auto f = store->figures();  // nothing read: no data block is cached
    ASSERT_GT(f.memtable_bytes, 0u);
    if (cache < StoreOptions::kMinChargedCache)
      EXPECT_LT(f.block_cache_bytes, f.memtable_bytes / 2);  // a stats entry of ~100 bytes
    else
      EXPECT_GE(f.block_cache_bytes, f.memtable_bytes);
  }
}

TEST(RocksDbStore, SeenAnswersMixedKeysInOrder) {
  TempDir dir;
  auto store = open_store(dir.path());
  CommitBatch batch;
  for (int i = 0; i < 100; i += 2) batch.seen_ids.push_back(dedup_key("src", std::to_string(i)));
  ASSERT_TRUE(store->commit(batch).ok());
  ASSERT_TRUE(store->flush().ok());  // half in SST files (bloom filters), half in the memtable
  CommitBatch more;
  more.seen_ids = {dedup_key("other", "1")};
  ASSERT_TRUE(store->commit(more).ok());

  std::vector<std::string> keys;
  std::vector<bool> expected;
  for (int i = 99; i >= 0; --i) {
    keys.push_back(dedup_key("src", std::to_string(i)));
    expected.push_back(i % 2 == 0);
  }
  keys.push_back(dedup_key("other", "1"));
  expected.push_back(true);
  keys.push_back(dedup_key("other", "2"));
  expected.push_back(false);
  keys.push_back(dedup_key("src", "0"));  // duplicates in one lookup
  expected.push_back(true);
  const std::vector<std::string_view> views(keys.begin(), keys.end());
  auto seen = store->seen(views);
  ASSERT_TRUE(seen.ok()) << seen.error().to_string();
  EXPECT_EQ(*seen, expected);
  EXPECT_TRUE(store->seen({})->empty());

  // The same keys in key order, as the pipeline passes them (looked up without sorting again),
  // duplicates next to each other: the same answer for each key.
  std::vector<std::size_t> order(keys.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
  std::vector<std::string_view> sorted;
  std::vector<bool> sorted_expected;
  for (std::size_t i : order) {
    sorted.push_back(keys[i]);
    sorted_expected.push_back(expected[i]);
  }
  auto sorted_seen = store->seen(sorted);
  ASSERT_TRUE(sorted_seen.ok()) << sorted_seen.error().to_string();
  EXPECT_EQ(*sorted_seen, sorted_expected);
}

TEST(RocksDbStore, ForEachAccountVisitsInIdOrderAndStops) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<AccountState> accounts;
  for (const char* id : {"m", "b", "z", "a", "\xc3\xa9t\xc3\xa9", "B"}) {
    accounts.push_back(account(id, 1));
  }
  CommitBatch batch;
  for (const auto& a : accounts) batch.accounts.push_back(&a);
  ASSERT_TRUE(store->commit(batch).ok());

  std::vector<std::string> ids;
  ASSERT_TRUE(store
                  ->for_each_account([&](const AccountState& s) {
                    ids.push_back(s.id);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"B", "a", "b", "m", "z", "\xc3\xa9t\xc3\xa9"}));

  ids.clear();
  ASSERT_TRUE(store
                  ->for_each_account([&](const AccountState& s) {
                    ids.push_back(s.id);
                    return ids.size() < 2;
                  })
                  .ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"B", "a"}));
}

TEST(RocksDbStore, ReadOnlyHandleWorksBesideTheWriter) {
  TempDir dir;
  auto writer = open_store(dir.path());
  ASSERT_TRUE(writer);
  const AccountState a = account("acme", 2);
  CommitBatch batch;
  batch.accounts = {&a};
  batch.offsets = {{"sales", 0, 2}};
  ASSERT_TRUE(writer->commit(batch).ok());

  StoreOptions ro;
  ro.path = dir.path();
  ro.read_only = true;
  auto reader = open_store(ro);
  ASSERT_TRUE(reader);
  EXPECT_EQ(**reader->get_account("acme"), a);  // unflushed: read from the writer's WAL

  const AccountState b = account("globex", 1);
  CommitBatch later;
  later.accounts = {&b};
  ASSERT_TRUE(writer->commit(later).ok());
  EXPECT_FALSE(reader->get_account("globex")->has_value());  // a snapshot until catch_up()
  ASSERT_TRUE(reader->catch_up().ok());
  EXPECT_TRUE(reader->get_account("globex")->has_value());

  auto r = reader->commit(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "rocksdb_read_only");
  EXPECT_FALSE(reader->flush().ok());
  EXPECT_FALSE(reader->outbox_remove("dlq", {1}).ok());

  // The writer keeps working while the reader is open.
  ASSERT_TRUE(writer->flush().ok());
  ASSERT_TRUE(writer->commit(later).ok());
  reader.reset();
  writer.reset();
  EXPECT_TRUE(open_store(dir.path())->get_account("globex")->has_value());
}

TEST(RocksDbStore, SecondWriterIsRefused) {
  TempDir dir;
  auto writer = open_store(dir.path());
  ASSERT_TRUE(writer);
  auto second = RocksDbStore::open(options_at(dir.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "rocksdb_open");
}

TEST(RocksDbStore, MissingDatabase) {
  TempDir dir;
  StoreOptions o;
  o.path = dir.path("absent");
  o.create_if_missing = false;
  EXPECT_FALSE(RocksDbStore::open(o).ok());
  o.read_only = true;
  o.create_if_missing = true;
  EXPECT_FALSE(RocksDbStore::open(o).ok());
  EXPECT_FALSE(RocksDbStore::open(StoreOptions{}).ok());
}

TEST(RocksDbStore, PropertiesAreReadable) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<AccountState> accounts;
  for (int i = 0; i < 50; ++i) accounts.push_back(account("acct-" + std::to_string(i), 5));
  CommitBatch batch;
  for (const auto& a : accounts) batch.accounts.push_back(&a);
  ASSERT_TRUE(store->commit(batch).ok());
  ASSERT_TRUE(store->flush().ok());
  auto live = store->int_property("rocksdb.estimate-live-data-size");
  ASSERT_TRUE(live.has_value());
  EXPECT_GT(*live, 0u);
  auto keys = store->int_property("rocksdb.estimate-num-keys", "accounts");
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(*keys, 50u);
  EXPECT_FALSE(store->int_property("rocksdb.no-such-property").has_value());
  EXPECT_FALSE(store->int_property("rocksdb.estimate-num-keys", "no-such-cf").has_value());
}

TEST(RocksDbStore, AccountIdsAfterWalksAllAccountsInSlices) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_NE(store, nullptr);
  std::vector<AccountState> accounts;
  for (const char* id : {"c", "a", "e", "b", "d"}) accounts.push_back(account(id, 1));
  CommitBatch batch;
  for (const auto& a : accounts) batch.accounts.push_back(&a);
  ASSERT_TRUE(store->commit(batch).ok());
  std::vector<std::string> walked;
  std::string cursor;
  for (int i = 0; i < 10; ++i) {
    auto ids = store->account_ids_after(cursor, 2);
    ASSERT_TRUE(ids.ok());
    walked.insert(walked.end(), ids->begin(), ids->end());
    if (ids->size() < 2) break;
    cursor = ids->back();
  }
  EXPECT_EQ(walked, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

}  // namespace
}  // namespace kamwatch::state
