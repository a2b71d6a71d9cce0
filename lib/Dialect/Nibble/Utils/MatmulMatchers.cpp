//===- MatmulMatchers.cpp - recognising weight matmuls --------------------===//

#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

bool mlir::nibble::isPlainZeroInitMatmul(linalg::MatmulOp matmul) {
  if (!matmul.hasPureTensorSemantics())
    return false;
  // Transposed or broadcast variants carry explicit indexing maps.
  if (matmul.hasUserDefinedMaps())
    return false;
  auto fill = matmul.getOutputs()[0].getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  Value fillValue = fill.getInputs()[0];
  return matchPattern(fillValue, m_AnyZeroFloat()) ||
         matchPattern(fillValue, m_Zero());
}

/// True if `op` is an elementwise linalg.generic whose body is one `Cast`
/// of its only input between f32 and a 16-bit float.
template <typename Cast>
static bool isFloatConversion(linalg::GenericOp op) {
  if (!op || op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      !llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = op.getRegion().front();
  auto cast = dyn_cast<Cast>(body.front());
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!cast || cast->getOperand(0) != body.getArgument(0) || yield.getNumOperands() != 1 ||
      yield.getOperand(0) != cast->getResult(0))
    return false;
  Type narrow = std::is_same_v<Cast, arith::ExtFOp> ? cast->getOperand(0).getType()
                                                     : cast->getResult(0).getType();
  Type wide = std::is_same_v<Cast, arith::ExtFOp> ? cast->getResult(0).getType()
                                                   : cast->getOperand(0).getType();
  return isa<Float16Type, BFloat16Type>(narrow) && wide.isF32();
}

Value mlir::nibble::getWidenedSource(Value value) {
  auto widen = value.getDefiningOp<linalg::GenericOp>();
  return isFloatConversion<arith::ExtFOp>(widen) ? widen.getDpsInputs()[0] : Value();
}

bool mlir::nibble::isNarrowingToHalf(linalg::GenericOp op) {
  return isFloatConversion<arith::TruncFOp>(op);
}

/// The constant holding `weight`'s values: `weight` itself, or the
/// float16/bfloat16 constant that an elementwise arith.extf widens into it
/// (how the importer builds the layers of float16 and bfloat16 models).
static Value findWeightConstant(Value weight) {
  using mlir::nibble::getConstantElements;
  if (getConstantElements(weight))
    return weight;
  Value narrow = mlir::nibble::getWidenedSource(weight);
  return narrow && getConstantElements(narrow) ? narrow : Value();
}

std::optional<nibble::QuantizableMatmul>
mlir::nibble::matchQuantizableMatmul(linalg::MatmulOp matmul) {
  if (!isPlainZeroInitMatmul(matmul))
    return std::nullopt;
  Value weight = matmul.getInputs()[1];
  auto weightType = cast<RankedTensorType>(weight.getType());
  if (weightType.getRank() != 2 || !weightType.getElementType().isF32() ||
      !weightType.hasStaticShape())
    return std::nullopt;
  Value data = findWeightConstant(weight);
  if (!data)
    return std::nullopt;
  // nibble.matmul computes in its lhs type, which must be its result type:
  // a mixed-precision product (f16 x f32 -> f32) has no nibble.matmul form.
  Type lhsElementType = getElementTypeOrSelf(matmul.getInputs()[0].getType());
  if (!isa<Float32Type, Float16Type, BFloat16Type>(lhsElementType) ||
      lhsElementType != getElementTypeOrSelf(matmul.getResultTypes()[0]))
    return std::nullopt;
  return QuantizableMatmul{matmul, weight, data, weightType.getDimSize(0),
                           weightType.getDimSize(1)};
}

std::optional<nibble::EmbeddingGather>
mlir::nibble::matchEmbeddingGather(linalg::GenericOp op) {
  auto opType = op->getAttrOfType<StringAttr>(kOpTypeAttrName);
  if (!opType || opType.getValue() != "Gather" || !op.hasPureTensorSemantics())
    return std::nullopt;
  tensor::ExtractOp extract;
  for (auto candidate : op.getRegion().getOps<tensor::ExtractOp>()) {
    if (extract)
      return std::nullopt; // one lookup per layer
    extract = candidate;
  }
  if (!extract)
    return std::nullopt;
  Value table = extract.getTensor();
  auto type = dyn_cast<RankedTensorType>(table.getType());
  if (!type || type.getRank() != 2 ||
      !isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType()) ||
      !type.hasStaticShape() || !getConstantElements(table))
    return std::nullopt;
  return EmbeddingGather{op, extract, table, type.getDimSize(0), type.getDimSize(1)};
}

SmallVector<nibble::MeasurableLayer> mlir::nibble::findMeasurableLayers(Operation *root) {
  SmallVector<MeasurableLayer> layers;
  root->walk([&](Operation *op) {
    if (auto matmul = dyn_cast<linalg::MatmulOp>(op)) {
      if (auto match = matchQuantizableMatmul(matmul))
        if (getElementTypeOrSelf(matmul.getInputs()[0].getType()).isF32())
          layers.push_back({op, match, std::nullopt, std::nullopt});
    } else if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      if (auto match = matchEmbeddingGather(generic))
        layers.push_back({op, std::nullopt, match, std::nullopt});
      else if (auto conv = matchConvFilter(generic))
        layers.push_back({op, std::nullopt, std::nullopt, conv});
    }
  });
  return layers;
}

std::optional<nibble::ConvFilter> mlir::nibble::matchConvFilter(linalg::GenericOp op) {
  auto opType = op->getAttrOfType<StringAttr>(kOpTypeAttrName);
  if (!opType || (opType.getValue() != "Conv" && opType.getValue() != "ConvTranspose") ||
      !op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2)
    return std::nullopt;
  Value filter = op.getDpsInputOperand(1)->get();
  // The importer reshapes the ONNX filter into its phased layout; a reshape
  // keeps row-major order, so the values are the constant's.
  Value data = filter;
  while (Operation *reshape = data.getDefiningOp()) {
    if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(reshape))
      break;
    data = reshape->getOperand(0);
  }
  auto type = dyn_cast<RankedTensorType>(filter.getType());
  if (!type || type.getRank() < 3 ||
      !isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType()) ||
      !type.hasStaticShape() || !getConstantElements(data))
    return std::nullopt;
  // The filter's first two dims must be read by the first two results of
  // its map alone (group and output channel), so a scale can follow them.
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInputOperand(1));
  if (!isa<AffineDimExpr>(map.getResult(0)) || !isa<AffineDimExpr>(map.getResult(1)))
    return std::nullopt;
  int64_t rows = type.getDimSize(0) * type.getDimSize(1);
  return ConvFilter{op, filter, data, rows, type.getNumElements() / rows};
}

DictionaryAttr mlir::nibble::getMarkedDenseBufferGeneric(linalg::GenericOp op,
                                                         StringRef marker,
                                                         unsigned minInputs,
                                                         unsigned maxInputs) {
  auto info = op->getAttrOfType<DictionaryAttr>(marker);
  if (!info || !op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() < static_cast<int64_t>(minInputs) ||
      op.getNumDpsInputs() > static_cast<int64_t>(maxInputs))
    return {};
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity())
      return {};
  }
  return info;
}
