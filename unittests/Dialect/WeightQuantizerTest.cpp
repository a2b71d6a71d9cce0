//===- WeightQuantizerTest.cpp - RTN, GPTQ and precision selection --------===//
//
// Properties rather than fixed numbers: GPTQ's output error never exceeds
// RTN's on correlated activations, asymmetric ranges are exact at their
// ends, and the knapsack's answer equals brute force on small instances.
//
//===----------------------------------------------------------------------===//

#include "nibble/Dialect/Nibble/Utils/PrecisionSelection.h"
#include "nibble/Dialect/Nibble/Utils/WeightQuantizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace mlir::nibble;

namespace {

/// ||X (W' - W)||^2 for activations X (rows x k) and weights k x n.
double outputError(const std::vector<float> &x, int64_t rows, int64_t k, int64_t n,
                   llvm::ArrayRef<float> exact, llvm::ArrayRef<float> approx) {
  double error = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double d = 0.0;
      for (int64_t i = 0; i < k; ++i)
        d += x[r * k + i] * (double(approx[i * n + j]) - exact[i * n + j]);
      error += d * d;
    }
  return error;
}

TEST(WeightPrecision, ParsesPrintsAndCountsBytes) {
  for (const char *name : {"fp32", "fp16", "int8", "uint8", "int4", "int4-g32", "uint4-g128"})
    EXPECT_EQ(WeightPrecision::parse(name)->name(), name);
  for (const char *name : {"int3", "int4-g1", "int4-gx", "float", "int8-g"})
    EXPECT_FALSE(WeightPrecision::parse(name)) << name;
  // 256 x 64: int4 in groups of 32 is 8192 packed bytes + 8 x 64 f32 scales.
  EXPECT_EQ(WeightPrecision::parse("int4-g32")->weightBytes(256, 64), 8192 + 8 * 64 * 4);
  // Zero points add half a byte per scale for uint4.
  EXPECT_EQ(WeightPrecision::parse("uint4-g32")->weightBytes(256, 64),
            8192 + 8 * 64 * 4 + 8 * 64 / 2);
  EXPECT_EQ(WeightPrecision::parse("fp16")->weightBytes(256, 64), 256 * 64 * 2);
  EXPECT_EQ(WeightPrecision::parse("int4-g128")->forRows(64).name(), "int4");
}

TEST(QuantizeRTN, AsymmetricRangeEndsAreExact) {
  // One column spanning [-1, 14]: 15 steps of 1, zero point 1.
  std::vector<float> w = {-1.0f, 14.0f, 3.0f, 0.0f};
  auto q = quantizeRTN(w, 4, 1, WeightPrecision::integer(4, false, 0));
  ASSERT_TRUE(!!q);
  EXPECT_EQ(q->zeroPoints[0], 1);
  llvm::SmallVector<float> back = q->dequantize();
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_FLOAT_EQ(back[i], w[i]);
}

TEST(QuantizeRTN, RefusesNonFiniteWeights) {
  std::vector<float> w = {1.0f, INFINITY};
  auto q = quantizeRTN(w, 2, 1, WeightPrecision::integer(8, true, 0));
  ASSERT_FALSE(!!q);
  EXPECT_NE(llvm::toString(q.takeError()).find("Inf at element 1"), std::string::npos);
}

TEST(QuantizeGPTQ, NeverWorseThanRTNOnCorrelatedActivations) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int64_t k = 64, n = 16, rows = 512, latent = 16;
  for (int trial = 0; trial < 4; ++trial) {
    // Activations from a few latent factors, with two outlier channels.
    std::vector<float> mix(latent * k), x(rows * k), w(k * n);
    for (float &v : mix)
      v = normal(rng);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> z(latent);
      for (float &v : z)
        v = normal(rng);
      for (int64_t i = 0; i < k; ++i) {
        float sum = 0.1f * normal(rng);
        for (int64_t l = 0; l < latent; ++l)
          sum += z[l] * mix[l * k + i];
        x[r * k + i] = sum * (i % 31 == 3 ? 20.0f : 1.0f);
      }
    }
    for (float &v : w)
      v = normal(rng);
    std::vector<float> hessian(k * k, 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
          hessian[i * k + j] += x[r * k + i] * x[r * k + j] / rows;
    auto factor = GPTQFactor::compute(hessian, k);
    ASSERT_TRUE(!!factor);
    for (const char *name : {"int4-g32", "int4", "uint4-g16", "int8"}) {
      WeightPrecision precision = *WeightPrecision::parse(name);
      auto rtn = simulateWeightPrecision(w, k, n, precision, nullptr);
      auto gptq = simulateWeightPrecision(w, k, n, precision, &*factor);
      ASSERT_TRUE(rtn && gptq);
      double rtnError = outputError(x, rows, k, n, w, *rtn);
      double gptqError = outputError(x, rows, k, n, w, *gptq);
      EXPECT_LT(gptqError, 0.8 * rtnError) << name << " trial " << trial;
    }
  }
}

TEST(QuantizeGPTQ, ZeroHessianAndZeroWeightsAreFine) {
  std::vector<float> w(8 * 4, 0.0f), hessian(8 * 8, 0.0f);
  auto factor = GPTQFactor::compute(hessian, 8);
  ASSERT_TRUE(!!factor);
  auto q = quantizeGPTQ(w, 8, 4, WeightPrecision::integer(4, true, 0), *factor);
  ASSERT_TRUE(!!q);
  for (float v : q->dequantize())
    EXPECT_EQ(v, 0.0f);
}

/// Least noise within `budget` bytes by trying every combination.
double bruteForce(const std::vector<LayerOptions> &layers, int64_t budget, size_t layer = 0,
                  int64_t bytes = 0, double noise = 0.0) {
  if (bytes > budget)
    return INFINITY;
  if (layer == layers.size())
    return noise;
  double best = INFINITY;
  for (size_t c = 0; c < layers[layer].bytes.size(); ++c)
    best = std::min(best, bruteForce(layers, budget, layer + 1, bytes + layers[layer].bytes[c],
                                     noise + layers[layer].noise[c]));
  return best;
}

TEST(PrecisionSelection, MatchesBruteForce) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int64_t> bytes(1, 400);
  std::uniform_real_distribution<double> noise(0.0, 1.0);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<LayerOptions> layers(5);
    int64_t total = 0;
    for (LayerOptions &layer : layers) {
      for (int c = 0; c < 3; ++c) {
        layer.bytes.push_back(bytes(rng));
        layer.noise.push_back(noise(rng));
      }
      total += layer.bytes[0];
    }
    int64_t budget = total;
    std::optional<Selection> selection = selectWithinBytes(layers, budget);
    double expected = bruteForce(layers, budget);
    ASSERT_EQ(selection.has_value(), std::isfinite(expected));
    if (!selection)
      continue;
    EXPECT_LE(selection->bytes, budget);
    EXPECT_NEAR(selection->noise, expected, 1e-12) << "trial " << trial;
    // Within its own noise, the noise-budget solve never needs more bytes.
    std::optional<Selection> cheapest = selectWithinNoise(layers, selection->noise + 1e-12);
    ASSERT_TRUE(cheapest.has_value());
    EXPECT_LE(cheapest->bytes, selection->bytes);
  }
}

TEST(PrecisionSelection, ImpossibleBudgets) {
  std::vector<LayerOptions> layers = {{{100, 50}, {0.0, 0.1}}};
  EXPECT_FALSE(selectWithinBytes(layers, 49).has_value());
  EXPECT_FALSE(selectWithinNoise({{{100, 50}, {0.01, 0.1}}}, 0.001).has_value());
  EXPECT_DOUBLE_EQ(sqnrDbFromNoise(0.0), kMaxSqnrDb);
  EXPECT_DOUBLE_EQ(noiseFromSqnrDb(20.0), 0.01);
}

} // namespace
