//===- ActivationQuantization.h - int8 activations at run time --*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_TRANSFORMS_ACTIVATIONQUANTIZATION_H
#define NIBBLE_DIALECT_NIBBLE_TRANSFORMS_ACTIVATIONQUANTIZATION_H

#include "mlir/IR/Builders.h"

namespace mlir::nibble {

/// Activations quantized to int8 where they are computed.
struct DynamicInt8Activations {
  /// i8, the shape of the float activations.
  Value values;
  /// f32 [M] (per row) or [M, K / groupRows] (per row and group).
  Value scales;
};

/// Quantizes x [M, K] (f32) to symmetric int8 at run time, as dynamic W8A8
/// and W4A8 do: one scale per row (groupRows = K) or per row and group of
/// groupRows columns (dividing K), max |x| / 127 (1 for zeros); then
/// nibble.quantize (divide, round half to even, saturate).
DynamicInt8Activations quantizeActivationsDynamically(OpBuilder &builder, Location loc,
                                                      Value x, int64_t groupRows);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_TRANSFORMS_ACTIVATIONQUANTIZATION_H
