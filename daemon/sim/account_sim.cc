#include "sim/account_sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kamwatch::sim {
namespace {

constexpr TimeMs days(double n) { return static_cast<TimeMs>(n) * kDayMs; }
TimeMs hours(double h) { return static_cast<TimeMs>(std::llround(h * 3600.0)) * kSecondMs; }

constexpr std::string_view kProducts[kCategoryCount][3] = {
    {"S-100", "S-200", "S-300"},
    {"G-10", "G-20", "G-40"},
    {"A-CLOUD", "A-EDGE", "A-PREDICT"},
    {"SVC-INSTALL", "SVC-TRAINING", "SVC-CONSULT"},
};
constexpr std::string_view kTicketCategories[] = {
    "integration", "hardware", "connectivity", "billing", "how_to", "performance", "data_quality"};
constexpr double kTicketCategoryWeights[] = {0.2, 0.15, 0.15, 0.08, 0.22, 0.1, 0.1};
constexpr std::string_view kRoles[] = {"exec", "ops", "it", "user"};
constexpr double kResolutionMedianHours[4] = {3, 8, 24, 48};
constexpr double kResolutionSlaHours[4] = {8, 24, 72, 168};
constexpr double kResponseSlaHours[4] = {1, 4, 8, 24};

double clamp01(double x) { return std::clamp(x, 0.0, 1.0); }
double round_to(double x, double step) { return std::round(x / step) * step; }

}  // namespace

AccountSim::AccountSim(AccountPlan plan, double noise, std::uint64_t seed)
    : plan_(std::move(plan)),
      noise_(noise),
      rng_(Rng::stream(seed, 3'000'000 + static_cast<std::uint64_t>(plan_.index))) {
  licensed_ = plan_.licensed;
  arr_ = plan_.arr;
  renewal_ = plan_.renewal;
  kam_ = plan_.kam;
  features_ = plan_.features;
  used_ = plan_.used0;
  for (int c = 0; c < kCategoryCount; ++c) {
    order_due_[c] = gamma3();
    order_clock_[c] = rng_.uniform() * order_due_[c];  // a random phase at the start
  }
  auto track = [&](std::string_view kind, double period, double exec_share) {
    tracks_.push_back({kind, period, exec_share,
                       plan_.start + days(rng_.uniform_int(3, static_cast<int>(period)))});
  };
  if (plan_.tier == "strategic") {
    track("qbr", 91, 0.7);
    track("exec", 120, 1.0);
    track("workshop", 30, 0.0);
  } else if (plan_.tier == "key") {
    track("qbr", 91, 0.5);
    track("informal", 45, 0.0);
  } else {
    track("qbr", 182, 0.2);
    track("informal", 90, 0.0);
  }
}

double AccountSim::churn_progress() const {
  const ScenarioPlan& s = plan_.scenario;
  if (s.signal != Signal::kChurn || today_ < s.onset) return 0;
  return clamp01(static_cast<double>(today_ - s.onset) / static_cast<double>(s.outcome - s.onset));
}

double AccountSim::shift_progress() const {
  const ScenarioPlan& s = plan_.scenario;
  if ((s.signal != Signal::kCompetitor && s.signal != Signal::kGrowth) || today_ < s.onset)
    return 0;
  return clamp01(static_cast<double>(today_ - s.onset) / static_cast<double>(s.ramp_end - s.onset));
}

TimeMs AccountSim::business_time(const DayInfo& d) {
  return d.start + plan_.business_hour * kHourMs + rng_.uniform_int(60, 10 * 3600 - 60) * kSecondMs;
}

void AccountSim::emit(EventQueue& q, EventWriter& w, TimeMs t) {
  q.add(t, static_cast<std::uint32_t>(plan_.index), w.finish());
}

void AccountSim::note(std::string_view kind, TimeMs start, int n_days) {
  noise_log_.push_back({std::string(kind), start, n_days});
}

void AccountSim::profile(const DayInfo&, EventWriter& w, EventQueue& q, TimeMs t) {
  w.begin(Source::kCrm, "account.profile", t, plan_.id);
  w.str("name", plan_.name);
  w.str("kam", kam_);
  w.str("tier", plan_.tier);
  w.str("industry", plan_.industry);
  w.str("region", plan_.region);
  if (!plan_.parent.empty()) w.str("parent", plan_.parent);
  w.decimal("contract_value", arr_, 0);
  w.str("renewal_date", date_string(renewal_));
  emit(q, w, t);
}

void AccountSim::contract(EventWriter& w, EventQueue& q, TimeMs t, std::string_view action,
                          std::string_view reason) {
  w.begin(Source::kCrm, "sales.contract", t, plan_.id);
  w.str("action", action);
  w.decimal("arr", action == "cancelled" ? 0 : arr_, 0);
  if (action != "cancelled") w.str("renewal_date", date_string(renewal_));
  if (!reason.empty()) w.str("reason", reason);
  w.integer("seats", action == "cancelled" ? 0 : licensed_);
  emit(q, w, t);
}

void AccountSim::renew(const DayInfo& d, EventWriter& w, EventQueue& q) {
  const ScenarioPlan& s = plan_.scenario;
  const double fill = used_ / licensed_;
  std::string_view action = "renewed";
  const bool growing = s.signal == Signal::kGrowth && today_ >= s.onset;
  if (!growing && fill > 0.84 && rng_.chance(0.7)) {
    const double ratio = rng_.uniform(1.2, 1.4);
    licensed_ = static_cast<int>(std::round(licensed_ * ratio));
    arr_ = round_to(arr_ * ratio, 100);
    action = "expanded";
  } else if (s.signal == Signal::kNone && rng_.chance(std::min(0.5, 0.04 * noise_))) {
    // Seats nobody uses are given back; the users keep theirs.
    arr_ = round_to(arr_ * rng_.uniform(0.75, 0.9), 100);
    licensed_ = std::max({5, static_cast<int>(std::round(licensed_ * 0.85)),
                          static_cast<int>(std::ceil(used_ / 0.87))});
    action = "downgraded";
    note("downgrade", d.start, 1);
  } else {
    arr_ = round_to(arr_ * rng_.uniform(1.0, 1.05), 100);
  }
  renewal_ += days(365);
  const TimeMs t = business_time(d);
  contract(w, q, t, action, {});
  profile(d, w, q, t + kMinuteMs);
}

void AccountSim::invoice(EventWriter& w, EventQueue& q, TimeMs issued, double amount,
                         std::string_view order_id) {
  const TimeMs due = floor_to(issued, kDayMs) + days(30);
  // Payment trouble hits the invoices falling due after the onset.
  const bool troubled = has(kLateInvoices) && due >= plan_.scenario.onset;
  const double p_long = troubled ? 0.4 : std::min(0.2, 0.01 * noise_);
  const double p_late = troubled ? 0.75 : std::min(0.4, 0.05 * noise_);
  const double r = rng_.uniform();
  int late = 0;
  if (r < p_long) {
    late = troubled ? rng_.uniform_int(25, 60) : rng_.uniform_int(20, 45);
  } else if (r < p_late) {
    late = troubled ? rng_.uniform_int(8, 25) : rng_.uniform_int(1, 12);
  }
  char id[32];
  std::snprintf(id, sizeof id, "INV-%04d-%05d", plan_.index + 1, ++invoices_);
  const TimeMs clock = plan_.business_hour * kHourMs + rng_.uniform_int(60, 8 * 3600) * kSecondMs;
  auto event = [&](TimeMs day, std::string_view status, int days_late) {
    w.begin(Source::kBilling, "sales.invoice", day + clock, plan_.id);
    w.decimal("amount", amount, 2);
    w.str("status", status);
    w.integer("days_late", days_late);
    w.str("invoice_id", id);
    if (!order_id.empty()) w.str("order_id", order_id);
    w.str("due_date", date_string(due));
    emit(q, w, day + clock);
  };
  if (late == 0) {
    event(std::max(floor_to(issued, kDayMs) + kDayMs, due - days(rng_.uniform_int(0, 20))), "paid",
          0);
    return;
  }
  // Dunning: overdue notices after a week and after a month, then the payment.
  if (late >= 7) event(due + days(7), "overdue", 7);
  if (late >= 30) event(due + days(30), "overdue", 30);
  event(due + days(late), "paid", late);
  if (!troubled && late >= 20) note("late_invoice", due, late);
}

void AccountSim::usage(const DayInfo& d, EventWriter& w, EventQueue& q) {
  const ScenarioPlan& s = plan_.scenario;
  const double years = static_cast<double>(today_ - plan_.start) / days(365);
  const double p = churn_progress();
  const double g = s.signal == Signal::kGrowth ? shift_progress() : 0;

  // Assigned seats: slow drift and wander, bounded by the licence (healthy accounts renew
  // with more seats before they fill up); a growing account fills its licence.
  seat_noise_ = 0.98 * seat_noise_ + 0.01 * noise_ * rng_.normal();
  double used = std::clamp(plan_.used0 * std::exp(plan_.drift * years) * (1 + seat_noise_),
                           0.3 * licensed_, 0.87 * licensed_);
  if (g > 0) {
    const double target = s.growth_fill * licensed_;
    used += (target - used) * g;
    if (g >= 1)
      used = std::clamp(target * (1 + 0.3 * seat_noise_), 0.91 * licensed_, 1.0 * licensed_);
  }
  used_ = used;
  double assigned = used;
  if (has(kSeatDecline)) assigned *= 1 - 0.55 * p;
  // Whole seats: a full licence reads as full, a healthy one stays visibly below 90%.
  const double seats = g >= 1  ? std::max(std::ceil(0.91 * licensed_), std::round(assigned))
                       : g > 0 ? std::round(assigned)
                               : std::min(std::round(assigned), std::floor(0.88 * licensed_));
  if (d.weekday == 0) {
    w.begin(Source::kAnalytics, "usage.seats", d.start + 5 * kHourMs, plan_.id);
    w.integer("licensed", licensed_);
    w.integer("used", static_cast<std::int64_t>(std::min<double>(seats, licensed_)));
    emit(q, w, d.start + 5 * kHourMs);
  }

  // Daily active users: seats x engagement x weekday x season x dips x scenario x jitter.
  if (today_ >= dip_until_) {
    dip_factor_ = 1;
    if (today_ >= dip_until_ + days(60) && rng_.chance(1.2 / 365 * noise_)) {
      const int n = rng_.uniform_int(4, 9);
      dip_until_ = today_ + days(n);
      dip_factor_ = rng_.uniform(0.35, 0.7);
      note("usage_dip", today_, n);
    }
  }
  double engagement = plan_.active_ratio * (1 + 0.3 * g);
  if (s.signal == Signal::kChurn) engagement *= 1 - (1 - s.usage_floor) * std::pow(p, 0.7);
  const double onboarding =
      plan_.new_logo ? std::min(1.0, 0.3 + 0.7 * static_cast<double>(today_ - plan_.start) /
                                               static_cast<double>(days(60)))
                     : 1.0;
  const double mean = used * engagement * kWeekdayUsage[d.weekday] *
                      usage_season(d, plan_.region == "EMEA") * dip_factor_ * onboarding *
                      (noise_ > 0 ? rng_.lognormal_mean1(0.06 * noise_) : 1.0);
  // Each assigned user is active that day or not: a binomial draw over the seats in use.
  const int pool = std::max(1, static_cast<int>(seats));
  const std::int64_t active = noise_ > 0 ? rng_.binomial(pool, std::min(1.0, mean / pool))
                                         : std::min<std::int64_t>(pool, std::llround(mean));
  const std::int64_t sessions = active > 0 ? std::llround(active * rng_.uniform(2.4, 3.6)) : 0;
  const TimeMs t = d.start + 23 * kHourMs + 55 * kMinuteMs;
  w.begin(Source::kAnalytics, "usage.activity", t, plan_.id);
  w.integer("active_users", active);
  w.integer("sessions", sessions);
  emit(q, w, t);
  last_activity_ = t;

  // Feature usage, reported now and then on working days.
  if (d.weekday < 5 && active > 0) {
    for (const int f : features_) {
      if (!rng_.chance(0.12 * (1 - 0.8 * p))) continue;
      const TimeMs ft = business_time(d);
      w.begin(Source::kAnalytics, "usage.feature", ft, plan_.id);
      w.str("feature", kFeatures[f]);
      w.integer("count", std::max(1, rng_.poisson(active * rng_.uniform(0.5, 2.5))));
      emit(q, w, ft);
    }
  }
}

TimeMs AccountSim::order(const DayInfo& d, EventWriter& w, EventQueue& q, int category) {
  const double mean_amount = plan_.order_value / plan_.order_rate;
  // In a category being lost to a competitor only top-ups are still ordered.
  const ScenarioPlan& s = plan_.scenario;
  const double scale =
      s.signal == Signal::kCompetitor && category == s.category ? 1 - 0.5 * shift_progress() : 1.0;
  const double amount =
      std::max(50.0, round_to(mean_amount * scale * rng_.lognormal_mean1(0.6), 0.01));
  const TimeMs t = business_time(d);
  char id[40];
  std::snprintf(id, sizeof id, "SO-%04d-%05d", plan_.index + 1, ++orders_);
  w.begin(Source::kErp, "sales.order", t, plan_.id);
  w.decimal("amount", amount, 2);
  w.str("currency", "EUR");
  w.str("category", kCategories[category]);
  w.str("product", kProducts[category][rng_.uniform_int(0, 2)]);
  w.str("order_id", id);
  emit(q, w, t);
  invoice(w, q, t + days(rng_.uniform_int(1, 3)), amount, id);
  return t;
}

void AccountSim::orders(const DayInfo& d, EventWriter& w, EventQueue& q) {
  if (d.weekday >= 5) return;
  const ScenarioPlan& s = plan_.scenario;
  const double p = churn_progress();
  double rate = plan_.order_rate / 255.0 * order_season(d);
  if (s.signal == Signal::kChurn) rate *= 1 - (has(kOrderSlowdown) ? 0.9 : 0.4) * p;
  for (int c = 0; c < kCategoryCount; ++c) {
    double share = plan_.share[c];
    bool forced = false;
    if (c == s.category && s.signal == Signal::kCompetitor) share *= 1 - 0.85 * shift_progress();
    if (c == s.category && s.signal == Signal::kGrowth) {
      share = today_ >= s.outcome ? 0.3 : 0;
      forced = today_ >= s.outcome && outcome_time_ == 0;  // the first working day
    }
    // A renewal process in "expected orders" time: an order each time the clock passes a
    // Gamma(3)-distributed threshold (mean 1). Replenishment is more regular than Poisson,
    // and slowdowns, seasons and lost share simply make the clock run slower.
    order_clock_[c] += rate * share;
    if (forced) order_clock_[c] = order_due_[c];
    while (order_clock_[c] >= order_due_[c] && order_due_[c] > 0) {
      order_clock_[c] -= order_due_[c];
      order_due_[c] = gamma3();
      const TimeMs t = order(d, w, q, c);
      if (forced) {
        outcome_time_ = t;
        forced = false;
      }
    }
  }
}

double AccountSim::gamma3() {
  return (rng_.exponential(1.0) + rng_.exponential(1.0) + rng_.exponential(1.0)) / 3.0;
}

void AccountSim::opportunities(const DayInfo& d, EventWriter& w, EventQueue& q) {
  const ScenarioPlan& s = plan_.scenario;
  const double p = churn_progress();
  const double shift = shift_progress();
  const double mean_amount = plan_.order_value / plan_.order_rate;
  auto open = [&](int category, bool scenario, bool forced_win, TimeMs close) {
    const double amount = round_to(mean_amount * rng_.uniform(1.5, 5.0), 100);
    const TimeMs t = business_time(d);
    w.begin(Source::kCrm, "sales.opportunity", t, plan_.id);
    w.str("stage", "open");
    w.decimal("amount", amount, 0);
    w.str("category", kCategories[category]);
    emit(q, w, t);
    opportunities_.push_back({close, category, amount, scenario, forced_win});
  };

  if (d.weekday < 5) {
    if (rng_.chance(plan_.opps_per_year / 255.0 * (1 - 0.5 * p))) {
      int c = rng_.pick(plan_.share);
      if (rng_.chance(0.15)) c = rng_.uniform_int(0, kCategoryCount - 1);  // cross-sell
      open(c, false, false, today_ + days(rng_.uniform_int(20, 110)));
    }
    if (s.signal == Signal::kCompetitor && shift > 0 && rng_.chance(10.0 / 255.0 * shift))
      open(s.category, true, false, today_ + days(rng_.uniform_int(15, 60)));
  }
  if (s.signal == Signal::kGrowth && today_ == s.onset + days(7))
    open(s.category, true, true, std::max(today_ + kDayMs, s.outcome - days(3)));
  // The first deal the competitor takes, a few weeks into the displacement.
  if (s.signal == Signal::kCompetitor && today_ == s.onset + days(21))
    open(s.category, true, false, today_ + days(rng_.uniform_int(20, 40)));

  // Close what is due.
  for (std::size_t i = 0; i < opportunities_.size();) {
    Opportunity& o = opportunities_[i];
    if (o.close > today_) {
      ++i;
      continue;
    }
    const bool contested =
        s.signal == Signal::kCompetitor && o.category == s.category && today_ >= s.onset;
    double p_win = 0.55 * (1 - 0.6 * p);
    if (contested) p_win = o.scenario ? 0.1 : 0.55 * (1 - 0.8 * std::max(shift, 0.3));
    if (contested && o.scenario && !first_loss_) p_win = 0;  // the first one is always lost
    const bool won = o.forced_win || rng_.chance(p_win);
    std::string_view competitor;
    if (!won) {
      if (contested && (!first_loss_ && o.scenario ? true : rng_.chance(0.9))) {
        first_loss_ = first_loss_ || o.scenario;
        competitor = kCompetitors[s.competitor];
      } else if (rng_.chance(std::min(0.9, 0.4 * noise_))) {
        competitor = kCompetitors[rng_.chance(0.7) ? plan_.incumbent
                                                   : rng_.uniform_int(0, kCompetitorCount - 1)];
        note("lost_deal", today_, 1);
      }
    }
    const TimeMs t = business_time(d);
    w.begin(Source::kCrm, "sales.opportunity", t, plan_.id);
    w.str("stage", won ? "won" : "lost");
    w.decimal("amount", o.amount, 0);
    w.str("category", kCategories[o.category]);
    if (!competitor.empty()) w.str("competitor", competitor);
    emit(q, w, t);
    if (contested && !competitor.empty()) {
      w.begin(Source::kCrm, "sales.competitor_activity", t + kMinuteMs, plan_.id);
      w.str("competitor", competitor);
      w.str("category", kCategories[o.category]);
      w.decimal("amount", o.amount, 0);
      w.str("signal", "win_loss");
      emit(q, w, t + kMinuteMs);
    }
    opportunities_[i] = opportunities_.back();
    opportunities_.pop_back();
  }
}

void AccountSim::competitor_mentions(const DayInfo& d, EventWriter& w, EventQueue& q) {
  const ScenarioPlan& s = plan_.scenario;
  // Background: the odd CRM note or market report about a competitor; rarely with an amount.
  if (rng_.chance(1.2 / 365 * noise_)) {
    const int c = rng_.pick(plan_.share);
    const int which = rng_.pick(std::array{0.65, 0.15, 0.2});
    const TimeMs t = business_time(d);
    w.begin(Source::kCrm, "sales.competitor_activity", t, plan_.id);
    w.str("competitor", kCompetitors[rng_.chance(0.7) ? plan_.incumbent
                                                      : rng_.uniform_int(0, kCompetitorCount - 1)]);
    w.str("category", kCategories[c]);
    if (which == 1)
      w.decimal("amount", round_to(0.1 * monthly_spend(c) * rng_.uniform(0.5, 1.5), 10), 0);
    w.str("signal", which == 0 ? "crm_note" : which == 1 ? "market_data" : "survey");
    emit(q, w, t);
  }
  // Displacement: mentions grow with the shift, with estimates of the spend moving away; the
  // market report comes every month, the rest when it happens.
  const double shift = s.signal == Signal::kCompetitor ? shift_progress() : 0;
  bool report = false;
  if (shift > 0 && today_ >= next_report_) {
    report = next_report_ != 0;
    next_report_ = today_ + days(rng_.uniform_int(25, 35));
  }
  if (report || (shift > 0 && rng_.chance(2.5 / 30.4 * shift))) {
    const int which = report ? 0 : rng_.pick(std::array{0.25, 0.5, 0.25});
    const TimeMs t = business_time(d);
    w.begin(Source::kCrm, "sales.competitor_activity", t, plan_.id);
    w.str("competitor", kCompetitors[s.competitor]);
    w.str("category", kCategories[s.category]);
    if (which == 0 || (which == 1 && rng_.chance(0.5)))
      w.decimal("amount", round_to(monthly_spend(s.category) * shift * rng_.uniform(0.6, 1.4), 10),
                0);
    w.str("signal", which == 0 ? "market_data" : which == 1 ? "crm_note" : "survey");
    emit(q, w, t);
  }
}

void AccountSim::ticket(EventWriter& w, EventQueue& q, TimeMs opened, int severity,
                        std::string_view category) {
  const double p = churn_progress();
  const double slow = has(kSlaBreaches) ? 1 + 1.5 * clamp01(p / 0.5) : 1.0;
  const int sev = severity - 1;
  char id[32];
  std::snprintf(id, sizeof id, "ZD-%04d-%05d", plan_.index + 1, ++tickets_);
  auto ticket_event = [&](TimeMs t, std::string_view action, double resolution_hours) {
    w.begin(Source::kZendesk, "support.ticket", t, plan_.id);
    w.str("ticket_id", id);
    w.str("action", action);
    w.integer("severity", severity);
    w.str("category", category);
    if (resolution_hours >= 0) w.decimal("resolution_hours", resolution_hours, 1);
    emit(q, w, t);
  };
  auto breach = [&](TimeMs t, std::string_view sla, double overdue) {
    w.begin(Source::kZendesk, "support.sla_breach", t, plan_.id);
    w.str("ticket_id", id);
    w.str("sla", sla);
    w.decimal("overdue_hours", overdue, 1);
    emit(q, w, t);
  };

  ticket_event(opened, "opened", -1);
  const double res = std::max(
      0.2, round_to(kResolutionMedianHours[sev] * slow * rng_.lognormal_mean1(0.65) * 1.2, 0.1));
  const bool troubled = slow > 1;
  if (rng_.chance(troubled ? 0.25 : std::min(0.5, 0.02 * noise_)))
    breach(opened + hours(kResponseSlaHours[sev]), "response", rng_.uniform(0.5, 6));
  if ((severity <= 2 && rng_.chance(0.15)) || (troubled && rng_.chance(0.3)))
    ticket_event(opened + hours(res * 0.3), "escalated", -1);
  TimeMs resolved = opened + hours(res);
  ticket_event(resolved, "resolved", res);
  if (res > kResolutionSlaHours[sev])
    breach(resolved + kMinuteMs, "resolution", res - kResolutionSlaHours[sev]);
  if (rng_.chance(0.04)) {
    const TimeMs reopened = resolved + hours(rng_.uniform(4, 72));
    const double res2 = std::max(0.2, round_to(res * rng_.uniform(0.3, 1.0), 0.1));
    ticket_event(reopened, "reopened", -1);
    resolved = reopened + hours(res2);
    ticket_event(resolved, "resolved", res2);
  }
  if (rng_.chance(0.4)) {
    // Satisfaction after the resolution: worse after a breach, and while sentiment declines.
    std::array<double, 5> w5 = {0.03, 0.04, 0.10, 0.33, 0.50};
    if (res > kResolutionSlaHours[sev]) w5 = {0.10, 0.15, 0.25, 0.30, 0.20};
    if (has(kSentimentDecline) && p > 0) {
      const double k = clamp01(1.5 * p);
      constexpr std::array<double, 5> kBad = {0.30, 0.30, 0.25, 0.10, 0.05};
      for (int i = 0; i < 5; ++i) w5[i] = (1 - k) * w5[i] + k * kBad[i];
    }
    const TimeMs t = resolved + hours(rng_.uniform(1, 48));
    w.begin(Source::kZendesk, "support.csat", t, plan_.id);
    w.integer("score", 1 + rng_.pick(w5));
    w.str("ticket_id", id);
    emit(q, w, t);
  }
}

void AccountSim::tickets(const DayInfo& d, EventWriter& w, EventQueue& q) {
  const double p = churn_progress();
  double rate = plan_.tickets_per_day * (d.weekday < 5 ? 1.26 : 0.35);
  const bool surge = has(kTicketSurge) && p > 0;
  if (surge) rate *= 1 + 3.5 * clamp01(p / 0.6);
  std::array<double, 4> severity = {0.03, 0.15, 0.45, 0.37};
  if (surge) severity = {0.10, 0.30, 0.40, 0.20};
  const int n = rng_.poisson(rate);
  for (int i = 0; i < n; ++i) {
    const int sev = 1 + rng_.pick(severity);
    // Critical tickets come in at any hour; the rest during business hours.
    const TimeMs t =
        sev == 1 ? d.start + rng_.uniform_int(60, 24 * 3600 - 60) * kSecondMs : business_time(d);
    ticket(w, q, t, sev, kTicketCategories[rng_.pick(kTicketCategoryWeights)]);
  }
  // A one-off burst (a bad firmware roll-out, a migration weekend): several tickets in a few
  // days, one category, then back to normal.
  if (today_ >= quiet_until_ && rng_.chance(0.7 / 365 * noise_)) {
    const int burst = rng_.uniform_int(4, 10);
    const int span = rng_.uniform_int(1, 3);
    quiet_until_ = today_ + days(90);  // bursts are one-offs, never back to back
    const std::string_view cat = kTicketCategories[rng_.pick(kTicketCategoryWeights)];
    note("ticket_burst", today_, span);
    for (int i = 0; i < burst; ++i) {
      const TimeMs t = business_time(d) + days(rng_.uniform_int(0, span - 1));
      ticket(w, q, t, 1 + rng_.pick(std::array{0.05, 0.35, 0.5, 0.1}), cat);
    }
  }
}

void AccountSim::surveys(const DayInfo& d, EventWriter& w, EventQueue& q) {
  if (d.month % 3 != 2 || d.mday != 15 + plan_.survey_offset) return;
  const ScenarioPlan& s = plan_.scenario;
  const double p = churn_progress();
  const int asked = plan_.tier == "strategic" ? 4 : plan_.tier == "key" ? 3 : 2;
  for (int i = 0; i < asked; ++i) {
    if (!rng_.chance(0.7)) continue;
    const int role =
        i == 0 && plan_.tier != "standard" ? 0 : rng_.pick(std::array{0.2, 0.35, 0.25, 0.2});
    double mean = plan_.nps_mean;
    if (has(kSentimentDecline)) mean -= 6 * clamp01(1.5 * p);
    if (has(kChampionLeft) && today_ >= s.champion_left && role == 0) mean -= 3;
    if (s.signal == Signal::kCompetitor) mean -= 1.0 * shift_progress();
    if (s.signal == Signal::kGrowth) mean += 0.5 * shift_progress();
    int score = static_cast<int>(std::clamp(std::round(mean + 1.0 * rng_.normal()), 0.0, 10.0));
    if (rng_.chance(0.03 * noise_)) {
      score = rng_.uniform_int(3, 6);
      note("detractor", today_, 1);
    }
    const TimeMs t = business_time(d) + days(rng_.uniform_int(0, 4));
    w.begin(Source::kSurvey, "survey.nps", t, plan_.id);
    w.integer("score", score);
    w.str("role", kRoles[role]);
    emit(q, w, t);
  }
}

void AccountSim::meetings(const DayInfo& d, EventWriter& w, EventQueue& q) {
  if (d.weekday >= 5) return;
  const ScenarioPlan& s = plan_.scenario;
  const bool stopped = has(kMeetingsStop) && today_ >= s.onset + (s.outcome - s.onset) * 15 / 100;
  const bool no_champion = has(kChampionLeft) && today_ >= s.champion_left;
  auto meet = [&](std::string_view kind, std::string_view level) {
    const TimeMs t = business_time(d);
    w.begin(Source::kCrm, "relationship.meeting", t, plan_.id);
    w.str("kind", kind);
    w.str("level", level);
    emit(q, w, t);
  };
  for (MeetingTrack& track : tracks_) {
    if (today_ < track.next) continue;
    track.next = today_ + days(std::round(track.period_days * rng_.uniform(0.85, 1.15)));
    const bool casual = track.kind == "informal" || track.kind == "workshop";
    if (stopped && !(casual && rng_.chance(0.3))) continue;
    if (rng_.chance(std::min(0.5, 0.08 * noise_))) {
      note("skipped_meeting", today_, 1);
      continue;
    }
    bool exec = rng_.chance(track.exec_share);
    if (no_champion) exec = false;
    if (track.kind == "exec" && !exec) continue;
    meet(track.kind, exec ? "exec" : casual ? (rng_.chance(0.5) ? "ops" : "it") : "ops");
  }
  // Strategic business review two months before the renewal, for strategic and key accounts.
  if (plan_.tier != "standard" && sbr_for_ != renewal_ && today_ >= renewal_ - days(62) &&
      today_ < renewal_ - days(50)) {
    sbr_for_ = renewal_;
    if (!stopped && !no_champion) meet("sbr", "exec");
  }
}

void AccountSim::contact_change(EventWriter& w, EventQueue& q, TimeMs t, std::string_view role,
                                std::string_view change, bool champion) {
  w.begin(Source::kCrm, "relationship.contact_change", t, plan_.id);
  w.str("role", role);
  w.str("change", change);
  w.boolean("champion", champion);
  emit(q, w, t);
}

void AccountSim::contacts(const DayInfo& d, EventWriter& w, EventQueue& q) {
  const ScenarioPlan& s = plan_.scenario;
  if (has(kChampionLeft) && today_ == s.champion_left)
    contact_change(w, q, business_time(d), rng_.chance(0.6) ? "exec" : "ops", "left", true);
  // People come and go: ordinary contacts, and now and then the champion moves on and a
  // successor is named a few weeks later.
  if (rng_.chance(0.35 / 365 * noise_))
    contact_change(w, q, business_time(d), kRoles[rng_.uniform_int(0, 3)],
                   rng_.chance(0.5) ? "joined" : "left", false);
  if (champion_back_ == 0 && s.signal == Signal::kNone && rng_.chance(0.03 / 365 * noise_)) {
    champion_role_ = rng_.chance(0.6) ? "exec" : "ops";
    contact_change(w, q, business_time(d), champion_role_, "left", true);
    const int gap = rng_.uniform_int(10, 40);
    champion_back_ = today_ + days(gap);
    note("champion_change", today_, gap);
  } else if (champion_back_ != 0 && today_ >= champion_back_) {
    contact_change(w, q, business_time(d), champion_role_, "joined", true);
    champion_back_ = 0;
  }
  // Account ownership moves between KAMs occasionally.
  if (rng_.chance(0.03 / 365)) {
    static constexpr std::string_view kOthers[] = {"gita.rao@example.com",
                                                   "hugo.martin@example.com"};
    kam_ = kOthers[rng_.uniform_int(0, 1)];
    profile(d, w, q, business_time(d));
  }
}

void AccountSim::run_day(const DayInfo& d, EventWriter& w, EventQueue& q) {
  today_ = d.start;
  if (stopped_ || today_ < plan_.start) return;
  const ScenarioPlan& s = plan_.scenario;
  if (!started_) {
    started_ = true;
    profile(d, w, q, d.start);
    if (plan_.new_logo) contract(w, q, business_time(d), "signed", {});
  }
  if (s.signal == Signal::kChurn && today_ >= s.outcome) {
    // The end: the contract is cancelled (or not renewed) and the account goes quiet.
    outcome_time_ = business_time(d);
    contract(w, q, outcome_time_, "cancelled", s.outcome_kind);
    stopped_ = true;
    return;
  }
  if (today_ >= renewal_) renew(d, w, q);
  if (d.mday == 1) invoice(w, q, business_time(d), arr_ / 12, {});  // the subscription
  if (has(kDowngrade) && today_ == s.downgrade) {
    arr_ = round_to(arr_ * rng_.uniform(0.5, 0.75), 100);
    licensed_ = std::max(5, static_cast<int>(std::round(licensed_ * 0.7)));
    const TimeMs t = business_time(d);
    contract(w, q, t, "downgraded", {});
    profile(d, w, q, t + kMinuteMs);
  }
  if (s.signal == Signal::kGrowth && today_ == s.onset) {
    // Adoption widens: one or two more product features come into use.
    for (int f = 0, added = 0; f < kFeatureCount && added < 2; ++f) {
      if (std::find(features_.begin(), features_.end(), f) == features_.end() && rng_.chance(0.5)) {
        features_.push_back(f);
        ++added;
      }
    }
  }
  usage(d, w, q);
  orders(d, w, q);
  opportunities(d, w, q);
  competitor_mentions(d, w, q);
  tickets(d, w, q);
  surveys(d, w, q);
  meetings(d, w, q);
  contacts(d, w, q);
}

GroundTruth AccountSim::truth() const {
  const ScenarioPlan& s = plan_.scenario;
  GroundTruth t;
  t.account = plan_.id;
  t.tier = plan_.tier;
  t.kam = kam_;  // the owner at the end of the history
  t.annual_value = plan_.value;
  t.new_logo = plan_.new_logo;
  t.last_activity = last_activity_;
  t.noise = noise_log_;
  if (s.signal == Signal::kNone) return t;
  t.scenario = s.name;
  t.signal = s.signal == Signal::kChurn        ? "churn"
             : s.signal == Signal::kCompetitor ? "competitor"
                                               : "growth";
  t.onset = s.onset;
  t.outcome = s.outcome_kind;
  t.outcome_time = outcome_time_ != 0 ? outcome_time_ : s.outcome;
  if (s.category >= 0) t.category = kCategories[s.category];
  if (s.competitor >= 0) t.competitor = kCompetitors[s.competitor];
  t.symptoms = symptom_names(s.symptoms);
  return t;
}

}  // namespace kamwatch::sim
