#include "app/registries.h"

#include <mutex>

#include "core/log.h"

namespace kamwatch::app {

Result<void> ActiveAlerts::load(state::StateStore& store) {
  auto records = store.active_alerts();
  if (!records.ok()) return records.error();
  std::unique_lock lock(mu_);
  by_fingerprint_.clear();
  by_account_.clear();
  for (const std::string& r : *records) {
    auto t = engine::parse_transition_json(r);
    if (!t.ok()) {
      log::error("unreadable entry in the firing-alert index; skipped",
                 {{"error", t.error().message}});
      continue;
    }
    by_account_.emplace(t->account, t->fingerprint);
    by_fingerprint_.emplace(t->fingerprint, std::move(t).value());
  }
  return ok();
}

void ActiveAlerts::apply(const std::vector<engine::AlertTransition>& transitions) {
  if (transitions.empty()) return;
  std::unique_lock lock(mu_);
  for (const engine::AlertTransition& t : transitions) {
    auto [lo, hi] = by_account_.equal_range(t.account);
    for (auto it = lo; it != hi; ++it) {
      if (it->second == t.fingerprint) {
        by_account_.erase(it);
        break;
      }
    }
    if (t.status == engine::AlertTransition::Status::kFiring) {
      by_fingerprint_.insert_or_assign(t.fingerprint, t);
      by_account_.emplace(t.account, t.fingerprint);
    } else {
      by_fingerprint_.erase(t.fingerprint);
    }
  }
}

std::vector<engine::AlertTransition> ActiveAlerts::all() const {
  std::shared_lock lock(mu_);
  std::vector<engine::AlertTransition> out;
  out.reserve(by_fingerprint_.size());
  for (const auto& [_, t] : by_fingerprint_) out.push_back(t);
  return out;
}

void ActiveAlerts::for_each(const std::function<void(const engine::AlertTransition&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [_, t] : by_fingerprint_) fn(t);
}

std::vector<engine::AlertTransition> ActiveAlerts::of_account(std::string_view account) const {
  std::shared_lock lock(mu_);
  std::vector<engine::AlertTransition> out;
  auto [lo, hi] = by_account_.equal_range(account);
  for (auto it = lo; it != hi; ++it) {
    auto t = by_fingerprint_.find(it->second);
    if (t != by_fingerprint_.end()) out.push_back(t->second);
  }
  return out;
}

std::size_t ActiveAlerts::size() const {
  std::shared_lock lock(mu_);
  return by_fingerprint_.size();
}

std::uint32_t AccountDirectory::intern(const std::string& s) {
  auto [it, added] = string_ids_.try_emplace(s, static_cast<std::uint32_t>(strings_.size()));
  if (added) strings_.push_back(s);
  return it->second;
}

void AccountDirectory::expand(const std::string& id, const Entry& e, AccountSummary& out) const {
  out.id = id;
  out.name = e.name;
  out.kam = strings_[e.kam];
  out.tier = strings_[e.tier];
  out.band = strings_[e.band];
  out.key_account = e.key_account;
  out.score = e.score;
  out.last_event = e.last_event;
  out.events = e.events;
}

void AccountDirectory::update(std::vector<AccountSummary> summaries) {
  std::unique_lock lock(mu_);
  for (AccountSummary& s : summaries) {
    Entry e;
    e.name = std::move(s.name);
    e.name.shrink_to_fit();
    e.kam = intern(s.kam);
    e.tier = intern(s.tier);
    e.band = intern(s.band);
    e.key_account = s.key_account;
    e.score = s.score;
    e.last_event = s.last_event;
    e.events = s.events;
    by_id_.insert_or_assign(std::move(s.id), std::move(e));
  }
}

void AccountDirectory::remove_if(const std::function<bool(const AccountSummary&)>& pred) {
  std::unique_lock lock(mu_);
  AccountSummary s;
  std::erase_if(by_id_, [&](const auto& kv) {
    expand(kv.first, kv.second, s);
    return pred(s);
  });
}

std::optional<AccountSummary> AccountDirectory::get(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  AccountSummary s;
  expand(it->first, it->second, s);
  return s;
}

AccountDirectory::Page AccountDirectory::list(
    const std::function<bool(const AccountSummary&)>& filter, std::string_view after,
    std::size_t limit) const {
  std::shared_lock lock(mu_);
  Page page;
  AccountSummary s;
  auto it = after.empty() ? by_id_.begin() : by_id_.upper_bound(after);
  for (; it != by_id_.end(); ++it) {
    expand(it->first, it->second, s);
    if (filter && !filter(s)) continue;
    if (page.accounts.size() == limit) {
      page.next = page.accounts.back().id;
      break;
    }
    page.accounts.push_back(s);
  }
  return page;
}

void AccountDirectory::for_each(const std::function<void(const AccountSummary&)>& fn) const {
  std::shared_lock lock(mu_);
  AccountSummary s;
  for (const auto& [id, e] : by_id_) {
    expand(id, e, s);
    fn(s);
  }
}

std::size_t AccountDirectory::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

}  // namespace kamwatch::app
