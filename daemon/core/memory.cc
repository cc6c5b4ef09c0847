#include "core/memory.h"

#include <cstdlib>  // defines __GLIBC__ with glibc (tested below)

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace kamwatch::memory {

void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace kamwatch::memory
