#pragma once
// Generates one account's events day by day from its plan: the healthy behaviour with its
// weekly and seasonal rhythm and noise, with the injected scenario layered on top.
// Thread-safety: one AccountSim per account, driven by one thread.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/calendar.h"
#include "sim/event_queue.h"
#include "sim/event_writer.h"
#include "sim/portfolio.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace kamwatch::sim {

class AccountSim {
 public:
  AccountSim(AccountPlan plan, double noise, std::uint64_t seed);

  // Generates the account's events of one day (days must come in increasing order). Events
  // with later times (invoices, resolutions, ...) go into the queue for their day.
  void run_day(const DayInfo& day, EventWriter& w, EventQueue& q);

  [[nodiscard]] GroundTruth truth() const;
  [[nodiscard]] const AccountPlan& plan() const { return plan_; }

 private:
  struct Opportunity {
    TimeMs close = 0;
    int category = 0;
    double amount = 0;
    bool scenario = false;  // opened because of the injected scenario
    bool forced_win = false;
  };
  struct MeetingTrack {
    std::string_view kind;
    double period_days = 90;
    double exec_share = 0;  // probability the meeting is at exec level
    TimeMs next = 0;
  };

  // Helpers; `d` is the current day.
  TimeMs business_time(const DayInfo& d);
  void emit(EventQueue& q, EventWriter& w, TimeMs t);
  void profile(const DayInfo& d, EventWriter& w, EventQueue& q, TimeMs t);
  void contract(EventWriter& w, EventQueue& q, TimeMs t, std::string_view action,
                std::string_view reason);
  void renew(const DayInfo& d, EventWriter& w, EventQueue& q);
  void invoice(EventWriter& w, EventQueue& q, TimeMs issued, double amount,
               std::string_view order_id);
  void usage(const DayInfo& d, EventWriter& w, EventQueue& q);
  void orders(const DayInfo& d, EventWriter& w, EventQueue& q);
  double gamma3();  // Gamma(shape 3, mean 1)
  TimeMs order(const DayInfo& d, EventWriter& w, EventQueue& q, int category);  // its time
  void opportunities(const DayInfo& d, EventWriter& w, EventQueue& q);
  void competitor_mentions(const DayInfo& d, EventWriter& w, EventQueue& q);
  void tickets(const DayInfo& d, EventWriter& w, EventQueue& q);
  void ticket(EventWriter& w, EventQueue& q, TimeMs opened, int severity, std::string_view cat);
  void surveys(const DayInfo& d, EventWriter& w, EventQueue& q);
  void meetings(const DayInfo& d, EventWriter& w, EventQueue& q);
  void contacts(const DayInfo& d, EventWriter& w, EventQueue& q);
  void contact_change(EventWriter& w, EventQueue& q, TimeMs t, std::string_view role,
                      std::string_view change, bool champion);
  void note(std::string_view kind, TimeMs start, int days);

  // Scenario progress on the current day, 0 before onset .. 1 at the outcome / end of ramp.
  [[nodiscard]] double churn_progress() const;
  [[nodiscard]] double shift_progress() const;  // competitor and growth ramps
  [[nodiscard]] bool has(std::uint32_t symptom) const {
    return (plan_.scenario.symptoms & symptom) != 0;
  }
  [[nodiscard]] double monthly_spend(int category) const {
    return plan_.order_value * plan_.share[category] / 12.0;
  }

  AccountPlan plan_;
  double noise_;
  Rng rng_;
  TimeMs today_ = 0;
  bool started_ = false;
  bool stopped_ = false;

  // Commercial state.
  int licensed_ = 0;
  double arr_ = 0;
  TimeMs renewal_ = 0;
  std::string kam_;
  int orders_ = 0;
  std::array<double, kCategoryCount> order_clock_{};  // expected orders since the last one
  std::array<double, kCategoryCount> order_due_{};    // threshold for the next order
  int tickets_ = 0;
  int invoices_ = 0;
  TimeMs quiet_until_ = 0;  // no new ticket burst before this day
  std::vector<Opportunity> opportunities_;
  TimeMs next_report_ = 0;   // competitor scenario: next monthly market report
  bool first_loss_ = false;  // competitor scenario: the first contested deal has been lost
  std::vector<int> features_;

  // Usage state.
  double seat_noise_ = 0;  // slow AR(1) wander of assigned seats
  double used_ = 0;        // assigned seats today (before a scenario seat decline)
  TimeMs dip_until_ = 0;
  double dip_factor_ = 1;

  // Relationship state.
  std::vector<MeetingTrack> tracks_;
  TimeMs champion_back_ = 0;  // healthy champion change: day the successor joins
  std::string champion_role_;
  TimeMs sbr_for_ = 0;  // the renewal whose business review is done

  // Ground truth.
  TimeMs last_activity_ = 0;
  TimeMs outcome_time_ = 0;
  std::vector<NoiseEpisode> noise_log_;
};

}  // namespace kamwatch::sim
