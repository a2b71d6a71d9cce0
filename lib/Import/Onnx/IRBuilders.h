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

/// Softmax along `axis` of `x`: exp(x - max) / sum(exp(x - max)); with
/// `logarithm`, LogSoftmax: x - max - log(sum(exp(x - max))).
Value buildSoftmax(OpBuilder &b, Location loc, Value x, int64_t axis, bool logarithm);

/// `input` reshaped to `shape` (same element count) without copying.
Value buildReshape(OpBuilder &b, Location loc, Value input,
                   ArrayRef<int64_t> shape);

/// `input` with dimensions permuted: result dim i = input dim perm[i].
Value buildTranspose(OpBuilder &b, Location loc, Value input,
                     ArrayRef<int64_t> perm);

/// Static offsets/sizes/strides for the tensor slice ops.
SmallVector<OpFoldResult> indexAttrs(OpBuilder &b, ArrayRef<int64_t> values);

/// `part` written into `dest` at `offsets` (unit strides).
Value buildInsert(OpBuilder &b, Location loc, Value part, Value dest,
                  ArrayRef<int64_t> offsets);

/// Float scalar `x` extended or truncated to float type `to` (itself if it
/// has it).
Value convertFloatScalar(OpBuilder &b, Location loc, Value x, Type to);

/// Float tensor `x` converted elementwise to float type `to`, as
/// convertFloatScalar (itself if it has it).
Value buildFloatConversion(OpBuilder &b, Location loc, Value x, Type to);

/// An f32 scalar constant.
Value buildF32Constant(OpBuilder &b, Location loc, float value);

/// A tensor filled with zeros.
Value buildZeroFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                      Type elementType);

//===----------------------------------------------------------------------===//
// Sliding windows (Conv, ConvTranspose, pooling)
//===----------------------------------------------------------------------===//

class NodeImporter;

/// The spatial geometry of a sliding-window op, one entry per spatial dim.
struct SlidingWindow {
  SmallVector<int64_t> kernel, strides, dilations;
  /// Padding before and after each spatial dim (`pads`, or from auto_pad).
  SmallVector<int64_t> padBegin, padEnd;
  /// "NOTSET", "SAME_UPPER", "SAME_LOWER" or "VALID".
  std::string autoPad = "NOTSET";
  /// Whether SAME_* padding may come out negative (a kernel smaller than
  /// the stride), cropping the input: ONNX Runtime crops for pooling but
  /// pads Conv by zero.
  bool negativeSamePads = false;
  /// The output's spatial size (set by resolveSlidingWindow).
  SmallVector<int64_t> outSize;

  /// The extent of one window: (kernel - 1) * dilation + 1.
  int64_t span(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

/// Reads the strides, dilations, pads and auto_pad attributes of a
/// sliding-window node with `kernel` (defaults 1, 1, 0 and NOTSET) and
/// checks their lengths and values.
llvm::Expected<SlidingWindow> readSlidingWindow(NodeImporter &imp,
                                                ArrayRef<int64_t> kernel);

/// Sets the pads (for auto_pad SAME_* and VALID) and the output size of Conv
/// or pooling over an input of spatial size `inputSpatial`:
/// floor((in + pads - span) / stride) + 1, rounded up under `ceilMode`
/// unless the last window would start in the end padding.
llvm::Error resolveSlidingWindow(NodeImporter &imp, SlidingWindow &window,
                                 ArrayRef<int64_t> inputSpatial, bool ceilMode);

/// `input` with its trailing `low.size()` (spatial) dims spread out and
/// padded: element j of spatial dim i lands at low[i] + j * strides[i] of a
/// tensor of spatial size `size`, and every other element is `padValue`.
/// With unit strides this is a constant pad (`low` may be negative to crop).
/// Built as a gather (linalg.generic with tensor.extract) so that it lowers
/// to plain loops without memref.copy.
Value buildStridedPad(OpBuilder &b, Location loc, Value input,
                      ArrayRef<int64_t> low, ArrayRef<int64_t> strides,
                      ArrayRef<int64_t> size, TypedAttr padValue);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_IRBUILDERS_H
