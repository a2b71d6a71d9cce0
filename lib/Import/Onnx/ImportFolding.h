//===- ImportFolding.h - fold a node's results to constants -----*- C++ -*-===//
//
// Shape arithmetic in exported models (Shape -> Cast -> Mul -> Where ->
// Expand, ...) must be constant at import so later nodes see static
// parameters. Rather than an evaluator per ONNX op, the importer builds each
// node's IR as usual and then folds that IR when all its inputs are small
// constants: upstream folders for tensor/arith ops, and a scalar interpreter
// of linalg.generic bodies built on the same folders.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_IMPORTFOLDING_H
#define NIBBLE_LIB_IMPORT_ONNX_IMPORTFOLDING_H

#include "mlir/IR/Builders.h"

namespace mlir::nibble::onnx_import {

/// If `value` is computed only from constants with at most a few thousand
/// elements, returns an arith.constant with its contents (inserted before
/// the builder's insertion point); otherwise returns `value`.
Value foldToConstant(OpBuilder &builder, Value value);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_IMPORTFOLDING_H
