//===- Passes.h - CUDA target passes ----------------------------*- C++ -*-===//

#ifndef NIBBLE_TARGET_CUDA_PASSES_H
#define NIBBLE_TARGET_CUDA_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nibble {

#define GEN_PASS_DECL
#include "nibble/Target/CUDA/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nibble/Target/CUDA/Passes.h.inc"

/// The discardable attribute that marks a packed dequant-matmul generic.
/// Its value is a dictionary {bits, signed, group_size, has_zero_point,
/// layout}.
inline constexpr llvm::StringLiteral kDequantMatmulAttr = "nibble.dequant_matmul";

/// The weight layout of a packed dequant-matmul, i.e. the kernel it is for:
/// the CUDA-core GEMV (GemvLayout.h) or the tensor-core GEMM (MmaLayout.h).
enum class DequantKernelLayout { Gemv, Mma };
inline llvm::StringRef stringifyLayout(DequantKernelLayout layout) {
  return layout == DequantKernelLayout::Mma ? "mma" : "gemv";
}

/// `bits` of a packed dequant-matmul whose fields are unquantized weights:
/// float16 ones (tensor-core layout only) and float32 ones (GEMV only).
inline constexpr int64_t kFloat16WeightBits = 16;
inline constexpr int64_t kFloat32WeightBits = 32;

} // namespace mlir::nibble

#endif // NIBBLE_TARGET_CUDA_PASSES_H
