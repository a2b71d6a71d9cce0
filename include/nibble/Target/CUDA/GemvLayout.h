//===- GemvLayout.h - weight layout of the fused GPU GEMV -------*- C++ -*-===//
//
// The fused dequant-GEMV kernel has each warp lane handle 32 values of k of
// a column per step, and a warp step cover a block of 1024 k:
//
//   lane l takes k = block * 1024 + j * 128 + 4 * l + e,  j = 0..7, e = 0..3
//
// so that for every j the lanes of a warp read 32 consecutive groups of 4
// activations (one coalesced 512-byte load), and each lane's 4 values of k
// share one quantization group (groups are multiples of 4 along K).
//
// Weights are prepacked at compile time so that lane l finds its 32 values
// in one contiguous run of `bits` 32-bit words (16 bytes for int4, 32 for
// int8) at word offset l * bits of the block's 32 * bits words: value
// v = 4 * j + e sits in word v / valuesPerWord, field v % valuesPerWord
// (lowest field in the lowest bits). K is padded with zeros to a multiple of
// 1024 in this layout.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_TARGET_CUDA_GEMVLAYOUT_H
#define NIBBLE_TARGET_CUDA_GEMVLAYOUT_H

#include <cstdint>

namespace mlir::nibble::gemv {

inline constexpr int64_t kWarpSize = 32;
inline constexpr int64_t kValuesPerLane = 32;
inline constexpr int64_t kValuesPerRun = 4; // consecutive k a lane owns
inline constexpr int64_t kRunsPerLane = kValuesPerLane / kValuesPerRun;   // j
inline constexpr int64_t kRunStride = kWarpSize * kValuesPerRun;          // 128
inline constexpr int64_t kBlockK = kWarpSize * kValuesPerLane;            // 1024

inline int64_t valuesPerWord(int64_t bits) { return 32 / bits; }
/// Words of one lane's 32 values.
inline int64_t wordsPerLane(int64_t bits) { return kValuesPerLane * bits / 32; }
/// K rounded up to whole blocks.
inline int64_t paddedK(int64_t k) { return (k + kBlockK - 1) / kBlockK * kBlockK; }

/// Where weight value k of a column lives: word index in the column's row
/// of packed words, and field index in that word.
struct Position {
  int64_t word, field;
};
inline Position positionOf(int64_t k, int64_t bits) {
  int64_t block = k / kBlockK, inBlock = k % kBlockK;
  int64_t run = inBlock / kRunStride;              // j
  int64_t lane = (inBlock % kRunStride) / kValuesPerRun;
  int64_t value = run * kValuesPerRun + inBlock % kValuesPerRun; // v = 4j + e
  return {block * kWarpSize * wordsPerLane(bits) + lane * wordsPerLane(bits) +
              value / valuesPerWord(bits),
          value % valuesPerWord(bits)};
}

} // namespace mlir::nibble::gemv

#endif // NIBBLE_TARGET_CUDA_GEMVLAYOUT_H
