#include "app/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <thread>

#include "core/time.h"
#include "rules/rules.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(open_store(dir_, store_, &fail_)); }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
    if (store2_) {
      store2_.reset();
      std::filesystem::remove_all(dir2_);
    }
  }

  // A store in a new directory. Its commits read fail (when given) and first sleep for
  // commit_delay_ms_: a commit may run on the pipeline's commit thread (Commit::kOverlap), and
  // the delay holds it there long enough for the next batch to be applied meanwhile.
  void open_store(std::string& dir, std::unique_ptr<state::RocksDbStore>& store,
                  const std::atomic<bool>* fail) {
    char tmpl[] = "/tmp/kw-pipeline-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    state::StoreOptions o;
    o.path = dir;
    o.fail_writes = [this, fail] {
      std::this_thread::sleep_for(std::chrono::milliseconds(commit_delay_ms_.load()));
      return fail && fail->load();
    };
    auto s = state::RocksDbStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
  }
  // A second store, for tests that compare what two pipelines store.
  void open_second_store() { open_store(dir2_, store2_, nullptr); }

  // The second store holds what the first holds: accounts C0 .. C<accounts - 1>, the offsets of
  // partitions 0 - 3, the dead letters in order and the same set of alert records.
  void expect_same_stores(int accounts) {
    for (int a = 0; a < accounts; ++a) {
      const std::string id = "C" + std::to_string(a);
      auto x = store_->get_account(id);
      auto y = store2_->get_account(id);
      ASSERT_TRUE(x.ok() && x->has_value() && y.ok() && y->has_value()) << id;
      EXPECT_TRUE(**x == **y) << id;
    }
    for (int p = 0; p < 4; ++p)
      EXPECT_EQ(**store2_->get_offset("events", p), **store_->get_offset("events", p)) << p;
    auto d1 = store_->outbox_peek(kDeadLetterSink, 1000);
    auto d2 = store2_->outbox_peek(kDeadLetterSink, 1000);
    ASSERT_TRUE(d1.ok() && d2.ok());
    ASSERT_EQ(d2->size(), d1->size());
    for (std::size_t i = 0; i < d1->size(); ++i) {
      EXPECT_EQ((*d2)[i].value, (*d1)[i].value) << i;
      EXPECT_EQ((*d2)[i].headers, (*d1)[i].headers) << i;
    }
    // Alert records: the same set (accounts of one thread come before the other's).
    const auto values = [](std::vector<state::OutboxRecord> v) {
      std::vector<std::string> out;
      for (const auto& r : v) out.push_back(r.key + " " + r.value);
      std::sort(out.begin(), out.end());
      return out;
    };
    auto a1 = store_->outbox_peek(kAlertSink, 1000);
    auto a2 = store2_->outbox_peek(kAlertSink, 1000);
    ASSERT_TRUE(a1.ok() && a2.ok());
    EXPECT_FALSE(a1->empty());
    EXPECT_EQ(values(*a2), values(*a1));
  }

  // A rule that fires for an account whose latest active_users is under 3.
  static rules::LoadResult few_users_rule() {
    return rules::load_rules_from_strings({{"t.yaml", R"(
alerts:
  - alert: FewUsers
    expr: last(usage.activity.active_users, 3d) < 3
    labels: {signal: churn}
    summary: "few users"
)"}});
  }

  // Adds a message at the next offset of partition p; values are kept alive by the fixture.
  void add(ingest::MessageBatch& b, const std::string& value, int p = 0) {
    values_.push_back(value);
    ingest::RawMessage m;
    m.topic = "events";
    m.partition = p;
    m.offset = next_offset_[p]++;
    m.key = "A";
    m.value = values_.back();
    b.messages.push_back(m);
  }

  static std::string ev(const std::string& id, const std::string& time, double users,
                        const std::string& subject = "A") {
    return R"({"specversion":"1.0","id":")" + id +
           R"(","source":"t","type":"usage.activity","time":")" + time + R"(","subject":")" +
           subject + R"(","data":{"active_users":)" + std::to_string(users) + "}}";
  }

  // The stored account's count of applied usage.activity events.
  std::int64_t stored_count(const std::string& account = "A") {
    return (*store_->get_account(account))->types.at("usage.activity").count;
  }

  std::string dir_;
  std::atomic<bool> fail_{false};
  std::atomic<int> commit_delay_ms_{0};
  std::unique_ptr<state::RocksDbStore> store_;
  std::string dir2_;
  std::unique_ptr<state::RocksDbStore> store2_;
  std::deque<std::string> values_;
  std::map<int, std::int64_t> next_offset_;
  ManualClock clock_{0};
};

TEST_F(PipelineTest, AppliesValidEventsAndStoresOffsetsWithState) {
  Pipeline p(*store_, clock_, {});
  ingest::MessageBatch b;
  add(b, ev("1", "2026-01-01T10:00:00Z", 5));
  add(b, ev("2", "2026-01-01T11:00:00Z", 7), 1);
  add(b, ev("3", "2026-01-02T10:00:00Z", 3, "B"));
  auto stats = p.process(b);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->applied, 3u);
  auto a = store_->get_account("A");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->types.at("usage.activity").count, 2);
  EXPECT_EQ((*a)->types.at("usage.activity").fields.at("active_users").sum, 12);
  EXPECT_EQ(**store_->get_offset("events", 0), 2);
  EXPECT_EQ(**store_->get_offset("events", 1), 1);
}

// A sweep visits every stored account; the ones the cache does not hold are read, evaluated
// and committed without being cached, so the accounts events keep hot stay cached.
TEST_F(PipelineTest, SweepsFireTimersOnUncachedAccountsWithoutEvictingHotOnes) {
  auto loaded = rules::load_rules_from_strings({{"t.yaml", R"(
alerts:
  - alert: Quiet
    expr: since(usage.activity) > 3d
    labels: {signal: churn}
    summary: "quiet"
)"}});
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0].to_string();
  PipelineOptions o;
  o.cache_accounts = 2;
  Pipeline p(*store_, clock_, o);
  p.set_rules(loaded.rules);
  ingest::MessageBatch quiet, hot;
  for (int i = 0; i < 10; ++i)
    add(quiet, ev("q" + std::to_string(i), "2026-01-01T10:00:00Z", 5, "Q" + std::to_string(i)));
  clock_.set(*parse_rfc3339("2026-01-01T12:00:00Z"));
  ASSERT_TRUE(p.process(quiet).ok());
  add(hot, ev("h1", "2026-01-05T10:00:00Z", 5, "H1"));
  add(hot, ev("h2", "2026-01-05T10:00:00Z", 5, "H2"));
  clock_.set(*parse_rfc3339("2026-01-05T12:00:00Z"));
  auto processed = p.process(hot);
  ASSERT_TRUE(processed.ok());
  EXPECT_TRUE(processed->transitions.empty());
  ASSERT_EQ(p.cache_figures().accounts, 2u);  // H1 and H2, the most recent
  const auto misses = p.cache_figures().misses;

  auto sw = p.sweep(100);
  ASSERT_TRUE(sw.ok()) << sw.error().message;
  EXPECT_TRUE(sw->done);
  EXPECT_EQ(sw->accounts, 12u);
  EXPECT_EQ(sw->summaries.size(), 12u);
  EXPECT_EQ(sw->batch.transitions.size(), 10u);  // every quiet account fires, none cached
  EXPECT_EQ(p.cache_figures().accounts, 2u);
  // Each uncached account's new alert state is stored.
  for (int i = 0; i < 10; ++i) {
    auto q = store_->get_account("Q" + std::to_string(i));
    ASSERT_TRUE(q.ok() && q->has_value());
    ASSERT_EQ((*q)->alerts.size(), 1u) << "Q" << i;
    EXPECT_EQ((*q)->alerts.begin()->second.phase, model::AlertState::Phase::kFiring);
  }
  // The hot accounts were not evicted: events for them are served from the cache.
  ingest::MessageBatch more;
  add(more, ev("h1b", "2026-01-05T11:00:00Z", 6, "H1"));
  add(more, ev("h2b", "2026-01-05T11:00:00Z", 6, "H2"));
  ASSERT_TRUE(p.process(more).ok());
  EXPECT_EQ(p.cache_figures().misses, misses);
  // A second sweep finds the alerts already firing: no new transitions.
  auto again = p.sweep(100);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->batch.transitions.empty());
}

TEST_F(PipelineTest, DuplicatesAreAppliedOnceWithinAndAcrossBatches) {
  Pipeline p(*store_, clock_, {});
  ingest::MessageBatch b1;
  add(b1, ev("1", "2026-01-01T10:00:00Z", 5));
  add(b1, ev("1", "2026-01-01T10:00:00Z", 5));  // same source+id in the same batch
  auto s1 = p.process(b1);
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(s1->applied, 1u);
  EXPECT_EQ(s1->duplicates, 1u);
  ingest::MessageBatch b2;
  add(b2, ev("1", "2026-01-01T10:00:00Z", 5));  // a producer retry, later
  auto s2 = p.process(b2);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->duplicates, 1u);
  EXPECT_EQ(stored_count(), 1);
}

// The ids live in the stored account (its deltas carry them): a pipeline started afresh on the
// same store, with an empty cache, still recognises a re-delivery. No `seen` keys are written.
TEST_F(PipelineTest, DuplicatesAreRecognisedAfterARestartFromTheStoredState) {
  {
    Pipeline p(*store_, clock_, {});
    ingest::MessageBatch b;
    add(b, ev("1", "2026-01-01T10:00:00Z", 5));
    add(b, ev("2", "2026-01-02T10:00:00Z", 5));
    ASSERT_EQ(p.process(b)->applied, 2u);
  }
  EXPECT_FALSE(store_->holds_seen_ids());
  EXPECT_EQ(*store_->seen({state::dedup_key("t", "1")}), std::vector<bool>{false});
  Pipeline p(*store_, clock_, {});
  ingest::MessageBatch b;
  add(b, ev("1", "2026-01-01T10:00:00Z", 5));
  add(b, ev("3", "2026-01-03T10:00:00Z", 5));
  auto s = p.process(b);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->duplicates, 1u);
  EXPECT_EQ(s->applied, 1u);
  EXPECT_EQ(stored_count(), 3);
}

// Ids are kept for the late grace: within it a copy is a duplicate, past it the copy is late
// (dead-lettered), and either way the event counts once.
TEST_F(PipelineTest, ACopyOlderThanTheGraceIsLateNotAppliedTwice) {
  PipelineOptions o;
  o.late_grace = kDayMs;
  Pipeline p(*store_, clock_, o);
  ingest::MessageBatch b1;
  add(b1, ev("1", "2026-01-01T10:00:00Z", 5));
  add(b1, ev("2", "2026-01-01T20:00:00Z", 5));
  add(b1, ev("1", "2026-01-01T10:00:00Z", 5));  // within the grace of 20:00: a duplicate
  auto s1 = p.process(b1);
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(s1->duplicates, 1u);
  ingest::MessageBatch b2;
  add(b2, ev("3", "2026-01-05T10:00:00Z", 5));
  add(b2, ev("1", "2026-01-01T10:00:00Z", 5));  // four days before the watermark: late
  auto s2 = p.process(b2);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->duplicates, 0u);
  EXPECT_EQ(s2->late, 1u);
  const auto a = *store_->get_account("A");
  EXPECT_EQ(a->types.at("usage.activity").count, 3);
  // Only the days within the grace keep their ids (the 5th's; the 1st's were pruned).
  ASSERT_EQ(a->recent_ids.entries.size(), 1u);
  EXPECT_EQ(a->recent_ids.entries[0].hash, model::event_id_hash("t", "3"));
}

// A database written before schema 3 holds `seen` keys and no recent ids: its keys are still
// looked up, so an event applied then is not applied again.
TEST_F(PipelineTest, LegacySeenKeysStillCatchDuplicates) {
  state::CommitBatch legacy;
  legacy.seen_ids = {state::dedup_key("t", "old")};
  ASSERT_TRUE(store_->commit(legacy).ok());
  ASSERT_TRUE(store_->holds_seen_ids());
  Pipeline p(*store_, clock_, {});
  ingest::MessageBatch b;
  add(b, ev("old", "2026-01-01T10:00:00Z", 5));
  add(b, ev("new", "2026-01-01T11:00:00Z", 5));
  add(b, ev("new", "2026-01-01T11:00:00Z", 5));
  auto s = p.process(b);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->duplicates, 2u);
  EXPECT_EQ(s->applied, 1u);
  EXPECT_EQ(stored_count(), 1);
}

TEST_F(PipelineTest, InvalidAndLateEventsBecomeDeadLettersInTheSameCommit) {
  PipelineOptions o;
  o.late_grace = kDayMs;
  Pipeline p(*store_, clock_, o);
  ingest::MessageBatch b;
  add(b, ev("1", "2026-01-10T10:00:00Z", 5));
  add(b, "{not json");
  add(b, ev("2", "2026-01-09T11:00:00Z", 1));  // within the grace: applied
  add(b, ev("3", "2026-01-01T10:00:00Z", 1));  // nine days older than the newest: late
  auto stats = p.process(b);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->applied, 2u);
  EXPECT_EQ(stats->dead_lettered, 2u);
  EXPECT_EQ(stats->late, 1u);
  auto out = store_->outbox_peek(kDeadLetterSink, 10);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  auto header = [](const state::OutboxRecord& r, const std::string& k) {
    for (const auto& [hk, hv] : r.headers)
      if (hk == k) return hv;
    return std::string();
  };
  EXPECT_EQ(header((*out)[0], "kamwatch.error.reason"), "invalid_json");
  EXPECT_EQ(header((*out)[0], "kamwatch.origin.offset"), "1");
  EXPECT_EQ((*out)[0].value, "{not json");
  EXPECT_EQ(header((*out)[1], "kamwatch.error.reason"), "late");
  EXPECT_NE(header((*out)[1], "kamwatch.error.message").find("before the account's latest"),
            std::string::npos);
  EXPECT_EQ(**store_->get_offset("events", 0), 4);
}

// The pipeline applies a batch grouped by account: each account's events must still apply in
// message order, whatever other accounts' events come between them. Here an event nine days
// older than its account's newest is late when it follows it, and applied when it precedes it.
TEST_F(PipelineTest, EachAccountsEventsApplyInMessageOrderAmongOtherAccounts) {
  PipelineOptions o;
  o.late_grace = kDayMs;
  Pipeline p(*store_, clock_, o);
  ingest::MessageBatch b;
  for (int a = 0; a < 20; ++a) {
    const std::string id = "C" + std::to_string(a);
    const bool newest_first = a % 2 == 0;
    add(b, ev(id + "-1", newest_first ? "2026-01-10T10:00:00Z" : "2026-01-01T10:00:00Z", 1, id));
    for (int other = 0; other < 20; ++other)
      if (other != a)
        add(b, ev(id + "-x" + std::to_string(other), "2026-01-05T10:00:00Z", 1,
                  "D" + std::to_string(other)));
    add(b, ev(id + "-2", newest_first ? "2026-01-01T10:00:00Z" : "2026-01-10T10:00:00Z", 1, id));
  }
  auto stats = p.process(b);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->late, 10u);
  for (int a = 0; a < 20; ++a)
    EXPECT_EQ(stored_count("C" + std::to_string(a)), a % 2 == 0 ? 1 : 2) << a;
  auto out = store_->outbox_peek(kDeadLetterSink, 100);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 10u);
  // The late ones are dead-lettered in message order: C0's second event, then C2's, ...
  for (std::size_t k = 0; k < out->size(); ++k)
    EXPECT_NE((*out)[k].value.find("\"C" + std::to_string(2 * k) + "-2\""), std::string::npos) << k;
}

TEST_F(PipelineTest, FailedCommitStoresNothingAndTheRetryAppliesOnce) {
  Pipeline p(*store_, clock_, {});
  ingest::MessageBatch b;
  add(b, ev("1", "2026-01-01T10:00:00Z", 5));
  add(b, "garbage");
  fail_ = true;
  ASSERT_FALSE(p.process(b).ok());
  EXPECT_FALSE((*store_->get_account("A")).has_value());
  EXPECT_FALSE((*store_->get_offset("events", 0)).has_value());
  EXPECT_TRUE(store_->outbox_peek(kDeadLetterSink, 10)->empty());
  // The source rewinds and the same batch comes again: applied exactly once.
  fail_ = false;
  auto stats = p.process(b);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->applied, 1u);
  EXPECT_EQ(stored_count(), 1);
  EXPECT_EQ(store_->outbox_peek(kDeadLetterSink, 10)->size(), 1u);
}

// Overlapped commits (each batch's commit written while the next batch is applied, as the
// daemon does while catching up) store what waited-for commits store: the same states, offsets,
// dead letters and alerts, and the stats of every batch arrive once it is committed. The cache
// is smaller than the accounts, so accounts are evicted and read back from the store while a
// commit is still being written (each commit is held up for 30 ms): the accounts of that commit
// must stay cached until it is done, else a read of one would miss its latest events.
TEST_F(PipelineTest, OverlappedCommitsStoreWhatWaitedCommitsStore) {
  const auto loaded = few_users_rule();
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0].to_string();
  ASSERT_NO_FATAL_FAILURE(open_second_store());
  state::RocksDbStore* store2 = store2_.get();

  PipelineOptions o;
  o.threads = 2;
  o.cache_accounts = 10;  // of 40 accounts; each batch changes 20
  Pipeline waited(*store_, clock_, o);
  Pipeline overlapped(*store2, clock_, o);
  waited.set_rules(loaded.rules);
  overlapped.set_rules(loaded.rules);
  clock_.set(*parse_rfc3339("2026-01-16T00:00:00Z"));
  commit_delay_ms_ = 30;

  // Batch k changes 20 accounts from (30 k) mod 40 on, in turn; the next batch's 20 end with
  // the first 10 of them, the least recently used ones (the first a trim evicts).
  std::vector<ingest::MessageBatch> batches(6);
  for (std::size_t k = 0; k < batches.size(); ++k) {
    for (int i = 0; i < 300; ++i) {
      const int account = static_cast<int>((k * 30 + static_cast<std::size_t>(i % 20)) % 40);
      if (i % 97 == 5) {
        add(batches[k], "{not json " + std::to_string(i), account % 4);
        continue;
      }
      char time[32];
      std::snprintf(time, sizeof time, "2026-01-%02dT%02d:00:00Z", static_cast<int>(10 + k),
                    i % 24);
      add(batches[k],
          ev("e" + std::to_string(k * 1000 + i), time, (i * 13 + k) % 7,
             "C" + std::to_string(account)),
          account % 4);
    }
  }
  BatchStats total_waited, total_overlapped;
  std::size_t returned = 0;  // overlapped calls that returned a committed batch
  for (const ingest::MessageBatch& b : batches) {
    auto w = waited.process(b);
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(w->messages, b.messages.size());
    merge_stats(total_waited, std::move(*w));
    auto v = overlapped.process(b, {}, Commit::kOverlap);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_TRUE(overlapped.committing());
    if (v->messages > 0) ++returned;
    merge_stats(total_overlapped, std::move(*v));
  }
  EXPECT_EQ(returned, batches.size() - 1);  // each batch's stats came with the next call
  auto last = overlapped.finish();
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_FALSE(overlapped.committing());
  EXPECT_EQ(last->messages, batches.back().messages.size());
  merge_stats(total_overlapped, std::move(*last));
  EXPECT_EQ(total_overlapped.messages, total_waited.messages);
  EXPECT_EQ(total_overlapped.applied, total_waited.applied);
  EXPECT_EQ(total_overlapped.dead_lettered, total_waited.dead_lettered);
  EXPECT_EQ(total_overlapped.transitions.size(), total_waited.transitions.size());
  EXPECT_EQ(total_overlapped.produced.size(), total_waited.produced.size());
  EXPECT_GT(total_waited.transitions.size(), 0u);
  EXPECT_GT(overlapped.cache_figures().misses, 40u);  // accounts were read back meanwhile
  ASSERT_NO_FATAL_FAILURE(expect_same_stores(40));
}

// An overlapped commit that fails fails the call that waits for it; the batch applied on top
// of it is not stored either, and after the rewind both are applied exactly once.
TEST_F(PipelineTest, AFailedOverlappedCommitFailsTheNextCallAndStoresNeitherBatch) {
  Pipeline p(*store_, clock_, {});
  ingest::MessageBatch first, second;
  add(first, ev("1", "2026-01-01T10:00:00Z", 5));
  add(second, ev("2", "2026-01-01T11:00:00Z", 7));
  fail_ = true;
  commit_delay_ms_ = 20;
  auto started = p.process(first, {}, Commit::kOverlap);
  ASSERT_TRUE(started.ok());  // applied; its commit is still being written
  EXPECT_EQ(started->messages, 0u);
  auto next = p.process(second, {}, Commit::kOverlap);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().code, "rocksdb_io");
  EXPECT_FALSE(p.committing());
  EXPECT_FALSE((*store_->get_account("A")).has_value());
  EXPECT_FALSE((*store_->get_offset("events", 0)).has_value());
  EXPECT_EQ(p.stored_positions({{"events", 0}})[0].offset, -2);  // rewind to the beginning
  // The source rewinds and both batches come again.
  fail_ = false;
  auto again = p.process(first, {}, Commit::kOverlap);
  ASSERT_TRUE(again.ok());
  auto done = p.process(second);  // waits: returns both
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->messages, 2u);
  EXPECT_EQ(done->applied, 2u);
  EXPECT_EQ(stored_count(), 2);
  EXPECT_EQ(**store_->get_offset("events", 0), 2);
}

// A batch split between two threads (its messages for decoding, its accounts by id for applying
// and evaluating) stores what one thread stores: the same account states and alerts, the dead
// letters in message order, the same counts and offsets.
TEST_F(PipelineTest, TwoThreadsStoreWhatOneThreadStores) {
  const auto loaded = few_users_rule();
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0].to_string();
  ASSERT_NO_FATAL_FAILURE(open_second_store());
  state::RocksDbStore* store2 = store2_.get();

  PipelineOptions o;
  o.late_grace = 2 * kDayMs;
  Pipeline one(*store_, clock_, o);
  o.threads = 2;
  Pipeline two(*store2, clock_, o);
  one.set_rules(loaded.rules);
  two.set_rules(loaded.rules);

  // Two batches of 600 messages (enough for the threads to run in parallel) for 60 accounts,
  // each keyed to a partition; with copies of earlier events, undecodable messages and events
  // older than the grace.
  const auto fill = [&](ingest::MessageBatch& b, int first_day, int seq0) {
    std::string previous;
    for (int i = 0; i < 600; ++i) {
      const int account = (i * 7 + seq0) % 60;
      const int p = account % 4;
      if (i % 97 == 5) {
        add(b, "{not json " + std::to_string(i), p);
        continue;
      }
      if (i % 53 == 20 && !previous.empty()) {  // a re-delivered copy
        add(b, previous, p);
        continue;
      }
      const int day = i % 61 == 30 ? first_day - 5 : first_day + i / 100;
      char time[32];
      std::snprintf(time, sizeof time, "2026-01-%02dT%02d:00:00Z", day, i % 24);
      previous = ev("e" + std::to_string(seq0 + i), time, (i * 13 + seq0 / 250) % 7,
                    "C" + std::to_string(account));
      add(b, previous, p);
    }
  };
  clock_.set(*parse_rfc3339("2026-01-20T00:00:00Z"));
  std::size_t transitions = 0;
  for (const auto& [first_day, seq0] : {std::pair{10, 0}, std::pair{14, 1000}}) {
    ingest::MessageBatch b;
    fill(b, first_day, seq0);
    auto s1 = one.process(b);
    auto s2 = two.process(b);
    ASSERT_TRUE(s1.ok()) << s1.error().message;
    ASSERT_TRUE(s2.ok()) << s2.error().message;
    EXPECT_EQ(s2->applied, s1->applied);
    EXPECT_EQ(s2->duplicates, s1->duplicates);
    EXPECT_EQ(s2->dead_lettered, s1->dead_lettered);
    EXPECT_EQ(s2->late, s1->late);
    EXPECT_EQ(s2->consumed, s1->consumed);
    EXPECT_EQ(s2->rejected, s1->rejected);
    EXPECT_EQ(s2->positions.size(), s1->positions.size());
    EXPECT_EQ(s2->transitions.size(), s1->transitions.size());
    EXPECT_GT(s1->duplicates, 0u);
    EXPECT_GT(s1->late, 0u);
    transitions += s1->transitions.size();
  }
  EXPECT_GT(transitions, 0u);
  EXPECT_EQ(two.cache_figures().accounts, 60u);
  ASSERT_NO_FATAL_FAILURE(expect_same_stores(60));
}

}  // namespace
}  // namespace kamwatch::app
