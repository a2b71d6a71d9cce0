//===- ModelDescription.h - what the runtime is told about a model -*- C++ -*-===//
//
// The facts the generated glue hands the runtime (ModelABI.h): graph I/O,
// per-layer precision and bytes. Collected from the IR after the fuse
// phase, when every quantization decision has been made.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_MODELDESCRIPTION_H
#define NIBBLE_COMPILER_MODELDESCRIPTION_H

#include "nibble/Import/Onnx/OnnxImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::nibble {

struct LayerDescription {
  std::string name;
  std::string opType;
  /// "fp32", "int8", "int4-g128", "uint4-g32", ...
  std::string precision;
  int64_t weightBytes = 0;
  /// On a GPU: the kernel that runs the layer ("gemv", "tensor cores",
  /// "generic loops"); empty on the CPU.
  std::string kernel;
};

struct ModelDescription {
  std::string modelName;
  std::string target;
  /// True when the entry runs on a CUDA GPU: it then takes device pointers
  /// and the glue routes every call through the CUDA runtime.
  bool onCUDADevice = false;
  std::vector<GraphTensorInfo> inputs;
  std::vector<GraphTensorInfo> outputs;
  std::vector<LayerDescription> layers;
  /// Bytes of all constant data the binary holds (int4 counted packed).
  int64_t weightBytes = 0;
};

/// Fills `layers` and `weightBytes` from a module after the fuse phase.
void describeLayers(ModuleOp module, ModelDescription &description);

/// Sets each layer's `kernel` from a module after the CUDA kernel phase.
void describeLayerKernels(ModuleOp module, ModelDescription &description);

/// Writes the C translation unit defining nibble_model_descriptor() and the
/// entry trampoline calling `entrySymbol` with one pointer per input and
/// output.
std::string generateDescriptorSource(const ModelDescription &description,
                                     llvm::StringRef entrySymbol);

/// Writes the public header of a shared library (`OUT.h`): the C API plus
/// the model's inputs and outputs.
std::string generateLibraryHeader(const ModelDescription &description,
                                  llvm::StringRef guardName);

/// The text of runtime/include/nibble/Runtime/ModelABI.h, which the
/// generated source includes.
llvm::StringRef getModelABIHeader();

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_MODELDESCRIPTION_H
