//===- WeightPacking.h - sub-byte weight layouts ----------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace mlir::nibble {

/// The CPU weight layout: a row-major K x N matrix of 8-bit values, or of
/// 4-bit values packed two per byte along K (byte row k / 2 holds row k,
/// even, in its low nibble and row k + 1 in its high nibble; only the low 4
/// bits of each value are kept), stored in tiles of `tileWidth` columns,
/// each tile's rows contiguous: byte (t, r, c) is column t * tileWidth + c
/// of byte row r. A kernel streaming one tile down K then reads memory in
/// order. Returns ceil(N / tileWidth) x R x tileWidth bytes, R = ceil(K / 2)
/// for 4 bits and K for 8; padding is 0.
llvm::SmallVector<uint8_t> packInColumnTiles(llvm::ArrayRef<int64_t> values, int64_t k,
                                             int64_t n, unsigned bits, int64_t tileWidth);

/// The layout of int8 dot-product instructions (x86 vpdpbusd): each 32-bit
/// lane of a vector holds 4 consecutive rows of K of one column, 16 lanes
/// hold 16 columns. Byte (v, q, 4 c + j) is row 4 q + j of column 16 v + c,
/// so one 64-byte load gives 16 columns x 4 rows. Returns ceil(N / 16) x
/// ceil(K / 4) x 64 bytes of signed 8-bit `values` (row-major K x N);
/// padding is 0.
llvm::SmallVector<int8_t> packForInt8Dot(llvm::ArrayRef<int64_t> values, int64_t k,
                                         int64_t n);

/// The int4 layout of the same instructions: each 32-bit lane holds 8
/// consecutive rows of K of one column as unsigned nibbles q + 8 (0..15),
/// rows 8 o + j in the low and 8 o + 4 + j in the high nibble of byte j, so
/// masking and shifting one 64-byte load gives two vectors of 16 columns x
/// 4 rows of unsigned bytes. Byte (v, o, 4 c + j) is column 16 v + c.
/// Returns ceil(N / 16) x ceil(K / 8) x 64 bytes of signed 4-bit `values`
/// (row-major K x N); padding holds q = 0.
llvm::SmallVector<int8_t> packInt4ForInt8Dot(llvm::ArrayRef<int64_t> values, int64_t k,
                                             int64_t n);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H
