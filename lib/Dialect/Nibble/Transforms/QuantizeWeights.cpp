//===- QuantizeWeights.cpp - round-to-nearest weight quantization ---------===//
//
// For each constant K x N matmul weight W, per scheme:
//   int8: s[n]    = max_k |W[k, n]| / 127,            q = round(W / s)
//   int4: s[g, n] = max_{k in group g} |W[k, n]| / 7, q = clamp(round(W / s), -8, 7)
// with ONNX rounding (half to even). All-zero columns/groups get s = 1 so
// nothing divides by zero. The matmul becomes nibble.matmul over q and s.
//
//===----------------------------------------------------------------------===//

#include "nibble/Dialect/Nibble/Transforms/Passes.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/IR/QuantMath.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLEQUANTIZEWEIGHTSPASS
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// A quantized K x N weight: values in row-major order and scales laid out
/// as the scheme's scale shape.
struct QuantizedWeight {
  SmallVector<int64_t> values;
  SmallVector<float> scales;
};

/// Quantizes `weights` (K x N, row-major) symmetrically with one scale per
/// `groupRows` rows of each column (groupRows >= K means per channel).
static QuantizedWeight quantizeSymmetric(ArrayRef<float> weights, int64_t k,
                                         int64_t n, int64_t groupRows,
                                         int64_t qmin, int64_t qmax) {
  int64_t numGroups = llvm::divideCeil(k, groupRows);
  QuantizedWeight result;
  result.scales.assign(numGroups * n, 0.0f);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      float &scale = result.scales[(row / groupRows) * n + col];
      scale = std::max(scale, std::fabs(weights[row * n + col]));
    }
  for (float &scale : result.scales)
    scale = scale > 0.0f && std::isfinite(scale) ? scale / static_cast<float>(qmax) : 1.0f;
  result.values.resize(k * n);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      result.values[row * n + col] =
          quantizeScalar(weights[row * n + col],
                         result.scales[(row / groupRows) * n + col], 0, qmin, qmax);
  return result;
}

struct NibbleQuantizeWeightsPass final
    : nibble::impl::NibbleQuantizeWeightsPassBase<NibbleQuantizeWeightsPass> {
  using NibbleQuantizeWeightsPassBase::NibbleQuantizeWeightsPassBase;

  void runOnOperation() override {
    if (mode != "int8" && mode != "int4") {
      getOperation().emitError() << "nibble-quantize-weights: mode must be "
                                    "int8 or int4, got '"
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
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation().walk([&](linalg::MatmulOp op) { matmuls.push_back(op); });
    for (linalg::MatmulOp matmul : matmuls)
      quantize(matmul);
  }

  void quantize(linalg::MatmulOp matmul) {
    if (!isPlainZeroInitMatmul(matmul))
      return;
    Value weight = matmul.getInputs()[1];
    auto weightType = cast<RankedTensorType>(weight.getType());
    std::optional<SmallVector<float>> values =
        readFloatElements(getConstantElements(weight));
    if (!values || weightType.getRank() != 2)
      return;
    // nibble.matmul computes in its lhs type, which must be its result type:
    // a mixed-precision product (f16 x f32 -> f32) has no nibble.matmul form.
    Type lhsElementType = getElementTypeOrSelf(matmul.getInputs()[0].getType());
    if (!isa<Float32Type, Float16Type, BFloat16Type>(lhsElementType) ||
        lhsElementType != getElementTypeOrSelf(matmul.getResultTypes()[0]))
      return;
    int64_t k = weightType.getDimSize(0), n = weightType.getDimSize(1);
    MLIRContext *ctx = &getContext();
    bool isInt4 = mode == "int4";
    unsigned bits = isInt4 ? 4 : 8;
    int64_t groupRows = isInt4 ? std::min<int64_t>(groupSize, k) : k;
    bool perGroup = isInt4 && groupRows < k;
    auto scheme = SchemeAttr::get(
        ctx, bits, /*isSigned=*/true,
        perGroup ? Granularity::PerGroup : Granularity::PerChannel,
        /*axis=*/perGroup ? 0 : 1, /*groupSize=*/perGroup ? groupRows : 0,
        /*hasZeroPoint=*/false, Float32Type::get(ctx));
    int64_t qmax = isInt4 ? 7 : 127;
    QuantizedWeight q = quantizeSymmetric(*values, k, n, groupRows,
                                          scheme.getQMin(), qmax);

    OpBuilder builder(matmul);
    Location loc = weight.getLoc();
    auto qType = RankedTensorType::get(weightType.getShape(), scheme.getStorageType());
    auto scaleType = RankedTensorType::get(scheme.getScaleShape(weightType.getShape()),
                                           Float32Type::get(ctx));
    StringRef layer = "weight";
    if (auto name = matmul->getAttrOfType<StringAttr>(kLayerAttrName))
      layer = name.getValue();
    Value qWeight = arith::ConstantOp::create(
        builder, loc, makeIntConstant(qType, q.values, (layer + ".q").str()));
    Value scales = arith::ConstantOp::create(
        builder, loc, makeFloatConstant(scaleType, q.scales, (layer + ".scale").str()));
    auto fused = MatmulOp::create(
        builder, matmul.getLoc(), matmul.getResultTypes()[0], matmul.getInputs()[0],
        qWeight, scales, /*zero_point=*/Value(), /*bias=*/Value(), scheme);
    copyLayerAttrs(matmul, fused);
    matmul.getResult(0).replaceAllUsesWith(fused.getResult());
    matmul.erase();
  }
};

} // namespace
