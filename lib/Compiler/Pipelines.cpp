//===- Pipelines.cpp - nibble's compilation phases ------------------------===//

#include "nibble/Compiler/Pipelines.h"

#include "nibble/Conversion/Passes.h"
#include "nibble/Dialect/Nibble/Transforms/Passes.h"
#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::nibble;

std::optional<Phase> mlir::nibble::parsePhase(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Phase>>(name)
      .Case("import", Phase::Import)
      .Case("quantize", Phase::Quantize)
      .Case("fuse", Phase::Fuse)
      .Case("lower", Phase::Lower)
      .Case("llvm", Phase::LLVM)
      .Default(std::nullopt);
}

llvm::StringRef mlir::nibble::phaseNames() {
  return "import, quantize, fuse, lower, llvm";
}

void mlir::nibble::buildQuantizePhase(OpPassManager &pm,
                                      const QuantizeOptions &options) {
  if (options.mode == "none")
    return;
  NibbleQuantizeWeightsPassOptions passOptions;
  passOptions.mode = options.mode;
  passOptions.groupSize = options.groupSize;
  pm.addNestedPass<func::FuncOp>(createNibbleQuantizeWeightsPass(passOptions));
}

void mlir::nibble::buildFusePhase(OpPassManager &pm) {
  // Fusion runs before any canonicalization: folding would turn constant
  // dequantized weights back into float constants.
  pm.addNestedPass<func::FuncOp>(createNibbleFuseDequantMatmulPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// The upstream part of the CPU lowering, from linalg on tensors to the LLVM
/// dialect. Each stage's reason:
///  - elementwise chains fuse into single loop nests (our pass: upstream's
///    also propagates reshapes, which splits matmul loops);
///  - one-shot bufferization with identity layouts at function boundaries
///    gives the entry plain dense buffers;
///  - buffer-results-to-out-params makes outputs caller-allocated, so the
///    runtime owns every I/O buffer and the entry returns nothing;
///  - the deallocation pipeline frees intermediate buffers;
///  - copies of strided buffers become loops (their library call,
///    memrefCopy, is not linked into binaries);
///  - matmuls are generalized and their K loop moved outside N so LLVM
///    vectorizes the innermost loop across contiguous weight rows;
///  - linalg becomes loops, then everything goes to LLVM with the
///    bare-pointer calling convention for the entry.
static constexpr llvm::StringLiteral kCPUUpstreamPipeline =
    "canonicalize,cse,"
    "func.func(linalg-generalize-named-ops,nibble-cpu-fuse-elementwise,"
    "nibble-cpu-matmul-loop-order),canonicalize,cse,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "buffer-results-to-out-params{hoist-static-allocs=true modify-public-functions=true},"
    "func.func(buffer-deallocation-pipeline),"
    "func.func(nibble-cpu-strided-copies-to-linalg,convert-linalg-to-loops),"
    "lower-affine,convert-scf-to-cf,"
    "canonicalize,"
    "expand-strided-metadata,lower-affine,"
    "convert-math-to-llvm,convert-math-to-libm,"
    "finalize-memref-to-llvm,"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=true},"
    "convert-ub-to-llvm,"
    "reconcile-unrealized-casts,"
    "canonicalize";

void mlir::nibble::buildCPULoweringPhase(OpPassManager &pm) {
  pm.addPass(createConvertNibbleToLinalgPass());
  if (failed(parsePassPipeline(kCPUUpstreamPipeline, pm)))
    llvm::report_fatal_error("nibble: the built-in CPU pipeline does not parse");
}

void mlir::nibble::registerNibblePipelines() {
  PassPipelineRegistration<>(
      "nibble-fuse-phase", "the fuse phase: dequantize+matmul fusion, cleanup",
      [](OpPassManager &pm) { buildFusePhase(pm); });
  PassPipelineRegistration<>(
      "nibble-cpu-lowering", "lower nibble/linalg on tensors to the LLVM dialect",
      [](OpPassManager &pm) { buildCPULoweringPhase(pm); });
}
