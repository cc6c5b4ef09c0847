#include "report/portfolio_report.h"

#include <algorithm>
#include <map>
#include <utility>

#include "report/html.h"
#include "report/page.h"
#include "report/svg_charts.h"

namespace kamwatch::report {
namespace {

using engine::AlertTransition;

constexpr const char* kKeyColor = "#6a4c93";
constexpr const char* kBlue = "#3b6ea5";

std::string E(std::string_view s) { return escape(s); }

std::string label_of(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

bool is_risk(std::string_view signal) { return signal == "churn" || signal == "competitor"; }

std::string count(std::size_t n) { return format_number(static_cast<double>(n), 0); }

// 0 critical .. 3 other; 4 when no alert matches.
template <typename Pred>
int most_severe(const PortfolioAccount& a, Pred matches) {
  int best = 4;
  for (const AlertTransition& t : a.firing)
    if (t.status == AlertTransition::Status::kFiring && matches(label_of(t.labels, "signal")))
      best = std::min(best, page::severity_rank(label_of(t.labels, "severity")));
  return best;
}

// Lower first, NaN last.
bool less_nan_last(double a, double b) {
  if (std::isnan(a) != std::isnan(b)) return !std::isnan(a);
  return !std::isnan(a) && a < b;
}

class PortfolioReport {
 public:
  explicit PortfolioReport(const PortfolioReportInput& in) : in_(in), o_(in.options) {
    for (const PortfolioAccount& a : in.accounts) {
      by_revenue_.push_back(&a);
      total_ += std::max(0.0, std::isfinite(a.revenue) ? a.revenue : 0.0);
    }
    std::stable_sort(by_revenue_.begin(), by_revenue_.end(), [](const auto* x, const auto* y) {
      if (x->revenue != y->revenue) return x->revenue > y->revenue;
      return x->id < y->id;
    });
  }

  std::string render() const {
    std::string out = page::open("Portfolio: " + who());
    out.reserve(128 * 1024);
    header(out);
    risk(out);
    opportunity(out);
    pareto(out);
    table(out);
    out += page::close("kamwatch portfolio \xC2\xB7 " + who() + " \xC2\xB7 as of " +
                       format_datetime(in_.now));
    return out;
  }

 private:
  std::string who() const { return in_.kam.empty() ? "all accounts" : in_.kam; }

  std::string money(double v) const {
    if (!std::isfinite(v)) return "n/a";
    return o_.currency + format_number(v, 0);
  }

  static std::string account_cell(const PortfolioAccount& a) {
    if (a.name.empty() || a.name == a.id) return "<td>" + E(a.id) + "</td>";
    return "<td>" + E(a.name) + " <span class=\"muted\">" + E(a.id) + "</span></td>";
  }

  static std::string score_cell(const PortfolioAccount& a) {
    return "<td>" + page::band_chip(a.band) + " " + E(format_number(a.score, 0)) + "</td>";
  }

  // Chips of the firing alerts whose signal matches, most severe first.
  template <typename Pred>
  static std::string alerts_cell(const PortfolioAccount& a, Pred matches) {
    std::vector<const AlertTransition*> v;
    for (const AlertTransition& t : a.firing)
      if (t.status == AlertTransition::Status::kFiring && matches(label_of(t.labels, "signal")))
        v.push_back(&t);
    std::stable_sort(v.begin(), v.end(), [](const auto* x, const auto* y) {
      const int rx = page::severity_rank(label_of(x->labels, "severity"));
      const int ry = page::severity_rank(label_of(y->labels, "severity"));
      return rx != ry ? rx < ry : x->alert < y->alert;
    });
    if (v.empty()) return "<td>\xE2\x80\x94</td>";
    std::string out = "<td>";
    for (std::size_t i = 0; i < v.size(); ++i) {
      const AlertTransition& t = *v[i];
      if (i) out += "<br>";
      std::string name = label_of(t.labels, "alertname");
      if (name.empty()) name = t.alert;
      if (!t.group.empty()) name += " (" + t.group + ")";
      out += page::severity_chip(label_of(t.labels, "severity")) + " " + E(name);
    }
    return out + "</td>";
  }

  void header(std::string& out) const {
    out += "<section id=\"portfolio\" class=\"header\"><p class=\"muted\">Portfolio review</p><h1>";
    out += E(in_.kam.empty() ? std::string("All accounts") : in_.kam);
    out += "</h1>";
    std::map<std::string, std::size_t> bands;
    std::size_t key = 0, alerts = 0, risk_alerts = 0, growth_alerts = 0;
    for (const PortfolioAccount& a : in_.accounts) {
      ++bands[a.band == "red" || a.band == "yellow" || a.band == "green" ? a.band : "unknown"];
      key += a.key_account;
      for (const AlertTransition& t : a.firing) {
        if (t.status != AlertTransition::Status::kFiring) continue;
        ++alerts;
        const std::string s = label_of(t.labels, "signal");
        risk_alerts += is_risk(s);
        growth_alerts += s == "growth";
      }
    }
    page::Facts f;
    f.emplace_back("Key Account Manager", in_.kam.empty() ? "all" : E(in_.kam));
    f.emplace_back("Accounts", E(count(in_.accounts.size())));
    f.emplace_back("Key accounts (Pareto, whole portfolio)", E(count(key)));
    f.emplace_back("Revenue, trailing 12 months", E(money(total_)));
    std::string b;
    for (const char* band : {"red", "yellow", "green", "unknown"})
      if (auto it = bands.find(band); it != bands.end())
        b += page::band_chip(band) + " " + E(count(it->second)) + " ";
    f.emplace_back("Health bands", b.empty() ? "\xE2\x80\x94" : b);
    f.emplace_back("Firing alerts", E(count(alerts)) + " (" + E(count(risk_alerts)) + " risk, " +
                                        E(count(growth_alerts)) + " growth)");
    f.emplace_back("As of", E(format_datetime(in_.now)));
    page::facts(out, f);
    page::nav(out, {{"risk", "At risk"},
                    {"opportunity", "Opportunities"},
                    {"pareto", "Revenue concentration"},
                    {"accounts", "All accounts"}});
    out += "</section>";
  }

  void more_note(std::string& out, std::size_t shown, std::size_t total) const {
    if (shown < total)
      out += "<p class=\"note\">" + E(count(total - shown)) +
             " more; the table below lists every "
             "account.</p>";
  }

  void risk(std::string& out) const {
    page::open_section(out, "risk", "Accounts at risk");
    struct Entry {
      const PortfolioAccount* a;
      int severity;
    };
    std::vector<Entry> v;
    for (const PortfolioAccount& a : in_.accounts) {
      const int sev = most_severe(a, is_risk);
      if (sev < 4 || a.band == "red" || a.band == "yellow") v.push_back({&a, sev});
    }
    std::stable_sort(v.begin(), v.end(), [](const Entry& x, const Entry& y) {
      if (x.severity != y.severity) return x.severity < y.severity;
      if (less_nan_last(x.a->score, y.a->score)) return true;
      if (less_nan_last(y.a->score, x.a->score)) return false;
      if (x.a->revenue != y.a->revenue) return x.a->revenue > y.a->revenue;
      return x.a->id < y.a->id;
    });
    if (v.empty()) {
      page::no_data(out,
                    "no account has a firing churn or competitor alert or a red or yellow "
                    "health band");
      out += "</section>";
      return;
    }
    out +=
        "<table class=\"ranking\"><thead><tr><th class=\"num\">#</th><th>Account</th>"
        "<th>Health</th><th class=\"num\">Revenue (12 months)</th>"
        "<th>Churn and competitor alerts</th>";
    if (in_.kam.empty()) out += "<th>KAM</th>";
    out += "</tr></thead><tbody>";
    const std::size_t n = std::min(v.size(), o_.top);
    for (std::size_t i = 0; i < n; ++i) {
      const PortfolioAccount& a = *v[i].a;
      out += "<tr><td class=\"num\">" + std::to_string(i + 1) + "</td>" + account_cell(a) +
             score_cell(a) + "<td class=\"num\">" + E(money(a.revenue)) + "</td>" +
             alerts_cell(a, is_risk);
      if (in_.kam.empty()) out += "<td>" + page::or_dash(a.kam) + "</td>";
      out += "</tr>";
    }
    out += "</tbody></table>";
    more_note(out, n, v.size());
    out +=
        "<p class=\"note\">Accounts with a firing churn or competitor alert or a red or yellow "
        "band: most severe alert first, then the lowest health score, then the largest revenue."
        "</p></section>";
  }

  void opportunity(std::string& out) const {
    page::open_section(out, "opportunity", "Growth opportunities");
    const auto growth = [](std::string_view s) { return s == "growth"; };
    struct Entry {
      const PortfolioAccount* a;
      int severity;
    };
    std::vector<Entry> v;
    for (const PortfolioAccount& a : in_.accounts) {
      const int sev = most_severe(a, growth);
      if (sev < 4 || std::isfinite(a.clv)) v.push_back({&a, sev});
    }
    std::stable_sort(v.begin(), v.end(), [](const Entry& x, const Entry& y) {
      if (x.severity != y.severity) return x.severity < y.severity;
      const double cx = std::isfinite(x.a->clv) ? x.a->clv : NAN;
      const double cy = std::isfinite(y.a->clv) ? y.a->clv : NAN;
      if (less_nan_last(-cx, -cy)) return true;
      if (less_nan_last(-cy, -cx)) return false;
      if (x.a->revenue != y.a->revenue) return x.a->revenue > y.a->revenue;
      return x.a->id < y.a->id;
    });
    if (v.empty()) {
      page::no_data(out,
                    "no account has a firing growth alert or a customer lifetime value "
                    "(not enough order history for the BG/NBD model)");
      out += "</section>";
      return;
    }
    out +=
        "<table class=\"ranking\"><thead><tr><th class=\"num\">#</th><th>Account</th>"
        "<th>Growth alerts</th><th class=\"num\">CLV</th><th class=\"num\">P(alive)</th>"
        "<th class=\"num\">Revenue (12 months)</th><th>Health</th></tr></thead><tbody>";
    const std::size_t n = std::min(v.size(), o_.top);
    for (std::size_t i = 0; i < n; ++i) {
      const PortfolioAccount& a = *v[i].a;
      out += "<tr><td class=\"num\">" + std::to_string(i + 1) + "</td>" + account_cell(a) +
             alerts_cell(a, growth) + "<td class=\"num\">" + E(money(a.clv)) +
             "</td><td class=\"num\">" + E(format_percent(a.p_alive, 0)) +
             "</td><td class=\"num\">" + E(money(a.revenue)) + "</td>" + score_cell(a) + "</tr>";
    }
    out += "</tbody></table>";
    more_note(out, n, v.size());
    out +=
        "<p class=\"note\">Accounts with a firing growth alert first (most severe first), then "
        "by customer lifetime value (BG/NBD), then revenue.</p></section>";
  }

  void pareto(std::string& out) const {
    page::open_section(out, "pareto", "Revenue concentration (Pareto)");
    if (total_ <= 0) {
      page::no_data(out, "no account has revenue in the trailing twelve months");
      out += "</section>";
      return;
    }
    // How many accounts make pareto_share of the revenue.
    std::size_t needed = 0;
    double cum = 0;
    for (const PortfolioAccount* a : by_revenue_) {
      if (cum >= o_.pareto_share * total_ * (1 - 1e-12)) break;
      cum += std::max(0.0, a->revenue);
      ++needed;
    }
    const std::size_t n = by_revenue_.size();
    const std::size_t top_n = (n + 4) / 5;
    double top = 0;
    for (std::size_t i = 0; i < top_n; ++i) top += std::max(0.0, by_revenue_[i]->revenue);
    page::Facts f;
    f.emplace_back("Accounts making " + format_percent(o_.pareto_share, 0) + " of the revenue",
                   E(count(needed)) + " of " + E(count(n)) + " (" +
                       E(format_percent(static_cast<double>(needed) / static_cast<double>(n), 0)) +
                       ")");
    f.emplace_back("Revenue share of the top 20% (" + count(top_n) + " accounts)",
                   E(format_percent(top / total_, 1)));
    f.emplace_back(
        "Largest account",
        E(by_revenue_.front()->name.empty() ? by_revenue_.front()->id : by_revenue_.front()->name) +
            " (" + E(format_percent(by_revenue_.front()->revenue / total_, 1)) + ")");
    page::facts(out, f);
    svg::ParetoChart c;
    c.title = "Revenue by account, trailing 12 months, with the cumulative share";
    c.reference = o_.pareto_share;
    c.value_name = "revenue (key accounts darker)";
    c.unit = "";
    for (const PortfolioAccount* a : by_revenue_) {
      c.categories.push_back(a->name.empty() ? a->id : a->name);
      c.values.push_back(a->revenue);
      c.colors.push_back(a->key_account ? kKeyColor : kBlue);
    }
    c.color = kBlue;
    out += svg::pareto_chart(c);
    out +=
        "<p class=\"note\">Bars: trailing twelve-month revenue, largest first; purple bars are "
        "key accounts of the whole portfolio. Line: cumulative share of this page's revenue."
        "</p></section>";
  }

  void table(std::string& out) const {
    page::open_section(out, "accounts", "All accounts");
    if (by_revenue_.empty()) {
      page::no_data(out, in_.kam.empty() ? std::string("the store has no account")
                                         : "no account is managed by " + in_.kam);
      out += "</section>";
      return;
    }
    out +=
        "<div class=\"scroll\"><table class=\"accounts\"><thead><tr><th>Account</th>"
        "<th>Tier</th><th>Band</th>"
        "<th class=\"num\">Score</th><th class=\"num\">Revenue (12 months)</th>"
        "<th class=\"num\">Share</th><th class=\"num\">CLV</th><th class=\"num\">P(alive)</th>"
        "<th>Firing alerts</th>";
    if (in_.kam.empty()) out += "<th>KAM</th>";
    out += "</tr></thead><tbody>";
    for (const PortfolioAccount* p : by_revenue_) {
      const PortfolioAccount& a = *p;
      std::string tier = page::or_dash(a.tier);
      if (a.key_account && a.tier != "key") tier += " " + page::chip("key", "key");
      out += "<tr>" + account_cell(a) + "<td>" + tier + "</td><td>" + page::band_chip(a.band) +
             "</td><td class=\"num\">" + E(format_number(a.score, 0)) + "</td><td class=\"num\">" +
             E(money(a.revenue)) + "</td><td class=\"num\">" +
             E(format_percent(total_ > 0 ? std::max(0.0, a.revenue) / total_ : NAN, 1)) +
             "</td><td class=\"num\">" + E(money(a.clv)) + "</td><td class=\"num\">" +
             E(format_percent(a.p_alive, 0)) + "</td>" +
             alerts_cell(a, [](std::string_view) { return true; });
      if (in_.kam.empty()) out += "<td>" + page::or_dash(a.kam) + "</td>";
      out += "</tr>";
    }
    out += "<tr class=\"total\"><td>Total (" + E(count(by_revenue_.size())) +
           " accounts)</td><td></td><td></td><td></td><td class=\"num\">" + E(money(total_)) +
           "</td><td class=\"num\">100.0%</td><td></td><td></td><td></td>";
    if (in_.kam.empty()) out += "<td></td>";
    out += "</tr></tbody></table></div></section>";
  }

  const PortfolioReportInput& in_;
  const PortfolioReportOptions& o_;
  std::vector<const PortfolioAccount*> by_revenue_;  // revenue descending, then id
  double total_ = 0;                                 // of positive revenues
};

}  // namespace

std::string render_portfolio_report(const PortfolioReportInput& in) {
  return PortfolioReport(in).render();
}

}  // namespace kamwatch::report
