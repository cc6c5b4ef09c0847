#pragma once
// The heap: what the allocator holds, and giving freed memory back. kamwatch links jemalloc
// (KAMWATCH_JEMALLOC, the default build); builds without it (the sanitizer builds, or
// -DKAMWATCH_JEMALLOC=OFF) use glibc's malloc.
// Thread-safety: safe from any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kamwatch::memory {

// The allocator this build uses: "jemalloc", "glibc", "sanitizer" (a sanitizer runtime's) or
// "other".
[[nodiscard]] std::string_view allocator();
// The allocator and, for jemalloc, its version and the options in effect that matter to an
// operator (transparent huge pages, background purging), as `kamwatch version` prints it.
[[nodiscard]] std::string allocator_description();

// The heap as the allocator sees it: allocated bytes, and resident bytes it holds beyond them
// (freed but kept, plus, with jemalloc, its metadata). jemalloc: stats.allocated and
// stats.resident minus that; glibc: mallinfo2, which walks every arena's free lists under that
// arena's lock. nullopt with other allocators.
struct HeapFigures {
  std::size_t in_use = 0;
  std::size_t free = 0;
};
[[nodiscard]] std::optional<HeapFigures> heap_figures();

// Gives the pages of freed heap memory back to the system. A million-account daemon frees
// hundreds of MB of small blocks in a portfolio refresh and in each evaluation sweep (decoded
// states), which the allocator otherwise keeps resident for a while (jemalloc: until its
// background thread purges them, after dirty_decay_ms; glibc: until malloc_trim); this lowers
// RSS to about what is allocated now. jemalloc purges every arena; glibc's malloc_trim(0) walks
// every arena's free blocks holding that arena's lock, so threads allocating from it wait (not
// measured on a large heap). Call it from a background thread after bulk work (the portfolio
// refresher does), never on the event path. A no-op with other allocators.
void release_free_heap();

}  // namespace kamwatch::memory
