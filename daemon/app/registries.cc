#include "app/registries.h"

#include <algorithm>
#include <mutex>

#include "core/log.h"

namespace kamwatch::app {

std::string_view ActiveAlerts::Firing::label(std::string_view key) const {
  if (key == "account") return account;
  auto it = labels.find(key);
  return it == labels.end() ? std::string_view() : std::string_view(it->second);
}

Result<void> ActiveAlerts::load() {
  Index fresh;
  auto r = store_.for_each_active_alert([&](std::string_view record) {
    auto t = engine::parse_transition_json(record);
    if (!t.ok()) {
      log::error("unreadable entry in the firing-alert index; skipped",
                 {{"error", t.error().message}});
    } else {
      fresh.add(*t);
    }
  });
  if (!r.ok()) return r;
  std::unique_lock lock(mu_);
  std::swap(index_, fresh);
  return ok();
}

void ActiveAlerts::Index::add(const engine::AlertTransition& t) {
  remove(t.account, t.fingerprint);
  Labels labels;
  for (const auto& [k, v] : t.labels)
    if (k != "account" && k != "account_name") labels.emplace(k, v);
  auto set = label_sets.try_emplace(std::move(labels), 0).first;
  ++set->second;
  by_account[t.account].push_back(Alert{t.fingerprint, t.group, set});
  ++size;
}

void ActiveAlerts::Index::remove(std::string_view account, std::string_view fingerprint) {
  auto it = by_account.find(account);
  if (it == by_account.end()) return;
  std::vector<Alert>& alerts = it->second;
  auto a = std::find_if(alerts.begin(), alerts.end(),
                        [&](const Alert& x) { return x.fingerprint == fingerprint; });
  if (a == alerts.end()) return;
  if (--a->labels->second == 0) label_sets.erase(a->labels);
  alerts.erase(a);
  --size;
  if (alerts.empty()) by_account.erase(it);
}

void ActiveAlerts::apply(const std::vector<engine::AlertTransition>& transitions) {
  if (transitions.empty()) return;
  std::unique_lock lock(mu_);
  for (const engine::AlertTransition& t : transitions) {
    if (t.status == engine::AlertTransition::Status::kFiring)
      index_.add(t);
    else
      index_.remove(t.account, t.fingerprint);
  }
}

void ActiveAlerts::for_each(const std::function<void(const Firing&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [account, alerts] : index_.by_account)
    for (const Alert& a : alerts) fn(a.firing(account));
}

Result<std::vector<engine::AlertTransition>> ActiveAlerts::read(
    const std::vector<std::string>& fingerprints) const {
  auto records = store_.active_alert_records(fingerprints);
  if (!records.ok()) return records.error();
  std::vector<engine::AlertTransition> out;
  out.reserve(records->size());
  for (const std::optional<std::string>& r : *records) {
    if (!r) continue;  // resolved since the index was read
    auto t = engine::parse_transition_json(*r);
    if (!t.ok()) {
      log::error("unreadable entry in the firing-alert index; skipped",
                 {{"error", t.error().message}});
      continue;
    }
    out.push_back(std::move(t).value());
  }
  return out;
}

Result<engine::AlertPage> ActiveAlerts::page(std::string_view after, std::size_t max,
                                             const Filter& filter) const {
  std::vector<std::string> fingerprints;
  engine::AlertPage page;
  max = std::max<std::size_t>(max, 1);
  {
    std::shared_lock lock(mu_);
    const auto& by_account = index_.by_account;
    auto it = after.empty() ? by_account.begin() : by_account.upper_bound(after);
    for (; it != by_account.end() && fingerprints.size() < max; ++it) {
      for (const Alert& a : it->second)
        if (!filter || filter(a.firing(it->first))) fingerprints.push_back(a.fingerprint);
      if (fingerprints.size() >= max && std::next(it) != by_account.end()) page.next = it->first;
    }
  }
  auto alerts = read(fingerprints);
  if (!alerts.ok()) return alerts.error();
  page.alerts = std::move(alerts).value();
  return page;
}

Result<std::vector<engine::AlertTransition>> ActiveAlerts::of_account(std::string_view account,
                                                                      const Filter& filter) const {
  std::vector<std::string> fingerprints;
  {
    std::shared_lock lock(mu_);
    if (auto it = index_.by_account.find(account); it != index_.by_account.end())
      for (const Alert& a : it->second)
        if (!filter || filter(a.firing(it->first))) fingerprints.push_back(a.fingerprint);
  }
  return read(fingerprints);
}

std::size_t ActiveAlerts::size() const {
  std::shared_lock lock(mu_);
  return index_.size;
}

std::size_t ActiveAlerts::label_sets() const {
  std::shared_lock lock(mu_);
  return index_.label_sets.size();
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
