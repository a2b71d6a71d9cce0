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

/// Quantization decisions and the data behind them, carried on the float
/// matmul between phases:
///  - `nibble.precision`: the chosen WeightPrecision name ("int4-g128", ...);
///  - `nibble.hessian`: K x K f32 E[x^T x] of the calibration activations,
///    which makes the quantize pass use GPTQ;
///  - `nibble.sensitivity`: {precision name = end-to-end SQNR in dB with
///    only this layer at that precision}, what selection decides from;
///  - `nibble.activation_scale`: the calibrated f32 scale of a "w8a8"
///    layer's int8 input;
///  - `nibble.smooth`: SmoothQuant factors s (f32 [K]): the layer computes
///    (x / s) (s W), moving activation outliers into the weights.
inline constexpr llvm::StringLiteral kPrecisionAttrName = "nibble.precision";
inline constexpr llvm::StringLiteral kHessianAttrName = "nibble.hessian";
inline constexpr llvm::StringLiteral kSensitivityAttrName = "nibble.sensitivity";
inline constexpr llvm::StringLiteral kActivationScaleAttrName = "nibble.activation_scale";
inline constexpr llvm::StringLiteral kSmoothAttrName = "nibble.smooth";

/// Marks an elementwise op that a kernel pass later folds into the kernel
/// producing its input (the rounding of a GPU matmul's f32 output to
/// float16); elementwise fusion leaves it alone so it stays recognizable.
inline constexpr llvm::StringLiteral kKernelEpilogueAttrName = "nibble.kernel_epilogue";
/// On a function: layer name -> the fused GPU kernel that runs it ("gemv",
/// "tensor cores"), set by nibble-cuda-dequant-matmul-kernels; layers not
/// named run as generic loop kernels.
inline constexpr llvm::StringLiteral kLayerKernelsAttrName = "nibble.layer_kernels";

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
