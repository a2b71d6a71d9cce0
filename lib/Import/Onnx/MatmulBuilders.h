//===- MatmulBuilders.h - weight matmuls for the ONNX importer --*- C++ -*-===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_MATMULBUILDERS_H
#define NIBBLE_LIB_IMPORT_ONNX_MATMULBUILDERS_H

#include "ImportContext.h"

namespace mlir::nibble::onnx_import {

/// lhs[..., K] x weight[K, N] as one 2-D linalg.matmul over all rows,
/// tagged with the node's name and op type (the unit the quantize and fuse
/// phases work on).
Value buildWeightMatmul(NodeImporter &imp, Value lhs, Value weight);

/// A[..., M, K] x B[..., K, N] of two activations, both of rank >= 2, with
/// batch dims broadcast numpy-style; null if they do not broadcast.
Value buildBatchedMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_MATMULBUILDERS_H
