//===- StridedCopiesToLinalg.cpp - copies binaries can run without libs ---===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUSTRIDEDCOPIESTOLINALGPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

/// True if `type` is a dense row-major buffer (memcpy can copy it).
static bool isContiguous(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && memref.getLayout().isIdentity();
}

namespace {
struct NibbleCPUStridedCopiesToLinalgPass final
    : nibble::impl::NibbleCPUStridedCopiesToLinalgPassBase<
          NibbleCPUStridedCopiesToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (allCopies || !isContiguous(copy.getSource().getType()) ||
          !isContiguous(copy.getTarget().getType()))
        copies.push_back(copy);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(),
                                                  copy.getTarget());
    }
  }
};
} // namespace
