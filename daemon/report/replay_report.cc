#include "report/replay_report.h"

#include <algorithm>
#include <set>
#include <utility>

#include "report/figures.h"
#include "report/html.h"
#include "report/page.h"
#include "report/svg.h"
#include "report/svg_charts.h"

namespace kamwatch::report {
namespace {

using engine::AlertTransition;

constexpr const char* kPalette[] = {"#3b6ea5", "#2a9d8f", "#e9c46a", "#f4a261",
                                    "#8e6fbf", "#5fa8d3", "#9aa0a6"};
constexpr std::size_t kPaletteSize = sizeof kPalette / sizeof kPalette[0];
// Room for the one-line legend of a 720 px bar chart.
constexpr double kLegendWidth = 670;

std::string E(std::string_view s) { return escape(s); }

std::string label_of(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

std::string signal_color(std::string_view signal) {
  if (signal == "churn") return "#c0392b";
  if (signal == "competitor") return "#e07a1f";
  if (signal == "growth") return "#2e8b57";
  return "#3b6ea5";
}

// churn, competitor, growth, then the others by name, "" (no signal label) last.
bool signal_before(const std::string& a, const std::string& b) {
  const auto rank = [](const std::string& s) {
    if (s == "churn") return 0;
    if (s == "competitor") return 1;
    if (s == "growth") return 2;
    return s.empty() ? 4 : 3;
  };
  const int ra = rank(a), rb = rank(b);
  return ra != rb ? ra < rb : a < b;
}

std::string signal_text(const std::string& s) { return s.empty() ? "(no signal)" : s; }

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string count(std::size_t n) { return format_number(static_cast<double>(n), 0); }

std::string days_text(TimeMs d) {
  const double days = static_cast<double>(d) / static_cast<double>(kDayMs);
  return format_number(days, days < 10 ? 1 : 0) + (days == 1 ? " day" : " days");
}

// One firing interval of one rule (and group) on one account.
struct Firing {
  TimeMs from = 0;
  TimeMs to = 0;
  bool open = false;
};

struct RowKey {
  std::string alert;
  std::string group;
  auto operator<=>(const RowKey&) const = default;
};

struct Row {
  std::string signal;
  std::string severity;
  std::vector<Firing> firings;
};

struct RuleStats {
  std::string signal;
  std::string severity;
  std::size_t firings = 0;
  std::size_t resolutions = 0;
  std::set<std::string> accounts;
  std::vector<double> durations_days;  // closed intervals
  std::size_t open = 0;                // still firing at the end
};

class ReplayReport {
 public:
  explicit ReplayReport(const ReplayReportInput& in) : in_(in) {
    for (const AlertTransition& t : in.transitions) {
      const RowKey key{t.alert, t.group};
      Row& row = accounts_[t.account][key];
      RuleStats& rs = rules_[t.alert];
      const std::string signal = label_of(t.labels, "signal");
      const std::string severity = label_of(t.labels, "severity");
      if (row.signal.empty()) row.signal = signal;
      if (row.severity.empty()) row.severity = severity;
      if (rs.signal.empty()) rs.signal = signal;
      if (rs.severity.empty()) rs.severity = severity;
      if (t.status == AlertTransition::Status::kFiring) {
        ++rs.firings;
        ++firings_;
        rs.accounts.insert(t.account);
        firing_at_[t.alert].push_back(t.at);
        if (!row.firings.empty() && row.firings.back().open) continue;  // already firing
        row.firings.push_back({t.at, std::max(t.at, in.to), true});
      } else {
        ++rs.resolutions;
        ++resolutions_;
        if (row.firings.empty() || !row.firings.back().open) continue;  // never seen firing
        Firing& f = row.firings.back();
        f.to = t.at;
        f.open = false;
        rs.durations_days.push_back(static_cast<double>(t.at - f.from) /
                                    static_cast<double>(kDayMs));
      }
    }
    for (const auto& [account, rows] : accounts_)
      for (const auto& [key, row] : rows)
        if (!row.firings.empty() && row.firings.back().open) ++rules_[key.alert].open;
    for (auto it = accounts_.begin(); it != accounts_.end();) {
      bool any = false;
      for (const auto& [key, row] : it->second) any |= !row.firings.empty();
      it = any ? std::next(it) : accounts_.erase(it);
    }
    if (in.scores)
      for (const ScenarioWindow& w : in.scores->truth) truth_[w.account] = &w;
    // One label column for every timeline, so that their time axes line up.
    std::size_t longest = 4;
    for (const auto& [account, rows] : accounts_)
      for (const auto& [key, row] : rows)
        longest = std::max(
            longest, std::min<std::size_t>(
                         36, key.alert.size() + (key.group.empty() ? 0 : key.group.size() + 3)));
    label_width_ = static_cast<int>(10 + 6.2 * static_cast<double>(longest));
  }

  std::string render() const {
    std::string out = page::open(in_.rules.empty() ? std::string("Replay report")
                                                   : "Replay report: " + in_.rules);
    out.reserve(256 * 1024);
    header(out);
    rules(out);
    over_time(out);
    scores(out);
    timelines(out);
    out += page::close("kamwatch replay report \xC2\xB7 " + format_date(in_.from) +
                       " \xE2\x80\x93 " + format_date(in_.to));
    return out;
  }

 private:
  std::string name_of(const std::string& account) const {
    auto it = in_.account_names.find(account);
    return it == in_.account_names.end() || it->second.empty() ? account
                                                               : it->second + " (" + account + ")";
  }

  void header(std::string& out) const {
    out += "<section id=\"replay\" class=\"header\"><p class=\"muted\">Replay report</p><h1>";
    out += E(in_.rules.empty() ? std::string("Replay") : in_.rules);
    out += "</h1>";
    page::Facts f;
    if (!in_.events.empty()) f.emplace_back("Events", E(in_.events));
    f.emplace_back("Events applied", E(count(in_.events_applied)));
    f.emplace_back("Event time",
                   E(format_date(in_.from)) + " \xE2\x80\x93 " + E(format_date(in_.to)));
    f.emplace_back("Alert transitions",
                   E(count(firings_)) + " firing, " + E(count(resolutions_)) + " resolved");
    f.emplace_back("Rules that fired", E(count(rules_.size())));
    f.emplace_back("Accounts alerted", E(count(accounts_.size())));
    f.emplace_back("Scored against ground truth",
                   in_.scores ? E(count(in_.scores->truth_accounts)) + " accounts, " +
                                    E(count(in_.scores->truth.size())) + " with a scenario"
                              : std::string("no (replay without --truth)"));
    page::facts(out, f);
    page::nav(out, {{"rules", "Rules"},
                    {"alerts-over-time", "Alerts per week"},
                    {"scores", "Recall and precision"},
                    {"timelines", "Account timelines"}});
    out += "</section>";
  }

  std::vector<std::string> rules_by_signal() const {
    std::vector<std::string> names;
    for (const auto& [name, rs] : rules_) names.push_back(name);
    std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
      const std::string& sa = rules_.at(a).signal;
      const std::string& sb = rules_.at(b).signal;
      if (sa != sb) return signal_before(sa, sb);
      return a < b;
    });
    return names;
  }

  void rules(std::string& out) const {
    page::open_section(out, "rules", "Alerts per rule");
    if (rules_.empty()) {
      page::no_data(out, "no rule fired during the replay");
      out += "</section>";
      return;
    }
    out +=
        "<table><thead><tr><th>Rule</th><th>Signal</th><th>Severity</th>"
        "<th class=\"num\">Firings</th><th class=\"num\">Resolved</th>"
        "<th class=\"num\">Accounts</th><th class=\"num\">Still firing at the end</th>"
        "<th class=\"num\">Median time firing (days)</th></tr></thead><tbody>";
    for (const std::string& name : rules_by_signal()) {
      const RuleStats& rs = rules_.at(name);
      out += "<tr><td>" + E(name) + "</td><td>" + page::or_dash(rs.signal) + "</td><td>" +
             page::severity_chip(rs.severity) + "</td><td class=\"num\">" + E(count(rs.firings)) +
             "</td><td class=\"num\">" + E(count(rs.resolutions)) + "</td><td class=\"num\">" +
             E(count(rs.accounts.size())) + "</td><td class=\"num\">" + E(count(rs.open)) +
             "</td><td class=\"num\">" + E(format_number(median(rs.durations_days), 1)) +
             "</td></tr>";
    }
    out +=
        "</tbody></table><p class=\"note\">Time firing: from a firing to its resolution, over "
        "the resolved intervals.</p></section>";
  }

  void over_time(std::string& out) const {
    page::open_section(out, "alerts-over-time", "Alerts per week");
    if (firings_ == 0 || in_.to < in_.from) {
      page::no_data(out, "no alert fired during the replay");
      out += "</section>";
      return;
    }
    const TimeMs days = (floor_to(in_.to, kDayMs) - floor_to(in_.from, kDayMs)) / kDayMs + 1;
    const int n = static_cast<int>(std::max<TimeMs>(1, (days + 6) / 7));
    const std::vector<Period> weeks = weeks_ending(in_.to, n);
    std::vector<std::string> labels;
    for (const Period& p : weeks) labels.push_back(p.label);
    const auto week_of = [&](TimeMs t) -> std::ptrdiff_t {
      if (t < weeks.front().start || t >= weeks.back().end) return -1;
      return static_cast<std::ptrdiff_t>((t - weeks.front().start) / (7 * kDayMs));
    };
    // One stacked chart per signal, a series per rule.
    std::vector<std::string> signals;
    for (const auto& [name, rs] : rules_)
      if (std::find(signals.begin(), signals.end(), rs.signal) == signals.end())
        signals.push_back(rs.signal);
    std::sort(signals.begin(), signals.end(), signal_before);
    const std::vector<std::string> ordered = rules_by_signal();
    for (const std::string& signal : signals) {
      std::vector<svg::Series> series;
      std::size_t total = 0;
      for (const std::string& name : ordered) {
        const RuleStats& rs = rules_.at(name);
        if (rs.signal != signal || rs.firings == 0) continue;
        std::vector<double> v(weeks.size(), 0.0);
        auto it = firing_at_.find(name);
        if (it != firing_at_.end())
          for (TimeMs t : it->second)
            if (const auto k = week_of(t); k >= 0) v[static_cast<std::size_t>(k)] += 1;
        total += rs.firings;
        series.push_back({name, std::move(v), kPalette[series.size() % kPaletteSize], {}, {}});
      }
      if (series.empty()) continue;
      out += "<h3>" + E(signal_text(signal)) + " \xC2\xB7 " + E(count(total)) +
             (total == 1 ? " firing" : " firings") + "</h3>";
      // The legend is one line: rules go to as many stacked charts as their names need.
      std::vector<std::vector<svg::Series>> charts(1);
      double legend_width = 0;
      for (svg::Series& ser : series) {
        const double wd =
            28 + 6.5 * static_cast<double>(std::min<std::size_t>(32, ser.name.size()));
        if (!charts.back().empty() && legend_width + wd > kLegendWidth) {
          charts.emplace_back();
          legend_width = 0;
        }
        legend_width += wd;
        charts.back().push_back(std::move(ser));
      }
      for (std::size_t k = 0; k < charts.size(); ++k) {
        svg::BarChart c;
        c.title = "Firings per week, signal " + signal_text(signal) + ", by rule";
        if (charts.size() > 1)
          c.title += " (" + std::to_string(k + 1) + " of " + std::to_string(charts.size()) + ")";
        c.categories = labels;
        c.stacked = true;
        c.min_step = 1;
        c.unit = " firings";
        c.legend = true;
        c.series = std::move(charts[k]);
        out += svg::bar_chart(c);
      }
    }
    out +=
        "<p class=\"note\">Weeks of 7 UTC days ending with the last event's day, labelled by "
        "their first day; a firing counts in the week of its event time.</p></section>";
  }

  static std::string ratio_cell(double v) {
    return "<td class=\"num\">" + E(format_ratio(v)) + "</td>";
  }

  void scores(std::string& out) const {
    page::open_section(out, "scores", "Recall, precision and lead time");
    if (!in_.scores) {
      page::no_data(out,
                    "the replay was not scored: run kamwatch replay with --truth FILE (the "
                    "ground truth of kamwatch simulate)");
      out += "</section>";
      return;
    }
    const BacktestScores& s = *in_.scores;
    out +=
        "<table class=\"scores\"><thead><tr><th>Signal</th><th class=\"num\">Accounts with "
        "scenario</th><th class=\"num\">Detected</th><th class=\"num\">Recall</th>"
        "<th class=\"num\">Alerted accounts</th><th class=\"num\">Precision</th>"
        "<th class=\"num\">Median lead time (days)</th></tr></thead><tbody>";
    for (const ScoreRow& r : s.signals) {
      out += "<tr><td>" + E(r.label) + "</td><td class=\"num\">" + E(count(r.scenario_accounts)) +
             "</td><td class=\"num\">" + E(count(r.detected)) + "</td>" + ratio_cell(r.recall) +
             "<td class=\"num\">" + E(count(r.alerted)) + "</td>" + ratio_cell(r.precision) +
             "<td class=\"num\">" + E(format_lead_days(r.median_lead_days)) + "</td></tr>";
    }
    out += "</tbody></table>";
    svg::BarChart c;
    c.title = "Recall and precision per signal";
    c.horizontal = true;
    c.value_labels = true;
    c.decimals = 3;
    svg::Series recall{"recall", {}, "#3b6ea5", {}, {}};
    svg::Series precision{"precision", {}, "#2a9d8f", {}, {}};
    for (const ScoreRow& r : s.signals) {
      c.categories.push_back(r.label);
      recall.values.push_back(r.recall);
      precision.values.push_back(r.precision);
    }
    c.series = {recall, precision};
    out += svg::bar_chart(c);
    out +=
        "<p class=\"note\">Recall: accounts with the scenario that got an alert of the signal "
        "between the scenario's onset and its outcome. Precision: accounts alerted with the "
        "signal at any time that truly had the scenario and were alerted in its window. Lead "
        "time: outcome minus the first alert in the window, median over the detected accounts. "
        "The same numbers as the table kamwatch replay --truth prints.</p>";
    out += "<h3>Per scenario</h3>";
    if (s.scenarios.empty()) {
      page::no_data(out, "the ground truth has no account with a scenario");
    } else {
      out +=
          "<table class=\"scenarios\"><thead><tr><th>Scenario</th><th>Signal</th>"
          "<th class=\"num\">Accounts</th><th class=\"num\">Detected</th>"
          "<th class=\"num\">Recall</th><th class=\"num\">Median lead time (days)</th></tr>"
          "</thead><tbody>";
      for (const ScoreRow& r : s.scenarios)
        out += "<tr><td>" + E(r.label) + "</td><td>" + page::or_dash(r.signal) +
               "</td><td class=\"num\">" + E(count(r.scenario_accounts)) +
               "</td><td class=\"num\">" + E(count(r.detected)) + "</td>" + ratio_cell(r.recall) +
               "<td class=\"num\">" + E(format_lead_days(r.median_lead_days)) + "</td></tr>";
      out += "</tbody></table>";
    }
    out += "</section>";
  }

  void timelines(std::string& out) const {
    page::open_section(out, "timelines", "Account timelines");
    if (accounts_.empty()) {
      page::no_data(out, "no account was alerted during the replay");
    } else {
      out += "<p class=\"note\">When each rule was firing, per alerted account (by account id)";
      if (in_.scores) out += ", over the account's scenario window (onset to outcome)";
      out += ". Hover a bar for its dates.</p>";
      std::size_t shown = 0;
      for (const auto& [account, rows] : accounts_) {
        if (shown == in_.options.max_accounts) break;
        ++shown;
        account_timeline(out, account, rows);
      }
      if (shown < accounts_.size())
        out += "<p class=\"note\">" + E(count(accounts_.size() - shown)) +
               " more alerted accounts not shown (limit " + E(count(in_.options.max_accounts)) +
               ").</p>";
    }
    if (in_.scores) {
      std::vector<const ScenarioWindow*> silent;
      for (const ScenarioWindow& w : in_.scores->truth)
        if (!accounts_.contains(w.account)) silent.push_back(&w);
      out += "<h3>Scenario accounts without any alert</h3>";
      if (silent.empty()) {
        out += "<p>None: every account with a scenario was alerted at least once.</p>";
      } else {
        out +=
            "<table><thead><tr><th>Account</th><th>Scenario</th><th>Signal</th><th>Onset</th>"
            "<th>Outcome</th></tr></thead><tbody>";
        for (const ScenarioWindow* w : silent)
          out += "<tr><td>" + E(name_of(w->account)) + "</td><td>" + E(w->scenario) + "</td><td>" +
                 page::or_dash(w->signal) + "</td><td>" + E(format_date(w->onset)) + "</td><td>" +
                 E(w->outcome ? format_date(w->outcome) : std::string("none")) + "</td></tr>";
        out += "</tbody></table>";
      }
    }
    out += "</section>";
  }

  void account_timeline(std::string& out, const std::string& account,
                        const std::map<RowKey, Row>& rows) const {
    const std::string name = name_of(account);
    out += "<div class=\"timeline\"><h3>" + E(name);
    const ScenarioWindow* w = nullptr;
    if (auto it = truth_.find(account); it != truth_.end()) w = it->second;
    if (w)
      out += " <span class=\"muted\">scenario " + E(w->scenario) + " (" + E(w->signal) + ")</span>";
    else if (in_.scores)
      out += " <span class=\"muted\">no scenario</span>";
    out += "</h3>";
    svg::TimelineChart c;
    c.title = "Firing alerts of " + name;
    c.label_width = label_width_;
    c.from = in_.from;
    c.to = std::max(in_.to, in_.from + kDayMs);
    std::vector<std::pair<const RowKey*, const Row*>> ordered;
    for (const auto& [key, row] : rows)
      if (!row.firings.empty()) ordered.emplace_back(&key, &row);
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
      if (a.second->signal != b.second->signal)
        return signal_before(a.second->signal, b.second->signal);
      return *a.first < *b.first;
    });
    for (const auto& [key, row] : ordered) {
      svg::TimelineRow r;
      r.label = key->group.empty() ? key->alert : key->alert + " (" + key->group + ")";
      r.color = signal_color(row->signal);
      for (const Firing& f : row->firings) {
        svg::Interval iv;
        iv.from = f.from;
        iv.to = f.to;
        iv.open_ended = f.open;
        iv.tooltip = r.label + ": firing " + format_date(f.from) + " \xE2\x80\x93 " +
                     (f.open ? "still firing at " + format_date(f.to)
                             : format_date(f.to) + " (" + days_text(f.to - f.from) + ")");
        r.intervals.push_back(std::move(iv));
      }
      c.rows.push_back(std::move(r));
    }
    if (w && w->onset) {
      svg::Span s;
      s.from = w->onset;
      s.to = w->outcome ? w->outcome : c.to;
      s.label = "scenario " + w->scenario + ": " + format_date(w->onset) + " \xE2\x80\x93 " +
                (w->outcome ? format_date(w->outcome) : std::string("no outcome"));
      c.spans.push_back(std::move(s));
    }
    out += svg::timeline_chart(c);
    out += "</div>";
  }

  const ReplayReportInput& in_;
  // account -> (rule, group) -> firing intervals; only accounts with a firing.
  std::map<std::string, std::map<RowKey, Row>> accounts_;
  std::map<std::string, RuleStats> rules_;
  std::map<std::string, std::vector<TimeMs>> firing_at_;  // rule -> firing times
  std::map<std::string, const ScenarioWindow*> truth_;
  std::size_t firings_ = 0;
  std::size_t resolutions_ = 0;
  int label_width_ = 0;  // px, of the timelines' row labels
};

}  // namespace

std::string format_ratio(double v) { return format_number(v, 3); }

std::string format_lead_days(double v) { return format_number(v, 0); }

std::string render_replay_report(const ReplayReportInput& in) { return ReplayReport(in).render(); }

}  // namespace kamwatch::report
