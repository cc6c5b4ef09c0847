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

// The state directory (--data), read-only: works while the daemon runs.
Result<std::unique_ptr<state::RocksDbStore>> open_store(const std::string& data) {
  state::StoreOptions opts;
  opts.path = data;
  opts.read_only = true;
  opts.create_if_missing = false;
  auto store = state::RocksDbStore::open(opts);
  if (!store.ok())
    return Error{store.error().code,
                 "cannot open state directory '" + data + "': " + store.error().message};
  return store;
}

// The rule set of --rules (default "rules"); null when the default directory does not exist.
Result<std::shared_ptr<const rules::RuleSet>> load_rule_set(const Args& args) {
  const std::string dir = args.get("rules").value_or("rules");
  if (std::filesystem::exists(dir)) {
    auto loaded = rules::load_rules({dir});
    if (!loaded.errors.empty()) return Error{"rules", loaded.errors.front().to_string()};
    return loaded.rules;
  }
  if (args.get("rules")) return Error{"rules", "rules directory '" + dir + "' does not exist"};
  return std::shared_ptr<const rules::RuleSet>();
}

// Every account in the store and the portfolio figures over all of them (key set, rank, CLV,
// P(alive)): a page covering some accounts still ranks them within the whole portfolio.
struct ScoredPortfolio {
  std::vector<model::AccountState> states;
  Result<scoring::Portfolio> figures = Error{};
};

Result<ScoredPortfolio> score_all(state::RocksDbStore& store, TimeMs now) {
  ScoredPortfolio out;
  if (auto r = store.for_each_account([&](const model::AccountState& s) {
        out.states.push_back(s);
        return true;
      });
      !r.ok())
    return r.error();
  std::vector<const model::AccountState*> ptrs;
  for (const auto& s : out.states) ptrs.push_back(&s);
  out.figures = scoring::score_portfolio(ptrs, now);
  return out;
}

// The firing-alert index: every record that parses.
Result<std::vector<engine::AlertTransition>> read_alert_index(state::RocksDbStore& store) {
  auto records = store.active_alerts();
  if (!records.ok()) return records.error();
  std::vector<engine::AlertTransition> out;
  for (const std::string& record : *records)
    if (auto t = engine::parse_transition_json(record); t.ok()) out.push_back(std::move(t).value());
  return out;
}

// Writes the page to --out (saying so, with `what` and its size, on stderr) or to stdout.
int write_page(const Args& args, const std::string& html, const std::string& what) {
  if (auto out = args.get("out")) {
    std::ofstream f(*out);
    if (!(f << html)) return fail("cannot write " + *out);
    std::fprintf(stderr, "kamwatch: wrote %s (%s%zu bytes)\n", out->c_str(), what.c_str(),
                 html.size());
  } else {
    std::fwrite(html.data(), 1, html.size(), stdout);
  }
  return 0;
}

int report_account(const Args& args) {
  if (args.positional.size() != 2) {
    std::fprintf(stderr, "kamwatch: report account needs one account ID\n\n%s", kReportHelp);
    return 2;
  }
  const std::string& id = args.positional[1];
  const std::string data = args.get("data").value_or("kamwatch-data");
  auto store = open_store(data);
  if (!store.ok()) return fail(store.error().message);
  auto account = (*store)->get_account(id);
  if (!account.ok()) return fail(account.error().message);
  if (!account->has_value()) return fail("no account '" + id + "' in " + data);
  auto rule_set = load_rule_set(args);
  if (!rule_set.ok()) return fail(rule_set.error().message);

  // Portfolio figures need every account (key set, CLV); firing alerts come from the index.
  const TimeMs now = SystemClock().now();
  auto portfolio = score_all(**store, now);
  if (!portfolio.ok()) return fail(portfolio.error().message);
  report::AccountReportInput in(**account, rule_set->get(), now);
  if (portfolio->figures.ok())
    if (const auto* f = portfolio->figures->find(id)) in.attributes = attributes_of(*f);
  auto firing = read_alert_index(**store);
  if (!firing.ok()) return fail(firing.error().message);
  for (engine::AlertTransition& t : *firing)
    if (t.account == id) in.firing.push_back(std::move(t));
  return write_page(args, report::render_account_report(in), "");
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
  auto store = open_store(data);
  if (!store.ok()) return fail(store.error().message);
  auto rule_set = load_rule_set(args);
  if (!rule_set.ok()) return fail(rule_set.error().message);

  // Key set, rank, CLV and P(alive) over every account; the page shows the KAM's.
  const TimeMs now = SystemClock().now();
  auto scored = score_all(**store, now);
  if (!scored.ok()) return fail(scored.error().message);
  const std::vector<model::AccountState>& states = scored->states;
  const auto& portfolio = scored->figures;
  if (!portfolio.ok()) return fail("portfolio: " + portfolio.error().message);
  auto firing = read_alert_index(**store);
  if (!firing.ok()) return fail(firing.error().message);
  std::map<std::string, std::vector<engine::AlertTransition>> alerts;
  for (engine::AlertTransition& t : *firing)
    if (t.status == engine::AlertTransition::Status::kFiring)
      alerts[t.account].push_back(std::move(t));

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
    const AccountSummary sum = summarize(s, rule_set->get(), attributes, now, {}, nullptr);
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
  return write_page(args, report::render_portfolio_report(in),
                    std::to_string(in.accounts.size()) + " accounts, ");
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
