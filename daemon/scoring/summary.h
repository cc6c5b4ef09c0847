#pragma once
// The BG/NBD summary (x, t_x, T) of one account, read from kamwatch's own AccountState, with
// purchases counted on distinct UTC days as the `lifetimes` package does.
// Thread-safety: pure functions; callers synchronise access to the AccountState they pass.
#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/time.h"
#include "model/account_state.h"
#include "scoring/bgnbd.h"

namespace kamwatch::scoring {

inline constexpr TimeMs kWeekMs = 7 * kDayMs;

struct SummaryOptions {
  std::string order_type = "sales.order";
  std::string amount_field = "amount";
  TimeMs unit = kWeekMs;  // time unit of t_x and T (and so of the fitted alpha)
};

// An account's order history up to an observation end.
struct OrderSummary {
  CustomerSummary bgnbd;           // x = purchase_days - 1; t_x and T in options.unit
  std::int64_t purchase_days = 0;  // distinct UTC days with an order, counted
  std::int64_t bucket_days = 0;    // of those, days read from daily buckets
  std::int64_t day_orders = 0;     // order events on the bucket days
  double day_amount = 0;           // sum of amount on the bucket days
  // False when orders older than the daily retention (Retention::daily, 800 days back from
  // the account's watermark) had their buckets pruned: then x is a lower bound (the first and
  // last purchase days still count, from TypeStats::first_time/last_time); t_x and T stay exact.
  bool complete = true;
  std::int64_t unretained_orders = 0;  // orders up to `end` that are in no daily bucket

  // Mean amount per purchase day over the bucket days: the monetary value that pairs with
  // BG/NBD's purchase-day counts. 0 when no day is in a bucket.
  [[nodiscard]] double mean_day_value() const;
};

// Summary as of `end` (orders after end's UTC day are ignored). First purchase day =
// floor(TypeStats::first_time, 1 day), T = day(end) - first day, t_x = last purchase day -
// first day. Errors: "no_purchases" (no order on or before end's day), "invalid_argument".
[[nodiscard]] Result<OrderSummary> order_summary(const model::AccountState& state, TimeMs end,
                                                 const SummaryOptions& options = {});

}  // namespace kamwatch::scoring
