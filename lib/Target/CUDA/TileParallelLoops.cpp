//===- TileParallelLoops.cpp - loop nests as blocks of threads ------------===//
//
// Tiles every outermost scf.parallel of the host function into a grid loop
// and a block loop and attaches the GPU mapping itself: upstream's
// gpu-map-parallel-loops gives the outermost dimension to thread x, which
// makes neighbouring threads touch addresses a whole row apart. Here the
// innermost (contiguous) dimension goes to x, so a warp's accesses coalesce.
// Parallel loops nested in a thread's work become scf.for loops.
//
//===----------------------------------------------------------------------===//

#include "nibble/Target/CUDA/Passes.h"

#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECUDATILEPARALLELLOOPSPASS
#include "nibble/Target/CUDA/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// True for host-side ops that neither read nor write buffer contents.
bool staysOnHost(Operation *op) {
  if (isa<scf::ParallelOp, gpu::LaunchOp, memref::AllocOp, memref::DeallocOp, memref::GetGlobalOp,
          func::ReturnOp>(op) ||
      isa<ViewLikeOpInterface>(op) || op->hasTrait<OpTrait::ConstantLike>())
    return true;
  return op->getNumRegions() == 0 && isMemoryEffectFree(op);
}

/// Wraps host code that touches memory in a one-iteration parallel loop.
LogicalResult wrapSerialCode(func::FuncOp func) {
  SmallVector<Operation *> serial;
  for (Block &block : func.getBody())
    for (Operation &op : block)
      if (!staysOnHost(&op))
        serial.push_back(&op);
  for (Operation *op : serial) {
    if (!op->use_empty())
      return op->emitOpError("computes a value the host needs from device memory; "
                             "the CUDA target cannot run this model yet");
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ParallelOp::create(b, loc, ValueRange{zero}, ValueRange{one},
                                        ValueRange{one});
    op->moveBefore(loop.getBody()->getTerminator());
  }
  return success();
}

/// Tile sizes giving the innermost dimensions up to `threads` iterations.
SmallVector<int64_t> chooseTileSizes(scf::ParallelOp loop, int64_t threads) {
  SmallVector<int64_t> sizes(loop.getNumLoops(), 1);
  int64_t budget = threads;
  int64_t mapped = 0;
  for (int64_t d = loop.getNumLoops() - 1; d >= 0 && mapped < 3 && budget > 1; --d, ++mapped) {
    auto lower = getConstantIntValue(loop.getLowerBound()[d]);
    auto upper = getConstantIntValue(loop.getUpperBound()[d]);
    auto step = getConstantIntValue(loop.getStep()[d]);
    if (!lower || !upper || !step || *step <= 0)
      break;
    int64_t trips = llvm::divideCeil(*upper - *lower, *step);
    sizes[d] = std::max<int64_t>(1, std::min(trips, budget));
    budget /= sizes[d];
  }
  return sizes;
}

enum class MapTo { Blocks, Threads, Sequential };

/// Maps the dimensions of `loop`: innermost to x, then y, z; the rest run
/// sequentially inside each thread.
void mapLoop(scf::ParallelOp loop, MapTo target) {
  MLIRContext *ctx = loop.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
  int64_t n = loop.getNumLoops();
  for (int64_t d = 0; d < n; ++d) {
    int64_t fromInnermost = n - 1 - d;
    gpu::Processor processor = gpu::Processor::Sequential;
    if (fromInnermost < 3 && target != MapTo::Sequential)
      processor = static_cast<gpu::Processor>(
          (target == MapTo::Threads ? static_cast<int64_t>(gpu::Processor::ThreadX)
                                    : static_cast<int64_t>(gpu::Processor::BlockX)) +
          fromInnermost);
    mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(ctx, processor, identity, identity));
  }
  (void)gpu::setMappingAttr(loop, mapping);
}

struct NibbleCUDATileParallelLoopsPass final
    : nibble::impl::NibbleCUDATileParallelLoopsPassBase<NibbleCUDATileParallelLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (failed(wrapSerialCode(func)))
      return signalPassFailure();
    SmallVector<scf::ParallelOp> outermost;
    for (Block &block : func.getBody())
      for (auto loop : block.getOps<scf::ParallelOp>())
        outermost.push_back(loop);
    for (scf::ParallelOp loop : outermost) {
      SmallVector<int64_t> sizes = chooseTileSizes(loop, threadsPerBlock);
      auto [grid, block] = scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
      mapLoop(grid, MapTo::Blocks);
      mapLoop(block, MapTo::Threads);
      // Loops nested inside a thread's work run sequentially: as scf.for
      // nests (convert-parallel-loops-to-gpu fails on a mapped parallel
      // loop inside an scf.for, as a linalg op whose parallel dimensions
      // follow its reductions has), or, when they carry reductions, mapped
      // sequential.
      SmallVector<scf::ParallelOp> nested;
      block.getBody()->walk([&](scf::ParallelOp op) { nested.push_back(op); });
      IRRewriter rewriter(&getContext());
      for (scf::ParallelOp op : nested) { // innermost first
        rewriter.setInsertionPoint(op);
        if (op.getNumResults() != 0 || failed(scf::parallelForToNestedFors(rewriter, op)))
          mapLoop(op, MapTo::Sequential);
      }
    }
  }
};

} // namespace
