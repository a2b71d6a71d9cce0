//===- DequantKernels.h - the fused dequant-matmul GPU kernels --*- C++ -*-===//
//
// What the emitters of nibble-cuda-dequant-matmul-kernels share: the shape
// of one packed matmul, read from its marked generic.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_LIB_TARGET_CUDA_DEQUANTKERNELS_H
#define NIBBLE_LIB_TARGET_CUDA_DEQUANTKERNELS_H

#include "nibble/Target/CUDA/Passes.h"

namespace mlir::nibble {

/// What a kernel needs to know about one packed matmul.
struct DequantKernelShape {
  int64_t m, n, k, bits, groupSize;
  bool isSigned, hasZeroPoint;
  DequantKernelLayout layout;
};

/// Emits, before `op` (a bufferized generic over weights in the MMA layout,
/// MmaLayout.h), the tensor-core kernel computing its output. Does not
/// erase `op`.
void emitMmaMatmulKernel(linalg::GenericOp op, const DequantKernelShape &shape);

} // namespace mlir::nibble

#endif // NIBBLE_LIB_TARGET_CUDA_DEQUANTKERNELS_H
