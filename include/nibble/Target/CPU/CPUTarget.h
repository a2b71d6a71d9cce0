//===- CPUTarget.h - x86 CPU code generation --------------------*- C++ -*-===//

#ifndef NIBBLE_TARGET_CPU_CPUTARGET_H
#define NIBBLE_TARGET_CPU_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace mlir::nibble {

/// The machine a CPU build is for.
struct CPUTarget {
  std::string triple;
  std::string cpu;
  std::string features;
  /// AVX-512 VNNI (vpdpbusd) for int8 dot products.
  bool hasVNNI = false;
  /// AVX-512 F (vpermps over 16 lanes unpacks int4 by table lookup).
  bool hasAVX512 = false;
  /// "x86_64 skylake-avx512" and the like, for --info.
  std::string describe() const { return triple + " " + cpu; }
};

/// Resolves a `--target` name: "host" (the running CPU), "x86-64-avx512"
/// or "x86-64-avx2". Errors name the accepted values.
llvm::Expected<CPUTarget> resolveCPUTarget(llvm::StringRef name);

/// Translates a module in the LLVM dialect to LLVM IR for `target` and
/// optimizes it at -O3.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateToOptimizedLLVMIR(ModuleOp module, llvm::LLVMContext &llvmContext,
                           const CPUTarget &target);

/// Writes `llvmModule` as a position-independent object file.
llvm::Error emitObjectFile(llvm::Module &llvmModule, const CPUTarget &target,
                           llvm::StringRef path);

} // namespace mlir::nibble

#endif // NIBBLE_TARGET_CPU_CPUTARGET_H
