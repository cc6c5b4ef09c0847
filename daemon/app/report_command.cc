// `kamwatch report account ID`: the Strategic Business Review page of one account, from the
// state directory (read-only: works while the daemon runs), the rules and the portfolio.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/account_view.h"
#include "app/cli.h"
#include "app/commands.h"
#include "app/portfolio_attributes.h"
#include "core/clock.h"
#include "report/figures.h"
#include "report/portfolio_report.h"
#include "report/report.h"
#include "rules/rules.h"
#include "scoring/portfolio.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

constexpr const char* kReportHelp =
    R"(Usage: kamwatch report account ID [--data DIR] [--rules DIR] [--out FILE]
       kamwatch report portfolio [--data DIR] [--rules DIR] [--kam EMAIL] [--out FILE]

account: renders a self-contained HTML page (inline SVG charts, no external assets) for a
Strategic Business Review: health score over time and what moved it, revenue by category and the
competitors' share, usage and seats, support load and SLA breaches, NPS/CSAT, meetings and
contacts, firing alerts, CLV and P(alive), and next steps from the firing rules' playbooks.
Reads the state directory without changing it (works while the daemon runs); the running
daemon serves the same page at GET /api/v1/accounts/{id}/report.

portfolio: a Key Account Manager's accounts on one self-contained HTML page: ranked by risk
(firing churn and competitor alerts, lowest health score) and by opportunity (growth alerts,
CLV), the revenue concentration as a Pareto chart, and a table of every account (tier, health
band and score, trailing 12-month revenue, CLV, P(alive), firing alerts). Key accounts, CLV and
P(alive) are computed over the whole portfolio; without --kam the page covers every account.

Flags:
  --data DIR     state directory (default: kamwatch-data)
  --rules DIR    rule files with the health scorecard (default: rules)
  --kam EMAIL    portfolio: only the accounts this KAM manages (the profile's kam, any case)
  --out FILE     where to write the page (default: standard output)

Examples:
  kamwatch report account ACME-0007 --data /var/lib/kamwatch --rules /etc/kamwatch/rules \
      --out acme.html
  kamwatch report portfolio --data /var/lib/kamwatch --kam jane.doe@example.com --out jane.html
)";

int fail(const std::string& message) {
  std::fprintf(stderr, "kamwatch: %s\n", message.c_str());
  return 1;
}

int report_account(const Args& args) {
  if (args.positional.size() != 2) {
    std::fprintf(stderr, "kamwatch: report account needs one account ID\n\n%s", kReportHelp);
    return 2;
  }
  const std::string& id = args.positional[1];
  const std::string data = args.get("data").value_or("kamwatch-data");
  state::StoreOptions opts;
  opts.path = data;
  opts.read_only = true;
  opts.create_if_missing = false;
  auto store = state::RocksDbStore::open(opts);
  if (!store.ok())
    return fail("cannot open state directory '" + data + "': " + store.error().message);
  auto account = (*store)->get_account(id);
  if (!account.ok()) return fail(account.error().message);
  if (!account->has_value()) return fail("no account '" + id + "' in " + data);

  std::shared_ptr<const rules::RuleSet> rule_set;
  const std::string dir = args.get("rules").value_or("rules");
  if (std::filesystem::exists(dir)) {
    auto loaded = rules::load_rules({dir});
    if (!loaded.errors.empty()) return fail(loaded.errors.front().to_string());
    rule_set = loaded.rules;
  } else if (args.get("rules")) {
    return fail("rules directory '" + dir + "' does not exist");
  }

  // Portfolio figures need every account (key set, CLV); firing alerts come from the index.
  const TimeMs now = SystemClock().now();
  std::vector<model::AccountState> states;
  if (auto r = (*store)->for_each_account([&](const model::AccountState& s) {
        states.push_back(s);
        return true;
      });
      !r.ok())
    return fail(r.error().message);
  std::vector<const model::AccountState*> ptrs;
  for (const auto& s : states) ptrs.push_back(&s);
  report::AccountReportInput in(**account, rule_set.get(), now);
  if (auto p = scoring::score_portfolio(ptrs, now); p.ok())
    if (const auto* f = p->find(id)) in.attributes = attributes_of(*f);
  auto firing = (*store)->active_alerts();
  if (!firing.ok()) return fail(firing.error().message);
  for (const std::string& record : *firing) {
    auto t = engine::parse_transition_json(record);
    if (t.ok() && t->account == id) in.firing.push_back(std::move(t).value());
  }
  const std::string html = report::render_account_report(in);
  if (auto out = args.get("out")) {
    std::ofstream f(*out);
    if (!(f << html)) return fail("cannot write " + *out);
    std::fprintf(stderr, "kamwatch: wrote %s (%zu bytes)\n", out->c_str(), html.size());
  } else {
    std::fwrite(html.data(), 1, html.size(), stdout);
  }
  return 0;
}

bool same_email(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

int report_portfolio(const Args& args) {
  if (args.positional.size() != 1) {
    std::fprintf(stderr, "kamwatch: report portfolio takes no positional argument\n\n%s",
                 kReportHelp);
    return 2;
  }
  const std::string data = args.get("data").value_or("kamwatch-data");
  state::StoreOptions opts;
  opts.path = data;
  opts.read_only = true;
  opts.create_if_missing = false;
  auto store = state::RocksDbStore::open(opts);
  if (!store.ok())
    return fail("cannot open state directory '" + data + "': " + store.error().message);

  std::shared_ptr<const rules::RuleSet> rule_set;
  const std::string dir = args.get("rules").value_or("rules");
  if (std::filesystem::exists(dir)) {
    auto loaded = rules::load_rules({dir});
    if (!loaded.errors.empty()) return fail(loaded.errors.front().to_string());
    rule_set = loaded.rules;
  } else if (args.get("rules")) {
    return fail("rules directory '" + dir + "' does not exist");
  }

  // Key set, rank, CLV and P(alive) over every account; the page shows the KAM's.
  const TimeMs now = SystemClock().now();
  std::vector<model::AccountState> states;
  if (auto r = (*store)->for_each_account([&](const model::AccountState& s) {
        states.push_back(s);
        return true;
      });
      !r.ok())
    return fail(r.error().message);
  std::vector<const model::AccountState*> ptrs;
  for (const auto& s : states) ptrs.push_back(&s);
  auto portfolio = scoring::score_portfolio(ptrs, now);
  if (!portfolio.ok()) return fail("portfolio: " + portfolio.error().message);
  auto firing = (*store)->active_alerts();
  if (!firing.ok()) return fail(firing.error().message);
  std::map<std::string, std::vector<engine::AlertTransition>> alerts;
  for (const std::string& record : *firing) {
    auto t = engine::parse_transition_json(record);
    if (t.ok() && t->status == engine::AlertTransition::Status::kFiring)
      alerts[t->account].push_back(std::move(t).value());
  }

  report::PortfolioReportInput in;
  in.kam = args.get("kam").value_or("");
  in.now = now;
  std::string currency;
  bool one_currency = true;
  for (const model::AccountState& s : states) {
    const std::string kam = [&] {
      auto it = s.profile.find("kam");
      return it == s.profile.end() ? std::string() : model::field_value_text(it->second);
    }();
    if (!in.kam.empty() && !same_email(kam, in.kam)) continue;
    const scoring::AccountFigures* f = portfolio->find(s.id);
    const rules::AccountAttributes attributes = f ? attributes_of(*f) : rules::AccountAttributes{};
    const AccountSummary sum = summarize(s, rule_set.get(), attributes, now, {}, nullptr);
    report::PortfolioAccount a;
    a.id = s.id;
    a.name = sum.name;
    a.kam = sum.kam;
    a.tier = sum.tier;
    a.key_account = sum.key_account;
    a.score = sum.score;
    a.band = sum.band;
    if (f) {
      a.revenue = f->revenue;
      a.revenue_rank = f->rank;
      a.clv = f->clv.value_or(NAN);
      a.p_alive = f->p_alive.value_or(NAN);
    }
    if (auto it = alerts.find(s.id); it != alerts.end()) a.firing = std::move(it->second);
    // Amounts get the orders' currency when every account orders in the same one.
    if (const model::TypeStats* ts = report::type_stats(s, "sales.order")) {
      auto c = ts->last_values.find("currency");
      if (c != ts->last_values.end() && c->second.is_string() && !c->second.text.empty()) {
        if (currency.empty()) currency = c->second.text;
        one_currency &= currency == c->second.text;
      }
    }
    in.accounts.push_back(std::move(a));
  }
  if (one_currency && !currency.empty()) in.options.currency = currency + " ";
  if (!in.kam.empty() && in.accounts.empty())
    std::fprintf(stderr, "kamwatch: no account in %s is managed by %s\n", data.c_str(),
                 in.kam.c_str());
  const std::string html = report::render_portfolio_report(in);
  if (auto out = args.get("out")) {
    std::ofstream f(*out);
    if (!(f << html)) return fail("cannot write " + *out);
    std::fprintf(stderr, "kamwatch: wrote %s (%zu accounts, %zu bytes)\n", out->c_str(),
                 in.accounts.size(), html.size());
  } else {
    std::fwrite(html.data(), 1, html.size(), stdout);
  }
  return 0;
}

}  // namespace

int cmd_report(const Argv& argv) {
  auto args = parse_args(argv, FlagSpec{{"data", "rules", "out", "kam"}, {"help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "kamwatch: %s\n\n%s", args.error().message.c_str(), kReportHelp);
    return 2;
  }
  if (args->has("help") || args->positional.empty()) {
    std::fputs(kReportHelp, args->has("help") ? stdout : stderr);
    return args->has("help") ? 0 : 2;
  }
  if (args->positional[0] == "account") return report_account(*args);
  if (args->positional[0] == "portfolio") return report_portfolio(*args);
  std::fprintf(stderr, "kamwatch: unknown report '%s'\n\n%s", args->positional[0].c_str(),
               kReportHelp);
  return 2;
}

}  // namespace kamwatch::app
