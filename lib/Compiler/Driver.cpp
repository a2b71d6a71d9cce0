//===- Driver.cpp - ONNX file in, executable/library/IR out ---------------===//

#include "nibble/Compiler/Driver.h"

#include "nibble/Compiler/InitAll.h"
#include "nibble/Compiler/Linker.h"
#include "nibble/Compiler/ModelDescription.h"
#include "nibble/Compiler/PhaseRunner.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Target/CPU/CPUTarget.h"
#include "nibble/Target/CUDA/CUDATarget.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::nibble;

/// The LLVM symbol of the model's entry; `main` would clash with the
/// executable's C main.
static constexpr llvm::StringLiteral kEntrySymbol = "nibble_model_entry";

std::optional<EmitKind> mlir::nibble::parseEmitKind(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<EmitKind>>(name)
      .Case("exe", EmitKind::Executable)
      .Case("lib", EmitKind::Library)
      .Case("obj", EmitKind::Object)
      .Case("mlir", EmitKind::MLIR)
      .Case("llvm", EmitKind::LLVMIR)
      .Default(std::nullopt);
}

/// Writes `text` to `path` ("-" = stdout) atomically.
static llvm::Error writeText(llvm::StringRef path, llvm::StringRef text) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return llvm::createStringError("cannot write '" + path.str() + "': " + ec.message());
  out.os() << text;
  out.keep();
  return llvm::Error::success();
}

llvm::Error mlir::nibble::compileModel(llvm::StringRef modelPath,
                                       const CompilerOptions &options) {
  if (options.compileTo && options.emit != EmitKind::MLIR)
    return llvm::createStringError("--compile-to stops before code generation; use it with --emit=mlir");
  if (options.output.empty())
    return llvm::createStringError("no output path; give one with -o");
  if (!llvm::is_contained({"none", "int8", "int4", "w8a8", "w4a8", "auto"},
                          options.quantize.mode))
    return llvm::createStringError("unknown --quantize='" + options.quantize.mode +
                                   "'; use none, int8, int4, w8a8, w4a8 or auto");
  const MeasurementOptions &measurement = options.measurement;
  if (llvm::Error err = validateQuantizationFlags(options.quantize, measurement))
    return err;
  if (options.quantize.groupSize < 2)
    return llvm::createStringError("--group-size must be at least 2");
  // A CUDA build's host code is plain x86-64, so it runs on any GPU host.
  std::optional<CUDATarget> cudaTarget;
  if (!llvm::is_contained({"auto", "gemv", "mma"}, options.cudaMatmulKernel))
    return llvm::createStringError("unknown --cuda-matmul-kernel='" + options.cudaMatmulKernel +
                                   "'; use auto, gemv or mma");
  if (isCUDATargetName(options.target)) {
    llvm::Expected<CUDATarget> resolved = resolveCUDATarget(options.target);
    if (!resolved)
      return resolved.takeError();
    cudaTarget = *resolved;
  }
  llvm::Expected<CPUTarget> target =
      resolveCPUTarget(cudaTarget ? llvm::StringRef("x86-64") : llvm::StringRef(options.target));
  if (!target)
    return target.takeError();

  // Phases are built from pass names, which must be registered once.
  static bool passesRegistered = (registerAllNibblePasses(), true);
  (void)passesRegistered;
  DialectRegistry registry;
  registerAllNibbleDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::Expected<ImportedModel> imported =
      importOnnxModel(modelPath, context, options.import);
  if (!imported)
    return imported.takeError();
  ModuleOp module = *imported->module;
  Phase stop = options.compileTo.value_or(Phase::LLVM);
  auto emitMLIRIfStopping = [&](Phase phase) -> std::optional<llvm::Error> {
    if (stop != phase)
      return std::nullopt;
    std::string text;
    llvm::raw_string_ostream os(text);
    module.print(os);
    os << "\n";
    return writeText(options.output, text);
  };
  if (auto done = emitMLIRIfStopping(Phase::Import))
    return std::move(*done);

  // Decisions that need the model run (calibration, selection) come first;
  // they leave a precision on each layer they decide for.
  int64_t floatWeightBytes = getConstantBytes(module);
  std::optional<QuantizationReport> report;
  if (needsPlanning(options.quantize, measurement)) {
    llvm::Expected<std::optional<QuantizationReport>> planned = planQuantization(
        module, *imported, options.import.entryName, options.quantize, measurement);
    if (!planned)
      return planned.takeError();
    report = std::move(*planned);
  }
  if (llvm::Error err = runPhase(
          module, [&](OpPassManager &pm) { buildQuantizePhase(pm, options.quantize); },
          "quantize"))
    return err;
  if (auto done = emitMLIRIfStopping(Phase::Quantize))
    return std::move(*done);
  if (llvm::Error err = runPhase(module, buildFusePhase, "fuse"))
    return err;
  if (auto done = emitMLIRIfStopping(Phase::Fuse))
    return std::move(*done);



  ModelDescription description;
  description.modelName = imported->graphName.empty()
                              ? llvm::sys::path::stem(modelPath).str()
                              : imported->graphName;
  description.target = cudaTarget ? cudaTarget->describe() : target->describe();
  description.onCUDADevice = cudaTarget.has_value();
  description.inputs = imported->inputs;
  description.outputs = imported->outputs;
  describeLayers(module, description);
  // The report describes the output, so it appears only once that exists.
  auto publishReport = [&](llvm::Error written) -> llvm::Error {
    if (written || !report)
      return written;
    report->model = description.modelName;
    report->floatWeightBytes = floatWeightBytes;
    report->weightBytes = description.weightBytes;
    if (!options.reportPath.empty()) {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << llvm::formatv("{0:2}", toJSON(*report)) << "\n";
      if (llvm::Error err = writeText(options.reportPath, text))
        return err;
    }
    if (!options.reportPlotPath.empty())
      if (llvm::Error err = writeReportPlot(*report, options.reportPlotPath))
        return err;
    if (options.printReport)
      printReportTable(*report, options.output == "-" ? llvm::errs() : llvm::outs());
    return llvm::Error::success();
  };

  // The entry gets its link name before lowering fixes the symbol.
  module.walk([&](func::FuncOp func) {
    if (func.getSymName() == options.import.entryName)
      func.setSymName(kEntrySymbol);
  });
  if (cudaTarget) {
    if (llvm::Error err = runPhase(
            module,
            [&](OpPassManager &pm) { buildCUDAKernelPhase(pm, options.cudaMatmulKernel); },
            "lower"))
      return err;
    describeLayerKernels(module, description);
    module.walk([](func::FuncOp func) { func->removeAttr(kLayerKernelsAttrName); });
    if (llvm::Error err = runPhase(
            module,
            [&](OpPassManager &pm) {
              buildCUDABinaryPhase(pm, cudaTarget->chip, cudaTarget->toolkitPath,
                                   cudaTarget->libdevicePath);
            },
            "lower"))
      return err;
  } else if (llvm::Error err = runPhase(
                 module,
                 [&](OpPassManager &pm) {
                   buildCPULoweringPhase(pm,
                                         CPULoweringOptions{target->hasVNNI, target->hasAVX512});
                 },
                 "lower")) {
    return err;
  }
  if (options.emit == EmitKind::MLIR)
    return publishReport(std::move(*emitMLIRIfStopping(stop)));

  llvm::LLVMContext llvmContext;
  llvm::Expected<std::unique_ptr<llvm::Module>> llvmModule =
      translateToOptimizedLLVMIR(module, llvmContext, *target);
  if (!llvmModule)
    return llvmModule.takeError();
  if (options.emit == EmitKind::LLVMIR) {
    std::string text;
    llvm::raw_string_ostream os(text);
    (*llvmModule)->print(os, nullptr);
    return publishReport(writeText(options.output, text));
  }
  if (options.emit == EmitKind::Object)
    return publishReport(emitObjectFile(**llvmModule, *target, options.output));
  return publishReport(linkModel(**llvmModule, *target, description, kEntrySymbol,
                                 options.emit == EmitKind::Library, options.output));
}
