#include "app/changelog.h"

#include "core/log.h"
#include "state/codec.h"

namespace kamwatch::app {
namespace {

constexpr std::string_view kSeenPrefix{"\0seen\0", 6};
constexpr std::string_view kAlertPrefix{"\0alert\0", 7};
constexpr std::string_view kPositionPrefix{"\0pos\0", 5};
constexpr std::size_t kRestoreSlice = 2000;  // records per restore write

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

Error corrupt(std::string what) { return Error{"changelog_corrupt", std::move(what)}; }

}  // namespace

ingest::ChangelogRecord account_record(const model::AccountState& account) {
  return {account.partition, account.id, state::encode_account(account)};
}

ingest::ChangelogRecord seen_record(std::string_view topic, std::int32_t partition,
                                    std::int64_t first_offset,
                                    const std::vector<std::string_view>& keys) {
  ingest::ChangelogRecord r;
  r.partition = partition;
  r.key.append(kSeenPrefix);
  r.key.append(topic);
  r.key.push_back('\0');
  r.key.append(std::to_string(partition));
  r.key.push_back('\0');
  r.key.append(std::to_string(first_offset));
  std::string value;
  for (std::string_view k : keys) {
    put_varint(value, k.size());
    value.append(k);
  }
  r.value = std::move(value);
  return r;
}

ingest::ChangelogRecord position_record(const ingest::TopicPartitionOffset& position) {
  ingest::ChangelogRecord r;
  r.partition = position.partition;
  r.key.append(kPositionPrefix);
  r.key.append(position.topic);
  r.key.push_back('\0');
  r.key.append(std::to_string(position.partition));
  r.value = std::to_string(position.offset);
  return r;
}

ingest::ChangelogRecord alert_record(std::int32_t partition,
                                     const state::ActiveAlertUpdate& update) {
  ingest::ChangelogRecord r;
  r.partition = partition;
  r.key.append(kAlertPrefix);
  r.key.append(update.fingerprint);
  if (!update.record.empty()) r.value = update.record;
  return r;
}

Result<void> add_to_restore(std::string_view key, std::optional<std::string_view> value,
                            state::RestoreBatch& batch) {
  if (key.empty()) return corrupt("changelog record without a key");
  if (key.front() != '\0') {
    // Accounts are never deleted; a tombstone would be a foreign writer's.
    if (!value) return corrupt("tombstone for account '" + std::string(key) + "'");
    batch.accounts.emplace_back(std::string(key), std::string(*value));
    return ok();
  }
  if (key.substr(0, kAlertPrefix.size()) == kAlertPrefix) {
    batch.active_alerts.push_back({std::string(key.substr(kAlertPrefix.size())),
                                   value ? std::string(*value) : std::string()});
    return ok();
  }
  if (key.substr(0, kPositionPrefix.size()) == kPositionPrefix) {
    const std::string_view rest = key.substr(kPositionPrefix.size());
    const std::size_t nul = rest.find('\0');
    if (nul == std::string_view::npos || !value) return corrupt("malformed position record");
    state::PartitionOffset o;
    o.topic = std::string(rest.substr(0, nul));
    try {
      o.partition = std::stoi(std::string(rest.substr(nul + 1)));
      o.next_offset = std::stoll(std::string(*value));
    } catch (const std::exception&) {
      return corrupt("malformed position record");
    }
    batch.offsets.push_back(std::move(o));
    return ok();
  }
  if (key.substr(0, kSeenPrefix.size()) == kSeenPrefix) {
    if (!value) return ok();
    std::string_view in = *value;
    while (!in.empty()) {
      std::uint64_t n = 0;
      if (!get_varint(in, n) || n > in.size()) return corrupt("truncated seen-ids record");
      batch.seen_ids.emplace_back(in.substr(0, n));
      in.remove_prefix(n);
    }
    return ok();
  }
  return corrupt("unknown changelog record kind");
}

Result<RestoreStats> restore_partition(state::StateStore& store, const ingest::KafkaOptions& kafka,
                                       const std::string& topic, std::int32_t partition) {
  auto checkpoint = store.changelog_checkpoint(partition);
  if (!checkpoint.ok()) return checkpoint.error();
  RestoreStats stats;
  stats.from = checkpoint->value_or(0);
  state::RestoreBatch batch;
  batch.checkpoint.partition = partition;
  std::size_t pending = 0;
  auto flush = [&](std::int64_t next) -> Result<void> {
    batch.checkpoint.next_offset = next;
    if (auto r = store.restore(batch); !r.ok()) return r;
    batch.accounts.clear();
    batch.seen_ids.clear();
    batch.active_alerts.clear();
    batch.offsets.clear();
    pending = 0;
    return ok();
  };
  auto next = ingest::read_changelog(
      kafka, topic, partition, stats.from,
      [&](std::string_view key, std::optional<std::string_view> value,
          std::int64_t offset) -> Result<void> {
        if (auto r = add_to_restore(key, value, batch); !r.ok())
          return Error{r.error().code, topic + "/" + std::to_string(partition) + " offset " +
                                           std::to_string(offset) + ": " + r.error().message};
        ++stats.records;
        if (++pending >= kRestoreSlice) return flush(offset + 1);
        return ok();
      });
  if (!next.ok()) return next.error();
  if (auto r = flush(*next); !r.ok()) return r.error();
  stats.to = *next;
  return stats;
}

}  // namespace kamwatch::app
