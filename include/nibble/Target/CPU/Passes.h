//===- Passes.h - CPU target passes -----------------------------*- C++ -*-===//

#ifndef NIBBLE_TARGET_CPU_PASSES_H
#define NIBBLE_TARGET_CPU_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nibble {

#define GEN_PASS_DECL
#include "nibble/Target/CPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nibble/Target/CPU/Passes.h.inc"

} // namespace mlir::nibble

#endif // NIBBLE_TARGET_CPU_PASSES_H
