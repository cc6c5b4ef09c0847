#pragma once
// StateStore on one RocksDB database with a column family per kind of data (see README.md):
// accounts, offsets, seen, outbox, meta. commit() writes a whole batch in one WriteBatch, so
// after a crash either everything a batch changed is durable or none of it is.
// Lifecycle: open() -> use -> destroy (closes the DB). Thread-safety: reads (get_account, seen,
// get_offset, all_offsets, outbox_peek, for_each_account, int_property) from any thread;
// commit() from one thread at a time; outbox_remove() and flush() from any thread.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "state/state_store.h"

namespace rocksdb {
class Cache;
class DB;
class ColumnFamilyHandle;
class Statistics;
class PinnableSlice;
class Slice;
class WriteBatch;
}  // namespace rocksdb

namespace kamwatch::state {

struct StoreOptions {
  std::string path;  // the database directory
  // Opens as a RocksDB *secondary* instance: reads only, and safe while another process (or
  // another handle in this process) has the database open read-write. It sees the data as of
  // open() and catch_up(). Needs a writable directory for its own info log: secondary_path, or
  // a fresh directory under the system temp dir that is removed on close.
  bool read_only = false;
  std::string secondary_path;
  bool create_if_missing = true;
  // RocksDB's memory: the block cache, shared by all column families, with their memtables
  // charged to it (flushed when they pass about half of it) from kMinChargedCache up; below
  // that the memtables (up to 2 x 64 MiB for accounts, 2 x 32 MiB for seen) come on top.
  std::size_t block_cache_bytes = std::size_t{256} << 20;
  static constexpr std::size_t kMinChargedCache = std::size_t{128} << 20;
  // fsync the WAL on every commit. Off: a process crash (even SIGKILL) loses nothing, since the
  // WAL write reached the OS; only a power loss or kernel crash may lose the last commits.
  bool sync_writes = false;
  // Free-space guard: a write that would leave less than this many bytes free on the
  // database's filesystem is refused with error code disk_full before RocksDB sees it, so
  // RocksDB itself never hits ENOSPC on a WAL write (RocksDB 7.8 aborts after a failed WAL
  // write, rocksdb#12448). The reserve is also the room left for memtable flushes and
  // compactions. After a refusal writes resume once twice the reserve is free. 0 = no guard.
  std::uint64_t min_free_bytes = 0;
  // Test-only fault injection: when set and it returns true, commit() writes nothing and fails
  // with rocksdb_io, as on a full disk.
  std::function<bool()> fail_writes;
};

class RocksDbStore final : public StateStore {
 public:
  // Errors: rocksdb_open (cannot open or create), rocksdb_schema (written by an incompatible
  // version), rocksdb_io.
  [[nodiscard]] static Result<std::unique_ptr<RocksDbStore>> open(const StoreOptions& options);
  ~RocksDbStore() override;
  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;

  [[nodiscard]] Result<std::optional<model::AccountState>> get_account(
      std::string_view id) override;
  [[nodiscard]] Result<std::vector<bool>> seen(const std::vector<std::string_view>& keys) override;
  [[nodiscard]] bool holds_seen_ids() const override { return holds_seen_ids_; }
  [[nodiscard]] Result<std::optional<std::int64_t>> get_offset(std::string_view topic,
                                                               std::int32_t partition) override;
  [[nodiscard]] Result<std::vector<PartitionOffset>> all_offsets() override;
  // Assigns batch.outbox[i].seq (ascending, never reused, even after the outbox drained and the
  // store reopened). On error nothing was written and the seqs will be assigned again.
  [[nodiscard]] Result<void> commit(CommitBatch& batch) override;
  [[nodiscard]] Result<std::optional<std::int64_t>> changelog_checkpoint(
      std::int32_t partition) override;
  [[nodiscard]] Result<void> restore(const RestoreBatch& batch) override;
  [[nodiscard]] Result<std::vector<OutboxRecord>> outbox_peek(std::string_view sink,
                                                              std::size_t max) override;
  [[nodiscard]] Result<void> outbox_remove(std::string_view sink,
                                           const std::vector<std::uint64_t>& seqs) override;
  [[nodiscard]] std::map<std::string, std::uint64_t> outbox_depths() override;
  [[nodiscard]] Result<void> for_each_active_alert(
      const std::function<void(std::string_view record)>& fn) override;
  [[nodiscard]] Result<std::vector<std::optional<std::string>>> active_alert_records(
      const std::vector<std::string>& fingerprints) override;
  [[nodiscard]] Result<std::vector<std::string>> account_ids_after(std::string_view after,
                                                                   std::size_t max) override;
  [[nodiscard]] Result<void> for_each_account(
      const std::function<bool(const model::AccountState&)>& fn) override;
  [[nodiscard]] Result<std::optional<std::string>> get_meta(std::string_view key) override;
  [[nodiscard]] Result<void> put_meta(std::string_view key, std::string_view value) override;

  // Flushes all memtables to SST files (e.g. before a backup or a clean shutdown).
  [[nodiscard]] Result<void> flush();
  // Read-only handles: reads what the writer has written since open() or the last catch_up().
  [[nodiscard]] Result<void> catch_up();
  // A RocksDB integer property such as "rocksdb.estimate-live-data-size" or
  // "rocksdb.estimate-num-keys": summed over all column families when column_family is empty,
  // else of that one ("accounts", "seen", ...). nullopt when unknown or unsupported.
  [[nodiscard]] std::optional<std::uint64_t> int_property(std::string_view name,
                                                          std::string_view column_family = {});
  // Figures for monitoring (metrics): sizes, compaction debt, stalls, block cache.
  struct Figures {
    std::uint64_t live_sst_bytes = 0;
    std::uint64_t memtable_bytes = 0;
    std::uint64_t pending_compaction_bytes = 0;
    std::uint64_t running_compactions = 0;
    bool write_stopped = false;
    std::uint64_t write_stall_micros = 0;  // cumulative
    std::uint64_t block_cache_hits = 0;    // cumulative
    std::uint64_t block_cache_misses = 0;  // cumulative
    std::uint64_t block_cache_bytes = 0;   // in the block cache now, charged memtables included
    std::uint64_t block_cache_pinned_bytes = 0;  // of those, held by readers (iterators, L0)
    std::uint64_t table_readers_bytes = 0;       // open SST readers outside the cache
  };
  [[nodiscard]] Figures figures();
  // The seq the next committed outbox record will get.
  [[nodiscard]] std::uint64_t next_outbox_seq() const { return next_seq_.load(); }
  [[nodiscard]] bool read_only() const { return options_.read_only; }
  // Bytes available to this process on the database's filesystem; nullopt when unknown.
  [[nodiscard]] std::optional<std::uint64_t> free_bytes() const;

 private:
  explicit RocksDbStore(StoreOptions options);
  [[nodiscard]] Result<void> init();
  [[nodiscard]] Result<void> load_meta();
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf_by_name(std::string_view name) const;
  // Every write goes through here (see the .cc for error handling).
  [[nodiscard]] Result<void> write(rocksdb::WriteBatch& batch, std::string_view what);
  // One MultiGet of keys in cf: found(i, value) for each key present; any error but NotFound
  // fails ("reading <what>"). Keys already in bytewise order are not sorted again.
  [[nodiscard]] Result<void> multi_get(
      rocksdb::ColumnFamilyHandle* cf, const std::vector<rocksdb::Slice>& keys,
      std::string_view what,
      const std::function<void(std::size_t, const rocksdb::PinnableSlice&)>& found);

  StoreOptions options_;
  std::string secondary_dir_to_remove_;  // a temp dir we created for a read-only handle
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // all opened, owned; destroyed on close
  rocksdb::ColumnFamilyHandle* accounts_ = nullptr;
  rocksdb::ColumnFamilyHandle* offsets_ = nullptr;
  rocksdb::ColumnFamilyHandle* seen_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* alerts_ = nullptr;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::shared_ptr<rocksdb::Cache> block_cache_;  // shared by every column family
  std::mutex depths_mu_;
  std::map<std::string, std::uint64_t> depths_;  // outbox records per sink
  // Where outbox_peek seeks, per sink: every record of the sink below `from` is deleted (a
  // queue's deletes leave tombstones, and skipping thousands of them on every peek was the
  // forwarders' main cost). `peeked` = the seqs the last peek returned, in order: removing a
  // prefix of them moves `from` past it (seqs only grow, so nothing new appears below).
  struct OutboxCursor {
    std::uint64_t from = 0;
    std::vector<std::uint64_t> peeked;
  };
  std::mutex cursors_mu_;
  std::map<std::string, OutboxCursor, std::less<>> cursors_;
  std::atomic<std::uint64_t> next_seq_{1};
  std::atomic<bool> holds_seen_ids_{false};  // the `seen` family is not empty
  std::mutex write_mu_;                      // serialises write()
  bool needs_resume_ = false;  // a write failed: Resume() before the next one (under write_mu_)
  bool disk_full_ = false;     // the last write was refused for space (under write_mu_)
  // commit()'s reusable buffers: steady-state commits allocate nothing for encoding.
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  std::string scratch_;
  std::string key_scratch_;
  // commit()'s account entries in key order (reused: a batch has tens of thousands).
  struct CommitEntry;
  std::vector<CommitEntry> order_scratch_;
};

}  // namespace kamwatch::state
