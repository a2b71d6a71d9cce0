//===- PrecisionSelection.cpp - multiple-choice knapsack over layers ------===//

#include "nibble/Dialect/Nibble/Utils/PrecisionSelection.h"

#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;
using llvm::ArrayRef;
using namespace mlir::nibble;

double mlir::nibble::noiseFromSqnrDb(double sqnrDb) {
  return sqnrDb >= kMaxSqnrDb ? 0.0 : std::pow(10.0, -sqnrDb / 10.0);
}

double mlir::nibble::sqnrDbFromNoise(double noise) {
  if (!(noise > 0.0))
    return kMaxSqnrDb;
  return std::min(kMaxSqnrDb, -10.0 * std::log10(noise));
}

namespace {
/// The DP table: best[b] = least noise with at most b bins above every
/// layer's smallest candidate; choice[l][b] = layer l's candidate there.
struct KnapsackTable {
  int64_t binBytes = 1;
  int64_t numBins = 0;
  int64_t minimumBytes = 0;
  std::vector<double> best;
  std::vector<std::vector<unsigned>> choice;

  KnapsackTable(ArrayRef<LayerOptions> layers, int64_t maxExtraBytes) {
    for (const LayerOptions &layer : layers)
      minimumBytes += *std::min_element(layer.bytes.begin(), layer.bytes.end());
    maxExtraBytes = std::max<int64_t>(maxExtraBytes, 0);
    binBytes = std::max<int64_t>(1, llvm::divideCeil(maxExtraBytes, kByteBins));
    numBins = maxExtraBytes / binBytes;
    const double infinity = std::numeric_limits<double>::infinity();
    best.assign(numBins + 1, 0.0);
    for (const LayerOptions &layer : layers) {
      int64_t smallest = *std::min_element(layer.bytes.begin(), layer.bytes.end());
      std::vector<double> next(numBins + 1, infinity);
      std::vector<unsigned> picked(numBins + 1, 0);
      for (unsigned c = 0; c < layer.bytes.size(); ++c) {
        // Rounded up: a selection's true bytes never exceed its bins.
        int64_t bins = llvm::divideCeil(layer.bytes[c] - smallest, binBytes);
        for (int64_t b = bins; b <= numBins; ++b) {
          double noise = best[b - bins] + layer.noise[c];
          if (noise < next[b]) {
            next[b] = noise;
            picked[b] = c;
          }
        }
      }
      best = std::move(next);
      choice.push_back(std::move(picked));
    }
  }

  Selection reconstruct(ArrayRef<LayerOptions> layers, int64_t bin) const {
    Selection selection;
    selection.choice.resize(layers.size());
    for (int64_t l = static_cast<int64_t>(layers.size()) - 1; l >= 0; --l) {
      unsigned c = choice[l][bin];
      selection.choice[l] = c;
      const LayerOptions &layer = layers[l];
      int64_t smallest = *std::min_element(layer.bytes.begin(), layer.bytes.end());
      bin -= llvm::divideCeil(layer.bytes[c] - smallest, binBytes);
      selection.bytes += layer.bytes[c];
      selection.noise += layer.noise[c];
    }
    return selection;
  }
};
} // namespace

static int64_t maximumExtraBytes(ArrayRef<LayerOptions> layers) {
  int64_t extra = 0;
  for (const LayerOptions &layer : layers)
    extra += *std::max_element(layer.bytes.begin(), layer.bytes.end()) -
             *std::min_element(layer.bytes.begin(), layer.bytes.end());
  return extra;
}

std::optional<Selection> mlir::nibble::selectWithinBytes(ArrayRef<LayerOptions> layers,
                                                         int64_t budgetBytes) {
  int64_t maxExtra = maximumExtraBytes(layers);
  int64_t minimum = 0;
  for (const LayerOptions &layer : layers)
    minimum += *std::min_element(layer.bytes.begin(), layer.bytes.end());
  if (budgetBytes < minimum)
    return std::nullopt;
  KnapsackTable table(layers, std::min(maxExtra, budgetBytes - minimum));
  // best[] is non-increasing in b, but pick the argmin to be safe.
  int64_t bin = std::min_element(table.best.begin(), table.best.end()) - table.best.begin();
  return table.reconstruct(layers, bin);
}

std::optional<Selection> mlir::nibble::selectWithinNoise(ArrayRef<LayerOptions> layers,
                                                         double maxNoise) {
  KnapsackTable table(layers, maximumExtraBytes(layers));
  for (int64_t bin = 0; bin <= table.numBins; ++bin)
    if (table.best[bin] <= maxNoise)
      return table.reconstruct(layers, bin);
  return std::nullopt;
}
