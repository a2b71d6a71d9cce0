//===- LayerAttrs.h - which ONNX node an op came from -----------*- C++ -*-===//
//
// The importer tags every matmul-like op with the ONNX node it came from
// (`nibble.layer` = node name, `nibble.op_type` = ONNX op type). Passes that
// replace such an op carry the tags over, so reports and `--info` can name
// layers the way the user's model does.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_LAYERATTRS_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_LAYERATTRS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace mlir::nibble {

inline constexpr llvm::StringLiteral kLayerAttrName = "nibble.layer";
inline constexpr llvm::StringLiteral kOpTypeAttrName = "nibble.op_type";

/// Tags `op` as coming from ONNX node `nodeName` of type `opType`.
inline void setLayerAttrs(Operation *op, StringRef nodeName, StringRef opType) {
  Builder b(op->getContext());
  op->setAttr(kLayerAttrName, b.getStringAttr(nodeName));
  op->setAttr(kOpTypeAttrName, b.getStringAttr(opType));
}

/// Copies the layer tags of `from` (if any) to `to`.
inline void copyLayerAttrs(Operation *from, Operation *to) {
  for (StringRef name : {StringRef(kLayerAttrName), StringRef(kOpTypeAttrName)})
    if (Attribute attr = from->getAttr(name))
      to->setAttr(name, attr);
}

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_LAYERATTRS_H
