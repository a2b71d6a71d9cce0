//===- MatmulMatchers.h - recognising weight matmuls ------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_MATMULMATCHERS_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_MATMULMATCHERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::nibble {

/// True if `matmul` is a plain row-major `A[M,K] x B[K,N]` product that starts
/// from a zero-filled accumulator, i.e. it computes exactly A x B and so can
/// be replaced by a nibble.matmul.
bool isPlainZeroInitMatmul(linalg::MatmulOp matmul);

/// The dictionary attribute `marker` of a linalg.generic on buffers with one
/// init and `minInputs` to `maxInputs` inputs, every operand static, dense
/// and row-major (what a kernel emitter indexes directly); null otherwise.
DictionaryAttr getMarkedDenseBufferGeneric(linalg::GenericOp op, StringRef marker,
                                           unsigned minInputs, unsigned maxInputs);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_MATMULMATCHERS_H
