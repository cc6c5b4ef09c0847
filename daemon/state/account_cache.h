#pragma once
// Bounded LRU cache of decoded account states in front of a StateStore, so the pipeline decodes
// an account once and then mutates it in place across batches. Bounded twice: by a number of
// accounts and by the bytes the states take in memory (model::memory_bytes). A state is measured
// whole when it is read from the store; after that, whoever changes a cached state tells the
// cache: grew() with what model::apply returned, or changed() to have it measured again.
// Lifecycle: get() during a batch (never evicts, so every pointer it returned stays valid while
// the batch is built and committed), trim() after a successful commit (or once it started,
// pinning the entries it writes), clear() after a failed one (cached states may hold changes
// that were never persisted).
// Thread-safety: none; owned and used by the one pipeline thread.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "model/account_state.h"
#include "state/state_store.h"

namespace kamwatch::state {

class AccountCache {
  struct Entry;

 public:
  // A cached entry, as get() returns it. Valid until trim() or clear().
  class Ref {
   public:
    Ref() = default;
    [[nodiscard]] model::AccountState* get() const;
    model::AccountState& operator*() const { return *get(); }
    model::AccountState* operator->() const { return get(); }
    // A word the caller keeps on the entry while it is cached (0 when it was read): the pipeline
    // marks the entries of the batch it builds with their position in it, instead of looking
    // them up in a hash map of its own.
    [[nodiscard]] std::uint64_t& tag() const;
    bool operator==(const Ref&) const = default;

   private:
    friend class AccountCache;
    explicit Ref(Entry* e) : e_(e) {}
    Entry* e_ = nullptr;
  };

  // capacity: accounts kept after trim(), at least 1; capacity_bytes: their memory after trim()
  // (the most recently used account stays even when it alone is larger). store must outlive
  // the cache.
  AccountCache(StateStore& store, std::size_t capacity,
               std::size_t capacity_bytes = static_cast<std::size_t>(-1));
  AccountCache(const AccountCache&) = delete;
  AccountCache& operator=(const AccountCache&) = delete;

  // The cached state of id, else the stored one, else a new empty state with only id set (not
  // stored until committed). Marks it most recently used. Errors come from the store (reads or
  // decoding); the cache is unchanged then.
  [[nodiscard]] Result<Ref> get(std::string_view id);

  // For scans that visit every account once (timer sweeps): the cached state of id when there
  // is one, not made more recent (a scan must not evict the accounts events keep hot) and
  // measured again at the next trim (the scan may change it); else the stored one, or a new
  // empty one, read into `scratch`, which the cache does not keep. Not counted in hits() and
  // misses(). Errors come from the store; scratch is unspecified then.
  [[nodiscard]] Result<model::AccountState*> peek_or_load(std::string_view id,
                                                          model::AccountState& scratch);

  // A cached state's memory_bytes changed by `bytes` (the sum of model::apply's returns for it).
  void grew(Ref ref, std::ptrdiff_t bytes);
  // A cached state changed by an unknown amount: trim() measures it again.
  void changed(Ref ref);

  // Measures the states read from the store or changed() since the last trim, then evicts least
  // recently used entries until at most capacity remain and they take at most capacity_bytes.
  // With pinned: eviction stops early at an entry whose tag pinned() holds to (those stay, and
  // so do the more recent ones): the pipeline keeps the accounts of a commit still being
  // written, whose stored states are not up to date yet.
  void trim(const std::function<bool(std::uint64_t tag)>& pinned = {});
  // Drops every entry.
  void clear();

  [[nodiscard]] std::size_t size() const { return lru_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  // The states' memory as of the last trim().
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  [[nodiscard]] std::size_t capacity_bytes() const { return capacity_bytes_; }
  void set_capacity(std::size_t capacity) { capacity_ = capacity < 1 ? 1 : capacity; }
  // Lookups served from memory / read from the store, since construction (for metrics).
  [[nodiscard]] std::uint64_t hits() const { return hits_; }
  [[nodiscard]] std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string key;  // the map's key views this string (list nodes never move)
    model::AccountState state;
    std::uint64_t tag = 0;  // Ref::tag()
    std::size_t bytes = 0;  // memory_bytes(state) as measured, plus what it grew by since
    bool touched = false;   // in touched_: to be measured at the next trim
  };
  using List = std::list<Entry>;  // front = most recently used
  // Marks e to be measured again at the next trim (its state may change).
  void touch(Entry& e);

  StateStore& store_;
  std::size_t capacity_;
  std::size_t capacity_bytes_;
  std::size_t bytes_ = 0;        // sum of the entries' bytes
  std::vector<Entry*> touched_;  // to be measured at the next trim (get never evicts)
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

inline model::AccountState* AccountCache::Ref::get() const { return &e_->state; }
inline std::uint64_t& AccountCache::Ref::tag() const { return e_->tag; }

}  // namespace kamwatch::state
