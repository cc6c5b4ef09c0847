#include <cstdio>

#include "app/commands.h"

#if KAMWATCH_JEMALLOC
// jemalloc's options for kamwatch, read when the allocator starts (before main); MALLOC_CONF in
// the environment overrides any of them (docs/operations.md). background_thread: freed pages
// are purged by jemalloc's own thread instead of on the event path. Transparent huge pages stay
// off (thp:default): with 100,000 hot accounts they saved another ~5% of CPU per event, but at a
// million accounts RSS crept up to 971 MiB against 1 GiB (freed memory inside a huge page stays
// resident; bench/README.md, "jemalloc"). MALLOC_CONF=thp:always turns them on.
extern "C" {
// NOLINTNEXTLINE(readability-identifier-naming): the name jemalloc looks for
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true";
}
#endif

int main(int argc, char** argv) { return kamwatch::app::main_dispatch(argc, argv); }
