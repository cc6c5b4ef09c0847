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

void AccountDirectory::update(std::vector<AccountSummary> summaries) {
  std::unique_lock lock(mu_);
  for (AccountSummary& s : summaries) {
    std::string id = s.id;
    by_id_.insert_or_assign(std::move(id), std::move(s));
  }
}

void AccountDirectory::remove_if(const std::function<bool(const AccountSummary&)>& pred) {
  std::unique_lock lock(mu_);
  std::erase_if(by_id_, [&](const auto& kv) { return pred(kv.second); });
}

std::optional<AccountSummary> AccountDirectory::get(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

AccountDirectory::Page AccountDirectory::list(
    const std::function<bool(const AccountSummary&)>& filter, std::string_view after,
    std::size_t limit) const {
  std::shared_lock lock(mu_);
  Page page;
  auto it = after.empty() ? by_id_.begin() : by_id_.upper_bound(after);
  for (; it != by_id_.end(); ++it) {
    if (filter && !filter(it->second)) continue;
    if (page.accounts.size() == limit) {
      page.next = page.accounts.back().id;
      break;
    }
    page.accounts.push_back(it->second);
  }
  return page;
}

std::vector<AccountSummary> AccountDirectory::all() const {
  std::shared_lock lock(mu_);
  std::vector<AccountSummary> out;
  out.reserve(by_id_.size());
  for (const auto& [_, s] : by_id_) out.push_back(s);
  return out;
}

std::size_t AccountDirectory::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

}  // namespace kamwatch::app
