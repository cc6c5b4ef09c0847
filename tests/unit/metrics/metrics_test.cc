#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

namespace kamwatch::metrics {
namespace {

bool has_line_starting(const std::string& text, const std::string& prefix) {
  return text.find("\n" + prefix) != std::string::npos || text.rfind(prefix, 0) == 0;
}

TEST(Metrics, ExpositionHasBuildInfoProcessFiguresAndFamilies) {
  Metrics m("1.2.3", "abc123");
  m.events_applied.Increment(5);
  m.events_consumed.Add({{"topic", "t"}, {"type", "sales.order"}}).Increment();
  const std::string text = m.serialize();
  EXPECT_TRUE(has_line_starting(text, "kamwatch_build_info{"));
  EXPECT_NE(text.find("version=\"1.2.3\""), std::string::npos);
  EXPECT_TRUE(has_line_starting(text, "kamwatch_events_applied_total 5"));
  EXPECT_TRUE(has_line_starting(
      text, "kamwatch_events_consumed_total{topic=\"t\",type=\"sales.order\"} 1"));
  EXPECT_TRUE(has_line_starting(text, "process_resident_memory_bytes "));
  EXPECT_TRUE(has_line_starting(text, "process_open_fds "));
  EXPECT_TRUE(has_line_starting(text, "kamwatch_batch_duration_seconds_bucket{le=\"0.001\"} 0"));
  // Start time: within the last day, not 0 or in the future.
  const auto pos = text.find("\nprocess_start_time_seconds ");
  ASSERT_NE(pos, std::string::npos);
  const double start = std::stod(text.substr(pos + 28));
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 86400);
}

// Not under the sanitizers: their allocators replace glibc's, whose figures then stay flat.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// kamwatch_heap_bytes follows what the process has allocated.
TEST(Metrics, HeapBytesFollowAllocations) {
  Metrics m("v", "r");
  const std::string in_use = "kamwatch_heap_bytes{state=\"in_use\"}";
  const double before = sample(m.serialize(), in_use);
  ASSERT_GT(before, 0);
  EXPECT_GE(sample(m.serialize(), "kamwatch_heap_bytes{state=\"free\"}"), 0);
  constexpr std::size_t kBytes = 64u << 20;
  auto block = std::make_unique<char[]>(kBytes);
  block[0] = block[kBytes - 1] = 1;
  asm volatile("" : : "r"(block.get()) : "memory");  // the allocation must not be elided
  const double during = sample(m.serialize(), in_use);
  EXPECT_GE(during - before, static_cast<double>(kBytes) * 0.99);
  block.reset();
  EXPECT_LT(sample(m.serialize(), in_use), during - static_cast<double>(kBytes) * 0.9);
}
#endif

TEST(Metrics, ScrapeHooksRunBeforeEachScrape) {
  Metrics m("v", "r");
  int calls = 0;
  m.add_scrape_hook([&] { m.rules_loaded.Set(++calls); });
  EXPECT_NE(m.serialize().find("kamwatch_rules_loaded 1"), std::string::npos);
  EXPECT_NE(m.serialize().find("kamwatch_rules_loaded 2"), std::string::npos);
}

TEST(Metrics, SetGaugesRemovesVanishedSeries) {
  Metrics m("v", "r");
  m.set_gauges(m.alerts_firing,
               {{{{"alertname", "A"}, {"severity", "warning"}, {"signal", "churn"}}, 2},
                {{{"alertname", "B"}, {"severity", "info"}, {"signal", "growth"}}, 1}});
  std::string text = m.serialize();
  EXPECT_NE(text.find("alertname=\"A\""), std::string::npos);
  EXPECT_NE(text.find("alertname=\"B\""), std::string::npos);
  m.set_gauges(m.alerts_firing,
               {{{{"alertname", "A"}, {"severity", "warning"}, {"signal", "churn"}}, 3}});
  text = m.serialize();
  EXPECT_NE(text.find("signal=\"churn\"} 3"), std::string::npos);
  EXPECT_EQ(text.find("alertname=\"B\""), std::string::npos);
}

TEST(Metrics, AdvanceToMirrorsAnExternalTotal) {
  Metrics m("v", "r");
  Metrics::advance_to(m.rocksdb_block_cache_hits, 10);
  Metrics::advance_to(m.rocksdb_block_cache_hits, 7);  // never backwards
  EXPECT_EQ(m.rocksdb_block_cache_hits.Value(), 10);
}

// promtool (Debian's prometheus package) lints the exposition: names, units, help, types.
TEST(Metrics, PromtoolCheckMetricsFindsNothing) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_FAIL() << "promtool not installed (scripts/install-deps.sh installs it)";
  Metrics m("v", "r");
  m.events_rejected.Add({{"reason", "invalid_json"}}).Increment();
  m.consumer_lag.Add({{"topic", "t"}, {"partition", "0"}}).Set(3);
  const std::string path = ::testing::TempDir() + "/kamwatch_metrics.txt";
  std::ofstream(path) << m.serialize();
  const std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;
}

}  // namespace
}  // namespace kamwatch::metrics

namespace kamwatch::metrics {
namespace {

TEST(Metrics, FamiliesWithoutSeriesStillShowTheirNameAndType) {
  Metrics m("v", "r");
  const std::string text = m.serialize();
  // No rejection, lag or key-account series yet: dashboards still find the names.
  EXPECT_NE(text.find("# TYPE kamwatch_events_rejected_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE kamwatch_consumer_lag_messages gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE kamwatch_key_account_health_score gauge\n"), std::string::npos);
  // ... once each.
  const auto first = text.find("# TYPE kamwatch_events_applied_total ");
  EXPECT_EQ(text.find("# TYPE kamwatch_events_applied_total ", first + 1), std::string::npos);
}

}  // namespace
}  // namespace kamwatch::metrics

#include <sstream>

namespace kamwatch::metrics {
namespace {

// docs/metrics.md lists every family kamwatch exposes.
TEST(Metrics, TheMetricsDocListsEveryFamily) {
  std::ifstream f(KAMWATCH_SOURCE_DIR "/docs/metrics.md");
  ASSERT_TRUE(f) << "docs/metrics.md is missing";
  const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Metrics m("v", "r");
  std::istringstream text(m.serialize());
  int families = 0;
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    ++families;
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << name << " is not in docs/metrics.md";
  }
  EXPECT_GT(families, 50);
}

}  // namespace
}  // namespace kamwatch::metrics
