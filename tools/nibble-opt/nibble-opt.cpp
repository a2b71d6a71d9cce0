//===- nibble-opt.cpp - run nibble and upstream passes on MLIR ------------===//
//
// mlir-opt with the nibble dialect, passes and phase pipelines registered.
//
//===----------------------------------------------------------------------===//

#include "nibble/Compiler/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::nibble::registerAllNibbleDialects(registry);
  mlir::nibble::registerAllNibblePasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "nibble optimizer driver\n", registry));
}
