//===- QuantMath.h - scalar quantization arithmetic -------------*- C++ -*-===//
//
// The scalar rules every quantized value in nibble follows (ONNX
// QuantizeLinear / DequantizeLinear), shared by folders, compile-time weight
// quantization and tests so constant folding and generated code agree
// bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_IR_QUANTMATH_H
#define NIBBLE_DIALECT_NIBBLE_IR_QUANTMATH_H

#include <cmath>
#include <cstdint>

namespace mlir::nibble {

/// ONNX QuantizeLinear for one element: divide (not multiply by the
/// reciprocal), round half to even, add the zero point, saturate.
inline int64_t quantizeScalar(float x, float scale, int64_t zeroPoint,
                              int64_t qmin, int64_t qmax) {
  float scaled = std::nearbyint(x / scale); // default mode: half to even
  float shifted = scaled + static_cast<float>(zeroPoint);
  // NaN saturates to qmin, as the generated code's maxnum(NaN, qmin) does.
  if (std::isnan(shifted))
    return qmin;
  if (shifted <= static_cast<float>(qmin))
    return qmin;
  if (shifted >= static_cast<float>(qmax))
    return qmax;
  return static_cast<int64_t>(shifted);
}

/// ONNX DequantizeLinear for one element.
inline float dequantizeScalar(int64_t q, float scale, int64_t zeroPoint) {
  return static_cast<float>(q - zeroPoint) * scale;
}

/// Reads storage bits `raw` (as held in a signless iN) as signed or unsigned.
inline int64_t decodeStorage(uint64_t raw, unsigned bits, bool isSigned) {
  if (bits >= 64)
    return static_cast<int64_t>(raw);
  uint64_t mask = (uint64_t(1) << bits) - 1;
  raw &= mask;
  if (isSigned && (raw >> (bits - 1)))
    return static_cast<int64_t>(raw) - (int64_t(1) << bits);
  return static_cast<int64_t>(raw);
}

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_IR_QUANTMATH_H
