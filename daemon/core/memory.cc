#include "core/memory.h"

#include <cstdlib>  // defines __GLIBC__ with glibc (tested below)

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace kamwatch::memory {

std::optional<HeapFigures> heap_figures() {
#ifdef __GLIBC__
  const struct mallinfo2 mi = mallinfo2();
  return HeapFigures{mi.uordblks + mi.hblkhd, mi.fordblks};
#else
  return std::nullopt;
#endif
}

void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace kamwatch::memory
