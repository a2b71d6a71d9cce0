//===- TensorOps.cpp - ONNX tensor ops ----------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

void mlir::nibble::onnx_import::registerTensorConverters(ConverterRegistry &registry) {}
