//===- WeightPacking.cpp - sub-byte weight layouts ------------------------===//

#include "nibble/Dialect/Nibble/Utils/WeightPacking.h"

#include "llvm/Support/MathExtras.h"

llvm::SmallVector<uint8_t>
mlir::nibble::packInColumnTiles(llvm::ArrayRef<int64_t> values, int64_t k, int64_t n,
                                unsigned bits, int64_t tileWidth) {
  int64_t rowsPerByte = bits == 4 ? 2 : 1;
  int64_t byteRows = llvm::divideCeil(k, rowsPerByte);
  int64_t tiles = llvm::divideCeil(n, tileWidth);
  llvm::SmallVector<uint8_t> packed(tiles * byteRows * tileWidth, 0);
  uint64_t mask = bits == 4 ? 0xF : 0xFF;
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      int64_t at = ((col / tileWidth) * byteRows + row / rowsPerByte) * tileWidth +
                   col % tileWidth;
      unsigned shift = bits == 4 ? 4 * (row % 2) : 0;
      packed[at] |= static_cast<uint8_t>((values[row * n + col] & mask) << shift);
    }
  return packed;
}

llvm::SmallVector<uint32_t>
mlir::nibble::packInt4WordsInColumnTiles(llvm::ArrayRef<int64_t> values, int64_t k, int64_t n,
                                         int64_t tileWidth) {
  int64_t wordRows = llvm::divideCeil(k, 8);
  int64_t tiles = llvm::divideCeil(n, tileWidth);
  llvm::SmallVector<uint32_t> packed(tiles * wordRows * tileWidth, 0);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      int64_t at = ((col / tileWidth) * wordRows + row / 8) * tileWidth + col % tileWidth;
      packed[at] |= static_cast<uint32_t>(values[row * n + col] & 0xF) << (4 * (row % 8));
    }
  return packed;
}

llvm::SmallVector<int8_t> mlir::nibble::packForInt8Dot(llvm::ArrayRef<int64_t> values,
                                                       int64_t k, int64_t n) {
  int64_t columnVectors = llvm::divideCeil(n, 16);
  int64_t rowQuads = llvm::divideCeil(k, 4);
  llvm::SmallVector<int8_t> packed(columnVectors * rowQuads * 64, 0);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      packed[((col / 16) * rowQuads + row / 4) * 64 + (col % 16) * 4 + row % 4] =
          static_cast<int8_t>(values[row * n + col]);
  return packed;
}

llvm::SmallVector<int8_t> mlir::nibble::packInt4ForInt8Dot(llvm::ArrayRef<int64_t> values,
                                                           int64_t k, int64_t n) {
  int64_t columnPairs = llvm::divideCeil(n, 32);
  int64_t rowQuads = llvm::divideCeil(k, 4);
  // Every nibble starts at q = 0, stored as 8.
  llvm::SmallVector<int8_t> packed(columnPairs * rowQuads * 64, int8_t(0x88));
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      int64_t lane = col % 16;
      int8_t &byte = packed[((col / 32) * rowQuads + row / 4) * 64 + lane * 4 + row % 4];
      unsigned shift = col % 32 >= 16 ? 4 : 0;
      uint8_t nibble = static_cast<uint8_t>((values[row * n + col] + 8) & 0xF);
      byte = static_cast<int8_t>((static_cast<uint8_t>(byte) & ~(0xF << shift)) |
                                 (nibble << shift));
    }
  return packed;
}
