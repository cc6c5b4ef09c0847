#include "scoring/summary.h"

#include <algorithm>

namespace kamwatch::scoring {

double OrderSummary::mean_day_value() const {
  if (bucket_days <= 0) return 0;
  return day_amount / static_cast<double>(bucket_days);
}

Result<OrderSummary> order_summary(const model::AccountState& state, TimeMs end,
                                   const SummaryOptions& options) {
  if (options.unit <= 0) {
    return Error{"invalid_argument", "summary time unit must be > 0"};
  }
  const auto it = state.types.find(options.order_type);
  if (it == state.types.end() || it->second.count == 0) {
    return Error{"no_purchases", "account " + state.id + " has no " + options.order_type};
  }
  const model::TypeStats& ts = it->second;
  const TimeMs end_day = floor_to(end, kDayMs);
  const TimeMs first_day = floor_to(ts.first_time, kDayMs);
  if (first_day > end_day) {
    return Error{"no_purchases", "account " + state.id + " has no " + options.order_type +
                                     " on or before " + format_rfc3339(end_day)};
  }
  // last_time is exact whatever was pruned; buckets are needed only when it lies after end.
  const TimeMs all_time_last_day = floor_to(ts.last_time, kDayMs);
  const bool last_known = all_time_last_day <= end_day;

  OrderSummary out;
  std::int64_t in_buckets = 0;  // all time, to find orders that are in no bucket
  bool first_day_in_buckets = false;
  bool last_day_in_buckets = false;
  TimeMs last_day = first_day;
  for (const model::Bucket& b : ts.events.daily) {
    in_buckets += b.count;
    if (b.start > end_day || b.count == 0) continue;
    ++out.bucket_days;
    out.day_orders += b.count;
    first_day_in_buckets = first_day_in_buckets || b.start == first_day;
    last_day_in_buckets = last_day_in_buckets || b.start == all_time_last_day;
    last_day = std::max(last_day, b.start);
  }
  out.unretained_orders = ts.count - in_buckets;
  out.complete = out.unretained_orders == 0;
  // First and last purchase days are known from first_time/last_time even when their buckets
  // were pruned, so they always count.
  out.purchase_days = out.bucket_days + (first_day_in_buckets ? 0 : 1);
  if (last_known) {
    if (!last_day_in_buckets && all_time_last_day != first_day) ++out.purchase_days;
    last_day = all_time_last_day;
  }

  if (const auto f = ts.fields.find(options.amount_field); f != ts.fields.end()) {
    for (const model::Bucket& b : f->second.daily) {
      if (b.start <= end_day) out.day_amount += b.sum;
    }
  }

  const double unit = static_cast<double>(options.unit);
  out.bgnbd.x = static_cast<double>(out.purchase_days - 1);
  out.bgnbd.t_x = out.bgnbd.x > 0 ? static_cast<double>(last_day - first_day) / unit : 0;
  out.bgnbd.T = static_cast<double>(end_day - first_day) / unit;
  return out;
}

}  // namespace kamwatch::scoring
