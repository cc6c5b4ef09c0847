// `kamwatch simulate`: a realistic portfolio as CloudEvents JSON Lines, with ground truth.
#include <cstdio>

#include "app/cli.h"
#include "app/commands.h"
#include "sim/simulator.h"

namespace kamwatch::app {
namespace {

constexpr const char* kSimulateHelp =
    R"(Usage: kamwatch simulate --out FILE.jsonl [--truth FILE.jsonl] [FLAGS]

Generates a realistic key-account portfolio as CloudEvents JSON Lines in event-time order:
Pareto-distributed revenue, weekly and seasonal usage, orders, invoices, tickets, surveys,
meetings and contacts, with healthy noise (usage dips, ticket bursts, late invoices), and
injected churn, competitor and growth scenarios. The ground truth (one JSON object per
account: scenario, signal, onset, outcome) lets `kamwatch replay --truth` measure rules.

Flags:
  --out FILE          events ('-' = standard output)
  --truth FILE        ground truth
  --accounts N        accounts (default 300)
  --days N            days of history (default 730)
  --seed N            random seed (default 1); same seed, same bytes
  --churn F           share of accounts with a churn scenario (default 0.12)
  --competitor F      share with a competitor scenario (default 0.10)
  --growth F          share with a growth scenario (default 0.10)
  --noise F           scale of healthy noise, 0..10 (default 1)
  --end DATE          end of the history, YYYY-MM-DD (default 2026-06-30)

Example:
  kamwatch simulate --accounts 300 --days 730 --out sim.jsonl --truth truth.jsonl
)";

}  // namespace

int cmd_simulate(const Argv& argv) {
  auto args = parse_args(argv, FlagSpec{{"out", "truth", "accounts", "days", "seed", "churn",
                                         "competitor", "growth", "noise", "end"},
                                        {"help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "kamwatch: %s\n\n%s", args.error().message.c_str(), kSimulateHelp);
    return 2;
  }
  if (args->has("help")) {
    std::fputs(kSimulateHelp, stdout);
    return 0;
  }
  const auto out = args->get("out");
  if (!out) {
    std::fprintf(stderr, "kamwatch: simulate needs --out\n\n%s", kSimulateHelp);
    return 2;
  }
  sim::SimOptions o;
  try {
    if (auto v = args->get("accounts")) o.accounts = std::stoi(*v);
    if (auto v = args->get("days")) o.days = std::stoi(*v);
    if (auto v = args->get("seed")) o.seed = std::stoull(*v);
    if (auto v = args->get("churn")) o.churn_fraction = std::stod(*v);
    if (auto v = args->get("competitor")) o.competitor_fraction = std::stod(*v);
    if (auto v = args->get("growth")) o.growth_fraction = std::stod(*v);
    if (auto v = args->get("noise")) o.noise = std::stod(*v);
  } catch (const std::exception&) {
    std::fprintf(stderr, "kamwatch: a numeric flag has a value that is not a number\n");
    return 2;
  }
  if (auto v = args->get("end")) {
    auto d = parse_date(*v);
    if (!d) {
      std::fprintf(stderr, "kamwatch: --end takes a date YYYY-MM-DD\n");
      return 2;
    }
    o.end = *d;
  }
  auto stats = sim::write_jsonl(*out, o, args->get("truth").value_or(""));
  if (!stats.ok()) {
    std::fprintf(stderr, "kamwatch: %s\n", stats.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "simulate: %llu events for %d accounts, %s .. %s\n",
               static_cast<unsigned long long>(stats->events), stats->accounts,
               format_rfc3339(stats->start).c_str(), format_rfc3339(stats->end).c_str());
  return 0;
}

}  // namespace kamwatch::app
