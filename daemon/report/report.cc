#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "report/figures.h"
#include "report/html.h"
#include "report/page.h"
#include "report/svg.h"
#include "scoring/portfolio.h"

namespace kamwatch::report {
namespace {

// ---- Look ----

constexpr const char* kBlue = "#3b6ea5";
constexpr const char* kTeal = "#2a9d8f";
constexpr const char* kOrange = "#e07a1f";
constexpr const char* kGrey = "#9aa0a6";
constexpr const char* kGreen = "#2e8b57";
constexpr const char* kRed = "#c0392b";
// Categorical palette for category/level series.
constexpr const char* kPalette[] = {"#3b6ea5", "#2a9d8f", "#e9c46a", "#f4a261",
                                    "#8e6fbf", "#5fa8d3", "#9aa0a6"};

std::string E(std::string_view s) { return escape(s); }

std::string profile_text(const model::AccountState& a, const char* field) {
  auto it = a.profile.find(field);
  if (it == a.profile.end() || it->second.kind == model::FieldValue::Kind::kNull) return {};
  return model::field_value_text(it->second);
}

std::string label_of(const std::map<std::string, std::string>& m, const char* key,
                     const std::string& fallback = {}) {
  auto it = m.find(key);
  return it == m.end() || it->second.empty() ? fallback : it->second;
}

std::string days_ago(TimeMs now, TimeMs t) {
  if (t == 0) return "never";
  const TimeMs d = (floor_to(now, kDayMs) - floor_to(t, kDayMs)) / kDayMs;
  std::string when = format_date(t);
  if (d == 0) return when + " (today)";
  if (d == 1) return when + " (yesterday)";
  if (d > 1) return when + " (" + std::to_string(d) + " days ago)";
  return when;
}

std::vector<std::string> labels_of(const std::vector<Period>& periods) {
  std::vector<std::string> out;
  for (const Period& p : periods) out.push_back(p.label);
  return out;
}

std::vector<double> sums(const std::vector<Aggregate>& a) {
  std::vector<double> out;
  for (const Aggregate& x : a) out.push_back(x.sum);
  return out;
}
std::vector<double> counts(const std::vector<Aggregate>& a) {
  std::vector<double> out;
  for (const Aggregate& x : a) out.push_back(static_cast<double>(x.count));
  return out;
}
std::vector<double> means(const std::vector<Aggregate>& a) {
  std::vector<double> out;
  for (const Aggregate& x : a) out.push_back(x.mean());
  return out;
}

// Sum / count of a series over the n whole days ending with now's day.
Aggregate last_days(const model::Series* s, TimeMs now, int n) {
  if (!s) return {};
  const TimeMs end = floor_to(now, kDayMs) + kDayMs;
  return aggregate(*s, end - static_cast<TimeMs>(n) * kDayMs, end);
}

// ---- The report ----

class Report {
 public:
  explicit Report(const AccountReportInput& in)
      : in_(in),
        a_(in.account),
        o_(in.options),
        specs_(in.rules ? &in.rules->series_specs() : nullptr) {
    const std::string c = last_text("sales.order", "currency");
    currency_ = c.empty() ? "" : c + " ";
    compute_health();
  }

  std::string render() {
    const std::string name = display_name();
    std::string out = page::open("Strategic Business Review: " + name + " (" + a_.id + ")");
    out.reserve(64 * 1024);
    account(out, name);
    health(out);
    health_trend(out);
    health_drivers(out);
    revenue(out);
    usage(out);
    seats(out);
    support(out);
    sentiment(out);
    relationship(out);
    alerts(out);
    value(out);
    next_steps(out);
    out += page::close("kamwatch Strategic Business Review \xC2\xB7 " + a_.id + " \xC2\xB7 as of " +
                       format_datetime(in_.now));
    return out;
  }

 private:
  // ---- state access ----

  std::string display_name() const {
    std::string n = profile_text(a_, "name");
    return n.empty() ? a_.id : n;
  }

  std::string last_text(const char* type, const char* field) const {
    const model::TypeStats* ts = type_stats(a_, type);
    if (!ts) return {};
    auto it = ts->last_values.find(field);
    if (it == ts->last_values.end() || it->second.kind == model::FieldValue::Kind::kNull) return {};
    return model::field_value_text(it->second);
  }

  std::string money(double v) const {
    if (!std::isfinite(v)) return "n/a";
    return currency_ + format_number(v, 0);
  }

  bool has_scorecard() const { return in_.rules && in_.rules->has_scorecard(); }

  std::string no_scorecard_reason() const {
    if (in_.rules && in_.rules->has_scorecard()) return "the account has no events yet";
    if (!in_.rules) return "no rule set was given, so there is no health scorecard";
    return "the loaded rules define no health scorecard";
  }

  rules::HealthScore health_at(TimeMs t) const {
    return in_.rules->health(rules::EvalInput{a_, in_.attributes, t, in_.retention});
  }

  void compute_health() {
    if (!has_scorecard() || a_.applied == 0) return;
    const int n = std::max(1, o_.trend_weeks);
    for (int k = n - 1; k >= 0; --k) {
      const TimeMs t = in_.now - static_cast<TimeMs>(k) * 7 * kDayMs;
      history_at_.push_back(t);
      if (k != 0 && (a_.applied == 0 || t < a_.first_time)) {
        history_.emplace_back();  // before the account's history: no point
        continue;
      }
      history_.push_back(health_at(t));
    }
    now_ = history_.back();
    const TimeMs then = in_.now - static_cast<TimeMs>(o_.compare_weeks) * 7 * kDayMs;
    if (o_.compare_weeks > 0 && a_.applied > 0 && then >= a_.first_time) {
      compare_at_ = then;
      compare_ = health_at(then);
    }
  }

  // ---- sections ----

  void account(std::string& out, const std::string& name) const {
    out +=
        "<section id=\"account\" class=\"header\"><p class=\"muted\">Strategic Business "
        "Review</p><h1>" +
        E(name) + "</h1>";
    std::string tier = profile_text(a_, "tier");
    if (tier.empty()) tier = in_.attributes.key_account ? "key" : "standard";
    out += "<p>" + E(a_.id) + " \xC2\xB7 tier " + E(tier);
    if (in_.attributes.key_account) out += " " + page::chip("key account", "key");
    out += "</p>";
    page::Facts f;
    f.emplace_back("Account id", E(a_.id));
    f.emplace_back("Key Account Manager", page::or_dash(profile_text(a_, "kam")));
    f.emplace_back("Tier", E(tier));
    f.emplace_back("Key account", in_.attributes.key_account ? "yes" : "no");
    for (const auto& [field, label] :
         {std::pair{"industry", "Industry"}, std::pair{"region", "Region"},
          std::pair{"parent", "Parent account"}, std::pair{"renewal_date", "Renewal date"}}) {
      const std::string v = profile_text(a_, field);
      if (!v.empty()) f.emplace_back(label, E(v));
    }
    if (auto it = a_.profile.find("contract_value");
        it != a_.profile.end() && it->second.is_number())
      f.emplace_back("Contract value (annual)", E(money(it->second.number)));
    f.emplace_back("Generated at (as of)", E(format_datetime(in_.now)));
    f.emplace_back("Events",
                   E(format_number(static_cast<double>(a_.applied))) +
                       (a_.applied ? " (" + E(format_date(a_.first_time)) + " \xE2\x80\x93 " +
                                         E(format_date(a_.max_time)) + ")"
                                   : std::string()));
    page::facts(out, f);
    static constexpr const char* kNames[] = {
        "",        "Health",   "Trend",        "What moved it", "Revenue", "Usage",     "Seats",
        "Support", "NPS/CSAT", "Relationship", "Alerts",        "CLV",     "Next steps"};
    static_assert(std::size(kNames) == kSectionIds.size());
    std::vector<std::pair<std::string, std::string>> links;
    for (std::size_t i = 1; i < kSectionIds.size(); ++i)
      links.emplace_back(kSectionIds[i], kNames[i]);
    page::nav(out, links);
    out += "</section>";
  }

  void health(std::string& out) const {
    page::open_section(out, "health", "Health score");
    if (!has_scorecard() || a_.applied == 0) {
      page::no_data(out, no_scorecard_reason());
    } else if (!std::isfinite(now_.score)) {
      page::no_data(out, "no measure of the scorecard has data for this account yet");
    } else {
      out += "<p><span class=\"score\" style=\"color:" + page::band_color(now_.band) + "\">" +
             E(format_number(now_.score, 0)) + "</span> / 100 " + page::band_chip(now_.band) +
             "</p>";
      page::Facts f;
      f.emplace_back("Trend", std::isfinite(now_.trend)
                                  ? E(format_signed(now_.trend, 1) + " points per week")
                                  : "n/a");
      if (compare_ && std::isfinite(compare_->score))
        f.emplace_back("Change since " + format_date(*compare_at_),
                       E(format_signed(now_.score - compare_->score, 1) + " points"));
      const rules::HealthScore* first = nullptr;
      for (const auto& h : history_)
        if (std::isfinite(h.score)) {
          first = &h;
          break;
        }
      if (first && first != &history_.back())
        f.emplace_back("Change over " + std::to_string(history_.size()) + " weeks",
                       E(format_signed(now_.score - first->score, 1) + " points"));
      page::facts(out, f);
    }
    out += "</section>";
  }

  void health_trend(std::string& out) const {
    page::open_section(out, "health-trend", "Health score over time");
    if (!has_scorecard() || a_.applied == 0) {
      page::no_data(out, no_scorecard_reason());
      out += "</section>";
      return;
    }
    svg::LineChart c;
    c.title = "Health score, weekly, last " + std::to_string(history_.size()) + " weeks";
    svg::Series s;
    s.name = "Health score";
    s.color = "#444";
    bool any = false;
    for (std::size_t i = 0; i < history_.size(); ++i) {
      c.x_labels.push_back(format_date(history_at_[i]));
      s.values.push_back(history_[i].score);
      s.point_colors.push_back(page::band_color(history_[i].band));
      any |= std::isfinite(history_[i].score);
    }
    c.series.push_back(std::move(s));
    c.y_min = 0;
    c.y_max = 100;
    c.bands = {{0, o_.red_below, "#fbe3e0", "red band"},
               {o_.red_below, o_.yellow_below, "#fcf1d2", "yellow band"},
               {o_.yellow_below, 100, "#e2f3e8", "green band"}};
    if (!any) {
      page::no_data(out, "no measure of the scorecard has data for this account in these weeks");
    }
    out += svg::line_chart(c);
    out +=
        "<p class=\"note\">Each point is the scorecard evaluated as of that day from the "
        "account's daily history; portfolio figures (key account, CLV, P(alive)) are "
        "today's. Weeks before the account's first event have no point.</p></section>";
  }

  void health_drivers(std::string& out) const {
    page::open_section(out, "health-drivers", "What moved it");
    if (!has_scorecard() || a_.applied == 0) {
      page::no_data(out, no_scorecard_reason());
      out += "</section>";
      return;
    }
    if (now_.contributions.empty()) {
      page::no_data(out, "the scorecard reported no measures");
      out += "</section>";
      return;
    }
    std::map<std::string, const rules::Contribution*> before;
    if (compare_)
      for (const auto& c : compare_->contributions) before[c.measure] = &c;
    const std::string since = compare_at_ ? format_date(*compare_at_) : std::string();
    out +=
        "<table><thead><tr><th>Measure</th><th class=\"num\">Value</th><th "
        "class=\"num\">Score</th><th class=\"num\">Weight</th><th "
        "class=\"num\">Points</th><th class=\"num\">Points lost</th><th class=\"num\">Change"
        " since " +
        (since.empty() ? std::string("then") : E(since)) + "</th></tr></thead><tbody>";
    svg::BarChart chart;
    chart.title = compare_at_ ? "Change in points per measure since " + since
                              : "Points per measure below full marks";
    chart.horizontal = true;
    chart.value_labels = true;
    chart.decimals = 1;
    svg::Series delta;
    delta.name = "Points change";
    delta.color = kGreen;
    delta.negative_color = kRed;
    double drag = -1;
    std::string drag_name;
    double total = 0;
    for (const rules::Contribution& c : now_.contributions) {
      const double lost = c.weight * 100 - c.points;
      total += c.points;
      if (lost > drag) {
        drag = lost;
        drag_name = c.measure;
      }
      double change = NAN;
      if (auto it = before.find(c.measure); it != before.end())
        change = c.points - it->second->points;
      out += "<tr><td>" + E(c.measure) + "</td><td class=\"num\">" +
             (std::isfinite(c.value) ? E(format_number(c.value, 2)) : "no data") +
             "</td><td class=\"num\">" + E(format_number(c.score, 0)) + "</td><td class=\"num\">" +
             E(format_percent(c.weight, 0)) + "</td><td class=\"num\">" +
             E(format_number(c.points, 1)) + "</td><td class=\"num\">" + E(format_number(lost, 1)) +
             "</td><td class=\"num " +
             (change > 0.05    ? "pos"
              : change < -0.05 ? "neg"
                               : "") +
             "\">" + E(format_signed(change, 1)) + "</td></tr>";
      chart.categories.push_back(c.measure);
      delta.values.push_back(compare_at_ ? change : -lost);
    }
    out +=
        "</tbody><tfoot><tr class=\"total\"><td>Total</td><td></td><td></td><td "
        "class=\"num\">100%</td><td class=\"num\">" +
        E(format_number(total, 1)) + "</td><td class=\"num\">" + E(format_number(100 - total, 1)) +
        "</td><td class=\"num\">" +
        E(compare_ && std::isfinite(compare_->score)
              ? format_signed(now_.score - compare_->score, 1)
              : std::string("n/a")) +
        "</td></tr></tfoot></table>";
    if (!drag_name.empty() && drag > 0.05)
      out += "<p>Biggest drag: <strong>" + E(drag_name) + "</strong> (" +
             E(format_number(drag, 1)) + " points below full marks).</p>";
    if (!compare_at_) delta.name = "Points below full marks";
    chart.series.push_back(std::move(delta));
    out += svg::bar_chart(chart);
    out +=
        "<p class=\"note\">Points = weight \xC3\x97 score; the score is the sum of the "
        "points. Values are as the scorecard computes them (durations in seconds).</p>"
        "</section>";
  }

  void revenue(std::string& out) const {
    page::open_section(out, "revenue", "Revenue by category");
    const auto months = months_ending(in_.now, o_.months);
    const model::TypeStats* orders = type_stats(a_, "sales.order");
    const model::TypeStats* comp = type_stats(a_, "sales.competitor_activity");
    if (!orders && !comp) {
      page::no_data(out, "no sales.order or sales.competitor_activity events");
      out += "</section>";
      return;
    }
    const TimeMs year_start = months.front().start;
    const TimeMs end = months.back().end;
    const TimeMs q_start = floor_to(in_.now, kDayMs) + kDayMs - 90 * kDayMs;
    const auto sum_in = [&](const model::TypeStats* ts, TimeMs from) {
      const model::Series* s = field_series(ts, "amount");
      return s ? aggregate(*s, from, end).sum : 0.0;
    };

    page::Facts f;
    f.emplace_back("Revenue, trailing 12 months", E(money(scoring::trailing_revenue(a_, in_.now))));
    f.emplace_back("Orders in the chart's months",
                   E(format_number(static_cast<double>(
                       orders ? aggregate(orders->events, year_start, end).count : 0))));
    if (orders) f.emplace_back("Last order", E(days_ago(in_.now, orders->last_time)));
    if (comp) {
      std::string who = last_text("sales.competitor_activity", "competitor");
      f.emplace_back("Latest competitor mention", E((who.empty() ? std::string("unnamed") : who) +
                                                    ", " + days_ago(in_.now, comp->last_time)));
    }
    page::facts(out, f);

    // Per category, when the rules keep orders (and competitor activity) by category.
    const model::DerivedSeries* by_cat = derived(a_, {"sales.order", {}, "category"});
    const model::DerivedSeries* comp_by_cat =
        derived(a_, {"sales.competitor_activity", {}, "category"});
    svg::BarChart chart;
    chart.categories = labels_of(months);
    chart.stacked = true;
    chart.unit = currency_.empty() ? "" : " " + currency_.substr(0, currency_.size() - 1);
    struct Row {
      std::string category;
      double own = 0;
      double comp = 0;
      double own_90 = 0;
      double comp_90 = 0;
    };
    std::vector<Row> rows;
    if (by_cat && !by_cat->groups.empty()) {
      chart.title = "Revenue by category per month, last " + std::to_string(o_.months) + " months";
      std::map<std::string, Row> by;
      for (const auto& [cat, ts] : by_cat->groups) {
        Row& r = by[cat];
        r.own = sum_in(&ts, year_start);
        r.own_90 = sum_in(&ts, q_start);
      }
      if (comp_by_cat)
        for (const auto& [cat, ts] : comp_by_cat->groups) {
          Row& r = by[cat];
          r.comp = sum_in(&ts, year_start);
          r.comp_90 = sum_in(&ts, q_start);
        }
      for (auto& [cat, r] : by) {
        r.category = cat;
        rows.push_back(r);
      }
      std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
        return x.own != y.own ? x.own > y.own : x.category < y.category;
      });
      // Chart series: the largest categories, the rest as "other".
      std::vector<std::string> cats;
      for (const Row& r : rows)
        if (by_cat->groups.count(r.category)) cats.push_back(r.category);
      const std::size_t keep = cats.size() > static_cast<std::size_t>(o_.max_categories)
                                   ? static_cast<std::size_t>(std::max(1, o_.max_categories - 1))
                                   : cats.size();
      std::vector<double> other(months.size(), 0.0);
      for (std::size_t i = 0; i < cats.size(); ++i) {
        const model::Series* s = field_series(&by_cat->groups.at(cats[i]), "amount");
        std::vector<double> v =
            s ? sums(aggregate(*s, months)) : std::vector<double>(months.size(), 0.0);
        if (i < keep) {
          chart.series.push_back({cats[i], std::move(v), kPalette[i % 6], {}, {}});
        } else {
          for (std::size_t m = 0; m < v.size(); ++m) other[m] += v[m];
        }
      }
      if (keep < cats.size()) chart.series.push_back({"other", other, kPalette[6], {}, {}});
    } else {
      chart.title =
          "Revenue and competitor spend per month, last " + std::to_string(o_.months) + " months";
      chart.stacked = false;
      const model::Series* own = field_series(orders, "amount");
      const model::Series* cs = field_series(comp, "amount");
      chart.series.push_back(
          {"Revenue (orders)",
           own ? sums(aggregate(*own, months)) : std::vector<double>(months.size(), 0.0),
           kBlue,
           {},
           {}});
      if (cs)
        chart.series.push_back(
            {"Competitor spend (est.)", sums(aggregate(*cs, months)), kOrange, {}, {}});
      out +=
          "<p class=\"note\">Revenue per category is not kept for this account (the loaded "
          "rules do not group sales.order by category): totals shown.</p>";
    }
    out += svg::bar_chart(chart);

    // Competitor share table.
    Row total{"Total", sum_in(orders, year_start), sum_in(comp, year_start),
              sum_in(orders, q_start), sum_in(comp, q_start)};
    const auto share = [](double own, double c) {
      return own + c > 0 ? format_percent(c / (own + c), 0) : std::string("n/a");
    };
    const std::string span = E(months.front().label + " \xE2\x80\x93 " + months.back().label);
    out +=
        "<h3>Competitor share</h3><table><thead><tr><th>Category</th><th class=\"num\">Revenue, " +
        span + "</th><th class=\"num\">Competitor spend (est.), " + span +
        "</th><th class=\"num\">Competitor share, " + span +
        "</th><th class=\"num\">Competitor share, last 90 days</th></tr></thead><tbody>";
    for (const Row& r : rows)
      out += "<tr><td>" + E(r.category) + "</td><td class=\"num\">" + E(money(r.own)) +
             "</td><td class=\"num\">" + E(money(r.comp)) + "</td><td class=\"num\">" +
             E(share(r.own, r.comp)) + "</td><td class=\"num\">" + E(share(r.own_90, r.comp_90)) +
             "</td></tr>";
    out += "</tbody><tfoot><tr class=\"total\"><td>Total</td><td class=\"num\">" +
           E(money(total.own)) + "</td><td class=\"num\">" + E(money(total.comp)) +
           "</td><td class=\"num\">" + E(share(total.own, total.comp)) + "</td><td class=\"num\">" +
           E(share(total.own_90, total.comp_90)) + "</td></tr></tfoot></table>";
    out +=
        "<p class=\"note\">Competitor spend is the estimated amount of "
        "sales.competitor_activity events; share = competitor / (competitor + revenue). The "
        "months are calendar months (UTC), the last one to date.</p></section>";
  }

  void usage(std::string& out) const {
    page::open_section(out, "usage", "Usage");
    const model::TypeStats* ts = type_stats(a_, "usage.activity");
    const model::Series* users = field_series(ts, "active_users");
    if (!users) {
      page::no_data(out, "no usage.activity events with active_users");
      out += "</section>";
      return;
    }
    const auto weeks = weeks_ending(in_.now, o_.weeks);
    const Aggregate recent = last_days(users, in_.now, 28);
    const Aggregate base = [&] {
      const TimeMs end = floor_to(in_.now, kDayMs) + kDayMs - 28 * kDayMs;
      return aggregate(*users, end - 84 * kDayMs, end);
    }();
    page::Facts f;
    f.emplace_back("Daily active users, last 4 weeks (average)",
                   E(format_number(recent.mean(), 1)));
    f.emplace_back("The 12 weeks before (average)", E(format_number(base.mean(), 1)));
    f.emplace_back("Change", E(std::isfinite(recent.mean() / base.mean()) && base.mean() > 0
                                   ? format_signed((recent.mean() / base.mean() - 1) * 100, 0) + "%"
                                   : std::string("n/a")));
    f.emplace_back("Last activity", E(days_ago(in_.now, ts->last_time)));
    page::facts(out, f);
    svg::LineChart c;
    c.title = "Average daily active users per week, last " + std::to_string(o_.weeks) + " weeks";
    c.x_labels = labels_of(weeks);
    c.series.push_back({"Active users", means(aggregate(*users, weeks)), kBlue, {}, {}});
    c.decimals = 1;
    c.unit = " users/day";
    out += svg::line_chart(c);
    out +=
        "<p class=\"note\">usage.activity active_users: the mean of the daily values reported "
        "in each week.</p></section>";
  }

  void seats(std::string& out) const {
    page::open_section(out, "seats", "Seat utilisation");
    const model::TypeStats* ts = type_stats(a_, "usage.seats");
    const model::Series* used = field_series(ts, "used");
    const model::Series* licensed = field_series(ts, "licensed");
    // Plain doubles (NaN = none): GCC 12 at -O2 misreads optionals here (maybe-uninitialized).
    const double u = used ? last_value(*used, in_.now).value_or(NAN) : NAN;
    const double l = licensed ? last_value(*licensed, in_.now).value_or(NAN) : NAN;
    if (std::isnan(u) && std::isnan(l)) {
      page::no_data(out, "no usage.seats events");
      out += "</section>";
      return;
    }
    const double util = !std::isnan(u) && l > 0 ? u / l : NAN;
    page::Facts f;
    f.emplace_back("Seats used", std::isnan(u) ? "n/a" : E(format_number(u, 0)));
    f.emplace_back("Seats licensed", std::isnan(l) ? "n/a" : E(format_number(l, 0)));
    f.emplace_back("Utilisation", E(format_percent(util, 0)));
    f.emplace_back("Last report", E(days_ago(in_.now, ts->last_time)));
    page::facts(out, f);
    if (std::isfinite(util))
      out += "<div class=\"meter\" title=\"" + E(format_percent(util, 0)) +
             " of licensed seats in use\"><span style=\"width:" +
             format_coord(std::clamp(util, 0.0, 1.0) * 100) + "%;background:" +
             (util < 0.45  ? kRed
              : util > 0.9 ? kOrange
                           : kGreen) +
             "\"></span></div>";
    // Weekly, carrying the last reported figure forward.
    const auto weeks = weeks_ending(in_.now, o_.weeks);
    svg::LineChart c;
    c.title = "Seats used and licensed, weekly, last " + std::to_string(o_.weeks) + " weeks";
    c.x_labels = labels_of(weeks);
    for (const auto& [name, s, color] :
         {std::tuple{"Licensed", licensed, kGrey}, std::tuple{"Used", used, kTeal}}) {
      svg::Series ser{name, {}, color, {}, {}};
      for (const Period& p : weeks) {
        const auto v = s ? last_value(*s, p.end - 1) : std::nullopt;
        ser.values.push_back(v ? *v : NAN);
      }
      c.series.push_back(std::move(ser));
    }
    out += svg::line_chart(c);
    out += "</section>";
  }

  void support(std::string& out) const {
    page::open_section(out, "support", "Support load");
    const model::TypeStats* tickets = type_stats(a_, "support.ticket");
    const model::TypeStats* breaches = type_stats(a_, "support.sla_breach");
    if (!tickets && !breaches) {
      page::no_data(out, "no support.ticket or support.sla_breach events");
      out += "</section>";
      return;
    }
    const Subset opened = events_where(a_, specs_, "support.ticket", "action", "opened");
    const model::TypeStats* opened_ts = opened.kept ? opened.stats : tickets;
    const std::string opened_name = opened.kept ? "Tickets opened" : "Ticket events (all actions)";
    const auto weeks = weeks_ending(in_.now, o_.weeks);
    page::Facts f;
    f.emplace_back(opened_name + ", last 30 days",
                   E(format_number(static_cast<double>(
                       last_days(opened_ts ? &opened_ts->events : nullptr, in_.now, 30).count))));
    const model::SeriesSpec critical{
        "support.ticket",
        {{"action", model::Predicate::Op::kEq, model::FieldValue::of_string("opened")},
         {"severity", model::Predicate::Op::kLe, model::FieldValue::of_number(1)}},
        ""};
    if (kept(a_, specs_, critical)) {
      const model::DerivedSeries* d = derived(a_, critical);
      const model::TypeStats* ts = d && d->groups.count("") ? &d->groups.at("") : nullptr;
      f.emplace_back("Critical tickets opened, last 30 days",
                     E(format_number(static_cast<double>(
                         last_days(ts ? &ts->events : nullptr, in_.now, 30).count))));
    }
    const model::Series* hours = field_series(tickets, "resolution_hours");
    if (hours) {
      const Aggregate h = last_days(hours, in_.now, 90);
      f.emplace_back("Average resolution time, last 90 days",
                     h.count ? E(format_number(h.mean(), 1) + " hours") : "n/a");
    }
    const model::Series* br = breaches ? &breaches->events : nullptr;
    f.emplace_back("SLA breaches, last 30 days",
                   E(format_number(static_cast<double>(last_days(br, in_.now, 30).count))));
    f.emplace_back("SLA breaches, last 90 days",
                   E(format_number(static_cast<double>(last_days(br, in_.now, 90).count))));
    f.emplace_back("Last SLA breach", E(days_ago(in_.now, breaches ? breaches->last_time : 0)));
    page::facts(out, f);
    svg::BarChart c;
    c.title =
        opened_name + " and SLA breaches per week, last " + std::to_string(o_.weeks) + " weeks";
    c.categories = labels_of(weeks);
    c.max_x_labels = 9;
    c.min_step = 1;
    c.series.push_back({opened_name,
                        opened_ts ? counts(aggregate(opened_ts->events, weeks))
                                  : std::vector<double>(weeks.size(), 0.0),
                        kBlue,
                        {},
                        {}});
    c.series.push_back({"SLA breaches",
                        br ? counts(aggregate(*br, weeks)) : std::vector<double>(weeks.size(), 0.0),
                        kRed,
                        {},
                        {}});
    out += svg::bar_chart(c);
    out += "</section>";
  }

  void sentiment(std::string& out) const {
    page::open_section(out, "sentiment", "NPS and CSAT");
    const model::TypeStats* nps_ts = type_stats(a_, "survey.nps");
    const model::TypeStats* csat_ts = type_stats(a_, "support.csat");
    const model::Series* nps = field_series(nps_ts, "score");
    const model::Series* csat = field_series(csat_ts, "score");
    if (!nps && !csat) {
      page::no_data(out, "no survey.nps or support.csat scores");
      out += "</section>";
      return;
    }
    page::Facts f;
    if (nps) {
      f.emplace_back(
          "NPS score, last 180 days (average, 0\xE2\x80\x93"
          "10)",
          E(format_number(last_days(nps, in_.now, 180).mean(), 1)));
      f.emplace_back("Last NPS response",
                     E(format_number(last_value(*nps, in_.now).value_or(NAN), 0) + ", " +
                       days_ago(in_.now, nps_ts->last_time)));
    }
    if (csat)
      f.emplace_back(
          "CSAT, last 60 days (average, 1\xE2\x80\x93"
          "5)",
          E(format_number(last_days(csat, in_.now, 60).mean(), 1)));
    page::facts(out, f);
    out += "<h3>NPS per quarter</h3>";
    if (nps) {
      const auto quarters = quarters_ending(in_.now, o_.quarters);
      svg::BarChart c;
      c.title =
          "Average NPS score (0-10) per quarter, last " + std::to_string(o_.quarters) + " quarters";
      c.categories = labels_of(quarters);
      c.series.push_back({"Average NPS score", means(aggregate(*nps, quarters)), kTeal, {}, {}});
      c.decimals = 1;
      c.value_labels = true;
      out += svg::bar_chart(c);
    } else {
      page::no_data(out, "no survey.nps responses");
    }
    out += "<h3>CSAT per month</h3>";
    if (csat) {
      const auto months = months_ending(in_.now, o_.months);
      svg::LineChart c;
      c.title = "Average CSAT (1-5) per month, last " + std::to_string(o_.months) + " months";
      c.x_labels = labels_of(months);
      c.series.push_back({"Average CSAT", means(aggregate(*csat, months)), kOrange, {}, {}});
      c.y_min = 1;
      c.y_max = 5;
      c.zero_based = false;
      c.decimals = 2;
      c.max_x_labels = 12;
      out += svg::line_chart(c);
    } else {
      page::no_data(out, "no support.csat scores");
    }
    out += "</section>";
  }

  void relationship(std::string& out) const {
    page::open_section(out, "relationship", "Relationship");
    const model::TypeStats* meetings = type_stats(a_, "relationship.meeting");
    const model::TypeStats* contacts = type_stats(a_, "relationship.contact_change");
    if (!meetings && !contacts) {
      page::no_data(out, "no relationship.meeting or relationship.contact_change events");
      out += "</section>";
      return;
    }
    const auto months = months_ending(in_.now, o_.months);
    const TimeMs year_start = months.front().start;
    const TimeMs end = months.back().end;
    const auto last_of = [&](const Subset& s, const char* field, const char* value) -> std::string {
      if (s.kept) return days_ago(in_.now, s.stats ? s.stats->last_time : 0);
      // Not kept: known only when the latest meeting was one.
      if (last_text("relationship.meeting", field) == value)
        return days_ago(in_.now, meetings->last_time);
      return "unknown (not tracked by the loaded rules)";
    };
    page::Facts f;
    const model::DerivedSeries* by_level = derived(a_, {"relationship.meeting", {}, "level"});
    if (meetings) {
      f.emplace_back("Meetings, last 12 months",
                     E(format_number(
                         static_cast<double>(aggregate(meetings->events, year_start, end).count))));
      f.emplace_back("Last meeting", E(days_ago(in_.now, meetings->last_time)));
      f.emplace_back("Last executive meeting",
                     E(last_of(events_where(a_, specs_, "relationship.meeting", "level", "exec"),
                               "level", "exec")));
      const Subset qbr = events_where(a_, specs_, "relationship.meeting", "kind", "qbr");
      const Subset sbr = events_where(a_, specs_, "relationship.meeting", "kind", "sbr");
      if (qbr.kept || sbr.kept) {
        const TimeMs t =
            std::max(qbr.stats ? qbr.stats->last_time : 0, sbr.stats ? sbr.stats->last_time : 0);
        f.emplace_back("Last business review (QBR/SBR)", E(days_ago(in_.now, t)));
      }
      if (by_level) {
        std::string levels;
        for (const auto& [level, ts] : by_level->groups) {
          const auto n = aggregate(ts.events, year_start, end).count;
          if (!n) continue;
          levels += (levels.empty() ? "" : " \xC2\xB7 ") + level + " " + std::to_string(n);
        }
        f.emplace_back("Meetings by level, last 12 months", E(levels.empty() ? "none" : levels));
      }
    }
    if (contacts) {
      f.emplace_back("Contact changes, last 12 months",
                     E(format_number(
                         static_cast<double>(aggregate(contacts->events, year_start, end).count))));
      const std::string role = last_text("relationship.contact_change", "role");
      const std::string change = last_text("relationship.contact_change", "change");
      const bool champion = last_text("relationship.contact_change", "champion") == "true";
      f.emplace_back("Latest contact change", E((role.empty() ? std::string("contact") : role) +
                                                (champion ? " (champion)" : "") + " " +
                                                (change.empty() ? std::string("changed") : change) +
                                                ", " + days_ago(in_.now, contacts->last_time)));
      for (const char* change_kind : {"left", "joined"}) {
        const model::SeriesSpec spec{
            "relationship.contact_change",
            {{"champion", model::Predicate::Op::kEq, model::FieldValue::of_bool(true)},
             {"change", model::Predicate::Op::kEq, model::FieldValue::of_string(change_kind)}},
            ""};
        if (!kept(a_, specs_, spec)) continue;
        const model::DerivedSeries* d = derived(a_, spec);
        const TimeMs t = d && d->groups.count("") ? d->groups.at("").last_time : 0;
        f.emplace_back(std::string("Champion last ") + change_kind, E(days_ago(in_.now, t)));
      }
    }
    page::facts(out, f);

    out += "<h3>Meetings per month</h3>";
    if (meetings) {
      svg::BarChart c;
      c.title = "Meetings per month, last " + std::to_string(o_.months) + " months";
      c.categories = labels_of(months);
      c.min_step = 1;
      if (by_level && !by_level->groups.empty()) {
        c.stacked = true;
        c.title += ", by level";
        std::size_t i = 0;
        for (const auto& [level, ts] : by_level->groups)
          c.series.push_back(
              {level, counts(aggregate(ts.events, months)), kPalette[i++ % 6], {}, {}});
      } else {
        c.series.push_back(
            {"Meetings", counts(aggregate(meetings->events, months)), kBlue, {}, {}});
      }
      out += svg::bar_chart(c);
    } else {
      page::no_data(out, "no relationship.meeting events");
    }

    out += "<h3>Contacts</h3>";
    // Breadth by role: any kept series of contact changes grouped by role.
    const model::DerivedSeries* roles = nullptr;
    std::string roles_key;
    for (const auto& [key, d] : a_.derived) {
      if (key.rfind("relationship.contact_change", 0) == 0 && key.size() > 8 &&
          key.compare(key.size() - 8, 8, " by role") == 0) {
        roles = &d;
        roles_key = key;
        break;
      }
    }
    if (roles && !roles->groups.empty()) {
      out +=
          "<table><thead><tr><th>Role</th><th class=\"num\">Changes</th><th>Latest</th>"
          "<th>Last change</th></tr></thead><tbody>";
      for (const auto& [role, ts] : roles->groups) {
        auto it = ts.last_values.find("change");
        out += "<tr><td>" + E(role) + "</td><td class=\"num\">" +
               E(format_number(static_cast<double>(ts.count))) + "</td><td>" +
               (it == ts.last_values.end() ? std::string("\xE2\x80\x94")
                                           : E(model::field_value_text(it->second))) +
               "</td><td>" + E(days_ago(in_.now, ts.last_time)) + "</td></tr>";
      }
      out += "</tbody></table><p class=\"note\">From the series " + E(roles_key) + ".</p>";
    } else if (contacts) {
      out +=
          "<p class=\"note\">Contact breadth by role is not kept for this account: no "
          "loaded rule groups relationship.contact_change by role (e.g. "
          "distinct(relationship.contact_change.role, 365d)). Latest change shown above.</p>";
    } else {
      page::no_data(out, "no relationship.contact_change events");
    }
    out += "</section>";
  }

  std::vector<const engine::AlertTransition*> firing_sorted() const {
    std::vector<const engine::AlertTransition*> v;
    for (const auto& t : in_.firing)
      if (t.status == engine::AlertTransition::Status::kFiring) v.push_back(&t);
    std::stable_sort(v.begin(), v.end(), [](const auto* x, const auto* y) {
      const int rx = page::severity_rank(label_of(x->labels, "severity"));
      const int ry = page::severity_rank(label_of(y->labels, "severity"));
      if (rx != ry) return rx < ry;
      if (x->starts_at != y->starts_at) return x->starts_at < y->starts_at;
      return x->alert < y->alert;
    });
    return v;
  }

  static std::string alert_name(const engine::AlertTransition& t) {
    std::string n = label_of(t.labels, "alertname", t.alert);
    if (!t.group.empty()) n += " (" + t.group + ")";
    return n;
  }

  void alerts(std::string& out) const {
    page::open_section(out, "alerts", "Active alerts");
    const auto firing = firing_sorted();
    if (firing.empty()) {
      page::no_data(out, "no alert is firing for this account");
      out += "</section>";
      return;
    }
    out +=
        "<table><thead><tr><th>Alert</th><th>Severity</th><th>Signal</th><th>Since</th>"
        "<th>Summary</th></tr></thead><tbody>";
    for (const auto* t : firing) {
      out += "<tr><td>" + E(alert_name(*t)) + "</td><td>" +
             page::severity_chip(label_of(t->labels, "severity")) + "</td><td>" +
             page::or_dash(label_of(t->labels, "signal")) + "</td><td>" +
             E(days_ago(in_.now, t->starts_at)) + "</td><td>" +
             page::or_dash(label_of(t->annotations, "summary")) + "</td></tr>";
    }
    out += "</tbody></table></section>";
  }

  void value(std::string& out) const {
    page::open_section(out, "value", "Customer lifetime value and P(alive)");
    const rules::AccountAttributes& at = in_.attributes;
    const std::string na = "not available (not enough order history)";
    page::Facts f;
    f.emplace_back("Customer lifetime value (CLV)", E(std::isfinite(at.clv) ? money(at.clv) : na));
    f.emplace_back("P(alive): still an active buyer",
                   E(std::isfinite(at.p_alive) ? format_percent(at.p_alive, 0) : na));
    f.emplace_back(
        "Expected purchase days, next 90 days",
        E(std::isfinite(at.expected_purchases) ? format_number(at.expected_purchases, 1) : na));
    f.emplace_back("Revenue rank in the portfolio",
                   at.revenue_rank > 0 ? E("#" + std::to_string(at.revenue_rank)) : "unknown");
    f.emplace_back("Key account (Pareto)", at.key_account ? "yes" : "no");
    const model::TypeStats* orders = type_stats(a_, "sales.order");
    f.emplace_back("Orders, all time",
                   E(format_number(static_cast<double>(orders ? orders->count : 0))));
    if (orders) f.emplace_back("First order", E(format_date(orders->first_time)));
    page::facts(out, f);
    out +=
        "<p class=\"note\">BG/NBD model over the portfolio's order history (purchase days); "
        "CLV discounts expected purchases at the account's shrunk value per purchase day."
        "</p></section>";
  }

  void next_steps(std::string& out) const {
    page::open_section(out, "next-steps", "Suggested next steps");
    const auto firing = firing_sorted();
    if (firing.empty()) {
      page::no_data(out, "no alert is firing, so no playbook applies");
      out += "</section>";
      return;
    }
    // One step per distinct playbook, most severe alert first.
    struct Step {
      std::string text;
      std::string severity;
      std::vector<std::string> from;
    };
    std::vector<Step> steps;
    for (const auto* t : firing) {
      const std::string p = label_of(t->annotations, "playbook");
      if (p.empty()) continue;
      auto it =
          std::find_if(steps.begin(), steps.end(), [&](const Step& s) { return s.text == p; });
      if (it == steps.end()) {
        steps.push_back({p, label_of(t->labels, "severity"), {alert_name(*t)}});
      } else {
        it->from.push_back(alert_name(*t));
      }
    }
    if (steps.empty()) {
      page::no_data(out, "the firing alerts carry no playbook");
      out += "</section>";
      return;
    }
    out += "<ol class=\"steps\">";
    for (const Step& s : steps) {
      std::string from;
      for (const std::string& n : s.from) from += (from.empty() ? "" : ", ") + n;
      out += "<li>" + page::severity_chip(s.severity) + " " + E(s.text) +
             " <span class=\"from\">(" + E(from) + ")</span></li>";
    }
    out += "</ol></section>";
  }

  const AccountReportInput& in_;
  const model::AccountState& a_;
  const ReportOptions& o_;
  const model::SeriesSpecs* specs_;
  std::string currency_;  // "EUR " or ""
  std::vector<TimeMs> history_at_;
  std::vector<rules::HealthScore> history_;
  rules::HealthScore now_;
  std::optional<TimeMs> compare_at_;
  std::optional<rules::HealthScore> compare_;
};

}  // namespace

std::string render_account_report(const AccountReportInput& in) { return Report(in).render(); }

}  // namespace kamwatch::report
