//===- WeightQuantizer.cpp - RTN and GPTQ weight quantization -------------===//

#include "nibble/Dialect/Nibble/Utils/WeightQuantizer.h"

#include "nibble/Dialect/Nibble/IR/QuantMath.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace mlir;
using llvm::ArrayRef;
using llvm::SmallVector;
using namespace mlir::nibble;

std::optional<WeightPrecision> WeightPrecision::parse(llvm::StringRef name) {
  if (name == "fp32")
    return fp32();
  if (name == "fp16")
    return fp16();
  if (name == "w8a8" || name == "w8a8-dynamic")
    return w8a8(name == "w8a8-dynamic");
  if (name.consume_front("w4a8")) {
    int64_t groupSize = 0;
    if (!name.empty() &&
        (!name.consume_front("-g") || name.getAsInteger(10, groupSize) || groupSize < 2))
      return std::nullopt;
    return w4a8(groupSize);
  }
  bool symmetric = name.consume_front("int");
  if (!symmetric && !name.consume_front("uint"))
    return std::nullopt;
  auto [bitsText, groupText] = name.split("-g");
  unsigned bits = 0;
  if (bitsText.getAsInteger(10, bits) || (bits != 4 && bits != 8))
    return std::nullopt;
  int64_t groupSize = 0;
  if (name.contains("-g") && (groupText.getAsInteger(10, groupSize) || groupSize < 2))
    return std::nullopt;
  return integer(bits, symmetric, groupSize);
}

std::string WeightPrecision::name() const {
  switch (kind) {
  case Kind::Float32: return "fp32";
  case Kind::Float16: return "fp16";
  case Kind::Integer: break;
  }
  if (activations != Activations::Float && bits == 4)
    return groupSize > 0 ? "w4a8-g" + std::to_string(groupSize) : "w4a8";
  if (activations != Activations::Float)
    return activations == Activations::StaticInt8 ? "w8a8" : "w8a8-dynamic";
  std::string text = (symmetric ? "int" : "uint") + std::to_string(bits);
  if (groupSize > 0)
    text += "-g" + std::to_string(groupSize);
  return text;
}

WeightPrecision WeightPrecision::forRows(int64_t k) const {
  WeightPrecision result = *this;
  if (result.groupSize >= k)
    result.groupSize = 0;
  // W4A8 sums whole groups in integers: a group that does not divide K
  // becomes one group per column.
  if (result.quantizesActivations() && result.groupSize > 0 && k % result.groupSize != 0)
    result.groupSize = 0;
  return result;
}

int64_t WeightPrecision::groupRows(int64_t k) const {
  return groupSize > 0 ? std::min(groupSize, k) : k;
}

int64_t WeightPrecision::qmin() const {
  return symmetric ? -(int64_t(1) << (bits - 1)) : 0;
}

int64_t WeightPrecision::qmax() const {
  return symmetric ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
}

int64_t WeightPrecision::weightBytes(int64_t k, int64_t n) const {
  if (kind != Kind::Integer)
    return k * n * (bits / 8);
  int64_t numScales = llvm::divideCeil(k, groupRows(k)) * n;
  int64_t bytes = llvm::divideCeil(k * n * bits, 8) + numScales * 4;
  if (!symmetric)
    bytes += llvm::divideCeil(numScales * bits, 8);
  return bytes;
}

SmallVector<float> QuantizedWeight::dequantize() const {
  SmallVector<float> result(k * n);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      int64_t s = scaleIndex(row, col);
      result[row * n + col] = dequantizeScalar(
          values[row * n + col], scales[s], zeroPoints.empty() ? 0 : zeroPoints[s]);
    }
  return result;
}

float mlir::nibble::roundToHalf(float value) {
  const llvm::fltSemantics &half = llvm::APFloat::IEEEhalf();
  return widenHalfBits(narrowToHalfBits(value, half), half);
}

static llvm::Error checkFinite(ArrayRef<float> weights) {
  for (size_t i = 0; i < weights.size(); ++i)
    if (!std::isfinite(weights[i]))
      return llvm::createStringError(
          "the weight holds " + std::string(std::isnan(weights[i]) ? "NaN" : "Inf") +
          " at element " + std::to_string(i) +
          "; fix the model, or keep the layer in fp32 with --precision-config");
  return llvm::Error::success();
}

namespace {
/// Picks scale and zero point for one group of weights from its range and
/// quantizes values with them.
struct GroupQuantizer {
  const WeightPrecision &precision;

  /// Sets `scale` and `zeroPoint` for values in [lo, hi].
  void chooseParameters(float lo, float hi, float &scale, int64_t &zeroPoint) const {
    zeroPoint = 0;
    if (precision.symmetric) {
      float absMax = std::max(std::fabs(lo), std::fabs(hi));
      // An all-zero group gets scale 1: nothing divides by zero.
      scale = absMax > 0.0f ? absMax / static_cast<float>(precision.qmax()) : 1.0f;
      return;
    }
    // The range always holds zero, so zero is exactly representable.
    lo = std::min(lo, 0.0f);
    hi = std::max(hi, 0.0f);
    if (hi - lo <= 0.0f) {
      scale = 1.0f;
      return;
    }
    scale = (hi - lo) / static_cast<float>(precision.qmax() - precision.qmin());
    zeroPoint = std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(-lo / scale)),
                                    precision.qmin(), precision.qmax());
  }

  /// Chooses parameters for rows [rowBegin, rowEnd) of every column of the
  /// K x N `weights`, storing them at scale row `scaleRow` of `result`.
  void chooseForRows(ArrayRef<float> weights, int64_t rowBegin, int64_t rowEnd,
                     QuantizedWeight &result) const {
    int64_t n = result.n, scaleRow = rowBegin / result.groupRows;
    for (int64_t col = 0; col < n; ++col) {
      float lo = 0.0f, hi = 0.0f;
      for (int64_t row = rowBegin; row < rowEnd; ++row) {
        lo = std::min(lo, weights[row * n + col]);
        hi = std::max(hi, weights[row * n + col]);
      }
      int64_t zeroPoint = 0;
      chooseParameters(lo, hi, result.scales[scaleRow * n + col], zeroPoint);
      if (!precision.symmetric)
        result.zeroPoints[scaleRow * n + col] = zeroPoint;
    }
  }

  int64_t quantize(float value, const QuantizedWeight &result, int64_t scaleIndex) const {
    int64_t zeroPoint = result.zeroPoints.empty() ? 0 : result.zeroPoints[scaleIndex];
    return quantizeScalar(value, result.scales[scaleIndex], zeroPoint, precision.qmin(),
                          precision.qmax());
  }
};
} // namespace

static QuantizedWeight makeEmptyResult(int64_t k, int64_t n,
                                       const WeightPrecision &precision) {
  QuantizedWeight result;
  result.k = k;
  result.n = n;
  result.groupRows = precision.groupRows(k);
  int64_t numScales = llvm::divideCeil(k, result.groupRows) * n;
  result.scales.assign(numScales, 1.0f);
  if (!precision.symmetric)
    result.zeroPoints.assign(numScales, 0);
  result.values.assign(k * n, 0);
  return result;
}

llvm::Expected<QuantizedWeight>
mlir::nibble::quantizeRTN(ArrayRef<float> weights, int64_t k, int64_t n,
                          const WeightPrecision &precision) {
  assert(precision.isInteger() && static_cast<int64_t>(weights.size()) == k * n);
  if (llvm::Error err = checkFinite(weights))
    return std::move(err);
  QuantizedWeight result = makeEmptyResult(k, n, precision);
  GroupQuantizer quantizer{precision};
  for (int64_t row = 0; row < k; row += result.groupRows)
    quantizer.chooseForRows(weights, row, std::min(row + result.groupRows, k), result);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      result.values[row * n + col] =
          quantizer.quantize(weights[row * n + col], result, result.scaleIndex(row, col));
  return result;
}

/// sum a[i] * b[i] over [0, n), with four partial sums so the compiler can
/// vectorize it (a single running sum forbids reassociation).
static double dot(const double *a, const double *b, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i)
    s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

/// Lower Cholesky factor of the symmetric positive definite K x K `matrix`
/// in place (upper triangle zeroed); false if it is not positive definite.
/// Inner loops run along rows, so memory is read contiguously.
static bool choleskyInPlace(std::vector<double> &matrix, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    const double *rowJ = matrix.data() + j * k;
    double diagonal = rowJ[j] - dot(rowJ, rowJ, j);
    if (!(diagonal > 0.0))
      return false;
    double pivot = std::sqrt(diagonal);
    matrix[j * k + j] = pivot;
    for (int64_t i = j + 1; i < k; ++i) {
      double *rowI = matrix.data() + i * k;
      rowI[j] = (rowI[j] - dot(rowI, rowJ, j)) / pivot;
    }
  }
  for (int64_t i = 0; i < k; ++i)
    std::fill(matrix.begin() + i * k + i + 1, matrix.begin() + (i + 1) * k, 0.0);
  return true;
}

/// Replaces the lower Cholesky factor L of H (in `factor`) by the upper
/// Cholesky factor U of H^-1 (H^-1 = U^T U).
static bool upperCholeskyOfInverse(std::vector<double> &factor, int64_t k) {
  // Rows of `inverseT` are the columns of L^-1, found by forward
  // substitution: L x = e_j.
  std::vector<double> inverseT(k * k, 0.0);
  for (int64_t j = 0; j < k; ++j) {
    double *x = inverseT.data() + j * k;
    for (int64_t i = j; i < k; ++i) {
      const double *rowI = factor.data() + i * k;
      x[i] = ((i == j ? 1.0 : 0.0) - dot(rowI + j, x + j, i - j)) / rowI[i];
    }
  }
  // H^-1 = L^-T L^-1: entry (i, j) is the dot product of columns i and j of
  // L^-1, rows i and j of inverseT (both zero before max(i, j)).
  for (int64_t i = 0; i < k; ++i) {
    const double *a = inverseT.data() + i * k;
    for (int64_t j = 0; j <= i; ++j) {
      const double *b = inverseT.data() + j * k;
      factor[i * k + j] = factor[j * k + i] = dot(a + i, b + i, k - i);
    }
  }
  if (!choleskyInPlace(factor, k))
    return false;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j)
      std::swap(factor[i * k + j], factor[j * k + i]);
  return true;
}

llvm::Expected<GPTQFactor> GPTQFactor::compute(ArrayRef<float> hessian, int64_t k) {
  if (static_cast<int64_t>(hessian.size()) != k * k)
    return llvm::createStringError("GPTQ needs a " + std::to_string(k) + "x" +
                                   std::to_string(k) + " Hessian, got " +
                                   std::to_string(hessian.size()) + " elements");
  GPTQFactor result;
  result.k = k;
  result.dead.assign(k, false);
  std::vector<double> h(hessian.begin(), hessian.end());
  double meanDiagonal = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    if (!std::isfinite(h[i * k + i]))
      return llvm::createStringError("the calibration Hessian is not finite; check the "
                                     "calibration data for NaN or Inf");
    meanDiagonal += h[i * k + i] / static_cast<double>(k);
  }
  // A channel no sample excites cannot affect the output: its Hessian row
  // becomes the identity's so the factorisation exists.
  for (int64_t i = 0; i < k; ++i)
    if (h[i * k + i] <= 0.0) {
      result.dead[i] = true;
      for (int64_t j = 0; j < k; ++j)
        h[i * k + j] = h[j * k + i] = 0.0;
      h[i * k + i] = 1.0;
    }
  if (meanDiagonal <= 0.0)
    meanDiagonal = 1.0;
  for (double damp = 0.01; damp <= 10.0; damp *= 10.0) {
    result.upper = h;
    for (int64_t i = 0; i < k; ++i)
      result.upper[i * k + i] += damp * meanDiagonal;
    if (choleskyInPlace(result.upper, k) && upperCholeskyOfInverse(result.upper, k))
      return result;
  }
  return llvm::createStringError("the calibration Hessian is not positive definite "
                                 "even after dampening");
}

llvm::Expected<QuantizedWeight>
mlir::nibble::quantizeGPTQ(ArrayRef<float> weights, int64_t k, int64_t n,
                           const WeightPrecision &precision, const GPTQFactor &factor) {
  assert(precision.isInteger() && static_cast<int64_t>(weights.size()) == k * n);
  if (factor.k != k)
    return llvm::createStringError("the GPTQ factor is for K = " + std::to_string(factor.k) +
                                   ", not " + std::to_string(k));
  if (llvm::Error err = checkFinite(weights))
    return std::move(err);
  std::vector<float> work(weights.begin(), weights.end());
  for (int64_t i = 0; i < k; ++i)
    if (factor.dead[i])
      std::fill(work.begin() + i * n, work.begin() + (i + 1) * n, 0.0f);
  const std::vector<double> &upper = factor.upper;

  QuantizedWeight result = makeEmptyResult(k, n, precision);
  GroupQuantizer quantizer{precision};
  std::vector<float> error(n);
  for (int64_t row = 0; row < k; ++row) {
    if (row % result.groupRows == 0)
      quantizer.chooseForRows(work, row, std::min(row + result.groupRows, k), result);
    double pivot = upper[row * k + row];
    for (int64_t col = 0; col < n; ++col) {
      int64_t s = result.scaleIndex(row, col);
      int64_t q = quantizer.quantize(work[row * n + col], result, s);
      result.values[row * n + col] = q;
      float dequantized =
          dequantizeScalar(q, result.scales[s], result.zeroPoints.empty() ? 0 : result.zeroPoints[s]);
      error[col] = static_cast<float>((work[row * n + col] - dequantized) / pivot);
    }
    for (int64_t later = row + 1; later < k; ++later) {
      float coefficient = static_cast<float>(upper[row * k + later]);
      if (coefficient == 0.0f)
        continue;
      float *target = work.data() + later * n;
      for (int64_t col = 0; col < n; ++col)
        target[col] -= coefficient * error[col];
    }
  }
  return result;
}

llvm::Expected<SmallVector<float>>
mlir::nibble::simulateWeightPrecision(ArrayRef<float> weights, int64_t k, int64_t n,
                                      const WeightPrecision &precision,
                                      const GPTQFactor *factor) {
  switch (precision.kind) {
  case WeightPrecision::Kind::Float32:
    return SmallVector<float>(weights.begin(), weights.end());
  case WeightPrecision::Kind::Float16: {
    SmallVector<float> result(weights.begin(), weights.end());
    for (float &value : result)
      value = roundToHalf(value);
    return result;
  }
  case WeightPrecision::Kind::Integer:
    break;
  }
  llvm::Expected<QuantizedWeight> quantized =
      factor ? quantizeGPTQ(weights, k, n, precision, *factor)
             : quantizeRTN(weights, k, n, precision);
  if (!quantized)
    return quantized.takeError();
  return quantized->dequantize();
}
