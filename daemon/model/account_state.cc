#include "model/account_state.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace kamwatch::model {
namespace {
// A std::map node: three pointers and a colour (32 bytes) before the value, plus malloc's
// per-allocation overhead.
constexpr std::size_t kMapNode = 48;
std::size_t heap_bytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;  // libstdc++'s small-string buffer is 15
}
// A std::map node keyed by key holding a V, with the key's own buffer (not what V holds).
template <class V>
std::size_t node_bytes(const std::string& key) {
  return kMapNode + sizeof(std::pair<const std::string, V>) + heap_bytes(key);
}
// A NameMap's vector (its entries hold key and value inline) and its keys' buffers, not what
// the values hold.
template <class V>
std::size_t table_bytes(const NameMap<V>& m) {
  std::size_t n = m.capacity() * sizeof(typename NameMap<V>::value_type);
  for (const auto& entry : m) n += heap_bytes(entry.first);
  return n;
}
std::size_t heap_bytes(const Series& s) {
  return (s.hourly.capacity() + s.daily.capacity()) * sizeof(Bucket);
}
std::size_t heap_bytes(const std::map<std::string, FieldValue>& m) {
  std::size_t n = 0;
  for (const auto& [k, v] : m) n += node_bytes<FieldValue>(k) + heap_bytes(v.text);
  return n;
}
std::size_t heap_bytes(const NameMap<FieldValue>& m) {
  std::size_t n = table_bytes(m);
  for (const auto& [k, v] : m) n += heap_bytes(v.text);
  return n;
}
std::size_t heap_bytes(const TypeStats& t) {
  std::size_t n = heap_bytes(t.events) + heap_bytes(t.last_values) + table_bytes(t.fields);
  for (const auto& [k, s] : t.fields) n += heap_bytes(s);
  return n;
}
std::size_t heap_bytes(const NameMap<TypeStats>& m) {
  std::size_t n = table_bytes(m);
  for (const auto& [k, t] : m) n += heap_bytes(t);
  return n;
}
std::ptrdiff_t diff(std::size_t after, std::size_t before) {
  return static_cast<std::ptrdiff_t>(after) - static_cast<std::ptrdiff_t>(before);
}

// The map's value for key, adding to grew what a new entry adds to table_bytes(map): the
// vector's growth (when it was full) and the key's buffer.
template <class V>
V& slot(NameMap<V>& map, const std::string& key, std::ptrdiff_t& grew) {
  constexpr std::size_t kEntry = sizeof(typename NameMap<V>::value_type);
  const std::size_t capacity = map.capacity();
  auto [it, inserted] = map.try_emplace(key);
  if (inserted)
    grew += diff(map.capacity() * kEntry, capacity * kEntry) +
            static_cast<std::ptrdiff_t>(heap_bytes(it->first));
  return it->second;
}

// Adds v at time t to the bucket of width holding t, creating it when missing. Returns the
// change in the vector's heap bytes (its capacity grows when a bucket is created at full size).
std::ptrdiff_t add_to_bucket(std::vector<Bucket>& buckets, TimeMs width, TimeMs t, double v) {
  const TimeMs start = floor_to(t, width);
  const std::size_t capacity = buckets.capacity();
  // Events come mostly in time order: their bucket is the last one or a new last one. Checking
  // the back first spares the binary search (and its cache misses on a cold account).
  std::vector<Bucket>::iterator it;
  if (buckets.empty() || buckets.back().start < start) {
    it = buckets.insert(buckets.end(), Bucket{start, 0, 0, v, v, v, t});
  } else if (buckets.back().start == start) {
    it = buckets.end() - 1;
  } else {
    it = std::lower_bound(buckets.begin(), buckets.end(), start,
                          [](const Bucket& b, TimeMs s) { return b.start < s; });
    if (it->start != start) it = buckets.insert(it, Bucket{start, 0, 0, v, v, v, t});
  }
  Bucket& b = *it;
  b.count += 1;
  b.sum += v;
  b.min = std::min(b.min, v);
  b.max = std::max(b.max, v);
  if (t >= b.last_time) {
    b.last = v;
    b.last_time = t;
  }
  return diff(buckets.capacity() * sizeof(Bucket), capacity * sizeof(Bucket));
}

void prune(std::vector<Bucket>& buckets, TimeMs horizon) {
  // Nearly always nothing to drop (the horizon moves an hour at a time): skip the search.
  if (buckets.empty() || buckets.front().start >= horizon) return;
  auto it = std::lower_bound(buckets.begin(), buckets.end(), horizon,
                             [](const Bucket& b, TimeMs s) { return b.start < s; });
  buckets.erase(buckets.begin(), it);
}

std::ptrdiff_t add(Series& s, TimeMs t, double v, TimeMs hourly_horizon, TimeMs daily_horizon) {
  s.count += 1;
  s.sum += v;
  std::ptrdiff_t grew = 0;
  if (t >= hourly_horizon) grew += add_to_bucket(s.hourly, kHourMs, t, v);
  if (t >= daily_horizon) grew += add_to_bucket(s.daily, kDayMs, t, v);
  return grew;
}

// Adds one event to a type's (or a derived group's) statistics. Returns the change in
// heap_bytes(ts), measured on what it touches only (a type's other fields are not visited).
std::ptrdiff_t add_event(TypeStats& ts, const Event& event, TimeMs hourly_horizon,
                         TimeMs daily_horizon) {
  const TimeMs t = event.time;
  // The buckets add() may create below (add() skips the series a horizon excludes).
  if (t >= hourly_horizon) ts.oldest.hourly = std::min(ts.oldest.hourly, floor_to(t, kHourMs));
  if (t >= daily_horizon) ts.oldest.daily = std::min(ts.oldest.daily, floor_to(t, kDayMs));
  if (ts.count == 0) {
    ts.first_time = t;
    ts.last_time = t;
  }
  ts.count += 1;
  ts.first_time = std::min(ts.first_time, t);
  const bool latest_of_type = t >= ts.last_time;
  ts.last_time = std::max(ts.last_time, t);
  std::ptrdiff_t grew = add(ts.events, t, 1.0, hourly_horizon, daily_horizon);
  for (const Field& f : event.data) {
    if (f.value.is_number()) {
      Series& series = slot(ts.fields, f.name, grew);
      grew += add(series, t, f.value.number, hourly_horizon, daily_horizon);
    } else if (latest_of_type) {
      FieldValue& last = slot(ts.last_values, f.name, grew);
      const std::size_t before = heap_bytes(last.text);
      last = f.value;
      grew += diff(heap_bytes(last.text), before);
    }
  }
  return grew;
}

// Drops the buckets before the horizon from every series of stats that may hold one, and
// records the earliest bucket start left (the hint is then exact).
void prune(TypeStats& stats, TimeMs hourly_horizon, TimeMs daily_horizon) {
  constexpr TimeMs kNone = std::numeric_limits<TimeMs>::max();
  const auto prune_all = [&](std::vector<Bucket> Series::*buckets, TimeMs horizon) {
    TimeMs oldest = kNone;
    const auto one = [&](Series& s) {
      prune(s.*buckets, horizon);
      if (!(s.*buckets).empty()) oldest = std::min(oldest, (s.*buckets).front().start);
    };
    one(stats.events);
    for (auto& [name, series] : stats.fields) one(series);
    return oldest;
  };
  if (stats.oldest.hourly < hourly_horizon)
    stats.oldest.hourly = prune_all(&Series::hourly, hourly_horizon);
  if (stats.oldest.daily < daily_horizon)
    stats.oldest.daily = prune_all(&Series::daily, daily_horizon);
}

}  // namespace

bool RecentIds::contains(std::uint64_t hash) const {
  // One binary search per day (at most grace / 1 day + 2 of them).
  auto it = entries.begin();
  while (it != entries.end()) {
    const TimeMs day = it->day;
    const auto end =
        std::partition_point(it, entries.end(), [&](const Entry& e) { return e.day == day; });
    if (std::binary_search(it, end, Entry{day, hash})) return true;
    it = end;
  }
  return false;
}

std::ptrdiff_t RecentIds::add(TimeMs t, std::uint64_t hash) {
  const Entry entry{floor_to(t, kDayMs), hash};
  const std::size_t capacity = entries.capacity();
  const auto it = std::lower_bound(entries.begin(), entries.end(), entry);
  if (it == entries.end() || *it != entry) entries.insert(it, entry);
  return diff(entries.capacity() * sizeof(Entry), capacity * sizeof(Entry));
}

void RecentIds::prune(TimeMs horizon) {
  if (entries.empty() || entries.front().day + kDayMs > horizon) return;
  const auto it = std::partition_point(entries.begin(), entries.end(),
                                       [&](const Entry& e) { return e.day + kDayMs <= horizon; });
  entries.erase(entries.begin(), it);
}

std::uint64_t event_id_hash(std::string_view source, std::string_view id) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  const auto mix = [&](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ull;
  };
  std::uint64_t n = source.size();
  for (int i = 0; i < 8; ++i, n >>= 8) mix(static_cast<unsigned char>(n & 0xff));
  for (const char c : source) mix(static_cast<unsigned char>(c));
  for (const char c : id) mix(static_cast<unsigned char>(c));
  // MurmurHash3's fmix64: every input bit reaches every output bit.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

void derived_targets(const SeriesSpecs* specs, const Event& event,
                     std::vector<DerivedTarget>& out) {
  out.clear();
  if (!specs) return;
  const auto* entries = specs->for_type(event.type);
  if (!entries) return;
  for (const SeriesSpecs::Entry& e : *entries) {
    if (!e.spec.matches(event)) continue;
    auto group = e.spec.group_of(event);
    if (!group) continue;
    out.push_back({e.key, std::move(*group)});
  }
}

std::ptrdiff_t apply(AccountState& state, const Event& event, const Retention& retention,
                     const SeriesSpecs* specs) {
  // Spec-less events (most of them) need no target list at all.
  static const std::vector<DerivedTarget> kNone;
  if (!specs || !specs->for_type(event.type)) return apply(state, event, retention, kNone);
  std::vector<DerivedTarget> targets;
  derived_targets(specs, event, targets);
  return apply(state, event, retention, targets);
}

std::ptrdiff_t apply(AccountState& state, const Event& event, const Retention& retention,
                     const std::vector<DerivedTarget>& targets) {
  return apply(state, event, retention, targets, event_id_hash(event.source, event.id));
}

std::ptrdiff_t apply(AccountState& state, const Event& event, const Retention& retention,
                     const std::vector<DerivedTarget>& targets,
                     std::optional<std::uint64_t> id_hash) {
  const TimeMs t = event.time;
  // Horizons are aligned to their bucket width, so a bucket is always kept or pruned whole.
  const auto hourly_horizon_at = [&](TimeMs watermark) {
    return floor_to(watermark - retention.hourly, kHourMs);
  };
  const auto daily_horizon_at = [&](TimeMs watermark) {
    return floor_to(watermark - retention.daily, kDayMs);
  };
  // The change in memory_bytes(state), measured on the parts this event touches only (pruning
  // erases buckets but keeps the vectors' capacity, so it changes nothing).
  std::ptrdiff_t grew = 0;
  const bool first_event = state.applied == 0;
  const TimeMs old_hourly_horizon = hourly_horizon_at(state.max_time);
  const TimeMs old_daily_horizon = daily_horizon_at(state.max_time);
  if (first_event) {
    const std::size_t before = heap_bytes(state.id);
    state.id = event.subject;
    grew += diff(heap_bytes(state.id), before);
    state.first_time = t;
    state.max_time = t;
  }
  state.first_time = std::min(state.first_time, t);
  state.max_time = std::max(state.max_time, t);
  state.applied += 1;

  const TimeMs hourly_horizon = hourly_horizon_at(state.max_time);
  const TimeMs daily_horizon = daily_horizon_at(state.max_time);
  // Pruning only matters when a horizon moved: at most once per hour of watermark progress.
  // (Comparing horizons, not the watermark's hour, keeps this right for retentions that are not
  // whole hours.)
  const bool horizon_moved =
      first_event || hourly_horizon != old_hourly_horizon || daily_horizon != old_daily_horizon;

  TypeStats& ts = slot(state.types, event.type, grew);
  const bool latest_of_type = ts.count == 0 || t >= ts.last_time;
  grew += add_event(ts, event, hourly_horizon, daily_horizon);
  if (event.type == "account.profile" && latest_of_type) {
    const std::size_t before = heap_bytes(state.profile);
    for (const Field& f : event.data) state.profile[f.name] = f.value;
    grew += diff(heap_bytes(state.profile), before);
  }
  for (const DerivedTarget& d : targets) {
    TypeStats& group = slot(slot(state.derived, d.key, grew).groups, d.group, grew);
    grew += add_event(group, event, hourly_horizon, daily_horizon);
  }

  if (id_hash) grew += state.recent_ids.add(t, *id_hash);
  state.recent_ids.prune(state.max_time - retention.ids);

  if (horizon_moved) {
    for (auto& [type, stats] : state.types) prune(stats, hourly_horizon, daily_horizon);
    for (auto& [key, derived] : state.derived)
      for (auto& [group, stats] : derived.groups) prune(stats, hourly_horizon, daily_horizon);
  }
  return grew;
}

std::size_t memory_bytes(const AccountState& state) {
  std::size_t n = sizeof(AccountState) + heap_bytes(state.id) + heap_bytes(state.profile) +
                  heap_bytes(state.types) +
                  state.recent_ids.entries.capacity() * sizeof(RecentIds::Entry);
  n += table_bytes(state.derived);
  for (const auto& [k, d] : state.derived) n += heap_bytes(d.groups);
  for (const auto& [k, a] : state.alerts) {
    n += node_bytes<AlertState>(k);
    for (const auto& [name, value] : a.labels)
      n += node_bytes<std::string>(name) + heap_bytes(value);
  }
  return n;
}

}  // namespace kamwatch::model
