#include "report/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/replay.h"
#include "report/html.h"
#include "test_util.h"

namespace kamwatch::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const TimeMs kNow = at("2026-06-15T12:00:00Z");

model::FieldValue num(double v) { return model::FieldValue::of_number(v); }
model::FieldValue str(std::string v) { return model::FieldValue::of_string(std::move(v)); }

std::shared_ptr<const rules::RuleSet> shipped_rules() {
  static const std::shared_ptr<const rules::RuleSet> rules = [] {
    rules::LoadResult r = rules::load_rules({KAMWATCH_SOURCE_DIR "/rules"});
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    return r.rules;
  }();
  return rules;
}

// A deterministic strategic account over 540 days that was healthy and is drifting away in
// the last few months: usage falling, sensors orders lost to a competitor, a ticket surge,
// SLA breaches, falling CSAT and NPS, the champion gone, no executive meeting for long.
class Story {
 public:
  explicit Story(std::string id, std::string name) : id_(std::move(id)), name_(std::move(name)) {}

  std::vector<model::Event> events() {
    const TimeMs today = floor_to(kNow, kDayMs);
    const auto day = [&](int d, double hour) {
      return today + static_cast<TimeMs>(d) * kDayMs + static_cast<TimeMs>(hour * kHourMs);
    };
    add("account.profile", day(-540, 8),
        {{"name", str(name_)},
         {"kam", str("jane.doe@example.com")},
         {"tier", str("strategic")},
         {"industry", str("Manufacturing")},
         {"region", str("DACH")},
         {"renewal_date", str("2026-09-01")},
         {"contract_value", num(240000)}});
    const char* cats[] = {"sensors", "gateways", "software", "services"};
    const double cat_amount[] = {12000, 8000, 5000, 3000};
    for (int d = -540; d <= 0; ++d) {
      // Usage: ~140 users on weekdays, falling to about half over the last 10 weeks.
      const int weekday = static_cast<int>(((today / kDayMs + d) % 7 + 7 + 3) % 7);  // 0 = Mon
      double users = 140 * (weekday >= 5 ? 0.35 : 1.0);
      if (d > -70) users *= 1.0 - 0.5 * (d + 70) / 70.0;
      users *= 0.9 + 0.2 * rnd();
      add("usage.activity", day(d, 20),
          {{"active_users", num(std::round(users))}, {"sessions", num(std::round(users * 2.7))}});
      if (d % 7 == 0) {
        const double licensed = d < -300 ? 200 : 220;
        const double used = d > -70 ? 160 * (1.0 - 0.45 * (d + 70) / 70.0) : 165;
        add("usage.seats", day(d, 6),
            {{"licensed", num(licensed)}, {"used", num(std::round(used))}});
      }
      // Orders every ~10 days; no sensors orders in the last 4 months.
      if (rnd() < 0.1) {
        double pick = rnd();
        int c = pick < 0.4 ? 0 : pick < 0.7 ? 1 : pick < 0.9 ? 2 : 3;
        if (c == 0 && d > -120) c = 1 + static_cast<int>(rnd() * 3);
        const double amount = std::round(cat_amount[c] * (0.7 + 0.6 * rnd()));
        add("sales.order", day(d, 10),
            {{"amount", num(amount)}, {"currency", str("EUR")}, {"category", str(cats[c])}});
        const bool late = d > -100 && d < -35 && rnd() < 0.5;
        if (d + 30 <= 0)
          pending_.push_back({"sales.invoice",
                              day(d + 30, 9),
                              {{"amount", num(amount)},
                               {"status", str(late ? "overdue" : "paid")},
                               {"days_late", num(late ? 35 : std::floor(rnd() * 4))}}});
      }
      if (d > -100 && d % 12 == 0)
        add("sales.competitor_activity", day(d, 15),
            {{"competitor", str("Globex")},
             {"category", str("sensors")},
             {"amount", num(14000)},
             {"signal", str(d % 24 == 0 ? "win_loss" : "crm_note")}});
      // Tickets: ~1 a week, 5 a week in the last six weeks.
      const double rate = d > -42 ? 0.7 : 0.15;
      if (rnd() < rate) {
        const std::string ticket = "T-" + std::to_string(d + 1000);
        const double severity = rnd() < 0.1 ? 1 : 2 + std::floor(rnd() * 3);
        add("support.ticket", day(d, 11),
            {{"ticket_id", str(ticket)},
             {"action", str("opened")},
             {"severity", num(severity)},
             {"category", str("connectivity")}});
        const double hours = d > -42 ? 40 + 40 * rnd() : 6 + 20 * rnd();
        if (day(d, 11 + hours) <= kNow)
          pending_.push_back({"support.ticket",
                              day(d, 11 + hours),
                              {{"ticket_id", str(ticket)},
                               {"action", str("resolved")},
                               {"resolution_hours", num(std::round(hours))}}});
      }
      if (d > -40 && d % 8 == 0)
        add("support.sla_breach", day(d, 13),
            {{"ticket_id", str("T-" + std::to_string(d + 1000))},
             {"sla", str("resolution")},
             {"overdue_hours", num(12)}});
      if (-d % 10 == 5) {
        const double score = d > -90 ? 2 + std::floor(rnd() * 2) : 4 + std::floor(rnd() * 2);
        add("support.csat", day(d, 16), {{"score", num(score)}});
      }
      if (d % 91 == -13) {
        const bool recent = d > -120;
        const char* roles[] = {"exec", "ops", "user"};
        const double scores[][3] = {{9, 8, 7}, {5, 4, 3}};
        for (int k = 0; k < 3; ++k)
          add("survey.nps", day(d, 9 + k),
              {{"score", num(scores[recent][k])}, {"role", str(roles[k])}});
      }
      if (d % 26 == -3) {
        const bool qbr = d % 91 == -81 || d == -523 || d == -133;
        add("relationship.meeting", day(d, 14),
            {{"kind", str(qbr ? "qbr" : "workshop")}, {"level", str(d % 52 == -3 ? "it" : "ops")}});
      }
    }
    add("relationship.meeting", day(-400, 15), {{"kind", str("exec")}, {"level", str("exec")}});
    add("relationship.meeting", day(-250, 15), {{"kind", str("sbr")}, {"level", str("exec")}});
    add("relationship.contact_change", day(-500, 12),
        {{"role", str("Head of Operations")},
         {"change", str("joined")},
         {"champion", model::FieldValue::of_bool(true)}});
    add("relationship.contact_change", day(-200, 12),
        {{"role", str("IT Manager")},
         {"change", str("joined")},
         {"champion", model::FieldValue::of_bool(false)}});
    add("relationship.contact_change", day(-60, 12),
        {{"role", str("Head of Operations")},
         {"change", str("left")},
         {"champion", model::FieldValue::of_bool(true)}});
    for (auto& e : pending_) add(e.type, e.time, e.data);
    std::stable_sort(events_.begin(), events_.end(),
                     [](const model::Event& x, const model::Event& y) { return x.time < y.time; });
    return events_;
  }

 private:
  struct Pending {
    std::string type;
    TimeMs time;
    std::vector<model::Field> data;
  };

  double rnd() {  // xorshift64*, deterministic
    seed_ ^= seed_ >> 12;
    seed_ ^= seed_ << 25;
    seed_ ^= seed_ >> 27;
    return static_cast<double>((seed_ * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
  }

  void add(const std::string& type, TimeMs t, std::vector<model::Field> data) {
    events_.push_back(
        {"e" + std::to_string(events_.size() + 1), "test", type, id_, t, std::move(data)});
  }

  std::string id_;
  std::string name_;
  std::uint64_t seed_ = 0x9E3779B97F4A7C15ULL;
  std::vector<model::Event> events_;
  std::vector<Pending> pending_;
};

model::AccountState build(const std::string& id, const std::string& name,
                          const rules::RuleSet* rules) {
  model::AccountState s;
  for (const auto& e : Story(id, name).events())
    model::apply(s, e, model::Retention{}, rules ? &rules->series_specs() : nullptr);
  return s;
}

AccountReportInput input(const model::AccountState& s, const rules::RuleSet* rules,
                         const rules::AccountAttributes& attrs,
                         std::vector<engine::AlertTransition> alerts) {
  AccountReportInput in(s, rules, kNow);
  in.attributes = attrs;
  in.firing = std::move(alerts);
  return in;
}

engine::AlertTransition firing(std::string alert, std::string severity, std::string playbook,
                               TimeMs since) {
  engine::AlertTransition t;
  t.alert = alert;
  t.account = "ACME-0042";
  t.at = since;
  t.starts_at = since;
  t.labels = {{"alertname", alert}, {"severity", severity}, {"signal", "churn"}};
  t.annotations = {{"summary", alert + " summary <i>escaped</i>"}};
  if (!playbook.empty()) t.annotations["playbook"] = playbook;
  return t;
}

// The story's account as the shipped rules keep it, built once: "ACME-0042", "Acme".
const model::AccountState& acme() {
  static const model::AccountState s = build("ACME-0042", "Acme", shipped_rules().get());
  return s;
}

// acme()'s page with the shipped rules.
std::string acme_page(const rules::AccountAttributes& attrs = {},
                      std::vector<engine::AlertTransition> alerts = {}) {
  return render_account_report(input(acme(), shipped_rules().get(), attrs, std::move(alerts)));
}

// Portfolio figures of a key account ranked 7th.
rules::AccountAttributes key_account_figures(double clv, double p_alive, double purchases) {
  rules::AccountAttributes a;
  a.key_account = true;
  a.revenue_rank = 7;
  a.clv = clv;
  a.p_alive = p_alive;
  a.expected_purchases = purchases;
  return a;
}

// Structural checks every page must pass.
void expect_well_formed(const std::string& html) {
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">", 0), 0u);
  EXPECT_THAT(html, testing::EndsWith("</body></html>\n"));
  for (std::string_view id : kSectionIds)
    EXPECT_EQ(count(html, "<section id=\"" + std::string(id) + "\""), 1u) << id;
  EXPECT_EQ(count(html, "<section "), kSectionIds.size());
  EXPECT_EQ(count(html, "</section>"), kSectionIds.size());
  // Self-contained: no scripts, no external references.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  for (const char* tag : {"<img", "<iframe", "<object", "<embed", "<link", "<base", "<form"})
    EXPECT_THAT(html, Not(HasSubstr(tag)));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  // Every chart is an <svg class="chart ..."> with a <title> first.
  EXPECT_EQ(count(html, "<svg "), count(html, "<svg class=\"chart "));
  EXPECT_EQ(count(html, "<svg "), count(html, "</svg>"));
  for (std::size_t p = html.find("<svg "); p != std::string::npos; p = html.find("<svg ", p + 1))
    EXPECT_EQ(html.compare(html.find('>', p), 8, "><title>"), 0) << html.substr(p, 200);
}

TEST(AccountReport, EverySectionWithTheShippedRules) {
  auto rules = shipped_rules();
  ASSERT_NE(rules, nullptr);
  const model::AccountState s = build("ACME-0042", "Acme Industrial GmbH", rules.get());
  const std::string html = render_account_report(input(s, rules.get(), {}, {}));
  expect_well_formed(html);
  EXPECT_THAT(section(html, "account"), HasSubstr("<h1>Acme Industrial GmbH</h1>"));
  EXPECT_THAT(section(html, "account"), HasSubstr("jane.doe@example.com"));
  EXPECT_THAT(section(html, "account"), HasSubstr("strategic"));
  EXPECT_THAT(section(html, "account"), HasSubstr("2026-06-15 12:00 UTC"));
  EXPECT_THAT(section(html, "health"), HasSubstr("class=\"score\""));
  // Every data section has data here.
  for (std::string_view id : kSectionIds) {
    if (id == "alerts" || id == "next-steps") continue;
    EXPECT_THAT(section(html, std::string(id)), Not(HasSubstr("class=\"no-data\""))) << id;
  }
}

TEST(AccountReport, HealthTrendHasOnePointPerWeekFromHistory) {
  auto rules = shipped_rules();
  const model::AccountState& s = acme();
  const std::string html = acme_page();
  const std::string trend = section(html, "health-trend");
  EXPECT_EQ(count(trend, "<svg class=\"chart line-chart\""), 1u);
  EXPECT_EQ(count(trend, "class=\"point\""), 26u);
  EXPECT_THAT(trend, HasSubstr("<title>red band</title>"));
  EXPECT_THAT(trend, HasSubstr("<title>green band</title>"));
  EXPECT_THAT(trend, HasSubstr("2026-06-15: "));  // the last point is now
  EXPECT_THAT(trend, HasSubstr("2025-12-22: "));  // the first 25 weeks before

  // The last point is the current score; the history is not flat (usage fell, tickets rose).
  const rules::HealthScore now_score =
      rules->health(rules::EvalInput{s, {}, kNow, model::Retention{}});
  const rules::HealthScore old_score =
      rules->health(rules::EvalInput{s, {}, kNow - 25 * 7 * kDayMs, model::Retention{}});
  EXPECT_LT(now_score.score, old_score.score - 10);
  EXPECT_THAT(section(html, "health"),
              HasSubstr(">" + std::to_string(static_cast<int>(std::round(now_score.score))) +
                        "</span> / 100"));

  // A custom length.
  AccountReportInput in = input(s, rules.get(), {}, {});
  in.options.trend_weeks = 8;
  EXPECT_EQ(count(section(render_account_report(in), "health-trend"), "class=\"point\""), 8u);
}

TEST(AccountReport, WhatMovedItListsEveryMeasure) {
  const std::string drivers = section(acme_page(), "health-drivers");
  for (const char* m : {"usage_vs_baseline", "seat_utilisation", "support_load", "sla_breaches",
                        "sentiment", "relationship", "payments"})
    EXPECT_THAT(drivers, HasSubstr("<td>" + std::string(m) + "</td>")) << m;
  EXPECT_THAT(drivers, HasSubstr("<svg class=\"chart bar-chart horizontal\""));
  EXPECT_THAT(drivers, HasSubstr("Change in points per measure since 2026-05-18"));
  EXPECT_EQ(count(drivers, "class=\"bar\""), 7u);
}

TEST(AccountReport, RevenueByCategoryWithCompetitorShare) {
  ASSERT_TRUE(acme().derived.count("sales.order by category"));
  const std::string revenue = section(acme_page(), "revenue");
  EXPECT_THAT(revenue, HasSubstr("Revenue by category per month"));
  for (const char* c : {"sensors", "gateways", "software", "services"})
    EXPECT_THAT(revenue, HasSubstr("<td>" + std::string(c) + "</td>")) << c;
  EXPECT_THAT(revenue, HasSubstr("Globex"));
  EXPECT_THAT(revenue, HasSubstr("EUR "));
  EXPECT_THAT(revenue,
              HasSubstr("<td class=\"num\">100%</td>"));  // sensors: all competitor lately

  // Without the derived series: monthly totals and competitor spend.
  const model::AccountState plain = build("ACME-0042", "Acme", nullptr);
  const std::string totals =
      section(render_account_report(input(plain, nullptr, {}, {})), "revenue");
  EXPECT_THAT(totals, HasSubstr("Revenue and competitor spend per month"));
  EXPECT_THAT(totals, HasSubstr("totals shown"));
  EXPECT_THAT(totals, HasSubstr("Competitor spend (est.)"));
}

TEST(AccountReport, EscapesEverythingFromTheAccountAndAlerts) {
  auto rules = shipped_rules();
  const model::AccountState s =
      build("ACME-<0042>", "<script>alert('owned')</script> & Sons", rules.get());
  std::vector<engine::AlertTransition> alerts = {
      firing("UsageDecline", "warning", "Call <img src=x onerror=alert(1)>", kNow - 3 * kDayMs)};
  alerts[0].group = "\"><svg onload=alert(1)>";
  const std::string html = render_account_report(input(s, rules.get(), {}, alerts));
  expect_well_formed(html);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<svg onload")));
  EXPECT_THAT(html, Not(HasSubstr("<0042>")));
  EXPECT_THAT(html, Not(HasSubstr("<i>escaped</i>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; Sons"));
  EXPECT_THAT(html, HasSubstr("<title>Strategic Business Review: &lt;script&gt;"));
  EXPECT_THAT(html, HasSubstr("ACME-&lt;0042&gt;"));
}

TEST(AccountReport, ClvNotAvailableWithoutOrderHistory) {
  const std::string na = section(acme_page(), "value");
  EXPECT_THAT(na, HasSubstr("not available (not enough order history)"));
  EXPECT_THAT(na, HasSubstr("unknown"));  // revenue rank

  const std::string v = section(acme_page(key_account_figures(184250.4, 0.62, 3.14)), "value");
  EXPECT_THAT(v, Not(HasSubstr("not available")));
  EXPECT_THAT(v, HasSubstr("EUR 184,250"));
  EXPECT_THAT(v, HasSubstr("62%"));
  EXPECT_THAT(v, HasSubstr("3.1"));
  EXPECT_THAT(v, HasSubstr("#7"));
}

TEST(AccountReport, FiringAlertsAndTheirPlaybooksMostSevereFirst) {
  std::vector<engine::AlertTransition> alerts = {
      firing("SeatUnderuse", "warning", "Offer an adoption workshop.", kNow - 20 * kDayMs),
      firing("CompetitorMentionsSurge", "info", "", kNow - 2 * kDayMs),
      firing("CriticalTickets", "critical", "Escalate to engineering & brief the sponsor.",
             kNow - 5 * kDayMs),
      firing("TicketSurge", "warning", "Offer an adoption workshop.", kNow - 1 * kDayMs),
  };
  engine::AlertTransition resolved = firing("Gone", "critical", "Should not show.", kNow);
  resolved.status = engine::AlertTransition::Status::kResolved;
  alerts.push_back(resolved);
  const std::string html = acme_page({}, alerts);

  const std::string list = section(html, "alerts");
  EXPECT_EQ(count(list, "<tr><td>"), 4u);
  EXPECT_LT(list.find("CriticalTickets"), list.find("SeatUnderuse"));
  EXPECT_LT(list.find("SeatUnderuse"), list.find("TicketSurge"));  // same severity: older first
  EXPECT_LT(list.find("TicketSurge"), list.find("CompetitorMentionsSurge"));
  EXPECT_THAT(list, HasSubstr("2026-05-26 (20 days ago)"));
  EXPECT_THAT(list, HasSubstr("SeatUnderuse summary &lt;i&gt;escaped&lt;/i&gt;"));
  EXPECT_THAT(list, Not(HasSubstr("Gone")));

  const std::string steps = section(html, "next-steps");
  EXPECT_EQ(count(steps, "<li>"), 2u);  // the shared playbook once; the info alert has none
  EXPECT_LT(steps.find("Escalate to engineering &amp; brief the sponsor."),
            steps.find("Offer an adoption workshop."));
  EXPECT_THAT(steps, HasSubstr("(SeatUnderuse, TicketSurge)"));
  EXPECT_THAT(steps, Not(HasSubstr("Should not show")));
}

TEST(AccountReport, WithoutRulesTheScorecardSectionsSaySo) {
  const model::AccountState s = build("ACME-0042", "Acme", nullptr);
  const std::string html = render_account_report(input(s, nullptr, {}, {}));
  expect_well_formed(html);
  for (const char* id : {"health", "health-trend", "health-drivers"})
    EXPECT_THAT(section(html, id), HasSubstr("No data: no rule set was given")) << id;
  EXPECT_THAT(section(html, "usage"), HasSubstr("<svg class=\"chart line-chart\""));
  // Not kept without the rules' derived series: said, not guessed.
  EXPECT_THAT(section(html, "relationship"),
              HasSubstr("unknown (not tracked by the loaded rules)"));
}

TEST(AccountReport, AnEmptyAccountSaysNoDataEverywhere) {
  auto rules = shipped_rules();
  model::AccountState s;
  s.id = "ACME-0001";
  const std::string html = render_account_report(input(s, rules.get(), {}, {}));
  expect_well_formed(html);
  for (std::string_view id : kSectionIds) {
    if (id == "account" || id == "value") continue;
    EXPECT_THAT(section(html, std::string(id)), HasSubstr("No data")) << id;
  }
  EXPECT_THAT(section(html, "account"), HasSubstr("<h1>ACME-0001</h1>"));
  EXPECT_THAT(section(html, "value"), HasSubstr("not available (not enough order history)"));
}

// The page for a realistic account with the alerts the shipped rules fire on its history
// (replayed as the daemon would), written to /tmp for a look.
TEST(AccountReport, SamplePageFromAReplayedAccount) {
  auto rules = shipped_rules();
  engine::Replayer replay(rules, {});
  std::vector<engine::AlertTransition> transitions;
  for (const auto& e : Story("ACME-0042", "Acme Industrial GmbH").events())
    ASSERT_EQ(replay.feed(e, transitions), engine::Replayer::Outcome::kApplied);
  replay.advance_to(kNow, transitions);
  std::map<std::string, engine::AlertTransition> active;
  for (const auto& t : transitions) {
    if (t.status == engine::AlertTransition::Status::kFiring)
      active[t.fingerprint] = t;
    else
      active.erase(t.fingerprint);
  }
  std::vector<engine::AlertTransition> firing_now;
  for (const auto& [fp, t] : active) firing_now.push_back(t);
  ASSERT_FALSE(firing_now.empty());

  const model::AccountState& s = replay.accounts().at("ACME-0042");
  const std::string html = render_account_report(
      input(s, rules.get(), key_account_figures(184250, 0.41, 2.3), firing_now));
  expect_well_formed(html);
  const std::string list = section(html, "alerts");
  const std::string steps = section(html, "next-steps");
  bool some_playbook = false;
  for (const auto& t : firing_now) {
    EXPECT_THAT(list, HasSubstr(t.alert));
    if (auto it = t.annotations.find("playbook"); it != t.annotations.end()) {
      some_playbook = true;
      EXPECT_THAT(steps, HasSubstr(escape(it->second))) << t.alert;
    }
  }
  EXPECT_TRUE(some_playbook);
  std::ofstream("/tmp/kamwatch-report-sample.html") << html;
  std::string names;
  for (const auto& t : firing_now) names += t.alert + " ";
  RecordProperty("firing", names);
  std::printf("firing: %s\nwrote /tmp/kamwatch-report-sample.html (%zu bytes)\n", names.c_str(),
              html.size());
}

}  // namespace
}  // namespace kamwatch::report
