//===- FuseElementwise.cpp - fuse elementwise chains, nothing else --------===//

#include "nibble/Target/CPU/Passes.h"

#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUFUSEELEMENTWISEPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

/// Fuse only into all-parallel consumers, and only producers nobody else
/// reads (otherwise the producer would be computed twice) that no kernel
/// pass means to take as its epilogue.
static bool shouldFuse(OpOperand *fusedOperand) {
  Operation *producer = fusedOperand->get().getDefiningOp();
  auto consumer = dyn_cast<linalg::LinalgOp>(fusedOperand->getOwner());
  if (!producer || !consumer || producer->hasAttr(mlir::nibble::kKernelEpilogueAttrName))
    return false;
  return consumer.getNumReductionLoops() == 0 && producer->hasOneUse();
}

namespace {
struct NibbleCPUFuseElementwisePass final
    : nibble::impl::NibbleCPUFuseElementwisePassBase<NibbleCPUFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuse);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
