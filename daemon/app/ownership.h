#pragma once
// Several instances in one consumer group: which input partitions this instance owns, and
// what changes hands with them. On assignment a partition's state (accounts with their recent
// event ids, firing alerts, input positions) is restored from the changelog before any of its
// events is processed; on revocation the instance forgets the partition's firing alerts and
// accounts in its registries (the new owner re-sends and lists them). Called on the pipeline thread
// (inside EventSource::poll); owns() and restoring() from any thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "app/registries.h"
#include "core/result.h"
#include "ingest/kafka.h"
#include "state/state_store.h"

namespace kamwatch::app {

class Ownership {
 public:
  // moved: called on the pipeline thread after partitions changed hands (cached account states
  // must be dropped).
  Ownership(state::StateStore& store, ingest::KafkaOptions kafka, std::string changelog_topic,
            std::function<void()> moved, ActiveAlerts& active, AccountDirectory& directory)
      : store_(store),
        kafka_(std::move(kafka)),
        topic_(std::move(changelog_topic)),
        moved_(std::move(moved)),
        active_(active),
        directory_(directory) {}

  [[nodiscard]] Result<void> assigned(const std::vector<ingest::TopicPartition>& partitions);
  void revoked(const std::vector<ingest::TopicPartition>& partitions, bool lost);

  [[nodiscard]] bool owns(std::int32_t partition) const;
  [[nodiscard]] std::vector<std::int32_t> owned() const;
  [[nodiscard]] bool restoring() const { return restoring_.load(); }
  // Changelog records restored since start (metrics).
  [[nodiscard]] std::uint64_t restored_records() const { return restored_.load(); }

 private:
  state::StateStore& store_;
  ingest::KafkaOptions kafka_;
  std::string topic_;
  std::function<void()> moved_;
  ActiveAlerts& active_;
  AccountDirectory& directory_;
  mutable std::mutex mu_;
  std::map<std::int32_t, int> owned_;  // partition number -> assigned topics with it
  std::atomic<bool> restoring_{false};
  std::atomic<std::uint64_t> restored_{0};
};

}  // namespace kamwatch::app
