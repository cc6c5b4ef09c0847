#include "app/account_view.h"

#include "core/json_writer.h"
#include "model/account_json.h"

namespace kamwatch::app {
namespace {

std::string profile_text(const model::AccountState& a, const char* field) {
  auto it = a.profile.find(field);
  return it == a.profile.end() ? std::string() : model::field_value_text(it->second);
}

void write_number_or_null(JsonWriter& w, std::string_view key, double v) {
  w.key(key);
  if (std::isnan(v))
    w.null();
  else
    w.value(v);
}

}  // namespace

AccountSummary summarize(const model::AccountState& account, const rules::RuleSet* rules,
                         const rules::AccountAttributes& attributes, TimeMs now,
                         const model::Retention& retention, const rules::HealthScore* health) {
  AccountSummary s;
  s.id = account.id;
  s.name = profile_text(account, "name");
  s.kam = profile_text(account, "kam");
  s.key_account = attributes.key_account;
  s.tier = profile_text(account, "tier");
  if (s.tier.empty()) s.tier = attributes.key_account ? "key" : "standard";
  s.last_event = account.max_time;
  s.events = account.applied;
  if (health) {
    s.score = health->score;
    s.band = health->band;
  } else if (rules && rules->has_scorecard()) {
    const rules::HealthScore h = rules->health({account, attributes, now, retention});
    s.score = h.score;
    s.band = h.band;
  }
  return s;
}

std::string account_view_json(const model::AccountState& account, const rules::RuleSet* rules,
                              const rules::AccountAttributes& attributes, TimeMs now,
                              const model::Retention& retention,
                              const std::vector<engine::AlertTransition>& alerts) {
  rules::HealthScore health;
  if (rules) health = rules->health({account, attributes, now, retention});
  const AccountSummary s = summarize(account, rules, attributes, now, retention, &health);
  JsonWriter w;
  w.begin_object().field("id", account.id).field("name", s.name).field("kam", s.kam);
  w.field("tier", s.tier);
  w.key("profile").begin_object();
  for (const auto& [k, v] : account.profile) {
    w.key(k);
    model::write_field_value(w, v);
  }
  w.end_object();
  w.key("events").begin_object();
  for (const auto& [type, stats] : account.types) w.field(type, stats.count);
  w.end_object();
  w.field("events_total", account.applied);
  w.field("first_event", account.first_time ? format_rfc3339(account.first_time) : "");
  w.field("last_event", account.max_time ? format_rfc3339(account.max_time) : "");
  w.key("health").begin_object();
  write_number_or_null(w, "score", health.score);
  w.field("band", health.band.empty() ? "unknown" : health.band);
  write_number_or_null(w, "trend_per_week", health.trend);
  w.key("contributions").begin_array();
  for (const rules::Contribution& c : health.contributions) {
    w.begin_object().field("measure", c.measure);
    write_number_or_null(w, "value", c.value);
    write_number_or_null(w, "score", c.score);
    w.field("weight", c.weight).field("points", c.points);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.key("portfolio").begin_object();
  w.field("key_account", attributes.key_account);
  w.field("revenue_rank", static_cast<std::int64_t>(attributes.revenue_rank));
  write_number_or_null(w, "clv", attributes.clv);
  write_number_or_null(w, "p_alive", attributes.p_alive);
  write_number_or_null(w, "expected_purchases_90d", attributes.expected_purchases);
  w.end_object();
  w.key("alerts").begin_array();
  for (const auto& t : alerts) engine::write_transition_json(w, t);
  w.end_array();
  w.end_object();
  return w.take();
}

}  // namespace kamwatch::app
