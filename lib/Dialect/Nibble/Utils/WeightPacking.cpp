//===- WeightPacking.cpp - sub-byte weight layouts ------------------------===//

#include "nibble/Dialect/Nibble/Utils/WeightPacking.h"

#include "llvm/Support/MathExtras.h"

llvm::SmallVector<uint8_t>
mlir::nibble::packInt4AlongRows(llvm::ArrayRef<int64_t> values, int64_t k,
                                int64_t n) {
  llvm::SmallVector<uint8_t> packed(llvm::divideCeil(k, 2) * n, 0);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      packed[(row / 2) * n + col] |=
          static_cast<uint8_t>((values[row * n + col] & 0xF) << (4 * (row % 2)));
  return packed;
}
