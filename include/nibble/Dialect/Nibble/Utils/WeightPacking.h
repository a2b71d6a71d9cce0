//===- WeightPacking.h - sub-byte weight layouts ----------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace mlir::nibble {

/// Packs a row-major K x N matrix of 4-bit values (signed or unsigned; only
/// the low 4 bits are kept) two per byte along K: byte (k / 2, n) holds row
/// k (even) in its low nibble and row k + 1 in its high nibble. Returns
/// ceil(K / 2) x N bytes, row-major; an odd K leaves the last high nibbles 0.
llvm::SmallVector<uint8_t> packInt4AlongRows(llvm::ArrayRef<int64_t> values,
                                             int64_t k, int64_t n);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H
