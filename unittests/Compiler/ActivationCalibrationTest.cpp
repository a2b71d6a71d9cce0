//===- ActivationCalibrationTest.cpp - int8 ranges from histograms --------===//

#include "nibble/Compiler/ActivationCalibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace mlir::nibble;

namespace {

/// |x| of a unit Gaussian over [0, maxValue] in `bins` bins, plus `outliers`
/// samples in the last bin.
std::vector<int64_t> gaussianWithOutliers(int bins, double maxValue, int64_t outliers) {
  std::vector<int64_t> histogram(bins, 0);
  for (int i = 0; i < bins; ++i) {
    double x = (i + 0.5) * maxValue / bins;
    histogram[i] = static_cast<int64_t>(1e6 * std::exp(-0.5 * x * x) * maxValue / bins);
  }
  histogram.back() += outliers;
  return histogram;
}

TEST(ActivationCalibration, PercentileIsTheUpperEdgeOfItsBin) {
  std::vector<int64_t> histogram = {50, 30, 15, 5};
  EXPECT_DOUBLE_EQ(histogramPercentile(histogram, 4.0, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(histogramPercentile(histogram, 4.0, 0.8), 2.0);
  EXPECT_DOUBLE_EQ(histogramPercentile(histogram, 4.0, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(histogramPercentile({0, 0}, 4.0, 0.5), 0.0);
}

TEST(ActivationCalibration, EntropyClipsRareOutliers) {
  // A Gaussian body up to ~5 and a handful of values at 40: spending the
  // 128 levels on [0, 40] would leave the body a dozen of them.
  std::vector<int64_t> histogram = gaussianWithOutliers(2048, 40.0, 3);
  double threshold = entropyThreshold(histogram, 40.0);
  EXPECT_GT(threshold, 2.5);
  EXPECT_LT(threshold, 12.0);
  EXPECT_DOUBLE_EQ(activationThreshold(ActivationRangeMethod::MinMax, histogram, 40.0), 40.0);
}

TEST(ActivationCalibration, EntropyKeepsAFullRange) {
  // Mass spread evenly to the end: clipping anything only loses.
  std::vector<int64_t> histogram(2048, 1000);
  EXPECT_GT(entropyThreshold(histogram, 10.0), 9.5);
}

TEST(ActivationCalibration, ParsesMethodNames) {
  EXPECT_EQ(parseActivationRangeMethod("entropy"), ActivationRangeMethod::Entropy);
  EXPECT_EQ(parseActivationRangeMethod("percentile"), ActivationRangeMethod::Percentile);
  EXPECT_FALSE(parseActivationRangeMethod("kl").has_value());
}

} // namespace
