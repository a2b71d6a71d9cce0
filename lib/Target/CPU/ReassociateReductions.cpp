//===- ReassociateReductions.cpp - let LLVM vectorize float reductions ----===//

#include "nibble/Target/CPU/Passes.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUREASSOCIATEREDUCTIONSPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

/// The op of `generic`'s body that combines a new value into output
/// `index`'s accumulator (the yielded value, computed from the output's
/// block argument), or null.
static Operation *accumulation(linalg::GenericOp generic, unsigned index) {
  Block *body = generic.getBody();
  Value yielded = body->getTerminator()->getOperand(index);
  Operation *combiner = yielded.getDefiningOp();
  BlockArgument accumulator = generic.getMatchingBlockArgument(generic.getDpsInitOperand(index));
  if (!combiner || combiner->getBlock() != body || combiner->getNumOperands() != 2 ||
      !llvm::is_contained(combiner->getOperands(), accumulator))
    return nullptr;
  return combiner;
}

namespace {
struct NibbleCPUReassociateReductionsPass final
    : nibble::impl::NibbleCPUReassociateReductionsPassBase<
          NibbleCPUReassociateReductionsPass> {
  void runOnOperation() override {
    getOperation().walk([](linalg::GenericOp generic) {
      SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
      // Only a reduction along the innermost loop is what LLVM vectorizes
      // as a reduction; the others vectorize across a parallel loop.
      if (iterators.empty() || iterators.back() != utils::IteratorType::reduction)
        return;
      for (unsigned index = 0; index < generic.getNumDpsInits(); ++index) {
        auto sum = dyn_cast_or_null<arith::AddFOp>(accumulation(generic, index));
        if (!sum)
          continue;
        sum.setFastmath(sum.getFastmath() | arith::FastMathFlags::reassoc);
      }
    });
  }
};
} // namespace
