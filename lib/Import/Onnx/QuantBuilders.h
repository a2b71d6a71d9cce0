//===- QuantBuilders.h - requantization for QLinear* converters -*- C++ -*-===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_QUANTBUILDERS_H
#define NIBBLE_LIB_IMPORT_ONNX_QUANTBUILDERS_H

#include "ImportContext.h"

namespace mlir::nibble::onnx_import {

/// `saturate(roundeven(x) + zp)` into the 8-bit storage of `storageType`
/// (int8 or uint8), for f32 `x` and a rank-0 zero point (or none): the last
/// step of QLinearMatMul and QLinearConv.
Value buildRequantize(NodeImporter &imp, Value x, Value zeroPoint, int32_t storageType);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_QUANTBUILDERS_H
