//===- IRBuilders.h - small IR builders for the ONNX importer ---*- C++ -*-===//
//
// Converters express ONNX semantics with a handful of building blocks:
// numpy-broadcast elementwise generics, reductions along one axis, reshapes
// and transposes. Keeping them here means every converter broadcasts and
// reshapes the same way.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_IRBUILDERS_H
#define NIBBLE_LIB_IMPORT_ONNX_IRBUILDERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <functional>
#include <optional>

namespace mlir::nibble::onnx_import {

using ScalarBody = std::function<Value(OpBuilder &, Location, ValueRange)>;

inline RankedTensorType tensorTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// The numpy broadcast of `shapes`, or nullopt if they do not broadcast.
std::optional<SmallVector<int64_t>>
broadcastShapes(ArrayRef<ArrayRef<int64_t>> shapes);

/// Collapses away the dims of `input` that broadcast against `outShape`
/// (size 1 where the output is larger; `input` is right-aligned) and
/// returns the collapsed value with the indexing map from the output's
/// dims to its remaining dims.
std::pair<Value, AffineMap> dropBroadcastDims(OpBuilder &b, Location loc,
                                              Value input,
                                              ArrayRef<int64_t> outShape);

/// A linalg.generic applying `body` to the scalars of `inputs` broadcast
/// numpy-style; the result has `resultElementType`. Null if the shapes do
/// not broadcast.
Value buildElementwise(OpBuilder &b, Location loc, ArrayRef<Value> inputs,
                       Type resultElementType, const ScalarBody &body);

/// Reduces `input` along `axis` (dropping it) with `combine(acc, x)`,
/// starting from `init`.
Value buildReduction(OpBuilder &b, Location loc, Value input, int64_t axis,
                     TypedAttr init, const ScalarBody &combine);

/// `input` reshaped to `shape` (same element count) without copying.
Value buildReshape(OpBuilder &b, Location loc, Value input,
                   ArrayRef<int64_t> shape);

/// `input` with dimensions permuted: result dim i = input dim perm[i].
Value buildTranspose(OpBuilder &b, Location loc, Value input,
                     ArrayRef<int64_t> perm);

/// An f32 scalar constant.
Value buildF32Constant(OpBuilder &b, Location loc, float value);

/// A tensor filled with zeros.
Value buildZeroFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                      Type elementType);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_IRBUILDERS_H
