#include <gtest/gtest.h>

#include "engine/alert.h"
#include "engine/evaluator.h"
#include "engine/replay.h"

namespace kamwatch::engine {
namespace {

using Status = AlertTransition::Status;

rules::RuleResult verdict(bool active, bool resolve) {
  rules::RuleResult r;
  r.status = active ? rules::RuleResult::Status::kTrue : rules::RuleResult::Status::kFalse;
  r.resolve = resolve;
  return r;
}

TEST(Lifecycle, FiresAtOnceWithoutHold) {
  model::AlertState s;
  EXPECT_EQ(step(s, verdict(true, false), 0, 0, 100), Status::kFiring);
  EXPECT_EQ(s.phase, model::AlertState::Phase::kFiring);
  EXPECT_EQ(s.fired_at, 100);
}

TEST(Lifecycle, PendingUntilTheConditionHeldForTheHold) {
  model::AlertState s;
  EXPECT_EQ(step(s, verdict(true, false), kDayMs, 0, 0), std::nullopt);
  EXPECT_EQ(s.phase, model::AlertState::Phase::kPending);
  EXPECT_EQ(step(s, verdict(true, false), kDayMs, 0, kDayMs - 1), std::nullopt);
  EXPECT_EQ(step(s, verdict(true, false), kDayMs, 0, kDayMs), Status::kFiring);
}

TEST(Lifecycle, PendingIsDroppedWhenTheConditionBreaks) {
  model::AlertState s;
  (void)step(s, verdict(true, false), kDayMs, 0, 0);
  EXPECT_EQ(step(s, verdict(false, true), kDayMs, 0, 1), std::nullopt);
  EXPECT_EQ(s.phase, model::AlertState::Phase::kInactive);
  // It has to hold a full day again.
  (void)step(s, verdict(true, false), kDayMs, 0, 2);
  EXPECT_EQ(step(s, verdict(true, false), kDayMs, 0, kDayMs), std::nullopt);
}

TEST(Lifecycle, HysteresisKeepsFiringUntilTheResolveConditionHolds) {
  model::AlertState s;
  (void)step(s, verdict(true, false), 0, 0, 0);
  // Condition false but resolve condition not yet true: still firing.
  EXPECT_EQ(step(s, verdict(false, false), 0, 0, 10), std::nullopt);
  EXPECT_EQ(s.phase, model::AlertState::Phase::kFiring);
  EXPECT_EQ(step(s, verdict(false, true), 0, 0, 20), Status::kResolved);
  EXPECT_EQ(s.phase, model::AlertState::Phase::kInactive);
}

TEST(Lifecycle, KeepFiringForDelaysTheResolution) {
  model::AlertState s;
  (void)step(s, verdict(true, false), 0, kDayMs, 0);
  EXPECT_EQ(step(s, verdict(false, true), 0, kDayMs, 100), std::nullopt);
  // Flapping back to true restarts the wait.
  EXPECT_EQ(step(s, verdict(true, false), 0, kDayMs, 200), std::nullopt);
  EXPECT_EQ(step(s, verdict(false, true), 0, kDayMs, 300), std::nullopt);
  EXPECT_EQ(step(s, verdict(false, true), 0, kDayMs, 300 + kDayMs - 1), std::nullopt);
  EXPECT_EQ(step(s, verdict(false, true), 0, kDayMs, 300 + kDayMs), Status::kResolved);
}

TEST(Fingerprint, StableAndDistinct) {
  EXPECT_EQ(fingerprint("UsageDecline", "A", ""), fingerprint("UsageDecline", "A", ""));
  EXPECT_NE(fingerprint("UsageDecline", "A", ""), fingerprint("UsageDecline", "B", ""));
  EXPECT_NE(fingerprint("R", "A", "sensors"), fingerprint("R", "A", "gateways"));
  EXPECT_EQ(fingerprint("UsageDecline", "A", "").size(), 16u);
}

std::shared_ptr<const rules::RuleSet> load(const std::string& yaml) {
  auto r = rules::load_rules_from_strings({{"t.yaml", yaml}});
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  return r.rules;
}

model::Event event(const std::string& id, const std::string& type, TimeMs t,
                   std::vector<model::Field> data = {}) {
  return model::Event{id, "test", type, "A", t, std::move(data)};
}

const TimeMs kT0 = *parse_rfc3339("2026-01-01T00:00:00Z");

TEST(Replayer, TimersFireTimeDrivenRulesWithoutNewEvents) {
  auto rules = load(R"(
alerts:
  - alert: Quiet
    expr: since(usage.activity) > 3d
    labels: {signal: churn}
    summary: "quiet for {{ fmt(since(usage.activity) / 1d, 0) }} days"
)");
  ASSERT_TRUE(rules);
  Replayer r(rules, {});
  std::vector<AlertTransition> out;
  EXPECT_EQ(
      r.feed(event("1", "usage.activity", kT0, {{"active_users", model::FieldValue::of_number(5)}}),
             out),
      Replayer::Outcome::kApplied);
  r.advance_to(kT0 + 2 * kDayMs, out);
  EXPECT_TRUE(out.empty());
  r.advance_to(kT0 + 5 * kDayMs, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, Status::kFiring);
  EXPECT_EQ(out[0].at, kT0 + 4 * kDayMs);  // the first daily tick after three quiet days
  EXPECT_EQ(out[0].labels.at("signal"), "churn");
  EXPECT_EQ(out[0].labels.at("alertname"), "Quiet");
  EXPECT_EQ(out[0].annotations.at("summary"), "quiet for 4 days");
  // Activity resolves it, with the labels it fired with.
  out.clear();
  r.feed(event("2", "usage.activity", kT0 + 5 * kDayMs + 1), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, Status::kResolved);
  EXPECT_EQ(out[0].labels.at("signal"), "churn");
}

TEST(Replayer, DuplicatesAndLateEventsAreNotApplied) {
  auto rules = load("alerts: []\n");
  ReplayOptions o;
  o.late_grace = kDayMs;
  Replayer r(rules, o);
  std::vector<AlertTransition> out;
  EXPECT_EQ(r.feed(event("1", "sales.order", kT0 + 10 * kDayMs), out), Replayer::Outcome::kApplied);
  EXPECT_EQ(r.feed(event("1", "sales.order", kT0 + 10 * kDayMs), out),
            Replayer::Outcome::kDuplicate);
  EXPECT_EQ(r.feed(event("2", "sales.order", kT0), out), Replayer::Outcome::kLate);
  EXPECT_EQ(r.accounts().at("A").types.at("sales.order").count, 1);
}

TEST(Evaluator, RemovedRulesAreResolvedWithTheirFiringLabels) {
  auto v1 = load(R"(
alerts:
  - alert: Orders
    expr: count(sales.order, 30d) >= 1
    labels: {signal: growth, team: east}
    summary: "ordered"
)");
  auto v2 = load("alerts: []\n");
  ASSERT_TRUE(v1 && v2);
  model::AccountState a;
  model::apply(a, event("1", "sales.order", kT0), {}, &v1->series_specs());
  std::vector<AlertTransition> out;
  evaluate_account(*v1, a, {}, kT0, {}, nullptr, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, Status::kFiring);
  out.clear();
  evaluate_account(*v2, a, {}, kT0 + 1, {}, nullptr, out);
  ASSERT_EQ(out.size(), 1u) << "a removed rule must not stay firing";
  EXPECT_EQ(out[0].status, Status::kResolved);
  EXPECT_EQ(out[0].labels.at("team"), "east");
  EXPECT_TRUE(a.alerts.empty());
}

TEST(Evaluator, OnlyRulesReadingTheChangedTypeRun) {
  auto rs = load(R"(
alerts:
  - alert: Orders
    expr: count(sales.order, 30d) >= 1
    labels: {signal: growth}
    summary: "ordered"
  - alert: Tickets
    expr: count(support.ticket, 30d) >= 1
    labels: {signal: churn}
    summary: "ticket"
)");
  ASSERT_TRUE(rs);
  model::AccountState a;
  model::apply(a, event("1", "sales.order", kT0), {}, &rs->series_specs());
  std::vector<AlertTransition> out;
  const std::vector<std::string_view> types = {"sales.order"};
  EXPECT_EQ(evaluate_account(*rs, a, {}, kT0, {}, &types, out), 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert, "Orders");
}

}  // namespace
}  // namespace kamwatch::engine

namespace kamwatch::engine {
namespace {

TEST(TransitionJson, RoundTripsEveryField) {
  AlertTransition t;
  t.status = AlertTransition::Status::kResolved;
  t.alert = "CsatDecline";
  t.account = "acme \"quoted\"";
  t.group = "analytics";
  t.at = 1'767'225'600'000;
  t.starts_at = t.at - kDayMs;
  t.value = 2.5;
  t.labels = {{"alertname", "CsatDecline"}, {"severity", "warning"}};
  t.annotations = {{"summary", "CSAT \u00e0 2.5\n"}};
  t.evidence = {{"avg", 2.5}, {"missing", NAN}};
  t.fingerprint = fingerprint(t.alert, t.account, t.group);
  auto back = parse_transition_json(transition_json(t));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->status, t.status);
  EXPECT_EQ(back->alert, t.alert);
  EXPECT_EQ(back->account, t.account);
  EXPECT_EQ(back->group, t.group);
  EXPECT_EQ(back->at, t.at);
  EXPECT_EQ(back->starts_at, t.starts_at);
  EXPECT_EQ(back->value, 2.5);
  EXPECT_EQ(back->labels, t.labels);
  EXPECT_EQ(back->annotations, t.annotations);
  ASSERT_EQ(back->evidence.size(), 2u);
  EXPECT_EQ(back->evidence[0].second, 2.5);
  EXPECT_TRUE(std::isnan(back->evidence[1].second));
  EXPECT_EQ(back->fingerprint, t.fingerprint);
}

TEST(TransitionJson, RejectsGarbageWithAReason) {
  EXPECT_EQ(parse_transition_json("not json").error().code, "invalid_transition");
  EXPECT_EQ(parse_transition_json(R"({"status":"maybe"})").error().code, "invalid_transition");
  EXPECT_FALSE(parse_transition_json(R"({"status":"firing","alert":"A","account":"x"})").ok());
}

}  // namespace
}  // namespace kamwatch::engine

#include <google/protobuf/util/json_util.h>

#include "proto/alerts.pb.h"

namespace kamwatch::engine {
namespace {

// proto/alerts.proto documents the alerts-topic JSON: kamwatch's output must parse with it,
// with no field the schema does not know.
TEST(TransitionJson, MatchesTheProtoSchema) {
  AlertTransition t;
  t.alert = "SeatsNearlyFull";
  t.account = "acme";
  t.group = "";
  t.at = 1'767'225'600'000;
  t.starts_at = t.at;
  t.value = 0.93;
  t.labels = {{"alertname", "SeatsNearlyFull"}, {"signal", "growth"}};
  t.annotations = {{"summary", "93% of seats in use"}};
  t.evidence = {{"utilisation", 0.93}};
  t.fingerprint = fingerprint(t.alert, t.account, t.group);
  kamwatch::alerts::v1::AlertTransition msg;
  google::protobuf::util::JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(transition_json(t), &msg, strict);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(msg.status(), "firing");
  EXPECT_EQ(msg.account(), "acme");
  EXPECT_EQ(msg.labels().at("signal"), "growth");
  EXPECT_DOUBLE_EQ(msg.evidence().at("utilisation"), 0.93);
  EXPECT_EQ(msg.fingerprint(), t.fingerprint);
  EXPECT_EQ(msg.starts_at(), "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace kamwatch::engine
