//===- IRBuilders.cpp - small IR builders for the ONNX importer -----------===//

#include "IRBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

//===----------------------------------------------------------------------===//
// Sliding windows (Conv, ConvTranspose, pooling)
//===----------------------------------------------------------------------===//

#include "ImportContext.h"

llvm::Expected<SlidingWindow>
mlir::nibble::onnx_import::readSlidingWindow(NodeImporter &imp,
                                             ArrayRef<int64_t> kernel) {
  size_t rank = kernel.size();
  SlidingWindow window;
  window.kernel.assign(kernel.begin(), kernel.end());
  for (int64_t k : kernel)
    if (k <= 0)
      return imp.fail("kernel_shape entries must be positive");
  auto readPerDim = [&](llvm::StringRef name, SmallVector<int64_t> &out,
                        int64_t minValue) -> llvm::Error {
    out.assign(rank, 1);
    std::optional<SmallVector<int64_t>> given = imp.intsAttr(name);
    if (!given || given->empty())
      return llvm::Error::success();
    if (given->size() != rank)
      return imp.fail(name + " has " + llvm::Twine(given->size()) +
                      " entries for " + llvm::Twine(rank) + " spatial dims");
    for (int64_t v : *given)
      if (v < minValue)
        return imp.fail(name + " entries must be >= " + llvm::Twine(minValue));
    out = *given;
    return llvm::Error::success();
  };
  if (llvm::Error e = readPerDim("strides", window.strides, 1))
    return std::move(e);
  if (llvm::Error e = readPerDim("dilations", window.dilations, 1))
    return std::move(e);
  window.padBegin.assign(rank, 0);
  window.padEnd.assign(rank, 0);
  if (std::optional<SmallVector<int64_t>> pads = imp.intsAttr("pads");
      pads && !pads->empty()) {
    if (pads->size() != 2 * rank)
      return imp.fail("pads has " + llvm::Twine(pads->size()) + " entries for " +
                      llvm::Twine(rank) + " spatial dims (expected " +
                      llvm::Twine(2 * rank) + ")");
    for (size_t i = 0; i < rank; ++i) {
      window.padBegin[i] = (*pads)[i];
      window.padEnd[i] = (*pads)[rank + i];
    }
  }
  window.autoPad = imp.stringAttr("auto_pad").value_or("NOTSET");
  if (window.autoPad != "NOTSET" && window.autoPad != "SAME_UPPER" &&
      window.autoPad != "SAME_LOWER" && window.autoPad != "VALID")
    return imp.fail("auto_pad '" + window.autoPad +
                    "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  return window;
}

llvm::Error mlir::nibble::onnx_import::resolveSlidingWindow(
    NodeImporter &imp, SlidingWindow &window, ArrayRef<int64_t> inputSpatial,
    bool ceilMode) {
  window.outSize.clear();
  for (size_t i = 0; i < inputSpatial.size(); ++i) {
    int64_t in = inputSpatial[i], stride = window.strides[i];
    int64_t span = window.span(i);
    int64_t &begin = window.padBegin[i], &end = window.padEnd[i];
    int64_t out;
    if (window.autoPad == "SAME_UPPER" || window.autoPad == "SAME_LOWER") {
      out = (in + stride - 1) / stride;
      int64_t total = (out - 1) * stride + span - in;
      if (!window.negativeSamePads)
        total = std::max<int64_t>(0, total);
      // SAME_UPPER puts the odd element at the end, SAME_LOWER at the start
      // (rounding toward zero when negative, as ONNX Runtime does).
      begin = window.autoPad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      end = total - begin;
    } else {
      if (window.autoPad == "VALID")
        begin = end = 0;
      if (begin < 0 || end < 0)
        return imp.fail("negative pads are not supported");
      int64_t room = in + begin + end - span;
      if (room < 0)
        return imp.fail("the window (" + llvm::Twine(span) +
                        ") is larger than the padded input (" +
                        llvm::Twine(in + begin + end) + ") in spatial dim " +
                        llvm::Twine(i));
      out = room / stride + 1;
      if (ceilMode && room % stride != 0) {
        ++out;
        // The last window must start inside the input or its begin padding.
        if ((out - 1) * stride >= in + begin)
          --out;
      }
    }
    window.outSize.push_back(out);
  }
  return llvm::Error::success();
}

Value mlir::nibble::onnx_import::buildStridedPad(
    OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> low,
    ArrayRef<int64_t> strides, ArrayRef<int64_t> size, TypedAttr padValue) {
  RankedTensorType type = tensorTypeOf(input);
  size_t leading = type.getRank() - low.size();
  SmallVector<int64_t> shape(type.getShape().take_front(leading));
  shape.append(size.begin(), size.end());
  if (ArrayRef<int64_t>(shape) == type.getShape() &&
      llvm::all_of(low, [](int64_t v) { return v == 0; }))
    return input;
  Value empty = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  SmallVector<utils::IteratorType> iterators(shape.size(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, empty.getType(), ValueRange{}, ValueRange{empty},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(shape.size())}, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange) {
        auto indexConstant = [&](int64_t v) -> Value {
          return arith::ConstantIndexOp::create(nb, nl, v);
        };
        SmallVector<Value> sourceIndices;
        Value valid;
        for (size_t d = 0; d < shape.size(); ++d) {
          Value index = linalg::IndexOp::create(nb, nl, d);
          if (d < leading) {
            sourceIndices.push_back(index);
            continue;
          }
          size_t i = d - leading;
          int64_t stride = strides[i], in = type.getDimSize(d);
          if (stride == 1 && low[i] <= 0 && size[i] - low[i] <= in) {
            // Every position reads the input: a plain (possibly cropping)
            // shift.
            sourceIndices.push_back(
                low[i] == 0 ? index
                            : arith::AddIOp::create(nb, nl, index,
                                                    indexConstant(-low[i]))
                                  .getResult());
            continue;
          }
          // rel = index - low must be a multiple of the stride in
          // [0, (in - 1) * stride].
          Value rel = arith::SubIOp::create(nb, nl, index, indexConstant(low[i]));
          Value zero = indexConstant(0), maxRel = indexConstant((in - 1) * stride);
          Value inRange = arith::AndIOp::create(
              nb, nl,
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, rel, zero),
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sle, rel, maxRel));
          Value clamped = arith::MinSIOp::create(
              nb, nl, arith::MaxSIOp::create(nb, nl, rel, zero), maxRel);
          if (stride != 1) {
            Value strideValue = indexConstant(stride);
            Value onGrid = arith::CmpIOp::create(
                nb, nl, arith::CmpIPredicate::eq,
                arith::RemUIOp::create(nb, nl, clamped, strideValue), zero);
            inRange = arith::AndIOp::create(nb, nl, inRange, onGrid);
            clamped = arith::DivUIOp::create(nb, nl, clamped, strideValue);
          }
          sourceIndices.push_back(clamped);
          valid = valid ? arith::AndIOp::create(nb, nl, valid, inRange) : inRange;
        }
        Value element = tensor::ExtractOp::create(nb, nl, input, sourceIndices);
        if (valid)
          element = arith::SelectOp::create(
              nb, nl, valid, element, arith::ConstantOp::create(nb, nl, padValue));
        linalg::YieldOp::create(nb, nl, element);
      });
  return generic.getResult(0);
}

Value mlir::nibble::onnx_import::convertFloatScalar(OpBuilder &b, Location loc, Value x,
                                                   Type to) {
  Type from = x.getType();
  if (from == to)
    return x;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, x);
  return arith::TruncFOp::create(b, loc, to, x);
}

Value mlir::nibble::onnx_import::buildFloatConversion(OpBuilder &b, Location loc, Value x,
                                                     Type to) {
  if (tensorTypeOf(x).getElementType() == to)
    return x;
  return buildElementwise(b, loc, {x}, to,
                          [&](OpBuilder &nb, Location nl, ValueRange args) {
                            return convertFloatScalar(nb, nl, args[0], to);
                          });
}

SmallVector<OpFoldResult>
mlir::nibble::onnx_import::indexAttrs(OpBuilder &b, ArrayRef<int64_t> values) {
  return llvm::map_to_vector(
      values, [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); });
}

Value mlir::nibble::onnx_import::buildInsert(OpBuilder &b, Location loc,
                                             Value part, Value dest,
                                             ArrayRef<int64_t> offsets) {
  RankedTensorType type = tensorTypeOf(part);
  SmallVector<int64_t> ones(type.getRank(), 1);
  return tensor::InsertSliceOp::create(b, loc, part, dest, indexAttrs(b, offsets),
                                       indexAttrs(b, type.getShape()),
                                       indexAttrs(b, ones));
}

/// Softmax along `axis` of `x`: exp(x - max) / sum(exp(x - max)); with
/// `logarithm`, LogSoftmax: x - max - log(sum(exp(x - max))).
Value mlir::nibble::onnx_import::buildSoftmax(OpBuilder &b, Location loc, Value x,
                                            int64_t axis, bool logarithm) {
  RankedTensorType type = tensorTypeOf(x);
  Type elementType = type.getElementType();
  // float16/bfloat16 compute in float32 and round once, as onnxruntime
  // does (a float16 sum of the exponentials loses ~log2(n) bits).
  if (elementType.getIntOrFloatBitWidth() < 32) {
    Value wide = buildFloatConversion(b, loc, x, b.getF32Type());
    return buildFloatConversion(b, loc, buildSoftmax(b, loc, wide, axis, logarithm),
                                elementType);
  }
  Value max = buildReduction(
      b, loc, x, axis,
      b.getFloatAttr(elementType, -std::numeric_limits<double>::infinity()),
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return arith::MaximumFOp::create(nb, nl, args[0], args[1]);
      });
  // Re-insert the reduced axis as size 1 so it broadcasts back.
  SmallVector<int64_t> keptShape(type.getShape());
  keptShape[axis] = 1;
  Value maxKept = buildReshape(b, loc, max, keptShape);
  Value exps = buildElementwise(
      b, loc, {x, maxKept}, elementType,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return math::ExpOp::create(nb, nl,
                                   arith::SubFOp::create(nb, nl, args[0], args[1]));
      });
  Value sum = buildReduction(b, loc, exps, axis, b.getFloatAttr(elementType, 0.0),
                             [](OpBuilder &nb, Location nl, ValueRange args) {
                               return arith::AddFOp::create(nb, nl, args[0], args[1]);
                             });
  Value sumKept = buildReshape(b, loc, sum, keptShape);
  if (logarithm)
    return buildElementwise(
        b, loc, {x, maxKept, sumKept}, elementType,
        [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value shifted = arith::SubFOp::create(nb, nl, args[0], args[1]);
          return arith::SubFOp::create(nb, nl, shifted,
                                       math::LogOp::create(nb, nl, args[2]));
        });
  return buildElementwise(b, loc, {exps, sumKept}, elementType,
                          [](OpBuilder &nb, Location nl, ValueRange args) {
                            return arith::DivFOp::create(nb, nl, args[0], args[1]);
                          });
}
