//===- Passes.h - nibble dialect passes -------------------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_H
#define NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"
#include "nibble/Dialect/Nibble/IR/NibbleDialect.h"

namespace mlir::nibble {

#define GEN_PASS_DECL
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_H
