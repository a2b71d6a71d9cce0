//===- Threads.h - the thread count of a model's CPU kernels ----*- C++ -*-===//

#ifndef NIBBLE_RUNTIME_THREADS_H
#define NIBBLE_RUNTIME_THREADS_H

#include <cstdint>
#include <optional>
#include <string>

namespace nibble {

/// A thread count as written in NIBBLE_NUM_THREADS or --threads: a decimal
/// integer from 0 (every core) up; nullopt if the text is not one.
std::optional<int32_t> parseThreadCount(const char *Text);

/// Applies NIBBLE_NUM_THREADS if it is set. Returns "" or, for a value that
/// is not a thread count, a one-line message saying what to set.
std::string applyThreadsFromEnvironment();

} // namespace nibble

#endif // NIBBLE_RUNTIME_THREADS_H
