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

// The firing alerts, held compactly: per alert its fingerprint, group and labels, the labels
// (all but the account's id and name) as a set shared by every alert that has the same ones.
// That is what the metrics and the API's filters read: ~200 bytes an alert instead of the
// ~2.5 KB of a whole transition (with a year of history a third of the accounts have one). The
// whole transitions (annotations, evidence, value) are read from the store's firing index when
// asked for.
class ActiveAlerts {
 public:
  using Labels = std::map<std::string, std::string, std::less<>>;
  // What the index holds of one firing alert.
  struct Firing {
    std::string_view account, fingerprint, group;
    const Labels& labels;  // all but account and account_name
    // A label's value ("" when absent); "account" is the account id.
    [[nodiscard]] std::string_view label(std::string_view key) const;
  };
  using Filter = std::function<bool(const Firing&)>;

  explicit ActiveAlerts(state::StateStore& store) : store_(store) {}
  // Replaces the contents with the store's firing index (read without holding the lock; on an
  // error the contents stay). Unreadable records are skipped and logged.
  [[nodiscard]] Result<void> load();
  // Applies committed transitions in order: firing adds, resolved removes.
  void apply(const std::vector<engine::AlertTransition>& transitions);
  // Calls fn with every firing alert, in account order, under the read lock (fn must not call
  // back into this).
  void for_each(const std::function<void(const Firing&)>& fn) const;
  // The whole transitions of the firing alerts that pass filter (all when empty), accounts with
  // ids after `after` ("" = from the first; a page's next), in account order: about max (an
  // account's alerts stay on one page). An alert that resolves while it is read is left out.
  [[nodiscard]] Result<engine::AlertPage> page(std::string_view after, std::size_t max,
                                               const Filter& filter = {}) const;
  // The whole transitions of one account's firing alerts that pass filter (all when empty):
  // a lookup, not a walk over the index.
  [[nodiscard]] Result<std::vector<engine::AlertTransition>> of_account(
      std::string_view account, const Filter& filter = {}) const;
  [[nodiscard]] std::size_t size() const;
  // Distinct label sets held (each is freed with the last alert that has it).
  [[nodiscard]] std::size_t label_sets() const;

 private:
  using LabelSets = std::map<Labels, std::size_t>;  // -> alerts that have it
  struct Alert {
    std::string fingerprint;
    std::string group;
    LabelSets::iterator labels;
    [[nodiscard]] Firing firing(std::string_view account) const {
      return {account, fingerprint, group, labels->first};
    }
  };
  struct Index {
    std::map<std::string, std::vector<Alert>, std::less<>> by_account;
    LabelSets label_sets;
    std::size_t size = 0;
    void add(const engine::AlertTransition& t);
    void remove(std::string_view account, std::string_view fingerprint);
  };
  // The whole transitions of these fingerprints, from the store, in the order given.
  [[nodiscard]] Result<std::vector<engine::AlertTransition>> read(
      const std::vector<std::string>& fingerprints) const;

  state::StateStore& store_;
  mutable std::shared_mutex mu_;
  Index index_;
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
