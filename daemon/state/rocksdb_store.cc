#include "state/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "state/codec.h"

namespace kamwatch::state {
namespace {

constexpr std::string_view kAccountsCf = "accounts";
constexpr std::string_view kOffsetsCf = "offsets";
constexpr std::string_view kSeenCf = "seen";
constexpr std::string_view kOutboxCf = "outbox";
constexpr std::string_view kMetaCf = "meta";
constexpr std::string_view kAlertsCf = "alerts";  // firing-alert index: fingerprint -> record

// meta keys. The schema version changes when a key or value layout changes incompatibly.
constexpr std::string_view kSchemaVersionKey = "schema_version";
// "2": account values may have merge operands (account deltas, codec.h) stacked on them, so
// builds that read "1" (no merge operator) must not open it. "1" databases are upgraded on the
// first read-write open (they simply have no operands yet).
// "3": account records (codec version 4) and deltas (0x82) carry the recent event ids, and
// new commits write no `seen` keys; builds that read "2" would fail on those values in
// compactions, so they must not open it. "1" and "2" databases are upgraded on the first
// read-write open; their `seen` keys are still looked up (holds_seen_ids).
constexpr std::string_view kSchemaVersion = "3";
constexpr std::string_view kSchemaVersionWithoutRecentIds = "2";
constexpr std::string_view kSchemaVersionWithoutDeltas = "1";
constexpr std::string_view kOutboxNextSeqKey = "outbox_next_seq";
// Keys of StateStore::get_meta/put_meta live under this prefix.
constexpr std::string_view kMetaExtPrefix = "x.";

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

// RocksDB counts per-thread perf-context statistics by default (kEnableCount): a thread-local
// counter bump in every memtable key comparison, through __tls_get_addr since RocksDB is a
// shared library (~6% of the pipeline thread in the 5M-event bench). Nothing reads them (the
// metrics use rocksdb::Statistics), so the threads that read and write turn them off.
void without_perf_counters() {
  thread_local bool off = false;
  if (!off) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    off = true;
  }
}
std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

Error status_error(std::string_view what, const rocksdb::Status& s) {
  const char* code = s.IsCorruption() ? "rocksdb_corruption" : "rocksdb_io";
  return Error{code, std::string(what) + ": " + s.ToString()};
}

Error corrupt(std::string_view what) { return Error{"rocksdb_corruption", std::string(what)}; }

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t get_be(std::string_view in) {
  std::uint64_t v = 0;
  for (char c : in) v = (v << 8) | static_cast<std::uint8_t>(c);
  return v;
}

// offsets key: topic '\0' partition (4 bytes big-endian). Value: next offset, 8 bytes BE.
void offset_key(std::string& out, std::string_view topic, std::int32_t partition) {
  out.assign(topic);
  out.push_back('\0');
  put_be(out, static_cast<std::uint32_t>(partition), 4);
}

// outbox key: sink '\0' seq (8 bytes big-endian), so one sink's records sort oldest first.
void outbox_key(std::string& out, std::string_view sink, std::uint64_t seq) {
  out.assign(sink);
  out.push_back('\0');
  put_be(out, seq, 8);
}
constexpr std::size_t kSeqBytes = 8;

// meta key of a changelog partition's checkpoint.
std::string changelog_key(std::int32_t partition) {
  std::string k = "changelog_checkpoint/";
  put_be(k, static_cast<std::uint32_t>(partition), 4);
  return k;
}

std::string be64(std::uint64_t v) {
  std::string s;
  put_be(s, v, 8);
  return s;
}

// Folds account deltas (one applied event each) into the account state: on reads, flushes and
// compactions. Deterministic: a delta carries everything apply() used. A delta that does not
// decode fails the merge, which RocksDB reports as corruption on the read.
class AccountMergeOperator final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "kamwatch.AccountDeltas"; }

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    model::AccountState state;
    if (in.existing_value) {
      auto decoded = decode_account(view(*in.existing_value));
      if (!decoded) return fail(in, decoded.error());
      state = std::move(decoded).value();
    } else {
      state.id.assign(view(in.key));
    }
    AccountDeltaScratch scratch;
    for (const rocksdb::Slice& operand : in.operand_list) {
      if (auto r = apply_account_delta(state, view(operand), scratch); !r)
        return fail(in, r.error());
    }
    out->new_value.clear();
    encode_account_to(state, out->new_value);
    return true;
  }

 private:
  static bool fail(const MergeOperationInput& in, const Error& e) {
    if (in.logger) {
      rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, in.logger, "account %s: %s",
                   in.key.ToString().c_str(), e.message.c_str());
    }
    return false;
  }
};

rocksdb::ColumnFamilyOptions cf_options(std::string_view name,
                                        const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.level_compaction_dynamic_level_bytes = true;
  const auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  if (has(rocksdb::kLZ4Compression)) o.compression = rocksdb::kLZ4Compression;
  if (has(rocksdb::kZSTD)) o.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.format_version = 5;
  if (name == kAccountsCf || name == kSeenCf) {
    // Point lookups; new accounts and (nearly always) seen ids miss, so filters pay off.
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Partitioned: `seen` grows by a key per event, and one whole-file filter of a large SST
    // (megabytes) does not stay in a block-cache shard, so every lookup re-read and
    // re-checksummed it (~17% of the pipeline thread late in the 5M-event bench). Partitions
    // of a few KB are cached one by one; the top-level index stays pinned.
    t.partition_filters = true;
    t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    t.cache_index_and_filter_blocks_with_high_priority = true;
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.02;
    // A commit inserts its keys in key order (see commit()), but a plain skip-list insert only
    // reuses the last insert's position while the new key falls between it and its successor;
    // in a memtable holding many earlier batches it does not, and every insert searched again
    // from the top. With a hint (one, for the empty prefix) the skip list climbs from the last
    // position only as far as the new key needs.
    o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  }
  if (name == kAccountsCf) {
    o.write_buffer_size = 64 << 20;
    o.merge_operator = std::make_shared<AccountMergeOperator>();
    // Every L0 compaction folds the deltas of nearly every account into its state (decode,
    // apply, encode: the merge operator), since a memtable's deltas touch most accounts. Waiting
    // for 8 L0 files instead of 4 does that half as often (a quarter of kamwatch's CPU went to
    // compactions in the 5M-event bench); reads look at up to 8 more files' (pinned) filters.
    o.level0_file_num_compaction_trigger = 8;
  }
  if (name == kSeenCf) o.write_buffer_size = 32 << 20;
  if (name == kOffsetsCf || name == kMetaCf || name == kOutboxCf || name == kAlertsCf)
    o.write_buffer_size = 4 << 20;
  if (name == kOutboxCf) {
    // A queue: every record is deleted soon after it is written. Compact files dense with
    // tombstones so peeking at the head does not skip over thousands of them.
    o.table_properties_collector_factories.emplace_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(128, 64));
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

// An account entry of a commit: its id, which of the batch's lists holds it, and where.
struct RocksDbStore::CommitEntry {
  enum class Kind : std::uint8_t { kState, kEncoded, kDelta };
  std::string_view id;
  Kind kind;
  std::uint32_t index;
};

RocksDbStore::RocksDbStore(StoreOptions options)
    : options_(std::move(options)), batch_(std::make_unique<rocksdb::WriteBatch>()) {}

RocksDbStore::~RocksDbStore() {
  if (db_) {
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      (void)db_->DestroyColumnFamilyHandle(h);  // cannot fail for handles returned by Open
    }
    handles_.clear();
    (void)db_->Close();  // nothing left to report to: the WAL already holds every commit
    db_.reset();
  }
  if (!secondary_dir_to_remove_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_to_remove_, ec);
  }
}

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::open(const StoreOptions& options) {
  if (options.path.empty()) return Error{"rocksdb_open", "no database path given"};
  std::unique_ptr<RocksDbStore> store(new RocksDbStore(options));
  if (auto r = store->init(); !r) return r.error();
  if (auto r = store->load_meta(); !r) return r.error();
  return store;
}

Result<void> RocksDbStore::init() {
  const std::string& path = options_.path;
  block_cache_ = rocksdb::NewLRUCache(options_.block_cache_bytes);

  rocksdb::DBOptions db;
  db.create_if_missing = options_.create_if_missing && !options_.read_only;
  db.create_missing_column_families = !options_.read_only;
  db.max_background_jobs = 2;
  db.bytes_per_sync = 1 << 20;
  db.keep_log_file_num = 10;
  if (options_.read_only) db.max_open_files = -1;  // required by secondary instances
  statistics_ = rocksdb::CreateDBStatistics();
  statistics_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
  db.statistics = statistics_;
  // One memory budget for RocksDB: memtables are charged to the block cache (which evicts blocks
  // to make room) and, all column families together, flushed when they pass about half of it.
  // Without it each column family kept up to two memtables of its own (224 MiB at most, on top
  // of the cache): ~120 MiB at a time during the scale bench's sweep, a tenth of the 1 GiB a
  // million accounts must fit in (issue 6). Not below StoreOptions::kMinChargedCache: half of a
  // small cache is less than the column families' empty memtables and their filters take (several
  // MiB), and every write would flush.
  if (!options_.read_only && options_.block_cache_bytes >= StoreOptions::kMinChargedCache)
    db.write_buffer_manager =
        std::make_shared<rocksdb::WriteBufferManager>(options_.block_cache_bytes / 2, block_cache_);

  // Open every column family the database has (RocksDB insists on that for a read-write open),
  // ours with their tuned options, unknown ones (a newer version's) with defaults.
  std::vector<std::string> existing;
  const rocksdb::Status list = rocksdb::DB::ListColumnFamilies(db, path, &existing);
  if (!list.ok()) {
    if (options_.read_only || !options_.create_if_missing) {
      return status_error("cannot open " + path, list);
    }
  }
  const std::string_view ours[] = {kAccountsCf, kOffsetsCf, kSeenCf, kOutboxCf, kMetaCf, kAlertsCf};
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (std::string_view name : ours) {
    if (options_.read_only && std::find(existing.begin(), existing.end(), name) == existing.end()) {
      return Error{"rocksdb_schema", path + " is not a kamwatch database (no column family " +
                                         std::string(name) + ")"};
    }
    descs.emplace_back(std::string(name), cf_options(name, block_cache_));
  }
  if (!options_.read_only) {
    for (const std::string& name : existing) {
      const bool known =
          std::any_of(descs.begin(), descs.end(), [&](const auto& d) { return d.name == name; });
      if (!known) descs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options_.read_only) {
    std::string secondary = options_.secondary_path;
    if (secondary.empty()) {
      static std::atomic<unsigned> counter{0};
      std::error_code ec;
      const auto dir =
          std::filesystem::temp_directory_path(ec) / ("kamwatch-ro-" + std::to_string(::getpid()) +
                                                      "-" + std::to_string(counter.fetch_add(1)));
      if (ec || !std::filesystem::create_directories(dir, ec) || ec) {
        return Error{"rocksdb_open", "cannot create a directory for the read-only handle: " +
                                         dir.string() + ": " + ec.message()};
      }
      secondary = dir.string();
      secondary_dir_to_remove_ = secondary;
    }
    s = rocksdb::DB::OpenAsSecondary(db, path, secondary, descs, &handles_, &raw);
  } else {
    s = rocksdb::DB::Open(db, path, descs, &handles_, &raw);
  }
  if (!s.ok()) return Error{"rocksdb_open", "cannot open " + path + ": " + s.ToString()};
  db_.reset(raw);
  accounts_ = cf_by_name(kAccountsCf);
  offsets_ = cf_by_name(kOffsetsCf);
  seen_ = cf_by_name(kSeenCf);
  outbox_ = cf_by_name(kOutboxCf);
  meta_ = cf_by_name(kMetaCf);
  alerts_ = cf_by_name(kAlertsCf);
  return ok();
}

rocksdb::ColumnFamilyHandle* RocksDbStore::cf_by_name(std::string_view name) const {
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    if (h->GetName() == name) return h;
  }
  return nullptr;
}

Result<void> RocksDbStore::load_meta() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, slice(kSchemaVersionKey), &value);
  const bool older =
      value == kSchemaVersionWithoutDeltas || value == kSchemaVersionWithoutRecentIds;
  if (s.ok() && older && !options_.read_only) {
    s = db_->Put(rocksdb::WriteOptions(), meta_, slice(kSchemaVersionKey), slice(kSchemaVersion));
    if (!s.ok()) return status_error("upgrading schema version", s);
    value = kSchemaVersion;
  }
  if (s.ok()) {
    if (value != kSchemaVersion && value != kSchemaVersionWithoutDeltas &&
        value != kSchemaVersionWithoutRecentIds) {
      return Error{"rocksdb_schema", options_.path + " has schema version " + value +
                                         ", this build reads version " +
                                         std::string(kSchemaVersion)};
    }
  } else if (s.IsNotFound()) {
    if (!options_.read_only) {
      s = db_->Put(rocksdb::WriteOptions(), meta_, slice(kSchemaVersionKey), slice(kSchemaVersion));
      if (!s.ok()) return status_error("writing schema version", s);
    }
  } else {
    return status_error("reading schema version", s);
  }

  // `seen` keys from before schema 3 (or restored from such a changelog) are still consulted.
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), seen_));
    it->SeekToFirst();
    if (!it->status().ok()) return status_error("reading seen ids", it->status());
    holds_seen_ids_ = it->Valid();
  }

  // The next seq is the larger of the stored counter and one past the newest record of any
  // sink (the counter alone survives a fully drained outbox; the keys alone a lost counter).
  std::uint64_t next = 1;
  s = db_->Get(rocksdb::ReadOptions(), meta_, slice(kOutboxNextSeqKey), &value);
  if (s.ok()) {
    if (value.size() != kSeqBytes) return corrupt("meta outbox_next_seq has a bad length");
    next = std::max(next, get_be(value));
  } else if (!s.IsNotFound()) {
    return status_error("reading outbox seq", s);
  }
  // One pass over the outbox: records per sink (the depth figures) and the newest seq.
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, outbox_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = view(it->key());
    const std::size_t nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() != nul + 1 + kSeqBytes) {
      return corrupt("malformed outbox key");
    }
    next = std::max(next, get_be(key.substr(nul + 1)) + 1);
    ++depths_[std::string(key.substr(0, nul))];
  }
  if (!it->status().ok()) return status_error("scanning outbox", it->status());
  next_seq_.store(next);
  return ok();
}

Result<std::optional<model::AccountState>> RocksDbStore::get_account(std::string_view id) {
  without_perf_counters();
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), accounts_, slice(id), &value);
  if (s.IsNotFound()) return std::optional<model::AccountState>();
  if (!s.ok()) return status_error("reading account", s);
  auto decoded = decode_account(view(value));
  if (!decoded) {
    return Error{decoded.error().code,
                 "account '" + std::string(id) + "': " + decoded.error().message};
  }
  return std::optional<model::AccountState>(std::move(decoded).value());
}

Result<void> RocksDbStore::multi_get(
    rocksdb::ColumnFamilyHandle* cf, const std::vector<rocksdb::Slice>& keys, std::string_view what,
    const std::function<void(std::size_t, const rocksdb::PinnableSlice&)>& found) {
  const std::size_t n = keys.size();
  if (n == 0) return ok();
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  // Every column family here uses the bytewise comparator, the order Slice::compare gives.
  const bool sorted = std::is_sorted(
      keys.begin(), keys.end(),
      [](const rocksdb::Slice& a, const rocksdb::Slice& b) { return a.compare(b) < 0; });
  db_->MultiGet(rocksdb::ReadOptions(), cf, n, keys.data(), values.data(), statuses.data(), sorted);
  for (std::size_t i = 0; i < n; ++i) {
    if (statuses[i].ok()) {
      found(i, values[i]);
    } else if (!statuses[i].IsNotFound()) {
      return status_error("reading " + std::string(what), statuses[i]);
    }
  }
  return ok();
}

Result<std::vector<bool>> RocksDbStore::seen(const std::vector<std::string_view>& keys) {
  without_perf_counters();
  std::vector<bool> result(keys.size(), false);
  const std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  auto r = multi_get(seen_, slices, "seen ids",
                     [&](std::size_t i, const rocksdb::PinnableSlice&) { result[i] = true; });
  if (!r.ok()) return r.error();
  return result;
}

Result<std::optional<std::int64_t>> RocksDbStore::get_offset(std::string_view topic,
                                                             std::int32_t partition) {
  std::string key;
  offset_key(key, topic, partition);
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), offsets_, key, &value);
  if (s.IsNotFound()) return std::optional<std::int64_t>();
  if (!s.ok()) return status_error("reading offset", s);
  if (value.size() != 8) return corrupt("offset value has a bad length");
  return std::optional<std::int64_t>(static_cast<std::int64_t>(get_be(value)));
}

Result<std::vector<PartitionOffset>> RocksDbStore::all_offsets() {
  std::vector<PartitionOffset> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), offsets_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = view(it->key());
    const std::string_view value = view(it->value());
    if (key.size() < 5 || key[key.size() - 5] != '\0' || value.size() != 8) {
      return corrupt("malformed offsets entry");
    }
    out.push_back(PartitionOffset{std::string(key.substr(0, key.size() - 5)),
                                  static_cast<std::int32_t>(get_be(key.substr(key.size() - 4))),
                                  static_cast<std::int64_t>(get_be(value))});
  }
  if (!it->status().ok()) return status_error("reading offsets", it->status());
  return out;
}

Result<void> RocksDbStore::commit(CommitBatch& batch) {
  without_perf_counters();
  if (options_.read_only) return Error{"rocksdb_read_only", "commit on a read-only store"};
  if (options_.fail_writes && options_.fail_writes()) {
    return Error{"rocksdb_io", "commit: injected write failure (fail_writes)"};
  }
  rocksdb::WriteBatch& wb = *batch_;
  wb.Clear();
  rocksdb::Status s;
  auto put = [&](rocksdb::ColumnFamilyHandle* cf, std::string_view k, std::string_view v) {
    if (s.ok()) s = wb.Put(cf, slice(k), slice(v));
  };

  for (const model::AccountState* account : batch.accounts) {
    if (account == nullptr || account->id.empty()) {
      return Error{"state_invalid", "commit: account without an id"};
    }
  }
  for (const CommitBatch::AccountDelta& d : batch.account_deltas) {
    if (d.id.empty()) return Error{"state_invalid", "commit: account delta without an id"};
  }
  for (const CommitBatch::EncodedAccount& e : batch.encoded_accounts) {
    if (e.id.empty()) return Error{"state_invalid", "commit: encoded account without an id"};
  }
  // Keys go into the batch in key order (per column family): with the insert hint (cf_options)
  // the memtable skip list then finds each insert position from the previous one, instead of
  // searching from the top with a cache miss per level (random-order inserts were a third of
  // the pipeline's time). The keys of one batch are distinct, so their order within the atomic
  // write means nothing else. One list of the three kinds of account entries, sorted by id.
  using Kind = CommitEntry::Kind;
  std::vector<CommitEntry>& order = order_scratch_;
  order.clear();
  order.reserve(batch.accounts.size() + batch.account_deltas.size() +
                batch.encoded_accounts.size());
  for (std::size_t i = 0; i < batch.accounts.size(); ++i)
    order.push_back({batch.accounts[i]->id, Kind::kState, static_cast<std::uint32_t>(i)});
  for (std::size_t i = 0; i < batch.encoded_accounts.size(); ++i)
    order.push_back({batch.encoded_accounts[i].id, Kind::kEncoded, static_cast<std::uint32_t>(i)});
  for (std::size_t i = 0; i < batch.account_deltas.size(); ++i)
    order.push_back({batch.account_deltas[i].id, Kind::kDelta, static_cast<std::uint32_t>(i)});
  std::sort(order.begin(), order.end(),
            [](const CommitEntry& a, const CommitEntry& b) { return a.id < b.id; });
  if (!std::is_sorted(batch.seen_ids.begin(), batch.seen_ids.end()))  // the pipeline's are
    std::sort(batch.seen_ids.begin(), batch.seen_ids.end());
  for (const CommitEntry& e : order) {
    if (!s.ok()) break;
    switch (e.kind) {
      case Kind::kState:
        scratch_.clear();
        encode_account_to(*batch.accounts[e.index], scratch_);
        put(accounts_, e.id, scratch_);
        break;
      case Kind::kEncoded:
        put(accounts_, e.id, batch.encoded_accounts[e.index].encoded);
        break;
      case Kind::kDelta:
        s = wb.Merge(accounts_, slice(e.id), slice(batch.account_deltas[e.index].deltas));
        break;
    }
  }
  for (const std::string& key : batch.seen_ids) put(seen_, key, {});
  for (const PartitionOffset& o : batch.offsets) {
    if (o.topic.find('\0') != std::string::npos) {
      return Error{"state_invalid", "commit: topic name contains NUL"};
    }
    offset_key(key_scratch_, o.topic, o.partition);
    scratch_.clear();
    put_be(scratch_, static_cast<std::uint64_t>(o.next_offset), 8);
    put(offsets_, key_scratch_, scratch_);
  }
  std::uint64_t seq = next_seq_.load();
  for (OutboxRecord& rec : batch.outbox) {
    if (rec.sink.empty() || rec.sink.find('\0') != std::string::npos) {
      return Error{"state_invalid", "commit: outbox sink name is empty or contains NUL"};
    }
    rec.seq = seq++;
    outbox_key(key_scratch_, rec.sink, rec.seq);
    scratch_.clear();
    encode_outbox_to(rec, scratch_);
    put(outbox_, key_scratch_, scratch_);
  }
  if (!batch.outbox.empty()) put(meta_, kOutboxNextSeqKey, be64(seq));
  for (const ActiveAlertUpdate& a : batch.active_alerts) {
    if (!s.ok()) break;
    s = a.record.empty() ? wb.Delete(alerts_, slice(a.fingerprint))
                         : wb.Put(alerts_, slice(a.fingerprint), slice(a.record));
  }
  for (const ChangelogCheckpoint& c : batch.changelog)
    put(meta_, changelog_key(c.partition), be64(static_cast<std::uint64_t>(c.next_offset)));
  if (!s.ok()) return status_error("commit: building write batch", s);
  if (wb.Count() == 0) return ok();

  // The depth count is held while writing: a forwarder that finds and removes these records
  // right after the write must see them counted first (else its decrement is lost and the
  // depth stays above zero for good).
  std::unique_lock depth_lock(depths_mu_, std::defer_lock);
  if (!batch.outbox.empty()) depth_lock.lock();
  if (auto w = write(wb, "commit"); !w.ok()) return w;
  if (!batch.seen_ids.empty()) holds_seen_ids_ = true;
  next_seq_.store(seq);
  for (const OutboxRecord& rec : batch.outbox) ++depths_[rec.sink];
  return ok();
}

Result<std::optional<std::int64_t>> RocksDbStore::changelog_checkpoint(std::int32_t partition) {
  std::string value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), meta_, changelog_key(partition), &value);
  if (s.IsNotFound()) return std::optional<std::int64_t>();
  if (!s.ok()) return status_error("reading changelog checkpoint", s);
  if (value.size() != 8) return corrupt("changelog checkpoint has a bad length");
  return std::optional<std::int64_t>(static_cast<std::int64_t>(get_be(value)));
}

Result<void> RocksDbStore::restore(const RestoreBatch& batch) {
  if (options_.read_only) return Error{"rocksdb_read_only", "restore on a read-only store"};
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  for (const auto& [id, encoded] : batch.accounts) {
    auto decoded = decode_account(encoded);
    if (!decoded.ok())
      return Error{decoded.error().code,
                   "restoring account '" + id + "' from the changelog: " + decoded.error().message};
    if (decoded->id != id)
      return Error{"state_invalid", "restoring from the changelog: record key '" + id +
                                        "' holds account '" + decoded->id + "'"};
    if (s.ok()) s = wb.Put(accounts_, slice(id), slice(encoded));
  }
  for (const std::string& key : batch.seen_ids)
    if (s.ok()) s = wb.Put(seen_, slice(key), rocksdb::Slice());
  for (const ActiveAlertUpdate& a : batch.active_alerts) {
    if (!s.ok()) break;
    s = a.record.empty() ? wb.Delete(alerts_, slice(a.fingerprint))
                         : wb.Put(alerts_, slice(a.fingerprint), slice(a.record));
  }
  for (const PartitionOffset& o : batch.offsets) {
    if (!s.ok()) break;
    std::string key;
    offset_key(key, o.topic, o.partition);
    s = wb.Put(offsets_, slice(key), be64(static_cast<std::uint64_t>(o.next_offset)));
  }
  if (s.ok())
    s = wb.Put(meta_, changelog_key(batch.checkpoint.partition),
               be64(static_cast<std::uint64_t>(batch.checkpoint.next_offset)));
  if (!s.ok()) return status_error("restore: building write batch", s);
  if (auto w = write(wb, "restore"); !w.ok()) return w;
  if (!batch.seen_ids.empty()) holds_seen_ids_ = true;
  return ok();
}

Result<void> RocksDbStore::write(rocksdb::WriteBatch& wb, std::string_view what) {
  // One writer at a time (the pipeline's commits, the forwarders' removals). After a failed
  // write (e.g. no space left) RocksDB must be resumed before the next one: writing on would
  // hit the failed WAL writer again. When the cause persists Resume fails and the caller
  // retries later.
  std::lock_guard lock(write_mu_);
  if (options_.min_free_bytes > 0) {
    // Refuse the write ourselves rather than let RocksDB hit ENOSPC (see StoreOptions). After
    // a refusal, writing resumes only with twice the reserve free: no smaller batch squeezes
    // through at the edge, and the store does not flap between full and not.
    const std::optional<std::uint64_t> free = free_bytes();
    const std::uint64_t reserve = options_.min_free_bytes * (disk_full_ ? 2 : 1);
    if (free && *free < reserve + wb.GetDataSize()) {
      disk_full_ = true;
      return Error{"disk_full", std::string(what) + ": " + std::to_string(*free) +
                                    " bytes free on the state filesystem, below the reserve of " +
                                    std::to_string(reserve) +
                                    " (state.min_free_bytes, doubled after a refusal) plus this "
                                    "write's " +
                                    std::to_string(wb.GetDataSize())};
    }
    disk_full_ = false;
  }
  if (needs_resume_) {
    if (auto r = db_->Resume(); !r.ok())
      return status_error(std::string(what) + ": resuming after a write error", r);
    needs_resume_ = false;
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  if (auto s = db_->Write(wo, &wb); !s.ok()) {
    needs_resume_ = true;
    return status_error(what, s);
  }
  return ok();
}

std::optional<std::uint64_t> RocksDbStore::free_bytes() const {
  struct statvfs fs {};
  if (statvfs(options_.path.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(fs.f_bavail) * static_cast<std::uint64_t>(fs.f_frsize);
}

Result<std::optional<std::string>> RocksDbStore::get_meta(std::string_view key) {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_,
                                     std::string(kMetaExtPrefix) + std::string(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return status_error("reading meta", s);
  return std::optional<std::string>(std::move(value));
}

Result<void> RocksDbStore::put_meta(std::string_view key, std::string_view value) {
  if (options_.read_only) return Error{"rocksdb_read_only", "put_meta on a read-only store"};
  rocksdb::WriteBatch wb;
  if (auto s = wb.Put(meta_, std::string(kMetaExtPrefix) + std::string(key), slice(value)); !s.ok())
    return status_error("put_meta", s);
  return write(wb, "put_meta");
}

std::map<std::string, std::uint64_t> RocksDbStore::outbox_depths() {
  std::lock_guard lock(depths_mu_);
  std::map<std::string, std::uint64_t> out;
  for (const auto& [sink, n] : depths_)
    if (n > 0) out.emplace(sink, n);
  return out;
}

Result<void> RocksDbStore::for_each_active_alert(
    const std::function<void(std::string_view record)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), alerts_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) fn(view(it->value()));
  if (!it->status().ok()) return status_error("reading active alerts", it->status());
  return ok();
}

Result<std::vector<std::optional<std::string>>> RocksDbStore::active_alert_records(
    const std::vector<std::string>& fingerprints) {
  std::vector<std::optional<std::string>> out(fingerprints.size());
  const std::vector<rocksdb::Slice> keys(fingerprints.begin(), fingerprints.end());
  auto r =
      multi_get(alerts_, keys, "active alerts",
                [&](std::size_t i, const rocksdb::PinnableSlice& v) { out[i] = v.ToString(); });
  if (!r.ok()) return r.error();
  return out;
}

RocksDbStore::Figures RocksDbStore::figures() {
  Figures f;
  auto prop = [this](std::string_view name) { return int_property(name).value_or(0); };
  f.live_sst_bytes = prop("rocksdb.live-sst-files-size");
  f.memtable_bytes = prop("rocksdb.cur-size-all-mem-tables");
  f.pending_compaction_bytes = prop("rocksdb.estimate-pending-compaction-bytes");
  f.running_compactions = prop("rocksdb.num-running-compactions");
  f.write_stopped = prop("rocksdb.is-write-stopped") != 0;
  f.table_readers_bytes = prop("rocksdb.estimate-table-readers-mem");
  if (block_cache_) {
    f.block_cache_bytes = block_cache_->GetUsage();
    f.block_cache_pinned_bytes = block_cache_->GetPinnedUsage();
  }
  if (statistics_) {
    f.write_stall_micros = statistics_->getTickerCount(rocksdb::STALL_MICROS);
    f.block_cache_hits = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
    f.block_cache_misses = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  }
  return f;
}

Result<std::vector<OutboxRecord>> RocksDbStore::outbox_peek(std::string_view sink,
                                                            std::size_t max) {
  std::vector<OutboxRecord> out;
  if (max == 0) return out;
  std::string start(sink);
  start.push_back('\0');
  std::string end(sink);
  end.push_back('\x01');
  const rocksdb::Slice upper = slice(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::uint64_t from = 0;
  {
    std::lock_guard lock(cursors_mu_);
    if (auto c = cursors_.find(sink); c != cursors_.end()) from = c->second.from;
  }
  std::string first;
  outbox_key(first, sink, from);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, outbox_));
  for (it->Seek(slice(first)); it->Valid() && out.size() < max; it->Next()) {
    const std::string_view key = view(it->key());
    if (key.size() != start.size() + kSeqBytes) return corrupt("malformed outbox key");
    auto rec = decode_outbox(view(it->value()));
    if (!rec) return rec.error();
    rec->seq = get_be(key.substr(start.size()));
    out.push_back(std::move(rec).value());
  }
  if (!it->status().ok()) return status_error("reading outbox", it->status());
  std::lock_guard lock(cursors_mu_);
  OutboxCursor& c = cursors_[std::string(sink)];
  if (!out.empty()) c.from = std::max(c.from, out.front().seq);
  c.peeked.clear();
  for (const OutboxRecord& r : out) c.peeked.push_back(r.seq);
  return out;
}

Result<void> RocksDbStore::outbox_remove(std::string_view sink,
                                         const std::vector<std::uint64_t>& seqs) {
  if (options_.read_only) return Error{"rocksdb_read_only", "outbox_remove on a read-only store"};
  if (seqs.empty()) return ok();
  rocksdb::WriteBatch wb;
  std::string key;
  for (std::uint64_t seq : seqs) {
    outbox_key(key, sink, seq);
    if (auto s = wb.Delete(outbox_, slice(key)); !s.ok()) {
      return status_error("outbox_remove", s);
    }
  }
  if (auto w = write(wb, "outbox_remove"); !w.ok()) return w;
  {
    std::lock_guard lock(cursors_mu_);
    if (auto c = cursors_.find(sink); c != cursors_.end()) {
      for (std::uint64_t seq : c->second.peeked) {
        if (std::find(seqs.begin(), seqs.end(), seq) == seqs.end()) break;
        c->second.from = seq + 1;
      }
      c->second.peeked.clear();
    }
  }
  std::lock_guard lock(depths_mu_);
  auto& n = depths_[std::string(sink)];
  n -= std::min<std::uint64_t>(n, seqs.size());
  return ok();
}

Result<void> RocksDbStore::for_each_account(
    const std::function<bool(const model::AccountState&)>& fn) {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // a full scan would evict the hot working set
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, accounts_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto account = decode_account(view(it->value()));
    if (!account) {
      return Error{account.error().code,
                   "account '" + it->key().ToString() + "': " + account.error().message};
    }
    if (!fn(*account)) break;
  }
  if (!it->status().ok()) return status_error("scanning accounts", it->status());
  return ok();
}

Result<std::vector<std::string>> RocksDbStore::account_ids_after(std::string_view after,
                                                                 std::size_t max) {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, accounts_));
  std::vector<std::string> ids;
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(rocksdb::Slice(after.data(), after.size()));
    if (it->Valid() && it->key() == rocksdb::Slice(after.data(), after.size())) it->Next();
  }
  for (; it->Valid() && ids.size() < max; it->Next()) ids.push_back(it->key().ToString());
  if (!it->status().ok()) return status_error("listing accounts", it->status());
  return ids;
}

Result<void> RocksDbStore::flush() {
  if (options_.read_only) return Error{"rocksdb_read_only", "flush on a read-only store"};
  const rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), handles_);
  if (!s.ok()) return status_error("flush", s);
  return ok();
}

Result<void> RocksDbStore::catch_up() {
  if (!options_.read_only) return ok();
  const rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return status_error("catching up with the writer", s);
  return ok();
}

std::optional<std::uint64_t> RocksDbStore::int_property(std::string_view name,
                                                        std::string_view column_family) {
  std::uint64_t value = 0;
  bool found = false;
  if (column_family.empty()) {
    found = db_->GetAggregatedIntProperty(slice(name), &value);
  } else if (rocksdb::ColumnFamilyHandle* cf = cf_by_name(column_family)) {
    found = db_->GetIntProperty(cf, slice(name), &value);
  }
  if (!found) return std::nullopt;
  return value;
}

}  // namespace kamwatch::state
