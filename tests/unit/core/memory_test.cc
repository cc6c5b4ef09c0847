#include "core/memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <vector>

namespace kamwatch::memory {
namespace {

// The build's allocator is the one that serves this process's allocations: its figures follow
// what the process allocates (were jemalloc linked but glibc's malloc called, or the reverse,
// they would stay flat).
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(Memory, TheBuildsAllocatorServesTheProcess) {
#if KAMWATCH_JEMALLOC
  EXPECT_EQ(allocator(), "jemalloc");
#elif defined(__GLIBC__)
  EXPECT_EQ(allocator(), "glibc");
#endif
  const auto before = heap_figures();
  ASSERT_TRUE(before.has_value());
  std::vector<std::unique_ptr<char[]>> blocks(64 * 1024);  // 64 MiB in 1 KiB blocks
  for (auto& b : blocks) {
    b = std::make_unique<char[]>(1024);
    b[0] = 1;
  }
  const auto after = heap_figures();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(after->in_use, before->in_use + (60u << 20))
      << before->in_use << " bytes in use before, " << after->in_use << " after";
}
#endif

// Not under the sanitizers: their allocators keep freed memory on purpose.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  double pages_virtual = 0, pages_resident = 0;
  statm >> pages_virtual >> pages_resident;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// What a refresh leaves: many small blocks freed below one that stays (so the heap's top cannot
// simply shrink). The allocator may keep their pages resident (glibc does until malloc_trim,
// jemalloc until its decay purges them); after release_free_heap they are given back.
TEST(Memory, ReleaseFreeHeapGivesFreedSmallBlocksBack) {
  release_free_heap();
  const double baseline = resident_mib();
  constexpr std::size_t kBlocks = 1 << 20;  // 1M blocks of 200 bytes: ~200 MB
  std::vector<std::unique_ptr<char[]>> blocks(kBlocks);
  for (auto& b : blocks) {
    b = std::make_unique<char[]>(200);
    b[0] = 1;
  }
  auto top = std::make_unique<char[]>(200);  // after the others: pins the heap's top
  top[0] = 1;
  const double allocated = resident_mib();
  ASSERT_GT(allocated - baseline, 150) << "the blocks did not make the process grow";
  blocks.clear();
  blocks.shrink_to_fit();
  release_free_heap();
  const double after = resident_mib();
  EXPECT_LT(after - baseline, 40) << "resident " << baseline << " MiB at first, " << allocated
                                  << " MiB with the blocks, " << after
                                  << " MiB after freeing them and release_free_heap()";
}
#endif

}  // namespace
}  // namespace kamwatch::memory
