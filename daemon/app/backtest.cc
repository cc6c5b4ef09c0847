// Backtest scoring: replay transitions against a simulator's ground truth.
#include "app/backtest.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "ingest/json_object.h"
#include "scoring/portfolio.h"

namespace kamwatch::app {
namespace {

using report::ScenarioWindow;
using report::ScoreRow;

std::string text_of(const std::map<std::string, model::FieldValue>& m, const char* k) {
  auto it = m.find(k);
  return it != m.end() && it->second.is_string() ? it->second.text : std::string();
}

bool is_risk(std::string_view signal) { return signal == "churn" || signal == "competitor"; }

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ratio(std::size_t num, std::size_t den) {
  return den ? static_cast<double>(num) / static_cast<double>(den) : NAN;
}

}  // namespace

Result<BacktestScores> score_backtest(const std::string& truth_path,
                                      const std::vector<engine::AlertTransition>& transitions) {
  std::ifstream in(truth_path);
  if (!in) return Error{"truth_unreadable", "cannot open " + truth_path};
  std::map<std::string, ScenarioWindow> truth;  // account -> its record (the last one wins)
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto obj = ingest::parse_json_object(line);
    if (!obj.ok())
      return Error{"truth_invalid",
                   truth_path + ":" + std::to_string(n) + ": " + obj.error().message};
    ScenarioWindow t;
    t.account = text_of(*obj, "account");
    t.scenario = text_of(*obj, "scenario");
    t.signal = text_of(*obj, "signal");
    t.onset = parse_rfc3339(text_of(*obj, "onset")).value_or(0);
    t.outcome = parse_rfc3339(text_of(*obj, "outcome_time")).value_or(0);
    truth[t.account] = std::move(t);
  }
  // First firing per account and signal, restricted to each account's scenario window for
  // true positives; any firing of a risk signal on a healthy account is a false positive.
  std::map<std::string, std::map<std::string, TimeMs>> fired;  // account -> signal -> first
  std::map<std::string, std::map<std::string, TimeMs>> in_window;
  for (const auto& t : transitions) {
    if (t.status != engine::AlertTransition::Status::kFiring) continue;
    auto sig = t.labels.find("signal");
    if (sig == t.labels.end()) continue;
    auto& f = fired[t.account][sig->second];
    if (f == 0) f = t.at;
    auto tr = truth.find(t.account);
    if (tr == truth.end() || tr->second.onset == 0) continue;
    const TimeMs end = tr->second.outcome ? tr->second.outcome : t.at;
    if (t.at >= tr->second.onset && t.at <= end) {
      auto& w = in_window[t.account][sig->second];
      if (w == 0) w = t.at;
    }
  }
  // One account against a signal predicate: (in-window hit, first in-window firing, any firing).
  struct Outcome {
    bool hit = false;
    bool any = false;
    TimeMs first = 0;
  };
  const auto outcome = [&](const std::string& account, bool positive, auto accepts_signal) {
    Outcome o;
    if (auto it = in_window.find(account); it != in_window.end() && positive)
      for (const auto& [sig, first] : it->second)
        if (accepts_signal(sig)) {
          o.hit = true;
          o.first = o.first == 0 ? first : std::min(o.first, first);
        }
    if (auto it = fired.find(account); it != fired.end())
      for (const auto& [sig, first] : it->second) o.any |= accepts_signal(sig);
    return o;
  };
  BacktestScores scores;
  scores.truth_accounts = truth.size();
  const auto signal_row = [&](std::string label, std::string signal, auto accepts) {
    ScoreRow r;
    r.label = std::move(label);
    r.signal = std::move(signal);
    std::vector<double> leads;
    for (const auto& [account, t] : truth) {
      const bool positive = accepts(t.signal);
      r.scenario_accounts += positive;
      const Outcome o = outcome(account, positive, accepts);
      if (o.hit) {
        ++r.detected;
        if (t.outcome > o.first) leads.push_back(static_cast<double>(t.outcome - o.first) / kDayMs);
      }
      // An account counts as predicted when alerted; correct when it truly had the scenario
      // and the alert fell in its window.
      if (o.any) {
        ++r.alerted;
        r.correct += o.hit;
      }
    }
    r.recall = ratio(r.detected, r.scenario_accounts);
    r.precision = ratio(r.correct, r.alerted);
    r.lead_samples = leads.size();
    r.median_lead_days = median(std::move(leads));
    scores.signals.push_back(std::move(r));
  };
  signal_row("risk (churn or competitor)", "churn|competitor",
             [](const std::string& s) { return is_risk(s); });
  for (const char* sig : {"churn", "competitor", "growth"})
    signal_row(sig, sig, [sig](const std::string& s) { return s == sig; });

  // Per scenario: recall and lead time of the scenario's own signal.
  std::map<std::string, std::pair<ScoreRow, std::vector<double>>> by_scenario;
  for (const auto& [account, t] : truth) {
    if (t.onset == 0 || t.signal.empty() || t.signal == "none") continue;
    scores.truth.push_back(t);
    auto& [r, leads] = by_scenario[t.scenario];
    r.label = t.scenario;
    if (r.signal.empty()) r.signal = t.signal;
    ++r.scenario_accounts;
    const std::string& want = t.signal;
    const Outcome o = outcome(account, true, [&](const std::string& s) { return s == want; });
    if (o.hit) {
      ++r.detected;
      if (t.outcome > o.first) leads.push_back(static_cast<double>(t.outcome - o.first) / kDayMs);
    }
  }
  for (auto& [name, entry] : by_scenario) {
    auto& [r, leads] = entry;
    r.recall = ratio(r.detected, r.scenario_accounts);
    r.lead_samples = leads.size();
    r.median_lead_days = median(std::move(leads));
    scores.scenarios.push_back(std::move(r));
  }
  return scores;
}

std::string format_backtest_table(const BacktestScores& scores) {
  using report::format_lead_days;
  using report::format_ratio;
  std::string out =
      "\n| signal | accounts with scenario | detected | recall | alerted accounts | precision "
      "| median lead time (days) |\n|---|---|---|---|---|---|---|\n";
  for (const ScoreRow& r : scores.signals)
    out += "| " + r.label + " | " + std::to_string(r.scenario_accounts) + " | " +
           std::to_string(r.detected) + " | " + format_ratio(r.recall) + " | " +
           std::to_string(r.alerted) + " | " + format_ratio(r.precision) + " | " +
           format_lead_days(r.median_lead_days) + " |\n";
  if (!scores.scenarios.empty()) {
    out +=
        "\n| scenario | signal | accounts | detected | recall | median lead time (days) |\n"
        "|---|---|---|---|---|---|\n";
    for (const ScoreRow& r : scores.scenarios)
      out += "| " + r.label + " | " + r.signal + " | " + std::to_string(r.scenario_accounts) +
             " | " + std::to_string(r.detected) + " | " + format_ratio(r.recall) + " | " +
             format_lead_days(r.median_lead_days) + " |\n";
  }
  return out;
}

Result<std::string> score_against_truth(const std::string& truth_path,
                                        const std::vector<engine::AlertTransition>& transitions,
                                        const std::map<std::string, model::AccountState>&) {
  auto scores = score_backtest(truth_path, transitions);
  if (!scores.ok()) return scores.error();
  return format_backtest_table(*scores);
}

std::string portfolio_summary(const std::map<std::string, model::AccountState>& accounts,
                              TimeMs now) {
  std::vector<const model::AccountState*> states;
  for (const auto& [id, s] : accounts) states.push_back(&s);
  auto p = scoring::score_portfolio(states, now);
  if (!p.ok()) return "portfolio: " + p.error().message + "\n";
  const scoring::PortfolioSummary& s = p->summary;
  std::ostringstream out;
  char buf[256];
  out << "\nPortfolio at " << format_rfc3339(now) << ":\n\n| figure | value |\n|---|---|\n";
  std::snprintf(buf, sizeof buf, "| accounts (with revenue in 12 months) | %zu (%zu) |\n",
                s.accounts, s.accounts_with_revenue);
  out << buf;
  std::snprintf(
      buf, sizeof buf,
      "| key accounts (top 80%% of 12-month revenue) | %zu, %.1f%% of revenue, threshold %.0f |\n",
      s.key_accounts, 100 * s.key_revenue_share, s.key_threshold_revenue);
  out << buf;
  std::snprintf(buf, sizeof buf, "| revenue share of the top 20%% of accounts | %.1f%% |\n",
                100 * s.top_share);
  out << buf;
  if (s.retention) {
    std::snprintf(buf, sizeof buf,
                  "| retention / churn (last 12 months vs the 12 before) | %.1f%% / %.1f%% |\n",
                  100 * s.retention->retention, 100 * s.retention->churn);
    out << buf;
  }
  if (s.bgnbd) {
    const auto& b = s.bgnbd->params;
    std::snprintf(buf, sizeof buf,
                  "| BG/NBD fit (r, alpha, a, b) over %zu accounts | %.3f, %.3f, %.3f, %.3f |\n",
                  s.order_accounts, b.r, b.alpha, b.a, b.b);
    out << buf;
  } else if (s.bgnbd_error) {
    out << "| BG/NBD fit | " << s.bgnbd_error->message << " |\n";
  }
  std::vector<const scoring::AccountFigures*> by_clv;
  for (const auto& f : p->accounts)
    if (f.clv) by_clv.push_back(&f);
  std::sort(by_clv.begin(), by_clv.end(),
            [](const auto* a, const auto* b) { return *a->clv > *b->clv; });
  if (by_clv.empty()) {
    out << "\nCLV: not available for this portfolio (the BG/NBD expectation did not converge)\n";
    return out.str();
  }
  out << "\n| top accounts by CLV | rank | key | CLV | P(alive) |\n|---|---|---|---|---|\n";
  for (std::size_t i = 0; i < by_clv.size() && i < 5; ++i) {
    const auto& f = *by_clv[i];
    std::snprintf(buf, sizeof buf, "| %s | %lld | %s | %.0f | %.2f |\n", f.account.c_str(),
                  static_cast<long long>(f.rank), f.key ? "yes" : "no", *f.clv,
                  f.p_alive ? *f.p_alive : NAN);
    out << buf;
  }
  return out.str();
}

}  // namespace kamwatch::app
