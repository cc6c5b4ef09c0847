// ThreadSanitizer builds only (linked into every executable by the top-level CMakeLists.txt).
//
// librdkafka starts its threads with C11 thrd_create(). In glibc >= 2.34 thrd_create calls
// pthread_create through an internal alias, so the pthread_create interceptor of the TSan
// runtimes on this system (GCC 12's libtsan, clang 14's compiler-rt; `nm -D` shows no
// thrd_create interceptor in either) never sees those threads. Their TSan thread state is
// never set up, and the first intercepted call on one (malloc inside getaddrinfo on
// rdk:broker-1) dereferences a null allocator cache: SEGV before any test output.
//
// These definitions in the executable interpose glibc's (librdkafka's undefined references bind
// to them first) and go through the intercepted pthread_create/pthread_join/pthread_detach, so
// TSan registers the threads, their start and their join. Behaviour is glibc's: thrd_t is
// pthread_t, the thread's int result travels through the void* result.
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>
#include <new>

namespace {

struct Start {
  thrd_start_t func;
  void* arg;
};

void* trampoline(void* p) {
  const Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(start.func(start.arg)));
}

int to_thrd(int err) {
  if (err == 0) return thrd_success;
  if (err == ENOMEM || err == EAGAIN) return thrd_nomem;
  return thrd_error;
}

}  // namespace

extern "C" int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = new (std::nothrow) Start{func, arg};
  if (!start) return thrd_nomem;
  const int err = pthread_create(thr, nullptr, trampoline, start);
  if (err != 0) delete start;
  return to_thrd(err);
}

extern "C" int thrd_join(thrd_t thr, int* res) {
  void* result = nullptr;
  const int err = pthread_join(thr, &result);
  if (err == 0 && res) *res = static_cast<int>(reinterpret_cast<std::intptr_t>(result));
  return to_thrd(err);
}

extern "C" int thrd_detach(thrd_t thr) { return to_thrd(pthread_detach(thr)); }
