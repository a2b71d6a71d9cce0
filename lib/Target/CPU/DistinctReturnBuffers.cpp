//===- DistinctReturnBuffers.cpp - one result per returned buffer ---------===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLEDISTINCTRETURNBUFFERSPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

namespace {
struct NibbleDistinctReturnBuffersPass final
    : nibble::impl::NibbleDistinctReturnBuffersPassBase<NibbleDistinctReturnBuffersPass> {
  void runOnOperation() override {
    getOperation().walk([](func::ReturnOp ret) {
      llvm::SmallPtrSet<Value, 8> returned;
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value value = operand.get();
        auto type = dyn_cast<MemRefType>(value.getType());
        // Function boundaries are bufferized with identity layouts.
        if (!type || !type.getLayout().isIdentity() || returned.insert(value).second)
          continue;
        // Dynamic sizes are read off the returned buffer itself.
        SmallVector<Value> dynamicSizes;
        for (int64_t d = 0; d < type.getRank(); ++d)
          if (type.isDynamicDim(d))
            dynamicSizes.push_back(memref::DimOp::create(b, ret.getLoc(), value, d));
        Value copy = memref::AllocOp::create(b, ret.getLoc(), type, dynamicSizes);
        memref::CopyOp::create(b, ret.getLoc(), value, copy);
        operand.set(copy);
      }
    });
  }
};
} // namespace
