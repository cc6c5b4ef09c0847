#pragma once
// Bounded LRU cache of decoded account states in front of a StateStore, so the pipeline decodes
// an account once and then mutates it in place across batches.
// Lifecycle: get() during a batch (never evicts, so every pointer it returned stays valid while
// the batch is built and committed), trim() after a successful commit, clear() after a failed
// one (cached states may hold changes that were never persisted).
// Thread-safety: none; owned and used by the one pipeline thread.
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
#include "model/account_state.h"
#include "state/state_store.h"

namespace kamwatch::state {

class AccountCache {
 public:
  // capacity: accounts kept after trim(); at least 1. store must outlive the cache.
  AccountCache(StateStore& store, std::size_t capacity);
  AccountCache(const AccountCache&) = delete;
  AccountCache& operator=(const AccountCache&) = delete;

  // The cached state of id, else the stored one, else a new empty state with only id set (not
  // stored until committed). Marks it most recently used. Errors come from the store (reads or
  // decoding); the cache is unchanged then. The pointer stays valid until trim() or clear().
  [[nodiscard]] Result<model::AccountState*> get(std::string_view id);

  // Evicts least recently used entries until at most capacity remain.
  void trim();
  // Drops every entry.
  void clear();

  [[nodiscard]] std::size_t size() const { return lru_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  void set_capacity(std::size_t capacity) { capacity_ = capacity < 1 ? 1 : capacity; }
  // Lookups served from memory / read from the store, since construction (for metrics).
  [[nodiscard]] std::uint64_t hits() const { return hits_; }
  [[nodiscard]] std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string key;  // the map's key views this string (list nodes never move)
    model::AccountState state;
  };
  using List = std::list<Entry>;  // front = most recently used

  StateStore& store_;
  std::size_t capacity_;
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace kamwatch::state
