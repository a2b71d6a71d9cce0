//===- FuseDequantMatmul.cpp - dequantize + matmul -> nibble.matmul -------===//
//
//   linalg.matmul(A, nibble.dequantize(Q, s, z), fill(0))
//     -> nibble.matmul(A, Q, s, z)
//
// The quantized weight Q keeps its narrow type; the target lowering decides
// how to dequantize it inside the GEMM.
//
//===----------------------------------------------------------------------===//

#include "nibble/Dialect/Nibble/Transforms/Passes.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLEFUSEDEQUANTMATMULPASS
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// True if a GEMM kernel can stream a K x N weight quantized with `scheme`.
static bool isStreamableWeightScheme(SchemeAttr scheme) {
  return scheme.isPerTensor() ||
         (scheme.isPerChannel() && scheme.getAxis() == 1) ||
         (scheme.isPerGroup() && scheme.getAxis() == 0);
}

struct FuseDequantizeIntoMatmul final : OpRewritePattern<linalg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::MatmulOp matmul,
                                PatternRewriter &rewriter) const override {
    if (!isPlainZeroInitMatmul(matmul))
      return rewriter.notifyMatchFailure(matmul, "not a plain zero-init matmul");
    auto dequant = matmul.getInputs()[1].getDefiningOp<DequantizeOp>();
    if (!dequant)
      return rewriter.notifyMatchFailure(matmul, "weight is not dequantized");
    if (!dequant->hasOneUse())
      return rewriter.notifyMatchFailure(matmul, "dequantized weight has other users");
    if (!isStreamableWeightScheme(dequant.getScheme()))
      return rewriter.notifyMatchFailure(matmul, "weight granularity is not streamable");
    Type resultType = matmul.getResultTypes()[0];
    // nibble.matmul has one float type for lhs, dequantized weight and
    // result.
    Type resultElementType = cast<ShapedType>(resultType).getElementType();
    if (resultElementType != dequant.getResult().getType().getElementType() ||
        resultElementType != getElementTypeOrSelf(matmul.getInputs()[0].getType()))
      return rewriter.notifyMatchFailure(matmul, "mixed float types");
    auto fused = MatmulOp::create(
        rewriter, matmul.getLoc(), resultType, matmul.getInputs()[0],
        dequant.getInput(), dequant.getScale(), dequant.getZeroPoint(),
        /*bias=*/Value(), dequant.getScheme());
    copyLayerAttrs(matmul, fused);
    rewriter.replaceOp(matmul, fused.getResult());
    rewriter.eraseOp(dequant);
    return success();
  }
};

struct NibbleFuseDequantMatmulPass final
    : nibble::impl::NibbleFuseDequantMatmulPassBase<NibbleFuseDequantMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseDequantizeIntoMatmul>(&getContext());
    // Folding would turn constant dequantized weights back into float
    // constants, undoing what this pass is for.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
  }
};

} // namespace
