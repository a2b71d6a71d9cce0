//===- PrecisionSelection.h - bits per layer under a budget -----*- C++ -*-===//
//
// Picks one precision per layer from measured sensitivities. The model's
// output noise is taken to be the sum of the noise each layer causes alone
// (quantization errors of different layers are nearly uncorrelated), which
// makes the choice a multiple-choice knapsack: minimise the summed noise
// within a byte budget, or the bytes within a noise budget. Both are solved
// exactly by dynamic programming over bytes in at most kByteBins bins, each
// layer's bytes rounded up to a bin, so a selection never exceeds its budget.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_PRECISIONSELECTION_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_PRECISIONSELECTION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <optional>

namespace mlir::nibble {

/// What one layer may become: parallel arrays, one entry per candidate.
struct LayerOptions {
  /// Bytes of the weight at each candidate.
  llvm::SmallVector<int64_t> bytes;
  /// Output noise power relative to the signal with only this layer at the
  /// candidate (10^(-SQNR/10)); 0 for an exact candidate.
  llvm::SmallVector<double> noise;
};

struct Selection {
  /// Index of the chosen candidate per layer.
  llvm::SmallVector<unsigned> choice;
  int64_t bytes = 0;
  double noise = 0.0;
};

inline constexpr int64_t kByteBins = 8192;

/// The selection with the least summed noise whose bytes fit in
/// `budgetBytes`; nullopt if even the smallest candidates do not fit.
std::optional<Selection> selectWithinBytes(llvm::ArrayRef<LayerOptions> layers,
                                           int64_t budgetBytes);

/// The selection with the fewest bytes whose summed noise is at most
/// `maxNoise`; nullopt if even the least noisy candidates exceed it.
std::optional<Selection> selectWithinNoise(llvm::ArrayRef<LayerOptions> layers,
                                           double maxNoise);

/// Noise power ratio <-> SQNR in dB. SQNR is capped at kMaxSqnrDb (no
/// measurable error).
inline constexpr double kMaxSqnrDb = 300.0;
double noiseFromSqnrDb(double sqnrDb);
double sqnrDbFromNoise(double noise);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_PRECISIONSELECTION_H
