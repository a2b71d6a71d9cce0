//===- WeightQuantizer.h - weight precisions and how to reach them -*- C++ -*-===//
//
// The numeric core of weight quantization, shared by the quantize pass (which
// writes the result into the IR) and the compiler's sensitivity measurement
// (which runs the float model with dequantized weights), so what is measured
// is bit for bit what is compiled.
//
// A weight is a row-major K x N matrix (K = input channels, N = outputs).
// Scales are per output column (per channel) or per group of G rows of K in
// each column; quantized values follow ONNX QuantizeLinear (divide, round
// half to even, add the zero point, saturate).
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTQUANTIZER_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTQUANTIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::nibble {

/// What one layer's weight is stored as: "fp32", "fp16", or an integer
/// scheme named like SchemeAttr::getShortName(): "int8" (signed, symmetric,
/// per channel), "uint8" (unsigned with a zero point), "int4-g128" (per
/// group of 128 rows of K), "uint4-g32", "int4" (per channel). "w8a8" and
/// "w8a8-dynamic" are int8 weights whose layer also quantizes its input
/// activations to int8 (one calibrated scale, or one per row at run time)
/// and multiplies in integers. "w4a8-g128" (and "w4a8", per channel) are
/// int4 weights per group whose layer quantizes its activations at run time
/// to int8 with one scale per row and group, and multiplies in integers
/// group by group.
struct WeightPrecision {
  enum class Kind { Float32, Float16, Integer };
  enum class Activations { Float, StaticInt8, DynamicInt8 };
  Kind kind = Kind::Float32;
  unsigned bits = 32;
  /// Integer only: true = signed storage, no zero point; false = unsigned
  /// storage with a zero point (asymmetric).
  bool symmetric = true;
  /// Integer only: rows of K per scale; 0 = one scale per column.
  int64_t groupSize = 0;
  Activations activations = Activations::Float;

  static WeightPrecision fp32() { return {}; }
  static WeightPrecision fp16() { return {Kind::Float16, 16, true, 0}; }
  static WeightPrecision integer(unsigned bits, bool symmetric, int64_t groupSize) {
    return {Kind::Integer, bits, symmetric, groupSize};
  }
  static WeightPrecision w8a8(bool dynamic) {
    return {Kind::Integer, 8, true, 0,
            dynamic ? Activations::DynamicInt8 : Activations::StaticInt8};
  }
  static WeightPrecision w4a8(int64_t groupSize) {
    return {Kind::Integer, 4, true, groupSize, Activations::DynamicInt8};
  }
  bool quantizesActivations() const { return activations != Activations::Float; }

  /// Parses a name as above; nullopt if it is not one.
  static std::optional<WeightPrecision> parse(llvm::StringRef name);
  std::string name() const;
  bool isInteger() const { return kind == Kind::Integer; }

  /// The same precision as it applies to a weight of `k` rows: a group of
  /// at least K rows is one scale per column ("int4-g128" on K = 64 is
  /// "int4"), and so is a W4A8 group that does not divide K.
  WeightPrecision forRows(int64_t k) const;
  /// Rows of K that share a scale for a weight with `k` rows.
  int64_t groupRows(int64_t k) const;
  /// Smallest and largest stored integer.
  int64_t qmin() const;
  int64_t qmax() const;
  /// Bytes the binary holds for a K x N weight: values (sub-byte packed),
  /// f32 scales and zero points.
  int64_t weightBytes(int64_t k, int64_t n) const;

  bool operator==(const WeightPrecision &other) const {
    return name() == other.name();
  }
};

/// A quantized K x N weight. Scales and zero points are laid out
/// [ceil(K / groupRows), N], row-major.
struct QuantizedWeight {
  int64_t k = 0, n = 0, groupRows = 0;
  llvm::SmallVector<int64_t> values;
  llvm::SmallVector<float> scales;
  /// Empty for symmetric schemes.
  llvm::SmallVector<int64_t> zeroPoints;

  int64_t scaleIndex(int64_t row, int64_t col) const {
    return (row / groupRows) * n + col;
  }
  /// The float weight the quantized one stands for (ONNX DequantizeLinear).
  llvm::SmallVector<float> dequantize() const;
};

/// Round to nearest: each group's scale (and zero point) from its range,
/// every value rounded independently. Non-finite weights are an error.
llvm::Expected<QuantizedWeight> quantizeRTN(llvm::ArrayRef<float> weights, int64_t k,
                                            int64_t n, const WeightPrecision &precision);

/// What GPTQ needs from a layer's calibration Hessian H = E[x^T x] (K x K):
/// the upper Cholesky factor of (H + damping)^-1 and which input channels
/// no sample excites. It depends on the activations only, so one factor
/// serves every precision tried for the layer.
struct GPTQFactor {
  int64_t k = 0;
  /// K x K row-major, upper triangular.
  std::vector<double> upper;
  /// Channels with zero activation energy: their weights are zeroed.
  std::vector<bool> dead;

  /// Factors `hessian` (K x K row-major). Dampening starts at 1% of the
  /// mean diagonal and grows until the factorisation succeeds.
  static llvm::Expected<GPTQFactor> compute(llvm::ArrayRef<float> hessian, int64_t k);
};

/// GPTQ (Frantar et al., 2022): quantizes rows of K in order and spreads each
/// row's rounding error over the rows not yet quantized, weighted by the
/// inverse Hessian, so the layer's output error, not the weight error, is
/// minimised. Group scales are taken from the updated weights when a group
/// starts.
llvm::Expected<QuantizedWeight> quantizeGPTQ(llvm::ArrayRef<float> weights, int64_t k,
                                             int64_t n, const WeightPrecision &precision,
                                             const GPTQFactor &factor);

/// The weight as the compiled model will see it: float32 unchanged, float16
/// rounded to half precision, integers quantized (by GPTQ when `factor` is
/// given, else RTN) and dequantized.
llvm::Expected<llvm::SmallVector<float>>
simulateWeightPrecision(llvm::ArrayRef<float> weights, int64_t k, int64_t n,
                        const WeightPrecision &precision, const GPTQFactor *factor);

/// `matrix` (rows x columns, row-major) transposed. Embedding tables [V, D]
/// take one scale per row, which is the per-column scheme of their
/// transpose (K = D, N = V): they are quantized through it.
template <typename T>
std::vector<T> transposeMatrix(llvm::ArrayRef<T> matrix, int64_t rows, int64_t columns) {
  std::vector<T> result(matrix.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < columns; ++c)
      result[c * rows + r] = matrix[r * columns + c];
  return result;
}

/// Rounds to IEEE half (round to nearest even, overflow to infinity) and back.
float roundToHalf(float value);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_WEIGHTQUANTIZER_H
