#pragma once
// Binary codec for what the store persists: AccountState (the `accounts` column family) and
// OutboxRecord (the `outbox` column family). The first byte is the format version; decoders
// refuse versions they do not know, so a newer layout can never be misread as an older one.
// Decoding is bounds-checked everywhere and never allocates more than the input could hold:
// it is safe on arbitrary (truncated, corrupt, hostile) bytes.
// Thread-safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/account_state.h"
#include "state/state_store.h"

namespace kamwatch::state {

// Version 1 layout of an account (all integers LEB128 varints, signed ones zigzag encoded;
// doubles 8 raw little-endian bytes; strings a varint length then the bytes; maps a varint
// count then entries in strictly ascending key order):
//   u8 version=1, str id, i64 applied, i64 first_time, i64 max_time,
//   map profile{str -> value}, map types{str -> type_stats}
//   value      = u8 kind, then kNumber: f64 | kString, kJson: str | kBool: u8 | kNull: -
//   type_stats = i64 count, i64 first_time, i64 last_time, series events,
//                map fields{str -> series}, map last_values{str -> value}
//   series     = i64 count, f64 sum, buckets hourly, buckets daily
//   buckets    = varint n, then per bucket: u8 flags, i64 start delta (from the previous
//                bucket's start, the first from 0), i64 count, i64 last_time - start,
//                f64 last unless kLastIsOne, f64 min unless kMinIsLast,
//                f64 max unless kMaxIsLast, f64 sum unless kSumIsCountTimesLast.
// Version 2 appends: map derived{str key -> map groups{str -> type_stats}},
//   map alerts{str -> u8 phase, i64 since, i64 fired_at, i64 cleared_at, f64 value,
//   map labels{str -> str}}.
//   Version 1 records decode with both maps empty.
// Version 3 appends: i64 partition (the input partition; -1 unknown). Older records decode
//   with -1.
// Version 4 appends: the recent event ids (model::RecentIds), varint n, then per id in
//   ascending (day, hash) order: i64 days since the previous id's day (the first since the
//   epoch), u64 hash (8 bytes little-endian). Older records decode with none.
// The flags elide doubles that are bit-identical to one derived from the others: an event
// count series (every value 1) then costs ~8 bytes per bucket instead of ~40.
inline constexpr std::uint8_t kAccountCodecVersion = 4;
inline constexpr std::uint8_t kOutboxCodecVersion = 1;

// Appends the encoding of state to out (keeps out's capacity: reuse one buffer per batch).
void encode_account_to(const model::AccountState& state, std::string& out);
[[nodiscard]] std::string encode_account(const model::AccountState& state);

// Errors: codec_version (unknown leading byte), codec_truncated (input ends early),
// codec_corrupt (impossible length, kind, flag, key order or trailing bytes).
[[nodiscard]] Result<model::AccountState> decode_account(std::string_view bytes);

// An account delta: one applied event, written as a RocksDB merge operand on the account's
// key instead of rewriting the whole state (rocksdb_store.cc merges them into the stored state
// on reads and compactions). It carries everything apply() used, so replaying it later gives
// the very state the pipeline computed, whatever the rules or retention are by then:
//   u8 version=0x82, str type, str subject, i64 time, i64 partition, i64 retention.hourly,
//   i64 retention.daily, i64 retention.ids, u64 id_hash (model::event_id_hash, 8 bytes
//   little-endian), varint n, n x (str name, value), varint m, m x (str key, str group).
// Version 0x81 (written before recent ids were kept) has neither retention.ids nor the hash; it
// still decodes and applies without recording an id. The version byte cannot be mistaken for
// an account record (versions 1..4).
inline constexpr std::uint8_t kAccountDeltaCodecVersion = 0x82;
inline constexpr std::uint8_t kAccountDeltaCodecVersionNoIds = 0x81;

void encode_account_delta_to(const model::Event& event, std::uint64_t id_hash,
                             std::int32_t partition, const model::Retention& retention,
                             const std::vector<model::DerivedTarget>& targets, std::string& out);

// Buffers reused across apply_account_delta calls.
struct AccountDeltaScratch {
  model::Event event;
  std::vector<model::DerivedTarget> targets;
};
// Decodes one or more deltas (concatenated, as one merge operand holds the events of an account
// in a batch) and applies them in order to state (model::apply, then the partition). On an
// error the state may be partly changed: drop it.
[[nodiscard]] Result<void> apply_account_delta(model::AccountState& state, std::string_view bytes,
                                               AccountDeltaScratch& scratch);

// Outbox record value (the seq lives in the key, so it is not encoded):
//   u8 version=1, str sink, str key, str value, varint n, n x (str name, str value).
void encode_outbox_to(const OutboxRecord& record, std::string& out);
[[nodiscard]] std::string encode_outbox(const OutboxRecord& record);
[[nodiscard]] Result<OutboxRecord> decode_outbox(std::string_view bytes);

}  // namespace kamwatch::state
