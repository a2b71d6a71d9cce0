//===- IRBuilders.cpp - small IR builders for the ONNX importer -----------===//

#include "IRBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

std::optional<SmallVector<int64_t>>
mlir::nibble::onnx_import::broadcastShapes(ArrayRef<ArrayRef<int64_t>> shapes) {
  size_t rank = 0;
  for (ArrayRef<int64_t> s : shapes)
    rank = std::max(rank, s.size());
  SmallVector<int64_t> result(rank, 1);
  for (ArrayRef<int64_t> s : shapes) {
    size_t offset = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t &r = result[offset + i];
      if (s[i] == r || s[i] == 1)
        continue;
      if (r != 1)
        return std::nullopt;
      r = s[i];
    }
  }
  return result;
}

std::pair<Value, AffineMap>
mlir::nibble::onnx_import::dropBroadcastDims(OpBuilder &b, Location loc,
                                             Value input,
                                             ArrayRef<int64_t> outShape) {
  ArrayRef<int64_t> shape = tensorTypeOf(input).getShape();
  size_t offset = outShape.size() - shape.size();
  SmallVector<int64_t> kept;
  SmallVector<AffineExpr> exprs;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1 && outShape[offset + i] != 1)
      continue;
    kept.push_back(shape[i]);
    exprs.push_back(b.getAffineDimExpr(offset + i));
  }
  AffineMap map = AffineMap::get(outShape.size(), 0, exprs, b.getContext());
  if (kept.size() == shape.size())
    return {input, map};
  return {buildReshape(b, loc, input, kept), map};
}

Value mlir::nibble::onnx_import::buildElementwise(OpBuilder &b, Location loc,
                                                  ArrayRef<Value> inputs,
                                                  Type resultElementType,
                                                  const ScalarBody &body) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (Value v : inputs)
    shapes.push_back(tensorTypeOf(v).getShape());
  std::optional<SmallVector<int64_t>> outShape = broadcastShapes(shapes);
  if (!outShape)
    return {};
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  for (Value v : inputs) {
    auto [operand, map] = dropBroadcastDims(b, loc, v, *outShape);
    operands.push_back(operand);
    maps.push_back(map);
  }
  maps.push_back(b.getMultiDimIdentityMap(outShape->size()));
  Value init = tensor::EmptyOp::create(b, loc, *outShape, resultElementType);
  SmallVector<utils::IteratorType> iterators(outShape->size(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), operands, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, body(nb, nl, args.drop_back()));
      });
  return generic.getResult(0);
}

Value mlir::nibble::onnx_import::buildReduction(OpBuilder &b, Location loc,
                                                Value input, int64_t axis,
                                                TypedAttr init,
                                                const ScalarBody &combine) {
  RankedTensorType type = tensorTypeOf(input);
  SmallVector<int64_t> outShape;
  SmallVector<AffineExpr> outExprs;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (i == axis)
      continue;
    outShape.push_back(type.getDimSize(i));
    outExprs.push_back(b.getAffineDimExpr(i));
  }
  Value initValue = arith::ConstantOp::create(b, loc, init);
  Value empty = tensor::EmptyOp::create(b, loc, outShape, type.getElementType());
  Value filled = linalg::FillOp::create(b, loc, initValue, empty).getResult(0);
  SmallVector<AffineMap> maps{
      b.getMultiDimIdentityMap(type.getRank()),
      AffineMap::get(type.getRank(), 0, outExprs, b.getContext())};
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  iterators[axis] = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, filled.getType(), ValueRange{input}, ValueRange{filled}, maps,
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        // combine(acc, x)
        linalg::YieldOp::create(nb, nl, combine(nb, nl, {args[1], args[0]}));
      });
  return generic.getResult(0);
}

Value mlir::nibble::onnx_import::buildReshape(OpBuilder &b, Location loc,
                                              Value input,
                                              ArrayRef<int64_t> shape) {
  RankedTensorType type = tensorTypeOf(input);
  if (type.getShape() == shape)
    return input;
  // Through a rank-1 tensor: both steps are pure reassociations, which
  // bufferize to views, and work for any pair of static shapes.
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  if (type.getRank() == 0) // all target dims are 1
    return tensor::ExpandShapeOp::create(b, loc, resultType, input,
                                         ArrayRef<ReassociationIndices>{});
  int64_t numElements = type.getNumElements();
  auto flatType = RankedTensorType::get({numElements}, type.getElementType());
  Value flat = input;
  if (type.getRank() != 1) {
    SmallVector<ReassociationIndices> all;
    if (type.getRank() > 0) {
      all.emplace_back();
      for (int64_t i = 0; i < type.getRank(); ++i)
        all.back().push_back(i);
    }
    flat = tensor::CollapseShapeOp::create(b, loc, flatType, input, all);
  }
  if (shape.size() == 1)
    return flat;
  SmallVector<ReassociationIndices> all;
  if (!shape.empty()) {
    all.emplace_back();
    for (size_t i = 0; i < shape.size(); ++i)
      all.back().push_back(i);
  }
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, loc, resultType, flat, all);
  return tensor::ExpandShapeOp::create(b, loc, resultType, flat, all);
}

Value mlir::nibble::onnx_import::buildTranspose(OpBuilder &b, Location loc,
                                                Value input,
                                                ArrayRef<int64_t> perm) {
  RankedTensorType type = tensorTypeOf(input);
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(b, loc, input, init, perm).getResult()[0];
}

Value mlir::nibble::onnx_import::buildF32Constant(OpBuilder &b, Location loc,
                                                  float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value mlir::nibble::onnx_import::buildZeroFilled(OpBuilder &b, Location loc,
                                                 ArrayRef<int64_t> shape,
                                                 Type elementType) {
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elementType));
  Value empty = tensor::EmptyOp::create(b, loc, shape, elementType);
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}
