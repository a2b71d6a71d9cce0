//===- MatmulLoopOrder.cpp - K outside N for matmul-like generics ---------===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUMATMULLOOPORDERPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

/// The interchange vector taking (..., m, n, k) to (..., m, k, n), or an
/// empty vector if `op` is not matmul-like.
static SmallVector<unsigned> matmulLoopOrder(linalg::GenericOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned numLoops = iterators.size();
  // A matmul reads two operands; a reduction of one tensor (softmax's row
  // max and sum, a mean) keeps its contiguous innermost loop.
  if (numLoops < 3 || op.getNumReductionLoops() != 1 || op.getNumDpsInputs() < 2 ||
      iterators.back() != utils::IteratorType::reduction ||
      op.getNumDpsInits() != 1)
    return {};
  AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outputMap.getNumResults() == 0 ||
      outputMap.getResults().back() != getAffineDimExpr(numLoops - 2, op.getContext()))
    return {};
  SmallVector<unsigned> order;
  for (unsigned i = 0; i + 2 < numLoops; ++i)
    order.push_back(i);
  order.append({numLoops - 1, numLoops - 2});
  return order;
}

namespace {
struct NibbleCPUMatmulLoopOrderPass final
    : nibble::impl::NibbleCPUMatmulLoopOrderPassBase<NibbleCPUMatmulLoopOrderPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      SmallVector<unsigned> order = matmulLoopOrder(op);
      if (order.empty())
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order)))
        return signalPassFailure();
    }
  }
};
} // namespace
