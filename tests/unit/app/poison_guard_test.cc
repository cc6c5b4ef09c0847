// PoisonGuard: exceptions dead-letter the one event (processing_error); a batch recorded as
// having stopped the daemon max_attempts times runs event by event; an event that stopped it
// twice on its own is quarantined (poison). Crashes are simulated by the records a crash
// leaves behind (the fault suite, tests/fault/poison_test.cc, does it with real aborts).
#include "app/poison_guard.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <filesystem>

#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

// The throw hook is read once per process, before the first event is applied.
const bool kThrowHook = [] {
  setenv("KAMWATCH_FAULT_THROW_ON_EVENT_ID", "throw-me", 1);
  return true;
}();

class PoisonGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kThrowHook);
    char tmpl[] = "/tmp/kw-poison-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state::StoreOptions o;
    o.path = dir_;
    o.fail_writes = [this] { return fail_; };
    auto s = state::RocksDbStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void add(ingest::MessageBatch& b, const std::string& id, int p = 0) {
    values_.push_back(R"({"specversion":"1.0","id":")" + id +
                      R"(","source":"t","type":"usage.activity","time":"2026-01-01T10:00:00Z",)"
                      R"("subject":"A","data":{"active_users":2}})");
    ingest::RawMessage m;
    m.topic = "events";
    m.partition = p;
    m.offset = next_offset_[p]++;
    m.key = "A";
    m.value = values_.back();
    b.messages.push_back(m);
  }

  std::vector<std::pair<std::string, std::string>> dead_letters() {
    std::vector<std::pair<std::string, std::string>> out;  // origin offset, reason
    auto recs = store_->outbox_peek(kDeadLetterSink, 100);
    EXPECT_TRUE(recs.ok());
    for (const auto& r : *recs) {
      std::string offset, reason;
      for (const auto& [k, v] : r.headers) {
        if (k == "kamwatch.origin.offset") offset = v;
        if (k == "kamwatch.error.reason") reason = v;
      }
      out.emplace_back(offset, reason);
    }
    return out;
  }

  std::int64_t count() {
    auto a = store_->get_account("A");
    return a.ok() && a->has_value() ? (*a)->types.at("usage.activity").count : 0;
  }

  std::string dir_;
  bool fail_ = false;
  std::unique_ptr<state::RocksDbStore> store_;
  std::deque<std::string> values_;
  std::map<int, std::int64_t> next_offset_;
  ManualClock clock_{0};
};

TEST_F(PoisonGuardTest, AnEventThatThrowsIsDeadLetteredAndTheRestApplied) {
  Pipeline p(*store_, clock_, {});
  PoisonGuard g(*store_, p, 3);
  ingest::MessageBatch b;
  add(b, "1");
  add(b, "throw-me");
  add(b, "2", 1);
  add(b, "3");
  // The pipeline alone fails the whole batch and commits nothing.
  auto plain = p.process(b);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code, kProcessingError);
  EXPECT_EQ(count(), 0);
  auto stats = g.process(b);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->applied, 3u);
  EXPECT_EQ(stats->dead_lettered, 1u);
  EXPECT_EQ(stats->messages, 4u);
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(dead_letters(),
            (std::vector<std::pair<std::string, std::string>>{{"1", "processing_error"}}));
  EXPECT_EQ(**store_->get_offset("events", 0), 3);
  EXPECT_EQ(**store_->get_offset("events", 1), 1);
  EXPECT_EQ(g.isolations(), 1u);
}

TEST_F(PoisonGuardTest, AttemptsAreRecordedBeforeProcessingAndCountOnlyRepeatedStarts) {
  Pipeline p(*store_, clock_, {});
  PoisonGuard g(*store_, p, 3);
  ingest::MessageBatch b;
  add(b, "1");
  add(b, "2", 1);
  ASSERT_TRUE(g.process(b).ok());
  auto rec = store_->get_meta(PoisonGuard::kAttemptsKey);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  auto positions = PoisonGuard::decode(**rec);
  ASSERT_EQ(positions.size(), 2u);
  EXPECT_EQ(positions[0].offset, 0);
  EXPECT_EQ(positions[0].count, 1u);
  // The next batch starts elsewhere: its first attempt, no isolation.
  ingest::MessageBatch b2;
  add(b2, "3");
  ASSERT_TRUE(g.process(b2).ok());
  positions = PoisonGuard::decode(**store_->get_meta(PoisonGuard::kAttemptsKey));
  EXPECT_EQ(positions[0].offset, 1);
  EXPECT_EQ(positions[0].count, 1u);
  EXPECT_EQ(g.isolations(), 0u);
}

// With overlapped commits a crash can also lose the commit of the batch before the one that
// stopped the daemon: the batch read again then starts before the recorded one. The record
// stays (no new count), that batch is committed before the next is processed, and the next
// attempt of the recorded start counts on; a batch that reaches the recorded start counts too.
TEST_F(PoisonGuardTest, ARecordAheadOfTheBatchStaysAndTheBatchIsCommittedFirst) {
  Pipeline p(*store_, clock_, {});
  PoisonGuard g(*store_, p, 3);
  ingest::MessageBatch before, recorded;
  add(before, "1");
  add(before, "2");
  add(recorded, "3");
  ASSERT_TRUE(
      store_->put_meta(PoisonGuard::kAttemptsKey, PoisonGuard::encode({{"events", 0, 2, 1}})).ok());
  auto r = g.process(before, Commit::kOverlap);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(p.committing());  // committed before returning
  EXPECT_EQ(r->applied, 2u);
  EXPECT_EQ(**store_->get_offset("events", 0), 2);
  auto positions = PoisonGuard::decode(**store_->get_meta(PoisonGuard::kAttemptsKey));
  ASSERT_EQ(positions.size(), 1u);
  EXPECT_EQ(positions[0].offset, 2);
  EXPECT_EQ(positions[0].count, 1u);
  ASSERT_TRUE(g.process(recorded, Commit::kOverlap).ok());
  positions = PoisonGuard::decode(**store_->get_meta(PoisonGuard::kAttemptsKey));
  EXPECT_EQ(positions[0].offset, 2);
  EXPECT_EQ(positions[0].count, 2u);
  EXPECT_TRUE(p.committing());  // a normal batch overlaps its commit again
  ASSERT_TRUE(p.finish().ok());

  // A batch that covers the recorded start (from before it) is an attempt of it.
  ingest::MessageBatch covering;
  add(covering, "4");
  add(covering, "5");
  ASSERT_TRUE(
      store_->put_meta(PoisonGuard::kAttemptsKey, PoisonGuard::encode({{"events", 0, 4, 2}})).ok());
  ASSERT_TRUE(g.process(covering, Commit::kOverlap).ok());
  EXPECT_FALSE(p.committing());
  positions = PoisonGuard::decode(**store_->get_meta(PoisonGuard::kAttemptsKey));
  EXPECT_EQ(positions[0].offset, 4);
  EXPECT_EQ(positions[0].count, 3u);
  EXPECT_EQ(g.isolations(), 0u);
}

TEST_F(PoisonGuardTest, ABatchThatStoppedTheDaemonTooOftenRunsEventByEvent) {
  Pipeline p(*store_, clock_, {});
  PoisonGuard g(*store_, p, 3);
  ingest::MessageBatch b;
  add(b, "1");
  add(b, "2");
  add(b, "3");
  // Three earlier runs died in this batch (their attempts were recorded, nothing committed).
  ASSERT_TRUE(
      store_->put_meta(PoisonGuard::kAttemptsKey, PoisonGuard::encode({{"events", 0, 0, 3}})).ok());
  auto stats = g.process(b);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(g.isolations(), 1u);
  EXPECT_EQ(stats->applied, 3u);
  EXPECT_EQ(count(), 3);
  // The isolating record is cleared once the batch is through.
  EXPECT_EQ(**store_->get_meta(PoisonGuard::kIsolatingKey), "");
}

TEST_F(PoisonGuardTest, AnEventThatStoppedTheDaemonTwiceAloneIsQuarantinedAsPoison) {
  Pipeline p(*store_, clock_, {});
  PoisonGuard g(*store_, p, 3);
  ingest::MessageBatch b;
  add(b, "1");
  add(b, "2");
  add(b, "3");
  // Event 1 (offset 1) died once alone: it runs alone once more, and is applied if it passes.
  ASSERT_TRUE(
      store_->put_meta(PoisonGuard::kIsolatingKey, PoisonGuard::encode({{"events", 0, 1, 1}}))
          .ok());
  ASSERT_TRUE(g.process(b).ok());
  EXPECT_EQ(g.isolations(), 1u);
  EXPECT_EQ(count(), 3);
  EXPECT_TRUE(dead_letters().empty());

  // Offset 4 died twice alone: quarantined as poison, everything else applied.
  ingest::MessageBatch b2;
  add(b2, "4");
  add(b2, "5");
  add(b2, "6");
  ASSERT_TRUE(
      store_->put_meta(PoisonGuard::kIsolatingKey, PoisonGuard::encode({{"events", 0, 4, 2}}))
          .ok());
  auto stats = g.process(b2);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->applied, 2u);
  EXPECT_EQ(stats->rejected.at("poison"), 1u);
  EXPECT_EQ(count(), 5);
  EXPECT_EQ(dead_letters(), (std::vector<std::pair<std::string, std::string>>{{"4", "poison"}}));
  EXPECT_EQ(**store_->get_offset("events", 0), 6);
  EXPECT_EQ(**store_->get_meta(PoisonGuard::kIsolatingKey), "");  // served its purpose
}

TEST_F(PoisonGuardTest, AFailureThatDidNotStopTheDaemonIsNoAttempt) {
  Pipeline p(*store_, clock_, {});
  PoisonGuard g(*store_, p, 1);
  ingest::MessageBatch b;
  add(b, "1");
  // Garbage in the attempts record is ignored, not fatal.
  ASSERT_TRUE(store_->put_meta(PoisonGuard::kAttemptsKey, "garbage\tx\n").ok());
  // Commits that fail (a full disk) and are retried do not count as attempts that crashed.
  fail_ = true;
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(g.process(b).ok());
  fail_ = false;
  ASSERT_TRUE(g.process(b).ok());
  EXPECT_EQ(g.isolations(), 0u);
  EXPECT_EQ(count(), 1);
}

TEST_F(PoisonGuardTest, OversizeDeadLettersKeepTheHeadOfTheValue) {
  PipelineOptions o;
  o.limits.max_message_bytes = 1024;
  Pipeline p(*store_, clock_, o);
  ingest::MessageBatch b;
  values_.push_back(std::string(kDeadLetterOversizeKeep + 5000, 'x'));
  ingest::RawMessage m;
  m.topic = "events";
  m.value = values_.back();
  m.offset = 0;
  b.messages.push_back(m);
  ASSERT_TRUE(p.process(b).ok());
  auto recs = store_->outbox_peek(kDeadLetterSink, 10);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 1u);
  EXPECT_EQ((*recs)[0].value.size(), kDeadLetterOversizeKeep);
  bool truncated = false;
  for (const auto& [k, v] : (*recs)[0].headers)
    if (k == "kamwatch.error.truncated_from")
      truncated = v == std::to_string(kDeadLetterOversizeKeep + 5000);
  EXPECT_TRUE(truncated);
}

}  // namespace
}  // namespace kamwatch::app
