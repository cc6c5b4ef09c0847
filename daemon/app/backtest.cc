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

struct Truth {
  std::string scenario, signal;
  TimeMs onset = 0, outcome = 0;
};

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

}  // namespace

Result<std::string> score_against_truth(const std::string& truth_path,
                                        const std::vector<engine::AlertTransition>& transitions,
                                        const std::map<std::string, model::AccountState>&) {
  std::ifstream in(truth_path);
  if (!in) return Error{"truth_unreadable", "cannot open " + truth_path};
  std::map<std::string, Truth> truth;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto obj = ingest::parse_json_object(line);
    if (!obj.ok())
      return Error{"truth_invalid",
                   truth_path + ":" + std::to_string(n) + ": " + obj.error().message};
    Truth t;
    t.scenario = text_of(*obj, "scenario");
    t.signal = text_of(*obj, "signal");
    t.onset = parse_rfc3339(text_of(*obj, "onset")).value_or(0);
    t.outcome = parse_rfc3339(text_of(*obj, "outcome_time")).value_or(0);
    truth[text_of(*obj, "account")] = t;
  }
  // First firing per account and signal, restricted to each account's scenario window for
  // true positives; any firing of a risk signal on a healthy account is a false positive.
  struct Hit {
    TimeMs first = 0;
    std::string alert;
  };
  std::map<std::string, std::map<std::string, Hit>> fired;  // account -> signal -> first firing
  std::map<std::string, std::map<std::string, Hit>> in_window;
  for (const auto& t : transitions) {
    if (t.status != engine::AlertTransition::Status::kFiring) continue;
    auto sig = t.labels.find("signal");
    if (sig == t.labels.end()) continue;
    auto& f = fired[t.account][sig->second];
    if (f.first == 0) f = {t.at, t.alert};
    auto tr = truth.find(t.account);
    if (tr == truth.end() || tr->second.onset == 0) continue;
    const TimeMs end = tr->second.outcome ? tr->second.outcome : t.at;
    if (t.at >= tr->second.onset && t.at <= end) {
      auto& w = in_window[t.account][sig->second];
      if (w.first == 0) w = {t.at, t.alert};
    }
  }
  std::ostringstream out;
  char buf[256];
  out << "\n| signal | accounts with scenario | detected | recall | alerted accounts | precision "
         "| median lead time (days) |\n|---|---|---|---|---|---|---|\n";
  auto row = [&](const std::string& label, auto accepts_truth, auto accepts_signal) {
    std::size_t positives = 0, detected = 0, predicted = 0, correct = 0;
    std::vector<double> leads;
    for (const auto& [account, t] : truth) {
      const bool positive = accepts_truth(t.signal);
      positives += positive;
      bool hit = false, any = false;
      TimeMs first = 0;
      if (auto it = in_window.find(account); it != in_window.end() && positive)
        for (const auto& [sig, h] : it->second)
          if (accepts_signal(sig)) {
            hit = true;
            first = first == 0 ? h.first : std::min(first, h.first);
          }
      if (auto it = fired.find(account); it != fired.end())
        for (const auto& [sig, h] : it->second) any |= accepts_signal(sig);
      if (hit) {
        ++detected;
        if (t.outcome > first) leads.push_back(static_cast<double>(t.outcome - first) / kDayMs);
      }
      // An account counts as predicted when alerted; correct when it truly had the scenario
      // and the alert fell in its window.
      if (any) {
        ++predicted;
        correct += hit;
      }
    }
    std::snprintf(buf, sizeof buf, "| %s | %zu | %zu | %.3f | %zu | %.3f | %.0f |\n", label.c_str(),
                  positives, detected,
                  positives ? static_cast<double>(detected) / static_cast<double>(positives) : NAN,
                  predicted,
                  predicted ? static_cast<double>(correct) / static_cast<double>(predicted) : NAN,
                  median(leads));
    out << buf;
  };
  row(
      "risk (churn or competitor)", [](const std::string& s) { return is_risk(s); },
      [](const std::string& s) { return is_risk(s); });
  row(
      "churn", [](const std::string& s) { return s == "churn"; },
      [](const std::string& s) { return s == "churn"; });
  row(
      "competitor", [](const std::string& s) { return s == "competitor"; },
      [](const std::string& s) { return s == "competitor"; });
  row(
      "growth", [](const std::string& s) { return s == "growth"; },
      [](const std::string& s) { return s == "growth"; });
  return out.str();
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
