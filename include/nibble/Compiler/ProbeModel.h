//===- ProbeModel.h - the float model, instrumented for measuring -*- C++ -*-===//
//
// Calibration, sensitivity and the quality report all run the float model
// many times: on every sample, and with one or all layers' weights replaced
// by their quantized-then-dequantized values. The probe is that model
// compiled once for the host, with
//   - every quantizable matmul weight lifted to an extra input, so trying a
//     precision is a run with other weight data, not a recompilation;
//   - every such matmul's activation input tapped as an extra output, for
//     statistics and GPTQ's Hessians.
// It is built as a shared library in a scratch directory and loaded into
// the compiler process through the model C API (nibble.h).
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_PROBEMODEL_H
#define NIBBLE_COMPILER_PROBEMODEL_H

#include "nibble/Compiler/CalibrationData.h"
#include "nibble/Import/Onnx/OnnxImporter.h"

#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::nibble {

/// A quantizable layer of the model, in findMeasurableLayers order.
struct ProbeLayer {
  std::string name;
  std::string opType;
  /// For a matmul, its K x N weight. For a row-scaled weight (an embedding
  /// table [V, D], a convolution filter [outputs, rest]), K = columns and
  /// N = rows: one scale per row is the per-column scheme of the
  /// transpose, so precisions and bytes read the same.
  int64_t k = 0, n = 0;
  bool rowScaled = false;
  /// The float weight: K x N row-major, or rows x columns as it is.
  std::vector<float> weight;
  /// How the model stores it unquantized: "fp32", or "fp16"/"bf16" for the
  /// layers of float16 and bfloat16 models (then 2 bytes a value).
  std::string storedType = "fp32";
  int64_t storedBytes() const { return k * n * (storedType == "fp32" ? 4 : 2); }
};

/// One run's results.
struct ProbeRun {
  /// The model's outputs; float32 ones as values, others left empty.
  std::vector<std::vector<float>> outputs;
  /// The activation entering each matmul layer (M x K row-major); empty for
  /// row-scaled layers.
  std::vector<std::vector<float>> activations;
};

class ProbeModel {
public:
  /// Compiles the probe of `module` (not modified) whose entry is
  /// `entryName` with graph inputs/outputs `inputs`/`outputs`. With
  /// `instrument` false the model is compiled as it is (no lifted weights,
  /// no taps): how a quantized module is measured as it will run.
  static llvm::Expected<std::unique_ptr<ProbeModel>>
  build(ModuleOp module, llvm::StringRef entryName,
        const std::vector<GraphTensorInfo> &inputs,
        const std::vector<GraphTensorInfo> &outputs, bool instrument = true);
  ~ProbeModel();

  const std::vector<ProbeLayer> &getLayers() const { return layers; }
  /// The model's own outputs (without the activation taps).
  const std::vector<GraphTensorInfo> &getGraphOutputs() const { return graphOutputs; }

  /// Runs `sample`; `weights[i]`, when given and non-empty, replaces layer
  /// i's float weight. Activations are copied out only if asked.
  llvm::Error run(const CalibrationSample &sample,
                  const std::vector<const std::vector<float> *> &weights,
                  bool withActivations, ProbeRun &result);

private:
  struct Library;
  ProbeModel() = default;

  std::vector<ProbeLayer> layers;
  std::vector<GraphTensorInfo> inputs;
  std::vector<GraphTensorInfo> outputs;
  std::vector<GraphTensorInfo> graphOutputs;
  std::unique_ptr<Library> library;
  /// Index among the taps of each layer's activation, -1 for row-scaled
  /// layers.
  std::vector<int> tapOfLayer;
  /// Output buffers, graph outputs then taps, reused across runs.
  std::vector<std::vector<uint8_t>> outputBuffers;
};

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_PROBEMODEL_H
