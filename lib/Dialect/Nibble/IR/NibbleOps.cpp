//===- NibbleOps.cpp - nibble operations: verifiers and folders -----------===//

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/IR/QuantMath.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::nibble;

#define GET_OP_CLASSES
#include "nibble/Dialect/Nibble/IR/NibbleOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared verification
//===----------------------------------------------------------------------===//

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::interleave(
      shape, [&](int64_t d) { s += ShapedType::isDynamic(d) ? "?" : std::to_string(d); },
      [&] { s += ", "; });
  return s + "]";
}

/// Checks that `scale` and `zeroPoint` fit a quantized value of type
/// `quantizedType` (the integer side) under `scheme`.
static LogicalResult verifyQuantizedOperands(Operation *op, SchemeAttr scheme,
                                             RankedTensorType quantizedType,
                                             RankedTensorType scaleType,
                                             Value zeroPoint) {
  unsigned storageBits = quantizedType.getElementType().getIntOrFloatBitWidth();
  if (storageBits != scheme.getBits())
    return op->emitOpError() << "integer tensor has " << storageBits
                             << "-bit elements but the scheme has "
                             << scheme.getBits() << " bits";
  if (!scheme.isPerTensor() && scheme.getAxis() >= quantizedType.getRank())
    return op->emitOpError() << "scheme axis " << scheme.getAxis()
                             << " is out of range for a rank-"
                             << quantizedType.getRank() << " tensor";
  SmallVector<int64_t> expected = scheme.getScaleShape(quantizedType.getShape());
  if (scaleType.getShape() != ArrayRef<int64_t>(expected))
    return op->emitOpError()
           << "scale has shape " << shapeString(scaleType.getShape()) << " but a "
           << stringifyGranularity(scheme.getGranularity()) << " scheme on a "
           << shapeString(quantizedType.getShape()) << " tensor needs "
           << shapeString(expected);
  if (scaleType.getElementType() != scheme.getScaleType())
    return op->emitOpError() << "scale elements are " << scaleType.getElementType()
                             << " but the scheme says " << scheme.getScaleType();
  if (scheme.getHasZeroPoint() != static_cast<bool>(zeroPoint))
    return op->emitOpError() << (scheme.getHasZeroPoint()
                                     ? "scheme has a zero point but no zero_point operand is given"
                                     : "symmetric scheme takes no zero_point operand");
  if (zeroPoint) {
    auto zpType = cast<RankedTensorType>(zeroPoint.getType());
    if (zpType.getShape() != scaleType.getShape())
      return op->emitOpError() << "zero_point has shape "
                               << shapeString(zpType.getShape())
                               << " but scale has shape "
                               << shapeString(scaleType.getShape());
    if (zpType.getElementType() != quantizedType.getElementType())
      return op->emitOpError() << "zero_point elements are "
                               << zpType.getElementType()
                               << " but the quantized elements are "
                               << quantizedType.getElementType();
  }
  return success();
}

static LogicalResult verifySameShape(Operation *op, RankedTensorType a,
                                     RankedTensorType b) {
  if (a.getShape() != b.getShape())
    return op->emitOpError() << "result shape " << shapeString(b.getShape())
                             << " differs from input shape "
                             << shapeString(a.getShape());
  return success();
}

LogicalResult QuantizeOp::verify() {
  if (failed(verifySameShape(*this, getInput().getType(), getResult().getType())))
    return failure();
  return verifyQuantizedOperands(*this, getScheme(), getResult().getType(),
                                 getScale().getType(), getZeroPoint());
}

LogicalResult DequantizeOp::verify() {
  if (failed(verifySameShape(*this, getInput().getType(), getResult().getType())))
    return failure();
  return verifyQuantizedOperands(*this, getScheme(), getInput().getType(),
                                 getScale().getType(), getZeroPoint());
}

LogicalResult MatmulOp::verify() {
  RankedTensorType lhsType = getLhs().getType();
  RankedTensorType weightType = getWeight().getType();
  RankedTensorType resultType = getResult().getType();
  SchemeAttr scheme = getScheme();
  if (lhsType.getRank() < 2)
    return emitOpError() << "lhs must have rank 2 or more (..., M, K), got rank "
                         << lhsType.getRank();
  if (weightType.getRank() != 2)
    return emitOpError() << "weight must be a K x N matrix, got rank "
                         << weightType.getRank();
  int64_t k = lhsType.getShape().back();
  int64_t n = weightType.getDimSize(1);
  if (!ShapedType::isDynamic(k) && k != weightType.getDimSize(0))
    return emitOpError() << "lhs has K = " << k << " but the weight has K = "
                         << weightType.getDimSize(0);
  SmallVector<int64_t> expected(lhsType.getShape().drop_back());
  expected.push_back(n);
  if (resultType.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError() << "result shape " << shapeString(resultType.getShape())
                         << " should be " << shapeString(expected);
  if (resultType.getElementType() != lhsType.getElementType())
    return emitOpError() << "result element type " << resultType.getElementType()
                         << " differs from lhs element type "
                         << lhsType.getElementType();
  if (scheme.isPerChannel() && scheme.getAxis() != 1)
    return emitOpError() << "per_channel weights must have one scale per output "
                            "column (axis = 1), got axis = "
                         << scheme.getAxis();
  if (scheme.isPerGroup() && scheme.getAxis() != 0)
    return emitOpError() << "per_group weights must be grouped along K "
                            "(axis = 0), got axis = "
                         << scheme.getAxis();
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != n)
      return emitOpError() << "bias must have shape [" << n << "], got "
                           << shapeString(biasType.getShape());
    if (biasType.getElementType() != resultType.getElementType())
      return emitOpError() << "bias element type " << biasType.getElementType()
                           << " differs from result element type "
                           << resultType.getElementType();
  }
  return verifyQuantizedOperands(*this, scheme, weightType,
                                 getScale().getType(), getZeroPoint());
}

int64_t IntegerMatmulOp::getGroupRows() {
  std::optional<int64_t> groupSize = getGroupSize();
  return groupSize ? *groupSize : getLhs().getType().getDimSize(1);
}

bool IntegerMatmulOp::hasGroupScales() {
  return getLhsScale().getType().getRank() == 2 || getScale().getType().getRank() == 2;
}

LogicalResult IntegerMatmulOp::verify() {
  RankedTensorType lhsType = getLhs().getType();
  RankedTensorType weightType = getWeight().getType();
  if (lhsType.getRank() != 2 || weightType.getRank() != 2)
    return emitOpError() << "lhs (M x K) and weight (K x N) must be matrices, got ranks "
                         << lhsType.getRank() << " and " << weightType.getRank();
  int64_t m = lhsType.getDimSize(0), k = lhsType.getDimSize(1);
  int64_t n = weightType.getDimSize(1);
  if (k != weightType.getDimSize(0))
    return emitOpError() << "lhs has K = " << k << " but the weight has K = "
                         << weightType.getDimSize(0);
  std::optional<int64_t> groupSize = getGroupSize();
  if (groupSize && (*groupSize < 1 || ShapedType::isDynamic(k) || k % *groupSize != 0))
    return emitOpError() << "group_size must divide K = " << k << ", got "
                         << *groupSize;
  int64_t groups = groupSize ? k / *groupSize : 1;
  auto scaleShape = [](Value v) { return cast<RankedTensorType>(v.getType()).getShape(); };
  ArrayRef<int64_t> lhsScale = scaleShape(getLhsScale());
  bool lhsGrouped = groupSize && lhsScale == ArrayRef<int64_t>{m, groups};
  if (!lhsScale.empty() && lhsScale != ArrayRef<int64_t>{m} && !lhsGrouped)
    return emitOpError() << "lhs_scale must have shape [] (per tensor)"
                         << (groupSize ? ", [" : " or [") << m << "] (per row)"
                         << (groupSize ? " or " + shapeString({m, groups}) + " (per group)"
                                       : std::string())
                         << ", got " << shapeString(lhsScale);
  ArrayRef<int64_t> weightScale = scaleShape(getScale());
  bool weightGrouped = groupSize && weightScale == ArrayRef<int64_t>{groups, n};
  if (!weightScale.empty() && weightScale != ArrayRef<int64_t>{n} && !weightGrouped)
    return emitOpError() << "scale must have shape [] (per tensor)"
                         << (groupSize ? ", [" : " or [") << n << "] (per output column)"
                         << (groupSize ? " or " + shapeString({groups, n}) + " (per group)"
                                       : std::string())
                         << ", got " << shapeString(weightScale);
  if (Value zeroPoint = getZeroPoint()) {
    if (!weightType.getElementType().isInteger(4))
      return emitOpError() << "zero_point needs an int4 weight";
    if (scaleShape(zeroPoint) != weightScale)
      return emitOpError() << "zero_point must have the shape of scale, "
                           << shapeString(weightScale) << ", got "
                           << shapeString(scaleShape(zeroPoint));
  }
  if (Value bias = getBias())
    if (scaleShape(bias) != ArrayRef<int64_t>{n})
      return emitOpError() << "bias must have shape [" << n << "], got "
                           << shapeString(scaleShape(bias));
  if (getResult().getType().getShape() != ArrayRef<int64_t>{m, n})
    return emitOpError() << "result shape " << shapeString(getResult().getType().getShape())
                         << " should be " << shapeString({m, n});
  return success();
}

//===----------------------------------------------------------------------===//
// Folding
//===----------------------------------------------------------------------===//

namespace {
/// Maps each element of a value to its scale (and zero point) under a scheme.
class ScaleIndexer {
public:
  ScaleIndexer(SchemeAttr scheme, ArrayRef<int64_t> valueShape)
      : scheme(scheme), shape(valueShape) {
    if (scheme.isPerTensor())
      return;
    scaleShape = scheme.getScaleShape(valueShape);
    int64_t axis = scheme.getAxis();
    innerSize = 1;
    for (size_t d = axis + 1; d < shape.size(); ++d)
      innerSize *= shape[d];
  }

  /// The linear scale index of the value's element at `linear`.
  int64_t operator()(int64_t linear) const {
    if (scheme.isPerTensor())
      return 0;
    int64_t axis = scheme.getAxis();
    int64_t axisIndex = (linear / innerSize) % shape[axis];
    if (scheme.isPerChannel())
      return axisIndex;
    // per_group: same multi-index with the axis coordinate divided by G.
    int64_t outer = linear / (innerSize * shape[axis]);
    int64_t inner = linear % innerSize;
    int64_t groupIndex = axisIndex / scheme.getGroupSize();
    return (outer * scaleShape[axis] + groupIndex) * innerSize + inner;
  }

private:
  SchemeAttr scheme;
  ArrayRef<int64_t> shape;
  SmallVector<int64_t> scaleShape;
  int64_t innerSize = 1;
};
} // namespace

/// Reads the scale and zero point of a fold; false if either is not constant.
static bool readScaleAndZeroPoint(SchemeAttr scheme, Attribute scaleAttr,
                                  Attribute zeroPointAttr, Value zeroPoint,
                                  SmallVector<float> &scales,
                                  SmallVector<int64_t> &zeroPoints) {
  std::optional<SmallVector<float>> s = readFloatElements(scaleAttr);
  if (!s)
    return false;
  scales = std::move(*s);
  if (!zeroPoint) {
    zeroPoints.assign(scales.size(), 0);
    return true;
  }
  std::optional<SmallVector<int64_t>> z =
      readIntElements(zeroPointAttr, scheme.getIsSigned());
  if (!z)
    return false;
  zeroPoints = std::move(*z);
  return true;
}

OpFoldResult QuantizeOp::fold(FoldAdaptor adaptor) {
  SchemeAttr scheme = getScheme();
  // The fold computes in f32, as the lowering does for f32 inputs only.
  if (!getInput().getType().getElementType().isF32())
    return {};
  std::optional<SmallVector<float>> input = readFloatElements(adaptor.getInput());
  SmallVector<float> scales;
  SmallVector<int64_t> zeroPoints;
  if (!input || !readScaleAndZeroPoint(scheme, adaptor.getScale(),
                                       adaptor.getZeroPoint(), getZeroPoint(),
                                       scales, zeroPoints))
    return {};
  RankedTensorType type = getResult().getType();
  ScaleIndexer scaleIndex(scheme, type.getShape());
  SmallVector<int64_t> values(input->size());
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t s = scaleIndex(i);
    values[i] = quantizeScalar((*input)[i], scales[s], zeroPoints[s],
                               scheme.getQMin(), scheme.getQMax());
  }
  return makeIntConstant(type, values, "quantized");
}

OpFoldResult DequantizeOp::fold(FoldAdaptor adaptor) {
  SchemeAttr scheme = getScheme();
  RankedTensorType type = getResult().getType();
  if (!type.getElementType().isF32())
    return {};
  std::optional<SmallVector<int64_t>> input =
      readIntElements(adaptor.getInput(), scheme.getIsSigned());
  SmallVector<float> scales;
  SmallVector<int64_t> zeroPoints;
  if (!input || !readScaleAndZeroPoint(scheme, adaptor.getScale(),
                                       adaptor.getZeroPoint(), getZeroPoint(),
                                       scales, zeroPoints))
    return {};
  ScaleIndexer scaleIndex(scheme, type.getShape());
  SmallVector<float> values(input->size());
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t s = scaleIndex(i);
    values[i] = dequantizeScalar((*input)[i], scales[s], zeroPoints[s]);
  }
  return makeFloatConstant(type, values, "dequantized");
}
