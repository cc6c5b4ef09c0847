#include "state/account_cache.h"

#include <utility>

namespace kamwatch::state {
namespace {
// The list node with its entry, and the index's node and bucket.
constexpr std::size_t kEntryOverhead = 64 + 48;
}  // namespace

AccountCache::AccountCache(StateStore& store, std::size_t capacity, std::size_t capacity_bytes)
    : store_(store), capacity_(capacity < 1 ? 1 : capacity), capacity_bytes_(capacity_bytes) {}

void AccountCache::touch(Entry& e) {
  if (e.touched) return;
  e.touched = true;
  touched_.push_back(&e);
}

Result<AccountCache::Ref> AccountCache::get(std::string_view id) {
  if (auto it = index_.find(id); it != index_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return Ref(&*it->second);
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
  touch(e);
  return Ref(&e);
}

Result<model::AccountState*> AccountCache::peek_or_load(std::string_view id,
                                                        model::AccountState& scratch) {
  if (auto it = index_.find(id); it != index_.end()) {
    touch(*it->second);  // the scan may change it
    return &it->second->state;
  }
  auto stored = store_.get_account(id);
  if (!stored) return stored.error();
  scratch = stored->has_value() ? std::move(**stored) : model::AccountState{};
  scratch.id.assign(id);
  return &scratch;
}

void AccountCache::grew(Ref ref, std::ptrdiff_t bytes) {
  Entry& e = *ref.e_;
  if (e.touched) return;  // measured whole at the trim anyway
  bytes_ -= e.bytes;
  e.bytes = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(e.bytes) + bytes);
  bytes_ += e.bytes;
}

void AccountCache::changed(Ref ref) { touch(*ref.e_); }

void AccountCache::trim(const std::function<bool(std::uint64_t tag)>& pinned) {
  for (Entry* e : touched_) {
    bytes_ -= e->bytes;
    e->bytes = model::memory_bytes(e->state) + e->key.capacity() + kEntryOverhead;
    bytes_ += e->bytes;
    e->touched = false;
  }
  touched_.clear();
  while (lru_.size() > capacity_ || (bytes_ > capacity_bytes_ && lru_.size() > 1)) {
    if (pinned && pinned(lru_.back().tag)) break;
    bytes_ -= lru_.back().bytes;
    index_.erase(std::string_view(lru_.back().key));
    lru_.pop_back();
  }
}

void AccountCache::clear() {
  touched_.clear();
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

}  // namespace kamwatch::state
