#pragma once
// In-memory views the HTTP API, the metrics and the Alertmanager re-sends read while the
// pipeline thread writes:
// - ActiveAlerts: every firing alert (loaded from the store's firing index at startup, then
//   updated with each committed batch's transitions);
// - AccountDirectory: a summary per account (name, KAM, tier, health band and score), refreshed
//   by every evaluation sweep.
// Thread-safety: both are safe for one writer and many readers.
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "app/account_view.h"
#include "core/result.h"
#include "engine/alert.h"
#include "state/state_store.h"

namespace kamwatch::app {

class ActiveAlerts {
 public:
  // Replaces the contents with the store's firing index. Unreadable records are skipped and
  // logged.
  [[nodiscard]] Result<void> load(state::StateStore& store);
  // Applies committed transitions in order: firing adds, resolved removes.
  void apply(const std::vector<engine::AlertTransition>& transitions);
  [[nodiscard]] std::vector<engine::AlertTransition> all() const;
  [[nodiscard]] std::vector<engine::AlertTransition> of_account(std::string_view account) const;
  [[nodiscard]] std::size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, engine::AlertTransition> by_fingerprint_;
  std::multimap<std::string, std::string, std::less<>> by_account_;  // account -> fingerprint
};

class AccountDirectory {
 public:
  void update(std::vector<AccountSummary> summaries);
  [[nodiscard]] std::optional<AccountSummary> get(std::string_view id) const;
  // Accounts with id > after that pass the filter, in id order, up to limit; next is the last
  // id returned when more may follow ("" otherwise).
  struct Page {
    std::vector<AccountSummary> accounts;
    std::string next;
  };
  [[nodiscard]] Page list(const std::function<bool(const AccountSummary&)>& filter,
                          std::string_view after, std::size_t limit) const;
  [[nodiscard]] std::vector<AccountSummary> all() const;
  [[nodiscard]] std::size_t size() const;
  // Drops the accounts pred selects (their partition moved to another instance).
  void remove_if(const std::function<bool(const AccountSummary&)>& pred);

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, AccountSummary, std::less<>> by_id_;
};

}  // namespace kamwatch::app
