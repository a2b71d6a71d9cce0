//===- CUDATarget.h - NVIDIA GPU code generation ----------------*- C++ -*-===//

#ifndef NIBBLE_TARGET_CUDA_CUDATARGET_H
#define NIBBLE_TARGET_CUDA_CUDATARGET_H

#include "llvm/Support/Error.h"

#include <string>

namespace mlir::nibble {

/// The GPU a CUDA build is for and the toolkit that assembles its kernels.
struct CUDATarget {
  /// "sm_80" or "sm_90".
  std::string chip;
  /// The CUDA toolkit root: bin/ptxas assembles PTX into cubin.
  std::string toolkitPath;
  /// libdevice, linked into kernels for math functions (exp, tanh, erf...).
  std::string libdevicePath;
  std::string describe() const { return "cuda " + chip; }
};

/// Resolves `--target=cuda-sm80` / `cuda-sm90` and finds the CUDA toolkit
/// (CUDA_HOME, CUDA_PATH, CUDA_ROOT, /usr/local/cuda, then ptxas on PATH).
/// Returns nullopt-like error for unknown names or a missing toolkit.
llvm::Expected<CUDATarget> resolveCUDATarget(llvm::StringRef name);

/// True for the target names resolveCUDATarget accepts.
bool isCUDATargetName(llvm::StringRef name);

} // namespace mlir::nibble

#endif // NIBBLE_TARGET_CUDA_CUDATARGET_H
