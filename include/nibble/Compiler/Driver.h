//===- Driver.h - ONNX file in, executable/library/IR out -------*- C++ -*-===//
//
// The library behind nibble-compile and the Python module: runs the phases
// of Pipelines.h on an imported model and writes what `--emit` asks for.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_DRIVER_H
#define NIBBLE_COMPILER_DRIVER_H

#include "nibble/Compiler/Pipelines.h"
#include "nibble/Compiler/QuantizationPlanner.h"
#include "nibble/Import/Onnx/OnnxImporter.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mlir::nibble {

enum class EmitKind { Executable, Library, Object, MLIR, LLVMIR };

/// Parses an `--emit` value: exe, lib, obj, mlir, llvm.
std::optional<EmitKind> parseEmitKind(llvm::StringRef name);

struct CompilerOptions {
  ImportOptions import;
  QuantizeOptions quantize;
  /// Calibration, budget, overrides and method (QuantizationPlanner.h).
  MeasurementOptions measurement;
  /// Where to write the quantization report as JSON ("" = nowhere), when
  /// the model is measured (see MeasurementOptions::measure).
  std::string reportPath;
  /// Where to write the report as an SVG chart ("" = nowhere).
  std::string reportPlotPath;
  /// Print the report's table on stdout (stderr when IR goes to stdout).
  bool printReport = false;
  /// `--target`: host, x86-64-avx512, x86-64-avx2, cuda-sm80, cuda-sm90.
  std::string target = "host";
  /// CUDA targets: which fused matmul kernel to use (auto, gemv, mma), for
  /// measuring the kernels against each other.
  std::string cudaMatmulKernel = "auto";
  /// The last phase to run; only meaningful with EmitKind::MLIR.
  std::optional<Phase> compileTo;
  EmitKind emit = EmitKind::Executable;
  /// Output path; "-" writes IR to stdout. For a library `dir/name`, the
  /// files are `dir/libname.so` and `dir/name.h`.
  std::string output;
};

/// Compiles `modelPath`. Errors are one line (without a tool prefix).
/// Nothing is left at the output path when compilation fails.
llvm::Error compileModel(llvm::StringRef modelPath, const CompilerOptions &options);

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_DRIVER_H
