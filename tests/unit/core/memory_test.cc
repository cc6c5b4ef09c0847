#include "core/memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <vector>

namespace kamwatch::memory {
namespace {

// Not under the sanitizers: their allocators replace glibc's and keep freed memory on purpose.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  double pages_virtual = 0, pages_resident = 0;
  statm >> pages_virtual >> pages_resident;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// What a refresh leaves: many small blocks freed below one that stays (so the heap's top cannot
// simply shrink). Their pages stay resident until release_free_heap gives them back.
TEST(Memory, ReleaseFreeHeapGivesFreedSmallBlocksBack) {
  constexpr std::size_t kBlocks = 1 << 20;  // 1M blocks of 200 bytes: ~200 MB
  std::vector<std::unique_ptr<char[]>> blocks(kBlocks);
  for (auto& b : blocks) {
    b = std::make_unique<char[]>(200);
    b[0] = 1;
  }
  auto top = std::make_unique<char[]>(200);  // after the others: pins the heap's top
  top[0] = 1;
  blocks.clear();
  blocks.shrink_to_fit();
  const double before = resident_mib();
  release_free_heap();
  const double after = resident_mib();
  EXPECT_GT(before - after, 150) << "resident " << before << " MiB before, " << after
                                 << " MiB after";
}
#endif

}  // namespace
}  // namespace kamwatch::memory
