//===- OnnxImporter.h - ONNX protobuf -> MLIR -------------------*- C++ -*-===//
//
// Reads an ONNX model (protobuf, optionally with external data files) and
// builds `func.func @main` over linalg/tensor/arith/math plus nibble ops.
// Weights become `dense_resource` constants; every shape is static after
// `inputShapes` fixes the graph's symbolic dimensions.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_IMPORT_ONNX_ONNXIMPORTER_H
#define NIBBLE_IMPORT_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::nibble {

/// ONNX element types that graph inputs and outputs may have (values of
/// onnx.TensorProto.DataType).
enum class OnnxDType : int32_t {
  Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7,
  Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16,
  Float8E4M3FN = 17, Float8E4M3FNUZ = 18, Float8E5M2 = 19, Float8E5M2FNUZ = 20,
  UInt4 = 21, Int4 = 22, Float4E2M1 = 23, Float8E8M0 = 24, UInt2 = 25, Int2 = 26,
};

/// A graph input or output as the runtime sees it.
struct GraphTensorInfo {
  std::string name;
  int32_t onnxType;
  std::vector<int64_t> shape;
};

struct ImportOptions {
  /// Static shapes for graph inputs, by input name (`--input-shape`).
  llvm::StringMap<std::vector<int64_t>> inputShapes;
  /// Graph inputs frozen to the contents of a .npy file, by input name
  /// (`--bind-input`): they become constants, so parameters such as a
  /// Reshape's shape or a reduction's axes are known at compile time.
  llvm::StringMap<std::string> boundInputs;
  /// Name of the generated entry function.
  std::string entryName = "main";
};

struct ImportedModel {
  OwningOpRef<ModuleOp> module;
  std::vector<GraphTensorInfo> inputs;
  std::vector<GraphTensorInfo> outputs;
  std::string graphName;
};

/// Imports the model at `path`. On failure the error is one line naming the
/// file, the ONNX op type and node name where it applies, and what to do.
llvm::Expected<ImportedModel> importOnnxModel(llvm::StringRef path,
                                              MLIRContext &context,
                                              const ImportOptions &options);

/// The ops the importer converts, as "OpType" or "domain.OpType", sorted.
std::vector<std::string> getSupportedOnnxOps();

/// Parses `NAME:DxDxD` (as given to `--input-shape`) into `options`.
llvm::Error parseInputShape(llvm::StringRef spec, ImportOptions &options);

/// Parses `NAME=FILE.npy` (as given to `--bind-input`) into `options`.
llvm::Error parseBoundInput(llvm::StringRef spec, ImportOptions &options);

} // namespace mlir::nibble

#endif // NIBBLE_IMPORT_ONNX_ONNXIMPORTER_H
