#pragma once
// The static plan of a simulated portfolio: each account's attributes (value, tier, KAM,
// seats, ordering habits, ...) and its injected scenario, drawn once before any event is
// generated. Internal to the simulator. Thread-safety: pure function, value types.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "sim/simulator.h"

namespace kamwatch::sim {

inline constexpr int kCategoryCount = 4;
inline constexpr std::string_view kCategories[kCategoryCount] = {"sensors", "gateways", "analytics",
                                                                 "services"};
inline constexpr int kCompetitorCount = 5;
inline constexpr std::string_view kCompetitors[kCompetitorCount] = {
    "Sensaro", "Vexa Systems", "Northbeam", "Quantia IoT", "Helix Networks"};
inline constexpr int kFeatureCount = 8;
inline constexpr std::string_view kFeatures[kFeatureCount] = {
    "dashboards", "alerts",       "reports", "api",
    "mobile_app", "rules_engine", "exports", "integrations"};

enum class Signal : std::uint8_t { kNone, kChurn, kCompetitor, kGrowth };

// Scenario symptoms, as bits; names in symptom_names().
enum Symptom : std::uint32_t {
  kUsageDecline = 1u << 0,
  kSeatDecline = 1u << 1,
  kTicketSurge = 1u << 2,
  kSlaBreaches = 1u << 3,
  kSentimentDecline = 1u << 4,
  kChampionLeft = 1u << 5,
  kMeetingsStop = 1u << 6,
  kLateInvoices = 1u << 7,
  kOrderSlowdown = 1u << 8,
  kDowngrade = 1u << 9,
  kCategoryShift = 1u << 10,
  kCompetitorMentions = 1u << 11,
  kLostDeals = 1u << 12,
  kSeatsFull = 1u << 13,
  kUsageGrowth = 1u << 14,
  kNewCategory = 1u << 15,
};
[[nodiscard]] std::vector<std::string> symptom_names(std::uint32_t symptoms);

struct ScenarioPlan {
  Signal signal = Signal::kNone;
  std::string name = "none";
  TimeMs onset = 0;    // midnight of the first affected day
  TimeMs outcome = 0;  // midnight of the outcome day
  std::string outcome_kind;
  std::uint32_t symptoms = 0;
  int category = -1;         // competitor: category lost; growth: new category
  int competitor = -1;       // competitor scenarios
  double usage_floor = 1.0;  // churn: usage on the outcome day relative to before onset
  TimeMs champion_left = 0;  // churn: day the champion leaves (kChampionLeft)
  TimeMs downgrade = 0;      // churn: day of the contract downgrade (kDowngrade)
  TimeMs ramp_end = 0;       // competitor/growth: day the shift is complete
  double growth_fill = 0;    // growth: used/licensed reached
};

struct AccountPlan {
  int index = 0;
  std::string id;
  std::string name;
  std::string kam;
  std::string industry;
  std::string region;      // EMEA, NA, APAC, LATAM
  std::string tier;        // strategic, key, standard
  std::string parent;      // parent account id, or empty
  int business_hour = 7;   // UTC hour the region's business day starts
  double value = 0;        // planned yearly revenue, EUR (subscription + orders)
  double arr = 0;          // subscription, EUR per year (the contract value)
  double order_value = 0;  // EUR per year from orders
  double order_rate = 0;   // orders per year
  std::array<double, kCategoryCount> share{};  // order value share; 0 = not bought
  int licensed = 0;
  double used0 = 0;         // seats assigned at the start
  double active_ratio = 0;  // weekday active users per assigned seat
  double drift = 0;         // yearly relative drift of assigned seats (healthy)
  double tickets_per_day = 0;
  double opps_per_year = 0;
  double nps_mean = 8;
  int incumbent = 0;  // the competitor seen in background mentions
  std::vector<int> features;
  int survey_offset = 0;  // days after the 15th of the survey month
  bool new_logo = false;
  TimeMs start = 0;    // first day of the account's history
  TimeMs renewal = 0;  // first renewal day after start
  ScenarioPlan scenario;
};

// Draws the portfolio for [start, end). Deterministic in options.seed.
[[nodiscard]] std::vector<AccountPlan> plan_portfolio(const SimOptions& options, TimeMs start,
                                                      TimeMs end);

}  // namespace kamwatch::sim
