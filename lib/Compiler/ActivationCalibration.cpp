//===- ActivationCalibration.cpp - int8 ranges from histograms -------------===//

#include "nibble/Compiler/ActivationCalibration.h"

#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <limits>
#include <vector>

using namespace mlir;
using namespace mlir::nibble;

std::optional<ActivationRangeMethod>
mlir::nibble::parseActivationRangeMethod(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<ActivationRangeMethod>>(name)
      .Case("minmax", ActivationRangeMethod::MinMax)
      .Case("percentile", ActivationRangeMethod::Percentile)
      .Case("entropy", ActivationRangeMethod::Entropy)
      .Default(std::nullopt);
}

double mlir::nibble::histogramPercentile(llvm::ArrayRef<int64_t> histogram, double maxValue,
                                         double fraction) {
  int64_t total = 0;
  for (int64_t count : histogram)
    total += count;
  if (total == 0)
    return 0.0;
  auto wanted = static_cast<int64_t>(std::ceil(fraction * static_cast<double>(total)));
  int64_t seen = 0;
  for (size_t bin = 0; bin < histogram.size(); ++bin) {
    seen += histogram[bin];
    if (seen >= wanted)
      return maxValue * double(bin + 1) / double(histogram.size());
  }
  return maxValue;
}

/// KL(P || Q) of two unnormalised histograms over the same bins; bins where
/// P has mass and Q none cost as if Q had a tiny share there.
static double divergence(const std::vector<double> &p, const std::vector<double> &q) {
  double pTotal = 0.0, qTotal = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    pTotal += p[i];
    qTotal += q[i];
  }
  if (pTotal <= 0.0 || qTotal <= 0.0)
    return std::numeric_limits<double>::infinity();
  constexpr double kFloor = 1e-12;
  double kl = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0.0)
      continue;
    double pi = p[i] / pTotal, qi = std::max(q[i] / qTotal, kFloor);
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

double mlir::nibble::entropyThreshold(llvm::ArrayRef<int64_t> histogram, double maxValue,
                                      int64_t levels) {
  auto bins = static_cast<int64_t>(histogram.size());
  if (bins < levels)
    return maxValue;
  double best = std::numeric_limits<double>::infinity();
  int64_t bestBins = bins;
  std::vector<double> reference, candidate;
  for (int64_t clip = levels; clip <= bins; ++clip) {
    reference.assign(histogram.begin(), histogram.begin() + clip);
    for (int64_t i = clip; i < bins; ++i)
      reference[clip - 1] += static_cast<double>(histogram[i]);
    // Quantize the clipped histogram to `levels` levels, spreading each
    // level's mass evenly over the bins that had any.
    candidate.assign(clip, 0.0);
    double merge = double(clip) / double(levels);
    for (int64_t level = 0; level < levels; ++level) {
      auto begin = static_cast<int64_t>(std::floor(level * merge));
      int64_t end = level + 1 == levels ? clip : static_cast<int64_t>(std::floor((level + 1) * merge));
      double mass = 0.0;
      int64_t occupied = 0;
      for (int64_t i = begin; i < end; ++i) {
        mass += static_cast<double>(histogram[i]);
        occupied += histogram[i] != 0;
      }
      for (int64_t i = begin; i < end && occupied; ++i)
        if (histogram[i] != 0)
          candidate[i] = mass / double(occupied);
    }
    double kl = divergence(reference, candidate);
    if (kl < best) {
      best = kl;
      bestBins = clip;
    }
  }
  return maxValue * double(bestBins) / double(bins);
}

double mlir::nibble::activationThreshold(ActivationRangeMethod method,
                                         llvm::ArrayRef<int64_t> histogram, double maxValue) {
  switch (method) {
  case ActivationRangeMethod::MinMax:
    return maxValue;
  case ActivationRangeMethod::Percentile:
    return histogramPercentile(histogram, maxValue, 0.9999);
  case ActivationRangeMethod::Entropy:
    return entropyThreshold(histogram, maxValue);
  }
  return maxValue;
}
