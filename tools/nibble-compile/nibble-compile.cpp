//===- nibble-compile.cpp - ONNX model -> quantized native binary ---------===//
//
//   nibble-compile MODEL.onnx -o OUT [--emit=exe|lib|obj|mlir|llvm]
//       [--compile-to=PHASE] [--target=host|x86-64-avx512|x86-64-avx2|cuda-sm80|cuda-sm90]
//       [--quantize=none|int8|int4|w8a8|auto] [--group-size=N] [--asymmetric]
//       [--activations=static|dynamic] [--smoothquant=ALPHA]
//       [--activation-range=minmax|percentile|entropy]
//       [--calibration=DIR|FILE.npz] [--budget=size=F|sqnr=DB]
//       [--precision-config=FILE.json] [--method=auto|rtn|gptq]
//       [--report=FILE.json] [--report-plot=FILE.png|svg] [--input-shape=NAME:DxD]
//
// Every failure is one line on stderr and exit code 1.
//
//===----------------------------------------------------------------------===//

#include "nibble/Compiler/Driver.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using namespace mlir::nibble;

static int fail(const llvm::Twine &message) {
  llvm::errs() << "nibble-compile: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::OptionCategory category("nibble-compile options");
  cl::opt<std::string> input(cl::Positional, cl::desc("<model.onnx>"),
                             cl::cat(category));
  cl::opt<bool> printSupportedOps("print-supported-ops",
                                  cl::desc("list the ONNX ops nibble imports and exit"),
                                  cl::cat(category));
  cl::opt<std::string> output("o", cl::desc("output path ('-' = stdout for mlir/llvm)"),
                              cl::value_desc("path"), cl::cat(category));
  cl::opt<std::string> emit("emit", cl::desc("what to write: exe, lib, obj, mlir, llvm"),
                            cl::init("exe"), cl::cat(category));
  cl::opt<std::string> compileTo(
      "compile-to", cl::desc("stop after a phase (with --emit=mlir): import, "
                             "quantize, fuse, lower"),
      cl::cat(category));
  cl::opt<std::string> target("target", cl::desc("host, x86-64-avx512, x86-64-avx2, cuda-sm80, cuda-sm90 (NVIDIA GPU; needs the CUDA toolkit)"),
                              cl::init("host"), cl::cat(category));
  cl::opt<std::string> cudaMatmulKernel(
      "cuda-matmul-kernel",
      cl::desc("CUDA targets: the fused matmul kernel, auto (GEMV up to 4 rows, tensor "
               "cores above), gemv or mma; for measuring the kernels"),
      cl::init("auto"), cl::Hidden);
  cl::opt<std::string> quantize(
      "quantize",
      cl::desc("none, int8, int4 (weights only), w8a8 (int8 weights and activations), "
               "or auto (weights only, per layer, under --budget)"),
      cl::init("none"), cl::cat(category));
  cl::opt<int64_t> groupSize("group-size", cl::desc("rows of K per int4 scale"),
                             cl::init(128), cl::cat(category));
  cl::opt<bool> asymmetric("asymmetric",
                           cl::desc("unsigned weights with zero points (uint8/uint4)"),
                           cl::cat(category));
  cl::opt<std::string> activations(
      "activations",
      cl::desc("for --quantize=w8a8: static (one calibrated scale per layer) or dynamic "
               "(one scale per row at run time)"),
      cl::init("static"), cl::cat(category));
  cl::opt<double> smoothQuant(
      "smoothquant",
      cl::desc("for --quantize=w8a8: SmoothQuant strength alpha in (0, 1] (0 = off)"),
      cl::init(0.0), cl::cat(category));
  cl::opt<std::string> activationRange(
      "activation-range",
      cl::desc("for static w8a8: how calibration sets int8 activation scales: minmax, "
               "percentile (99.99th) or entropy (KL divergence)"),
      cl::init("minmax"), cl::cat(category));
  cl::opt<std::string> calibration(
      "calibration",
      cl::desc("sample inputs to calibrate and measure on: a .npz file or a directory"),
      cl::value_desc("DIR|FILE.npz"), cl::cat(category));
  cl::opt<std::string> budget(
      "budget",
      cl::desc("for --quantize=auto: size=F (fraction of the float weight bytes) or "
               "sqnr=DB (least end-to-end SQNR)"),
      cl::cat(category));
  cl::opt<std::string> precisionConfig(
      "precision-config",
      cl::desc("JSON overrides by node-name pattern: "
               "{\"layers\": [{\"match\": \"GLOB\", \"precision\": \"fp16\"}]}"),
      cl::value_desc("FILE.json"), cl::cat(category));
  cl::opt<std::string> method(
      "method",
      cl::desc("weight rounding: rtn, gptq, or auto (gptq with --calibration)"),
      cl::init("auto"), cl::cat(category));
  cl::opt<std::string> reportPlot(
      "report-plot",
      cl::desc("also draw the report (per-layer precision, bytes, sensitivity) as a chart"),
      cl::value_desc("FILE.png|FILE.svg"), cl::cat(category));
  cl::opt<std::string> report(
      "report", cl::desc("write the quantization report (per layer and end to end) as JSON"),
      cl::value_desc("FILE.json"), cl::cat(category));
  cl::list<std::string> inputShapes(
      "input-shape", cl::desc("fix a graph input's shape, e.g. x:1x3x224x224"),
      cl::value_desc("NAME:DxD"), cl::cat(category));
  cl::list<std::string> boundInputs(
      "bind-input",
      cl::desc("freeze a graph input to a .npy file's contents at compile time "
               "(e.g. a shape or axes input)"),
      cl::value_desc("NAME=FILE.npy"), cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "nibble: ONNX -> quantized native code\n");

  if (printSupportedOps) {
    for (const std::string &op : getSupportedOnnxOps())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (input.empty())
    return fail("no model given; usage: nibble-compile MODEL.onnx -o OUT");
  CompilerOptions options;
  std::optional<EmitKind> emitKind = parseEmitKind(emit);
  if (!emitKind)
    return fail("unknown --emit='" + emit + "'; use exe, lib, obj, mlir or llvm");
  options.emit = *emitKind;
  if (!compileTo.empty()) {
    options.compileTo = parsePhase(compileTo);
    if (!options.compileTo)
      return fail("unknown --compile-to='" + compileTo + "'; phases are " + phaseNames());
  }
  options.output = output;
  if (options.output.empty() &&
      (options.emit == EmitKind::MLIR || options.emit == EmitKind::LLVMIR))
    options.output = "-";
  options.target = target;
  options.cudaMatmulKernel = cudaMatmulKernel;
  options.quantize.mode = quantize;
  options.quantize.groupSize = groupSize;
  options.quantize.asymmetric = asymmetric;
  if ((activations.getNumOccurrences() || smoothQuant.getNumOccurrences() ||
       activationRange.getNumOccurrences()) &&
      quantize != "w8a8")
    return fail("--activations, --smoothquant and --activation-range apply to "
                "--quantize=w8a8");
  options.quantize.activations = activations;
  options.quantize.smoothQuant = smoothQuant;
  options.measurement.calibrationPath = calibration;
  options.measurement.budget = budget;
  options.measurement.precisionConfigPath = precisionConfig;
  options.measurement.method = method;
  options.measurement.activationRange = activationRange;
  // Progress lines would break the one-line error contract of scripts.
  options.measurement.showProgress = llvm::errs().is_displayed();
  options.reportPath = report;
  options.reportPlotPath = reportPlot;
  // Asking for a report measures the model even without calibration data.
  options.measurement.measure = !report.empty() || !reportPlot.empty();
  options.printReport = true;
  for (const std::string &spec : inputShapes)
    if (llvm::Error err = parseInputShape(spec, options.import))
      return fail(llvm::toString(std::move(err)));
  for (const std::string &spec : boundInputs)
    if (llvm::Error err = parseBoundInput(spec, options.import))
      return fail(llvm::toString(std::move(err)));
  if (llvm::Error err = compileModel(input, options))
    return fail(llvm::toString(std::move(err)));
  return 0;
}
