//===- OnnxImporter.cpp - ONNX model -> func.func -------------------------===//
//
// Parses the protobuf, fixes input shapes, turns initializers into
// constants, and converts nodes in graph order through the converter
// registry. Any failure is one line naming the op type and node.
//
//===----------------------------------------------------------------------===//

#include "nibble/Import/Onnx/OnnxImporter.h"

#include "IRBuilders.h"
#include "ImportContext.h"
#include "ImportFolding.h"
#include "NarrowTypes.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Runtime/Npy.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

//===----------------------------------------------------------------------===//
// NodeImporter
//===----------------------------------------------------------------------===//

NodeImporter::NodeImporter(OpBuilder &builder, const onnx::NodeProto &node,
                           llvm::StringMap<OnnxValue> &values, int64_t opset,
                           llvm::StringRef baseDir)
    : b(builder), nodeProto(node), values(values), opsetVersion(opset),
      modelDir(baseDir),
      location(NameLoc::get(builder.getStringAttr(nodeName()))) {}

std::string NodeImporter::nodeName() const {
  return nodeProto.name().empty() ? "<" + nodeProto.op_type() + ">"
                                  : nodeProto.name();
}

bool NodeImporter::hasInput(int i) const {
  return i < nodeProto.input_size() && !nodeProto.input(i).empty();
}

llvm::Expected<OnnxValue> NodeImporter::input(int i) {
  if (!hasInput(i))
    return fail("input " + llvm::Twine(i) + " is required but missing");
  auto it = values.find(nodeProto.input(i));
  if (it == values.end())
    return fail("input '" + nodeProto.input(i) +
                "' is not produced by any earlier node, initializer or graph "
                "input; the graph is not topologically sorted or is malformed");
  return it->second;
}

llvm::Expected<OnnxValue> NodeImporter::floatInput(int i) {
  llvm::Expected<OnnxValue> value = input(i);
  if (value && !isa<FloatType>(cast<RankedTensorType>(value->value.getType()).getElementType()))
    return fail("expects a float input " + llvm::Twine(i) + ", got " +
                onnxTypeName(value->onnxType));
  return value;
}

llvm::Expected<SmallVector<OnnxValue, 4>> NodeImporter::inputs(int count) {
  SmallVector<OnnxValue, 4> result;
  for (int i = 0; i < count; ++i) {
    llvm::Expected<OnnxValue> v = input(i);
    if (!v)
      return v.takeError();
    result.push_back(*v);
  }
  return result;
}

llvm::Expected<ElementsAttr> NodeImporter::constantInput(int i,
                                                         llvm::StringRef what) {
  llvm::Expected<OnnxValue> v = input(i);
  if (!v)
    return v.takeError();
  Attribute attr;
  if (auto constant = v->value.getDefiningOp<arith::ConstantOp>())
    attr = constant.getValue();
  if (auto elements = dyn_cast_or_null<ElementsAttr>(attr))
    return elements;
  return fail(what + " ('" + nodeProto.input(i) +
              "') must be a constant (an initializer, a Constant node, or a graph "
              "input frozen with --bind-input)");
}

const onnx::AttributeProto *NodeImporter::attr(llvm::StringRef name) const {
  for (const onnx::AttributeProto &a : nodeProto.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

std::optional<int64_t> NodeImporter::intAttr(llvm::StringRef name) const {
  if (const onnx::AttributeProto *a = attr(name))
    return a->i();
  return std::nullopt;
}

std::optional<float> NodeImporter::floatAttr(llvm::StringRef name) const {
  if (const onnx::AttributeProto *a = attr(name))
    return a->f();
  return std::nullopt;
}

std::optional<std::string> NodeImporter::stringAttr(llvm::StringRef name) const {
  if (const onnx::AttributeProto *a = attr(name))
    return a->s();
  return std::nullopt;
}

std::optional<SmallVector<int64_t>>
NodeImporter::intsAttr(llvm::StringRef name) const {
  if (const onnx::AttributeProto *a = attr(name))
    return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
  return std::nullopt;
}

void NodeImporter::setOutput(int i, Value value, int32_t onnxType) {
  if (i < nodeProto.output_size() && !nodeProto.output(i).empty())
    values[nodeProto.output(i)] = OnnxValue{value, onnxType};
}

llvm::Error NodeImporter::fail(const llvm::Twine &message) const {
  return llvm::createStringError(nodeProto.op_type() + " node '" + nodeName() +
                                 "': " + message.str());
}

//===----------------------------------------------------------------------===//
// Graph import
//===----------------------------------------------------------------------===//

static std::string shapeText(llvm::ArrayRef<int64_t> shape) {
  return "[" + llvm::join(llvm::map_range(shape, [](int64_t d) { return std::to_string(d); }), ", ") + "]";
}

llvm::Error mlir::nibble::parseInputShape(llvm::StringRef spec,
                                          ImportOptions &options) {
  auto [name, dims] = spec.rsplit(':');
  if (name.empty() || dims.empty())
    return llvm::createStringError("--input-shape expects NAME:DxDxD (e.g. x:1x3x224x224), got '" +
                                   spec.str() + "'");
  std::vector<int64_t> shape;
  if (dims != "scalar") {
    llvm::SmallVector<llvm::StringRef> parts;
    dims.split(parts, 'x');
    for (llvm::StringRef part : parts) {
      int64_t d;
      if (part.getAsInteger(10, d) || d <= 0)
        return llvm::createStringError("--input-shape '" + spec.str() +
                                       "': dimension '" + part.str() +
                                       "' is not a positive integer");
      shape.push_back(d);
    }
  }
  options.inputShapes[name] = std::move(shape);
  return llvm::Error::success();
}

llvm::Error mlir::nibble::parseBoundInput(llvm::StringRef spec,
                                          ImportOptions &options) {
  auto [name, file] = spec.split('=');
  if (name.empty() || file.empty())
    return llvm::createStringError("--bind-input expects NAME=FILE.npy, got '" +
                                   spec.str() + "'");
  options.boundInputs[name] = file.str();
  return llvm::Error::success();
}

/// The constant a `--bind-input` file gives graph input `info`; its dtype
/// must be the input's and its shape must fit the declared one.
static llvm::Expected<ElementsAttr> readBoundInput(const onnx::ValueInfoProto &info,
                                                   llvm::StringRef path,
                                                   MLIRContext &ctx) {
  ::nibble::NpyArray array;
  std::string error;
  if (!::nibble::readNpy(path.str(), array, error))
    return llvm::createStringError("--bind-input for '" + info.name() + "': " + error);
  int32_t dtype = info.type().tensor_type().elem_type();
  if (!array.adoptDtype(static_cast<nibble_dtype>(dtype)))
    return llvm::createStringError("--bind-input for '" + info.name() + "': the file holds " +
                                   array.dtypeDescription() + " but the input is " +
                                   onnxTypeName(dtype));
  const auto &dims = info.type().tensor_type().shape().dim();
  bool fits = !info.type().tensor_type().has_shape() ||
              dims.size() == static_cast<int>(array.Shape.size());
  for (int i = 0; fits && info.type().tensor_type().has_shape() && i < dims.size(); ++i)
    fits = !dims[i].has_dim_value() || dims[i].dim_value() == array.Shape[i];
  if (!fits)
    return llvm::createStringError("--bind-input for '" + info.name() +
                                   "': the file's shape does not fit the input's declared shape");
  auto type = RankedTensorType::get(array.Shape, getElementType(&ctx, dtype));
  if (type.getElementType().isInteger(1)) {
    SmallVector<bool> bits(array.Bytes.begin(), array.Bytes.end());
    return cast<ElementsAttr>(DenseElementsAttr::get(type, ArrayRef<bool>(bits)));
  }
  return makeRawConstant(type,
                         ArrayRef<char>(reinterpret_cast<const char *>(array.Bytes.data()),
                                        array.Bytes.size()),
                         info.name());
}

/// The static shape of graph input `info`, from the model or --input-shape.
static llvm::Expected<std::vector<int64_t>>
resolveInputShape(const onnx::ValueInfoProto &info, const ImportOptions &options) {
  const onnx::TypeProto::Tensor &tensorType = info.type().tensor_type();
  auto given = options.inputShapes.find(info.name());
  if (!tensorType.has_shape()) {
    if (given != options.inputShapes.end())
      return given->second;
    return llvm::createStringError("graph input '" + info.name() +
                                   "' has no shape; give one with --input-shape=" +
                                   info.name() + ":DxDxD");
  }
  std::vector<int64_t> shape;
  for (const onnx::TensorShapeProto::Dimension &d : tensorType.shape().dim())
    shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  if (given != options.inputShapes.end()) {
    const std::vector<int64_t> &want = given->second;
    bool fits = want.size() == shape.size();
    for (size_t i = 0; fits && i < shape.size(); ++i)
      fits = shape[i] < 0 || shape[i] == want[i];
    if (!fits)
      return llvm::createStringError(
          "--input-shape for '" + info.name() + "' is " + shapeText(want) +
          " but the model declares " + shapeText(shape) +
          " (-1 = symbolic); give a shape of the same rank that keeps the fixed dimensions");
    return want;
  }
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) {
      const auto &dim = tensorType.shape().dim(i);
      std::string symbol = dim.has_dim_param() ? " '" + dim.dim_param() + "'" : "";
      return llvm::createStringError(
          "graph input '" + info.name() + "' has a symbolic dimension" + symbol +
          " at position " + std::to_string(i) + "; fix it with --input-shape=" +
          info.name() + ":DxDxD");
    }
  return shape;
}

/// Element types the runtime can pass in and out (ModelABI.h's nibble_dtype).
static bool isGraphIOType(int32_t onnxType) {
  switch (static_cast<OnnxDType>(onnxType)) {
  case OnnxDType::Float: case OnnxDType::Float16: case OnnxDType::Double:
  case OnnxDType::UInt8: case OnnxDType::Int8: case OnnxDType::UInt16:
  case OnnxDType::Int16: case OnnxDType::UInt32: case OnnxDType::Int32:
  case OnnxDType::UInt64: case OnnxDType::Int64: case OnnxDType::Bool:
  case OnnxDType::BFloat16: case OnnxDType::Float8E4M3FN: case OnnxDType::Float8E4M3FNUZ:
  case OnnxDType::Float8E5M2: case OnnxDType::Float8E5M2FNUZ: case OnnxDType::UInt4:
  case OnnxDType::Int4: case OnnxDType::Float4E2M1: case OnnxDType::Float8E8M0:
  case OnnxDType::UInt2: case OnnxDType::Int2:
    return true;
  default:
    return false;
  }
}

static llvm::StringRef graphIOTypeNames() {
  return "float16/32/64, bfloat16, float8*, float4e2m1, int2/4/8/16/32/64, "
         "uint2/4/8/16/32/64, bool";
}

static const ConverterRegistry &getConverters() {
  static const ConverterRegistry registry = [] {
    ConverterRegistry r;
    registerElementwiseConverters(r);
    registerMatmulConverters(r);
    registerQuantizationConverters(r);
    registerShapeConverters(r);
    registerMathConverters(r);
    registerReductionConverters(r);
    registerNormalizationConverters(r);
    registerLossConverters(r);
    registerGridSampleConverters(r);
    registerTensorConverters(r);
    registerConvolutionConverters(r);
    registerPoolingConverters(r);
    registerResizeConverters(r);
    registerAttentionConverters(r);
    return r;
  }();
  return registry;
}

std::vector<std::string> mlir::nibble::getSupportedOnnxOps() {
  std::vector<std::string> ops;
  for (const auto &entry : getConverters()) {
    auto [domain, opType] = entry.getKey().split("::");
    ops.push_back(domain.empty() ? opType.str() : (domain + "." + opType).str());
  }
  llvm::sort(ops);
  return ops;
}

namespace {
/// Imports one parsed model into a module.
class GraphImporter {
public:
  GraphImporter(MLIRContext &ctx, const onnx::ModelProto &model,
                llvm::StringRef baseDir, const ImportOptions &options)
      : ctx(ctx), model(model), graph(model.graph()), baseDir(baseDir),
        options(options), builder(&ctx) {}

  llvm::Expected<ImportedModel> run();

private:
  llvm::Error readOpsets();
  llvm::Error importInitializers();
  llvm::Error importNode(const onnx::NodeProto &node);

  MLIRContext &ctx;
  const onnx::ModelProto &model;
  const onnx::GraphProto &graph;
  llvm::StringRef baseDir;
  const ImportOptions &options;
  OpBuilder builder;
  llvm::StringMap<OnnxValue> values;
  llvm::StringMap<int64_t> opsets;
};
} // namespace

llvm::Error GraphImporter::readOpsets() {
  for (const onnx::OperatorSetIdProto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    opsets[domain] = opset.version();
  }
  if (!opsets.count(""))
    return llvm::createStringError("the model imports no default ONNX opset; "
                                   "re-export it with an opset_import entry");
  return llvm::Error::success();
}

llvm::Error GraphImporter::importInitializers() {
  for (const onnx::TensorProto &tensor : graph.initializer()) {
    llvm::Expected<ElementsAttr> attr = importTensor(tensor, &ctx, baseDir);
    if (!attr)
      return attr.takeError();
    Location loc = NameLoc::get(builder.getStringAttr(tensor.name()));
    Value value = arith::ConstantOp::create(builder, loc, cast<TypedAttr>(*attr));
    values[tensor.name()] = OnnxValue{value, tensor.data_type()};
  }
  return llvm::Error::success();
}

/// Narrow floats (float8, float4) are storage formats here: only conversions
/// and ops that move data without computing take them. bfloat16 computes
/// like float16 (its arithmetic in f32, rounded per op).
static llvm::Error checkNarrowFloatInputs(NodeImporter &imp) {
  static const llvm::StringSet<> movesOrConverts = {
      "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear", "Identity", "Reshape",
      "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Shape", "Size"};
  if (!imp.node().domain().empty() && imp.node().domain() != "ai.onnx")
    return llvm::Error::success();
  if (movesOrConverts.contains(imp.node().op_type()))
    return llvm::Error::success();
  for (int i = 0; i < imp.numInputs(); ++i) {
    if (!imp.hasInput(i))
      continue;
    llvm::Expected<OnnxValue> input = imp.input(i);
    if (!input)
      return input.takeError();
    Type elementType = tensorTypeOf(input->value).getElementType();
    if (isNarrowFloat(elementType) && !elementType.isBF16())
      return imp.fail("input " + llvm::Twine(i) + " is " + onnxTypeName(input->onnxType) +
                      ", which nibble only casts, quantizes and dequantizes; Cast it to "
                      "float32 first");
  }
  return llvm::Error::success();
}

llvm::Error GraphImporter::importNode(const onnx::NodeProto &node) {
  std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
  std::string name = node.name().empty() ? "<" + node.op_type() + ">" : node.name();
  auto opset = opsets.find(domain);
  if (opset == opsets.end())
    return llvm::createStringError(node.op_type() + " node '" + name +
                                   "': its domain '" + domain +
                                   "' is not in the model's opset_import");
  const ConverterRegistry &converters = getConverters();
  auto converter = converters.find(domain + "::" + node.op_type());
  if (converter == converters.end())
    return llvm::createStringError(
        "unsupported ONNX op " + (domain.empty() ? "" : domain + ".") +
        node.op_type() + " (node '" + name +
        "'); see docs/supported-ops.md for the ops nibble compiles");
  NodeImporter importer(builder, node, values, opset->second, baseDir);
  if (llvm::Error err = checkNarrowFloatInputs(importer))
    return err;
  if (llvm::Error err = converter->second(importer))
    return err;
  for (const std::string &output : node.output()) {
    if (output.empty())
      continue;
    auto it = values.find(output);
    if (it == values.end())
      return importer.fail("output '" + output + "' is not supported by nibble");
    // Small results computed from constants (shape arithmetic) become
    // constants, so later nodes can rely on them at compile time.
    it->second.value = foldToConstant(builder, it->second.value);
  }
  return llvm::Error::success();
}

llvm::Expected<ImportedModel> GraphImporter::run() {
  if (llvm::Error err = readOpsets())
    return std::move(err);
  ImportedModel result;
  result.graphName = graph.name();
  result.module = ModuleOp::create(UnknownLoc::get(&ctx));

  // Graph inputs that are not initializers become function arguments.
  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &t : graph.initializer())
    initializerNames.insert(t.name());
  SmallVector<Type> argTypes;
  struct BoundInput {
    std::string name;
    ElementsAttr value;
    int32_t onnxType;
  };
  SmallVector<BoundInput> boundConstants;
  for (const onnx::ValueInfoProto &info : graph.input()) {
    if (initializerNames.contains(info.name()))
      continue;
    if (auto bound = options.boundInputs.find(info.name());
        bound != options.boundInputs.end()) {
      llvm::Expected<ElementsAttr> value = readBoundInput(info, bound->second, ctx);
      if (!value)
        return value.takeError();
      boundConstants.push_back({info.name(), *value, info.type().tensor_type().elem_type()});
      continue;
    }
    if (!info.type().has_tensor_type())
      return llvm::createStringError("graph input '" + info.name() +
                                     "' is not a tensor; nibble compiles tensor inputs only");
    int32_t dtype = info.type().tensor_type().elem_type();
    Type elementType = getElementType(&ctx, dtype);
    if (!elementType || !isGraphIOType(dtype))
      return llvm::createStringError("graph input '" + info.name() + "' has element type " +
                                     onnxTypeName(dtype) + ", which nibble binaries cannot "
                                     "take yet (supported: " + graphIOTypeNames() + ")");
    llvm::Expected<std::vector<int64_t>> shape = resolveInputShape(info, options);
    if (!shape)
      return shape.takeError();
    argTypes.push_back(RankedTensorType::get(*shape, boundaryElementType(elementType)));
    result.inputs.push_back({info.name(), dtype, *shape});
  }
  for (const auto &entry : options.inputShapes)
    if (llvm::none_of(result.inputs, [&](const GraphTensorInfo &i) {
          return i.name == entry.getKey();
        }))
      return llvm::createStringError("--input-shape names '" +
                                     entry.getKey().str() +
                                     "', which is not a graph input");
  for (const auto &entry : options.boundInputs)
    if (llvm::none_of(boundConstants, [&](const BoundInput &bound) {
          return bound.name == entry.getKey();
        }))
      return llvm::createStringError("--bind-input names '" + entry.getKey().str() +
                                     "', which is not a graph input");

  builder.setInsertionPointToEnd(result.module->getBody());
  auto func = func::FuncOp::create(builder, UnknownLoc::get(&ctx), options.entryName,
                                   builder.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  for (auto [i, input] : llvm::enumerate(result.inputs)) {
    Location loc = NameLoc::get(builder.getStringAttr(input.name));
    Value value = fromBoundary(builder, loc, entry->getArgument(i),
                               getElementType(&ctx, input.onnxType));
    values[input.name] = OnnxValue{value, input.onnxType};
  }
  for (const BoundInput &bound : boundConstants) {
    Location loc = NameLoc::get(builder.getStringAttr(bound.name));
    values[bound.name] = OnnxValue{
        arith::ConstantOp::create(builder, loc, cast<TypedAttr>(bound.value)), bound.onnxType};
  }

  if (llvm::Error err = importInitializers())
    return std::move(err);
  for (const onnx::NodeProto &node : graph.node())
    if (llvm::Error err = importNode(node))
      return std::move(err);

  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &info : graph.output()) {
    auto it = values.find(info.name());
    if (it == values.end())
      return llvm::createStringError("graph output '" + info.name() +
                                     "' is not produced by any node");
    RankedTensorType type = cast<RankedTensorType>(it->second.value.getType());
    if (!isGraphIOType(it->second.onnxType))
      return llvm::createStringError("graph output '" + info.name() + "' has element type " +
                                     onnxTypeName(it->second.onnxType) +
                                     ", which nibble binaries cannot return yet (supported: " +
                                     graphIOTypeNames() + ")");
    results.push_back(toBoundary(builder, UnknownLoc::get(&ctx), it->second.value));
    result.outputs.push_back({info.name(), it->second.onnxType,
                              std::vector<int64_t>(type.getShape().begin(),
                                                   type.getShape().end())});
  }
  func::ReturnOp::create(builder, UnknownLoc::get(&ctx), results);
  func.setType(builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  // Verification problems are importer bugs; keep the first one for the
  // message instead of letting every diagnostic reach stderr.
  std::string firstProblem;
  {
    ScopedDiagnosticHandler collect(&ctx, [&](Diagnostic &diag) {
      if (firstProblem.empty()) {
        firstProblem = diag.str();
        if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
          firstProblem += " (node '" + name.getName().str() + "')";
      }
      return success();
    });
    if (succeeded(verify(*result.module)))
      return std::move(result);
  }
  return llvm::createStringError("internal error: the imported IR does not verify: " +
                                 firstProblem + "; please report this model");
}

llvm::Expected<ImportedModel>
mlir::nibble::importOnnxModel(llvm::StringRef path, MLIRContext &context,
                              const ImportOptions &options) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError("cannot read model '" + path.str() +
                                   "': " + buffer.getError().message());
  onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(
      reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart()),
      static_cast<int>((*buffer)->getBufferSize()));
  stream.SetTotalBytesLimit(INT32_MAX);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage() ||
      !model.has_graph())
    return llvm::createStringError("'" + path.str() +
                                   "' is not a valid ONNX model (protobuf parse failed); "
                                   "check the file is an .onnx model and not truncated");
  llvm::SmallString<256> baseDir = llvm::sys::path::parent_path(path);
  if (baseDir.empty())
    baseDir = ".";
  GraphImporter importer(context, model, baseDir, options);
  return importer.run();
}
