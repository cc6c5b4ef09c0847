#include "rules/evaluator.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

namespace kamwatch::rules::detail {
namespace {

using model::Bucket;
using model::Series;
using model::TypeStats;

const std::string kEmpty;

// Buckets whose start lies in (lo, hi] make up a window. Hourly buckets are used when they
// cover the whole window (its start is at or after the hourly retention horizon), else daily.
const std::vector<Bucket>& buckets_for(const Series& s, TimeMs lo, const Scope& sc) {
  const TimeMs horizon = floor_to(sc.state.max_time - sc.retention.hourly, kHourMs);
  return lo >= horizon ? s.hourly : s.daily;
}

template <typename F>
void for_each_in(const std::vector<Bucket>& b, TimeMs lo, TimeMs hi, F&& f) {
  auto it = std::upper_bound(b.begin(), b.end(), lo,
                             [](TimeMs t, const Bucket& x) { return t < x.start; });
  for (; it != b.end() && it->start <= hi; ++it) f(*it);
}

struct Acc {
  std::int64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double last = NAN;
  TimeMs last_time = std::numeric_limits<TimeMs>::min();
};

Acc accumulate(const Series& s, TimeMs lo, TimeMs hi, const Scope& sc) {
  Acc a;
  for_each_in(buckets_for(s, lo, sc), lo, hi, [&](const Bucket& b) {
    a.count += b.count;
    a.sum += b.sum;
    a.min = std::min(a.min, b.min);
    a.max = std::max(a.max, b.max);
    if (b.last_time >= a.last_time) {
      a.last = b.last;
      a.last_time = b.last_time;
    }
  });
  return a;
}

const std::string& group_of(const Scope& sc) { return sc.group_name ? *sc.group_name : kEmpty; }

const TypeStats* stats_of(const Selector& sel, const Scope& sc) {
  if (!sel.derived) {
    auto it = sc.state.types.find(sel.type);
    return it == sc.state.types.end() ? nullptr : &it->second;
  }
  auto it = sc.state.derived.find(sel.key);
  if (it == sc.state.derived.end()) return nullptr;
  const auto& groups = it->second.groups;
  auto g = groups.find(sel.grouped ? group_of(sc) : kEmpty);
  return g == groups.end() ? nullptr : &g->second;
}

// The series an aggregate reads: the event count series, or a numeric field's.
const Series* series_of(const Selector& sel, const TypeStats* ts) {
  if (!ts) return nullptr;
  if (sel.field.empty()) return &ts->events;
  auto it = ts->fields.find(sel.field);
  return it == ts->fields.end() ? nullptr : &it->second;
}

double bucket_value(const Selector& sel, const Bucket& b) {
  return sel.field.empty() ? static_cast<double>(b.count) : b.sum;
}

Value since(const Selector& sel, const Scope& sc) {
  const TypeStats* ts = stats_of(sel, sc);
  const auto age = static_cast<double>(account_age(sc.state, sc.now));
  if (!ts || ts->count == 0) return Value::of_duration(age);
  if (ts->last_time <= sc.now)
    return Value::of_duration(static_cast<double>(sc.now - ts->last_time));
  // Evaluating in the past (scorecard trend, replays): the latest bucket that starts by now.
  const TimeMs horizon = floor_to(sc.state.max_time - sc.retention.hourly, kHourMs);
  const auto& b = sc.now >= horizon ? ts->events.hourly : ts->events.daily;
  auto it = std::upper_bound(b.begin(), b.end(), sc.now,
                             [](TimeMs t, const Bucket& x) { return t < x.start; });
  if (it == b.begin()) return Value::of_duration(age);
  --it;
  const TimeMs t = it->last_time <= sc.now ? it->last_time : it->start;
  return Value::of_duration(static_cast<double>(sc.now - t));
}

Value latest(const Selector& sel, Type type, const Scope& sc) {
  const TypeStats* ts = stats_of(sel, sc);
  if (ts && type != Type::kNumber) {
    auto it = ts->last_values.find(sel.field);
    if (it != ts->last_values.end()) {
      const model::FieldValue& v = it->second;
      switch (v.kind) {
        case model::FieldValue::Kind::kString:
        case model::FieldValue::Kind::kJson:
          return Value::of_view(v.text);
        case model::FieldValue::Kind::kBool:
          return Value::of_bool(v.boolean);
        case model::FieldValue::Kind::kNumber:
          return Value::of_number(v.number);
        case model::FieldValue::Kind::kNull:
          break;
      }
    }
  }
  if (ts && type != Type::kString && type != Type::kBool) {
    auto it = ts->fields.find(sel.field);
    if (it != ts->fields.end()) {
      const Bucket* best = nullptr;
      for (const auto* list : {&it->second.hourly, &it->second.daily})
        if (!list->empty() && (!best || list->back().last_time > best->last_time))
          best = &list->back();
      if (best) return Value::of_number(best->last);
    }
  }
  if (type == Type::kString) return Value::of_view({});
  if (type == Type::kBool) return Value::of_bool(false);
  return Value::of_number(NAN);
}

double distinct(const Selector& sel, const Scope& sc) {
  auto it = sc.state.derived.find(sel.key);
  if (it == sc.state.derived.end()) return 0;
  const TimeMs hi = sc.now - sel.offset;
  const TimeMs lo = hi - sel.window;
  double n = 0;
  for (const auto& [group, ts] : it->second.groups) {
    bool any = false;
    for_each_in(buckets_for(ts.events, lo, sc), lo, hi, [&](const Bucket&) { any = true; });
    if (any) n += 1;
  }
  return n;
}

// Least-squares slope of per-step sums (x = step index 0..k-1), per step.
double slope(const Selector& sel, const Scope& sc) {
  const TimeMs hi = sc.now - sel.offset;
  const TimeMs lo = hi - sel.window;
  const double k = static_cast<double>(sel.window / sel.step);
  if (k < 2) return NAN;
  double sy = 0;
  double sxy = 0;
  if (const Series* s = series_of(sel, stats_of(sel, sc))) {
    for_each_in(buckets_for(*s, lo, sc), lo, hi, [&](const Bucket& b) {
      const double x = static_cast<double>((b.start - lo - 1) / sel.step);
      const double y = bucket_value(sel, b);
      sy += y;
      sxy += x * y;
    });
  }
  const double sx = k * (k - 1) / 2;
  const double sxx = (k - 1) * k * (2 * k - 1) / 6;
  return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

// EWMA of daily sums over the window (days without events count as 0), oldest day first.
double ewma(const Selector& sel, const Scope& sc) {
  const TimeMs hi = sc.now - sel.offset;
  const TimeMs lo = hi - sel.window;
  const auto n = static_cast<double>(sel.window / kDayMs);
  const double alpha = 1 - std::exp2(-static_cast<double>(kDayMs) / static_cast<double>(sel.step));
  double total = 0;
  if (const Series* s = series_of(sel, stats_of(sel, sc))) {
    for_each_in(s->daily, lo, hi, [&](const Bucket& b) {
      const auto d = static_cast<double>((b.start - lo - 1) / kDayMs);
      const double w = d == 0 ? std::pow(1 - alpha, n - 1) : alpha * std::pow(1 - alpha, n - 1 - d);
      total += w * bucket_value(sel, b);
    });
  }
  return total;
}

Value aggregate(const Selector& sel, Type type, const Scope& sc) {
  using A = Selector::Agg;
  switch (sel.agg) {
    case A::kSince:
      return since(sel, sc);
    case A::kLatest:
      return latest(sel, type, sc);
    case A::kDistinct:
      return Value::of_number(distinct(sel, sc));
    case A::kSlope:
      return Value::of_number(slope(sel, sc));
    case A::kEwma:
      return Value::of_number(ewma(sel, sc));
    default:
      break;
  }
  const TimeMs hi = sc.now - sel.offset;
  const TimeMs lo = hi - sel.window;
  const Series* s = series_of(sel, stats_of(sel, sc));
  const Acc a = s ? accumulate(*s, lo, hi, sc) : Acc{};
  switch (sel.agg) {
    case A::kCount:
      return Value::of_number(static_cast<double>(a.count));
    case A::kSum:
      return Value::of_number(a.sum);
    case A::kAvg:
      return Value::of_number(a.count ? a.sum / static_cast<double>(a.count) : NAN);
    case A::kMin:
      return Value::of_number(a.count ? a.min : NAN);
    case A::kMax:
      return Value::of_number(a.count ? a.max : NAN);
    case A::kLast:
      return Value::of_number(a.count ? a.last : NAN);
    default:
      return Value::of_number(NAN);
  }
}

bool same_kind_mismatch(Op op) { return op == Op::kNe; }

template <typename T>
bool compare(Op op, const T& x, const T& y) {
  switch (op) {
    case Op::kLt:
      return x < y;
    case Op::kLe:
      return x <= y;
    case Op::kGt:
      return x > y;
    case Op::kGe:
      return x >= y;
    case Op::kEq:
      return x == y;
    case Op::kNe:
      return x != y;
    default:
      return false;
  }
}

bool numeric(const Value& v) { return v.type == Type::kNumber || v.type == Type::kDuration; }

bool compare_values(Op op, Type static_type, const Value& x, const Value& y) {
  Type t = static_type;
  if (t == Type::kAny) {
    if (numeric(x) && numeric(y)) {
      t = Type::kNumber;
    } else if (x.type != y.type) {
      // A numeric string against a number compares as numbers; other mixes never match.
      if ((numeric(x) || numeric(y)) && !std::isnan(to_number(x)) && !std::isnan(to_number(y)))
        t = Type::kNumber;
      else
        return same_kind_mismatch(op);
    } else {
      t = x.type;
    }
  }
  switch (t) {
    case Type::kNumber:
    case Type::kDuration: {
      const double a = to_number(x);
      const double b = to_number(y);
      if (std::isnan(a) || std::isnan(b)) return false;
      return compare(op, a, b);
    }
    case Type::kString:
      if (x.type != Type::kString || y.type != Type::kString) return same_kind_mismatch(op);
      return compare(op, x.str(), y.str());
    case Type::kBool:
      if (x.type != Type::kBool || y.type != Type::kBool) return same_kind_mismatch(op);
      return compare(op, x.boolean, y.boolean);
    case Type::kAny:
      break;
  }
  return false;
}

Value with_type(Type t, double v) {
  return t == Type::kDuration ? Value::of_duration(v) : Value::of_number(v);
}

bool is_missing(const Value& v) {
  if (v.type == Type::kString) return v.str().empty();
  if (v.type == Type::kBool) return false;
  return std::isnan(v.number);
}

double profile_number(const model::FieldValue* v) { return v && v->is_number() ? v->number : NAN; }

}  // namespace

TimeMs account_age(const model::AccountState& state, TimeMs now) {
  if (state.applied == 0) return 0;
  return std::max<TimeMs>(0, now - state.first_time);
}

double to_number(const Value& v) {
  switch (v.type) {
    case Type::kNumber:
    case Type::kDuration:
      return v.number;
    case Type::kString: {
      const std::string_view s = v.str();
      double d = NAN;
      const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
      if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return NAN;
      return d;
    }
    default:
      return NAN;
  }
}

std::string format_number(double v, int max_decimals) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  if (std::fabs(v) >= 1e15) {
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.*f", max_decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string format_pct(double fraction) {
  if (std::isnan(fraction)) return "n/a";
  const double p = fraction * 100;
  return format_number(p, std::fabs(p) >= 10 ? 0 : 1) + "%";
}

void append_text(std::string& out, const Value& v) {
  switch (v.type) {
    case Type::kNumber:
      out += format_number(v.number);
      return;
    case Type::kBool:
      out += v.boolean ? "true" : "false";
      return;
    case Type::kString:
      out += v.str();
      return;
    case Type::kDuration: {
      if (std::isnan(v.number)) {
        out += "n/a";
        return;
      }
      struct Unit {
        double ms;
        const char* one;
        const char* many;
      };
      static constexpr Unit kUnits[] = {{static_cast<double>(kDayMs), " day", " days"},
                                        {static_cast<double>(kHourMs), " hour", " hours"},
                                        {static_cast<double>(kMinuteMs), " minute", " minutes"},
                                        {static_cast<double>(kSecondMs), " second", " seconds"}};
      const double abs_ms = std::fabs(v.number);
      for (const Unit& u : kUnits) {
        if (abs_ms >= u.ms || &u == &kUnits[3]) {
          const std::string n = format_number(v.number / u.ms, 1);
          out += n;
          out += n == "1" || n == "-1" ? u.one : u.many;
          return;
        }
      }
      return;
    }
    case Type::kAny:
      return;
  }
}

Value evaluate(const Program& p, std::int32_t idx, const Scope& sc) {
  const Node& n = p.nodes[static_cast<std::size_t>(idx)];
  switch (n.op) {
    case Op::kConst:
      switch (n.type) {
        case Type::kBool:
          return Value::of_bool(n.boolean);
        case Type::kString:
          return Value::of_view(n.text);
        default:
          return with_type(n.type, n.number);
      }
    case Op::kNeg:
      return with_type(n.type, -to_number(evaluate(p, n.a, sc)));
    case Op::kNot: {
      const Value v = evaluate(p, n.a, sc);
      return Value::of_bool(!v.boolean);
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv: {
      const double x = to_number(evaluate(p, n.a, sc));
      const double y = to_number(evaluate(p, n.b, sc));
      double r = NAN;
      if (n.op == Op::kAdd) r = x + y;
      if (n.op == Op::kSub) r = x - y;
      if (n.op == Op::kMul) r = x * y;
      if (n.op == Op::kDiv) r = y == 0 ? NAN : x / y;  // safe division
      return with_type(n.type, r);
    }
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
    case Op::kEq:
    case Op::kNe: {
      const Value x = evaluate(p, n.a, sc);
      const Value y = evaluate(p, n.b, sc);
      return Value::of_bool(compare_values(n.op, n.operand_type, x, y));
    }
    case Op::kAnd:
      if (!evaluate(p, n.a, sc).boolean) return Value::of_bool(false);
      return Value::of_bool(evaluate(p, n.b, sc).boolean);
    case Op::kOr:
      if (evaluate(p, n.a, sc).boolean) return Value::of_bool(true);
      return Value::of_bool(evaluate(p, n.b, sc).boolean);
    case Op::kIf:
      return evaluate(p, evaluate(p, n.a, sc).boolean ? n.b : n.c, sc);
    case Op::kDefault: {
      Value x = evaluate(p, n.a, sc);
      if (!is_missing(x)) return x;
      return evaluate(p, n.b, sc);
    }
    case Op::kAbs:
      return with_type(n.type, std::fabs(to_number(evaluate(p, n.a, sc))));
    case Op::kLeast:
    case Op::kGreatest: {
      const double x = to_number(evaluate(p, n.a, sc));
      const double y = to_number(evaluate(p, n.b, sc));
      if (std::isnan(x) || std::isnan(y)) return with_type(n.type, NAN);
      return with_type(n.type, n.op == Op::kLeast ? std::min(x, y) : std::max(x, y));
    }
    case Op::kPct:
      return Value::of_owned(format_pct(to_number(evaluate(p, n.a, sc))));
    case Op::kFmt:
      return Value::of_owned(format_number(to_number(evaluate(p, n.a, sc)), n.index));
    case Op::kDaysUntil: {
      const Value v = evaluate(p, n.a, sc);
      if (v.type != Type::kString) return Value::of_number(NAN);
      std::optional<TimeMs> t = parse_date(v.str());
      if (!t) t = parse_rfc3339(v.str());
      if (!t) return Value::of_number(NAN);
      return Value::of_number(static_cast<double>(*t - sc.now) / static_cast<double>(kDayMs));
    }
    case Op::kSelector:
      return aggregate(p.selectors[static_cast<std::size_t>(n.index)], n.type, sc);
    case Op::kAccountId:
      return Value::of_view(sc.state.id);
    case Op::kProfile: {
      auto it = sc.state.profile.find(n.text);
      const model::FieldValue* v = it == sc.state.profile.end() ? nullptr : &it->second;
      if (n.type == Type::kNumber) return Value::of_number(profile_number(v));
      if (n.type == Type::kBool)
        return Value::of_bool(v && v->kind == model::FieldValue::Kind::kBool && v->boolean);
      if (!v || v->kind == model::FieldValue::Kind::kNull) {
        return n.type == Type::kAny ? Value::of_number(NAN) : Value::of_view({});
      }
      if (v->is_number()) return Value::of_number(v->number);
      if (v->kind == model::FieldValue::Kind::kBool) return Value::of_bool(v->boolean);
      return Value::of_view(v->text);
    }
    case Op::kKeyAccount:
      return Value::of_bool(sc.attributes.key_account);
    case Op::kRevenueRank:
      return Value::of_number(sc.attributes.revenue_rank > 0 ? sc.attributes.revenue_rank : NAN);
    case Op::kClv:
      return Value::of_number(sc.attributes.clv);
    case Op::kPAlive:
      return Value::of_number(sc.attributes.p_alive);
    case Op::kExpectedPurchases:
      return Value::of_number(sc.attributes.expected_purchases);
    case Op::kHealth:
      return Value::of_number(sc.health ? sc.health->health(false).score : NAN);
    case Op::kHealthBand:
      if (!sc.health) return Value::of_view("unknown");
      return Value::of_view(sc.health->health(false).band);
    case Op::kHealthTrend:
      return Value::of_number(sc.health ? sc.health->health(true).trend : NAN);
    case Op::kAge:
      return Value::of_duration(static_cast<double>(account_age(sc.state, sc.now)));
    case Op::kGroup:
      return Value::of_view(group_of(sc));
    case Op::kNow:
      return Value::of_owned(format_rfc3339(sc.now));
    case Op::kSlot:
      if (!sc.slots) return Value::of_number(NAN);
      return sc.slots[n.index];
  }
  return Value::of_number(NAN);
}

}  // namespace kamwatch::rules::detail
