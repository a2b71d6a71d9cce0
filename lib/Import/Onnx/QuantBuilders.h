//===- QuantBuilders.h - requantization for QLinear* converters -*- C++ -*-===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_QUANTBUILDERS_H
#define NIBBLE_LIB_IMPORT_ONNX_QUANTBUILDERS_H

#include "ImportContext.h"

namespace mlir::nibble::onnx_import {

/// float(acc) * (aScale * bScale / yScale), elementwise with broadcasting:
/// the exact integer result of QLinearMatMul / QLinearConv rescaled to the
/// output's scale (as the ONNX reference does; f16 scales widened to f32).
Value buildRescaledAccumulator(NodeImporter &imp, Value acc, Value aScale, Value bScale,
                               Value yScale);

/// `saturate(roundeven(x) + zp)` into the 8-bit storage of `storageType`
/// (int8 or uint8), for f32 `x` and a rank-0 zero point (or none): the last
/// step of QLinearMatMul and QLinearConv.
Value buildRequantize(NodeImporter &imp, Value x, Value zeroPoint, int32_t storageType);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_QUANTBUILDERS_H
