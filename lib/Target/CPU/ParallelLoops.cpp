//===- ParallelLoops.cpp - Thread the outer loops of large linalg ops -----===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUPARALLELLOOPSPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

/// A dynamic extent is assumed to be this large when estimating work.
static constexpr int64_t kAssumedDynamicExtent = 16;
/// Split the threaded loops into at least this many chunks (when they have
/// that many iterations), so that thread counts up to it find work.
static constexpr int64_t kTargetChunks = 32;
/// The innermost loop is split only when the outer loops give fewer chunks
/// than this: splitting it shortens the vector loop.
static constexpr int64_t kInnermostSplitBelow = 8;
/// A chunk of the innermost loop stays a multiple of this many iterations,
/// so LLVM still vectorizes it with full vectors.
static constexpr int64_t kInnermostChunkMultiple = 64;

static int64_t saturatingProduct(int64_t a, int64_t b) {
  return static_cast<int64_t>(std::min<uint64_t>(
      llvm::SaturatingMultiply<uint64_t>(a, b), std::numeric_limits<int64_t>::max()));
}

/// Scalar operations the op executes: iterations times body operations.
static int64_t estimatedWork(linalg::LinalgOp op) {
  int64_t work = std::max<int64_t>(1, std::distance(op.getBlock()->begin(),
                                                    op.getBlock()->end()) - 1);
  for (int64_t extent : op.getStaticLoopRanges()) {
    int64_t known = ShapedType::isDynamic(extent) ? kAssumedDynamicExtent : extent;
    if (known == 0)
      return 0;
    work = saturatingProduct(work, known);
  }
  return work;
}

/// Tile sizes that split the leading parallel loops of `op` into chunks (0
/// leaves a loop whole), or an empty vector if no loop is worth splitting.
/// Unit loops are skipped; the first reduction loop ends the search, since
/// splitting loops inside it would race on the accumulator.
static SmallVector<int64_t> chunkSizes(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> sizes(ranges.size(), 0);
  int64_t chunks = 1;
  for (auto [dim, extent] : llvm::enumerate(ranges)) {
    if (chunks >= kTargetChunks || iterators[dim] != utils::IteratorType::parallel)
      break;
    if (extent == 1)
      continue;
    bool innermost = dim + 1 == ranges.size();
    if (!innermost) {
      sizes[dim] = 1;
      chunks = saturatingProduct(
          chunks, ShapedType::isDynamic(extent) ? kAssumedDynamicExtent : extent);
      continue;
    }
    // The innermost loop is the vectorized one: split it into long pieces.
    if (chunks >= kInnermostSplitBelow || ShapedType::isDynamic(extent) ||
        extent < 2 * kInnermostChunkMultiple)
      break;
    int64_t wanted = llvm::divideCeil(kTargetChunks, chunks);
    sizes[dim] = llvm::alignTo(llvm::divideCeil(extent, wanted), kInnermostChunkMultiple);
    chunks *= llvm::divideCeil(extent, sizes[dim]);
  }
  if (chunks < 2)
    return {};
  return sizes;
}

namespace {
struct NibbleCPUParallelLoopsPass final
    : nibble::impl::NibbleCPUParallelLoopsPassBase<NibbleCPUParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation().walk([&](linalg::LinalgOp op) {
      // Ops inside a kernel's parallel loops already run on a thread each.
      if (op.hasPureBufferSemantics() && !op->getParentOfType<scf::ParallelOp>() &&
          estimatedWork(op) >= minWork)
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      SmallVector<int64_t> sizes = chunkSizes(op);
      if (sizes.empty())
        continue;
      rewriter.setInsertionPoint(op);
      linalg::LinalgTilingOptions options;
      options.setTileSizes(sizes).setLoopType(linalg::LinalgTilingLoopType::ParallelLoops);
      if (failed(linalg::tileLinalgOp(rewriter, op, options))) {
        op->emitError("nibble-cpu-parallel-loops: could not split the op's loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
