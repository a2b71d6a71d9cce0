//===- FuseElementwise.cpp - fuse elementwise chains, nothing else --------===//

#include "nibble/Target/CPU/Passes.h"

#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUFUSEELEMENTWISEPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

/// True if `op` carries a discardable attribute other than the layer tags:
/// a marker some kernel pass matches its operands against.
static bool isMarkedForAKernel(Operation *op) {
  return llvm::any_of(op->getDiscardableAttrs(), [](NamedAttribute attr) {
    return attr.getName() != mlir::nibble::kLayerAttrName &&
           attr.getName() != mlir::nibble::kOpTypeAttrName;
  });
}

/// Fuse only producers nobody else reads (otherwise the producer would be
/// computed twice) that no kernel pass means to take as its epilogue, into
/// all-parallel consumers; and the widening of float16/bfloat16 values into
/// unmarked reductions (an unquantized float16 matmul then widens its
/// float16 weight in the loop rather than writing an f32 copy every run).
static bool shouldFuse(OpOperand *fusedOperand) {
  Operation *producer = fusedOperand->get().getDefiningOp();
  auto consumer = dyn_cast<linalg::LinalgOp>(fusedOperand->getOwner());
  if (!producer || !consumer || producer->hasAttr(mlir::nibble::kKernelEpilogueAttrName) ||
      !producer->hasOneUse())
    return false;
  if (consumer.getNumReductionLoops() == 0)
    return true;
  return mlir::nibble::getWidenedSource(fusedOperand->get()) &&
         !isMarkedForAKernel(consumer);
}

namespace {
struct NibbleCPUFuseElementwisePass final
    : nibble::impl::NibbleCPUFuseElementwisePassBase<NibbleCPUFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuse);
    // Generics marked for a kernel are left as they are: besides fusion
    // (which shouldFuse controls), the set folds splat constant inputs into
    // the body and drops unused operands, rebuilding the op without its
    // marker; a layer whose scales or zero points are all equal would then
    // silently miss its kernel.
    SmallVector<Operation *> unmarked;
    getOperation()->walk([&](Operation *op) {
      if (op != getOperation() && !(isa<linalg::LinalgOp>(op) && isMarkedForAKernel(op)))
        unmarked.push_back(op);
    });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(unmarked, std::move(patterns), config)))
      return signalPassFailure();
  }
};
} // namespace
