//===- Threads.cpp - how many threads a model's CPU kernels use -----------===//
//
// CPU kernels split their work across OpenMP threads (LLVM's libomp). The
// OpenMP entry points are weak references: a model without parallel
// kernels (or one running on a GPU) does not link libomp, and then there is
// nothing to set.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/Threads.h"
#include "nibble/Runtime/nibble.h"

#include <cerrno>
#include <cstdlib>

extern "C" {
void omp_set_num_threads(int) __attribute__((weak));
int omp_get_max_threads(void) __attribute__((weak));
int omp_get_num_procs(void) __attribute__((weak));
}

#define NIBBLE_EXPORT extern "C" __attribute__((visibility("default")))

std::optional<int32_t> nibble::parseThreadCount(const char *Text) {
  if (!Text || !*Text)
    return std::nullopt;
  errno = 0;
  char *End = nullptr;
  long Value = std::strtol(Text, &End, 10);
  if (errno != 0 || *End != '\0' || Value < 0 || Value > 4096)
    return std::nullopt;
  return static_cast<int32_t>(Value);
}

std::string nibble::applyThreadsFromEnvironment() {
  const char *Text = std::getenv("NIBBLE_NUM_THREADS");
  if (!Text)
    return "";
  std::optional<int32_t> Threads = parseThreadCount(Text);
  if (!Threads)
    return std::string("NIBBLE_NUM_THREADS='") + Text +
           "' is not a thread count; set it to 0 (all cores) or a positive integer, or "
           "unset it";
  nibble_set_num_threads(*Threads);
  return "";
}

NIBBLE_EXPORT int nibble_set_num_threads(int32_t Threads) {
  if (Threads < 0)
    return 1;
  if (!omp_set_num_threads)
    return 0;
  int Count = Threads;
  if (Count == 0)
    Count = omp_get_num_procs ? omp_get_num_procs() : 1;
  omp_set_num_threads(Count);
  return 0;
}

NIBBLE_EXPORT int32_t nibble_get_num_threads(void) {
  return omp_get_max_threads ? omp_get_max_threads() : 1;
}
