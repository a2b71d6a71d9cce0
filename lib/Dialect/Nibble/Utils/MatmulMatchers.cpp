//===- MatmulMatchers.cpp - recognising weight matmuls --------------------===//

#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

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
