#pragma once
// Per-account state: profile, per event type counts, and event-time bucketed aggregates of
// every numeric field. Pure value type; apply() is the only way events change it.
// Thread-safety: a value; callers synchronise access to one instance.
#include <boost/container/flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "model/event.h"
#include "model/series_spec.h"

namespace kamwatch::model {

// The maps of an account's state by name (event types, fields, derived series, groups): one
// sorted vector each rather than a tree of nodes. An account is read and changed in place, and
// mostly while cold: looking up a type or visiting all of them touches one block of memory
// instead of a chain of scattered nodes. Inserting moves the later entries, and invalidates
// references into the map, as a vector does; entries are inserted rarely (a new type or field).
// Lookups take any string-like key (std::less<>).
template <class V>
using NameMap = boost::container::flat_map<std::string, V, std::less<>>;

// Aggregate of the values that fell into [start, start + width).
struct Bucket {
  TimeMs start = 0;
  std::int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double last = 0;       // value of the event with the latest time in the bucket
  TimeMs last_time = 0;  // that event's time
  bool operator==(const Bucket&) const = default;
};

// One numeric series (an event type's field, or the type's event count when field is "").
// Hourly buckets cover the recent past; daily buckets the long baseline. Both sorted by start.
struct Series {
  std::int64_t count = 0;  // all time
  double sum = 0;          // all time
  std::vector<Bucket> hourly;
  std::vector<Bucket> daily;
  bool operator==(const Series&) const = default;
};

struct TypeStats {
  std::int64_t count = 0;  // applied events of this type, all time
  TimeMs first_time = 0;
  TimeMs last_time = 0;
  Series events;                    // one value (1) per event: event counts per bucket
  NameMap<Series> fields;           // numeric data fields by name
  NameMap<FieldValue> last_values;  // latest value of each non-numeric field
  // Not part of the value (always compares equal): a lower bound on the earliest hourly and
  // daily bucket start of these series, so that apply() skips the stats with nothing to prune
  // without visiting each series. 0 (as after decoding) means "look".
  struct PruneHint {
    TimeMs hourly = 0;
    TimeMs daily = 0;
    bool operator==(const PruneHint&) const { return true; }
  };
  PruneHint oldest;
  bool operator==(const TypeStats&) const = default;
};

// A derived series (see series_spec.h): one TypeStats per group value ("" when not grouped).
struct DerivedSeries {
  NameMap<TypeStats> groups;
  bool operator==(const DerivedSeries&) const = default;
};

// Where one alert rule stands for this account (and group). Kept with the account so it
// survives restarts and follows the account when its partition moves.
struct AlertState {
  enum class Phase : std::uint8_t { kInactive = 0, kPending = 1, kFiring = 2 };
  Phase phase = Phase::kInactive;
  TimeMs since = 0;     // pending: when the condition became true
  TimeMs fired_at = 0;  // firing: when it started to fire
  TimeMs cleared_at =
      0;             // firing: when the condition last turned false (keep_firing_for), 0 = true
  double value = 0;  // the expression's value at the last transition (evidence)
  // Labels sent when it started firing: the resolution must carry the very same set, since
  // receivers such as Alertmanager identify an alert by its labels.
  std::map<std::string, std::string> labels;
  bool operator==(const AlertState&) const = default;
};

// The ids of the events applied to an account whose time lies within a grace of its watermark
// (Retention::ids, the late grace): a re-delivered event (same source and id) is recognised
// by them. An event older than the grace is dead-lettered as late before it could be applied
// twice, so older ids are not needed. Each id is kept as a 64-bit hash (event_id_hash), with
// the day its event's time falls in; sorted by (day, hash). A day is dropped whole once it
// ends before the horizon, so ids are kept up to a day longer than the grace.
struct RecentIds {
  struct Entry {
    TimeMs day = 0;  // floor_to(event time, kDayMs)
    std::uint64_t hash = 0;
    auto operator<=>(const Entry&) const = default;
  };
  std::vector<Entry> entries;

  [[nodiscard]] bool contains(std::uint64_t hash) const;
  // Adds the id of an event at time t (kept once). Returns the change in heap bytes.
  std::ptrdiff_t add(TimeMs t, std::uint64_t hash);
  // Drops the days that end at or before horizon.
  void prune(TimeMs horizon);
  bool operator==(const RecentIds&) const = default;
};

// The 64-bit hash that stands for an event's (source, id) in RecentIds: FNV-1a over the
// source's length, the source and the id (so no two pairs share an input), then a 64-bit
// finaliser. Stable across builds and machines: it is stored. Two different ids of one account
// within the grace collide with a probability of about n^2 / 2^65 for n ids (1e-12 for 10,000).
[[nodiscard]] std::uint64_t event_id_hash(std::string_view source, std::string_view id);

struct AccountState {
  std::string id;
  std::map<std::string, FieldValue> profile;  // merged account.profile fields
  NameMap<TypeStats> types;                   // by event type
  NameMap<DerivedSeries> derived;             // by SeriesSpec::key()
  std::map<std::string, AlertState> alerts;   // by rule name + '\x1f' + group
  std::int64_t applied = 0;                   // events applied, all types
  TimeMs first_time = 0;                      // earliest event time applied
  TimeMs max_time = 0;                        // latest event time applied (the account's watermark)
  // The input partition the account's events arrive on (-1 before the first). With several
  // instances it decides which instance owns the account (input topics are co-partitioned).
  std::int32_t partition = -1;
  RecentIds recent_ids;  // to recognise re-delivered events
  bool operator==(const AccountState&) const = default;
};

// Heap and inline bytes the state takes in memory, estimated from its containers (capacities,
// map nodes, out-of-line strings); what the account cache counts against its byte budget.
// Cost: one visit per series, field and alert, not per bucket.
[[nodiscard]] std::size_t memory_bytes(const AccountState& state);

// How much history the buckets keep, measured back from the account's watermark.
// ids: how long applied event ids are kept to recognise re-deliveries (RecentIds); the pipeline
// and the replayer set it to the late grace, since events older than that are refused as late.
struct Retention {
  TimeMs hourly = 3 * kDayMs;
  TimeMs daily = 800 * kDayMs;
  TimeMs ids = 7 * kDayMs;
};

// A derived series an event adds to: the SeriesSpec key and the event's group ("" ungrouped).
struct DerivedTarget {
  std::string key;
  std::string group;
  bool operator==(const DerivedTarget&) const = default;
};

// The derived series of specs that event matches, in spec order (out is cleared first).
void derived_targets(const SeriesSpecs* specs, const Event& event, std::vector<DerivedTarget>& out);

// Applies one event: the per-type aggregates, the profile, every derived series of specs that
// the event matches, and its id (event_id_hash of its source and id) among the recent ids. The
// caller has already checked it is valid, new (not in state.recent_ids) and not too late.
// Returns the change in memory_bytes(state) (so a cache can keep its count without measuring
// the whole state again).
std::ptrdiff_t apply(AccountState& state, const Event& event, const Retention& retention,
                     const SeriesSpecs* specs = nullptr);
// The same with the derived series already resolved (derived_targets): applying the same
// events with the same targets always gives the same state, whatever the rules are by then
// (the store replays recorded events this way, state/codec.h).
std::ptrdiff_t apply(AccountState& state, const Event& event, const Retention& retention,
                     const std::vector<DerivedTarget>& targets);
// The same with the id's hash given (nullopt: record no id, for deltas stored before ids were
// kept; event.source and event.id are not read).
std::ptrdiff_t apply(AccountState& state, const Event& event, const Retention& retention,
                     const std::vector<DerivedTarget>& targets,
                     std::optional<std::uint64_t> id_hash);

}  // namespace kamwatch::model
