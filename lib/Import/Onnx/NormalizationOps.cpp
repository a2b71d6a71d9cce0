//===- NormalizationOps.cpp - ONNX normalization ops ----------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

void mlir::nibble::onnx_import::registerNormalizationConverters(ConverterRegistry &registry) {}
