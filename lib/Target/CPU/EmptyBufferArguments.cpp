//===- EmptyBufferArguments.cpp - empty tensors through the bare-pointer ABI ===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLEEMPTYBUFFERARGUMENTSPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

namespace {
struct NibbleEmptyBufferArgumentsPass final
    : nibble::impl::NibbleEmptyBufferArgumentsPassBase<NibbleEmptyBufferArgumentsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &entry = func.getBody().front();
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    SmallVector<Type> argumentTypes(func.getArgumentTypes());
    for (BlockArgument argument : entry.getArguments()) {
      auto type = dyn_cast<MemRefType>(argument.getType());
      if (!type || !type.hasStaticShape() || type.getNumElements() != 0 ||
          !type.getLayout().isIdentity())
        continue;
      auto placeholder = MemRefType::get({1}, type.getElementType(), AffineMap(),
                                         type.getMemorySpace());
      argument.setType(placeholder);
      argumentTypes[argument.getArgNumber()] = placeholder;
      SmallVector<int64_t> strides(type.getRank(), 1);
      for (int64_t d = type.getRank() - 2; d >= 0; --d)
        strides[d] = strides[d + 1] * type.getDimSize(d + 1);
      auto view = memref::ReinterpretCastOp::create(b, func.getLoc(), type, argument,
                                                    /*offset=*/0, type.getShape(), strides);
      argument.replaceAllUsesExcept(view.getResult(), view);
    }
    func.setType(FunctionType::get(&getContext(), argumentTypes, func.getResultTypes()));
  }
};
} // namespace
