//===- ModelDescription.cpp - layer table and generated glue --------------===//

#include "nibble/Compiler/ModelDescription.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::nibble;

#include "EmbeddedHeaders.inc"

llvm::StringRef mlir::nibble::getModelABIHeader() { return kModelABIHeader; }

/// Bytes of the constants a Gather or convolution generic reads (its table
/// or filter and their scales): as inputs, or by tensor.extract in its body.
static int64_t constantBytesRead(linalg::GenericOp generic) {
  int64_t bytes = 0;
  auto add = [&](Value value) {
    if (auto constant = value.getDefiningOp<arith::ConstantOp>())
      bytes += getStorageBytes(cast<ShapedType>(constant.getType()));
  };
  for (OpOperand *input : generic.getDpsInputOperands())
    add(input->get());
  for (auto extract : generic.getRegion().getOps<tensor::ExtractOp>())
    add(extract.getTensor());
  return bytes;
}

/// The precision name of an unquantized weight of element type `type`.
static std::string floatPrecisionName(Type type) {
  return type.isF16() ? "fp16" : type.isBF16() ? "bf16" : "fp32";
}

/// The element type of the first float constant a Gather or convolution
/// generic reads (its table or filter), or f32.
static Type floatConstantReadType(linalg::GenericOp generic) {
  SmallVector<Value> read(generic.getDpsInputs());
  for (auto extract : generic.getRegion().getOps<tensor::ExtractOp>())
    read.push_back(extract.getTensor());
  for (Value value : read)
    if (value.getDefiningOp<arith::ConstantOp>())
      if (Type element = getElementTypeOrSelf(value.getType()); isa<FloatType>(element))
        return element;
  return Float32Type::get(generic.getContext());
}

static std::pair<std::string, std::string> layerName(Operation *op) {
  auto name = op->getAttrOfType<StringAttr>(kLayerAttrName);
  auto opType = op->getAttrOfType<StringAttr>(kOpTypeAttrName);
  return {name ? name.str() : "", opType ? opType.str() : ""};
}

void mlir::nibble::describeLayers(ModuleOp module, ModelDescription &description) {
  module.walk([&](Operation *op) {
    if (auto matmul = dyn_cast<MatmulOp>(op)) {
      auto [name, opType] = layerName(op);
      int64_t bytes = getStorageBytes(matmul.getWeight().getType()) +
                      getStorageBytes(matmul.getScale().getType());
      if (Value zp = matmul.getZeroPoint())
        bytes += getStorageBytes(cast<ShapedType>(zp.getType()));
      description.layers.push_back(
          {name, opType, matmul.getScheme().getShortName(), bytes});
    } else if (auto matmul = dyn_cast<IntegerMatmulOp>(op)) {
      auto [name, opType] = layerName(op);
      auto precision = op->getAttrOfType<StringAttr>(kPrecisionAttrName);
      int64_t bytes = getStorageBytes(matmul.getWeight().getType()) +
                      getStorageBytes(matmul.getScale().getType());
      description.layers.push_back(
          {name, opType, precision ? precision.str() : "w8a8", bytes});
    } else if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      auto [name, opType] = layerName(op);
      if (opType != "Gather" && opType != "Conv" && opType != "ConvTranspose")
        return;
      auto precision = op->getAttrOfType<StringAttr>(kPrecisionAttrName);
      if (int64_t bytes = constantBytesRead(generic))
        description.layers.push_back(
            {name, opType,
             precision ? precision.str() : floatPrecisionName(floatConstantReadType(generic)),
             bytes});
    } else if (auto matmul = dyn_cast<linalg::MatmulOp>(op)) {
      Value weight = matmul.getInputs()[1];
      if (!op->hasAttr(kLayerAttrName))
        return;
      auto [name, opType] = layerName(op);
      // A 16-bit weight (an fp16 precision, or a float16/bfloat16 model's
      // layer) is a 16-bit constant widened where the matmul reads it.
      if (Value narrow = getWidenedSource(weight))
        weight = narrow;
      auto weightType = cast<ShapedType>(weight.getType());
      if (getConstantElements(weight))
        description.layers.push_back({name, opType,
                                      floatPrecisionName(weightType.getElementType()),
                                      getStorageBytes(weightType)});
    }
  });
  description.weightBytes = getConstantBytes(module);
}

void mlir::nibble::describeLayerKernels(ModuleOp module, ModelDescription &description) {
  llvm::StringMap<std::string> kernels;
  module.walk([&](func::FuncOp func) {
    if (auto named = func->getAttrOfType<DictionaryAttr>(kLayerKernelsAttrName))
      for (NamedAttribute entry : named)
        if (auto kernel = dyn_cast<StringAttr>(entry.getValue()))
          kernels[entry.getName().getValue()] = kernel.str();
  });
  for (LayerDescription &layer : description.layers) {
    auto it = kernels.find(layer.name);
    layer.kernel = it != kernels.end() ? it->second : "generic loops";
  }
}

/// A C string literal for `text`.
static std::string cString(llvm::StringRef text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c < 0x20 || c >= 0x7f)
      out += llvm::formatv("\\{0:o3}", static_cast<unsigned>(c)).str();
    else
      out += c;
  }
  return out + "\"";
}

static const char *dtypeEnumerator(int32_t onnxType) {
  switch (static_cast<OnnxDType>(onnxType)) {
  case OnnxDType::Float: return "NIBBLE_DTYPE_F32";
  case OnnxDType::UInt8: return "NIBBLE_DTYPE_U8";
  case OnnxDType::Int8: return "NIBBLE_DTYPE_I8";
  case OnnxDType::Int32: return "NIBBLE_DTYPE_I32";
  case OnnxDType::Int64: return "NIBBLE_DTYPE_I64";
  case OnnxDType::Bool: return "NIBBLE_DTYPE_BOOL";
  case OnnxDType::Double: return "NIBBLE_DTYPE_F64";
  case OnnxDType::Float16: return "NIBBLE_DTYPE_F16";
  case OnnxDType::Int16: return "NIBBLE_DTYPE_I16";
  case OnnxDType::UInt16: return "NIBBLE_DTYPE_U16";
  case OnnxDType::UInt32: return "NIBBLE_DTYPE_U32";
  case OnnxDType::UInt64: return "NIBBLE_DTYPE_U64";
  case OnnxDType::BFloat16: return "NIBBLE_DTYPE_BF16";
  case OnnxDType::Float8E4M3FN: return "NIBBLE_DTYPE_F8E4M3FN";
  case OnnxDType::Float8E4M3FNUZ: return "NIBBLE_DTYPE_F8E4M3FNUZ";
  case OnnxDType::Float8E5M2: return "NIBBLE_DTYPE_F8E5M2";
  case OnnxDType::Float8E5M2FNUZ: return "NIBBLE_DTYPE_F8E5M2FNUZ";
  case OnnxDType::UInt4: return "NIBBLE_DTYPE_U4";
  case OnnxDType::Int4: return "NIBBLE_DTYPE_I4";
  case OnnxDType::Float4E2M1: return "NIBBLE_DTYPE_F4E2M1";
  case OnnxDType::Float8E8M0: return "NIBBLE_DTYPE_F8E8M0";
  case OnnxDType::UInt2: return "NIBBLE_DTYPE_U2";
  case OnnxDType::Int2: return "NIBBLE_DTYPE_I2";
  default: return nullptr;
  }
}

/// Emits the shape arrays and descriptor table of `tensors`.
static void emitTensorTable(llvm::raw_ostream &os, llvm::StringRef prefix,
                            const std::vector<GraphTensorInfo> &tensors) {
  for (auto [i, t] : llvm::enumerate(tensors)) {
    os << "static const int64_t " << prefix << "_shape_" << i << "[] = {";
    if (t.shape.empty())
      os << "0"; // C forbids empty arrays; rank 0 never reads it
    os << llvm::join(llvm::map_range(t.shape, [](int64_t d) { return std::to_string(d); }), ", ");
    os << "};\n";
  }
  os << "static const nibble_tensor_desc " << prefix << "[] = {\n";
  for (auto [i, t] : llvm::enumerate(tensors))
    os << "  {" << cString(t.name) << ", " << dtypeEnumerator(t.onnxType) << ", "
       << t.shape.size() << ", " << prefix << "_shape_" << i << "},\n";
  if (tensors.empty())
    os << "  {0, NIBBLE_DTYPE_F32, 0, 0},\n";
  os << "};\n";
}

std::string mlir::nibble::generateDescriptorSource(const ModelDescription &d,
                                                   llvm::StringRef entrySymbol) {
  std::string text;
  llvm::raw_string_ostream os(text);
  size_t numBuffers = d.inputs.size() + d.outputs.size();
  os << "/* Generated by nibble-compile: the runtime's view of this model. */\n"
     << "#include \"ModelABI.h\"\n\n"
     << "extern void " << entrySymbol << "(";
  for (size_t i = 0; i < numBuffers; ++i)
    os << (i ? ", " : "") << "void *";
  if (numBuffers == 0)
    os << "void";
  os << ");\n\n"
     << "static void " << (d.onCUDADevice ? "device_run" : "run")
     << "(void *const *buffers) {\n  " << entrySymbol << "(";
  for (size_t i = 0; i < numBuffers; ++i)
    os << (i ? ", " : "") << "buffers[" << i << "]";
  os << ");\n}\n\n";
  if (d.onCUDADevice) {
    // The entry takes device buffers; the CUDA runtime copies the caller's
    // host buffers in and out around it.
    os << "typedef void (*nibble_device_entry)(void *const *);\n"
       << "void nibble_cuda_run(const nibble_model_desc *, nibble_device_entry, void *const *);\n"
       << "int nibble_cuda_time_runs(const nibble_model_desc *, nibble_device_entry,\n"
       << "                          void *const *, int32_t, double *);\n"
       << "const char *nibble_cuda_status(void);\n"
       << "const char *nibble_cuda_describe(void);\n\n"
       << "static const nibble_model_desc descriptor;\n"
       << "static void run(void *const *buffers) {\n"
       << "  nibble_cuda_run(&descriptor, device_run, buffers);\n}\n"
       << "static int time_runs(void *const *buffers, int32_t runs, double *ms) {\n"
       << "  return nibble_cuda_time_runs(&descriptor, device_run, buffers, runs, ms);\n}\n"
       << "static const nibble_device_hooks device = {nibble_cuda_status, time_runs,\n"
       << "                                           nibble_cuda_describe};\n\n";
  }
  emitTensorTable(os, "inputs", d.inputs);
  emitTensorTable(os, "outputs", d.outputs);
  os << "static const nibble_layer_desc layers[] = {\n";
  for (const LayerDescription &l : d.layers)
    os << "  {" << cString(l.name) << ", " << cString(l.opType) << ", "
       << cString(l.precision) << ", " << l.weightBytes << ", " << cString(l.kernel) << "},\n";
  if (d.layers.empty())
    os << "  {0, 0, 0, 0, 0},\n";
  os << "};\n\n"
     << "static const nibble_model_desc descriptor = {\n"
     << "  " << cString(d.modelName) << ", " << cString(d.target) << ",\n"
     << "  " << d.inputs.size() << ", inputs, " << d.outputs.size() << ", outputs,\n"
     << "  " << d.layers.size() << ", layers, " << d.weightBytes << ", run, "
     << (d.onCUDADevice ? "&device" : "0") << ",\n"
     << "};\n\n"
     << "const nibble_model_desc *nibble_model_descriptor(void) { return &descriptor; }\n";
  return text;
}

std::string mlir::nibble::generateLibraryHeader(const ModelDescription &d,
                                                llvm::StringRef guardName) {
  std::string text;
  llvm::raw_string_ostream os(text);
  auto describe = [&](const GraphTensorInfo &t) {
    os << " *   " << t.name << ": " << (dtypeEnumerator(t.onnxType) + 13) << " ["
       << llvm::join(llvm::map_range(t.shape, [](int64_t v) { return std::to_string(v); }), ", ")
       << "]\n";
  };
  os << "/* Generated by nibble-compile for model '" << d.modelName << "' ("
     << d.target << ").\n *\n * Inputs:\n";
  for (const GraphTensorInfo &t : d.inputs)
    describe(t);
  os << " * Outputs (written in this order by nibble_model_run):\n";
  for (const GraphTensorInfo &t : d.outputs)
    describe(t);
  os << " */\n#ifndef " << guardName << "\n#define " << guardName << "\n\n"
     << kModelABIHeader << "\n" << kNibbleAPIHeader << "\n#endif\n";
  return text;
}
