// `kamwatch report account ID`: the Strategic Business Review page of one account, from the
// state directory (read-only: works while the daemon runs), the rules and the portfolio.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "app/cli.h"
#include "app/commands.h"
#include "app/portfolio_attributes.h"
#include "core/clock.h"
#include "report/report.h"
#include "rules/rules.h"
#include "scoring/portfolio.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {
namespace {

constexpr const char* kReportHelp =
    R"(Usage: kamwatch report account ID [--data DIR] [--rules DIR] [--out FILE]

Renders a self-contained HTML page (inline SVG charts, no external assets) for a Strategic
Business Review: health score over time and what moved it, revenue by category and the
competitors' share, usage and seats, support load and SLA breaches, NPS/CSAT, meetings and
contacts, firing alerts, CLV and P(alive), and next steps from the firing rules' playbooks.
Reads the state directory without changing it (works while the daemon runs); the running
daemon serves the same page at GET /api/v1/accounts/{id}/report.

Flags:
  --data DIR     state directory (default: kamwatch-data)
  --rules DIR    rule files with the health scorecard (default: rules)
  --out FILE     where to write the page (default: standard output)

Example:
  kamwatch report account ACME-0007 --data /var/lib/kamwatch --rules /etc/kamwatch/rules \
      --out acme.html
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
  std::fprintf(stderr, "kamwatch: unknown report '%s'\n\n%s", args->positional[0].c_str(),
               kReportHelp);
  return 2;
}

}  // namespace kamwatch::app
