//===- QuantizeWeights.cpp - constant matmul weights to nibble.matmul ------===//
//
// Each quantizable linalg.matmul gets the precision it carries
// (`nibble.precision`) or the pass default, and its weight is quantized by
// the shared WeightQuantizer (RTN, or GPTQ when calibration attached a
// Hessian). Integer precisions become nibble.matmul over the quantized
// constant; fp16 keeps a linalg.matmul over a half-precision constant widened
// by an elementwise extf.
//
//===----------------------------------------------------------------------===//

#include "nibble/Dialect/Nibble/Transforms/Passes.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Transforms/ActivationQuantization.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"
#include "nibble/Dialect/Nibble/Utils/WeightQuantizer.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

#include <cstring>

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLEQUANTIZEWEIGHTSPASS
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// The ONNX node name an op carries, or `fallback`.
static StringRef layerNameOf(Operation *op, StringRef fallback) {
  if (auto name = op->getAttrOfType<StringAttr>(kLayerAttrName))
    return name.getValue();
  return fallback;
}

/// `values` as a constant named `<layer>.<suffix>`.
static Value makeConstant(OpBuilder &builder, Location loc, RankedTensorType type,
                          StringRef layer, StringRef suffix, ArrayRef<float> values) {
  return arith::ConstantOp::create(builder, loc,
                                   makeFloatConstant(type, values, (layer + suffix).str()));
}

/// A linalg.generic widening `input` elementwise to f32.
static Value buildExtendToF32(OpBuilder &builder, Location loc, Value input) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto resultType = inputType.clone(builder.getF32Type());
  Value empty = tensor::EmptyOp::create(builder, loc, resultType.getShape(),
                                        builder.getF32Type());
  AffineMap identity = builder.getMultiDimIdentityMap(inputType.getRank());
  SmallVector<utils::IteratorType> iterators(inputType.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      builder, loc, resultType, input, empty, ArrayRef<AffineMap>{identity, identity},
      iterators, [](OpBuilder &b, Location l, ValueRange args) {
        Value wide = arith::ExtFOp::create(b, l, b.getF32Type(), args[0]);
        linalg::YieldOp::create(b, l, wide);
      });
  return generic.getResult(0);
}

/// x[m, k] * factors[k] for x [M, K] (SmoothQuant's 1 / s on activations).
static Value buildScaleColumns(OpBuilder &builder, Location loc, Value x, Value factors) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = builder.getContext();
  AffineMap identity = builder.getMultiDimIdentityMap(2);
  AffineMap column = AffineMap::get(2, 0, builder.getAffineDimExpr(1), ctx);
  Value empty = tensor::EmptyOp::create(builder, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             builder, loc, type, ValueRange{x, factors}, empty,
             ArrayRef<AffineMap>{identity, column, identity},
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [](OpBuilder &b, Location l, ValueRange args) {
               linalg::YieldOp::create(b, l, arith::MulFOp::create(b, l, args[0], args[1])
                                                 .getResult());
             })
      .getResult(0);
}

struct NibbleQuantizeWeightsPass final
    : nibble::impl::NibbleQuantizeWeightsPassBase<NibbleQuantizeWeightsPass> {
  using NibbleQuantizeWeightsPassBase::NibbleQuantizeWeightsPassBase;

  void runOnOperation() override {
    if (mode != "int8" && mode != "int4" && mode != "none") {
      getOperation().emitError() << "nibble-quantize-weights: mode must be "
                                    "int8, int4 or none, got '"
                                 << mode << "'";
      return signalPassFailure();
    }
    if (mode == "int4" && groupSize < 2) {
      getOperation().emitError()
          << "nibble-quantize-weights: group-size must be at least 2, got "
          // The option object itself does not stream as its value.
          << groupSize.getValue();
      return signalPassFailure();
    }
    // Row-scaled weights first: each rewrite replaces only its own op.
    for (MeasurableLayer &layer : findMeasurableLayers(getOperation()))
      if (!layer.matmul && failed(quantizeRowScaled(layer)))
        return signalPassFailure();
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation().walk([&](linalg::MatmulOp op) { matmuls.push_back(op); });
    for (linalg::MatmulOp matmul : matmuls) {
      std::optional<QuantizableMatmul> match = matchQuantizableMatmul(matmul);
      if (match && failed(quantize(*match)))
        return signalPassFailure();
      if (!match)
        matmul->removeAttr(kHessianAttrName);
    }
  }

  std::optional<WeightPrecision> defaultPrecision() const {
    if (mode == "none")
      return std::nullopt;
    if (mode == "int8")
      return WeightPrecision::integer(8, !asymmetric, 0);
    return WeightPrecision::integer(4, !asymmetric, groupSize);
  }

  /// A table or filter with its precision attribute (or the mode's): fp32
  /// stays, int8 gets one symmetric scale per row (rows x columns,
  /// row-major), and the op reads the int8 value and its row's scale.
  LogicalResult quantizeRowScaled(MeasurableLayer &found) {
    Operation *op = found.op;
    StringRef layer = layerNameOf(op, "weight");
    std::string precision = mode == "none" ? "fp32" : "int8";
    if (auto chosen = op->getAttrOfType<StringAttr>(kPrecisionAttrName))
      precision = chosen.str();
    if (precision == "fp32")
      return success();
    if (precision != "int8")
      return op->emitError() << "node '" << layer
                             << "' has one scale per output (a table or a filter): it is "
                                "stored as fp32 or int8, not '"
                             << precision << "'";
    int64_t rows = found.rows(), columns = found.columns();
    SmallVector<float> values = *readFloatElements(getConstantElements(found.weightData()));
    // One scale per row is the per-column scheme of the transpose.
    std::vector<float> transposed = transposeMatrix<float>(values, rows, columns);
    llvm::Expected<QuantizedWeight> quantized =
        quantizeRTN(transposed, columns, rows, WeightPrecision::integer(8, true, 0));
    if (!quantized)
      return op->emitError() << "cannot quantize the weight of node '" << layer
                             << "': " << llvm::toString(quantized.takeError());
    std::vector<int64_t> codes = transposeMatrix<int64_t>(quantized->values, columns, rows);
    if (found.table)
      rewriteTable(*found.table, layer, codes, quantized->scales);
    else
      rewriteFilter(*found.conv, layer, codes, quantized->scales);
    return success();
  }

  /// The convolution reads the int8 tap and its output channel's scale and
  /// dequantizes in its body.
  void rewriteFilter(ConvFilter &conv, StringRef layer, ArrayRef<int64_t> codes,
                     ArrayRef<float> rowScales) {
    linalg::GenericOp op = conv.op;
    MLIRContext *ctx = &getContext();
    auto filterType = cast<RankedTensorType>(conv.filter.getType());
    OpBuilder builder(op);
    Location loc = op.getLoc();
    Value codesTensor = arith::ConstantOp::create(
        builder, loc,
        makeIntConstant(filterType.clone(IntegerType::get(ctx, 8)), codes, (layer + ".q").str()));
    auto scaleType = RankedTensorType::get(
        {filterType.getDimSize(0), filterType.getDimSize(1)}, Float32Type::get(ctx));
    Value scales = makeConstant(builder, loc, scaleType, layer, ".scale", rowScales);
    AffineMap filterMap = op.getMatchingIndexingMap(op.getDpsInputOperand(1));
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    maps.insert(maps.begin() + 2, AffineMap::get(filterMap.getNumDims(), 0,
                                                 {filterMap.getResult(0), filterMap.getResult(1)},
                                                 ctx));
    Block &oldBody = op.getRegion().front();
    auto rewritten = linalg::GenericOp::create(
        builder, loc, op.getResultTypes(),
        ValueRange{op.getDpsInputOperand(0)->get(), codesTensor, scales}, op.getDpsInits(),
        maps, op.getIteratorTypesArray(),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value wide = arith::SIToFPOp::create(b, l, b.getF32Type(), args[1]);
          Value tap = arith::MulFOp::create(b, l, wide, args[2]);
          // A 16-bit filter's body still reads its type.
          if (Type filterElement = oldBody.getArgument(1).getType(); !filterElement.isF32())
            tap = arith::TruncFOp::create(b, l, filterElement, tap);
          IRMapping mapping;
          mapping.map(oldBody.getArgument(0), args[0]);
          mapping.map(oldBody.getArgument(1), tap);
          mapping.map(oldBody.getArgument(2), args[3]);
          for (Operation &bodyOp : oldBody)
            b.clone(bodyOp, mapping);
        });
    copyLayerAttrs(op, rewritten);
    rewritten->setAttr(kPrecisionAttrName, builder.getStringAttr("int8"));
    op->replaceAllUsesWith(rewritten->getResults());
    op->erase();
  }

  /// The lookup reads the int8 value and its row's scale and dequantizes in
  /// place, so only the rows looked up are ever float.
  void rewriteTable(EmbeddingGather &table, StringRef layer, ArrayRef<int64_t> codes,
                    ArrayRef<float> rowScales) {
    Operation *op = table.op;
    int64_t rows = table.rows, columns = table.columns;
    MLIRContext *ctx = &getContext();
    OpBuilder builder(op);
    Location loc = op->getLoc();
    Value codesTable = arith::ConstantOp::create(
        builder, loc,
        makeIntConstant(RankedTensorType::get({rows, columns}, IntegerType::get(ctx, 8)), codes,
                        (layer + ".q").str()));
    Value scales = makeConstant(builder, loc, RankedTensorType::get({rows}, Float32Type::get(ctx)),
                                layer, ".scale", rowScales);
    builder.setInsertionPoint(table.extract);
    Location at = table.extract.getLoc();
    ValueRange indices = table.extract.getIndices();
    Value code = tensor::ExtractOp::create(builder, at, codesTable, indices);
    Value scale = tensor::ExtractOp::create(builder, at, scales, indices.take_front(1));
    Value wide = arith::SIToFPOp::create(builder, at, builder.getF32Type(), code);
    Value value = arith::MulFOp::create(builder, at, wide, scale);
    // A float16 table's lookup still yields float16.
    if (Type tableElement = table.extract.getType(); !tableElement.isF32())
      value = arith::TruncFOp::create(builder, at, tableElement, value);
    table.extract.replaceAllUsesWith(value);
    table.extract.erase();
    op->setAttr(kPrecisionAttrName, builder.getStringAttr("int8"));
  }

  LogicalResult quantize(const QuantizableMatmul &match) {
    linalg::MatmulOp matmul = match.op;
    std::optional<WeightPrecision> precision = defaultPrecision();
    if (auto chosen = matmul->getAttrOfType<StringAttr>(kPrecisionAttrName)) {
      precision = WeightPrecision::parse(chosen.getValue());
      if (!precision)
        return matmul.emitError() << "unknown precision '" << chosen.getValue()
                                  << "'; use fp32, fp16, int8, uint8, int4-gN or uint4-gN";
    }
    SmallVector<float> hessian;
    if (auto attr = matmul->getAttr(kHessianAttrName)) {
      std::optional<SmallVector<float>> values = readFloatElements(attr);
      if (!values)
        return matmul.emitError("nibble.hessian must be a constant f32 tensor");
      hessian = std::move(*values);
      matmul->removeAttr(kHessianAttrName);
    }
    if (!precision || precision->kind == WeightPrecision::Kind::Float32)
      return success();
    if (getElementTypeOrSelf(matmul.getInputs()[0].getType()) != Float32Type::get(&getContext()) &&
        precision->kind == WeightPrecision::Kind::Float16)
      return success();

    int64_t k = match.k, n = match.n;
    SmallVector<float> weights = *readFloatElements(getConstantElements(match.data));
    StringRef layer = layerNameOf(matmul, "weight"), opType = "MatMul";
    if (auto type = matmul->getAttrOfType<StringAttr>(kOpTypeAttrName))
      opType = type.getValue();
    OpBuilder builder(matmul);
    Location loc = match.weight.getLoc();
    MLIRContext *ctx = &getContext();

    if (precision->kind == WeightPrecision::Kind::Float16) {
      auto halfType = RankedTensorType::get({k, n}, Float16Type::get(ctx));
      Value halfWeight = arith::ConstantOp::create(
          builder, loc, makeFloatConstant(halfType, weights, (layer + ".f16").str()));
      matmul->setOperand(1, buildExtendToF32(builder, loc, halfWeight));
      matmul->setAttr(kPrecisionAttrName, builder.getStringAttr("fp16"));
      return success();
    }

    // SmoothQuant: the layer computes (x / s)(s W).
    SmallVector<float> smooth;
    if (Attribute attr = matmul->getAttr(kSmoothAttrName)) {
      std::optional<SmallVector<float>> values = readFloatElements(attr);
      if (!values || static_cast<int64_t>(values->size()) != k ||
          llvm::any_of(*values, [](float v) { return !(v > 0.0f) || !std::isfinite(v); }))
        return matmul.emitError() << "nibble.smooth must hold " << k
                                  << " positive finite f32 factors";
      smooth = std::move(*values);
      for (int64_t row = 0; row < k; ++row)
        for (int64_t col = 0; col < n; ++col)
          weights[row * n + col] *= smooth[row];
    }
    std::optional<GPTQFactor> factor;
    if (!hessian.empty()) {
      llvm::Expected<GPTQFactor> computed = GPTQFactor::compute(hessian, k);
      if (!computed)
        return matmul.emitError() << "cannot use the calibration Hessian of " << opType
                                  << " node '" << layer
                                  << "': " << llvm::toString(computed.takeError());
      factor = std::move(*computed);
    }
    llvm::Expected<QuantizedWeight> quantized =
        factor ? quantizeGPTQ(weights, k, n, *precision, *factor)
               : quantizeRTN(weights, k, n, *precision);
    if (!quantized)
      return matmul.emitError() << "cannot quantize the weight of " << opType
                                << " node '" << layer
                                << "': " << llvm::toString(quantized.takeError());
    // The activations the quantized weight multiplies: x / s when smoothed.
    Value lhs = matmul.getInputs()[0];
    if (!smooth.empty()) {
      SmallVector<float> inverse;
      for (float factor : smooth)
        inverse.push_back(1.0f / factor);
      auto type = RankedTensorType::get({k}, Float32Type::get(ctx));
      lhs = buildScaleColumns(builder, matmul.getLoc(), lhs,
                              makeConstant(builder, loc, type, layer, ".smooth", inverse));
    }
    if (precision->quantizesActivations())
      return buildIntegerMatmul(builder, matmul, lhs, *precision, *quantized, layer, opType);
    bool perGroup = quantized->groupRows < k;
    auto scheme = SchemeAttr::get(
        ctx, precision->bits, precision->symmetric,
        perGroup ? Granularity::PerGroup : Granularity::PerChannel,
        /*axis=*/perGroup ? 0 : 1, /*groupSize=*/perGroup ? quantized->groupRows : 0,
        /*hasZeroPoint=*/!precision->symmetric, Float32Type::get(ctx));
    auto qType = RankedTensorType::get({k, n}, scheme.getStorageType());
    auto scaleType =
        RankedTensorType::get(scheme.getScaleShape({k, n}), Float32Type::get(ctx));
    Value qWeight = arith::ConstantOp::create(
        builder, loc, makeIntConstant(qType, quantized->values, (layer + ".q").str()));
    Value scales = makeConstant(builder, loc, scaleType, layer, ".scale", quantized->scales);
    Value zeroPoints;
    if (!precision->symmetric)
      zeroPoints = arith::ConstantOp::create(
          builder, loc,
          makeIntConstant(scaleType.clone(scheme.getStorageType()), quantized->zeroPoints,
                          (layer + ".zero_point").str()));
    auto fused = MatmulOp::create(builder, matmul.getLoc(), matmul.getResultTypes()[0],
                                  lhs, qWeight, scales, zeroPoints,
                                  /*bias=*/Value(), scheme);
    copyLayerAttrs(matmul, fused);
    matmul.getResult(0).replaceAllUsesWith(fused.getResult());
    matmul.erase();
    return success();
  }

  /// W8A8: x (smoothed) -> int8 (static or per-row scale) times the int8
  /// weight, multiplied in integers. W4A8: x -> int8 per row and group
  /// times the int4 weight, multiplied in integers group by group.
  LogicalResult buildIntegerMatmul(OpBuilder &builder, linalg::MatmulOp matmul, Value x,
                                   const WeightPrecision &precision,
                                   const QuantizedWeight &quantized, StringRef layer,
                                   StringRef opType) {
    Location loc = matmul.getLoc();
    MLIRContext *ctx = &getContext();
    Type f32 = Float32Type::get(ctx);
    Value qx, xScale;
    if (precision.activations == WeightPrecision::Activations::StaticInt8) {
      auto scale = matmul->getAttrOfType<FloatAttr>(kActivationScaleAttrName);
      if (!scale || !(scale.getValueAsDouble() > 0.0))
        return matmul.emitError()
               << opType << " node '" << layer
               << "': w8a8 needs a calibrated activation scale (nibble.activation_scale); "
                  "compile with --calibration, or use dynamic activations";
      xScale = arith::ConstantOp::create(
          builder, loc,
          DenseElementsAttr::get(RankedTensorType::get({}, f32),
                                 static_cast<float>(scale.getValueAsDouble())));
      auto scheme = SchemeAttr::get(ctx, 8, true, Granularity::PerTensor, 0, 0, false,
                                    Float32Type::get(ctx));
      qx = QuantizeOp::create(builder, loc,
                              cast<RankedTensorType>(x.getType()).clone(builder.getI8Type()),
                              x, xScale, /*zero_point=*/Value(), scheme);
    } else {
      // Dynamic: one scale per row, or per row and weight group (W4A8).
      DynamicInt8Activations dynamic =
          quantizeActivationsDynamically(builder, loc, x, quantized.groupRows);
      qx = dynamic.values;
      xScale = dynamic.scales;
    }
    IntegerMatmulOp product = buildConstantWeightIntegerMatmul(
        builder, loc, matmul.getResultTypes()[0], qx, xScale, quantized.values,
        quantized.scales, quantized.k, quantized.n, precision.bits, quantized.groupRows,
        layer);
    copyLayerAttrs(matmul, product);
    product->setAttr(kPrecisionAttrName, builder.getStringAttr(precision.name()));
    matmul.getResult(0).replaceAllUsesWith(product.getResult());
    matmul.erase();
    return success();
  }
};

} // namespace
