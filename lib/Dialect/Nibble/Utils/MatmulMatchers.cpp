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
