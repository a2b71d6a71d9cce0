//===- ResidentConstants.cpp - kernels read weights from device memory ----===//

#include "nibble/Target/CUDA/Passes.h"

#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECUDARESIDENTCONSTANTSPASS
#include "nibble/Target/CUDA/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

/// The runtime function that returns the device copy of a host constant.
static constexpr llvm::StringLiteral kResidentFunction = "nibble_cuda_resident";

namespace {
struct NibbleCUDAResidentConstantsPass final
    : nibble::impl::NibbleCUDAResidentConstantsPassBase<NibbleCUDAResidentConstantsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<LLVM::AddressOfOp> uses;
    // Only host functions: kernel modules are serialized by now or skipped.
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      func.walk([&](LLVM::AddressOfOp address) {
        auto global = symbols.lookup<LLVM::GlobalOp>(address.getGlobalName());
        if (global && global.getConstant())
          uses.push_back(address);
      });
    if (uses.empty())
      return;

    OpBuilder b(module.getBodyRegion());
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    auto i64 = b.getI64Type();
    auto resident = symbols.lookup<LLVM::LLVMFuncOp>(kResidentFunction);
    if (!resident) {
      resident = LLVM::LLVMFuncOp::create(b, module.getLoc(), kResidentFunction,
                                          LLVM::LLVMFunctionType::get(ptrType, {ptrType, i64}));
      symbols.insert(resident);
    }
    DataLayout layout(module);
    for (LLVM::AddressOfOp address : uses) {
      auto global = symbols.lookup<LLVM::GlobalOp>(address.getGlobalName());
      b.setInsertionPointAfter(address);
      Value bytes = LLVM::ConstantOp::create(
          b, address.getLoc(), i64,
          b.getI64IntegerAttr(layout.getTypeSize(global.getGlobalType()).getFixedValue()));
      auto call = LLVM::CallOp::create(b, address.getLoc(), resident,
                                       ValueRange{address.getResult(), bytes});
      address.getResult().replaceAllUsesExcept(call.getResult(), call);
    }
  }
};
} // namespace
