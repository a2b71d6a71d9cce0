//===- ResizeOps.cpp - ONNX resize ops ----------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

void mlir::nibble::onnx_import::registerResizeConverters(ConverterRegistry &registry) {}
