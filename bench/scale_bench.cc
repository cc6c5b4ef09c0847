// Scale: kamwatch with a large stored portfolio. Not a test: prints a table.
//
//   build/release/bench/kamwatch_scale_bench [--accounts 1000000] [--days 365]
//                                            [--templates 200] [--sweep-minutes 20]
//                                            [--id-length 13] [--refresh-minutes 0]
//                                            [--keep-portfolio DIR]
//
// 1. Simulates --templates accounts over --days of history ending now (daemon/sim: the
//    catalog's mix) and applies their events the way the pipeline does (shipped rules'
//    derived series), giving realistic account states.
// 2. Writes --accounts states into a fresh state directory through RocksDbStore::commit (the
//    templates again and again under new ids, 2,000 per commit), then closes the store:
//    write rate, on-disk bytes per account. Refuses when the estimate does not fit the disk:
//    the bytes per account on disk after the first 20,000 are written and flushed (the states
//    compress ~5x), times the accounts, times 1.5 for compaction's room.
// 3. Starts `kamwatch run` on that directory with the default configuration (an empty input
//    topic on the real broker, the shipped rules): time from process start to /readyz 200,
//    RSS when ready, and then, while the first evaluation sweep reads every account, RSS and
//    the accounts the sweep has reached (kamwatch_accounts), until it is done or
//    --sweep-minutes pass.
// --keep-portfolio DIR: step 2 writes into DIR and keeps it; a later run with the same DIR and
// the same --accounts, --days, --templates and --id-length skips step 2 (8 minutes at a million
// accounts) and starts kamwatch on a copy of it (SST files hard-linked: RocksDB never changes
// them; the rest copied).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "flags.h"
#include "harness.h"
#include "proc_stats.h"
#include "services.h"
#include "state/codec.h"
#include "state/rocksdb_store.h"

using namespace kamwatch;
using namespace kamwatch::testing;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// Sum of the samples of one family (with or without labels) in a /metrics exposition (-1 when
// none yet).
double family_sum(const std::string& metrics, const std::string& family) {
  double sum = -1;
  std::size_t at = 0;
  while ((at = metrics.find("\n" + family, at)) != std::string::npos) {
    const std::size_t end = metrics.find('\n', at + 1);
    const std::string line = metrics.substr(at + 1, end - at - 1);
    const char next = line.size() > family.size() ? line[family.size()] : '\0';
    if (next == '{' || next == ' ')
      sum = std::max(sum, 0.0) + std::stod(line.substr(line.rfind(' ') + 1));
    at = end;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show as they come
  long accounts = 1000000;
  int days = 365, templates = 200, sweep_minutes = 20;
  // Account ids are "SCALE-" and the number, zero-padded to this many characters in all: 13
  // (SCALE-0000001) fits std::string's inline buffer (15); 18 is a Salesforce account id's
  // length, and longer ids cost a heap block in every structure that keeps one.
  int id_length = 13;
  // > 0: rules.portfolio_refresh in minutes, and after the sweep the bench waits for one more
  // refresh: the steady state's peak (the previous snapshot and the firing alerts are then held
  // while the next snapshot is scored), which the refresh at start does not show.
  int refresh_minutes = 0;
  std::string keep;  // --keep-portfolio
  kamwatch::bench::Flags flags(
      "kamwatch_scale_bench",
      "Writes a large simulated portfolio into a fresh state directory, then starts\n"
      "`kamwatch run` on it: bytes per account encoded and on disk, start to /readyz, RSS when\n"
      "ready and through the first evaluation sweep. Broker: KAMWATCH_TEST_BROKERS, else\n"
      "scripts/kafka.sh starts one. KAMWATCH_BINARY_OVERRIDE: the kamwatch binary to run\n"
      "(default: this build's).");
  flags.add("--accounts", &accounts, "N", "accounts to store (default 1000000)", 1L);
  flags.add("--days", &days, "N", "days of history per account (default 365)", 1);
  flags.add("--templates", &templates, "N", "simulated accounts, stored again and again (200)", 1);
  flags.add("--sweep-minutes", &sweep_minutes, "M", "wait at most M minutes for the sweep (20)", 1);
  flags.add("--id-length", &id_length, "N", "characters per account id, 13 to 46 (default 13)", 13,
            46);
  flags.add("--refresh-minutes", &refresh_minutes, "M",
            "rules.portfolio_refresh; wait for one more after the sweep (0: off)", 0);
  flags.add("--keep-portfolio", &keep, "DIR",
            "keep the written portfolio in DIR; reused by runs with the same flags");
  if (const int code = flags.parse(argc, argv); code >= 0) return code;

  const int digits = id_length - 6;  // after "SCALE-"

  // 1. Template states.
  auto t0 = Clock::now();
  sim::SimOptions o;
  o.accounts = templates;
  o.days = days;
  o.end = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  const auto rules = bench::shipped_rules();
  std::map<std::string, model::AccountState> by_id;
  std::vector<model::DerivedTarget> targets;
  std::uint64_t events = 0;
  bench::simulate_decoded(o, [&](const sim::SimEvent&, const model::Event& e) {
    model::AccountState& s = by_id[e.subject];
    s.id = e.subject;
    bench::apply_event(s, e, *rules, targets);
    ++events;
  });
  std::vector<model::AccountState> tmpl;
  std::uint64_t encoded = 0, decoded = 0;
  std::string buf;
  for (auto& [id, s] : by_id) {
    buf.clear();
    state::encode_account_to(s, buf);
    encoded += buf.size();
    decoded += model::memory_bytes(s);
    tmpl.push_back(std::move(s));
  }
  const double avg_encoded = static_cast<double>(encoded) / static_cast<double>(tmpl.size());
  const double avg_decoded = static_cast<double>(decoded) / static_cast<double>(tmpl.size());
  std::printf("scale bench: %zu template accounts, %d days, %llu events, %.1f s\n", tmpl.size(),
              days, static_cast<unsigned long long>(events), seconds_since(t0));

  const std::string dir = temp_dir("kw-scale");

  // 2. Write the portfolio (or reuse the kept one).
  const std::string data = dir + "/data";
  const std::string written = keep.empty() ? data : keep;
  char params[160];
  std::snprintf(params, sizeof params, "accounts %ld days %d templates %d id-length %d\n", accounts,
                days, templates, id_length);
  const std::string marker = keep + "/kamwatch-scale-bench.txt";
  const bool reuse = !keep.empty() && [&] {
    std::ifstream in(marker);
    const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return kept == params;
  }();
  if (!keep.empty() && !reuse) {
    // Only a portfolio this bench wrote (it has the marker) is replaced: a mistyped path must
    // not delete someone's directory.
    std::error_code ec;
    if (!std::filesystem::exists(marker) && !std::filesystem::is_empty(keep, ec) && !ec) {
      std::fprintf(stderr,
                   "scale bench: %s is not empty and holds no portfolio of this bench; "
                   "give an empty or new directory to --keep-portfolio\n",
                   keep.c_str());
      return 2;
    }
    std::filesystem::remove_all(keep);
  }
  t0 = Clock::now();
  if (!reuse) {
    state::StoreOptions so;
    so.path = written;
    auto store = state::RocksDbStore::open(so);
    if (!store) {
      std::printf("scale bench: cannot open the store: %s\n", store.error().message.c_str());
      return 1;
    }
    std::vector<model::AccountState> chunk;
    char id[48];
    constexpr long kProbe = 20000;  // accounts written before the disk estimate
    for (long first = 0; first < accounts; first += 2000) {
      if (first == kProbe) {
        if (auto r = (*store)->flush(); !r.ok()) {
          std::printf("scale bench: flush failed: %s\n", r.error().message.c_str());
          return 1;
        }
        const double per = static_cast<double>(dir_bytes(written)) / kProbe;
        const double need = per * static_cast<double>(accounts - kProbe) * 1.5;
        const double free = static_cast<double>(std::filesystem::space(dir).available);
        std::printf(
            "scale bench: %.0f bytes/account on disk after %ld accounts; %ld more need "
            "~%.1f GB with compaction's room; %.1f GB are free\n",
            per, kProbe, accounts - kProbe, need / 1e9, free / 1e9);
        if (need > free * 0.8) {
          std::printf("scale bench: that does not fit. Use fewer --accounts or --days.\n");
          store->reset();
          std::filesystem::remove_all(dir);
          return 1;
        }
      }
      chunk.clear();
      for (long i = first; i < std::min(accounts, first + 2000); ++i) {
        chunk.push_back(tmpl[static_cast<std::size_t>(i) % tmpl.size()]);
        std::snprintf(id, sizeof id, "SCALE-%0*ld", digits, i);
        chunk.back().id = id;
        chunk.back().partition = static_cast<std::int32_t>(i % 4);
      }
      state::CommitBatch batch;
      for (const auto& s : chunk) batch.accounts.push_back(&s);
      if (auto r = (*store)->commit(batch); !r.ok()) {
        std::printf("scale bench: commit failed: %s\n", r.error().message.c_str());
        return 1;
      }
    }
  }
  const double write_s = reuse ? -1 : seconds_since(t0);
  if (!keep.empty()) {
    if (!reuse) std::ofstream(marker) << params;
    std::filesystem::create_directories(data);
    for (const auto& e : std::filesystem::directory_iterator(keep)) {
      const auto to = data + "/" + e.path().filename().string();
      if (e.path().filename() == "kamwatch-scale-bench.txt") continue;
      if (e.path().extension() == ".sst")
        std::filesystem::create_hard_link(e.path(), to);
      else
        std::filesystem::copy(e.path(), to, std::filesystem::copy_options::recursive);
    }
    std::printf("scale bench: %s the portfolio in %s\n", reuse ? "reusing" : "keeping",
                keep.c_str());
  }
  const std::uint64_t disk = dir_bytes(data);

  // 3. kamwatch on it.
  const std::string topic = unique_name("kw-scale-events");
  create_topic(topic, 4);
  create_topic(topic + ".dlq", 1);
  const int port = free_port();
  std::ofstream(dir + "/kamwatch.yaml")
      << "kafka:\n  brokers: " << broker() << "\n  topics: [" << topic
      << "]\n  group: " << unique_name("kw-scale-group") << "\n  dead_letter_topic: " << topic
      << ".dlq\nstate:\n  data_dir: " << data << "\nrules:\n  dir: " << KAMWATCH_SOURCE_DIR
      << "/rules\n"
      << (refresh_minutes > 0 ? "  portfolio_refresh: " + std::to_string(refresh_minutes) + "m\n"
                              : std::string())
      << "log:\n  level: warn\n";
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  Daemon d({"run", "--config", dir + "/kamwatch.yaml", "--http", listen}, dir + "/kamwatch.log");
  const std::string url = "http://" + listen;
  t0 = Clock::now();
  d.start();
  double ready_s = -1;
  while (seconds_since(t0) < 600) {
    if (http_call("GET", url + "/readyz").first == 200) {
      ready_s = seconds_since(t0);
      break;
    }
    if (d.try_wait()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (ready_s < 0) {
    std::printf("scale bench: kamwatch did not become ready; see %s/kamwatch.log\n", dir.c_str());
    return 1;
  }
  const long rss_ready = bench::rss_kib(d.pid());
  // Where the memory is, from kamwatch's own gauges: the C heap allocated and freed (kept by the
  // allocator), and of the allocated part, RocksDB's block cache with the memtables charged to
  // it, and the memtables alone.
  std::printf(
      "\n| seconds into the sweep | accounts in kamwatch_accounts | RSS MiB | heap in use MiB | "
      "heap free MiB | block cache MiB | memtables MiB |\n|---|---|---|---|---|---|---|\n");
  auto memory_row = [&](const std::string& metrics) {
    auto mib = [&](const std::string& series) {
      return std::max(0.0, family_sum(metrics, series)) / (1024.0 * 1024.0);
    };
    std::printf("| %.0f | %.0f | %.0f | %.0f | %.0f |\n",
                static_cast<double>(bench::rss_kib(d.pid())) / 1024.0,
                mib("kamwatch_heap_bytes{state=\"in_use\"}"),
                mib("kamwatch_heap_bytes{state=\"free\"}"),
                mib("kamwatch_rocksdb_block_cache_bytes"), mib("kamwatch_rocksdb_memtable_bytes"));
  };
  double swept = -1, sweep_s = -1;
  const auto sweep_start = Clock::now();
  while (seconds_since(sweep_start) < sweep_minutes * 60.0) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    const std::string metrics = http_get(url + "/metrics");
    swept = family_sum(metrics, "kamwatch_accounts");
    std::printf("| %.0f | %.0f ", seconds_since(sweep_start), swept);
    memory_row(metrics);
    std::fflush(stdout);
    if (swept >= static_cast<double>(accounts)) {
      sweep_s = seconds_since(sweep_start);
      break;
    }
  }
  double refreshed_s = -1;  // --refresh-minutes: a refresh that ended after the sweep
  const long peak_sweep = bench::peak_rss_kib(d.pid());
  if (refresh_minutes > 0 && sweep_s >= 0) {
    const std::string family = "kamwatch_portfolio_refresh_timestamp_seconds";
    const double before = family_sum(http_get(url + "/metrics"), family);
    const auto wait_start = Clock::now();
    while (seconds_since(wait_start) < (refresh_minutes + 10) * 60.0) {
      std::this_thread::sleep_for(std::chrono::seconds(5));
      const std::string metrics = http_get(url + "/metrics");
      std::printf("| %.0f after | - ", seconds_since(sweep_start));
      memory_row(metrics);
      if (family_sum(metrics, family) > before) {
        refreshed_s = seconds_since(wait_start);
        break;
      }
    }
  }
  const std::string last = http_get(url + "/metrics");
  // The family has no series at all when nothing fires.
  const double firing = std::max(0.0, family_sum(last, "kamwatch_alerts_firing"));
  const double cached = family_sum(last, "kamwatch_account_cache_accounts");
  const long peak = bench::peak_rss_kib(d.pid());
  const double cpu = bench::cpu_seconds(d.pid());
  const auto stop_start = Clock::now();
  d.signal(SIGTERM);
  const int rc = d.wait(std::chrono::seconds(300));
  const double stop_s = seconds_since(stop_start);

  std::printf("\n| measure | value |\n|---|---|\n");
  std::printf("| accounts stored | %ld (%zu templates, %d days of history ending now) |\n",
              accounts, tmpl.size(), days);
  std::printf("| account id length | %d characters (SCALE-%0*d) |\n", 6 + digits, digits, 1);
  std::printf("| state per account, encoded / decoded (estimate) | %.1f KiB / %.1f KiB |\n",
              avg_encoded / 1024, avg_decoded / 1024);
  if (reuse)
    std::printf("| write through RocksDbStore::commit | (reused %s) |\n", keep.c_str());
  else
    std::printf("| write through RocksDbStore::commit | %.1f s, %.0f accounts/s |\n", write_s,
                static_cast<double>(accounts) / write_s);
  std::printf("| on disk after close | %.2f GB, %.0f bytes/account |\n",
              static_cast<double>(disk) / 1e9,
              static_cast<double>(disk) / static_cast<double>(accounts));
  std::printf("| kamwatch start to /readyz 200 | %.2f s |\n", ready_s);
  std::printf("| RSS when ready | %.0f MiB |\n", static_cast<double>(rss_ready) / 1024.0);
  if (sweep_s >= 0)
    std::printf("| first evaluation sweep over all accounts | %.0f s |\n", sweep_s);
  else
    std::printf("| first evaluation sweep | not done after %d min (%.0f accounts) |\n",
                sweep_minutes, swept);
  std::printf("| peak RSS (start to end of sweep) | %.0f MiB |\n",
              static_cast<double>(peak_sweep) / 1024.0);
  if (refresh_minutes > 0) {
    if (refreshed_s >= 0)
      std::printf(
          "| peak RSS with a portfolio refresh after the sweep (ended %.0f s after it) | "
          "%.0f MiB |\n",
          refreshed_s, static_cast<double>(peak) / 1024.0);
    else
      std::printf("| portfolio refresh after the sweep | none within %d min |\n",
                  refresh_minutes + 10);
  }
  std::printf("| kamwatch CPU | %.0f s |\n", cpu);
  std::printf("| alerts firing / accounts cached at the end | %.0f / %.0f |\n", firing, cached);
  std::printf("| SIGTERM to exit | %.1f s (exit code %d) |\n", stop_s, rc);
  std::filesystem::remove_all(dir);
  return 0;
}
