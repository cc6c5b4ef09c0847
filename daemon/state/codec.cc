#include "state/codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace kamwatch::state {
namespace {

using model::AccountState;
using model::Bucket;
using model::FieldValue;
using model::Series;
using model::TypeStats;

// Bucket flags: which doubles are implied by others (bit-identical) and therefore omitted.
constexpr std::uint8_t kLastIsOne = 1 << 0;
constexpr std::uint8_t kMinIsLast = 1 << 1;
constexpr std::uint8_t kMaxIsLast = 1 << 2;
constexpr std::uint8_t kSumIsCountTimesLast = 1 << 3;
constexpr std::uint8_t kKnownFlags = kLastIsOne | kMinIsLast | kMaxIsLast | kSumIsCountTimesLast;

// Smallest possible encoding of one bucket (flags + three one-byte varints), used to reject
// impossible counts before reserving.
constexpr std::size_t kMinBucketBytes = 4;

constexpr std::uint64_t bits(double v) { return std::bit_cast<std::uint64_t>(v); }
constexpr std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int64_t unzigzag(std::uint64_t u) {
  return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// ---- writing ------------------------------------------------------------------------------

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_varint(std::string& out, std::uint64_t v) {
  char buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

void put_svarint(std::string& out, std::int64_t v) { put_varint(out, zigzag(v)); }

void put_u64(std::string& out, std::uint64_t u) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(u >> (8 * i));
  out.append(buf, 8);
}

void put_f64(std::string& out, double v) {
  const std::uint64_t u = bits(v);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(u >> (8 * i));
  out.append(buf, 8);
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

void put_value(std::string& out, const FieldValue& v) {
  put_u8(out, static_cast<std::uint8_t>(v.kind));
  switch (v.kind) {
    case FieldValue::Kind::kNull:
      break;
    case FieldValue::Kind::kNumber:
      put_f64(out, v.number);
      break;
    case FieldValue::Kind::kBool:
      put_u8(out, v.boolean ? 1 : 0);
      break;
    case FieldValue::Kind::kString:
    case FieldValue::Kind::kJson:
      put_str(out, v.text);
      break;
  }
}

template <typename Map>  // of FieldValue by name: the profile's std::map, or a NameMap
void put_value_map(std::string& out, const Map& m) {
  put_varint(out, m.size());
  for (const auto& [k, v] : m) {
    put_str(out, k);
    put_value(out, v);
  }
}

void put_buckets(std::string& out, const std::vector<Bucket>& buckets) {
  put_varint(out, buckets.size());
  std::uint64_t prev_start = 0;
  for (const Bucket& b : buckets) {
    std::uint8_t flags = 0;
    if (bits(b.last) == bits(1.0)) flags |= kLastIsOne;
    if (bits(b.min) == bits(b.last)) flags |= kMinIsLast;
    if (bits(b.max) == bits(b.last)) flags |= kMaxIsLast;
    if (bits(b.sum) == bits(static_cast<double>(b.count) * b.last)) flags |= kSumIsCountTimesLast;
    put_u8(out, flags);
    // Unsigned arithmetic: wraps instead of overflowing, and the decoder wraps back.
    const auto start = static_cast<std::uint64_t>(b.start);
    put_svarint(out, static_cast<std::int64_t>(start - prev_start));
    prev_start = start;
    put_svarint(out, b.count);
    put_svarint(out, static_cast<std::int64_t>(static_cast<std::uint64_t>(b.last_time) - start));
    if (!(flags & kLastIsOne)) put_f64(out, b.last);
    if (!(flags & kMinIsLast)) put_f64(out, b.min);
    if (!(flags & kMaxIsLast)) put_f64(out, b.max);
    if (!(flags & kSumIsCountTimesLast)) put_f64(out, b.sum);
  }
}

void put_series(std::string& out, const Series& s) {
  put_svarint(out, s.count);
  put_f64(out, s.sum);
  put_buckets(out, s.hourly);
  put_buckets(out, s.daily);
}

void put_type_stats(std::string& out, const TypeStats& t) {
  put_svarint(out, t.count);
  put_svarint(out, t.first_time);
  put_svarint(out, t.last_time);
  put_series(out, t.events);
  put_varint(out, t.fields.size());
  for (const auto& [name, series] : t.fields) {
    put_str(out, name);
    put_series(out, series);
  }
  put_value_map(out, t.last_values);
}

// A cheap estimate of the encoded size, so encode reserves once instead of growing repeatedly.
std::size_t estimate_size(const AccountState& s) {
  std::size_t n = 32 + s.id.size() + 10 * s.recent_ids.entries.size();
  for (const auto& [k, v] : s.profile) n += k.size() + v.text.size() + 12;
  for (const auto& [type, t] : s.types) {
    n += type.size() + 40 + 16 * (t.events.hourly.size() + t.events.daily.size());
    for (const auto& [name, series] : t.fields) {
      n += name.size() + 16 + 24 * (series.hourly.size() + series.daily.size());
    }
    for (const auto& [k, v] : t.last_values) n += k.size() + v.text.size() + 12;
  }
  return n;
}

void reserve_for(std::string& out, std::size_t extra) {
  const std::size_t need = out.size() + extra;
  if (out.capacity() < need) out.reserve(std::max(need, 2 * out.capacity()));
}

// ---- reading ------------------------------------------------------------------------------

// Bounds-checked cursor. The first failure is recorded; every read after it fails too, so
// callers may check once per compound value.
class Reader {
 public:
  Reader(std::string_view in, const char* what)
      : begin_(in.data()), p_(in.data()), end_(in.data() + in.size()), what_(what) {}

  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  [[nodiscard]] bool failed() const { return !code_.empty(); }

  bool u8(std::uint8_t& v) {
    if (p_ == end_) return truncated("byte");
    v = static_cast<std::uint8_t>(*p_++);
    return true;
  }

  bool varint(std::uint64_t& v) {
    std::uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return truncated("varint");
      const auto byte = static_cast<std::uint8_t>(*p_++);
      if (shift == 63 && byte > 1) return corrupt("varint overflows 64 bits");
      if (byte == 0 && shift > 0) return corrupt("overlong varint");
      result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        v = result;
        return true;
      }
    }
    return corrupt("varint overflows 64 bits");
  }

  bool svarint(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!varint(u)) return false;
    v = unzigzag(u);
    return true;
  }

  bool u64(std::uint64_t& u, const char* reading = "u64") {
    if (remaining() < 8) return truncated(reading);
    u = 0;
    for (int i = 0; i < 8; ++i)
      u |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(p_[i])) << (8 * i);
    p_ += 8;
    return true;
  }

  bool f64(double& v) {
    std::uint64_t u = 0;
    if (!u64(u, "double")) return false;
    v = std::bit_cast<double>(u);
    return true;
  }

  bool str(std::string& s) {
    std::uint64_t n = 0;
    if (!varint(n)) return false;
    if (n > remaining()) return truncated("string");
    s.assign(p_, static_cast<std::size_t>(n));
    p_ += n;
    return true;
  }

  // A collection size; at least min_bytes of input per element must remain, so a corrupt count
  // can never make the caller reserve more than the input size justifies.
  bool count(std::uint64_t& n, std::size_t min_bytes) {
    if (!varint(n)) return false;
    if (n > remaining() / min_bytes) return truncated("collection");
    return true;
  }

  bool corrupt(const char* why) { return fail("codec_corrupt", why); }
  bool truncated(const char* reading) { return fail("codec_truncated", reading); }

  [[nodiscard]] Error error() const {
    std::string msg(what_);
    msg += code_ == "codec_truncated" ? " truncated at byte " : " corrupt at byte ";
    msg += std::to_string(fail_at_);
    msg += code_ == "codec_truncated" ? " (reading " : " (";
    msg += detail_;
    msg += ')';
    return Error{code_, std::move(msg)};
  }

 private:
  bool fail(const char* code, const char* detail) {
    if (code_.empty()) {
      code_ = code;
      detail_ = detail;
      fail_at_ = static_cast<std::size_t>(p_ - begin_);
    }
    p_ = end_;  // later reads fail fast
    return false;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const char* what_;
  std::string code_;
  const char* detail_ = "";
  std::size_t fail_at_ = 0;
};

bool get_value(Reader& r, FieldValue& v) {
  std::uint8_t kind = 0;
  if (!r.u8(kind)) return false;
  if (kind > static_cast<std::uint8_t>(FieldValue::Kind::kJson)) {
    return r.corrupt("unknown field value kind");
  }
  v.kind = static_cast<FieldValue::Kind>(kind);
  switch (v.kind) {
    case FieldValue::Kind::kNull:
      return true;
    case FieldValue::Kind::kNumber:
      return r.f64(v.number);
    case FieldValue::Kind::kBool: {
      std::uint8_t b = 0;
      if (!r.u8(b)) return false;
      if (b > 1) return r.corrupt("bool is neither 0 nor 1");
      v.boolean = b == 1;
      return true;
    }
    case FieldValue::Kind::kString:
    case FieldValue::Kind::kJson:
      return r.str(v.text);
  }
  return false;
}

// Reads a map of n entries written in ascending key order; get_mapped decodes one value in place.
// Strict order keeps decoding canonical and makes every insert an O(1) hinted append.
// Map: a std::map or a model::NameMap (reserved for its n entries: count() has checked that
// the input can hold them).
template <typename Map, typename GetMapped>
bool get_map(Reader& r, Map& m, std::size_t min_entry_bytes, GetMapped get_mapped) {
  using V = typename Map::mapped_type;
  std::uint64_t n = 0;
  if (!r.count(n, min_entry_bytes)) return false;
  if constexpr (requires { m.reserve(std::size_t{}); })
    m.reserve(m.size() + static_cast<std::size_t>(n));
  std::string key;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!r.str(key)) return false;
    if (!m.empty() && !(std::prev(m.end())->first < key)) {
      return r.corrupt("map keys not strictly ascending");
    }
    auto it = m.emplace_hint(m.end(), std::move(key), V{});
    if (!get_mapped(r, it->second)) return false;
  }
  return true;
}

bool get_buckets(Reader& r, std::vector<Bucket>& buckets) {
  std::uint64_t n = 0;
  if (!r.count(n, kMinBucketBytes)) return false;
  buckets.resize(static_cast<std::size_t>(n));
  std::uint64_t prev_start = 0;
  for (Bucket& b : buckets) {
    std::uint8_t flags = 0;
    std::int64_t delta = 0;
    std::int64_t last_delta = 0;
    if (!r.u8(flags)) return false;
    if (flags & ~kKnownFlags) return r.corrupt("unknown bucket flags");
    if (!r.svarint(delta) || !r.svarint(b.count) || !r.svarint(last_delta)) return false;
    const std::uint64_t start = prev_start + static_cast<std::uint64_t>(delta);
    prev_start = start;
    b.start = static_cast<TimeMs>(start);
    b.last_time = static_cast<TimeMs>(start + static_cast<std::uint64_t>(last_delta));
    b.last = 1.0;
    if (!(flags & kLastIsOne) && !r.f64(b.last)) return false;
    b.min = b.last;
    if (!(flags & kMinIsLast) && !r.f64(b.min)) return false;
    b.max = b.last;
    if (!(flags & kMaxIsLast) && !r.f64(b.max)) return false;
    b.sum = static_cast<double>(b.count) * b.last;
    if (!(flags & kSumIsCountTimesLast) && !r.f64(b.sum)) return false;
  }
  return true;
}

bool get_series(Reader& r, Series& s) {
  return r.svarint(s.count) && r.f64(s.sum) && get_buckets(r, s.hourly) && get_buckets(r, s.daily);
}

bool get_type_stats(Reader& r, TypeStats& t) {
  return r.svarint(t.count) && r.svarint(t.first_time) && r.svarint(t.last_time) &&
         get_series(r, t.events) && get_map(r, t.fields, 11, get_series) &&
         get_map(r, t.last_values, 2, get_value);
}

Error version_error(const char* what, std::uint8_t found, std::uint8_t expected) {
  return Error{"codec_version", std::string(what) + " has format version " + std::to_string(found) +
                                    ", this build reads version " + std::to_string(expected)};
}

}  // namespace

void encode_account_to(const AccountState& state, std::string& out) {
  reserve_for(out, estimate_size(state));
  put_u8(out, kAccountCodecVersion);
  put_str(out, state.id);
  put_svarint(out, state.applied);
  put_svarint(out, state.first_time);
  put_svarint(out, state.max_time);
  put_value_map(out, state.profile);
  put_varint(out, state.types.size());
  for (const auto& [type, stats] : state.types) {
    put_str(out, type);
    put_type_stats(out, stats);
  }
  // Version 2: derived series and alert states.
  put_varint(out, state.derived.size());
  for (const auto& [key, derived] : state.derived) {
    put_str(out, key);
    put_varint(out, derived.groups.size());
    for (const auto& [group, stats] : derived.groups) {
      put_str(out, group);
      put_type_stats(out, stats);
    }
  }
  put_varint(out, state.alerts.size());
  for (const auto& [key, a] : state.alerts) {
    put_str(out, key);
    put_u8(out, static_cast<std::uint8_t>(a.phase));
    put_svarint(out, a.since);
    put_svarint(out, a.fired_at);
    put_svarint(out, a.cleared_at);
    put_f64(out, a.value);
    put_varint(out, a.labels.size());
    for (const auto& [k, v] : a.labels) {
      put_str(out, k);
      put_str(out, v);
    }
  }
  // Version 3: the input partition.
  put_svarint(out, state.partition);
  // Version 4: the recent event ids.
  put_varint(out, state.recent_ids.entries.size());
  TimeMs day = 0;
  for (const model::RecentIds::Entry& e : state.recent_ids.entries) {
    put_svarint(out, (e.day - day) / kDayMs);
    day = e.day;
    put_u64(out, e.hash);
  }
}

std::string encode_account(const AccountState& state) {
  std::string out;
  encode_account_to(state, out);
  return out;
}

Result<AccountState> decode_account(std::string_view bytes) {
  constexpr const char* kWhat = "account record";
  Reader r(bytes, kWhat);
  std::uint8_t version = 0;
  if (!r.u8(version)) return r.error();
  if (version > kAccountCodecVersion || version == 0)
    return version_error(kWhat, version, kAccountCodecVersion);
  AccountState s;
  bool ok = r.str(s.id) && r.svarint(s.applied) && r.svarint(s.first_time) &&
            r.svarint(s.max_time) && get_map(r, s.profile, 2, get_value) &&
            get_map(r, s.types, 16, get_type_stats);
  if (ok && version >= 2) {
    ok = get_map(r, s.derived, 2,
                 [](Reader& rd, model::DerivedSeries& d) {
                   return get_map(rd, d.groups, 16, get_type_stats);
                 }) &&
         get_map(r, s.alerts, 14, [](Reader& rd, model::AlertState& a) {
           std::uint8_t phase = 0;
           if (!rd.u8(phase)) return false;
           if (phase > 2) return rd.corrupt("alert phase out of range");
           a.phase = static_cast<model::AlertState::Phase>(phase);
           return rd.svarint(a.since) && rd.svarint(a.fired_at) && rd.svarint(a.cleared_at) &&
                  rd.f64(a.value) &&
                  get_map(rd, a.labels, 2, [](Reader& r2, std::string& v) { return r2.str(v); });
         });
  }
  if (ok && version >= 3) {
    std::int64_t partition = 0;
    ok = r.svarint(partition);
    if (ok && (partition < -1 || partition > INT32_MAX)) ok = r.corrupt("partition out of range");
    s.partition = static_cast<std::int32_t>(partition);
  }
  if (ok && version >= 4) {
    std::uint64_t n = 0;
    ok = r.count(n, 9);
    if (ok) s.recent_ids.entries.resize(static_cast<std::size_t>(n));
    // Days since the epoch, bounded so that the times cannot overflow (±270,000 years).
    constexpr std::int64_t kMaxDays = 100'000'000;
    std::int64_t day = 0;
    for (std::size_t i = 0; ok && i < s.recent_ids.entries.size(); ++i) {
      model::RecentIds::Entry& e = s.recent_ids.entries[i];
      std::int64_t days = 0;
      ok = r.svarint(days) && r.u64(e.hash, "recent id");
      if (ok && (days < -2 * kMaxDays || days > 2 * kMaxDays || day + days < -kMaxDays ||
                 day + days > kMaxDays))
        ok = r.corrupt("recent id day out of range");
      if (!ok) break;
      day += days;
      e.day = day * kDayMs;
      if (i > 0 && !(s.recent_ids.entries[i - 1] < e))
        ok = r.corrupt("recent ids not in ascending order");
    }
  }
  if (!ok) return r.error();
  if (r.remaining() != 0) {
    r.corrupt("trailing bytes");
    return r.error();
  }
  return s;
}

void encode_outbox_to(const OutboxRecord& record, std::string& out) {
  std::size_t size = 16 + record.sink.size() + record.key.size() + record.value.size();
  for (const auto& [name, value] : record.headers) size += 4 + name.size() + value.size();
  reserve_for(out, size);
  put_u8(out, kOutboxCodecVersion);
  put_str(out, record.sink);
  put_str(out, record.key);
  put_str(out, record.value);
  put_varint(out, record.headers.size());
  for (const auto& [name, value] : record.headers) {
    put_str(out, name);
    put_str(out, value);
  }
}

std::string encode_outbox(const OutboxRecord& record) {
  std::string out;
  encode_outbox_to(record, out);
  return out;
}

Result<OutboxRecord> decode_outbox(std::string_view bytes) {
  constexpr const char* kWhat = "outbox record";
  Reader r(bytes, kWhat);
  std::uint8_t version = 0;
  if (!r.u8(version)) return r.error();
  if (version != kOutboxCodecVersion) return version_error(kWhat, version, kOutboxCodecVersion);
  OutboxRecord rec;
  std::uint64_t n = 0;
  bool ok = r.str(rec.sink) && r.str(rec.key) && r.str(rec.value) && r.count(n, 2);
  if (ok) {
    rec.headers.resize(static_cast<std::size_t>(n));
    for (auto& [name, value] : rec.headers) {
      if (!r.str(name) || !r.str(value)) {
        ok = false;
        break;
      }
    }
  }
  if (!ok) return r.error();
  if (r.remaining() != 0) {
    r.corrupt("trailing bytes");
    return r.error();
  }
  return rec;
}

void encode_account_delta_to(const model::Event& event, std::uint64_t id_hash,
                             std::int32_t partition, const model::Retention& retention,
                             const std::vector<model::DerivedTarget>& targets, std::string& out) {
  std::size_t size = 32 + event.type.size() + event.subject.size();
  for (const model::Field& f : event.data) size += 12 + f.name.size() + f.value.text.size();
  for (const model::DerivedTarget& t : targets) size += 4 + t.key.size() + t.group.size();
  reserve_for(out, size);
  put_u8(out, kAccountDeltaCodecVersion);
  put_str(out, event.type);
  put_str(out, event.subject);
  put_svarint(out, event.time);
  put_svarint(out, partition);
  put_svarint(out, retention.hourly);
  put_svarint(out, retention.daily);
  put_svarint(out, retention.ids);
  put_u64(out, id_hash);
  put_varint(out, event.data.size());
  for (const model::Field& f : event.data) {
    put_str(out, f.name);
    put_value(out, f.value);
  }
  put_varint(out, targets.size());
  for (const model::DerivedTarget& t : targets) {
    put_str(out, t.key);
    put_str(out, t.group);
  }
}

Result<void> apply_account_delta(model::AccountState& state, std::string_view bytes,
                                 AccountDeltaScratch& scratch) {
  constexpr const char* kWhat = "account delta";
  Reader r(bytes, kWhat);
  model::Event& e = scratch.event;
  do {
    std::uint8_t version = 0;
    if (!r.u8(version)) return r.error();
    if (version != kAccountDeltaCodecVersion && version != kAccountDeltaCodecVersionNoIds)
      return version_error(kWhat, version, kAccountDeltaCodecVersion);
    model::Retention retention;
    std::int64_t partition = 0;
    std::uint64_t n = 0;
    std::optional<std::uint64_t> id_hash;
    bool ok = r.str(e.type) && r.str(e.subject) && r.svarint(e.time) && r.svarint(partition) &&
              r.svarint(retention.hourly) && r.svarint(retention.daily);
    if (ok && version == kAccountDeltaCodecVersion) {
      id_hash.emplace();
      ok = r.svarint(retention.ids) && r.u64(*id_hash, "id hash");
    }
    ok = ok && r.count(n, 2);
    if (ok && (partition < -1 || partition > INT32_MAX)) ok = r.corrupt("partition out of range");
    if (ok) {
      e.data.resize(static_cast<std::size_t>(n));
      for (model::Field& f : e.data) {
        f.value = {};
        if (!r.str(f.name) || !get_value(r, f.value)) {
          ok = false;
          break;
        }
      }
    }
    if (ok) ok = r.count(n, 2);
    if (ok) {
      scratch.targets.resize(static_cast<std::size_t>(n));
      for (model::DerivedTarget& t : scratch.targets) {
        if (!r.str(t.key) || !r.str(t.group)) {
          ok = false;
          break;
        }
      }
    }
    if (!ok) return r.error();
    model::apply(state, e, retention, scratch.targets, id_hash);
    state.partition = static_cast<std::int32_t>(partition);
  } while (r.remaining() > 0);
  return {};
}

}  // namespace kamwatch::state
