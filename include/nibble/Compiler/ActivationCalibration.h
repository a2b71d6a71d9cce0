//===- ActivationCalibration.h - int8 ranges from histograms -----*- C++ -*-===//
//
// How large an int8 activation scale should be, from a histogram of |x|
// over [0, maxValue] collected on calibration samples:
//   minmax      the largest value: nothing saturates, small values lose
//               resolution when a few are huge;
//   percentile  the 99.99th percentile: the top 0.01% saturate;
//   entropy     the threshold whose clipped, 128-level quantized histogram
//               is closest to the original in KL divergence (the entropy
//               calibration of TensorRT's int8 calibrator).
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_ACTIVATIONCALIBRATION_H
#define NIBBLE_COMPILER_ACTIVATIONCALIBRATION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace mlir::nibble {

enum class ActivationRangeMethod { MinMax, Percentile, Entropy };

std::optional<ActivationRangeMethod> parseActivationRangeMethod(llvm::StringRef name);

/// The value below which `fraction` of the histogram's mass lies (the upper
/// edge of that bin).
double histogramPercentile(llvm::ArrayRef<int64_t> histogram, double maxValue,
                           double fraction);

/// The clipping threshold minimising KL(P || Q), P the histogram clipped at
/// the threshold (outliers folded into its last bin), Q the same quantized
/// to `levels` levels. The histogram needs at least `levels` bins.
double entropyThreshold(llvm::ArrayRef<int64_t> histogram, double maxValue,
                        int64_t levels = 128);

/// The threshold `method` picks (maxValue for minmax).
double activationThreshold(ActivationRangeMethod method, llvm::ArrayRef<int64_t> histogram,
                           double maxValue);

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_ACTIVATIONCALIBRATION_H
