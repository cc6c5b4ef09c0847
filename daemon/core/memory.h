#pragma once
// The C library heap: freed memory that the allocator still holds.
// Thread-safety: safe from any thread (the allocator locks each arena while it is trimmed).

#include <cstddef>
#include <optional>

namespace kamwatch::memory {

// The heap as the C library sees it: allocated bytes, and bytes freed but kept by the allocator
// (resident unless their pages were given back). Walks every arena's free lists under that
// arena's lock (not measured on a large fragmented heap). nullopt with other C libraries.
struct HeapFigures {
  std::size_t in_use = 0;
  std::size_t free = 0;
};
[[nodiscard]] std::optional<HeapFigures> heap_figures();

// Gives the pages of freed heap memory back to the system (glibc: malloc_trim(0), every arena).
// A million-account daemon frees hundreds of MB of small blocks in a portfolio refresh and in
// each evaluation sweep (decoded states), which glibc otherwise keeps resident; this lowers RSS
// to about what is allocated. It walks every arena's free blocks holding that arena's lock, so
// threads allocating from it wait (not measured on a large heap): call it from a background
// thread after bulk work (the portfolio refresher does), never on the event path. A no-op with
// other C libraries.
void release_free_heap();

}  // namespace kamwatch::memory
