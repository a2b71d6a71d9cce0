//===- InitAll.cpp - register everything nibble uses ----------------------===//

#include "nibble/Compiler/InitAll.h"

#include "nibble/Conversion/Passes.h"
#include "nibble/Dialect/Nibble/IR/NibbleDialect.h"
#include "nibble/Dialect/Nibble/Transforms/Passes.h"
#include "nibble/Compiler/Pipelines.h"
#include "nibble/Target/CPU/Passes.h"
#include "nibble/Target/CUDA/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::nibble::registerAllNibbleDialects(DialectRegistry &registry) {
  registry.insert<NibbleDialect>();
  // The pipelines reach most of upstream (linalg, bufferization, vector,
  // LLVM, translation interfaces); registering all of it keeps nibble-opt
  // able to parse anything the pipelines print.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // The CUDA lowering serializes gpu.module ops: that needs the NVVM target
  // and the LLVM IR translations of every dialect inside a kernel module.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

void mlir::nibble::registerAllNibblePasses() {
  mlir::registerAllPasses();
  registerNibblePasses();
  registerNibbleConversionPasses();
  registerNibbleCPUPasses();
  registerNibbleCUDAPasses();
  registerNibblePipelines();
}
