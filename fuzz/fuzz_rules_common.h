#pragma once
// Shared by fuzz_rules_loader and fuzz_expression: a fixed account built by model::apply from a
// year of hand-made events (every catalog family, categories for `by: category`, a profile
// with a renewal date), and evaluation of every rule and the health score on it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"
#include "model/account_state.h"
#include "model/event.h"
#include "rules/rules.h"

namespace kamwatch::fuzz {

inline TimeMs fuzz_t0() {
  static const TimeMs t = *parse_rfc3339("2025-01-01T00:00:00Z");
  return t;
}
inline TimeMs fuzz_day(double n) {
  return fuzz_t0() + static_cast<TimeMs>(n * static_cast<double>(kDayMs));
}

// The events of the fixed account, oldest first (built once).
inline const std::vector<model::Event>& fixed_events() {
  static const std::vector<model::Event> events = [] {
    using model::FieldValue;
    std::vector<model::Event> ev;
    int n = 0;
    auto add = [&](std::string type, double day, std::vector<model::Field> data) {
      model::Event e;
      e.id = "f" + std::to_string(++n);
      e.source = "fuzz";
      e.type = std::move(type);
      e.subject = "ACME-0001";
      e.time = fuzz_day(day);
      e.data = std::move(data);
      ev.push_back(std::move(e));
    };
    auto num = [](double v) { return FieldValue::of_number(v); };
    auto str = [](std::string v) { return FieldValue::of_string(std::move(v)); };
    add("account.profile", 0,
        {{"name", str("ACME Corp")},
         {"kam", str("kam@example.com")},
         {"tier", str("key")},
         {"industry", str("manufacturing")},
         {"region", str("EMEA")},
         {"contract_value", num(120000)},
         {"renewal_date", str("2026-03-01")},
         {"custom_score", num(7)}});
    const char* categories[] = {"software", "hardware", "services"};
    for (int d = 0; d < 400; d += 4) {
      add("usage.activity", d + 0.5, {{"active_users", num(40 - d / 20)}, {"sessions", num(90 + d % 7)}});
      if (d % 28 == 0) add("usage.seats", d + 0.6, {{"licensed", num(50)}, {"used", num(45 - d / 40)}});
      if (d % 12 == 0) {
        add("sales.order", d + 0.3,
            {{"amount", num(1000 + 10 * d)}, {"currency", str("EUR")},
             {"category", str(categories[(d / 12) % 3])}, {"product", str("P" + std::to_string(d % 5))}});
      }
      if (d % 20 == 0) {
        add("support.ticket", d + 0.7,
            {{"ticket_id", str("T" + std::to_string(d))}, {"action", str(d % 40 ? "opened" : "resolved")},
             {"severity", num(1 + (d / 20) % 4)}, {"category", str(categories[(d / 20) % 3])},
             {"resolution_hours", num(d % 9)}});
      }
      if (d % 60 == 0) {
        add("sales.competitor_activity", d + 0.2,
            {{"competitor", str("Globex")}, {"category", str(categories[(d / 60) % 3])},
             {"amount", num(500 + d)}, {"signal", str(d % 120 ? "crm_note" : "win_loss")}});
        add("sales.opportunity", d + 0.25,
            {{"stage", str(d % 120 ? "won" : "lost")}, {"amount", num(2000)},
             {"category", str(categories[(d / 60 + 1) % 3])}, {"competitor", str("Globex")}});
        add("survey.nps", d + 0.4, {{"score", num(d % 11)}, {"role", str("exec")}});
        add("support.csat", d + 0.45, {{"score", num(1 + d % 5)}});
      }
      if (d % 48 == 0) {
        add("sales.invoice", d + 0.35,
            {{"amount", num(900)}, {"status", str(d % 96 ? "paid" : "overdue")}, {"days_late", num(d % 31)}});
        add("relationship.meeting", d + 0.55, {{"kind", str("qbr")}, {"level", str(d % 96 ? "ops" : "exec")}});
      }
    }
    add("relationship.contact_change", 300,
        {{"role", str("cto")}, {"change", str("left")}, {"champion", FieldValue::of_bool(true)}});
    add("sales.contract", 310,
        {{"action", str("downgraded")}, {"arr", num(80000)}, {"renewal_date", str("2026-03-01")}});
    add("support.sla_breach", 390, {{"ticket_id", str("T1")}, {"sla", str("response")}, {"overdue_hours", num(5)}});
    add("crm.mention", 395, {{"competitor", str("Initech")}, {"category", str("software")}, {"weight", num(2)}});
    return ev;
  }();
  return events;
}

// The fixed account with the derived series the rule set asks for.
inline model::AccountState build_account(const rules::RuleSet& rules) {
  model::AccountState s;
  s.id = "ACME-0001";
  for (const model::Event& e : fixed_events()) model::apply(s, e, model::Retention{}, &rules.series_specs());
  return s;
}

// Evaluates every alert and the health score at a few times; touches every result so nothing
// is optimised away.
inline std::size_t evaluate_all(const rules::RuleSet& rules, const model::AccountState& account) {
  rules::AccountAttributes attrs;
  attrs.key_account = true;
  attrs.revenue_rank = 3;
  attrs.clv = 250000;
  attrs.p_alive = 0.8;
  attrs.expected_purchases = 4.5;
  const rules::AccountAttributes unknown;  // NaN attributes
  std::size_t sink = 0;
  const TimeMs times[] = {fuzz_day(402.25), fuzz_day(10)};
  for (TimeMs now : times) {
    const rules::EvalInput in{account, now == times[0] ? attrs : unknown, now};
    const rules::HealthScore h = rules.health(in);
    sink += h.band.size() + h.contributions.size();
    const rules::EvalInput with_health{account, in.attributes, now, model::Retention{}, &h};
    for (const auto& rule : rules.alerts()) {
      for (const rules::RuleResult& r : rule->evaluate(with_health)) {
        sink += r.group.size() + r.labels.size() + r.evidence.size() + static_cast<std::size_t>(r.status);
        for (const auto& [k, v] : r.annotations) sink += k.size() + v.size();
      }
    }
  }
  return sink;
}

// `text` as a YAML double-quoted scalar: printable ASCII as is (with \" and \\ escaped), every
// other byte as \xNN (which YAML reads as the code point U+00NN, so the rule text is always
// valid UTF-8, as yaml-cpp would make it anyway).
inline std::string yaml_double_quoted(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += '"';
  return out;
}

}  // namespace kamwatch::fuzz
