//===- ProbeModel.cpp - the float model, instrumented for measuring -------===//

#include "nibble/Compiler/ProbeModel.h"

#include "nibble/Compiler/Linker.h"
#include "nibble/Compiler/ModelDescription.h"
#include "nibble/Compiler/PhaseRunner.h"
#include "nibble/Compiler/Pipelines.h"
#include "nibble/Dialect/Nibble/Transforms/Passes.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"
#include "nibble/Runtime/Tensor.h"
#include "nibble/Runtime/nibble.h"
#include "nibble/Target/CPU/CPUTarget.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <dlfcn.h>

using namespace mlir;
using namespace mlir::nibble;

static constexpr llvm::StringLiteral kProbeEntry = "nibble_probe_entry";

/// The loaded probe library and the C API entry points it exports.
struct ProbeModel::Library {
  std::string directory;
  void *handle = nullptr;
  nibble_model *model = nullptr;
  decltype(&nibble_model_run) run = nullptr;
  decltype(&nibble_model_free) free = nullptr;
  decltype(&nibble_model_last_error) lastError = nullptr;

  ~Library() {
    if (model && free)
      free(model);
    if (handle)
      dlclose(handle);
    if (!directory.empty())
      llvm::sys::fs::remove_directories(directory);
  }
};

ProbeModel::~ProbeModel() = default;



static std::string str(StringAttr attr) { return attr ? attr.str() : ""; }

llvm::Expected<std::unique_ptr<ProbeModel>>
ProbeModel::build(ModuleOp module, llvm::StringRef entryName,
                  const std::vector<GraphTensorInfo> &inputs,
                  const std::vector<GraphTensorInfo> &outputs, bool instrument) {
  std::unique_ptr<ProbeModel> probe(new ProbeModel());
  probe->inputs = inputs;
  probe->outputs = outputs;
  probe->graphOutputs = outputs;
  OwningOpRef<ModuleOp> clone(module.clone());
  auto entry = clone->lookupSymbol<func::FuncOp>(entryName);
  if (!entry)
    return llvm::createStringError("the model has no entry function '" + entryName.str() + "'");

  // Weights become arguments and matmul inputs results, in the order of
  // findMeasurableLayers (nibble-instrument-calibration); record what each
  // is first.
  if (instrument) {
    int tapCount = 0;
    for (MeasurableLayer &found : findMeasurableLayers(entry)) {
      ProbeLayer layer;
      layer.name = str(found.op->getAttrOfType<StringAttr>(kLayerAttrName));
      layer.opType = str(found.op->getAttrOfType<StringAttr>(kOpTypeAttrName));
      Value weight = found.weight();
      SmallVector<float> values =
          *readFloatElements(getConstantElements(found.weightData()));
      layer.weight.assign(values.begin(), values.end());
      Type stored = getElementTypeOrSelf(found.weightData().getType());
      layer.storedType = stored.isF16() ? "fp16" : stored.isBF16() ? "bf16" : "fp32";
      std::string suffix = std::to_string(probe->layers.size());
      ArrayRef<int64_t> weightShape = cast<RankedTensorType>(weight.getType()).getShape();
      probe->inputs.push_back(GraphTensorInfo{"nibble.weight." + suffix, NIBBLE_DTYPE_F32,
                                              std::vector<int64_t>(weightShape.begin(),
                                                                   weightShape.end())});
      if (!found.matmul) {
        layer.rowScaled = true;
        layer.k = found.columns();
        layer.n = found.rows();
        probe->tapOfLayer.push_back(-1);
      } else {
        layer.k = found.matmul->k;
        layer.n = found.matmul->n;
        auto lhsType = cast<RankedTensorType>(found.matmul->op.getInputs()[0].getType());
        probe->tapOfLayer.push_back(tapCount++);
        probe->outputs.push_back(GraphTensorInfo{
            "nibble.activation." + suffix, NIBBLE_DTYPE_F32,
            std::vector<int64_t>(lhsType.getShape().begin(), lhsType.getShape().end())});
      }
      probe->layers.push_back(std::move(layer));
    }
    if (llvm::Error err = runPhase(
            *clone,
            [](OpPassManager &pm) {
              pm.addNestedPass<func::FuncOp>(createNibbleInstrumentCalibrationPass());
            },
            "calibration build"))
      return std::move(err);
  }
  entry.setSymName(kProbeEntry);

  llvm::Expected<CPUTarget> host = resolveCPUTarget("host");
  if (!host)
    return host.takeError();
  if (llvm::Error err = runPhase(
          *clone,
          [&](OpPassManager &pm) {
            buildCPULoweringPhase(pm, CPULoweringOptions{host->hasVNNI, host->hasAVX512});
          },
          "calibration build"))
    return std::move(err);
  llvm::LLVMContext llvmContext;
  llvm::Expected<std::unique_ptr<llvm::Module>> llvmModule =
      translateToOptimizedLLVMIR(*clone, llvmContext, *host);
  if (!llvmModule)
    return llvmModule.takeError();

  auto library = std::make_unique<Library>();
  llvm::SmallString<128> directory;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("nibble-probe", directory))
    return llvm::createStringError("cannot create a temporary directory: " + ec.message());
  library->directory = std::string(directory);
  ModelDescription description;
  description.modelName = "probe";
  description.target = host->describe();
  description.inputs = probe->inputs;
  description.outputs = probe->outputs;
  llvm::SmallString<128> output(directory);
  llvm::sys::path::append(output, "probe");
  if (llvm::Error err = linkModel(**llvmModule, *host, description, kProbeEntry,
                                  /*library=*/true, output))
    return std::move(err);
  llvm::SmallString<128> soPath(directory);
  llvm::sys::path::append(soPath, "libprobe.so");
  library->handle = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library->handle)
    return llvm::createStringError(std::string("cannot load the calibration build: ") +
                                   dlerror());
  auto load = reinterpret_cast<decltype(&nibble_model_load)>(
      dlsym(library->handle, "nibble_model_load"));
  library->run =
      reinterpret_cast<decltype(&nibble_model_run)>(dlsym(library->handle, "nibble_model_run"));
  library->free =
      reinterpret_cast<decltype(&nibble_model_free)>(dlsym(library->handle, "nibble_model_free"));
  library->lastError = reinterpret_cast<decltype(&nibble_model_last_error)>(
      dlsym(library->handle, "nibble_model_last_error"));
  if (!load || !library->run || !library->free || !library->lastError ||
      !(library->model = load()))
    return llvm::createStringError("the calibration build does not export the model API");
  probe->library = std::move(library);

  for (const GraphTensorInfo &info : probe->outputs) {
    int64_t elements = 1;
    for (int64_t d : info.shape)
      elements *= d;
    probe->outputBuffers.emplace_back(
        elements * ::nibble::dtypeSize(static_cast<nibble_dtype>(info.onnxType)));
  }
  return probe;
}

llvm::Error ProbeModel::run(const CalibrationSample &sample,
                            const std::vector<const std::vector<float> *> &weights,
                            bool withActivations, ProbeRun &result) {
  std::vector<std::string> names;
  std::vector<const void *> data;
  for (auto [info, array] : llvm::zip_equal(
           llvm::ArrayRef(inputs).take_front(sample.inputs.size()), sample.inputs)) {
    names.push_back(info.name);
    data.push_back(array.Bytes.data());
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    names.push_back(inputs[sample.inputs.size() + i].name);
    const std::vector<float> *weight = i < weights.size() ? weights[i] : nullptr;
    data.push_back(weight && !weight->empty() ? weight->data() : layers[i].weight.data());
  }
  std::vector<const char *> namePointers;
  for (const std::string &name : names)
    namePointers.push_back(name.c_str());
  std::vector<void *> outputPointers;
  for (std::vector<uint8_t> &buffer : outputBuffers)
    outputPointers.push_back(buffer.data());
  if (library->run(library->model, static_cast<int32_t>(names.size()), namePointers.data(),
                   data.data(), outputPointers.data()) != 0)
    return llvm::createStringError("calibration run on " + sample.source +
                                   " failed: " + library->lastError(library->model));

  size_t numGraphOutputs = graphOutputs.size();
  auto asFloats = [](const std::vector<uint8_t> &bytes, std::vector<float> &values) {
    values.resize(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  };
  // float16 and bfloat16 outputs are compared as the floats they widen to.
  auto widenToFloats = [](const std::vector<uint8_t> &bytes, const llvm::fltSemantics &from,
                          std::vector<float> &values) {
    values.resize(bytes.size() / 2);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, bytes.data() + 2 * i, 2);
      values[i] = widenHalfBits(bits, from);
    }
  };
  result.outputs.resize(numGraphOutputs);
  for (size_t i = 0; i < numGraphOutputs; ++i) {
    if (outputs[i].onnxType == NIBBLE_DTYPE_F32)
      asFloats(outputBuffers[i], result.outputs[i]);
    else if (outputs[i].onnxType == NIBBLE_DTYPE_F16)
      widenToFloats(outputBuffers[i], llvm::APFloat::IEEEhalf(), result.outputs[i]);
    else if (outputs[i].onnxType == NIBBLE_DTYPE_BF16)
      widenToFloats(outputBuffers[i], llvm::APFloat::BFloat(), result.outputs[i]);
    else
      result.outputs[i].clear();
  }
  result.activations.resize(withActivations ? layers.size() : 0);
  for (size_t i = 0; withActivations && i < layers.size(); ++i) {
    if (tapOfLayer[i] >= 0)
      asFloats(outputBuffers[numGraphOutputs + tapOfLayer[i]], result.activations[i]);
    else
      result.activations[i].clear();
  }
  return llvm::Error::success();
}
