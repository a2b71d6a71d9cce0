//===- TensorImport.cpp - ONNX TensorProto -> constant attributes ---------===//
//
// Reads initializers and Constant node values: typed repeated fields,
// raw_data, and external data files (location/offset/length relative to the
// model). int4/uint4 arrive packed two per byte, low nibble first.
//
//===----------------------------------------------------------------------===//

#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

Type mlir::nibble::onnx_import::getElementType(MLIRContext *ctx,
                                               int32_t onnxType) {
  Builder b(ctx);
  switch (onnxType) {
  case onnx::TensorProto::FLOAT: return b.getF32Type();
  case onnx::TensorProto::DOUBLE: return b.getF64Type();
  case onnx::TensorProto::FLOAT16: return b.getF16Type();
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::INT8: return b.getI8Type();
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16: return b.getI16Type();
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32: return b.getI32Type();
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64: return b.getI64Type();
  case onnx::TensorProto::BOOL: return b.getI1Type();
  case static_cast<int32_t>(OnnxDType::UInt4):
  case static_cast<int32_t>(OnnxDType::Int4): return b.getIntegerType(4);
  case static_cast<int32_t>(OnnxDType::UInt2):
  case static_cast<int32_t>(OnnxDType::Int2): return b.getIntegerType(2);
  case static_cast<int32_t>(OnnxDType::BFloat16): return b.getBF16Type();
  case static_cast<int32_t>(OnnxDType::Float8E4M3FN): return b.getType<Float8E4M3FNType>();
  case static_cast<int32_t>(OnnxDType::Float8E4M3FNUZ): return b.getType<Float8E4M3FNUZType>();
  case static_cast<int32_t>(OnnxDType::Float8E5M2): return b.getType<Float8E5M2Type>();
  case static_cast<int32_t>(OnnxDType::Float8E5M2FNUZ): return b.getType<Float8E5M2FNUZType>();
  case static_cast<int32_t>(OnnxDType::Float4E2M1): return b.getType<Float4E2M1FNType>();
  case static_cast<int32_t>(OnnxDType::Float8E8M0): return b.getType<Float8E8M0FNUType>();
  default: return {};
  }
}

std::string mlir::nibble::onnx_import::onnxTypeName(int32_t onnxType) {
  switch (onnxType) {
  case static_cast<int32_t>(OnnxDType::UInt4): return "uint4";
  case static_cast<int32_t>(OnnxDType::Int4): return "int4";
  case static_cast<int32_t>(OnnxDType::UInt2): return "uint2";
  case static_cast<int32_t>(OnnxDType::Int2): return "int2";
  case static_cast<int32_t>(OnnxDType::BFloat16): return "bfloat16";
  case static_cast<int32_t>(OnnxDType::Float8E4M3FN): return "float8e4m3fn";
  case static_cast<int32_t>(OnnxDType::Float8E4M3FNUZ): return "float8e4m3fnuz";
  case static_cast<int32_t>(OnnxDType::Float8E5M2): return "float8e5m2";
  case static_cast<int32_t>(OnnxDType::Float8E5M2FNUZ): return "float8e5m2fnuz";
  case static_cast<int32_t>(OnnxDType::Float4E2M1): return "float4e2m1";
  case static_cast<int32_t>(OnnxDType::Float8E8M0): return "float8e8m0";
  default:
    break;
  }
  if (onnx::TensorProto::DataType_IsValid(onnxType)) {
    std::string name = onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(onnxType));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    return name == "float" ? "float32" : name == "double" ? "float64" : name;
  }
  return "type " + std::to_string(onnxType);
}

bool mlir::nibble::onnx_import::isUnsignedOnnxType(int32_t onnxType) {
  return onnxType == onnx::TensorProto::UINT8 ||
         onnxType == static_cast<int32_t>(OnnxDType::UInt4) ||
         onnxType == static_cast<int32_t>(OnnxDType::UInt2) ||
         onnxType == onnx::TensorProto::UINT16 ||
         onnxType == onnx::TensorProto::UINT32 ||
         onnxType == onnx::TensorProto::UINT64 ||
         onnxType == onnx::TensorProto::BOOL;
}

/// Reads the bytes of an external-data tensor.
static llvm::Expected<std::string> readExternalData(const onnx::TensorProto &tensor,
                                                    llvm::StringRef baseDir) {
  std::string location;
  uint64_t offset = 0, length = 0;
  bool hasLength = false;
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset")
      offset = std::stoull(entry.value());
    else if (entry.key() == "length") {
      length = std::stoull(entry.value());
      hasLength = true;
    }
  }
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      llvm::StringRef(location).contains(".."))
    return llvm::createStringError(
        "tensor '" + tensor.name() +
        "' has an invalid external data location '" + location + "'");
  llvm::SmallString<256> path(baseDir);
  llvm::sys::path::append(path, location);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(
        "cannot read external data file '" + std::string(path) + "' of tensor '" +
        tensor.name() + "': " + buffer.getError().message() +
        "; keep the data file next to the model");
  llvm::StringRef data = (*buffer)->getBuffer();
  if (!hasLength)
    length = data.size() - std::min<uint64_t>(offset, data.size());
  if (offset + length > data.size())
    return llvm::createStringError("external data of tensor '" + tensor.name() +
                                   "' lies past the end of '" +
                                   std::string(path) + "'");
  return data.substr(offset, length).str();
}

/// Expands packed `width`-bit values (8 / width per byte, lowest bits
/// first) to one value each, sign-extended when `isSigned`.
static SmallVector<int64_t> unpackSubByte(llvm::StringRef packed, int64_t count,
                                          unsigned width, bool isSigned) {
  SmallVector<int64_t> values(count);
  int64_t perByte = 8 / width, mask = (1 << width) - 1;
  for (int64_t i = 0; i < count; ++i) {
    uint8_t byte = static_cast<uint8_t>(packed[i / perByte]);
    int64_t v = (byte >> (width * (i % perByte))) & mask;
    values[i] = isSigned && v > mask / 2 ? v - (mask + 1) : v;
  }
  return values;
}

llvm::Expected<ElementsAttr>
mlir::nibble::onnx_import::importTensor(const onnx::TensorProto &tensor,
                                        MLIRContext *ctx,
                                        llvm::StringRef baseDir) {
  int32_t dtype = tensor.data_type();
  Type elementType = getElementType(ctx, dtype);
  if (!elementType)
    return llvm::createStringError("tensor '" + tensor.name() +
                                   "' has unsupported element type " +
                                   onnxTypeName(dtype));
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  for (int64_t d : shape)
    if (d < 0)
      return llvm::createStringError("tensor '" + tensor.name() +
                                     "' has a negative dimension");
  auto type = RankedTensorType::get(shape, elementType);
  int64_t count = type.getNumElements();
  // int4, uint4, float4e2m1, int2 and uint2 arrive packed, low bits first.
  unsigned width = elementType.getIntOrFloatBitWidth();
  bool packed = width < 8 && !elementType.isInteger(1);
  size_t elementBytes = width < 8 ? 1 : width / 8;

  std::string raw;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    llvm::Expected<std::string> data = readExternalData(tensor, baseDir);
    if (!data)
      return data.takeError();
    raw = std::move(*data);
  } else if (tensor.has_raw_data()) {
    raw = tensor.raw_data();
  }

  // Typed repeated fields, converted to the raw little-endian layout.
  auto appendRaw = [&](const void *p, size_t n) {
    raw.append(static_cast<const char *>(p), n);
  };
  if (raw.empty() && count > 0) {
    switch (dtype) {
    case onnx::TensorProto::FLOAT:
      appendRaw(tensor.float_data().data(), tensor.float_data_size() * 4);
      break;
    case onnx::TensorProto::DOUBLE:
      appendRaw(tensor.double_data().data(), tensor.double_data_size() * 8);
      break;
    case onnx::TensorProto::INT64:
      appendRaw(tensor.int64_data().data(), tensor.int64_data_size() * 8);
      break;
    case onnx::TensorProto::INT32:
      appendRaw(tensor.int32_data().data(), tensor.int32_data_size() * 4);
      break;
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
      for (uint64_t v : tensor.uint64_data())
        appendRaw(&v, elementBytes); // little-endian: the low bytes
      break;
    default: // (u)int8/16, bool, float16 and packed int4 live in int32_data
      for (int32_t v : tensor.int32_data())
        appendRaw(&v, elementBytes); // little-endian: the low bytes
    }
  }

  size_t expectedBytes = packed ? (count * width + 7) / 8 : count * elementBytes;
  if (raw.size() != expectedBytes)
    return llvm::createStringError(
        "tensor '" + tensor.name() + "' holds " + std::to_string(raw.size()) +
        " bytes of data but its shape and type need " +
        std::to_string(expectedBytes) + "; the model file is corrupt");

  std::string name = tensor.name().empty() ? "constant" : tensor.name();
  if (packed) {
    bool isSigned = dtype == static_cast<int32_t>(OnnxDType::Int4) ||
                    dtype == static_cast<int32_t>(OnnxDType::Int2);
    SmallVector<int64_t> values = unpackSubByte(raw, count, width, isSigned);
    if (auto floatType = dyn_cast<FloatType>(elementType)) {
      SmallVector<APFloat> floats;
      for (int64_t code : values)
        floats.emplace_back(floatType.getFloatSemantics(), APInt(width, code));
      return DenseElementsAttr::get(type, floats);
    }
    return makeIntConstant(type, values, name);
  }
  if (elementType.isInteger(1)) {
    SmallVector<bool> bits;
    for (char c : raw)
      bits.push_back(c != 0);
    return DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  }
  return makeRawConstant(type, ArrayRef<char>(raw.data(), raw.size()), name);
}
