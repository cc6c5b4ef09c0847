#include "app/portfolio_attributes.h"

#include <memory>

#include "core/log.h"
#include "scoring/portfolio.h"

namespace kamwatch::app {

rules::AccountAttributes attributes_of(const scoring::AccountFigures& f) {
  rules::AccountAttributes a;
  a.key_account = f.key;
  a.revenue_rank = static_cast<int>(f.rank);
  if (f.clv) a.clv = *f.clv;
  if (f.p_alive) a.p_alive = *f.p_alive;
  if (f.expected_purchases) a.expected_purchases = *f.expected_purchases;
  return a;
}

engine::AttributesFn portfolio_attributes_fn(TimeMs refresh) {
  struct Cache {
    TimeMs computed_at = 0;
    bool valid = false;
    std::map<std::string, rules::AccountAttributes> attributes;
  };
  auto cache = std::make_shared<Cache>();
  return [cache, refresh](const std::map<std::string, model::AccountState>& accounts, TimeMs now) {
    if (cache->valid && now - cache->computed_at < refresh) return cache->attributes;
    std::vector<const model::AccountState*> states;
    states.reserve(accounts.size());
    for (const auto& [id, s] : accounts) states.push_back(&s);
    auto portfolio = scoring::score_portfolio(states, now);
    cache->computed_at = now;
    cache->valid = true;
    cache->attributes.clear();
    if (!portfolio.ok()) {
      log::warn("portfolio scoring failed", {{"error", portfolio.error().message}});
      return cache->attributes;
    }
    for (const scoring::AccountFigures& f : portfolio->accounts)
      cache->attributes[f.account] = attributes_of(f);
    return cache->attributes;
  };
}

}  // namespace kamwatch::app
