#include "report/figures.h"

#include <algorithm>

namespace kamwatch::report {
namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

TimeMs month_start(std::int64_t year, unsigned month) {
  return days_from_civil(year, month, 1) * kDayMs;
}

// (year, month) shifted by delta months.
void add_months(std::int64_t& year, unsigned& month, int delta) {
  std::int64_t m = year * 12 + static_cast<std::int64_t>(month) - 1 + delta;
  year = m >= 0 ? m / 12 : (m - 11) / 12;
  month = static_cast<unsigned>(m - year * 12) + 1;
}

}  // namespace

std::vector<Period> weeks_ending(TimeMs now, int n) {
  std::vector<Period> out;
  const TimeMs end = floor_to(now, kDayMs) + kDayMs;
  for (int k = n - 1; k >= 0; --k) {
    Period p;
    p.end = end - static_cast<TimeMs>(k) * 7 * kDayMs;
    p.start = p.end - 7 * kDayMs;
    p.label = format_rfc3339(p.start).substr(0, 10);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<Period> months_ending(TimeMs now, int n) {
  std::vector<Period> out;
  const CivilDate today = civil_from_days(floor_to(now, kDayMs) / kDayMs);
  for (int k = n - 1; k >= 0; --k) {
    std::int64_t y = today.year;
    unsigned m = today.month;
    add_months(y, m, -k);
    std::int64_t ny = y;
    unsigned nm = m;
    add_months(ny, nm, 1);
    out.push_back({month_start(y, m), month_start(ny, nm),
                   std::string(kMonths[m - 1]) + " " + std::to_string(y)});
  }
  return out;
}

std::vector<Period> quarters_ending(TimeMs now, int n) {
  std::vector<Period> out;
  const CivilDate today = civil_from_days(floor_to(now, kDayMs) / kDayMs);
  const unsigned first_month = (today.month - 1) / 3 * 3 + 1;
  for (int k = n - 1; k >= 0; --k) {
    std::int64_t y = today.year;
    unsigned m = first_month;
    add_months(y, m, -3 * k);
    std::int64_t ny = y;
    unsigned nm = m;
    add_months(ny, nm, 3);
    out.push_back({month_start(y, m), month_start(ny, nm),
                   "Q" + std::to_string((m - 1) / 3 + 1) + " " + std::to_string(y)});
  }
  return out;
}

Aggregate aggregate(const model::Series& s, TimeMs start, TimeMs end) {
  Aggregate a;
  auto it = std::lower_bound(s.daily.begin(), s.daily.end(), start,
                             [](const model::Bucket& b, TimeMs t) { return b.start < t; });
  for (; it != s.daily.end() && it->start < end; ++it) {
    a.count += it->count;
    a.sum += it->sum;
    if (it->count > 0 && it->last_time >= a.last_time) {
      a.last = it->last;
      a.last_time = it->last_time;
    }
  }
  return a;
}

std::vector<Aggregate> aggregate(const model::Series& s, const std::vector<Period>& periods) {
  std::vector<Aggregate> out;
  out.reserve(periods.size());
  for (const Period& p : periods) out.push_back(aggregate(s, p.start, p.end));
  return out;
}

const model::TypeStats* type_stats(const model::AccountState& a, std::string_view type) {
  auto it = a.types.find(std::string(type));
  return it == a.types.end() ? nullptr : &it->second;
}

const model::Series* field_series(const model::TypeStats* stats, std::string_view field) {
  if (!stats) return nullptr;
  if (field.empty()) return &stats->events;
  auto it = stats->fields.find(std::string(field));
  return it == stats->fields.end() ? nullptr : &it->second;
}

const model::DerivedSeries* derived(const model::AccountState& a, const model::SeriesSpec& spec) {
  auto it = a.derived.find(spec.key());
  return it == a.derived.end() ? nullptr : &it->second;
}

bool kept(const model::AccountState& a, const model::SeriesSpecs* specs,
          const model::SeriesSpec& spec) {
  const std::string key = spec.key();
  if (a.derived.count(key)) return true;
  if (!specs) return false;
  const auto* entries = specs->for_type(spec.type);
  if (!entries) return false;
  for (const auto& e : *entries)
    if (e.key == key) return true;
  return false;
}

Subset events_where(const model::AccountState& a, const model::SeriesSpecs* specs,
                    std::string_view type, std::string_view field, std::string_view value) {
  const model::SeriesSpec filtered{
      std::string(type),
      {model::Predicate{std::string(field), model::Predicate::Op::kEq,
                        model::FieldValue::of_string(std::string(value))}},
      ""};
  const model::SeriesSpec grouped{std::string(type), {}, std::string(field)};
  Subset s;
  if (const model::DerivedSeries* d = derived(a, filtered)) {
    s.kept = true;
    if (auto it = d->groups.find(""); it != d->groups.end()) s.stats = &it->second;
    return s;
  }
  if (const model::DerivedSeries* d = derived(a, grouped)) {
    s.kept = true;
    if (auto it = d->groups.find(std::string(value)); it != d->groups.end()) s.stats = &it->second;
    return s;
  }
  s.kept = kept(a, specs, filtered) || kept(a, specs, grouped);
  return s;
}

std::optional<double> last_value(const model::Series& s, TimeMs now) {
  for (auto it = s.daily.rbegin(); it != s.daily.rend(); ++it)
    if (it->start <= now && it->count > 0) return it->last;
  return std::nullopt;
}

}  // namespace kamwatch::report
