//===- ImportContext.h - state shared by the ONNX op converters -*- C++ -*-===//
//
// The importer walks the graph in order and calls one converter per node.
// A converter reads its inputs and attributes through NodeImporter, builds
// upstream (linalg/tensor/arith/math) or nibble ops, and binds its outputs.
// Everything a converter needs beyond that lives in IRBuilders.h.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_IMPORTCONTEXT_H
#define NIBBLE_LIB_IMPORT_ONNX_IMPORTCONTEXT_H

#include "nibble/Import/Onnx/OnnxImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <functional>

namespace mlir::nibble::onnx_import {

/// An SSA value together with the ONNX element type it stands for (MLIR
/// integers are signless, so uint8 and int8 are both i8 here).
struct OnnxValue {
  Value value;
  int32_t onnxType = 0;
};

/// The MLIR element type of an ONNX element type, or null if unsupported.
Type getElementType(MLIRContext *ctx, int32_t onnxType);
/// "float32", "uint8", ... for messages.
std::string onnxTypeName(int32_t onnxType);
bool isUnsignedOnnxType(int32_t onnxType);

/// Converts an ONNX TensorProto to a constant attribute (dense_resource for
/// weights). `baseDir` resolves external data files.
llvm::Expected<ElementsAttr> importTensor(const onnx::TensorProto &tensor,
                                          MLIRContext *ctx,
                                          llvm::StringRef baseDir);

/// Per-node view handed to converters.
class NodeImporter {
public:
  NodeImporter(OpBuilder &builder, const onnx::NodeProto &node,
               llvm::StringMap<OnnxValue> &values, int64_t opset,
               llvm::StringRef baseDir);

  OpBuilder &builder() { return b; }
  Location loc() const { return location; }
  MLIRContext *context() { return b.getContext(); }
  const onnx::NodeProto &node() const { return nodeProto; }
  /// The opset version of the node's domain.
  int64_t opset() const { return opsetVersion; }
  llvm::StringRef baseDir() const { return modelDir; }
  /// The node's name, or "<OpType>" when the model leaves it empty.
  std::string nodeName() const;

  /// Number of inputs given (optional inputs may be empty strings).
  int numInputs() const { return nodeProto.input_size(); }
  bool hasInput(int i) const;
  /// Input `i`; an error if absent or unknown.
  llvm::Expected<OnnxValue> input(int i);
  /// Input `i`, which must be a float tensor.
  llvm::Expected<OnnxValue> floatInput(int i);
  /// Inputs 0 .. count-1, all required.
  llvm::Expected<SmallVector<OnnxValue, 4>> inputs(int count);
  /// The constant elements of input `i`, or an error saying it must be a
  /// constant (initializer or Constant node).
  llvm::Expected<ElementsAttr> constantInput(int i, llvm::StringRef what);

  std::optional<int64_t> intAttr(llvm::StringRef name) const;
  std::optional<float> floatAttr(llvm::StringRef name) const;
  std::optional<std::string> stringAttr(llvm::StringRef name) const;
  std::optional<SmallVector<int64_t>> intsAttr(llvm::StringRef name) const;
  const onnx::AttributeProto *attr(llvm::StringRef name) const;

  /// Binds output `i` of the node.
  void setOutput(int i, Value value, int32_t onnxType);

  /// An error for this node: "<OpType> node '<name>': <message>".
  llvm::Error fail(const llvm::Twine &message) const;

private:
  OpBuilder &b;
  const onnx::NodeProto &nodeProto;
  llvm::StringMap<OnnxValue> &values;
  int64_t opsetVersion;
  llvm::StringRef modelDir;
  Location location;
};

/// `axis` in [-rank, rank) made non-negative; an error naming the node if
/// it is out of range.
llvm::Expected<int64_t> resolveAxis(NodeImporter &imp, int64_t axis, int64_t rank);

using OpConverter = std::function<llvm::Error(NodeImporter &)>;
/// Converters by "domain::OpType" ("" is the default domain).
using ConverterRegistry = llvm::StringMap<OpConverter>;

void registerElementwiseConverters(ConverterRegistry &registry);
void registerMatmulConverters(ConverterRegistry &registry);
void registerQuantizationConverters(ConverterRegistry &registry);
void registerShapeConverters(ConverterRegistry &registry);
void registerMathConverters(ConverterRegistry &registry);
void registerReductionConverters(ConverterRegistry &registry);
void registerNormalizationConverters(ConverterRegistry &registry);
void registerLossConverters(ConverterRegistry &registry);
void registerGridSampleConverters(ConverterRegistry &registry);
void registerTensorConverters(ConverterRegistry &registry);
void registerConvolutionConverters(ConverterRegistry &registry);
void registerPoolingConverters(ConverterRegistry &registry);
void registerResizeConverters(ConverterRegistry &registry);
void registerAttentionConverters(ConverterRegistry &registry);

//===----------------------------------------------------------------------===//
// Elementwise conversion (shared by ElementwiseOps.cpp and MathOps.cpp)
//===----------------------------------------------------------------------===//

/// Element type classes an elementwise op accepts, as a bitmask.
enum ElementClass : unsigned {
  kFloatElements = 1,
  kIntElements = 2,
  kBoolElements = 4,
  kNumericElements = kFloatElements | kIntElements,
  kAnyElements = kNumericElements | kBoolElements,
};

/// The class (kFloatElements, kIntElements or kBoolElements) of an MLIR
/// element type; 0 for types converters do not compute on (int4).
unsigned elementClassOf(Type type);

/// What an elementwise scalar body knows besides its operands: their MLIR
/// element type, whether the ONNX type is unsigned, and the node (for
/// attributes).
struct ElementContext {
  Type type;
  bool isUnsigned;
  const NodeImporter &node;

  bool isFloat() const { return isa<FloatType>(type); }
  /// A scalar constant of the operands' element type.
  Value constant(OpBuilder &b, Location loc, double value) const;
};

using ElementBody =
    std::function<Value(OpBuilder &, Location, ValueRange, const ElementContext &)>;

/// Converts an elementwise node over `operands`, which must share one ONNX
/// type of a class in `accepted`: broadcasts them numpy-style, applies `body`
/// to each tuple of scalars and binds output 0 with ONNX type
/// `resultOnnxType` (the operands' type when 0).
llvm::Error convertElementwise(NodeImporter &imp, ArrayRef<OnnxValue> operands,
                               unsigned accepted, const ElementBody &body,
                               int32_t resultOnnxType = 0);

/// Registers `opType` as convertElementwise over all of the node's inputs:
/// exactly `arity` of them, or one or more when `arity` is 0 (Sum, Max...).
void addElementwiseConverter(ConverterRegistry &registry, llvm::StringRef opType,
                             int arity, unsigned accepted, ElementBody body,
                             int32_t resultOnnxType = 0);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_IMPORTCONTEXT_H
