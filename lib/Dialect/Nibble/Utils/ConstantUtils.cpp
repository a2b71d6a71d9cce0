//===- ConstantUtils.cpp - reading and making constant tensors ------------===//

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/IR/QuantMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/Matchers.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir;
using namespace mlir::nibble;

/// Constants with at most this many elements are kept inline.
static constexpr int64_t kMaxInlineElements = 16;

/// The raw bytes of every element (splats expanded), in the storage layout
/// MLIR uses for dense data: one byte per element below 8 bits.
static std::optional<SmallVector<char>> readRawElements(Attribute attr,
                                                       unsigned &bitWidth) {
  auto shaped = dyn_cast_or_null<ShapedType>(
      isa_and_nonnull<TypedAttr>(attr) ? cast<TypedAttr>(attr).getType()
                                       : Type());
  if (!shaped || !shaped.hasStaticShape())
    return std::nullopt;
  Type elementType = shaped.getElementType();
  if (!elementType.isIntOrFloat() || elementType.isInteger(1))
    return std::nullopt;
  bitWidth = elementType.getIntOrFloatBitWidth();
  size_t elementBytes = llvm::divideCeil(bitWidth, 8);
  size_t total = shaped.getNumElements() * elementBytes;
  SmallVector<char> bytes;
  ArrayRef<char> data;
  bool splat = false;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    data = dense.getRawData();
    splat = dense.isSplat();
  } else if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    data = blob->getData();
    splat = data.size() == elementBytes && total != elementBytes;
  } else {
    return std::nullopt;
  }
  if (splat) {
    bytes.reserve(total);
    for (int64_t i = 0, e = shaped.getNumElements(); i < e; ++i)
      bytes.append(data.begin(), data.begin() + elementBytes);
    return bytes;
  }
  if (data.size() != total)
    return std::nullopt;
  bytes.assign(data.begin(), data.end());
  return bytes;
}

float mlir::nibble::widenHalfBits(uint16_t bits, const llvm::fltSemantics &semantics) {
  return llvm::APFloat(semantics, llvm::APInt(16, bits)).convertToFloat();
}

uint16_t mlir::nibble::narrowToHalfBits(float value, const llvm::fltSemantics &semantics) {
  llvm::APFloat narrow(value);
  bool losesInfo = false;
  narrow.convert(semantics, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return static_cast<uint16_t>(narrow.bitcastToAPInt().getZExtValue());
}

std::optional<SmallVector<float>> mlir::nibble::readFloatElements(Attribute attr) {
  auto typed = dyn_cast_or_null<TypedAttr>(attr);
  if (!typed)
    return std::nullopt;
  Type elementType = cast<ShapedType>(typed.getType()).getElementType();
  if (!isa<Float32Type, Float16Type, BFloat16Type>(elementType))
    return std::nullopt;
  unsigned bitWidth = 0;
  std::optional<SmallVector<char>> raw = readRawElements(attr, bitWidth);
  if (!raw)
    return std::nullopt;
  if (elementType.isF32()) {
    SmallVector<float> values(raw->size() / sizeof(float));
    std::memcpy(values.data(), raw->data(), values.size() * sizeof(float));
    return values;
  }
  // 16-bit floats widen to f32 exactly.
  const llvm::fltSemantics &semantics = cast<FloatType>(elementType).getFloatSemantics();
  SmallVector<float> values(raw->size() / 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, raw->data() + 2 * i, 2);
    values[i] = widenHalfBits(bits, semantics);
  }
  return values;
}

std::optional<SmallVector<int64_t>>
mlir::nibble::readIntElements(Attribute attr, bool isSigned) {
  auto typed = dyn_cast_or_null<TypedAttr>(attr);
  if (!typed || !isa<IntegerType>(cast<ShapedType>(typed.getType()).getElementType()))
    return std::nullopt;
  unsigned bitWidth = 0;
  std::optional<SmallVector<char>> raw = readRawElements(attr, bitWidth);
  if (!raw || bitWidth > 64)
    return std::nullopt;
  size_t elementBytes = llvm::divideCeil(bitWidth, 8);
  SmallVector<int64_t> values;
  values.reserve(raw->size() / elementBytes);
  for (size_t offset = 0; offset < raw->size(); offset += elementBytes) {
    uint64_t bits = 0;
    std::memcpy(&bits, raw->data() + offset, elementBytes);
    values.push_back(decodeStorage(bits, bitWidth, isSigned));
  }
  return values;
}

Attribute mlir::nibble::getConstantElements(Value value) {
  Attribute attr;
  if (value && matchPattern(value, m_Constant(&attr)) &&
      isa<DenseElementsAttr, DenseResourceElementsAttr>(attr))
    return attr;
  return {};
}

ElementsAttr mlir::nibble::makeRawConstant(RankedTensorType type,
                                           ArrayRef<char> bytes,
                                           StringRef nameHint) {
  unsigned bitWidth = type.getElementType().getIntOrFloatBitWidth();
  // Sub-byte integers cannot live in a resource blob; tiny tensors (shapes,
  // scalars) stay inline so the IR stays readable and foldable.
  if (bitWidth < 8 || type.getNumElements() <= kMaxInlineElements) {
    bool detectedSplat = false;
    if (DenseElementsAttr::isValidRawBuffer(type, bytes, detectedSplat))
      return DenseElementsAttr::getFromRawBuffer(type, bytes);
    return {};
  }
  auto blob = HeapAsmResourceBlob::allocateAndCopyInferAlign(bytes);
  return DenseResourceElementsAttr::get(type, nameHint.empty() ? "weight" : nameHint,
                                        std::move(blob));
}

ElementsAttr mlir::nibble::makeFloatConstant(RankedTensorType type,
                                             ArrayRef<float> values,
                                             StringRef nameHint) {
  Type elementType = type.getElementType();
  assert((isa<Float32Type, Float16Type, BFloat16Type>(elementType)) &&
         "expected an f32, f16 or bf16 tensor type");
  if (elementType.isF32())
    return makeRawConstant(type,
                           ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                                          values.size() * sizeof(float)),
                           nameHint);
  const llvm::fltSemantics &semantics = cast<FloatType>(elementType).getFloatSemantics();
  SmallVector<char> bytes(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits = narrowToHalfBits(values[i], semantics);
    std::memcpy(bytes.data() + 2 * i, &bits, 2);
  }
  return makeRawConstant(type, bytes, nameHint);
}

ElementsAttr mlir::nibble::makeIntConstant(RankedTensorType type,
                                           ArrayRef<int64_t> values,
                                           StringRef nameHint) {
  unsigned bitWidth = type.getElementType().getIntOrFloatBitWidth();
  size_t elementBytes = llvm::divideCeil(bitWidth, 8);
  SmallVector<char> bytes(values.size() * elementBytes);
  uint64_t mask = bitWidth >= 64 ? ~uint64_t(0) : (uint64_t(1) << bitWidth) - 1;
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t bits = static_cast<uint64_t>(values[i]) & mask;
    std::memcpy(bytes.data() + i * elementBytes, &bits, elementBytes);
  }
  return makeRawConstant(type, bytes, nameHint);
}

int64_t mlir::nibble::getStorageBytes(ShapedType type) {
  int64_t bits = type.getElementType().getIntOrFloatBitWidth();
  if (type.getElementType().isInteger(1))
    bits = 8;
  return llvm::divideCeil(type.getNumElements() * bits, 8);
}

int64_t mlir::nibble::getConstantBytes(Operation *root) {
  int64_t bytes = 0;
  root->walk([&](arith::ConstantOp constant) {
    // Dead constants (a folded transpose's source) never reach the binary.
    if (constant->use_empty())
      return;
    if (auto type = dyn_cast<RankedTensorType>(constant.getType()))
      bytes += getStorageBytes(type);
  });
  return bytes;
}

std::string mlir::nibble::formatByteCount(int64_t bytes) {
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  if (bytes < (1 << 20))
    return llvm::formatv("{0:f1} KiB", bytes / 1024.0).str();
  return llvm::formatv("{0:f2} MiB", bytes / double(1 << 20)).str();
}
