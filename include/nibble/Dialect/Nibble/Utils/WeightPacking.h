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

/// The CPU float-activation kernel's int4 layout when K is a multiple of 8:
/// 32-bit words holding 8 consecutive rows of K of one column (row 8 r + e
/// in bits 4 e .. 4 e + 3, the low 4 bits of the value), in tiles of
/// `tileWidth` columns: word (t, r, c) is rows 8 r .. 8 r + 7 of column
/// t * tileWidth + c. A 64-byte load gives 16 columns x 8 rows, each
/// column's nibbles in its own 32-bit lane, where shifting one to the top
/// of the float mantissa needs no widening. Returns ceil(N / tileWidth) x
/// ceil(K / 8) x tileWidth words; padding is 0.
llvm::SmallVector<uint32_t> packInt4WordsInColumnTiles(llvm::ArrayRef<int64_t> values,
                                                       int64_t k, int64_t n,
                                                       int64_t tileWidth);

/// The layout of int8 dot-product instructions (x86 vpdpbusd): each 32-bit
/// lane of a vector holds 4 consecutive rows of K of one column, 16 lanes
/// hold 16 columns. Byte (v, q, 4 c + j) is row 4 q + j of column 16 v + c,
/// so one 64-byte load gives 16 columns x 4 rows. Returns ceil(N / 16) x
/// ceil(K / 4) x 64 bytes of signed 8-bit `values` (row-major K x N);
/// padding is 0.
llvm::SmallVector<int8_t> packForInt8Dot(llvm::ArrayRef<int64_t> values, int64_t k,
                                         int64_t n);

/// The int4 layout of the same instructions: bytes as in packForInt8Dot
/// (a 32-bit lane holds 4 consecutive rows of K of one column), each byte
/// holding two columns 16 apart as unsigned nibbles q + 8 (0..15): column
/// 32 p + c in the low and 32 p + 16 + c in the high nibble. One 64-byte
/// load masked with 0x0F and with 0xF0 gives 32 columns x 4 rows of
/// unsigned bytes for vpdpbusd, both against the same activation word (the
/// high half scaled by 16). Byte (p, q, 4 c + j) is row 4 q + j. Returns
/// ceil(N / 32) x ceil(K / 4) x 64 bytes of signed 4-bit `values`
/// (row-major K x N); padding holds q = 0.
llvm::SmallVector<int8_t> packInt4ForInt8Dot(llvm::ArrayRef<int64_t> values, int64_t k,
                                             int64_t n);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTPACKING_H
