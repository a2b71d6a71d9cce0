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

/// Below this many warps the GPU has too few loads in flight to cover HBM
/// latency (132 SMs x 32): the warps of a block then split K instead of
/// taking separate columns.
inline constexpr int64_t kWarpsToFillTheGpu = 4096;

/// How many of a block's `warpsPerBlock` warps share the same columns and
/// split K between them, given `warps` warps without a split: a power of
/// two, enough to reach kWarpsToFillTheGpu warps, and no more than there
/// are `steps` of K.
inline int64_t chooseKSplit(int64_t warps, int64_t steps, int64_t warpsPerBlock) {
  int64_t split = 1;
  while (split < warpsPerBlock && warps * split < kWarpsToFillTheGpu && split * 2 <= steps)
    split *= 2;
  return split;
}

/// Emits, before `op` (a bufferized generic over weights in the MMA layout,
/// MmaLayout.h), the tensor-core kernel computing its output into `out`:
/// `op`'s f32 output, or a float16/bfloat16 buffer receiving it rounded.
/// Does not erase `op`.
void emitMmaMatmulKernel(linalg::GenericOp op, const DequantKernelShape &shape, Value out);

} // namespace mlir::nibble

#endif // NIBBLE_LIB_TARGET_CUDA_DEQUANTKERNELS_H
