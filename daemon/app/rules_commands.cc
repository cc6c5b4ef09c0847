// `kamwatch rules check|test` and `kamwatch replay`: rule tooling on files, no broker needed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "app/backtest.h"
#include "app/cli.h"
#include "app/commands.h"
#include "app/portfolio_attributes.h"
#include "engine/replay.h"
#include "engine/rule_test.h"
#include "ingest/decoder.h"
#include "report/replay_report.h"
#include "rules/rules.h"

namespace kamwatch::app {
namespace {

constexpr const char* kRulesHelp =
    R"(Usage: kamwatch rules check PATH... | kamwatch rules test FILE...

  check PATH...   load rule files (files or directories of *.yaml) as the daemon would and
                  report every problem as file:line:col: message; exit 1 on any error
  test FILE...    run rule unit tests (events in, expected alerts at given times out, like
                  promtool test rules); exit 1 when a test fails. Format: docs/rules.md

Examples:
  kamwatch rules check rules/
  kamwatch rules test rules/tests/*_test.yaml
)";

constexpr const char* kReplayHelp =
    R"(Usage: kamwatch replay --rules DIR --events FILE.jsonl --out FILE.jsonl [FLAGS]

Runs the rules over a history of events (CloudEvents JSON Lines, in time order) with a
clock driven by event time, and writes every alert transition as one JSON object per line:
{"status":"firing"|"resolved","alert":..,"account":..,"labels":{..},"at":"<event time>",..}.
Timers (no activity for 14 days, renewal within 90 days) are evaluated at every --tick of
event time. Use it to backtest a rule before it goes live.

Flags:
  --rules DIR|FILE   rule files (default: rules)
  --events FILE      events, JSON Lines ('-' = standard input)
  --out FILE         transitions, JSON Lines ('-' = standard output)
  --tick D           timer evaluation interval in event time (default 1d)
  --truth FILE       ground truth (from kamwatch simulate): print recall, precision, lead time
  --report FILE      write an HTML report: alerts per rule per week, a firing timeline per
                     alerted account and, with --truth, the same scores as the printed table
  --quiet            no progress or summary on stderr

Example:
  kamwatch simulate --accounts 300 --days 730 --out sim.jsonl --truth truth.jsonl
  kamwatch replay --rules rules --events sim.jsonl --out alerts.jsonl --truth truth.jsonl \
      --report replay.html
)";

bool wants_help(const Argv& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") return true;
  return false;
}

void print_diagnostics(const std::vector<rules::Diagnostic>& errors) {
  for (const auto& d : errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

int rules_check(const std::vector<std::string>& paths) {
  auto loaded = rules::load_rules(paths);
  if (!loaded.errors.empty()) {
    print_diagnostics(loaded.errors);
    std::fprintf(stderr, "kamwatch: %zu error(s); no rules loaded\n", loaded.errors.size());
    return 1;
  }
  std::printf("%zu file(s), %zu alert rule(s), %zu derived series; rule-set hash %s: ok\n",
              loaded.rules->files().size(), loaded.rules->alerts().size(),
              loaded.rules->series_specs().size(), loaded.rules->hash().c_str());
  return 0;
}

int rules_test(const std::vector<std::string>& files) {
  int failed = 0, passed = 0;
  for (const auto& f : files) {
    auto report = engine::run_rule_tests(f);
    for (const auto& line : report.lines) std::printf("%s\n", line.c_str());
    passed += report.passed;
    failed += report.failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int cmd_rules(const Argv& argv) {
  if (argv.empty() || wants_help(argv)) {
    std::fputs(kRulesHelp, argv.empty() ? stderr : stdout);
    return argv.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (rest.empty()) {
    std::fprintf(stderr, "kamwatch: rules %s needs at least one path\n\n%s", argv[0].c_str(),
                 kRulesHelp);
    return 2;
  }
  if (argv[0] == "check") return rules_check(rest);
  if (argv[0] == "test") return rules_test(rest);
  std::fprintf(stderr, "kamwatch: unknown rules subcommand '%s'\n\n%s", argv[0].c_str(),
               kRulesHelp);
  return 2;
}

int cmd_replay(const Argv& argv) {
  if (wants_help(argv)) {
    std::fputs(kReplayHelp, stdout);
    return 0;
  }
  auto args = parse_args(
      argv, FlagSpec{{"rules", "events", "out", "tick", "truth", "report"}, {"help", "quiet"}});
  if (!args.ok()) {
    std::fprintf(stderr, "kamwatch: %s\n\n%s", args.error().message.c_str(), kReplayHelp);
    return 2;
  }
  const auto events_path = args->get("events");
  const auto out_path = args->get("out");
  if (!events_path || !out_path) {
    std::fprintf(stderr, "kamwatch: replay needs --events and --out\n\n%s", kReplayHelp);
    return 2;
  }
  const bool quiet = args->has("quiet");
  engine::ReplayOptions options;
  if (auto t = args->get("tick")) {
    auto d = parse_duration(*t);
    if (!d || *d <= 0) {
      std::fprintf(stderr, "kamwatch: --tick takes a duration such as 1h or 1d\n");
      return 2;
    }
    options.tick = *d;
  }
  const std::string rules_path = args->get("rules").value_or("rules");
  auto loaded = rules::load_rules({rules_path});
  if (!loaded.errors.empty()) {
    print_diagnostics(loaded.errors);
    return 1;
  }
  std::ifstream in_file;
  std::istream* in = &std::cin;
  if (*events_path != "-") {
    in_file.open(*events_path);
    if (!in_file) {
      std::fprintf(stderr, "kamwatch: cannot open %s\n", events_path->c_str());
      return 1;
    }
    in = &in_file;
  }
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (*out_path != "-") {
    out_file.open(*out_path);
    if (!out_file) {
      std::fprintf(stderr, "kamwatch: cannot write %s\n", out_path->c_str());
      return 1;
    }
    out = &out_file;
  }

  engine::Replayer replayer(loaded.rules, options, portfolio_attributes_fn(30 * kDayMs));
  ingest::Decoder decoder;
  model::Event event;
  std::vector<engine::AlertTransition> transitions;
  std::vector<engine::AlertTransition> all;  // kept for --truth scoring and --report
  const auto report_path = args->get("report");
  const bool keep_all = args->get("truth").has_value() || report_path.has_value();
  TimeMs first_event = 0;
  std::map<std::string, std::pair<int, int>> per_rule;  // firing, resolved
  std::size_t lines = 0, applied = 0, invalid = 0, duplicates = 0, late = 0;
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  const bool show_progress = !quiet && isatty(STDERR_FILENO);
  std::string line;
  while (std::getline(*in, line)) {
    ++lines;
    if (line.empty()) continue;
    if (auto rej = decoder.decode_json(line, event)) {
      ++invalid;
      if (invalid <= 10)
        std::fprintf(stderr, "%s:%zu: %s: %s\n", events_path->c_str(), lines,
                     std::string(ingest::reason_code(rej->reason)).c_str(), rej->message.c_str());
      continue;
    }
    switch (replayer.feed(event, transitions)) {
      case engine::Replayer::Outcome::kApplied:
        ++applied;
        if (first_event == 0 || event.time < first_event) first_event = event.time;
        break;
      case engine::Replayer::Outcome::kDuplicate:
        ++duplicates;
        break;
      case engine::Replayer::Outcome::kLate:
        ++late;
        break;
    }
    for (auto& t : transitions) {
      *out << engine::transition_json(t) << '\n';
      auto& pr = per_rule[t.alert];
      (t.status == engine::AlertTransition::Status::kFiring ? pr.first : pr.second) += 1;
      if (keep_all) all.push_back(std::move(t));
    }
    transitions.clear();
    if (show_progress && (lines & 0xfff) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_progress > std::chrono::seconds(1)) {
        last_progress = now;
        std::fprintf(stderr, "\rreplay: %zu events, at %s", lines,
                     format_rfc3339(replayer.now()).c_str());
      }
    }
  }
  out->flush();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!quiet) {
    if (show_progress) std::fprintf(stderr, "\n");
    std::fprintf(stderr,
                 "replay: %zu lines, %zu applied, %zu invalid, %zu duplicates, %zu late in %.1f s "
                 "(%.0f events/s); %zu rule evaluations\n",
                 lines, applied, invalid, duplicates, late, secs,
                 static_cast<double>(lines) / std::max(secs, 1e-9), replayer.evaluations());
    for (const auto& [rule, c] : per_rule)
      std::fprintf(stderr, "replay:   %-32s %6d firing %6d resolved\n", rule.c_str(), c.first,
                   c.second);
  }
  if (!quiet && !replayer.accounts().empty())
    std::printf("%s", portfolio_summary(replayer.accounts(), replayer.now()).c_str());
  std::optional<BacktestScores> scores;
  if (auto truth = args->get("truth")) {
    auto scored = score_backtest(*truth, all);
    if (!scored.ok()) {
      std::fprintf(stderr, "kamwatch: %s\n", scored.error().message.c_str());
      return 1;
    }
    scores = std::move(*scored);
    std::printf("%s", format_backtest_table(*scores).c_str());
  }
  if (report_path) {
    report::ReplayReportInput r;
    r.transitions = all;
    r.from = first_event;
    r.to = replayer.now();
    r.scores = std::move(scores);
    for (const auto& [id, state] : replayer.accounts())
      if (auto it = state.profile.find("name"); it != state.profile.end() && it->second.is_string())
        r.account_names[id] = it->second.text;
    r.rules = rules_path + " (rule set " + loaded.rules->hash() + ")";
    r.events = *events_path;
    r.events_applied = applied;
    std::ofstream html(*report_path, std::ios::binary | std::ios::trunc);
    html << report::render_replay_report(r);
    html.close();
    if (!html) {
      std::fprintf(stderr, "kamwatch: cannot write %s\n", report_path->c_str());
      return 1;
    }
    if (!quiet) std::fprintf(stderr, "replay: report written to %s\n", report_path->c_str());
  }
  if (!out->good()) {
    std::fprintf(stderr, "kamwatch: writing %s failed\n", out_path->c_str());
    return 1;
  }
  return 0;
}

}  // namespace kamwatch::app
