//===- Pipelines.h - nibble's compilation phases ----------------*- C++ -*-===//
//
// nibble compiles in named phases; the IR after each one is valid and can be
// printed (`nibble-compile --compile-to=PHASE --emit=mlir`) and fed back to
// nibble-opt:
//
//   import    ONNX -> func.func over linalg/tensor/arith/math + nibble ops
//   quantize  constant matmul weights -> nibble.matmul over int8/int4
//   fuse      dequantize + matmul -> nibble.matmul, then canonicalize
//   lower     target lowering down to the LLVM dialect
//   llvm      LLVM IR (translation; no MLIR pass)
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_PIPELINES_H
#define NIBBLE_COMPILER_PIPELINES_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir {
class OpPassManager;
namespace nibble {

enum class Phase { Import, Quantize, Fuse, Lower, LLVM };

/// Parses a phase name ("import", "quantize", ...).
std::optional<Phase> parsePhase(llvm::StringRef name);
/// The names of all phases, comma separated, for help and error messages.
llvm::StringRef phaseNames();

/// Options of the quantize phase.
struct QuantizeOptions {
  /// "none", "int8", "int4", "w8a8" or "auto": what layers without a
  /// `nibble.precision` of their own become ("auto" and "w8a8" are decided
  /// per layer by the QuantizationPlanner, which sets those attributes).
  std::string mode = "none";
  /// Rows of K per scale for int4.
  int64_t groupSize = 128;
  /// Unsigned storage with zero points instead of symmetric signed.
  bool asymmetric = false;
  /// For mode "w8a8": int8 activations with one calibrated scale ("static")
  /// or one scale per row computed at run time ("dynamic").
  std::string activations = "static";
  /// For mode "w8a8": SmoothQuant migration strength alpha in (0, 1]; 0 is
  /// off. Needs calibration data.
  double smoothQuant = 0.0;
};

/// Adds the quantize phase: layers with a `nibble.precision` get it, the
/// others `mode` ("none" leaves them float).
void buildQuantizePhase(OpPassManager &pm, const QuantizeOptions &options);

/// Adds the fuse phase: dequantize+matmul fusion, then canonicalization.
void buildFusePhase(OpPassManager &pm);

/// What the CPU lowering needs to know about the target.
struct CPULoweringOptions {
  /// int8 dot products with AVX-512 VNNI (vpdpbusd); plain vector
  /// arithmetic otherwise.
  bool vnni = true;
  /// AVX-512 F permutes (the GEMV kernel unpacks int4 by table lookup).
  bool avx512 = true;
};

/// Adds the CPU lowering: nibble -> linalg -> bufferized loops -> LLVM
/// dialect, with the model entry taking one bare pointer per input and
/// output (outputs written in place). Matmul kernels split their columns
/// across OpenMP threads.
void buildCPULoweringPhase(OpPassManager &pm, const CPULoweringOptions &options);

/// Adds the first half of the CUDA lowering, which needs no toolkit:
/// prepacked fused dequant-GEMV or tensor-core kernels for nibble.matmul
/// (`matmulKernel`: auto, gemv or mma; see nibble-cuda-pack-matmul-weights),
/// every other op as a loop kernel, device buffers, outlined gpu.module
/// kernels launched asynchronously on one stream.
void buildCUDAKernelPhase(OpPassManager &pm, llvm::StringRef matmulKernel = "auto");

/// Adds the second half: kernels to NVVM and cubin for `chip` (ptxas from
/// `toolkitPath`, math from `libdevicePath`), the host to the LLVM dialect
/// with one bare pointer (device memory) per input and output.
/// `format` is gpu-module-to-binary's: "bin" (cubin, the default) or "isa"
/// (PTX text, for inspection; needs no ptxas).
void buildCUDABinaryPhase(OpPassManager &pm, llvm::StringRef chip,
                          llvm::StringRef toolkitPath, llvm::StringRef libdevicePath,
                          llvm::StringRef format = "bin");

/// Registers the phases as named pipelines for nibble-opt
/// (`--nibble-fuse-phase`, `--nibble-cpu-lowering`, `--nibble-cuda-kernels`,
/// `--nibble-cuda-binary`).
void registerNibblePipelines();

} // namespace nibble
} // namespace mlir

#endif // NIBBLE_COMPILER_PIPELINES_H
