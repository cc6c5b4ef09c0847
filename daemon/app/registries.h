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
#include <unordered_map>
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
  // Calls fn with every firing alert, under the read lock and without copying them (fn must not
  // call back into this).
  void for_each(const std::function<void(const engine::AlertTransition&)>& fn) const;
  [[nodiscard]] std::vector<engine::AlertTransition> of_account(std::string_view account) const;
  [[nodiscard]] std::size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, engine::AlertTransition> by_fingerprint_;
  std::multimap<std::string, std::string, std::less<>> by_account_;  // account -> fingerprint
};

// Held compactly (a million accounts): the id once, as the key; KAM, tier and band as indices
// into a pool of the distinct strings; summaries are rebuilt when read.
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
  // Calls fn with every account's summary in id order, under the read lock and without copying
  // the directory (fn must not call back into it).
  void for_each(const std::function<void(const AccountSummary&)>& fn) const;
  [[nodiscard]] std::size_t size() const;
  // Drops the accounts pred selects (their partition moved to another instance).
  void remove_if(const std::function<bool(const AccountSummary&)>& pred);

 private:
  struct Entry {
    std::string name;
    std::uint32_t kam = 0, tier = 0, band = 0;  // into strings_
    bool key_account = false;
    double score = 0;
    TimeMs last_event = 0;
    std::int64_t events = 0;
  };
  [[nodiscard]] std::uint32_t intern(const std::string& s);
  // Fills out (reusing its buffers) with the summary of one entry.
  void expand(const std::string& id, const Entry& e, AccountSummary& out) const;

  mutable std::shared_mutex mu_;
  std::map<std::string, Entry, std::less<>> by_id_;
  std::vector<std::string> strings_;
  std::unordered_map<std::string, std::uint32_t> string_ids_;
};

}  // namespace kamwatch::app
