//===- MmaLayout.h - weight layout of the tensor-core GPU GEMM --*- C++ -*-===//
//
// The tensor-core kernel (quantized weights at M > 4 rows, float16 weights at
// any M) multiplies with `mma.sync.m16n8k16` (f16 inputs, f32 accumulators).
// In that instruction lane l of a warp holds the B (K x N = 16 x 8) fragment
// values
//
//   column n = l / 4,  position 2 (l % 4) + e  and  8 + 2 (l % 4) + e,  e = 0, 1
//
// i.e. two f16x2 registers per 16-wide step of K, and the same positions of
// the A fragments. A step may map its 16 positions to its 16 values of k in
// any order shared by A and B; the kernel takes position 8 h + 2 c + e to be
//
//   k = 16 step + 4 c + 2 h + e,  c = l % 4,  h = 0, 1
//
// so that a lane's A values of one row are 4 consecutive k (one 8-byte load
// of f16 activations). Weights are prepacked at compile time so that each lane finds, for one tile of 8 columns and one
// 128-wide block of K (8 steps), its 32 values in one contiguous run of
// `bits` 32-bit words (16 bytes for int4, 32 for int8), and the warp reads
// the block of a tile as one 512-byte (or 1024-byte) run:
//
//   packed[tile = n / 8][(block * 32 + lane) * bits + word]
//
// Within a lane's run, the values form 16 pairs P = 2 * step + h (h = 0 for
// positions 0..7, k = 16 step + 4 c + 0, 1; h = 1 for positions 8..15,
// k = 16 step + 4 c + 2, 3), each pair one f16x2 register of the B fragment. A word holds `pairsPerWord` = 16 / bits pairs; pair p of
// a word keeps its first value in field p and its second in field
// p + pairsPerWord, so `(word >> (bits * p)) & (fieldMask | fieldMask << 16)`
// puts both values at the bottom of the two 16-bit halves of a register,
// ready to be OR-ed into the mantissa of an f16 (1024 + u, exact).
//
// Fields hold the unsigned value u = q + offset (offset 2^(bits-1) for
// signed weights, 0 for unsigned); the kernel subtracts offset + zero point
// in f16, exactly. Unquantized float16 weights are 16-bit fields: a word is
// one pair, the f16x2 register itself (16 words, 64 bytes, per lane). K is zero-padded to a multiple of 128 and N to a multiple
// of 8; padded values meet zero activations, or are never stored.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_TARGET_CUDA_MMALAYOUT_H
#define NIBBLE_TARGET_CUDA_MMALAYOUT_H

#include <cstdint>

namespace mlir::nibble::mma {

inline constexpr int64_t kWarpSize = 32;
inline constexpr int64_t kTileM = 16; // rows of one mma
inline constexpr int64_t kTileN = 8;  // columns of one mma (a weight tile)
inline constexpr int64_t kStepK = 16; // K of one mma
inline constexpr int64_t kBlockK = 128;
inline constexpr int64_t kStepsPerBlock = kBlockK / kStepK;
/// The f16 bits of 1024.0: OR-ing a field u < 1024 into the mantissa gives
/// exactly 1024 + u.
inline constexpr uint32_t kF16Bits1024 = 0x6400;

/// Words of one lane's 32 values of a block.
inline int64_t wordsPerLane(int64_t bits) { return bits; }
inline int64_t pairsPerWord(int64_t bits) { return 16 / bits; }
inline int64_t paddedK(int64_t k) { return (k + kBlockK - 1) / kBlockK * kBlockK; }
inline int64_t tiles(int64_t n) { return (n + kTileN - 1) / kTileN; }
/// Words of one tile (a row of the packed array).
inline int64_t wordsPerTile(int64_t k, int64_t bits) {
  return paddedK(k) / kBlockK * kWarpSize * wordsPerLane(bits);
}

/// Whether the kernel takes groups of `groupSize` rows of K (of `k`): it
/// flushes its f32 sums once per group or per block, whichever is shorter,
/// so groups must be whole 16-wide steps that do not straddle a block
/// (16, 32, 64), whole blocks, or one group over all of K.
inline bool takesGroups(int64_t groupSize, int64_t k) {
  return groupSize >= k || groupSize % kBlockK == 0 ||
         (groupSize % kStepK == 0 && kBlockK % groupSize == 0);
}

/// Where weight (k, n) lives: the tile (row of the packed array), the word
/// in that row and the field in that word.
struct Position {
  int64_t tile, word, field;
};
inline Position positionOf(int64_t k, int64_t n, int64_t bits) {
  int64_t block = k / kBlockK, step = (k % kBlockK) / kStepK, inStep = k % kStepK;
  int64_t half = inStep % 4 / 2, lane = 4 * (n % kTileN) + inStep / 4, e = inStep % 2;
  int64_t pair = 2 * step + half;
  return {n / kTileN, (block * kWarpSize + lane) * wordsPerLane(bits) + pair / pairsPerWord(bits),
          pair % pairsPerWord(bits) + e * pairsPerWord(bits)};
}

} // namespace mlir::nibble::mma

#endif // NIBBLE_TARGET_CUDA_MMALAYOUT_H
