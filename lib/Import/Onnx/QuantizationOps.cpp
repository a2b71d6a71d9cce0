//===- QuantizationOps.cpp - ONNX quantized ops -> nibble ops -------------===//
//
// QuantizeLinear / DequantizeLinear (per tensor, per axis, and opset 21
// blocked, with int8/uint8/int4/uint4 storage) map onto nibble.quantize /
// nibble.dequantize. com.microsoft MatMulNBits is unpacked at import time
// into a K x N int4/int8 weight plus [K/block, N] scales feeding
// dequantize + matmul, which the fuse phase turns into nibble.matmul.
// MatMulInteger is exact integer arithmetic.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"
#include "MatmulBuilders.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

/// Bits and signedness of an ONNX quantized storage type.
static std::optional<std::pair<unsigned, bool>> storageOf(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::INT8: return std::make_pair(8u, true);
  case onnx::TensorProto::UINT8: return std::make_pair(8u, false);
  case static_cast<int32_t>(OnnxDType::Int4): return std::make_pair(4u, true);
  case static_cast<int32_t>(OnnxDType::UInt4): return std::make_pair(4u, false);
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
                    " is not supported (use int8, uint8, int4 or uint4)");
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
  llvm::Expected<OnnxValue> scale = imp.input(1);
  if (!scale)
    return scale.takeError();
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  RankedTensorType xType = tensorTypeOf(x.value);
  // Per-axis scales broadcast along `axis`: reshape to [1, .., C, .., 1].
  Value scaleValue = scale->value;
  Value zp = imp.hasInput(2) ? cantFail(imp.input(2)).value : Value();
  if (tensorTypeOf(scaleValue).getRank() == 1 &&
      tensorTypeOf(scaleValue).getNumElements() != 1) {
    int64_t axis = imp.intAttr("axis").value_or(1);
    if (axis < 0)
      axis += xType.getRank();
    SmallVector<int64_t> shape(xType.getRank(), 1);
    shape[axis] = tensorTypeOf(scaleValue).getNumElements();
    scaleValue = buildReshape(b, loc, scaleValue, shape);
    if (zp)
      zp = buildReshape(b, loc, zp, shape);
  } else {
    scaleValue = buildReshape(b, loc, scaleValue, {});
    if (zp)
      zp = buildReshape(b, loc, zp, {});
  }
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

static llvm::Error convertMatMulInteger(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
  if (!operands)
    return operands.takeError();
  OnnxValue *a = &(*operands)[0], *bIn = &(*operands)[1];
  if (!storageOf(a->onnxType) || !storageOf(bIn->onnxType) ||
      tensorTypeOf(a->value).getElementType() != imp.builder().getI8Type() ||
      tensorTypeOf(bIn->value).getElementType() != imp.builder().getI8Type())
    return imp.fail("A and B must be int8 or uint8");
  RankedTensorType aType = tensorTypeOf(a->value), bType = tensorTypeOf(bIn->value);
  if (aType.getRank() < 2 || bType.getRank() != 2)
    return imp.fail("supports A of rank >= 2 and a 2-D B");
  int64_t k = aType.getShape().back(), n = bType.getDimSize(1);
  if (bType.getDimSize(0) != k)
    return imp.fail("inner dimensions differ");
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  // Zero points: A per tensor; B per tensor or per column.
  auto zeroPointOperand = [&](int index, int64_t columns) -> llvm::Expected<Value> {
    if (!imp.hasInput(index))
      return Value();
    llvm::Expected<OnnxValue> zp = imp.input(index);
    if (!zp)
      return zp.takeError();
    int64_t count = tensorTypeOf(zp->value).getNumElements();
    if (count == 1)
      return buildReshape(b, loc, zp->value, {});
    if (columns > 0 && count == columns)
      return buildReshape(b, loc, zp->value, {columns});
    return imp.fail("zero point of input " + llvm::Twine(index - 2) +
                    " must be a scalar" + (columns > 0 ? " or per column" : ""));
  };
  llvm::Expected<Value> aZp = zeroPointOperand(2, 0);
  if (!aZp)
    return aZp.takeError();
  llvm::Expected<Value> bZp = zeroPointOperand(3, n);
  if (!bZp)
    return bZp.takeError();

  int64_t rows = aType.getNumElements() / k;
  Value a2D = buildReshape(b, loc, a->value, {rows, k});
  MLIRContext *ctx = imp.context();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  // Loops (m, n, k).
  SmallVector<Value> inputs{a2D, bIn->value};
  SmallVector<AffineMap> maps{AffineMap::get(3, 0, {d(0), d(2)}, ctx),
                              AffineMap::get(3, 0, {d(2), d(1)}, ctx)};
  if (*aZp) {
    inputs.push_back(*aZp);
    maps.push_back(AffineMap::get(3, 0, {}, ctx));
  }
  if (*bZp) {
    inputs.push_back(*bZp);
    maps.push_back(tensorTypeOf(*bZp).getRank() == 0
                       ? AffineMap::get(3, 0, {}, ctx)
                       : AffineMap::get(3, 0, {d(1)}, ctx));
  }
  maps.push_back(AffineMap::get(3, 0, {d(0), d(1)}, ctx));
  Value init = buildZeroFilled(b, loc, {rows, n}, b.getI32Type());
  bool aUnsigned = isUnsignedOnnxType(a->onnxType);
  bool bUnsigned = isUnsignedOnnxType(bIn->onnxType);
  bool hasAZp = static_cast<bool>(*aZp), hasBZp = static_cast<bool>(*bZp);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps,
      {utils::IteratorType::parallel, utils::IteratorType::parallel,
       utils::IteratorType::reduction},
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
        linalg::YieldOp::create(nb, nl, ValueRange{arith::AddIOp::create(nb, nl, args.back(), product)});
      });
  SmallVector<int64_t> outShape(aType.getShape().drop_back());
  outShape.push_back(n);
  imp.setOutput(0, buildReshape(b, loc, generic.getResult(0), outShape),
                onnx::TensorProto::INT32);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// com.microsoft MatMulNBits
//===----------------------------------------------------------------------===//

static llvm::Error convertMatMulNBits(NodeImporter &imp) {
  llvm::Expected<OnnxValue> a = imp.input(0);
  if (!a)
    return a.takeError();
  if (!tensorTypeOf(a->value).getElementType().isF32())
    return imp.fail("A must be float32");
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
    return imp.fail("scales must be float32 with N * ceil(K/block_size) elements");

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
  SmallVector<int64_t> weight(k * n), blockScales(numBlocks * n), blockZps;
  for (int64_t col = 0; col < n; ++col)
    for (int64_t row = 0; row < k; ++row) {
      int64_t block = row / blockSize, inBlock = row % blockSize;
      int64_t byteIndex = (col * numBlocks + block) * blobSize;
      int64_t q = bits == 8 ? (*packed)[byteIndex + inBlock]
                            : ((*packed)[byteIndex + inBlock / 2] >> (4 * (inBlock % 2))) & 0xF;
      weight[row * n + col] = isSigned ? q - defaultZp : q;
    }
  for (int64_t col = 0; col < n; ++col)
    for (int64_t block = 0; block < numBlocks; ++block)
      blockScales[block * n + col] = 0; // filled below as floats
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
  auto scheme = SchemeAttr::get(
      ctx, bits, isSigned, grouped ? Granularity::PerGroup : Granularity::PerChannel,
      /*axis=*/grouped ? 0 : 1, /*groupSize=*/grouped ? blockSize : 0,
      /*hasZeroPoint=*/static_cast<bool>(zeroPoints), b.getF32Type());
  Type storage = scheme.getStorageType();
  std::string name = imp.nodeName();
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
      b, loc, RankedTensorType::get({k, n}, b.getF32Type()), qWeight, scaleValue,
      zpValue, scheme);
  Value result = buildWeightMatmul(imp, a->value, dequantized);
  if (imp.hasInput(5)) {
    llvm::Expected<OnnxValue> bias = imp.input(5);
    if (!bias)
      return bias.takeError();
    result = buildElementwise(b, loc, {result, bias->value}, b.getF32Type(),
                              [](OpBuilder &nb, Location nl, ValueRange args) {
                                return arith::AddFOp::create(nb, nl, args[0], args[1]);
                              });
    if (!result)
      return imp.fail("bias does not broadcast to [..., N]");
  }
  imp.setOutput(0, result, onnx::TensorProto::FLOAT);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerQuantizationConverters(
    ConverterRegistry &registry) {
  registry["::QuantizeLinear"] = convertQuantizeLinear;
  registry["::DequantizeLinear"] = convertDequantizeLinear;
  registry["::MatMulInteger"] = convertMatMulInteger;
  registry["com.microsoft::MatMulNBits"] = convertMatMulNBits;
}
