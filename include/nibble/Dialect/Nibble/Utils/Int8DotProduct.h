//===- Int8DotProduct.h - integer products for dot-product kernels -*- C++ -*-===//
//
// The i32 product of int8 activations and a constant int8 weight in the form
// CPU kernels with int8 dot-product instructions (x86 vpdpbusd) take: the
// weight packed for them (packForInt8Dot) and a generic marked
// kInt8DotMatmulAttr. Built by the lowering of nibble.integer_matmul (W8A8)
// and by the importer for ONNX MatMulInteger with a constant weight.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_INT8DOTPRODUCT_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_INT8DOTPRODUCT_H

#include "mlir/IR/Builders.h"

namespace mlir::nibble {

/// Marks the i32 product built by buildInt8DotProduct: i8 activations
/// [M, K] times the weight packed for int8 dot products ([ceil(N/16),
/// ceil(K/4), 64]) into the i32 init [M, N]. The body adds `(x xor 0x80) *
/// w`, x read as unsigned (what vpdpbusd multiplies): the result is the
/// init plus sum_k (x + 128) * w, so an init of -128 times the column's
/// weight sum gives exactly sum x * w.
inline constexpr llvm::StringLiteral kInt8DotMatmulAttr = "nibble.int8_dot_matmul";

/// sum_k w[k, n] of a row-major K x N weight.
SmallVector<int64_t> weightColumnSums(ArrayRef<int64_t> weight, int64_t k, int64_t n);

/// `init` [M, N] (i32) + sum_k (x[m, k] + 128) * weight[k, n] for i8
/// activations x [M, K] and a signed int8 weight given by its values: the
/// packed weight constant and the marked linalg.generic (see
/// kInt8DotMatmulAttr).
Value buildInt8DotProduct(OpBuilder &builder, Location loc, Value x,
                          ArrayRef<int64_t> weight, int64_t k, int64_t n, Value init);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_INT8DOTPRODUCT_H
