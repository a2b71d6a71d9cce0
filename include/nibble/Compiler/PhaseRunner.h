//===- PhaseRunner.h - running a phase's passes with one-line errors -*- C++ -*-===//

#ifndef NIBBLE_COMPILER_PHASERUNNER_H
#define NIBBLE_COMPILER_PHASERUNNER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

namespace mlir {
class OpPassManager;
namespace nibble {

/// Runs the passes `build` adds on `module`. A failure is one line:
/// "<phase> phase failed: <first error> (node '<name>')".
llvm::Error runPhase(ModuleOp module, llvm::function_ref<void(OpPassManager &)> build,
                     llvm::StringRef phase);

} // namespace nibble
} // namespace mlir

#endif // NIBBLE_COMPILER_PHASERUNNER_H
