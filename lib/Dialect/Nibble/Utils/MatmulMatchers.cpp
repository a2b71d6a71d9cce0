//===- MatmulMatchers.cpp - recognising weight matmuls --------------------===//

#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"

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

std::optional<nibble::QuantizableMatmul>
mlir::nibble::matchQuantizableMatmul(linalg::MatmulOp matmul) {
  if (!isPlainZeroInitMatmul(matmul))
    return std::nullopt;
  Value weight = matmul.getInputs()[1];
  auto weightType = cast<RankedTensorType>(weight.getType());
  if (weightType.getRank() != 2 || !weightType.getElementType().isF32() ||
      !weightType.hasStaticShape() || !getConstantElements(weight))
    return std::nullopt;
  // nibble.matmul computes in its lhs type, which must be its result type:
  // a mixed-precision product (f16 x f32 -> f32) has no nibble.matmul form.
  Type lhsElementType = getElementTypeOrSelf(matmul.getInputs()[0].getType());
  if (!isa<Float32Type, Float16Type, BFloat16Type>(lhsElementType) ||
      lhsElementType != getElementTypeOrSelf(matmul.getResultTypes()[0]))
    return std::nullopt;
  return QuantizableMatmul{matmul, weight, weightType.getDimSize(0),
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
  if (!type || type.getRank() != 2 || !type.getElementType().isF32() ||
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
          layers.push_back({op, match, std::nullopt});
    } else if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      if (auto match = matchEmbeddingGather(generic))
        layers.push_back({op, std::nullopt, match});
    }
  });
  return layers;
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
