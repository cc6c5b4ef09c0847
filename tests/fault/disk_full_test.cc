// Disk full: the state directory lives on a small tmpfs. When the free space falls below
// state.min_free_bytes kamwatch stops writing (RocksDB never sees ENOSPC: Debian's RocksDB 7.8
// aborts after a failed WAL write), no position moves, /readyz says state_write_failed, and
// once space returns (the tmpfs is remounted bigger) it resumes by itself, without a restart,
// and ends with every account exactly as the oracle says. Needs root (mount); skipped
// otherwise.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "fault_harness.h"

namespace kamwatch::testing::fault {
namespace {

TEST(DiskFull, PausesWithoutLosingAnythingAndRecoversWhenSpaceReturns) {
  Group::Options go;
  go.name = "disk";
  go.partitions = 2;
  go.batch_max_events = 1000;
  go.extra_yaml = "state:\n  cache_accounts: 1000\n  min_free_bytes: 2MiB\n";
  Group g(go);
  const std::string data = g.data_dir(0);
  std::filesystem::create_directories(data);
  if (geteuid() != 0 || mount("tmpfs", data.c_str(), "tmpfs", 0, "size=8m") != 0)
    GTEST_SKIP() << "needs root to mount a small tmpfs for the state directory";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{data};

  WorkloadOptions wo;
  wo.accounts = 40;
  wo.events = full_run() ? 200000 : 120000;
  wo.malformed = 0;
  wo.duplicates = 0.01;
  wo.late = 0;
  const Workload w = make_workload(wo);
  g.start(0);
  ASSERT_TRUE(g.wait_ready(0, std::chrono::seconds(60))) << g.log_tail(0);
  produce(g.topic(), w.messages);

  // The disk fills: commits are refused, readiness says why, and nothing more is applied.
  ASSERT_TRUE(eventually(
      [&] {
        auto [status, body] = get(g.url(0) + "/readyz");
        return status == 503 && body.find("state_write_failed") != std::string::npos;
      },
      std::chrono::seconds(120)))
      << g.log_tail(0);
  auto metric = [&](const std::string& name) {
    return sample(get(g.url(0) + "/metrics").second, name);
  };
  EXPECT_GT(metric("kamwatch_commit_failures_total").value_or(0), 0);
  const double applied = metric("kamwatch_events_applied_total").value_or(-1);
  const std::int64_t frozen_at = g.progress(0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(metric("kamwatch_events_applied_total").value_or(-2), applied)
      << "events were applied while the disk was full";
  EXPECT_EQ(g.progress(0), frozen_at) << "positions advanced while the disk was full";
  EXPECT_LT(applied, static_cast<double>(w.valid)) << "the disk never filled";
  EXPECT_FALSE(g.exited(0).has_value()) << "kamwatch died on the full disk\n" << g.log_tail(0);

  // Space returns: kamwatch resumes by itself and catches up exactly.
  ASSERT_EQ(mount("tmpfs", data.c_str(), "tmpfs", MS_REMOUNT, "size=512m"), 0);
  ASSERT_TRUE(g.wait_caught_up(0, std::chrono::seconds(240))) << g.log_tail(0);
  ASSERT_TRUE(g.wait_ready(0, std::chrono::seconds(60))) << g.log_tail(0);
  EXPECT_FALSE(g.exited(0).has_value()) << g.log_tail(0);
  const double failures = metric("kamwatch_commit_failures_total").value_or(0);
  g.stop(0);

  const OracleTally t = g.tally(w.oracle);
  record({"disk full", t.expected, 1, 1, t.lost, t.double_counted,
          "8 MiB tmpfs, reserve 2 MiB; " + std::to_string(static_cast<long>(failures)) +
              " refused commits, then remounted 512 MiB"});
  EXPECT_TRUE(t.diffs.empty()) << t.diffs.size() << " differences, first: " << t.diffs.front();
}

}  // namespace
}  // namespace kamwatch::testing::fault
