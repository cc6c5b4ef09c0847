#include "state/account_cache.h"

#include <utility>

namespace kamwatch::state {

AccountCache::AccountCache(StateStore& store, std::size_t capacity)
    : store_(store), capacity_(capacity < 1 ? 1 : capacity) {}

Result<model::AccountState*> AccountCache::get(std::string_view id) {
  if (auto it = index_.find(id); it != index_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->state;
  }
  ++misses_;
  auto stored = store_.get_account(id);
  if (!stored) return stored.error();
  Entry& e = lru_.emplace_front();
  e.key.assign(id);
  if (stored->has_value()) {
    e.state = std::move(**stored);
  }
  // The key is authoritative: a state decoded from the store carries the same id anyway.
  e.state.id = e.key;
  index_.emplace(std::string_view(e.key), lru_.begin());
  return &e.state;
}

void AccountCache::trim() {
  while (lru_.size() > capacity_) {
    index_.erase(std::string_view(lru_.back().key));
    lru_.pop_back();
  }
}

void AccountCache::clear() {
  index_.clear();
  lru_.clear();
}

}  // namespace kamwatch::state
