// Micro-benchmarks of the pipeline's per-event stages (Google Benchmark), on realistic events:
// the simulator's catalog mix (daemon/sim), applied with the shipped rules' derived series.
//  - Decode/<format>: ingest::Decoder::decode of one event, catalog validation included (as in
//    app/pipeline.cc), in each encoding the decoder reads;
//  - StateUpdate/<days>: the pipeline's state update (derived targets, then model::apply) for
//    one event on an account with that many days of history;
//  - StoreCommit/<events>: RocksDbStore::commit of a batch of that many events built as the
//    pipeline builds it (account deltas, seen ids, offsets), per event; RawPut/<events>: plain
//    RocksDB WriteBatch puts of the same keys and sizes, for comparison (arrival or key order);
//  - StoreSeen/sorted:<0|1>: RocksDbStore::seen of a batch's 10,000 dedup keys, in arrival or
//    key order;
//  - CachedUpdate/<accounts>: account cache lookup + state update per event, with that many
//    accounts in memory (one iteration = one day of their events).
// Rule evaluation per event is in kamwatch_rules_bench (ShippedPacks, ShippedPacksMix).
//
//   build/release/bench/kamwatch_micro_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench_support.h"
#include "core/time.h"
#include "ingest/catalog.h"
#include "ingest/decoder.h"
#include "proto/cloudevents.pb.h"
#include "proto/events.pb.h"
#include "state/account_cache.h"
#include "state/codec.h"
#include "state/rocksdb_store.h"

namespace {

using namespace kamwatch;

// Resident set size of this process, in MiB (0 when unknown).
double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

// ---- Decode ----------------------------------------------------------------------------------

enum class Format { kStructured, kBinary, kProtobufText, kProtobufTyped };

// One Kafka message: value and headers (a RawMessage views them).
struct Encoded {
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The `data` object of a structured event, as JSON text.
std::string data_json(const std::string& event_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element data;
  if (parser.parse(event_json)["data"].get(data) != simdjson::SUCCESS) return "{}";
  return simdjson::to_string(data);
}

io::cloudevents::v1::CloudEvent cloud_event_pb(const model::Event& e) {
  io::cloudevents::v1::CloudEvent ce;
  ce.set_id(e.id);
  ce.set_source(e.source);
  ce.set_spec_version("1.0");
  ce.set_type(e.type);
  auto& attrs = *ce.mutable_attributes();
  auto* ts = attrs["time"].mutable_ce_timestamp();
  ts->set_seconds(e.time / kSecondMs);
  ts->set_nanos(static_cast<std::int32_t>(e.time % kSecondMs) * 1000000);
  attrs["subject"].set_ce_string(e.subject);
  return ce;
}

// The event's data as its typed kamwatch.events.v1 message (fields the message lacks are
// dropped); false for a type without one.
bool pack_typed(const model::Event& e, const std::string& data, google::protobuf::Any& out) {
  const ingest::EventTypeSpec* spec = ingest::find_event_type(e.type);
  if (spec == nullptr) return false;
  const auto* d = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
      "kamwatch.events.v1." + std::string(spec->proto_message));
  if (d == nullptr) return false;
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(data, m.get(), opts).ok()) return false;
  out.PackFrom(*m);
  return true;
}

// The event in format f; nullopt for kProtobufTyped when its type has no typed message or its
// data does not fit it.
std::optional<Encoded> encode(Format f, const std::string& json, const model::Event& e) {
  Encoded m;
  switch (f) {
    case Format::kStructured:
      m.value = json;
      m.headers = {{"content-type", "application/cloudevents+json"}};
      break;
    case Format::kBinary:
      m.value = data_json(json);
      m.headers = {{"ce_specversion", "1.0"},
                   {"ce_id", e.id},
                   {"ce_source", e.source},
                   {"ce_type", e.type},
                   {"ce_time", format_rfc3339(e.time)},
                   {"ce_subject", e.subject},
                   {"content-type", "application/json"}};
      break;
    case Format::kProtobufText:
    case Format::kProtobufTyped: {
      auto ce = cloud_event_pb(e);
      const std::string data = data_json(json);
      if (f == Format::kProtobufText) {
        ce.set_text_data(data);
      } else if (!pack_typed(e, data, *ce.mutable_proto_data())) {
        return std::nullopt;
      }
      m.value = ce.SerializeAsString();
      m.headers = {{"content-type", "application/cloudevents+protobuf"}};
      break;
    }
  }
  return m;
}

std::vector<ingest::Header> header_views(const Encoded& m) {
  std::vector<ingest::Header> h;
  for (const auto& [k, v] : m.headers) h.push_back({k, v});
  return h;
}

ingest::RawMessage raw_message(const Encoded& m, std::span<const ingest::Header> headers,
                               std::int64_t offset) {
  ingest::RawMessage raw;
  raw.topic = "events";
  raw.partition = 0;
  raw.offset = offset;
  raw.value = m.value;
  raw.headers = headers;
  return raw;
}

// The events of the last 7 days of a 300-account, 30-day portfolio, encoded in one format.
struct DecodeSample {
  std::vector<Encoded> encoded;
  std::vector<std::vector<ingest::Header>> headers;  // views into encoded
  std::vector<ingest::RawMessage> messages;
  std::size_t bytes = 0;           // values and headers, all messages
  std::size_t text_fallbacks = 0;  // kProtobufTyped: events sent as text_data instead
  std::string error;               // set when an event does not decode as its JSON does
};

DecodeSample make_decode_sample(Format f) {
  sim::SimOptions o;
  o.accounts = 300;
  o.days = 30;
  const TimeMs from = sim::history_end(o) - 7 * kDayMs;
  DecodeSample s;
  ingest::Decoder decoder;
  model::Event got;
  const auto check = [&](const Encoded& m) {
    const auto headers = header_views(m);
    return decoder.decode(raw_message(m, headers, 0), got);
  };
  bench::simulate_decoded(o, [&](const sim::SimEvent& se, const model::Event& e) {
    if (e.time < from) return;
    std::optional<Encoded> m = encode(f, se.json, e);
    std::optional<ingest::Rejection> rej;
    if (m) rej = check(*m);
    // A typed payload cannot carry every event the JSON form can (see bench/README.md): those
    // go as text_data, as a producer would have to send them.
    if (f == Format::kProtobufTyped && (!m || rej)) {
      m = encode(Format::kProtobufText, se.json, e);
      rej = check(*m);
      ++s.text_fallbacks;
    }
    // The typed payload may order fields differently; the rest must decode exactly.
    if ((rej || (f != Format::kProtobufTyped && got != e)) && s.error.empty()) {
      s.error = "event " + e.id + " does not decode as its JSON does" +
                (rej ? ": " + rej->message : std::string());
    }
    s.bytes += m->value.size();
    for (const auto& [k, v] : m->headers) s.bytes += k.size() + v.size();
    s.encoded.push_back(std::move(*m));
  });
  // Views only once `encoded` no longer moves.
  for (const Encoded& m : s.encoded) s.headers.push_back(header_views(m));
  for (std::size_t i = 0; i < s.encoded.size(); ++i)
    s.messages.push_back(raw_message(s.encoded[i], s.headers[i], static_cast<std::int64_t>(i)));
  return s;
}

void Decode(benchmark::State& st, Format f) {
  static std::unordered_map<int, DecodeSample> samples;
  auto it = samples.find(static_cast<int>(f));
  if (it == samples.end()) it = samples.emplace(static_cast<int>(f), make_decode_sample(f)).first;
  const DecodeSample& s = it->second;
  if (!s.error.empty()) {
    st.SkipWithError(s.error.c_str());
    return;
  }
  ingest::Decoder decoder;
  model::Event e;  // reused, as the pipeline reuses its events
  std::size_t i = 0;
  for (auto _ : st) {
    auto rej = decoder.decode(s.messages[i], e);
    benchmark::DoNotOptimize(rej);
    benchmark::DoNotOptimize(e);
    i = i + 1 == s.messages.size() ? 0 : i + 1;
  }
  const double per_event = static_cast<double>(s.bytes) / static_cast<double>(s.messages.size());
  st.SetItemsProcessed(st.iterations());
  st.SetBytesProcessed(static_cast<std::int64_t>(per_event * static_cast<double>(st.iterations())));
  st.counters["bytes_per_event"] = per_event;
  if (f == Format::kProtobufTyped) {
    st.counters["text_data_share"] =
        static_cast<double>(s.text_fallbacks) / static_cast<double>(s.messages.size());
  }
}
BENCHMARK_CAPTURE(Decode, structured_json, Format::kStructured);
BENCHMARK_CAPTURE(Decode, binary_mode, Format::kBinary);
BENCHMARK_CAPTURE(Decode, protobuf_text_data, Format::kProtobufText);
BENCHMARK_CAPTURE(Decode, protobuf_typed_data, Format::kProtobufTyped);

// ---- State update ------------------------------------------------------------------------------

// 100 accounts with `days` days of history (applied with the shipped rules' derived series), and
// the events of the day after: the workload, in event-time order.
struct HistoryFixture {
  int days = -1;
  std::vector<model::AccountState> accounts;
  struct Work {
    std::size_t account;
    model::Event event;
  };
  std::vector<Work> next_day;
  double encoded_kib = 0;  // mean size of an account's stored state (state/codec.h)
};

const HistoryFixture& history_fixture(int days) {
  static HistoryFixture f;  // one at a time: the last one asked for
  if (f.days == days) return f;
  f = HistoryFixture{};
  f.days = days;
  sim::SimOptions o;
  o.accounts = 100;
  o.days = days + 1;
  const TimeMs cut = sim::history_end(o) - kDayMs;
  const rules::RuleSet& rs = *bench::shipped_rules();
  std::unordered_map<std::string, std::size_t> index;
  std::vector<model::DerivedTarget> targets;
  bench::simulate_decoded(o, [&](const sim::SimEvent& se, const model::Event& e) {
    auto [it, fresh] = index.try_emplace(se.account, f.accounts.size());
    if (fresh) f.accounts.emplace_back().id = se.account;
    if (e.time < cut) {
      bench::apply_event(f.accounts[it->second], e, rs, targets);
    } else {
      f.next_day.push_back({it->second, e});
    }
  });
  for (const model::AccountState& a : f.accounts)
    f.encoded_kib += static_cast<double>(state::encode_account(a).size()) / 1024.0;
  f.encoded_kib /= static_cast<double>(f.accounts.size());
  return f;
}

// Gives the bucket vectors of `copy` (a copy of `grown`) the spare capacity those of `grown` have:
// a copied vector has none, and its first append would reallocate, which a state grown by
// apply() in the cache rarely does.
void reserve_like(model::Series& copy, const model::Series& grown) {
  copy.hourly.reserve(grown.hourly.capacity());
  copy.daily.reserve(grown.daily.capacity());
}
void reserve_like(model::TypeStats& copy, const model::TypeStats& grown) {
  reserve_like(copy.events, grown.events);
  auto g = grown.fields.begin();
  for (auto& [name, series] : copy.fields) reserve_like(series, (g++)->second);
}
void reserve_like(model::AccountState& copy, const model::AccountState& grown) {
  auto t = grown.types.begin();
  for (auto& [type, stats] : copy.types) reserve_like(stats, (t++)->second);
  auto d = grown.derived.begin();
  for (auto& [key, derived] : copy.derived) {
    auto g = (d++)->second.groups.begin();
    for (auto& [group, stats] : derived.groups) reserve_like(stats, (g++)->second);
  }
}

// Applies the next day's events in order; when they run out the accounts are put back as they
// were (untimed), so every event meets an account with `days` (+ part of a day) of history.
void StateUpdate(benchmark::State& st) {
  const HistoryFixture& f = history_fixture(static_cast<int>(st.range(0)));
  const rules::RuleSet& rs = *bench::shipped_rules();
  std::vector<model::AccountState> accounts;
  const auto reset = [&] {
    accounts = f.accounts;
    for (std::size_t a = 0; a < accounts.size(); ++a) reserve_like(accounts[a], f.accounts[a]);
  };
  reset();
  std::vector<model::DerivedTarget> targets;
  std::size_t i = 0;
  for (auto _ : st) {
    if (i == f.next_day.size()) {
      st.PauseTiming();
      reset();
      i = 0;
      st.ResumeTiming();
    }
    const HistoryFixture::Work& w = f.next_day[i++];
    bench::apply_event(accounts[w.account], w.event, rs, targets);
    benchmark::DoNotOptimize(accounts[w.account]);
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["state_kib"] = f.encoded_kib;
  st.counters["events_per_day"] = static_cast<double>(f.next_day.size());
}
BENCHMARK(StateUpdate)->Arg(0)->Arg(30)->Arg(365);

// ---- RocksDB batch write -----------------------------------------------------------------------

// The events of two days of a 100,000-account portfolio (as in the pipeline benchmark), in random
// order, each with what a commit writes for it: its account delta (state/codec.h, with the
// shipped rules' derived targets and its id's hash) and its input partition (4 partitions); and
// its legacy dedup key (for StoreSeen).
struct CommitPool {
  struct Item {
    std::string account;
    std::string key;
    std::string delta;
    std::int32_t partition;
  };
  std::vector<Item> items;
};

const CommitPool& commit_pool() {
  static const CommitPool pool = [] {
    CommitPool p;
    sim::SimOptions o;
    o.accounts = 100000;
    o.days = 2;
    const rules::RuleSet& rs = *bench::shipped_rules();
    std::vector<model::DerivedTarget> targets;
    const model::Retention retention;
    bench::simulate_decoded(o, [&](const sim::SimEvent& se, const model::Event& e) {
      CommitPool::Item& it = p.items.emplace_back();
      it.account = se.account;
      state::dedup_key_to(it.key, e.source, e.id);
      it.partition = static_cast<std::int32_t>(std::hash<std::string>()(se.account) % 4);
      model::derived_targets(&rs.series_specs(), e, targets);
      state::encode_account_delta_to(e, model::event_id_hash(e.source, e.id), it.partition,
                                     retention, targets, it.delta);
    });
    // Batches of consecutive events would each hold one hour's mix (e.g. the nightly usage
    // roll-ups): drawn at random from the two days, every batch holds the day's mix.
    std::shuffle(p.items.begin(), p.items.end(), std::mt19937_64(1));
    return p;
  }();
  return pool;
}

// A store with the default options in dir; nullptr (and the benchmark skipped) if it fails.
std::unique_ptr<state::RocksDbStore> open_store(const bench::TempDir& dir, benchmark::State& st) {
  state::StoreOptions options;
  options.path = dir.path();
  auto store = state::RocksDbStore::open(options);
  if (!store.ok()) {
    st.SkipWithError(store.error().message.c_str());
    return nullptr;
  }
  return std::move(store).value();
}

// Commits of batches of range(0) pool events, built as app/pipeline.cc builds them
// (each account's deltas concatenated in order, the next offset of each partition; no alerts or
// dead letters), into a fresh store. Only commit() is timed. Keys repeat
// once the pool wraps: a memtable insert costs the same for a key written before.
void StoreCommit(benchmark::State& st) {
  const CommitPool& pool = commit_pool();
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  bench::TempDir dir("kamwatch-micro-store");
  auto store = open_store(dir, st);
  if (!store) return;
  std::unordered_map<std::string_view, std::size_t> slot;
  std::vector<std::string> deltas;
  std::int64_t next_offset[4] = {};
  std::size_t next = 0;
  double accounts = 0;
  for (auto _ : st) {
    st.PauseTiming();
    state::CommitBatch batch;
    slot.clear();
    for (std::size_t k = 0; k < n; ++k, next = next + 1 == pool.items.size() ? 0 : next + 1) {
      const CommitPool::Item& it = pool.items[next];
      auto [s, fresh] = slot.try_emplace(it.account, slot.size());
      if (deltas.size() < slot.size()) deltas.resize(slot.size());
      if (fresh) deltas[s->second].clear();
      deltas[s->second] += it.delta;
      ++next_offset[it.partition];
    }
    for (const auto& [id, s] : slot) batch.account_deltas.push_back({id, deltas[s]});
    for (std::int32_t p = 0; p < 4; ++p) batch.offsets.push_back({"events", p, next_offset[p]});
    accounts += static_cast<double>(slot.size());
    st.ResumeTiming();
    if (auto r = store->commit(batch); !r.ok()) {
      st.SkipWithError(r.error().message.c_str());
      break;
    }
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
  st.counters["accounts_per_batch"] = accounts / static_cast<double>(st.iterations());
}
BENCHMARK(StoreCommit)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// For comparison: a plain RocksDB database (default options, WAL on, no fsync: as the store),
// one WriteBatch of range(0) puts per write, key = an event's dedup key, value = its delta; with
// range(1) = 1 each batch's keys are put in key order (as commit() does), else in arrival order;
// range(1) = 2 in key order with the memtable insert hint that the store sets (one hint: a
// fixed prefix of length 0), so each insert climbs from the previous one instead of searching
// from the top. Building the WriteBatch is timed; choosing and sorting the batch's events is not.
void RawPut(benchmark::State& st) {
  const CommitPool& pool = commit_pool();
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const bool sorted = st.range(1) != 0;
  bench::TempDir dir("kamwatch-micro-raw");
  rocksdb::Options options;
  options.create_if_missing = true;
  if (st.range(1) == 2) {
    options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  }
  rocksdb::DB* raw = nullptr;
  if (auto s = rocksdb::DB::Open(options, dir.path(), &raw); !s.ok()) {
    st.SkipWithError(s.ToString().c_str());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteBatch wb;
  std::vector<const CommitPool::Item*> batch;
  std::size_t next = 0;
  for (auto _ : st) {
    st.PauseTiming();
    batch.clear();
    for (std::size_t k = 0; k < n; ++k, next = next + 1 == pool.items.size() ? 0 : next + 1)
      batch.push_back(&pool.items[next]);
    if (sorted) {
      std::sort(batch.begin(), batch.end(),
                [](const auto* a, const auto* b) { return a->key < b->key; });
    }
    st.ResumeTiming();
    wb.Clear();
    for (const CommitPool::Item* it : batch) {
      if (auto s = wb.Put(it->key, it->delta); !s.ok()) {
        st.SkipWithError(s.ToString().c_str());
        return;
      }
    }
    if (auto s = db->Write(rocksdb::WriteOptions(), &wb); !s.ok()) {
      st.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(RawPut)
    ->ArgNames({"events", "sorted"})
    ->Args({1000, 0})
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Args({10000, 2})
    ->Unit(benchmark::kMillisecond);

// RocksDbStore::seen (the legacy `seen` keys of databases from before schema 3) of 10,000 keys
// drawn at random from the pool, into a store holding the seen ids of the pool's first half
// (~160,000: half in the memtable, half in an SST file), so about half are found; range(0) = 1 the
// keys in key order, as the pipeline passes them (RocksDB's MultiGet then does not sort them
// again), else in arrival order. Only seen() is timed.
void StoreSeen(benchmark::State& st) {
  const CommitPool& pool = commit_pool();
  const bool sorted = st.range(0) != 0;
  constexpr std::size_t kLookups = 10000;
  const std::size_t stored = pool.items.size() / 2;
  bench::TempDir dir("kamwatch-micro-seen");
  auto store = open_store(dir, st);
  if (!store) return;
  for (std::size_t first = 0; first < stored; first += 10000) {
    state::CommitBatch batch;
    for (std::size_t k = first; k < std::min(first + 10000, stored); ++k)
      batch.seen_ids.push_back(pool.items[k].key);
    if (auto r = store->commit(batch); !r.ok()) {
      st.SkipWithError(r.error().message.c_str());
      return;
    }
    if (first + 10000 >= stored / 2 && first < stored / 2 && !store->flush().ok()) {
      st.SkipWithError("flush failed");
      return;
    }
  }
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, pool.items.size() - 1);
  std::vector<std::string_view> keys;
  std::size_t found = 0;
  for (auto _ : st) {
    st.PauseTiming();
    keys.clear();
    for (std::size_t k = 0; k < kLookups; ++k) keys.push_back(pool.items[pick(rng)].key);
    if (sorted) std::sort(keys.begin(), keys.end());
    st.ResumeTiming();
    auto seen = store->seen(keys);
    if (!seen.ok()) {
      st.SkipWithError(seen.error().message.c_str());
      break;
    }
    found += static_cast<std::size_t>(std::count(seen->begin(), seen->end(), true));
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(kLookups));
  st.counters["found_share"] =
      static_cast<double>(found) / static_cast<double>(st.iterations() * kLookups);
}
BENCHMARK(StoreSeen)->ArgName("sorted")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// ---- Cost versus number of accounts ------------------------------------------------------------

constexpr int kCacheHistoryDays = 7;
constexpr int kCacheDays = 3;  // the days after the history: one per iteration

// An account cache (over an empty store in a temp dir) holding `accounts` accounts with
// kCacheHistoryDays of history, and the events of each of the kCacheDays days after.
struct CacheFixture {
  std::unique_ptr<bench::TempDir> dir;
  std::unique_ptr<state::RocksDbStore> store;
  std::unique_ptr<state::AccountCache> cache;
  std::vector<std::vector<model::Event>> days;
  double rss_growth_mib = 0;  // the process's resident memory, after loading minus before
  std::string error;
};

std::unique_ptr<CacheFixture> cache_fixture(int accounts) {
  const double rss_before = rss_mib();
  auto f = std::make_unique<CacheFixture>();
  f->dir = std::make_unique<bench::TempDir>("kamwatch-micro-cache");
  state::StoreOptions options;
  options.path = f->dir->path();
  auto store = state::RocksDbStore::open(options);
  if (!store.ok()) {
    f->error = store.error().message;
    return f;
  }
  f->store = std::move(*store);
  f->cache = std::make_unique<state::AccountCache>(*f->store, static_cast<std::size_t>(accounts));
  f->days.resize(kCacheDays);
  sim::SimOptions o;
  o.accounts = accounts;
  o.days = kCacheHistoryDays + kCacheDays;
  const TimeMs cut = sim::history_end(o) - kCacheDays * kDayMs;
  const rules::RuleSet& rs = *bench::shipped_rules();
  std::vector<model::DerivedTarget> targets;
  bench::simulate_decoded(o, [&](const sim::SimEvent&, const model::Event& e) {
    if (e.time >= cut) {
      f->days[static_cast<std::size_t>((e.time - cut) / kDayMs)].push_back(e);
    } else if (auto a = f->cache->get(e.subject); a.ok()) {
      bench::apply_event(**a, e, rs, targets);
    } else if (f->error.empty()) {
      f->error = a.error().message;
    }
  });
  f->rss_growth_mib = rss_mib() - rss_before;
  return f;
}

// Per event: the account cache lookup (app/pipeline.cc: cache_.get(subject)) and the state
// update. One iteration is one whole day of the portfolio's events, in event-time order (the
// catalog mix varies a lot with the hour of the day, so only whole days give the mix).
void CachedUpdate(benchmark::State& st) {
  const auto f = cache_fixture(static_cast<int>(st.range(0)));
  if (!f->error.empty()) {
    st.SkipWithError(f->error.c_str());
    return;
  }
  const rules::RuleSet& rs = *bench::shipped_rules();
  std::vector<model::DerivedTarget> targets;
  std::size_t day = 0;
  std::int64_t events = 0;
  for (auto _ : st) {
    if (day == f->days.size()) {
      st.SkipWithError("more iterations than simulated days");
      break;
    }
    for (const model::Event& e : f->days[day]) {
      auto account = f->cache->get(e.subject);
      if (!account.ok()) {
        st.SkipWithError(account.error().message.c_str());
        return;
      }
      bench::apply_event(**account, e, rs, targets);
      benchmark::DoNotOptimize(**account);
    }
    events += static_cast<std::int64_t>(f->days[day++].size());
  }
  st.SetItemsProcessed(events);
  st.counters["cached_accounts"] = static_cast<double>(f->cache->size());
  st.counters["rss_growth_mib"] = f->rss_growth_mib;
}
BENCHMARK(CachedUpdate)
    ->RangeMultiplier(10)
    ->Range(1000, 100000)
    ->Iterations(kCacheDays)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
