#include "workload.h"

#include <cmath>
#include <memory>
#include <random>
#include <set>

#include "core/json_writer.h"
#include "core/time.h"
#include "state/rocksdb_store.h"

namespace kamwatch::testing {
namespace {

struct NumericField {
  const char* name;
  double lo, hi;  // the catalog's range
  bool integer;
};

struct TypeSpec {
  const char* type;
  std::vector<NumericField> numeric;
};

const std::vector<TypeSpec>& types() {
  static const std::vector<TypeSpec> kTypes = {
      {"usage.activity", {{"active_users", 0, 400, true}, {"sessions", 0, 2000, true}}},
      {"sales.order", {{"amount", 0, 50000, false}}},
      {"support.ticket", {{"severity", 1, 4, true}}},
      {"sales.invoice", {{"amount", 0, 90000, false}, {"days_late", 0, 60, true}}},
      {"survey.nps", {{"score", 0, 10, true}}},
      {"usage.seats", {{"licensed", 0, 500, true}, {"used", 0, 500, true}}},
      {"relationship.meeting", {}},
      {"custom.signal", {{"weight", -100, 100, false}}},  // unknown to the catalog: kept
  };
  return kTypes;
}

std::string envelope(const std::string& id, const std::string& type, TimeMs t,
                     const std::string& account, const std::string& data) {
  JsonWriter w;
  w.begin_object()
      .field("specversion", "1.0")
      .field("id", id)
      .field("source", "itest")
      .field("type", type)
      .field("time", format_rfc3339(t))
      .field("subject", account)
      .key("data")
      .raw(data)
      .end_object();
  return w.take();
}

}  // namespace

Workload make_workload(const WorkloadOptions& o) {
  Workload w;
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  const TimeMs t0 = *parse_rfc3339("2025-01-01T00:00:00Z");
  std::vector<TimeMs> clock(o.accounts, t0);  // per-account event time, moving forward
  std::vector<std::string> ids;
  for (int a = 0; a < o.accounts; ++a) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "ACC-%03d", a);
    ids.emplace_back(buf);
  }
  std::uint64_t seq = 0;
  std::vector<std::size_t> valid_positions;

  for (std::size_t i = 0; i < o.events; ++i) {
    const int a = static_cast<int>(u(rng) * o.accounts) % o.accounts;
    const auto& spec = types()[static_cast<std::size_t>(u(rng) * types().size()) % types().size()];
    // Mostly forward in time, sometimes a little back (within the grace): real producers race.
    clock[a] += static_cast<TimeMs>(u(rng) * 2 * kHourMs);
    const TimeMs t = u(rng) < 0.05 ? clock[a] - static_cast<TimeMs>(u(rng) * 2 * kDayMs) : clock[a];
    JsonWriter d;
    d.begin_object();
    TypeTotals& tot = w.oracle[ids[a]][spec.type];
    tot.count += 1;
    for (const NumericField& f : spec.numeric) {
      // Whole numbers or multiples of 0.25 keep every sum exact in binary floating point.
      const double raw = f.lo + u(rng) * (f.hi - f.lo);
      const double v = f.integer ? std::round(raw) : std::floor(raw * 4) / 4.0;
      d.field(f.name, v);
      tot.sums[f.name] += v;
      tot.n[f.name] += 1;
    }
    const std::string_view type = spec.type;
    if (type == "sales.order") d.field("category", "sensors").field("currency", "EUR");
    if (type == "relationship.meeting") d.field("kind", "qbr").field("level", "exec");
    if (type == "support.ticket")
      d.field("ticket_id", "T-" + std::to_string(seq)).field("action", "opened");
    d.end_object();
    const std::string id = "ev-" + std::to_string(++seq);
    w.messages.push_back({ids[a], envelope(id, spec.type, t, ids[a], d.str()), {}});
    valid_positions.push_back(w.messages.size() - 1);
    ++w.valid;

    if (u(rng) < o.duplicates) {  // a producer retry: the very same event again, a bit later
      w.messages.push_back(w.messages.back());
      ++w.duplicates;
    }
    if (u(rng) < o.late) {  // far older than the 7-day grace: dead-lettered as late
      const std::string late_id = "late-" + std::to_string(++seq);
      const std::string v = envelope(late_id, "usage.activity", clock[a] - 30 * kDayMs, ids[a],
                                     R"({"active_users":1})");
      w.messages.push_back({ids[a], v, {}});
      w.expected_reason[v] = "late";
      ++w.late;
    }
    if (u(rng) < o.malformed) {
      const std::string tag = std::to_string(++seq);
      const std::string acct = ids[a];
      const TimeMs tt = clock[a];
      std::string v, reason;
      switch (seq % 6) {
        case 0:
          v = envelope("bad-" + tag, "sales.order", tt, acct, R"({"amount":12.5})");
          v = v.substr(0, v.size() / 2);  // truncated
          reason = "invalid_json";
          break;
        case 1:
          v = R"({"specversion":"1.0","id":"bad-)" + tag +
              R"(","source":"itest","type":"sales.order","subject":")" + acct +
              R"(","data":{"amount":1}})";
          reason = "missing_attribute";
          break;
        case 2:
          v = R"({"specversion":"1.0","id":"bad-)" + tag +
              R"(","source":"itest","type":"sales.order","time":"last tuesday","subject":")" +
              acct + R"(","data":{"amount":1}})";
          reason = "bad_time";
          break;
        case 3:
          v = envelope("bad-" + tag, "sales.order", tt, acct, R"({"amount":"twelve"})");
          reason = "wrong_field_type";
          break;
        case 4:
          v = envelope("bad-" + tag, "usage.activity", tt, acct, R"([1,2,3])");
          reason = "data_not_object";
          break;
        default:
          v = "not json at all " + tag;
          reason = "invalid_json";
          break;
      }
      w.messages.push_back({acct, v, {}});
      w.expected_reason[v] = reason;
      ++w.malformed;
    }
  }
  return w;
}

std::vector<std::vector<Message>> split(const std::vector<Message>& messages, int waves) {
  std::vector<std::vector<Message>> out(waves);
  for (std::size_t i = 0; i < messages.size(); ++i)
    out[i * static_cast<std::size_t>(waves) / messages.size()].push_back(messages[i]);
  return out;
}

std::vector<std::string> compare_with_oracle(const std::string& data_dir, const Oracle& oracle) {
  return tally_with_oracle({data_dir}, oracle).diffs;
}

OracleTally tally_with_oracle(const std::vector<std::string>& data_dirs, const Oracle& oracle,
                              const std::function<std::size_t(const std::string&)>& owner) {
  OracleTally out;
  auto& diffs = out.diffs;
  for (const auto& [account, by_type] : oracle)
    for (const auto& [type, tot] : by_type) out.expected += tot.count;
  std::vector<std::unique_ptr<state::RocksDbStore>> stores;
  for (const std::string& dir : data_dirs) {
    state::StoreOptions opts;
    opts.path = dir;
    opts.read_only = true;
    opts.create_if_missing = false;
    auto store = state::RocksDbStore::open(opts);
    if (!store.ok()) {
      diffs.push_back("cannot open state: " + store.error().message);
      stores.push_back(nullptr);
    } else {
      stores.push_back(std::move(store).value());
    }
  }
  // Accounts nobody sent: everything in them is counted twice over (or invented).
  std::set<std::string> seen_accounts;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    if (!stores[i]) continue;
    auto r = stores[i]->for_each_account([&](const model::AccountState& s) {
      if (oracle.count(s.id)) return true;
      if (owner && owner(s.id) != i) return true;
      if (!seen_accounts.insert(s.id).second) return true;
      diffs.push_back(s.id + ": not in the oracle");
      for (const auto& [type, t] : s.types) out.double_counted += t.count;
      return true;
    });
    if (!r.ok()) diffs.push_back(r.error().message);
  }
  for (const auto& [account, by_type] : oracle) {
    const std::size_t i = owner ? owner(account) : 0;
    state::RocksDbStore* store = i < stores.size() ? stores[i].get() : nullptr;
    auto s = store ? store->get_account(account)
                   : Result<std::optional<model::AccountState>>(std::nullopt);
    if (!s.ok() || !s->has_value()) {
      diffs.push_back(account + ": missing");
      for (const auto& [type, tot] : by_type) out.lost += tot.count;
      continue;
    }
    const model::AccountState& st = **s;
    for (const auto& [type, tot] : by_type) {
      auto it = st.types.find(type);
      const std::int64_t have = it == st.types.end() ? 0 : it->second.count;
      if (have < tot.count) out.lost += tot.count - have;
      if (have > tot.count) out.double_counted += have - tot.count;
      if (have != tot.count)
        diffs.push_back(account + " " + type + " count " + std::to_string(have) +
                        " != " + std::to_string(tot.count));
      if (it == st.types.end()) continue;
      for (const auto& [field, sum] : tot.sums) {
        auto f = it->second.fields.find(field);
        const double got = f == it->second.fields.end() ? 0 : f->second.sum;
        const std::int64_t got_n = f == it->second.fields.end() ? 0 : f->second.count;
        if (got != sum || got_n != tot.n.at(field))
          diffs.push_back(account + " " + type + "." + field + " sum " + std::to_string(got) +
                          " != " + std::to_string(sum));
      }
    }
    for (const auto& [type, t] : st.types) {
      if (by_type.count(type)) continue;
      out.double_counted += t.count;
      diffs.push_back(account + " " + type + ": not in the oracle");
    }
  }
  return out;
}

}  // namespace kamwatch::testing
