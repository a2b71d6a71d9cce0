//===- ApproximateMath.cpp - vectorizable float32 transcendentals --------===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUAPPROXIMATEMATHPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

namespace {
struct NibbleCPUApproximateMathPass final
    : nibble::impl::NibbleCPUApproximateMathPassBase<NibbleCPUApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      name.consume_front("math.");
      return llvm::is_contained({"erf", "exp", "expm1", "tanh", "log", "log1p", "log2"},
                                name);
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
