//===- DeviceBuffers.cpp - the host function's buffers on the device ------===//

#include "nibble/Target/CUDA/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECUDADEVICEBUFFERSPASS
#include "nibble/Target/CUDA/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {
struct NibbleCUDADeviceBuffersPass final
    : nibble::impl::NibbleCUDADeviceBuffersPassBase<NibbleCUDADeviceBuffersPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    WalkResult result = getOperation().walk<WalkOrder::PreOrder>([&](Operation *op) -> WalkResult {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        rewriter.setInsertionPoint(alloc);
        auto deviceAlloc = gpu::AllocOp::create(
            rewriter, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
            /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), /*hostShared=*/false);
        rewriter.replaceOp(alloc, deviceAlloc.getMemref());
        return WalkResult::advance();
      }
      if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        rewriter.setInsertionPoint(dealloc);
        rewriter.replaceOpWithNewOp<gpu::DeallocOp>(dealloc, /*asyncToken=*/Type(),
                                                    ValueRange(), dealloc.getMemref());
        return WalkResult::advance();
      }
      if (isa<memref::LoadOp, memref::StoreOp, memref::CopyOp, memref::AllocaOp>(op)) {
        op->emitOpError("touches memory on the host; the CUDA target runs every "
                        "computation in kernels and cannot lower this model yet");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
