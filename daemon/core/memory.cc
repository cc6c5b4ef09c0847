#include "core/memory.h"

#include <cstdint>
#include <cstdlib>  // defines __GLIBC__ with glibc (tested below)
#include <string>

#if KAMWATCH_JEMALLOC
#include <jemalloc/jemalloc.h>
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kamwatch::memory {

#if KAMWATCH_JEMALLOC
namespace {
// A value jemalloc reports under name (mallctl), or nullopt.
template <class T>
std::optional<T> mallctl_read(const char* name) {
  T value{};
  std::size_t size = sizeof(value);
  if (mallctl(name, &value, &size, nullptr, 0) != 0) return std::nullopt;
  return value;
}
}  // namespace

std::string_view allocator() { return "jemalloc"; }

std::string allocator_description() {
  std::string out = "jemalloc";
  if (const auto version = mallctl_read<const char*>("version"); version && *version) {
    const std::string_view v(*version);
    out += " " + std::string(v.substr(0, v.find('-')));
  }
  if (const auto thp = mallctl_read<const char*>("opt.thp"); thp && *thp)
    out += ", transparent huge pages " + std::string(*thp);
  if (const auto background = mallctl_read<bool>("background_thread"))
    out += *background ? ", background purging" : ", purging on the allocating threads";
  return out;
}

std::optional<HeapFigures> heap_figures() {
  // jemalloc's statistics are a snapshot taken when the epoch advances.
  std::uint64_t epoch = 1;
  std::size_t size = sizeof(epoch);
  if (mallctl("epoch", &epoch, &size, &epoch, size) != 0) return std::nullopt;
  const auto allocated = mallctl_read<std::size_t>("stats.allocated");
  const auto resident = mallctl_read<std::size_t>("stats.resident");
  if (!allocated || !resident) return std::nullopt;
  // Resident pages hold the allocations, the allocator's metadata and freed ("dirty") pages
  // not yet given back.
  return HeapFigures{*allocated, *resident > *allocated ? *resident - *allocated : 0};
}

void release_free_heap() {
  static const std::string purge_all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  (void)mallctl(purge_all.c_str(), nullptr, nullptr, nullptr, 0);
}

#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// The sanitizer's runtime intercepts malloc: glibc's figures stay flat and trimming does nothing.
std::string_view allocator() { return "sanitizer"; }
std::string allocator_description() { return "the sanitizer runtime's"; }
std::optional<HeapFigures> heap_figures() { return std::nullopt; }
void release_free_heap() {}

#elif defined(__GLIBC__)
std::string_view allocator() { return "glibc"; }
std::string allocator_description() { return "glibc malloc"; }

std::optional<HeapFigures> heap_figures() {
  const struct mallinfo2 mi = mallinfo2();
  return HeapFigures{mi.uordblks + mi.hblkhd, mi.fordblks};
}

void release_free_heap() { malloc_trim(0); }

#else
std::string_view allocator() { return "other"; }
std::string allocator_description() { return "the C library's malloc"; }
std::optional<HeapFigures> heap_figures() { return std::nullopt; }
void release_free_heap() {}
#endif

}  // namespace kamwatch::memory
