//===- ActivationQuantization.h - int8 activations and their products -*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_TRANSFORMS_ACTIVATIONQUANTIZATION_H
#define NIBBLE_DIALECT_NIBBLE_TRANSFORMS_ACTIVATIONQUANTIZATION_H

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"

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

/// nibble.integer_matmul of int8 activations `qx` [M, K] (scales
/// `xScale`) and a constant weight of `bits` bits: `values` row-major
/// K x N, `scales` [K / groupRows, N] row-major (one per column when
/// groupRows is K), and for int4 optionally `zeroPoints` of the scales'
/// layout (the weight is then values - zero point; the op gets group_size
/// even when groupRows is K). The constants are named `name`.q, `name`.scale
/// and `name`.zp.
IntegerMatmulOp buildConstantWeightIntegerMatmul(OpBuilder &builder, Location loc,
                                                 Type resultType, Value qx, Value xScale,
                                                 ArrayRef<int64_t> values,
                                                 ArrayRef<float> scales, int64_t k,
                                                 int64_t n, unsigned bits, int64_t groupRows,
                                                 StringRef name,
                                                 ArrayRef<int64_t> zeroPoints = {});

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_TRANSFORMS_ACTIVATIONQUANTIZATION_H
