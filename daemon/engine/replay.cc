#include "engine/replay.h"

#include "engine/evaluator.h"

namespace kamwatch::engine {

Replayer::Replayer(std::shared_ptr<const rules::RuleSet> rules, ReplayOptions options,
                   AttributesFn attributes)
    : rules_(std::move(rules)), options_(options), attributes_fn_(std::move(attributes)) {
  // Applied ids are needed for exactly as long as a copy of their event is not late.
  options_.retention.ids = options_.late_grace;
}

const rules::AccountAttributes& Replayer::attributes_of(const std::string& account) const {
  static const rules::AccountAttributes kNone;
  auto it = attributes_.find(account);
  return it == attributes_.end() ? kNone : it->second;
}

void Replayer::evaluate_all(std::vector<AlertTransition>& out) {
  if (attributes_fn_) attributes_ = attributes_fn_(accounts_, now_);
  for (auto& [id, account] : accounts_)
    evaluations_ += evaluate_account(*rules_, account, attributes_of(id), now_, options_.retention,
                                     nullptr, out);
}

void Replayer::advance_to(TimeMs t, std::vector<AlertTransition>& out) {
  if (!started_) {
    now_ = t;
    started_ = true;
    return;
  }
  while (t > now_) {
    const TimeMs next_tick = floor_to(now_, options_.tick) + options_.tick;
    if (next_tick > t) {
      now_ = t;
      break;
    }
    now_ = next_tick;
    evaluate_all(out);
  }
}

Replayer::Outcome Replayer::feed(const model::Event& e, std::vector<AlertTransition>& out) {
  // The same dedup as the daemon's: the account's recent ids (model::RecentIds).
  const std::uint64_t id_hash = model::event_id_hash(e.source, e.id);
  if (auto known = accounts_.find(e.subject);
      known != accounts_.end() && known->second.recent_ids.contains(id_hash))
    return Outcome::kDuplicate;
  advance_to(e.time, out);
  auto [it, inserted] = accounts_.try_emplace(e.subject);
  model::AccountState& account = it->second;
  if (account.applied > 0 && e.time < account.max_time - options_.late_grace) return Outcome::kLate;
  model::derived_targets(&rules_->series_specs(), e, targets_);
  model::apply(account, e, options_.retention, targets_, id_hash);
  const std::vector<std::string_view> types = {e.type};
  evaluations_ += evaluate_account(*rules_, account, attributes_of(e.subject), now_,
                                   options_.retention, &types, out);
  return Outcome::kApplied;
}

}  // namespace kamwatch::engine
