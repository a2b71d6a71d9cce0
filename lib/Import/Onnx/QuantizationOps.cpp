//===- QuantizationOps.cpp - ONNX quantized ops -> nibble ops -------------===//
//
// QuantizeLinear / DequantizeLinear (per tensor, per axis, and opset 21
// blocked, with int8/uint8/int4/uint4 storage) map onto nibble.quantize /
// nibble.dequantize. com.microsoft MatMulNBits is unpacked at import time
// into a K x N int4/int8 weight plus [K/block, N] scales feeding
// dequantize + matmul, which the fuse phase turns into nibble.matmul; with
// accuracy_level 4 (int8 activations allowed), int4 weights (with or
// without zero points) become W4A8 (nibble.integer_matmul on activations
// quantized per row and block at run time). MatMulInteger is exact integer arithmetic.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "NarrowTypes.h"
#include "ImportContext.h"
#include "MatmulBuilders.h"
#include "QuantBuilders.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Transforms/ActivationQuantization.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/Int8DotProduct.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/WeightQuantizer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

/// Bits and signedness of an ONNX quantized storage type.
static std::optional<std::pair<unsigned, bool>> storageOf(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::INT8: return std::make_pair(8u, true);
  case onnx::TensorProto::UINT8: return std::make_pair(8u, false);
  case onnx::TensorProto::INT16: return std::make_pair(16u, true);
  case onnx::TensorProto::UINT16: return std::make_pair(16u, false);
  case static_cast<int32_t>(OnnxDType::Int4): return std::make_pair(4u, true);
  case static_cast<int32_t>(OnnxDType::UInt4): return std::make_pair(4u, false);
  case static_cast<int32_t>(OnnxDType::Int2): return std::make_pair(2u, true);
  case static_cast<int32_t>(OnnxDType::UInt2): return std::make_pair(2u, false);
  default: return std::nullopt;
  }
}

namespace {
/// The scheme of a QuantizeLinear/DequantizeLinear and its scale and zero
/// point in the shapes nibble ops expect.
struct LinearQuantization {
  SchemeAttr scheme;
  Value scale;
  Value zeroPoint;
};
} // namespace

/// Works out the scheme of a (De)QuantizeLinear from its operand shapes and
/// attributes (ONNX infers granularity from the scale's rank).
static llvm::Expected<LinearQuantization>
resolveLinearQuantization(NodeImporter &imp, ArrayRef<int64_t> valueShape,
                          int32_t storageType) {
  std::optional<std::pair<unsigned, bool>> storage = storageOf(storageType);
  if (!storage)
    return imp.fail("quantized type " + onnxTypeName(storageType) +
                    " is not supported (use (u)int16, (u)int8, (u)int4, (u)int2, float8 "
                    "or float4e2m1)");
  llvm::Expected<OnnxValue> scale = imp.input(1);
  if (!scale)
    return scale.takeError();
  auto scaleType = dyn_cast<FloatType>(tensorTypeOf(scale->value).getElementType());
  if (!scaleType || !(scaleType.isF32() || scaleType.isF16() || scaleType.isBF16()))
    return imp.fail("scale must be float32, float16 or bfloat16");
  Value zeroPoint;
  if (imp.hasInput(2)) {
    llvm::Expected<OnnxValue> zp = imp.input(2);
    if (!zp)
      return zp.takeError();
    if (zp->onnxType != storageType)
      return imp.fail("zero point is " + onnxTypeName(zp->onnxType) +
                      " but the quantized tensor is " + onnxTypeName(storageType));
    zeroPoint = zp->value;
  }

  int64_t rank = valueShape.size();
  ArrayRef<int64_t> scaleShape = tensorTypeOf(scale->value).getShape();
  int64_t blockSize = imp.opset() >= 21 ? imp.intAttr("block_size").value_or(0) : 0;
  int64_t axis = imp.intAttr("axis").value_or(1);
  if (axis < 0)
    axis += rank;
  int64_t scaleCount = tensorTypeOf(scale->value).getNumElements();
  OpBuilder &b = imp.builder();
  MLIRContext *ctx = imp.context();
  Granularity granularity;
  int64_t groupSize = 0;
  if (blockSize > 0) {
    if (axis < 0 || axis >= rank)
      return imp.fail("axis is out of range for a rank-" + llvm::Twine(rank) + " input");
    granularity = Granularity::PerGroup;
    groupSize = blockSize;
  } else if (scaleShape.empty() || (scaleShape.size() == 1 && scaleCount == 1 &&
                                    (rank == 0 || axis >= rank || valueShape[axis] != 1))) {
    granularity = Granularity::PerTensor;
    axis = 0;
  } else if (scaleShape.size() == 1) {
    if (axis < 0 || axis >= rank)
      return imp.fail("axis is out of range for a rank-" + llvm::Twine(rank) + " input");
    granularity = Granularity::PerChannel;
  } else {
    return imp.fail("scale of rank " + llvm::Twine(scaleShape.size()) +
                    " needs block_size (opset 21) to be blocked");
  }
  if (blockSize == 1)
    return imp.fail("block_size 1 is not supported; use per-axis quantization");
  auto scheme = SchemeAttr::getChecked(
      [&] { return emitError(imp.loc()); }, ctx, storage->first, storage->second,
      granularity, axis, groupSize, static_cast<bool>(zeroPoint), scaleType);
  if (!scheme)
    return imp.fail("unsupported quantization parameters");
  Value scaleValue = scale->value;
  if (granularity == Granularity::PerTensor) {
    scaleValue = buildReshape(b, imp.loc(), scaleValue, {});
    if (zeroPoint)
      zeroPoint = buildReshape(b, imp.loc(), zeroPoint, {});
  }
  SmallVector<int64_t> expected = scheme.getScaleShape(valueShape);
  if (tensorTypeOf(scaleValue).getShape() != ArrayRef<int64_t>(expected))
    return imp.fail("scale shape does not match the input for this axis/block_size");
  if (zeroPoint && tensorTypeOf(zeroPoint).getShape() != ArrayRef<int64_t>(expected))
    return imp.fail("zero point shape differs from the scale shape");
  return LinearQuantization{scheme, scaleValue, zeroPoint};
}

/// The scale (input 1) and optional zero point (input 2) of a Q/DQ node
/// computed with plain arithmetic, shaped to broadcast against a rank-`rank`
/// value: scalars, or [1, .., C, .., 1] along `axis` for per-axis ones.
static llvm::Expected<std::pair<Value, Value>> broadcastableScaleAndZeroPoint(NodeImporter &imp,
                                                                              int64_t rank) {
  llvm::Expected<OnnxValue> scale = imp.input(1);
  if (!scale)
    return scale.takeError();
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value scaleValue = scale->value;
  Value zp;
  if (imp.hasInput(2)) {
    llvm::Expected<OnnxValue> zpInput = imp.input(2);
    if (!zpInput)
      return zpInput.takeError();
    zp = zpInput->value;
  }
  if (tensorTypeOf(scaleValue).getRank() > 1 ||
      (imp.opset() >= 21 && imp.intAttr("block_size").value_or(0) > 0))
    return imp.fail("blocked scales are supported for integer types only");
  SmallVector<int64_t> shape;
  if (tensorTypeOf(scaleValue).getNumElements() != 1) {
    llvm::Expected<int64_t> axis = resolveAxis(imp, imp.intAttr("axis").value_or(1), rank);
    if (!axis)
      return axis.takeError();
    shape.assign(rank, 1);
    shape[*axis] = tensorTypeOf(scaleValue).getNumElements();
  }
  scaleValue = buildReshape(b, loc, scaleValue, shape);
  if (zp)
    zp = buildReshape(b, loc, zp, shape);
  return std::make_pair(scaleValue, zp);
}

/// QuantizeLinear to a float8 or float4e2m1 type: x / scale (+ the zero
/// point, for float4e2m1 as the reference) rounded like Cast, saturating by
/// default.
static llvm::Error quantizeToNarrowFloat(NodeImporter &imp, OnnxValue x, int32_t storageType) {
  llvm::Expected<std::pair<Value, Value>> params =
      broadcastableScaleAndZeroPoint(imp, tensorTypeOf(x.value).getRank());
  if (!params)
    return params.takeError();
  auto [scale, zp] = *params;
  auto to = cast<FloatType>(getElementType(imp.context(), storageType));
  bool saturate = imp.intAttr("saturate").value_or(1) != 0;
  bool addsZeroPoint = zp && isa<Float4E2M1FNType>(to);
  SmallVector<Value> operands{x.value, scale};
  if (addsZeroPoint)
    operands.push_back(zp);
  Value result = buildElementwise(
      imp.builder(), imp.loc(), operands, to,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Type f32 = nb.getF32Type();
        auto toF32 = [&](Value v) -> Value {
          if (isNarrowFloat(v.getType()))
            return widenNarrowFloat(nb, nl, v);
          return convertFloatScalar(nb, nl, v, f32);
        };
        Value scaled = arith::DivFOp::create(nb, nl, toF32(args[0]), toF32(args[1]));
        if (addsZeroPoint)
          scaled = arith::AddFOp::create(nb, nl, scaled, toF32(args[2]));
        return narrowFloat(nb, nl, scaled, to, saturate);
      });
  if (!result)
    return imp.fail("scale does not broadcast against the input");
  imp.setOutput(0, result, storageType);
  return llvm::Error::success();
}

/// DequantizeLinear of a float8 or float4e2m1 tensor: (x - zp) * scale in
/// float32, returned in the scale's type.
static llvm::Error dequantizeNarrowFloat(NodeImporter &imp, OnnxValue x) {
  llvm::Expected<std::pair<Value, Value>> params =
      broadcastableScaleAndZeroPoint(imp, tensorTypeOf(x.value).getRank());
  if (!params)
    return params.takeError();
  auto [scale, zp] = *params;
  llvm::Expected<OnnxValue> scaleInput = imp.input(1);
  if (!scaleInput)
    return scaleInput.takeError();
  Type resultType = tensorTypeOf(scale).getElementType();
  SmallVector<Value> operands{x.value, scale};
  if (zp)
    operands.push_back(zp);
  Value result = buildElementwise(
      imp.builder(), imp.loc(), operands, resultType,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Type f32 = nb.getF32Type();
        Value value = widenNarrowFloat(nb, nl, args[0]);
        if (args.size() > 2)
          value = arith::SubFOp::create(nb, nl, value, widenNarrowFloat(nb, nl, args[2]));
        Value product =
            arith::MulFOp::create(nb, nl, value, convertFloatScalar(nb, nl, args[1], f32));
        return convertFloatScalar(nb, nl, product, resultType);
      });
  if (!result)
    return imp.fail("scale does not broadcast against the input");
  imp.setOutput(0, result, scaleInput->onnxType);
  return llvm::Error::success();
}

static llvm::Error convertQuantizeLinear(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  if (!isa<FloatType>(tensorTypeOf(x->value).getElementType()))
    return imp.fail("input must be float");
  // The output type comes from the zero point, else output_dtype (opset
  // 21), else uint8.
  int32_t storageType = onnx::TensorProto::UINT8;
  if (imp.hasInput(2)) {
    llvm::Expected<OnnxValue> zp = imp.input(2);
    if (!zp)
      return zp.takeError();
    storageType = zp->onnxType;
  } else if (std::optional<int64_t> dtype = imp.intAttr("output_dtype");
             dtype && *dtype != 0) {
    storageType = static_cast<int32_t>(*dtype);
  }
  if (isNarrowFloat(getElementType(imp.context(), storageType)))
    return quantizeToNarrowFloat(imp, *x, storageType);
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  llvm::Expected<LinearQuantization> q = resolveLinearQuantization(imp, shape, storageType);
  if (!q)
    return q.takeError();
  auto resultType = RankedTensorType::get(shape, q->scheme.getStorageType());
  Value result = QuantizeOp::create(imp.builder(), imp.loc(), resultType, x->value,
                                    q->scale, q->zeroPoint, q->scheme);
  imp.setOutput(0, result, storageType);
  return llvm::Error::success();
}

/// DequantizeLinear of int32 (QDQ bias): plain arithmetic, no scheme.
static llvm::Error dequantizeInt32(NodeImporter &imp, OnnxValue x) {
  llvm::Expected<std::pair<Value, Value>> params =
      broadcastableScaleAndZeroPoint(imp, tensorTypeOf(x.value).getRank());
  if (!params)
    return params.takeError();
  auto [scaleValue, zp] = *params;
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  SmallVector<Value> operands{x.value, scaleValue};
  if (zp)
    operands.push_back(zp);
  Type f32 = b.getF32Type();
  Value result = buildElementwise(b, loc, operands, f32,
                                  [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                                    Value q = args[0];
                                    if (args.size() > 2)
                                      q = arith::SubIOp::create(nb, nl, q, args[2]);
                                    Value f = arith::SIToFPOp::create(nb, nl, f32, q);
                                    return arith::MulFOp::create(nb, nl, f, args[1]);
                                  });
  if (!result)
    return imp.fail("scale does not broadcast against the input");
  imp.setOutput(0, result, onnx::TensorProto::FLOAT);
  return llvm::Error::success();
}

static llvm::Error convertDequantizeLinear(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  if (x->onnxType == onnx::TensorProto::INT32)
    return dequantizeInt32(imp, *x);
  if (isNarrowFloat(tensorTypeOf(x->value).getElementType()))
    return dequantizeNarrowFloat(imp, *x);
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  llvm::Expected<LinearQuantization> q = resolveLinearQuantization(imp, shape, x->onnxType);
  if (!q)
    return q.takeError();
  auto resultType = RankedTensorType::get(shape, q->scheme.getScaleType());
  Value result = DequantizeOp::create(imp.builder(), imp.loc(), resultType, x->value,
                                      q->scale, q->zeroPoint, q->scheme);
  imp.setOutput(0, result, onnx::TensorProto::FLOAT);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// MatMulInteger
//===----------------------------------------------------------------------===//

/// A zero point or scale of an integer matmul operand: a scalar (rank 0 after
/// reshaping) or, where `columns` > 0, one per output column.
static llvm::Expected<Value> perTensorOrColumn(NodeImporter &imp, int index,
                                               int64_t columns, llvm::StringRef what) {
  if (!imp.hasInput(index))
    return Value();
  llvm::Expected<OnnxValue> v = imp.input(index);
  if (!v)
    return v.takeError();
  int64_t count = tensorTypeOf(v->value).getNumElements();
  if (count == 1)
    return buildReshape(imp.builder(), imp.loc(), v->value, {});
  if (columns > 0 && count == columns)
    return buildReshape(imp.builder(), imp.loc(), v->value, {columns});
  return imp.fail(what + " must be a scalar" + (columns > 0 ? " or one per column" : ""));
}

namespace {
/// The operands of an exact integer matmul `(A - a_zp) x (B - b_zp)`.
struct IntegerMatmulOperands {
  OnnxValue a, b;
  Value aZeroPoint, bZeroPoint; // rank 0, or [N] for B
};
} // namespace

/// init[m, n] + factor[n] * sum_k (a[m, k] - a_zp), the sum exact in i32.
static Value addRowSumTerm(OpBuilder &b, Location loc, Value a, bool aUnsigned,
                           Value aZeroPoint, Value init, ElementsAttr factor) {
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type();
  auto aShape = tensorTypeOf(a).getShape();
  auto ext = [&](OpBuilder &nb, Location nl, Value v) -> Value {
    return aUnsigned ? arith::ExtUIOp::create(nb, nl, i32, v).getResult()
                     : arith::ExtSIOp::create(nb, nl, i32, v).getResult();
  };
  // Row sums: loops (m, k).
  AffineExpr m = b.getAffineDimExpr(0), kk = b.getAffineDimExpr(1);
  SmallVector<Value> inputs{a};
  SmallVector<AffineMap> maps{AffineMap::get(2, 0, {m, kk}, ctx)};
  if (aZeroPoint) {
    inputs.push_back(aZeroPoint);
    maps.push_back(AffineMap::get(2, 0, {}, ctx));
  }
  maps.push_back(AffineMap::get(2, 0, {m}, ctx));
  Value sumsInit = buildZeroFilled(b, loc, {aShape[0]}, i32);
  Value rowSums =
      linalg::GenericOp::create(
          b, loc, sumsInit.getType(), inputs, ValueRange{sumsInit}, maps,
          {utils::IteratorType::parallel, utils::IteratorType::reduction},
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value v = ext(nb, nl, args[0]);
            if (args.size() == 3)
              v = arith::SubIOp::create(nb, nl, v, ext(nb, nl, args[1]));
            linalg::YieldOp::create(nb, nl,
                                    ValueRange{arith::AddIOp::create(nb, nl, args.back(), v)});
          })
          .getResult(0);
  // init[m, n] + factor[n] * rowSums[m]: loops (m, n).
  Value factorValue = arith::ConstantOp::create(b, loc, factor);
  AffineExpr col = b.getAffineDimExpr(1);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{rowSums, factorValue}, ValueRange{init},
             ArrayRef<AffineMap>{AffineMap::get(2, 0, {m}, ctx), AffineMap::get(2, 0, {col}, ctx),
                                 AffineMap::get(2, 0, {m, col}, ctx)},
             {utils::IteratorType::parallel, utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value term = arith::MulIOp::create(nb, nl, args[0], args[1]);
               linalg::YieldOp::create(nb, nl,
                                       ValueRange{arith::AddIOp::create(nb, nl, args[2], term)});
             })
      .getResult(0);
}

/// `(A - a_zp) x (B - b_zp)` for a constant int8 or uint8 B[K, N] and a
/// constant B zero point (none, one, or one per column), in the form of
/// int8 dot-product kernels (Int8DotProduct.h): the kernel multiplies
/// (x + 128) by the signed weight w = B (int8) or B - 128 (uint8), where x
/// is A itself (int8) or A with its top bit flipped (uint8, so x + 128 =
/// A); the accumulators start at -(o + a_zp) times each column's sum of w,
/// o being 128 for int8 A and 0 for uint8, plus c[n] times the row's sum of
/// A - a_zp, c = (128 for uint8 B) - b_zp. Null where B does not qualify.
static Value buildInt8DotIntegerMatmul(NodeImporter &imp,
                                       const IntegerMatmulOperands &ops) {
  RankedTensorType aType = tensorTypeOf(ops.a.value), bType = tensorTypeOf(ops.b.value);
  bool bUnsigned = isUnsignedOnnxType(ops.b.onnxType);
  if (bType.getRank() != 2)
    return {};
  std::optional<SmallVector<int64_t>> weight =
      readIntElements(getConstantElements(ops.b.value), /*isSigned=*/!bUnsigned);
  if (!weight)
    return {};
  int64_t k = bType.getDimSize(0), n = bType.getDimSize(1);
  // c[n] = (128 for uint8 B) - b_zp[n]: the part of B - b_zp the signed
  // kernel weight leaves out.
  SmallVector<int64_t> rowSumFactor(n, bUnsigned ? 128 : 0);
  if (ops.bZeroPoint) {
    std::optional<SmallVector<int64_t>> zeros =
        readIntElements(getConstantElements(ops.bZeroPoint), /*isSigned=*/!bUnsigned);
    if (!zeros || (zeros->size() != 1 && static_cast<int64_t>(zeros->size()) != n))
      return {};
    for (int64_t col = 0; col < n; ++col)
      rowSumFactor[col] -= (*zeros)[zeros->size() == 1 ? 0 : col];
  }
  if (bUnsigned)
    for (int64_t &w : *weight)
      w -= 128;
  bool needsRowSums = llvm::any_of(rowSumFactor, [](int64_t c) { return c != 0; });
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  int64_t rows = aType.getNumElements() / std::max<int64_t>(k, 1);
  bool aUnsigned = isUnsignedOnnxType(ops.a.onnxType);
  Value a = buildReshape(b, loc, ops.a.value, {rows, k});
  Value x = a;
  if (aUnsigned)
    x = buildElementwise(b, loc, {x}, b.getI8Type(),
                         [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                           Value top = arith::ConstantOp::create(nb, nl,
                                                                 nb.getI8IntegerAttr(-128));
                           return arith::XOrIOp::create(nb, nl, args[0], top);
                         });
  // start[n] = -(o + a_zp) * sum_k B[k, n].
  Type i32 = b.getI32Type();
  Value sums = arith::ConstantOp::create(
      b, loc,
      makeIntConstant(RankedTensorType::get({n}, i32), weightColumnSums(*weight, k, n),
                      imp.nodeName() + ".weight_sum"));
  SmallVector<Value> startInputs{sums};
  if (ops.aZeroPoint)
    startInputs.push_back(ops.aZeroPoint);
  bool hasZeroPoint = static_cast<bool>(ops.aZeroPoint);
  Value start = buildElementwise(
      b, loc, startInputs, i32, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Type wide = nb.getI32Type();
        Value offset =
            arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(aUnsigned ? 0 : 128));
        if (hasZeroPoint) {
          Value zp = aUnsigned ? arith::ExtUIOp::create(nb, nl, wide, args[1]).getResult()
                               : arith::ExtSIOp::create(nb, nl, wide, args[1]).getResult();
          offset = arith::AddIOp::create(nb, nl, offset, zp);
        }
        Value zero = arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(0));
        return arith::SubIOp::create(nb, nl, zero,
                                     arith::MulIOp::create(nb, nl, offset, args[0]));
      });
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{rows, n}, i32);
  Value init = linalg::BroadcastOp::create(b, loc, start, empty, ArrayRef<int64_t>{0})
                   .getResult()[0];
  if (needsRowSums)
    init = addRowSumTerm(b, loc, a, aUnsigned, ops.aZeroPoint, init,
                         makeIntConstant(RankedTensorType::get({n}, i32), rowSumFactor,
                                         imp.nodeName() + ".zero_point_factor"));
  Value product = buildInt8DotProduct(b, loc, x, *weight, k, n, init);
  SmallVector<int64_t> outShape(aType.getShape().drop_back());
  outShape.push_back(n);
  return buildReshape(b, loc, product, outShape);
}

/// `(A - a_zp) x (B - b_zp)` accumulated exactly in i32, for A[..., K] and
/// B[K, N] of int8/uint8, or batched A[batch..., M, K] x B[batch..., K, N]
/// with the same batch dims; returns [..., N].
static Value buildIntegerMatmul(NodeImporter &imp, const IntegerMatmulOperands &ops) {
  if (Value product = buildInt8DotIntegerMatmul(imp, ops))
    return product;
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  MLIRContext *ctx = imp.context();
  RankedTensorType aType = tensorTypeOf(ops.a.value);
  RankedTensorType bType = tensorTypeOf(ops.b.value);
  int64_t k = aType.getShape().back();
  int64_t n = bType.getShape().back();
  bool batched = bType.getRank() > 2;
  int64_t batch = batched ? bType.getNumElements() / std::max<int64_t>(k * n, 1) : 1;
  int64_t rows = aType.getNumElements() / std::max<int64_t>(k * batch, 1);
  // Loops (m, n, k), with a leading batch loop for a batched B.
  unsigned lead = batched ? 1 : 0, loops = 3 + lead;
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i + lead); };
  auto map = [&](ArrayRef<AffineExpr> exprs) {
    SmallVector<AffineExpr> all;
    if (batched && !exprs.empty())
      all.push_back(b.getAffineDimExpr(0));
    llvm::append_range(all, exprs);
    return AffineMap::get(loops, 0, all, ctx);
  };
  auto shape = [&](ArrayRef<int64_t> dims) {
    SmallVector<int64_t> all;
    if (batched)
      all.push_back(batch);
    llvm::append_range(all, dims);
    return all;
  };
  SmallVector<Value> inputs{buildReshape(b, loc, ops.a.value, shape({rows, k})),
                            buildReshape(b, loc, ops.b.value, shape({k, n}))};
  SmallVector<AffineMap> maps{map({d(0), d(2)}), map({d(2), d(1)})};
  if (ops.aZeroPoint) {
    inputs.push_back(ops.aZeroPoint);
    maps.push_back(AffineMap::get(loops, 0, {}, ctx));
  }
  if (ops.bZeroPoint) {
    inputs.push_back(ops.bZeroPoint);
    maps.push_back(tensorTypeOf(ops.bZeroPoint).getRank() == 0
                       ? AffineMap::get(loops, 0, {}, ctx)
                       : AffineMap::get(loops, 0, {d(1)}, ctx));
  }
  maps.push_back(map({d(0), d(1)}));
  Value init = buildZeroFilled(b, loc, shape({rows, n}), b.getI32Type());
  bool aUnsigned = isUnsignedOnnxType(ops.a.onnxType);
  bool bUnsigned = isUnsignedOnnxType(ops.b.onnxType);
  bool hasAZp = static_cast<bool>(ops.aZeroPoint), hasBZp = static_cast<bool>(ops.bZeroPoint);
  SmallVector<utils::IteratorType> iterators(loops - 1, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Type i32 = nb.getI32Type();
        auto ext = [&](Value v, bool isUnsigned) -> Value {
          return isUnsigned ? arith::ExtUIOp::create(nb, nl, i32, v).getResult()
                            : arith::ExtSIOp::create(nb, nl, i32, v).getResult();
        };
        Value av = ext(args[0], aUnsigned), bv = ext(args[1], bUnsigned);
        unsigned next = 2;
        if (hasAZp)
          av = arith::SubIOp::create(nb, nl, av, ext(args[next++], aUnsigned));
        if (hasBZp)
          bv = arith::SubIOp::create(nb, nl, bv, ext(args[next++], bUnsigned));
        Value product = arith::MulIOp::create(nb, nl, av, bv);
        linalg::YieldOp::create(nb, nl,
                                ValueRange{arith::AddIOp::create(nb, nl, args.back(), product)});
      });
  SmallVector<int64_t> outShape(aType.getShape().drop_back());
  outShape.push_back(n);
  return buildReshape(b, loc, generic.getResult(0), outShape);
}

/// Reads A (input 0), B (input `bIndex`) and their zero points for
/// MatMulInteger (zero points at 2, 3) and QLinearMatMul (at 2, 5).
static llvm::Expected<IntegerMatmulOperands>
readIntegerMatmulOperands(NodeImporter &imp, int bIndex, int aZpIndex, int bZpIndex) {
  llvm::Expected<OnnxValue> a = imp.input(0);
  if (!a)
    return a.takeError();
  llvm::Expected<OnnxValue> bIn = imp.input(bIndex);
  if (!bIn)
    return bIn.takeError();
  if (!storageOf(a->onnxType) || !storageOf(bIn->onnxType) ||
      tensorTypeOf(a->value).getElementType() != imp.builder().getI8Type() ||
      tensorTypeOf(bIn->value).getElementType() != imp.builder().getI8Type())
    return imp.fail("A and B must be int8 or uint8");
  RankedTensorType aType = tensorTypeOf(a->value), bType = tensorTypeOf(bIn->value);
  if (aType.getRank() < 1 || bType.getRank() < 2)
    return imp.fail("A must have a rank of at least 1 and B of at least 2");
  // A batched B must match A's batch dims exactly (no broadcasting yet).
  if (bType.getRank() > 2 &&
      (aType.getRank() != bType.getRank() ||
       aType.getShape().drop_back(2) != bType.getShape().drop_back(2)))
    return imp.fail("a batched B must have A's batch dimensions (broadcasting them is not "
                    "supported yet)");
  int64_t n = bType.getShape().back();
  if (bType.getShape()[bType.getRank() - 2] != aType.getShape().back())
    return imp.fail("inner dimensions differ");
  llvm::Expected<Value> aZp = perTensorOrColumn(imp, aZpIndex, 0, "a_zero_point");
  if (!aZp)
    return aZp.takeError();
  llvm::Expected<Value> bZp = perTensorOrColumn(imp, bZpIndex, n, "b_zero_point");
  if (!bZp)
    return bZp.takeError();
  return IntegerMatmulOperands{*a, *bIn, *aZp, *bZp};
}

static llvm::Error convertMatMulInteger(NodeImporter &imp) {
  llvm::Expected<IntegerMatmulOperands> ops = readIntegerMatmulOperands(imp, 1, 2, 3);
  if (!ops)
    return ops.takeError();
  imp.setOutput(0, buildIntegerMatmul(imp, *ops), onnx::TensorProto::INT32);
  return llvm::Error::success();
}

Value mlir::nibble::onnx_import::buildRescaledAccumulator(NodeImporter &imp, Value acc,
                                                         Value aScale, Value bScale,
                                                         Value yScale) {
  OpBuilder &b = imp.builder();
  return buildElementwise(
      b, imp.loc(), {acc, aScale, bScale, yScale}, b.getF32Type(),
      [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        // float16 scales are widened: the product is formed in f32.
        auto f32 = [&](Value v) -> Value {
          return v.getType().isF32() ? v : arith::ExtFOp::create(nb, nl, nb.getF32Type(), v);
        };
        Value multiplier = arith::DivFOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, f32(args[1]), f32(args[2])), f32(args[3]));
        Value value = arith::SIToFPOp::create(nb, nl, nb.getF32Type(), args[0]);
        return arith::MulFOp::create(nb, nl, value, multiplier);
      });
}

Value mlir::nibble::onnx_import::buildRequantize(NodeImporter &imp, Value x,
                                                Value zeroPoint, int32_t storageType) {
  auto [bits, isSigned] = *storageOf(storageType);
  OpBuilder &b = imp.builder();
  double qmin = isSigned ? -(1 << (bits - 1)) : 0;
  double qmax = isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  SmallVector<Value> operands{x};
  if (zeroPoint)
    operands.push_back(zeroPoint);
  return buildElementwise(
      b, imp.loc(), operands, b.getI8Type(),
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value v = math::RoundEvenOp::create(nb, nl, args[0]);
        if (args.size() > 1) {
          Value zp = isSigned ? arith::SIToFPOp::create(nb, nl, nb.getF32Type(), args[1]).getResult()
                              : arith::UIToFPOp::create(nb, nl, nb.getF32Type(), args[1]).getResult();
          v = arith::AddFOp::create(nb, nl, v, zp);
        }
        Value lo = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(qmin));
        Value hi = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(qmax));
        v = arith::MinNumFOp::create(nb, nl, arith::MaxNumFOp::create(nb, nl, v, lo), hi);
        return isSigned ? arith::FPToSIOp::create(nb, nl, nb.getI8Type(), v).getResult()
                        : arith::FPToUIOp::create(nb, nl, nb.getI8Type(), v).getResult();
      });
}

/// QLinearMatMul: the exact integer product scaled by a_scale * b_scale /
/// y_scale, then requantized (as the ONNX reference does).
static llvm::Error convertQLinearMatMul(NodeImporter &imp) {
  llvm::Expected<IntegerMatmulOperands> ops = readIntegerMatmulOperands(imp, 3, 2, 5);
  if (!ops)
    return ops.takeError();
  int64_t n = tensorTypeOf(ops->b.value).getDimSize(1);
  llvm::Expected<Value> aScale = perTensorOrColumn(imp, 1, 0, "a_scale");
  llvm::Expected<Value> bScale = perTensorOrColumn(imp, 4, n, "b_scale");
  llvm::Expected<Value> yScale = perTensorOrColumn(imp, 6, 0, "y_scale");
  llvm::Expected<Value> yZp = perTensorOrColumn(imp, 7, 0, "y_zero_point");
  for (llvm::Expected<Value> *v : {&aScale, &bScale, &yScale, &yZp})
    if (!*v)
      return v->takeError();
  if (!*aScale || !*bScale || !*yScale)
    return imp.fail("a_scale, b_scale and y_scale are required");
  int32_t outType = imp.hasInput(7) ? cantFail(imp.input(7)).onnxType : ops->a.onnxType;
  if (outType != onnx::TensorProto::INT8 && outType != onnx::TensorProto::UINT8)
    return imp.fail("y_zero_point must be int8 or uint8");
  Value product = buildIntegerMatmul(imp, *ops);
  Value scaled = buildRescaledAccumulator(imp, product, *aScale, *bScale, *yScale);
  imp.setOutput(0, buildRequantize(imp, scaled, *yZp, outType), outType);
  return llvm::Error::success();
}

/// DynamicQuantizeLinear: uint8 with scale and zero point from the range of
/// x extended to include 0 (ONNX opset 11).
static llvm::Error convertDynamicQuantizeLinear(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  if (!tensorTypeOf(x->value).getElementType().isF32())
    return imp.fail("x must be float32");
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  RankedTensorType type = tensorTypeOf(x->value);
  Value flat = buildReshape(b, loc, x->value, {type.getNumElements()});
  Type f32 = b.getF32Type();
  auto reduce = [&](bool isMax) {
    return buildReduction(b, loc, flat, 0, b.getF32FloatAttr(0.0f),
                          [isMax](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                            if (isMax)
                              return arith::MaximumFOp::create(nb, nl, args[0], args[1]);
                            return arith::MinimumFOp::create(nb, nl, args[0], args[1]);
                          });
  };
  // Starting both reductions at 0 includes 0 in the range, as the spec does.
  Value maxValue = reduce(true), minValue = reduce(false);
  Value scale = buildElementwise(
      b, loc, {maxValue, minValue}, f32, [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value range = arith::SubFOp::create(nb, nl, args[0], args[1]);
        Value zero = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(0.0f));
        Value one = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(1.0f));
        Value qrange = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(255.0f));
        Value isEmpty = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, range, zero);
        return arith::DivFOp::create(
            nb, nl, arith::SelectOp::create(nb, nl, isEmpty, one, range), qrange);
      });
  Value zeroPoint = buildElementwise(
      b, loc, {minValue, scale}, b.getI8Type(),
      [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value zero = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(0.0f));
        Value hi = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(255.0f));
        Value initial = arith::SubFOp::create(nb, nl, zero,
                                              arith::DivFOp::create(nb, nl, args[0], args[1]));
        Value clamped = arith::MinNumFOp::create(
            nb, nl, arith::MaxNumFOp::create(nb, nl, initial, zero), hi);
        return arith::FPToUIOp::create(nb, nl, nb.getI8Type(),
                                       math::RoundEvenOp::create(nb, nl, clamped));
      });
  auto scheme = SchemeAttr::get(imp.context(), 8, /*isSigned=*/false, Granularity::PerTensor,
                                0, 0, /*hasZeroPoint=*/true, cast<FloatType>(f32));
  Value y = QuantizeOp::create(b, loc, RankedTensorType::get(type.getShape(), b.getI8Type()),
                               x->value, scale, zeroPoint, scheme);
  imp.setOutput(0, y, onnx::TensorProto::UINT8);
  imp.setOutput(1, scale, onnx::TensorProto::FLOAT);
  imp.setOutput(2, zeroPoint, onnx::TensorProto::UINT8);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// com.microsoft MatMulNBits
//===----------------------------------------------------------------------===//

static llvm::Error convertMatMulNBits(NodeImporter &imp) {
  llvm::Expected<OnnxValue> a = imp.input(0);
  if (!a)
    return a.takeError();
  // float16/bfloat16 layers compute in float32 and round once (the bias is
  // added in their type).
  Type activationType = tensorTypeOf(a->value).getElementType();
  if (!isa<Float32Type, Float16Type, BFloat16Type>(activationType))
    return imp.fail("A must be float32, float16 or bfloat16, got " +
                    onnxTypeName(a->onnxType));
  std::optional<int64_t> kAttr = imp.intAttr("K"), nAttr = imp.intAttr("N");
  std::optional<int64_t> blockAttr = imp.intAttr("block_size");
  int64_t bits = imp.intAttr("bits").value_or(4);
  if (!kAttr || !nAttr || !blockAttr)
    return imp.fail("attributes K, N and block_size are required");
  int64_t k = *kAttr, n = *nAttr, blockSize = *blockAttr;
  if (bits != 4 && bits != 8)
    return imp.fail("bits = " + llvm::Twine(bits) + " is not supported (use 4 or 8)");
  if (blockSize < 16 || (blockSize & (blockSize - 1)))
    return imp.fail("block_size must be a power of two >= 16, got " + llvm::Twine(blockSize));
  if (tensorTypeOf(a->value).getShape().back() != k)
    return imp.fail("A's last dimension is not K = " + llvm::Twine(k));
  if (imp.hasInput(4))
    return imp.fail("g_idx (act-order) is not supported");
  int64_t numBlocks = llvm::divideCeil(k, blockSize);
  int64_t blobSize = blockSize * bits / 8;

  llvm::Expected<ElementsAttr> packedAttr = imp.constantInput(1, "B");
  if (!packedAttr)
    return packedAttr.takeError();
  std::optional<SmallVector<int64_t>> packed = readIntElements(*packedAttr, false);
  if (!packed || static_cast<int64_t>(packed->size()) != n * numBlocks * blobSize)
    return imp.fail("B must be uint8 of shape [N, ceil(K/block_size), block_size*bits/8]");
  llvm::Expected<ElementsAttr> scaleAttr = imp.constantInput(2, "scales");
  if (!scaleAttr)
    return scaleAttr.takeError();
  std::optional<SmallVector<float>> scales = readFloatElements(*scaleAttr);
  if (!scales || static_cast<int64_t>(scales->size()) != n * numBlocks)
    return imp.fail("scales must be float32, float16 or bfloat16 with N * ceil(K/block_size) "
                    "elements");

  std::optional<SmallVector<int64_t>> zeroPoints;
  if (imp.hasInput(3)) {
    llvm::Expected<ElementsAttr> zpAttr = imp.constantInput(3, "zero_points");
    if (!zpAttr)
      return zpAttr.takeError();
    zeroPoints = readIntElements(*zpAttr, /*isSigned=*/false);
    if (!zeroPoints)
      return imp.fail("zero_points must be packed uint8 (float zero points are not supported)");
    int64_t zpBytesPerColumn = llvm::divideCeil(numBlocks * bits, 8);
    if (static_cast<int64_t>(zeroPoints->size()) != n * zpBytesPerColumn)
      return imp.fail("zero_points must have N * ceil(ceil(K/block_size) * bits / 8) elements");
  }

  // Unpack to K x N. Without zero points the default zero point is
  // 2^(bits-1); subtracting it gives exactly a signed symmetric weight.
  bool isSigned = !zeroPoints;
  int64_t defaultZp = int64_t(1) << (bits - 1);
  SmallVector<int64_t> weight(k * n), blockZps;
  for (int64_t col = 0; col < n; ++col)
    for (int64_t row = 0; row < k; ++row) {
      int64_t block = row / blockSize, inBlock = row % blockSize;
      int64_t byteIndex = (col * numBlocks + block) * blobSize;
      int64_t q = bits == 8 ? (*packed)[byteIndex + inBlock]
                            : ((*packed)[byteIndex + inBlock / 2] >> (4 * (inBlock % 2))) & 0xF;
      weight[row * n + col] = isSigned ? q - defaultZp : q;
    }
  SmallVector<float> scaleKN(numBlocks * n);
  for (int64_t col = 0; col < n; ++col)
    for (int64_t block = 0; block < numBlocks; ++block)
      scaleKN[block * n + col] = (*scales)[col * numBlocks + block];
  if (zeroPoints) {
    blockZps.resize(numBlocks * n);
    int64_t zpBytesPerColumn = llvm::divideCeil(numBlocks * bits, 8);
    for (int64_t col = 0; col < n; ++col)
      for (int64_t block = 0; block < numBlocks; ++block) {
        int64_t byte = (*zeroPoints)[col * zpBytesPerColumn + (bits == 8 ? block : block / 2)];
        blockZps[block * n + col] = bits == 8 ? byte : (byte >> (4 * (block % 2))) & 0xF;
      }
  }

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  MLIRContext *ctx = imp.context();
  bool grouped = numBlocks > 1 || blockSize < k;
  std::string name = imp.nodeName();
  Value result;
  // accuracy_level 4 lets int8 activations carry the product (onnxruntime
  // then quantizes A per block and multiplies in integers): int4 weights in
  // whole blocks become nibble's W4A8. Stored nibbles q become q - 8 (int4)
  // and zero points z become z - 8, so the weight q - z is unchanged.
  if (imp.intAttr("accuracy_level").value_or(0) == 4 && bits == 4 && k % blockSize == 0) {
    Value activations = buildFloatConversion(b, loc, a->value, b.getF32Type());
    RankedTensorType aType = tensorTypeOf(activations);
    int64_t rows = aType.getNumElements() / std::max<int64_t>(k, 1);
    int64_t groupRows = grouped ? blockSize : k;
    DynamicInt8Activations int8Activations = quantizeActivationsDynamically(
        b, loc, buildReshape(b, loc, activations, {rows, k}), groupRows);
    if (zeroPoints) {
      for (int64_t &q : weight)
        q -= defaultZp;
      for (int64_t &z : blockZps)
        z -= defaultZp;
    }
    IntegerMatmulOp product = buildConstantWeightIntegerMatmul(
        b, loc, RankedTensorType::get({rows, n}, b.getF32Type()), int8Activations.values,
        int8Activations.scales, weight, scaleKN, k, n, /*bits=*/4, groupRows, name, blockZps);
    setLayerAttrs(product, name, imp.node().op_type());
    product->setAttr(kPrecisionAttrName,
                     b.getStringAttr(WeightPrecision::w4a8(grouped ? blockSize : 0).name()));
    SmallVector<int64_t> outShape(aType.getShape().drop_back());
    outShape.push_back(n);
    result = buildFloatConversion(b, loc, buildReshape(b, loc, product.getResult(), outShape),
                                  activationType);
  }
  if (!result) {
    // Otherwise the weight is dequantized where it is multiplied.
    auto scheme = SchemeAttr::get(
        ctx, bits, isSigned, grouped ? Granularity::PerGroup : Granularity::PerChannel,
        /*axis=*/grouped ? 0 : 1, /*groupSize=*/grouped ? blockSize : 0,
        /*hasZeroPoint=*/static_cast<bool>(zeroPoints), b.getF32Type());
    Type storage = scheme.getStorageType();
    Value qWeight = arith::ConstantOp::create(
        b, loc, makeIntConstant(RankedTensorType::get({k, n}, storage), weight, name + ".q"));
    SmallVector<int64_t> scaleShape = scheme.getScaleShape({k, n});
    Value scaleValue = arith::ConstantOp::create(
        b, loc, makeFloatConstant(RankedTensorType::get(scaleShape, b.getF32Type()), scaleKN,
                                  name + ".scale"));
    Value zpValue;
    if (zeroPoints)
      zpValue = arith::ConstantOp::create(
          b, loc, makeIntConstant(RankedTensorType::get(scaleShape, storage), blockZps,
                                  name + ".zp"));
    Value dequantized = DequantizeOp::create(
        b, loc, RankedTensorType::get({k, n}, b.getF32Type()), qWeight, scaleValue, zpValue,
        scheme);
    result = buildWeightMatmul(imp, a->value, dequantized);
  }
  if (imp.hasInput(5)) {
    llvm::Expected<OnnxValue> bias = imp.input(5);
    if (!bias)
      return bias.takeError();
    result = buildElementwise(b, loc, {result, bias->value}, activationType,
                              [](OpBuilder &nb, Location nl, ValueRange args) {
                                return arith::AddFOp::create(nb, nl, args[0], args[1]);
                              });
    if (!result)
      return imp.fail("bias does not broadcast to [..., N]");
  }
  imp.setOutput(0, result, a->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerQuantizationConverters(
    ConverterRegistry &registry) {
  registry["::QuantizeLinear"] = convertQuantizeLinear;
  registry["::DequantizeLinear"] = convertDequantizeLinear;
  registry["::MatMulInteger"] = convertMatMulInteger;
  registry["::QLinearMatMul"] = convertQLinearMatMul;
  registry["::DynamicQuantizeLinear"] = convertDynamicQuantizeLinear;
  registry["com.microsoft::MatMulNBits"] = convertMatMulNBits;
}
